//! The admin API (G3) over HTTP: parse, call `admin::*`, answer. `app::serve` has already
//! checked the caller's admin role (everyone else got 404).

use crate::accounts::authentication::SignedIn;
use crate::admin::{self, adjustments, jobs, requests, Admin};
use crate::cf::context::Ctx;
use crate::cf::http::{json, read_json, with_header, Handled, PageQuery};
use crate::http::problem::AppError;
use serde::Deserialize;
use worker::Request;

/// The request's reference: its `Idempotency-Key` (1–255 visible ASCII characters) or,
/// without one, its request id, so each request acts once.
fn admin<'a>(ctx: &'a Ctx<'_>, me: &'a SignedIn, key: &'a Option<String>) -> Result<Admin<'a>, AppError> {
    if let Some(k) = key {
        if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::validation("Idempotency-Key", "Use 1–255 visible ASCII characters."));
        }
    }
    Ok(Admin { user_id: &me.user_id, device: &ctx.device, request_key: key.as_deref().unwrap_or(&ctx.request_id) })
}

fn idempotency_key(req: &Request) -> Option<String> {
    req.headers().get("Idempotency-Key").ok().flatten()
}

pub async fn users(ctx: &Ctx<'_>, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    let items = admin::users::search(&ctx.db, page.get("q").unwrap_or(""), page.page.limit).await?;
    json(200, &serde_json::json!({ "items": items }))
}

pub async fn user(ctx: &Ctx<'_>, id: &str) -> Handled {
    json(200, &admin::users::detail(&ctx.db, id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustmentBody {
    credits: i64,
    reason: String,
}

pub async fn adjust_credits(ctx: &Ctx<'_>, me: &SignedIn, id: &str, mut req: Request) -> Handled {
    let key = idempotency_key(&req);
    let body: AdjustmentBody = read_json(&mut req, ctx.config).await?;
    let done = adjustments::adjust(&ctx.db, &admin(ctx, me, &key)?, id, body.credits, &body.reason, ctx.now).await?;
    let answer = serde_json::json!({ "adjustment": done.action, "credits": done.credits });
    if done.replayed {
        return with_header(json(200, &answer)?, "Idempotent-Replayed", "true");
    }
    json(201, &answer)
}

pub async fn jobs(ctx: &Ctx<'_>, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    let items = jobs::list(&ctx.db, page.get("status").unwrap_or("failed"), &page.page).await?;
    page.answer(&items, |j| (j.created_at, j.id.as_str()), &items)
}

pub async fn replay_job(ctx: &Ctx<'_>, me: &SignedIn, id: &str, req: &Request) -> Handled {
    let key = idempotency_key(req);
    let done = jobs::replay(&ctx.db, &ctx.queues(), &admin(ctx, me, &key)?, id, ctx.now).await?;
    let answer = serde_json::json!({ "original": done.original, "replay": done.replay });
    if done.existing {
        return with_header(json(200, &answer)?, "Idempotent-Replayed", "true");
    }
    json(202, &answer)
}

/// A list whose table a later migration creates: empty, saying why, until it exists (a
/// page must not fail, nor fill a browser's console with errors, for that).
fn unavailable_list(e: AppError) -> Handled {
    match e {
        AppError::ServiceUnavailable { detail } => json(200, &serde_json::json!({ "items": [], "next_cursor": null, "unavailable": detail })),
        other => Err(other),
    }
}

pub async fn webhook_events(ctx: &Ctx<'_>, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    match requests::webhook_events(&ctx.db, page.get("status"), &page.page).await {
        Ok(items) => page.answer(&items, |e| (e.created_at, e.id.as_str()), &items),
        Err(e) => unavailable_list(e),
    }
}

pub async fn rerun_webhook_event(ctx: &Ctx<'_>, me: &SignedIn, id: &str, req: &Request) -> Handled {
    let key = idempotency_key(req);
    json(202, &requests::rerun_webhook_event(&ctx.db, &ctx.queues(), &admin(ctx, me, &key)?, id, ctx.now).await?)
}

pub async fn privacy_requests(ctx: &Ctx<'_>, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    match requests::privacy_requests(&ctx.db, page.get("status"), &page.page).await {
        Ok(items) => page.answer(&items, |r| (r.created_at, r.id.as_str()), &items),
        Err(e) => unavailable_list(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacyUpdate {
    status: String,
    note: Option<String>,
}

pub async fn update_privacy_request(ctx: &Ctx<'_>, me: &SignedIn, id: &str, mut req: Request) -> Handled {
    let key = idempotency_key(&req);
    let body: PrivacyUpdate = read_json(&mut req, ctx.config).await?;
    json(200, &requests::update_privacy_request(&ctx.db, &admin(ctx, me, &key)?, id, &body.status, body.note.as_deref(), ctx.now).await?)
}

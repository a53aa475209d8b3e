//! Generation over HTTP (D1–D7, E2): content types, credits and ledger, submit, the
//! gallery. The work itself is `generation::service`; this module parses and answers.

use crate::accounts::authentication::SignedIn;
use crate::cf::context::Ctx;
use crate::cf::http::{json, no_content, read_json, with_header, Handled, PageQuery};
use crate::credits::ledger;
use crate::generation::brand_check::BrandCheck;
use crate::generation::palette_check::PaletteCheck;
use crate::generation::content_types;
use crate::generation::jobs::{self, Job, Status};
use crate::generation::service::{self, SubmitRequest};
use crate::http::problem::AppError;
use crate::platform::db::Db;
use crate::library::uploads;
use serde::{Deserialize, Serialize};
use worker::Request;

pub fn content_types() -> Handled {
    json(200, &serde_json::json!({ "items": content_types::CONTENT_TYPES }))
}

pub async fn credits(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    let b = ledger::balance(&ctx.db, &me.user_id).await?;
    json(200, &serde_json::json!({ "balance": b.balance, "held": b.held, "debt": b.debt, "low_balance": b.low() }))
}

pub async fn ledger_entries(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let query = PageQuery::of(req, 20)?;
    let items = ledger::entries(&ctx.db, &me.user_id, &query.page).await?;
    query.answer(&items, |e| (e.created_at, e.id.as_str()), &items)
}

// ---- the job as the API shows it ------------------------------------------------------------

#[derive(Serialize)]
struct JobView<'a> {
    id: &'a str,
    brand_id: &'a str,
    content_type: &'a str,
    prompt: &'a str,
    price: i64,
    status: Status,
    attempts: i64,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    failure_reason: Option<&'a str>,
    model: Option<&'a str>,
    tokens_in: Option<i64>,
    tokens_out: Option<i64>,
    output: Option<serde_json::Value>,
    brand_check: Option<BrandCheck>,
    palette_check: Option<PaletteCheck>,
    favorite: bool,
    /// A hint for pollers: how long to wait before asking again.
    poll_after_ms: Option<i64>,
}

fn view(job: &Job) -> JobView<'_> {
    let output = match (&job.output_text, &job.output_upload_id) {
        (Some(text), _) => Some(serde_json::json!({ "type": "text", "text": text })),
        (None, Some(upload)) => Some(serde_json::json!({
            "type": "image", "upload_id": upload, "image_url": format!("/api/uploads/{upload}/content")
        })),
        _ => None,
    };
    JobView {
        id: &job.id,
        brand_id: &job.brand_id,
        content_type: &job.content_type,
        prompt: &job.prompt,
        price: job.price,
        status: job.status,
        attempts: job.attempts,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
        failure_reason: job.failure_reason.as_deref(),
        model: job.model.as_deref(),
        tokens_in: job.tokens_in,
        tokens_out: job.tokens_out,
        output,
        brand_check: job.brand_check.as_deref().and_then(|s| serde_json::from_str::<BrandCheck>(s).ok()),
        palette_check: job.palette_check.as_deref().and_then(|s| serde_json::from_str::<PaletteCheck>(s).ok()),
        favorite: job.favorite == 1,
        poll_after_ms: (!job.status.is_terminal()).then_some(1000),
    }
}

// ---- submit -------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    brand_id: String,
    content_type: String,
    prompt: String,
}

/// D2: 202 with the new job, or 200 with the job an earlier submit under the same
/// `Idempotency-Key` made.
pub async fn submit(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let key = req.headers().get("Idempotency-Key").ok().flatten();
    let body: SubmitBody = read_json(&mut req, ctx.config).await?;
    let request = SubmitRequest {
        user_id: &me.user_id,
        brand_id: &body.brand_id,
        content_type: &body.content_type,
        prompt: &body.prompt,
        idempotency_key: key.as_deref(),
        device: &ctx.device,
    };
    let submission = service::submit(&ctx.db, &ctx.queues(), &ctx.inference(), &request, ctx.now).await?;
    let job = &submission.job;
    if submission.replayed {
        return with_header(json(200, &view(job))?, "Idempotent-Replayed", "true");
    }
    with_header(json(202, &view(job))?, "Location", &format!("/api/generations/{}", job.id))
}

// ---- read, list, delete ---------------------------------------------------------------------

pub async fn get(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let job = jobs::find(&ctx.db, &me.user_id, id).await?.ok_or(AppError::NotFound)?;
    json(200, &view(&job))
}

pub async fn list(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    let filter = jobs::ListFilter {
        brand_id: page.get("brand_id"),
        content_type: page.get("content_type"),
        query: page.get("q"),
        favorites_only: page.flag("favorite")?,
    };
    let items = jobs::list(&ctx.db, &me.user_id, &filter, &page.page).await?;
    page.answer(&items, |j| (j.created_at, j.id.as_str()), items.iter().map(view).collect::<Vec<_>>())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    favorite: bool,
}

/// D7: marks a generation as a favourite (or not).
pub async fn update(ctx: &Ctx<'_>, me: &SignedIn, id: &str, mut req: Request) -> Handled {
    let body: UpdateBody = read_json(&mut req, ctx.config).await?;
    let db = &ctx.db;
    if db.run(jobs::set_favorite(id, &me.user_id, body.favorite)).await?.changes == 0 {
        return Err(AppError::NotFound);
    }
    let job = jobs::find(&db, &me.user_id, id).await?.ok_or(AppError::NotFound)?;
    json(200, &view(&job))
}

/// Deletes a finished generation and its image; a running one cannot be deleted yet.
pub async fn delete(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let db = &ctx.db;
    let job = jobs::find(db, &me.user_id, id).await?.ok_or(AppError::NotFound)?;
    if !job.status.is_terminal() {
        return Err(AppError::Conflict { detail: "This generation is still running. Delete it once it has finished.".into() });
    }
    db.run(jobs::delete(id, &me.user_id)).await?;
    if let Some(upload_id) = &job.output_upload_id {
        if let Some(u) = uploads::find_ready(db, &me.user_id, upload_id).await? {
            uploads::remove(db, ctx.blobs()?, &[uploads::Doomed { id: u.id, r2_key: u.r2_key }], ctx.now).await?;
        }
    }
    no_content()
}

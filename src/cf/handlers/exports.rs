//! F1 data export over HTTP: start one, list them, show one, download its archive.
//! Every lookup is scoped to the signed-in user: someone else's export is a 404.

use crate::accounts::authentication::SignedIn;
use crate::cf::context::Ctx;
use crate::cf::http::{json, Handled, PageQuery};
use crate::http::problem::AppError;
use crate::privacy::export::{self, ExportRow};
use worker::{Request, Response};

async fn export_or_404(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Result<ExportRow, AppError> {
    export::find(&ctx.db, &me.user_id, id).await?.ok_or(AppError::NotFound)
}

/// 202: the export is queued; its status is at `GET /api/account/exports/{id}`.
pub async fn start(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    let row = export::start(&ctx.db, &ctx.queues(), &me.user_id, &ctx.device, ctx.now, ctx.config.export_ttl_ms).await?;
    let mut response = json(202, &row.view(ctx.now))?;
    response.headers_mut().set("Location", &format!("/api/account/exports/{}", row.id)).map_err(AppError::internal)?;
    Ok(response)
}

pub async fn list(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    let items = export::list(&ctx.db, &me.user_id, &page.page).await?;
    let views: Vec<_> = items.iter().map(|r| r.view(ctx.now)).collect();
    page.answer(&items, |r| (r.created_at, r.id.as_str()), &views)
}

pub async fn get(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    json(200, &export_or_404(ctx, me, id).await?.view(ctx.now))
}

/// The archive, streamed from R2 (never read into the worker's memory), to its owner
/// only: 409 while it is being made or if it failed, 410 once it expired.
pub async fn content(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let row = export_or_404(ctx, me, id).await?;
    match row.status_at(ctx.now) {
        "ready" => {}
        "expired" => {
            return Err(AppError::Gone { detail: "This export has expired and was deleted. Start a new one from your settings.".into() })
        }
        "failed" => return Err(AppError::Conflict { detail: "This export failed and has no archive. Start a new one.".into() }),
        _ => return Err(AppError::Conflict { detail: "This export is still being prepared. Try again when its status is ready.".into() }),
    }
    let object = ctx.blobs()?.0.get(&row.r2_key).execute().await.map_err(AppError::internal)?;
    let Some(object) = object else { return Err(AppError::internal(format!("export object missing for {}", row.id))) };
    let size = object.size();
    let body = object.body().ok_or_else(|| AppError::internal("export object without a body"))?;
    let mut response = Response::from_body(body.response_body().map_err(AppError::internal)?).map_err(AppError::internal)?;
    let headers = response.headers_mut();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(AppError::internal);
    set("Content-Type", "application/zip")?;
    set("Content-Length", &size.to_string())?;
    set("Content-Disposition", &format!("attachment; filename=\"{}\"", row.filename()))?;
    set("Cache-Control", "private, no-store")?;
    set("X-Content-Type-Options", "nosniff")?;
    Ok(response)
}

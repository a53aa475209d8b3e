//! Brands and uploads over HTTP (B1, B4, C1–C3). Every query is scoped to the signed-in
//! user, so another user's brand or file answers 404 exactly like a missing one.

use crate::accounts::authentication::SignedIn;
use crate::cf::context::Ctx;
use crate::cf::http::{json, no_content, read_body, read_json, Handled, PageQuery};
use crate::library::brands::{self, Brand, BrandFields, BrandInput, Shelf, Write};
use crate::platform::db::Db;
use crate::platform::ports::Blobs;
use crate::http::problem::AppError;
use crate::library::uploads::{self, Doomed, Upload};
use crate::library::website;
use serde::Serialize;
use worker::{FormEntry, Request, Response};

// ---- brands ------------------------------------------------------------------------------

/// Refuses references to uploads that are not this user's (or not there at all).
async fn check_uploads_owned(db: &impl Db, user_id: &str, fields: &BrandFields) -> Result<(), AppError> {
    if let Some(logo) = &fields.logo_upload_id {
        if uploads::count_owned(db, user_id, &[logo.as_str()]).await? != 1 {
            return Err(AppError::validation("logo_upload_id", "That upload does not exist or is not yours."));
        }
    }
    let refs: Vec<&str> = fields.reference_upload_ids.iter().map(String::as_str).collect();
    if uploads::count_owned(db, user_id, &refs).await? != refs.len() {
        return Err(AppError::validation("reference_upload_ids", "One of those uploads does not exist or is not yours."));
    }
    Ok(())
}

async fn brand_or_404(db: &impl Db, user_id: &str, id: &str) -> Result<Brand, AppError> {
    brands::find_brand(db, user_id, id).await?.ok_or(AppError::NotFound)
}

pub async fn list_brands(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    let shelf = if page.flag("archived")? { Shelf::Archived } else { Shelf::Active };
    let items = brands::list_brands(&ctx.db, &me.user_id, shelf, &page.page).await?;
    page.answer(&items, |b| (b.created_at, b.id.as_str()), &items)
}

pub async fn create_brand(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let input: BrandInput = read_json(&mut req, ctx.config).await?;
    let fields = BrandFields::apply(BrandFields::empty(), &input)?;
    let db = &ctx.db;
    check_uploads_owned(&db, &me.user_id, &fields).await?;
    let id = crate::platform::ids::new_id("brd");
    let archived_at = input.archived.unwrap_or(false).then_some(ctx.now);
    db.batch(brands::write_brand(&me.user_id, &id, &fields, archived_at, ctx.now, ctx.now, Write::Insert)).await?;
    json(201, &brand_or_404(&db, &me.user_id, &id).await?)
}

pub async fn get_brand(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    json(200, &brand_or_404(&ctx.db, &me.user_id, id).await?)
}

pub async fn update_brand(ctx: &Ctx<'_>, me: &SignedIn, id: &str, mut req: Request) -> Handled {
    let input: BrandInput = read_json(&mut req, ctx.config).await?;
    let db = &ctx.db;
    let brand = brand_or_404(&db, &me.user_id, id).await?;
    let fields = BrandFields::apply(brand.fields.clone(), &input)?;
    check_uploads_owned(&db, &me.user_id, &fields).await?;
    let archived_at = match input.archived {
        Some(true) => Some(brand.archived_at.unwrap_or(ctx.now)),
        Some(false) => None,
        None => brand.archived_at,
    };
    db.batch(brands::write_brand(&me.user_id, id, &fields, archived_at, brand.created_at, ctx.now, Write::Update)).await?;
    json(200, &brand_or_404(&db, &me.user_id, id).await?)
}

pub async fn duplicate_brand(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let db = &ctx.db;
    let brand = brand_or_404(&db, &me.user_id, id).await?;
    let mut fields = brand.fields;
    let name: String = format!("{} (copy)", fields.name).chars().take(80).collect();
    fields.name = name;
    let new_id = crate::platform::ids::new_id("brd");
    db.batch(brands::write_brand(&me.user_id, &new_id, &fields, None, ctx.now, ctx.now, Write::Insert)).await?;
    json(201, &brand_or_404(&db, &me.user_id, &new_id).await?)
}

/// B4 delete: the brand goes, and with it the files only it used (README, "Brands and
/// files"). If the worker stops between the two steps, those files are unreferenced and
/// the daily purge (C3) removes them.
pub async fn delete_brand(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let db = &ctx.db;
    let brand = brand_or_404(&db, &me.user_id, id).await?;
    let ids = brand.fields.upload_ids();
    let mut only_here = Vec::new();
    for upload_id in ids {
        let used_elsewhere = brands::upload_used_by_another_brand(db, id, upload_id).await?;
        if !used_elsewhere {
            if let Some(u) = uploads::find_ready(&db, &me.user_id, upload_id).await? {
                only_here.push(Doomed { id: u.id, r2_key: u.r2_key });
            }
        }
    }
    db.batch(brands::delete_brand(&me.user_id, id)).await?;
    uploads::remove(&db, ctx.blobs()?, &only_here, ctx.now).await?;
    no_content()
}

// ---- B5: a brand from its website -------------------------------------------------------------

/// The price, shown before the import (and the balance, so the editor can say whether it
/// is enough).
pub async fn website_import_quote(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    let account = crate::credits::ledger::balance(&ctx.db, &me.user_id).await?;
    json(200, &serde_json::json!({ "price": website::import::PRICE, "balance": account.balance, "debt": account.debt }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportInput {
    url: String,
}

/// Fetches and reads the site and answers the prefilled brand fields; nothing is saved
/// as a brand (the logo is an upload, purged after a day unless a brand uses it).
pub async fn import_website(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let input: ImportInput = read_json(&mut req, ctx.config).await?;
    let request = website::import::Request {
        user_id: &me.user_id,
        url: &input.url,
        upload_limits: (ctx.config.upload_max_bytes, ctx.config.storage_quota_bytes),
        now_ms: ctx.now,
    };
    let db = &ctx.db;
    let imported =
        website::import::import_website(&db, ctx.blobs()?, &ctx.web(), &ctx.inference(), &ctx.config.website_import, request).await?;
    let mut answer = serde_json::to_value(&imported).map_err(AppError::internal)?;
    answer["logo"] = serde_json::to_value(imported.logo.as_ref().map(view)).map_err(AppError::internal)?;
    json(200, &answer)
}

// ---- uploads -----------------------------------------------------------------------------

#[derive(Serialize)]
struct UploadView<'a> {
    #[serde(flatten)]
    upload: &'a Upload,
    content_url: String,
}

fn view(upload: &Upload) -> UploadView<'_> {
    UploadView { upload, content_url: format!("/api/uploads/{}/content", upload.id) }
}

pub async fn list_uploads(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let page = PageQuery::of(req, 20)?;
    let db = &ctx.db;
    let items = uploads::list_ready(&db, &me.user_id, &page.page).await?;
    let next = page.page.next_cursor(&items, |u| (u.created_at, u.id.as_str()));
    let usage = uploads::usage(&db, &me.user_id, ctx.config.storage_quota_bytes).await?;
    let items: Vec<_> = items.iter().map(view).collect();
    json(200, &serde_json::json!({ "items": items, "next_cursor": next, "usage": usage }))
}

fn too_large(limit: i64) -> AppError {
    AppError::PayloadTooLarge { limit_bytes: limit as usize }
}

/// C1: the body is the file (any declared type) with `?filename=`, or multipart with a
/// `file` field. The type comes from the bytes; size and quota are checked before the
/// object is written.
pub async fn create_upload(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let max = ctx.config.upload_max_bytes;
    let header = |name: &str| req.headers().get(name).ok().flatten();
    // Multipart framing adds a little; the file itself is measured below.
    crate::http::json_body::check_declared_length(header("Content-Length").as_deref(), (max + 16 * 1024) as usize)
        .map_err(|_| too_large(max))?;
    let is_multipart = header("Content-Type").is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (bytes, filename) = if is_multipart {
        // Read under the limit first (a chunked body has no Content-Length to check),
        // then let the runtime parse the form from those bytes.
        let content_type = header("Content-Type").unwrap_or_default();
        let raw = read_body(&mut req, (max + 16 * 1024) as usize, too_large(max)).await?;
        let headers = worker::Headers::new();
        headers.set("Content-Type", &content_type).map_err(AppError::internal)?;
        let mut init = worker::RequestInit::new();
        init.with_method(worker::Method::Post).with_headers(headers).with_body(Some(js_sys::Uint8Array::from(raw.as_slice()).into()));
        let mut buffered = Request::new_with_init("https://form.invalid/", &init).map_err(AppError::internal)?;
        let form = buffered.form_data().await.map_err(|_| AppError::validation("file", "The form could not be read."))?;
        match form.get("file") {
            Some(FormEntry::File(file)) => (file.bytes().await.map_err(AppError::internal)?, Some(file.name())),
            _ => return Err(AppError::validation("file", "Attach the image as the form field \"file\".")),
        }
    } else {
        let name = req.url().ok().and_then(|u| u.query_pairs().find(|(k, _)| k == "filename").map(|(_, v)| v.into_owned()));
        (read_body(&mut req, max as usize, too_large(max)).await?, name)
    };
    let db = &ctx.db;
    let limits = (max, ctx.config.storage_quota_bytes);
    let upload = uploads::store_image(&db, ctx.blobs()?, &me.user_id, bytes, filename.as_deref(), limits, ctx.now).await?;
    let usage = uploads::usage(&db, &me.user_id, ctx.config.storage_quota_bytes).await?;
    json(201, &serde_json::json!({ "upload": view(&upload), "usage": usage }))
}

async fn upload_or_404(db: &impl Db, user_id: &str, id: &str) -> Result<Upload, AppError> {
    uploads::find_ready(db, user_id, id).await?.ok_or(AppError::NotFound)
}

pub async fn get_upload(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    json(200, &view(&upload_or_404(&ctx.db, &me.user_id, id).await?))
}

/// C2: only to its owner, with its real type, `nosniff`, a download name, and private
/// caching (a shared cache must never hand it to someone else).
pub async fn upload_content(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let upload = upload_or_404(&ctx.db, &me.user_id, id).await?;
    let blob = ctx.blobs()?.get(&upload.r2_key).await?.ok_or_else(|| AppError::internal(format!("object missing for {}", upload.id)))?;
    let mut response = Response::from_bytes(blob.bytes).map_err(AppError::internal)?;
    let headers = response.headers_mut();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(AppError::internal);
    set("Content-Type", &upload.content_type)?;
    set("Content-Disposition", &uploads::content_disposition(&upload.filename))?;
    set("Cache-Control", "private, max-age=3600")?;
    set("X-Content-Type-Options", "nosniff")?;
    Ok(response)
}

pub async fn delete_upload(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let db = &ctx.db;
    let upload = upload_or_404(&db, &me.user_id, id).await?;
    uploads::remove(&db, ctx.blobs()?, &[Doomed { id: upload.id, r2_key: upload.r2_key }], ctx.now).await?;
    no_content()
}

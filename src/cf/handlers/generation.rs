//! Generation over HTTP and on the queue (D1–D8, E1, E2, B3): content types, credits,
//! submit (hold + outbox), the queue consumer (claim, provider call, capture or release,
//! each exactly once), the dead-letter consumer, and the gallery.

use crate::cf::app::{database, json, read_json, Handled, PageQuery};
use crate::cf::handlers::accounts::{authenticate, Caller};
use crate::cf::adapters::inference::OpenAiCompatible;
use crate::cf::adapters::queues::Queues;
use crate::cf::blobs;
use crate::generation::brand_check::{self, BrandCheck};
use crate::library::brands::{self, BrandFields};
use crate::platform::config::Config;
use crate::generation::content_types::{self, ContentType, Output};
use crate::platform::db::{ConstraintKind, Db, DbError, Statement};
use crate::generation::inference::Inference;
use crate::generation::jobs::{self, AfterFailure, Job, NewJob, Status, Success};
use crate::credits::ledger::{self, Balance};
use crate::platform::ports::{Blobs, Jobs};
use crate::http::problem::AppError;
use crate::platform::queue_messages::{Outcome, QueueMessage, QueueName};
use crate::accounts::security_events::{record, EventKind};
use crate::library::uploads;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use worker::{Env, Request, Response};

pub fn content_types() -> Handled {
    json(200, &serde_json::json!({ "items": content_types::CONTENT_TYPES }))
}

async fn balance(db: &impl Db, user_id: &str) -> Result<Balance, AppError> {
    db.query_one(Statement::new("SELECT balance, held, debt FROM credit_accounts WHERE user_id = ?").bind(user_id))
        .await?
        .ok_or_else(|| AppError::internal(format!("no credit account for {user_id}")))
}

pub async fn credits(env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, false).await?;
    let b = balance(&database(env)?, &me.user_id).await?;
    json(200, &serde_json::json!({ "balance": b.balance, "held": b.held, "debt": b.debt, "low_balance": b.low() }))
}

#[derive(Serialize, Deserialize)]
struct LedgerEntry {
    id: String,
    kind: String,
    amount: i64,
    reference: String,
    job_id: Option<String>,
    created_at: i64,
}

pub async fn ledger_entries(req: &Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, false).await?;
    let page = PageQuery::of(req, 20)?;
    let (at, id) = page.cursor.clone().unwrap_or((i64::MAX, String::new()));
    let items: Vec<LedgerEntry> = database(env)?
        .query(
            Statement::new(
                "SELECT id, kind, amount, reference, job_id, created_at FROM ledger_entries WHERE user_id = ? \
                 AND (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?",
            )
            .bind(&me.user_id)
            .bind(at)
            .bind(at)
            .bind(id)
            .bind(page.limit),
        )
        .await?;
    let next = page.next_cursor(&items, |e| (e.created_at, e.id.as_str()));
    json(200, &serde_json::json!({ "items": items, "next_cursor": next }))
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

fn request_hash(body: &SubmitBody) -> String {
    let canonical = serde_json::json!([body.brand_id, body.content_type, body.prompt.trim()]).to_string();
    crate::platform::ids::hex(&Sha256::digest(canonical.as_bytes()))
}

fn replay(job: &Job, hash: &str) -> Handled {
    if job.request_hash != hash {
        return Err(AppError::validation(
            "Idempotency-Key",
            "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
        ));
    }
    let mut response = json(200, &view(job))?;
    response.headers_mut().set("Idempotent-Replayed", "true").map_err(AppError::internal)?;
    Ok(response)
}

/// D2: validate, screen (D5), then hold the price and create the job in one batch, then
/// send it to the queue. If the send fails the job waits in the outbox for the sweeper.
pub async fn submit(mut req: Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let key = req.headers().get("Idempotency-Key").ok().flatten();
    if let Some(k) = &key {
        if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::validation("Idempotency-Key", "Use 1–255 visible ASCII characters."));
        }
    }
    let body: SubmitBody = read_json(&mut req, config).await?;
    let ct: &ContentType = content_types::find(&body.content_type)
        .ok_or_else(|| AppError::validation("content_type", "Choose one of the content types from /api/content-types."))?;
    let prompt = body.prompt.trim().to_owned();
    let chars = prompt.chars().count();
    if chars == 0 || chars > crate::generation::prompt::MAX_PROMPT_CHARS {
        return Err(AppError::validation("prompt", format!("Write 1 to {} characters.", crate::generation::prompt::MAX_PROMPT_CHARS)));
    }
    let hash = request_hash(&body);
    let db = database(env)?;
    if let Some(k) = &key {
        if let Some(existing) = jobs::find_by_idempotency_key(&db, &me.user_id, k).await? {
            return replay(&existing, &hash);
        }
    }
    let brand = brands::find_brand(&db, &me.user_id, &body.brand_id)
        .await?
        .ok_or_else(|| AppError::validation("brand_id", "Choose one of your brands."))?;
    if brand.archived {
        return Err(AppError::validation("brand_id", "This brand is archived. Restore it to generate with it."));
    }
    if ct.needs_references && brand.fields.reference_upload_ids.is_empty() {
        return Err(AppError::validation("content_type", "Add reference images to the brand first."));
    }
    let account = balance(&db, &me.user_id).await?;
    if account.debt > 0 {
        return Err(AppError::PaymentRequired { detail: "Your account has an unpaid balance. Buy credits to settle it before generating.".into() });
    }
    if account.balance < ct.price {
        return Err(insufficient(account.balance, ct.price));
    }
    match OpenAiCompatible(&config.inference).moderate(&prompt).await {
        Ok(None) => {}
        Ok(Some(categories)) => {
            db.run(record(&me.user_id, EventKind::PromptRefused, &caller.device, caller.now)).await?;
            crate::platform::log::emit("info", "prompt refused by moderation", serde_json::json!({ "user_id": me.user_id, "categories": categories }));
            return Err(AppError::validation("prompt", "This prompt was refused by our content policy. Nothing was charged."));
        }
        Err(_) => {
            return Err(AppError::ServiceUnavailable { detail: "Prompt screening is unavailable right now. Nothing was charged; try again shortly.".into() })
        }
    }

    let id = crate::platform::ids::new_id("gen");
    let snapshot = serde_json::to_string(&brand.fields).map_err(AppError::internal)?;
    let new = NewJob {
        id: &id,
        user_id: &me.user_id,
        brand_id: &brand.id,
        brand_snapshot: &snapshot,
        content_type: ct.id,
        prompt: &prompt,
        price: ct.price,
        idempotency_key: key.as_deref(),
        request_hash: &hash,
    };
    let mut batch = vec![jobs::insert(&new, caller.now)];
    batch.extend(ledger::hold(&me.user_id, &id, ct.price, caller.now));
    if let Err(e) = db.batch(batch).await {
        if ledger::is_insufficient(&e) {
            let now = balance(&db, &me.user_id).await?;
            return Err(insufficient(now.balance, ct.price));
        }
        if let (Some(k), DbError::Constraint { kind: ConstraintKind::Unique, message }) = (&key, &e) {
            if message.contains("idempotency_key") {
                if let Some(existing) = jobs::find_by_idempotency_key(&db, &me.user_id, k).await? {
                    return replay(&existing, &hash);
                }
            }
        }
        return Err(e.into());
    }
    enqueue(env, &db, &id, caller.now).await;
    let job = jobs::find(&db, &me.user_id, &id).await?.ok_or_else(|| AppError::internal("job vanished"))?;
    let mut response = json(202, &view(&job))?;
    response.headers_mut().set("Location", &format!("/api/generations/{id}")).map_err(AppError::internal)?;
    Ok(response)
}

fn insufficient(balance: i64, price: i64) -> AppError {
    AppError::PaymentRequired {
        detail: format!("This costs {price} credits and you have {balance}. Buy credits to continue; nothing was charged."),
    }
}

/// Sends the job's message and records that the queue took it; a failure is logged and
/// left to the sweeper, which sends what the outbox still holds.
pub async fn enqueue(env: &Env, db: &impl Db, job_id: &str, now: i64) {
    match Queues(env).send(QueueName::Generation, &QueueMessage::Generate { job_id: job_id.to_owned() }).await {
        Ok(()) => {
            if let Err(e) = db.run(jobs::mark_enqueued(job_id, now)).await {
                crate::platform::log::emit("error", "marking a job sent failed", serde_json::json!({ "job_id": job_id, "error": e.to_string() }));
            }
        }
        Err(e) => crate::platform::log::emit("error", "queue send failed; the sweeper will retry", serde_json::json!({ "job_id": job_id, "error": e.0 })),
    }
}

// ---- read, list, delete ---------------------------------------------------------------------

pub async fn get(id: &str, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, false).await?;
    let job = jobs::find(&database(env)?, &me.user_id, id).await?.ok_or(AppError::NotFound)?;
    json(200, &view(&job))
}

pub async fn list(req: &Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, false).await?;
    let page = PageQuery::of(req, 20)?;
    let filter = jobs::ListFilter {
        brand_id: page.get("brand_id"),
        content_type: page.get("content_type"),
        query: page.get("q"),
        favorites_only: page.get("favorite") == Some("true"),
    };
    let items = jobs::list(&database(env)?, &me.user_id, &filter, page.cursor.clone(), page.limit).await?;
    let next = page.next_cursor(&items, |j| (j.created_at, j.id.as_str()));
    let views: Vec<_> = items.iter().map(view).collect();
    json(200, &serde_json::json!({ "items": views, "next_cursor": next }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    favorite: bool,
}

/// D7: marks a generation as a favourite (or not).
pub async fn update(id: &str, mut req: Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let body: UpdateBody = read_json(&mut req, config).await?;
    let db = database(env)?;
    if db.run(jobs::set_favorite(id, &me.user_id, body.favorite)).await?.changes == 0 {
        return Err(AppError::NotFound);
    }
    let job = jobs::find(&db, &me.user_id, id).await?.ok_or(AppError::NotFound)?;
    json(200, &view(&job))
}

/// Deletes a finished generation and its image; a running one cannot be deleted yet.
pub async fn delete(id: &str, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let db = database(env)?;
    let job = jobs::find(&db, &me.user_id, id).await?.ok_or(AppError::NotFound)?;
    if !job.status.is_terminal() {
        return Err(AppError::Conflict { detail: "This generation is still running. Delete it once it has finished.".into() });
    }
    db.run(Statement::new("DELETE FROM generation_jobs WHERE id = ? AND user_id = ?").bind(id).bind(&me.user_id)).await?;
    if let Some(upload_id) = &job.output_upload_id {
        if let Some(u) = uploads::find_ready(&db, &me.user_id, upload_id).await? {
            uploads::remove(&db, &blobs(env)?, &[uploads::Doomed { id: u.id, r2_key: u.r2_key }], caller.now).await?;
        }
    }
    Ok(Response::empty().map_err(AppError::internal)?.with_status(204))
}

// ---- the queue consumer -------------------------------------------------------------------------

enum Produced {
    Text(crate::generation::inference::TextResult, BrandCheck),
    Image(crate::generation::inference::ImageResult),
}

async fn produce(env: &Env, config: &Config, job: &Job, brand: &BrandFields, ct: &ContentType) -> Result<Produced, jobs::ProviderError> {
    let provider = OpenAiCompatible(&config.inference);
    match (ct.output, ct.text_kind) {
        (Output::Text, Some(kind)) => {
            let result = provider.chat(&crate::generation::prompt::build_messages(brand, kind, &job.prompt)).await?;
            let check = brand_check::check(&result.text, brand, ct.max_chars);
            Ok(Produced::Text(result, check))
        }
        _ => {
            let prompt = crate::generation::prompt::image_prompt(brand, &job.prompt);
            let size = ct.size.unwrap_or("1024x1024");
            if ct.needs_references {
                let store = blobs(env).map_err(|e| jobs::ProviderError::Transient(e.to_string()))?;
                let mut refs = Vec::new();
                for upload_id in &brand.reference_upload_ids {
                    let key = uploads::r2_key(&job.user_id, upload_id);
                    match store.get(&key).await {
                        Ok(Some(blob)) => refs.push((blob.bytes, blob.content_type)),
                        Ok(None) => {}
                        Err(e) => return Err(jobs::ProviderError::Transient(e.0)),
                    }
                }
                if refs.is_empty() {
                    return Err(jobs::ProviderError::Permanent("the brand's reference images were deleted".into()));
                }
                Ok(Produced::Image(provider.edit(&prompt, size, refs).await?))
            } else {
                Ok(Produced::Image(provider.image(&prompt, size).await?))
            }
        }
    }
}

/// Settles a failed job: release the hold and record why, exactly once.
async fn settle_failure(db: &impl Db, job: &Job, reason: &str, now: i64) -> Outcome {
    let mut batch = ledger::release(&job.user_id, &job.id, job.price, now);
    batch.push(jobs::fail(&job.id, reason, now));
    match db.batch(batch).await {
        Ok(_) => Outcome::Ack,
        Err(e) if ledger::is_duplicate_reference(&e) => Outcome::Ack,
        Err(_) => Outcome::Retry { delay_seconds: 5 },
    }
}

/// D3/D4/D6: runs one delivery of a job.
pub async fn run_job(env: &Env, config: &Config, job_id: &str, now: i64) -> Outcome {
    let Ok(db) = database(env) else { return Outcome::Retry { delay_seconds: 5 } };
    let job = match jobs::claim(&db, job_id, now).await {
        Ok(Some(job)) => job,
        // Done already, or another delivery holds the lease: no second provider call.
        Ok(None) => return Outcome::Ack,
        Err(_) => return Outcome::Retry { delay_seconds: 5 },
    };
    let (Ok(brand), Some(ct)) = (serde_json::from_str::<BrandFields>(&job.brand_snapshot), content_types::find(&job.content_type)) else {
        return settle_failure(&db, &job, "This generation's settings could not be read. No credits were used.", now).await;
    };
    let produced = produce(env, config, &job, &brand, ct).await;
    let done = crate::platform::clock::Clock::now_ms(&crate::platform::clock::SystemClock);
    match produced {
        Ok(Produced::Text(result, check)) => {
            let check_json = serde_json::to_string(&check).unwrap_or_default();
            let success = Success {
                model: &result.model,
                tokens_in: result.tokens_in,
                tokens_out: result.tokens_out,
                output_text: Some(&result.text),
                output_upload_id: None,
                brand_check: Some(&check_json),
            };
            settle_success(&db, &job, &success, Vec::new(), done).await
        }
        Ok(Produced::Image(image)) => store_image_and_settle(env, &db, &job, image, done).await,
        Err(error) => match jobs::after_failure(&error, job.attempts) {
            AfterFailure::RetryIn { seconds } => {
                crate::platform::log::emit("info", "transient provider failure", serde_json::json!({ "job_id": job.id, "attempt": job.attempts, "error": format!("{error:?}") }));
                match db.run(jobs::requeue(&job.id)).await {
                    Ok(_) => Outcome::Retry { delay_seconds: seconds },
                    Err(_) => Outcome::Retry { delay_seconds: seconds.max(5) },
                }
            }
            AfterFailure::Fail { reason } => {
                crate::platform::log::emit("info", "generation failed", serde_json::json!({ "job_id": job.id, "error": format!("{error:?}") }));
                settle_failure(&db, &job, &reason, done).await
            }
        },
    }
}

/// Captures the hold and stores the result, exactly once; `extra` joins the same batch.
async fn settle_success(db: &impl Db, job: &Job, success: &Success<'_>, extra: Vec<Statement>, now: i64) -> Outcome {
    let mut batch = extra;
    batch.extend(ledger::capture(&job.user_id, &job.id, job.price, now));
    batch.push(jobs::succeed(&job.id, success, now));
    match db.batch(batch).await {
        Ok(_) => Outcome::Ack,
        Err(e) if ledger::is_duplicate_reference(&e) => Outcome::Ack,
        Err(_) => {
            let _ = db.run(jobs::requeue(&job.id)).await;
            Outcome::Retry { delay_seconds: 5 }
        }
    }
}

/// D6: the image goes to R2 when it arrives (never a provider URL), as an upload of the
/// user's whose row is made first (see `uploads`).
async fn store_image_and_settle(env: &Env, db: &impl Db, job: &Job, image: crate::generation::inference::ImageResult, now: i64) -> Outcome {
    let Ok(store) = blobs(env) else { return Outcome::Retry { delay_seconds: 5 } };
    let kind = crate::library::images::sniff(&image.png).unwrap_or(crate::library::images::ImageType::Png);
    let (w, h) = crate::library::images::dimensions(kind, &image.png).unwrap_or((0, 0));
    let upload_id = crate::platform::ids::new_id("upl");
    let row = Statement::new(
        "INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, width, height, status, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
    )
    .bind(&upload_id)
    .bind(&job.user_id)
    .bind(uploads::r2_key(&job.user_id, &upload_id))
    .bind(format!("{}.{}", job.id, kind.extension()))
    .bind(kind.mime())
    .bind(image.png.len() as i64)
    .bind((w > 0).then_some(w as i64))
    .bind((h > 0).then_some(h as i64))
    .bind(now);
    if db.run(row).await.is_err() {
        let _ = db.run(jobs::requeue(&job.id)).await;
        return Outcome::Retry { delay_seconds: 5 };
    }
    let key = uploads::r2_key(&job.user_id, &upload_id);
    if store.put(&key, image.png, kind.mime()).await.is_err() {
        let _ = db.run(uploads::delete_row(&upload_id)).await;
        let _ = db.run(jobs::requeue(&job.id)).await;
        return Outcome::Retry { delay_seconds: 5 };
    }
    let success = Success { model: &image.model, tokens_in: None, tokens_out: None, output_text: None, output_upload_id: Some(&upload_id), brand_check: None };
    let outcome = settle_success(db, job, &success, vec![uploads::mark_ready(&upload_id)], now).await;
    if outcome != Outcome::Ack || jobs::find_any(db, &job.id).await.ok().flatten().and_then(|j| j.output_upload_id) != Some(upload_id.clone()) {
        // Not ours to keep (already settled, or retried): remove the image again.
        let _ = uploads::remove(db, &store, &[uploads::Doomed { id: upload_id, r2_key: key }], now).await;
    }
    outcome
}

/// D8: a job whose message exhausted its retries is failed and its hold released.
pub async fn dead_lettered(env: &Env, job_id: &str, now: i64) -> Outcome {
    let Ok(db) = database(env) else { return Outcome::Retry { delay_seconds: 5 } };
    match jobs::find_any(&db, job_id).await {
        Ok(Some(job)) if !job.status.is_terminal() => {
            settle_failure(&db, &job, "This generation could not be completed after several attempts. No credits were used.", now).await
        }
        Ok(_) => Outcome::Ack,
        Err(_) => Outcome::Retry { delay_seconds: 5 },
    }
}

//! Generation as a service over ports (D2–D8, E1): submit (hold + outbox), enqueue, run
//! one delivery of a job (claim, provider call, capture or release, each exactly once),
//! and the dead-letter path. No `worker::` types: the Cloudflare handlers and consumers
//! call these with the real adapters, the native tests with the fakes in `testing`.
//!
//! The guarantees, and where each comes from:
//! - a job's provider call happens at most once per lease: `jobs::claim` is one
//!   conditional UPDATE;
//! - a job is settled once, one way: capture and release share the reference
//!   `settle:{job}` (`ledger`), and each settlement is one batch with the job's update;
//! - a submit that cannot reach the queue is not lost: the job waits in the outbox
//!   (`enqueued_at IS NULL`) for the sweeper, which calls the same `enqueue`.

use crate::accounts::security_events::{record, EventKind};
use crate::credits::ledger;
use crate::generation::brand_check::{self, BrandCheck};
use crate::generation::palette_check;
use crate::generation::content_types::{self, ContentType, Output};
use crate::generation::inference::{ImageResult, Inference, TextResult};
use crate::generation::jobs::{self, AfterFailure, Job, NewJob, ProviderError, Success};
use crate::generation::prompt;
use crate::http::problem::AppError;
use crate::library::brands::{self, BrandFields};
use crate::library::images;
use crate::library::uploads;
use crate::platform::clock::Clock;
use crate::platform::db::{Db, Statement};
use crate::platform::log::{self, Level};
use crate::platform::ports::{Blobs, Jobs};
use crate::platform::queue_messages::{Outcome, QueueMessage, QueueName};
use sha2::{Digest, Sha256};

/// What a user asked for, as the handler parsed it from the request.
pub struct SubmitRequest<'a> {
    pub user_id: &'a str,
    pub brand_id: &'a str,
    pub content_type: &'a str,
    pub prompt: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// The device label for the security event of a refused prompt.
    pub device: &'a str,
}

/// The job a submit made, or the one an earlier submit with the same key made.
pub struct Submission {
    pub job: Job,
    pub replayed: bool,
}

/// The hash that tells a retried submit from a different one under the same key.
pub fn request_hash(brand_id: &str, content_type: &str, prompt: &str) -> String {
    let canonical = serde_json::json!([brand_id, content_type, prompt.trim()]).to_string();
    crate::platform::ids::hex(&Sha256::digest(canonical.as_bytes()))
}

fn replay(job: Job, hash: &str) -> Result<Submission, AppError> {
    if job.request_hash != hash {
        return Err(AppError::validation(
            "Idempotency-Key",
            "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
        ));
    }
    Ok(Submission { job, replayed: true })
}

fn insufficient(balance: i64, price: i64) -> AppError {
    AppError::PaymentRequired {
        detail: format!("This costs {price} credits and you have {balance}. Buy credits to continue; nothing was charged."),
    }
}

/// D5: everything of the user's that goes into the provider's prompts: the request and
/// every brand field the system and image prompts are built from.
fn screening_text(brand: &BrandFields, prompt: &str) -> String {
    let mut parts = vec![prompt, &brand.name, &brand.description, &brand.voice, &brand.audience];
    for list in [&brand.words_to_use, &brand.words_to_avoid, &brand.banned_claims, &brand.fonts, &brand.example_content] {
        parts.extend(list.iter().map(String::as_str));
    }
    parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n")
}

/// D2: validate, screen (D5), then hold the price and create the job in one batch, then
/// send it to the queue. If the send fails the job waits in the outbox for the sweeper.
pub async fn submit(
    db: &impl Db,
    queue: &impl Jobs,
    provider: &impl Inference,
    request: &SubmitRequest<'_>,
    now: i64,
) -> Result<Submission, AppError> {
    let user_id = request.user_id;
    if let Some(k) = request.idempotency_key {
        if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::validation("Idempotency-Key", "Use 1–255 visible ASCII characters."));
        }
    }
    let ct: &ContentType = content_types::find(request.content_type)
        .ok_or_else(|| AppError::validation("content_type", "Choose one of the content types from /api/content-types."))?;
    let prompt = request.prompt.trim();
    let chars = prompt.chars().count();
    if chars == 0 || chars > prompt::MAX_PROMPT_CHARS {
        return Err(AppError::validation("prompt", format!("Write 1 to {} characters.", prompt::MAX_PROMPT_CHARS)));
    }
    let hash = request_hash(request.brand_id, request.content_type, request.prompt);
    if let Some(k) = request.idempotency_key {
        if let Some(existing) = jobs::find_by_idempotency_key(db, user_id, k).await? {
            return replay(existing, &hash);
        }
    }
    let brand = brands::find_brand(db, user_id, request.brand_id)
        .await?
        .ok_or_else(|| AppError::validation("brand_id", "Choose one of your brands."))?;
    if brand.archived {
        return Err(AppError::validation("brand_id", "This brand is archived. Restore it to generate with it."));
    }
    if ct.needs_references && brand.fields.reference_upload_ids.is_empty() {
        return Err(AppError::validation("content_type", "Add reference images to the brand first."));
    }
    let account = ledger::balance(db, user_id).await?;
    if account.debt > 0 {
        return Err(AppError::PaymentRequired {
            detail: "Your account has an unpaid balance. Buy credits to settle it before generating.".into(),
        });
    }
    if account.balance < ct.price {
        return Err(insufficient(account.balance, ct.price));
    }
    match provider.moderate(&screening_text(&brand.fields, prompt)).await {
        Ok(None) => {}
        Ok(Some(categories)) => {
            db.run(record(user_id, EventKind::PromptRefused, request.device, now)).await?;
            log::emit(Level::Info, "prompt refused by moderation", serde_json::json!({ "user_id": user_id, "categories": categories }));
            return Err(AppError::validation("prompt", "This prompt was refused by our content policy. Nothing was charged."));
        }
        Err(_) => {
            return Err(AppError::ServiceUnavailable {
                detail: "Prompt screening is unavailable right now. Nothing was charged; try again shortly.".into(),
            })
        }
    }

    let id = crate::platform::ids::new_id("gen");
    let snapshot = serde_json::to_string(&brand.fields).map_err(AppError::internal)?;
    let new = NewJob {
        id: &id,
        user_id,
        brand_id: &brand.id,
        brand_snapshot: &snapshot,
        content_type: ct.id,
        prompt,
        price: ct.price,
        idempotency_key: request.idempotency_key,
        request_hash: &hash,
    };
    let mut batch = vec![jobs::insert(&new, now)];
    batch.extend(ledger::hold(user_id, &id, ct.price, now));
    if let Err(e) = db.batch(batch).await {
        if ledger::is_insufficient(&e) {
            let latest = ledger::balance(db, user_id).await?;
            return Err(insufficient(latest.balance, ct.price));
        }
        if let Some(k) = request.idempotency_key {
            if jobs::is_duplicate_idempotency_key(&e) {
                if let Some(existing) = jobs::find_by_idempotency_key(db, user_id, k).await? {
                    return replay(existing, &hash);
                }
            }
        }
        return Err(e.into());
    }
    enqueue(db, queue, &id, now).await;
    let job = jobs::find(db, user_id, &id).await?.ok_or_else(|| AppError::internal("job vanished"))?;
    Ok(Submission { job, replayed: false })
}

/// Sends the job's message and records that the queue took it; a failure is logged and
/// left to the sweeper, which sends what the outbox still holds. Returns whether the
/// queue took the message.
pub async fn enqueue(db: &impl Db, queue: &impl Jobs, job_id: &str, now: i64) -> bool {
    match queue.send(QueueName::Generation, &QueueMessage::Generate { job_id: job_id.to_owned() }).await {
        Ok(()) => {
            if let Err(e) = db.run(jobs::mark_enqueued(job_id, now)).await {
                log::emit(Level::Error, "marking a job sent failed", serde_json::json!({ "job_id": job_id, "error": e.to_string() }));
            }
            true
        }
        Err(e) => {
            log::emit(Level::Error, "queue send failed; the sweeper will retry", serde_json::json!({ "job_id": job_id, "error": e.0 }));
            false
        }
    }
}

// ---- one delivery of a job -------------------------------------------------------------------

enum Produced {
    Text(TextResult, BrandCheck),
    Image(ImageResult),
}

async fn produce(
    blobs: &impl Blobs,
    provider: &impl Inference,
    job: &Job,
    brand: &BrandFields,
    ct: &ContentType,
) -> Result<Produced, ProviderError> {
    match (ct.output, ct.text_kind) {
        (Output::Text, Some(kind)) => {
            let result = provider.chat(&prompt::build_messages(brand, kind, &job.prompt)).await?;
            let check = brand_check::check(&result.text, brand, ct.max_chars);
            Ok(Produced::Text(result, check))
        }
        _ => {
            let image_prompt = prompt::image_prompt(brand, &job.prompt);
            let size = ct.size.unwrap_or("1024x1024");
            if !ct.needs_references {
                return Ok(Produced::Image(provider.image(&image_prompt, size).await?));
            }
            let mut refs = Vec::new();
            for upload_id in &brand.reference_upload_ids {
                match blobs.get(&uploads::r2_key(&job.user_id, upload_id)).await {
                    Ok(Some(blob)) => refs.push((blob.bytes, blob.content_type)),
                    Ok(None) => {}
                    Err(e) => return Err(ProviderError::Transient(e.0)),
                }
            }
            if refs.is_empty() {
                return Err(ProviderError::Permanent("the brand's reference images were deleted".into()));
            }
            Ok(Produced::Image(provider.edit(&image_prompt, size, refs).await?))
        }
    }
}

const CRASHED: &str = "This generation stopped unexpectedly several times and was cancelled. No credits were used.";
const NEVER_STARTED: &str = "This generation could not be started. No credits were used; please try again.";

/// D3/D4/D6: runs one delivery of a job. `lease_ms` must outlast the provider call.
pub async fn run_job(db: &impl Db, blobs: &impl Blobs, provider: &impl Inference, clock: &impl Clock, job_id: &str, lease_ms: i64) -> Outcome {
    let now = clock.now_ms();
    let job = match jobs::claim(db, job_id, now, lease_ms).await {
        Ok(Some(job)) => job,
        // Done already, or another delivery holds the lease: no second provider call;
        // or its claims are used up (it crashed its consumer each time): it ends here.
        Ok(None) => {
            return match jobs::find_any(db, job_id).await {
                Ok(Some(job)) if job.attempts >= jobs::MAX_CLAIMS && job.status == jobs::Status::Queued => {
                    settle_failure(db, &job, CRASHED, now).await
                }
                Ok(_) => Outcome::Ack,
                Err(_) => Outcome::Retry { delay_seconds: 5 },
            }
        }
        Err(_) => return Outcome::Retry { delay_seconds: 5 },
    };
    let (Ok(brand), Some(ct)) = (serde_json::from_str::<BrandFields>(&job.brand_snapshot), content_types::find(&job.content_type)) else {
        return settle_failure(db, &job, "This generation's settings could not be read. No credits were used.", now).await;
    };
    let produced = produce(blobs, provider, &job, &brand, ct).await;
    let done = clock.now_ms();
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
                palette_check: None,
            };
            settle_success(db, &job, &success, Vec::new(), done).await
        }
        Ok(Produced::Image(image)) => store_image_and_settle(db, blobs, &job, &brand, image, done).await,
        Err(error) => match jobs::after_failure(&error, job.attempts) {
            AfterFailure::RetryIn { seconds } => {
                log::emit(
                    Level::Info,
                    "transient provider failure",
                    serde_json::json!({ "job_id": job.id, "attempt": job.attempts, "error": error.kind() }),
                );
                match db.run(jobs::requeue(&job.id)).await {
                    Ok(_) => Outcome::Retry { delay_seconds: seconds },
                    Err(_) => Outcome::Retry { delay_seconds: seconds.max(5) },
                }
            }
            AfterFailure::Fail { reason } => {
                log::emit(Level::Info, "generation failed", serde_json::json!({ "job_id": job.id, "error": error.kind() }));
                settle_failure(db, &job, &reason, done).await
            }
        },
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
/// user's whose row is made first (see `uploads`); its palette check (B3) is stored with
/// the job.
async fn store_image_and_settle(db: &impl Db, blobs: &impl Blobs, job: &Job, brand: &BrandFields, image: ImageResult, now: i64) -> Outcome {
    let palette = palette_check::check(&image.png, &brand.colors);
    let palette_json = serde_json::to_string(&palette).unwrap_or_default();
    let kind = images::sniff(&image.png).unwrap_or(images::ImageType::Png);
    let (w, h) = images::dimensions(kind, &image.png).unwrap_or((0, 0));
    let upload_id = crate::platform::ids::new_id("upl");
    let filename = format!("{}.{}", job.id, kind.extension());
    let new = uploads::NewUpload {
        id: &upload_id,
        user_id: &job.user_id,
        filename: &filename,
        content_type: kind.mime(),
        size_bytes: image.png.len() as i64,
        width: (w > 0).then_some(w as i64),
        height: (h > 0).then_some(h as i64),
    };
    if db.run(uploads::insert_generated(&new, now)).await.is_err() {
        let _ = db.run(jobs::requeue(&job.id)).await;
        return Outcome::Retry { delay_seconds: 5 };
    }
    let key = uploads::r2_key(&job.user_id, &upload_id);
    if blobs.put(&key, image.png, kind.mime()).await.is_err() {
        let _ = db.run(uploads::abandon(&upload_id, now)).await;
        let _ = db.run(jobs::requeue(&job.id)).await;
        return Outcome::Retry { delay_seconds: 5 };
    }
    let success = Success {
        model: &image.model,
        tokens_in: None,
        tokens_out: None,
        output_text: None,
        output_upload_id: Some(&upload_id),
        brand_check: None,
        palette_check: Some(&palette_json),
    };
    let outcome = settle_success(db, job, &success, vec![uploads::mark_ready(&upload_id)], now).await;
    let kept = jobs::find_any(db, &job.id).await.ok().flatten().and_then(|j| j.output_upload_id) == Some(upload_id.clone());
    if outcome != Outcome::Ack || !kept {
        // Not ours to keep (already settled, or retried): remove the image again.
        let _ = uploads::remove(db, blobs, &[uploads::Doomed { id: upload_id, r2_key: key }], now).await;
    }
    outcome
}

/// What the sweeper did to generation jobs; each item is handled on its own.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobSweep {
    pub requeued: u64,
    pub failed: u64,
    pub resent: u64,
    pub sent: u64,
    pub errors: u64,
}

/// The sweeper's work on jobs (D8): running jobs whose worker died go back to the
/// outbox, or fail once they used up their claims; queued jobs whose message was lost
/// are sent again, or fail after a day; then the outbox is sent. One item's failure is
/// counted and never stops the rest.
pub async fn sweep_jobs(db: &impl Db, queue: &impl Jobs, now: i64) -> JobSweep {
    let mut report = JobSweep::default();
    let mut note = |result: Result<(), crate::platform::db::DbError>, what: &str, id: &str| {
        if let Err(e) = result {
            report.errors += 1;
            log::emit(Level::Error, what, serde_json::json!({ "job_id": id, "error": e.to_string() }));
        }
    };
    match jobs::expired_leases(db, now, 200).await {
        Ok(expired) => {
            for job in expired {
                if job.attempts >= jobs::MAX_CLAIMS {
                    if settle_failure(db, &job, CRASHED, now).await == Outcome::Ack {
                        report.failed += 1;
                    }
                } else {
                    let done = db.run(jobs::requeue_expired(&job.id, now)).await.map(|r| report.requeued += r.changes);
                    note(done, "requeueing an expired lease failed", &job.id);
                }
            }
        }
        Err(e) => note(Err(e), "listing expired leases failed", ""),
    }
    match jobs::stale_queued(db, now, 200).await {
        Ok(stale) => {
            for job in stale {
                if job.created_at < now - jobs::QUEUED_GIVE_UP_MS {
                    if settle_failure(db, &job, NEVER_STARTED, now).await == Outcome::Ack {
                        report.failed += 1;
                    }
                } else {
                    let done = db.run(jobs::resend(&job.id)).await.map(|r| report.resent += r.changes);
                    note(done, "resending a stale job failed", &job.id);
                }
            }
        }
        Err(e) => note(Err(e), "listing stale jobs failed", ""),
    }
    match jobs::unsent(db, now, 200).await {
        Ok(unsent) => {
            for job in unsent {
                if enqueue(db, queue, &job.id, now).await {
                    report.sent += 1;
                }
            }
        }
        Err(e) => note(Err(e), "listing the outbox failed", ""),
    }
    report
}

/// D8: a job whose message exhausted its retries is failed and its hold released.
pub async fn dead_lettered(db: &impl Db, job_id: &str, now: i64) -> Outcome {
    match jobs::find_any(db, job_id).await {
        Ok(Some(job)) if !job.status.is_terminal() => {
            settle_failure(db, &job, "This generation could not be completed after several attempts. No credits were used.", now).await
        }
        Ok(_) => Outcome::Ack,
        Err(_) => Outcome::Retry { delay_seconds: 5 },
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;

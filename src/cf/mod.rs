//! Cloudflare adapters and the worker's entry points. Each entry point only looks up
//! bindings and hands over to plain functions.

mod adapters;
mod app;
mod handlers;

use crate::platform::clock::SystemClock;
use crate::platform::queue_messages::{parse_message, Outcome, QueueMessage, QueueName};
use worker::{event, Context, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, Request, Response, ScheduleContext, ScheduledEvent};

pub(crate) use adapters::d1::D1;
pub(crate) use adapters::r2::R2;
use adapters::queues;
use handlers::generation;

pub(crate) const DB_BINDING: &str = "DB";
pub(crate) const KV_BINDING: &str = "SESSIONS";
pub(crate) const BLOBS_BINDING: &str = "UPLOADS";

/// The R2 bucket of uploads and generated images, as the `Blobs` port.
pub(crate) fn blobs(env: &Env) -> Result<R2, crate::http::problem::AppError> {
    env.bucket(BLOBS_BINDING).map(R2).map_err(crate::http::problem::AppError::internal)
}

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(app::handle(req, &env, &ctx).await)
}

#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> worker::Result<()> {
    let queue_name = batch.queue();
    let Some(queue) = QueueName::from_queue_name(&queue_name) else {
        crate::platform::log::emit("error", "batch from an unknown queue", serde_json::json!({ "queue": queue_name }));
        batch.retry_all();
        return Ok(());
    };
    for message in batch.raw_iter() {
        let body: serde_json::Value = serde_json::from_str(
            &worker::js_sys::JSON::stringify(&message.body()).map(String::from).unwrap_or_default(),
        )
        .unwrap_or(serde_json::Value::Null);
        let outcome = consume(&env, queue, &body).await;
        apply(&env, queue, &message, &body, outcome).await;
    }
    Ok(())
}

/// Decides what to do with one message.
async fn consume(env: &Env, queue: QueueName, body: &serde_json::Value) -> Outcome {
    let message = match parse_message(body) {
        Ok(m) => m,
        Err(outcome) => return outcome,
    };
    let db = match env.d1(DB_BINDING) {
        Ok(db) => D1(db),
        Err(_) => return Outcome::Retry { delay_seconds: 5 },
    };
    match message {
        QueueMessage::Probe { probe_id, fail } => {
            crate::ops::probes::consume(&db, queue, &probe_id, fail, crate::platform::clock::Clock::now_ms(&SystemClock)).await
        }
        QueueMessage::Generate { job_id } => {
            let now = crate::platform::clock::Clock::now_ms(&SystemClock);
            if queue.is_dead_letter() {
                return generation::dead_lettered(env, &job_id, now).await;
            }
            match crate::platform::config::Config::from_env(|k| app::lookup(env, k)) {
                Ok(config) => generation::run_job(env, &config, &job_id, now).await,
                Err(_) => Outcome::Retry { delay_seconds: 30 },
            }
        }
    }
}

/// Applies an outcome. Dead-lettering is done by sending to the dead-letter queue and
/// acking only once that send succeeded; on a dead-letter queue itself it is an ack
/// (the message has been recorded as far as it can be).
async fn apply(env: &Env, queue: QueueName, message: &worker::RawMessage, body: &serde_json::Value, outcome: Outcome) {
    match outcome {
        Outcome::Ack => message.ack(),
        Outcome::Retry { delay_seconds } => {
            message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(delay_seconds).build())
        }
        Outcome::DeadLetter { reason } => {
            crate::platform::log::emit(
                "error",
                "dead-lettering a message",
                serde_json::json!({ "queue": queue.short(), "message_id": message.id(), "reason": reason }),
            );
            match queue.dead_letter() {
                Some(dlq) => match queues::send_raw_json(env, dlq, body).await {
                    Ok(()) => message.ack(),
                    Err(_) => message.retry(),
                },
                None => message.ack(),
            }
        }
    }
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let db = match env.d1(DB_BINDING) {
        Ok(db) => D1(db),
        Err(e) => {
            crate::platform::log::emit("error", "scheduled run without a database", serde_json::json!({ "error": e.to_string() }));
            return;
        }
    };
    let blobs = match env.bucket(BLOBS_BINDING) {
        Ok(bucket) => R2(bucket),
        Err(e) => {
            crate::platform::log::emit("error", "scheduled run without a bucket", serde_json::json!({ "error": e.to_string() }));
            return;
        }
    };
    let run = crate::ops::cron::run_scheduled(&db, &blobs, &queues::Queues(&env), &SystemClock, &event.cron()).await;
    let level = if run.outcome == "ok" { "info" } else { "error" };
    crate::platform::log::emit(level, "cron run", serde_json::json!({ "task": run.task, "outcome": run.outcome, "detail": run.detail }));
}

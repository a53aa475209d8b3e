//! Cloudflare adapters and the worker's entry points. Each entry point only looks up
//! bindings and hands over to plain functions.

mod adapters;
mod app;
mod context;
mod handlers;
mod http;

use crate::platform::clock::{Clock, SystemClock};
use crate::platform::concurrent::{bounded, MAX_IN_FLIGHT};
use crate::platform::log::{self, Level};
use crate::generation::service;
use crate::ops::sentry::Source;
use crate::platform::queue_messages::{parse_message, Outcome, QueueMessage, QueueName};
use worker::{event, Context, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, Request, Response, ScheduleContext, ScheduledEvent};

use context::{bucket, database, isolate_config, payments};
#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(app::handle(req, &env, &ctx).await)
}

/// The `queue` entry point, exported by hand rather than with `#[event(queue)]`: that
/// macro turns an `Err` into a Rust `panic!`, which aborts the wasm instance and with it
/// every request the isolate is serving at that moment (they answer 500 while workerd
/// reinitialises the module). A batch that fails should do what an uncaught exception
/// does and nothing more: its unacknowledged messages are delivered again. So an `Err`
/// becomes a rejected promise (a JavaScript `Error`), which workerd treats exactly so.
mod queue_export {
    use worker::wasm_bindgen::prelude::wasm_bindgen;
    use worker::wasm_bindgen::JsValue;

    #[wasm_bindgen(wasm_bindgen = ::worker::wasm_bindgen, wasm_bindgen_futures = ::worker::wasm_bindgen_futures, js_sys = ::worker::js_sys)]
    pub async fn queue(batch: worker::worker_sys::MessageBatch, env: worker::Env, ctx: worker::worker_sys::Context) -> Result<JsValue, JsValue> {
        match super::queue_batch(worker::MessageBatch::from(batch), env, worker::Context::new(ctx)).await {
            Ok(()) => Ok(JsValue::UNDEFINED),
            Err(e) => Err(worker::js_sys::Error::new(&e.to_string()).into()),
        }
    }
}

async fn queue_batch(batch: MessageBatch<serde_json::Value>, env: Env, ctx: Context) -> worker::Result<()> {
    let started = SystemClock.now_ms();
    let queue_name = batch.queue();
    let Some(queue) = QueueName::from_queue_name(&queue_name) else {
        log::emit(Level::Error, "queue batch", serde_json::json!({ "queue": queue_name, "outcome": "unknown_queue" }));
        report_later(&env, |r| ctx.wait_until(r), Source::Queue, format!("queue {queue_name}"), "a batch from an unknown queue".into());
        batch.retry_all();
        return Ok(());
    };
    // A generation batch's messages run side by side (at most MAX_IN_FLIGHT), each parsed,
    // consumed and acked, retried or dead-lettered on its own. A consumer that fails on a
    // message (an `Err`, what a thrown exception would be) gets that message retried;
    // its batch-mates are not touched. A real panic aborts the whole invocation, and
    // the runtime delivers the batch again: finished jobs are then acked at once and a
    // job still leased waits for its lease to expire and the sweeper (docs/PLATFORM.md).
    let messages: Vec<worker::RawMessage> = batch.raw_iter().collect();
    // Billing events stay one at a time: two events of one purchase never race.
    let limit = if queue == QueueName::Generation { MAX_IN_FLIGHT } else { 1 };
    let results = bounded(messages.iter().collect(), limit, |message| handle_message(&env, queue, message)).await;
    let mut tally = BatchTally { messages: results.len() as u32, ..BatchTally::default() };
    let mut crashes = Vec::new();
    for result in results {
        match result {
            Ok(outcome) => tally.count(&outcome),
            Err(cause) => {
                tally.retried += 1;
                crashes.push(cause);
            }
        }
    }
    // G1: one line per batch, with its outcome.
    let outcome = if crashes.is_empty() { "ok" } else { "crashed" };
    log::emit(
        if crashes.is_empty() { Level::Info } else { Level::Error },
        "queue batch",
        serde_json::json!({ "queue": queue.short(), "messages": tally.messages, "acked": tally.acked, "retried": tally.retried,
            "dead_lettered": tally.dead_lettered, "crashed": crashes.len(), "outcome": outcome,
            "latency_ms": SystemClock.now_ms() - started }),
    );
    for cause in crashes {
        report_later(&env, |r| ctx.wait_until(r), Source::Queue, format!("queue {}", queue.short()), cause.into());
    }
    Ok(())
}

/// One message: parsed, consumed, its outcome applied. A consumer failure retries this
/// message alone and is answered as `Err` for the batch's log line and Sentry.
async fn handle_message(env: &Env, queue: QueueName, message: &worker::RawMessage) -> Result<Outcome, &'static str> {
    let body: serde_json::Value = serde_json::from_str(
        &worker::js_sys::JSON::stringify(&message.body()).map(String::from).unwrap_or_default(),
    )
    .unwrap_or(serde_json::Value::Null);
    match consume(env, queue, &body).await {
        Ok(outcome) => {
            let counted = outcome.clone();
            apply(env, queue, message, &body, outcome).await;
            Ok(counted)
        }
        Err(cause) => {
            message.retry();
            Err(cause)
        }
    }
}

#[derive(Default)]
struct BatchTally {
    messages: u32,
    acked: u32,
    retried: u32,
    dead_lettered: u32,
}

impl BatchTally {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Ack => self.acked += 1,
            Outcome::Retry { .. } => self.retried += 1,
            Outcome::DeadLetter { .. } => self.dead_lettered += 1,
        }
    }
}

/// G1: reports an unexpected error to Sentry after the work is done (`waitUntil`), when
/// a DSN is configured.
fn report_later(env: &Env, wait_until: impl FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>), source: Source, transaction: String, message: String) {
    let Some(reporting) = isolate_config(env).ok().and_then(|c| c.sentry.as_ref()) else { return };
    let report = adapters::sentry::Report { source, transaction, message, request_id: None, user_id: None };
    wait_until(Box::pin(adapters::sentry::send(reporting, report)));
}

/// Development only: a job whose prompt holds `#crash-consumer` is claimed and then the
/// consumer throws, as a panic would, so the end-to-end tests can prove such a job still
/// ends (the claim cap and the sweeper) and that the sweeper keeps working for others.
async fn crash_on_purpose(db: &impl crate::platform::db::Db, job_id: &str, lease_ms: i64) -> Result<(), &'static str> {
    use crate::generation::jobs;
    match jobs::find_any(db, job_id).await {
        Ok(Some(job)) if job.prompt.contains("#crash-consumer") => {
            let _ = jobs::claim(db, job_id, SystemClock.now_ms(), lease_ms).await;
            Err("the consumer crashed on purpose (#crash-consumer, development only)")
        }
        _ => Ok(()),
    }
}

/// Decides what to do with one message.
async fn consume(env: &Env, queue: QueueName, body: &serde_json::Value) -> Result<Outcome, &'static str> {
    let message = match parse_message(body) {
        Ok(m) => m,
        Err(outcome) => return Ok(outcome),
    };
    let Ok(config) = isolate_config(env) else { return Ok(Outcome::Retry { delay_seconds: 30 }) };
    let Ok(db) = database(env, config) else { return Ok(Outcome::Retry { delay_seconds: 30 }) };
    let lease_ms = crate::generation::jobs::lease_ms(config.inference.timeout_ms);
    Ok(match message {
        QueueMessage::Probe { probe_id, fail } => crate::ops::probes::consume(&db, queue, &probe_id, fail, SystemClock.now_ms()).await,
        QueueMessage::StripeEvent { event_id } if queue.is_dead_letter() => {
            crate::credits::billing::dead_lettered(&db, &event_id, SystemClock.now_ms()).await
        }
        QueueMessage::StripeEvent { event_id } => crate::credits::billing::consume_event(&db, &event_id, SystemClock.now_ms()).await,
        QueueMessage::Export { export_id } => {
            let Ok(blobs) = bucket(env) else { return Ok(Outcome::Retry { delay_seconds: 5 }) };
            let mailer = adapters::email::HttpMailer(&config.email);
            let settings = crate::privacy::export::job::Settings {
                ttl_ms: config.export_ttl_ms,
                email_from: &config.email.from,
                // Required in production; a local run without it gets a relative link.
                origin: config.app_base_url.as_deref().unwrap_or(""),
            };
            let now = SystemClock.now_ms();
            if queue.is_dead_letter() {
                crate::privacy::export::job::dead_lettered(&db, &blobs, &mailer, &settings, &export_id, now).await
            } else {
                crate::privacy::export::job::run(&db, &blobs, &mailer, &settings, &export_id, now).await
            }
        }
        QueueMessage::Generate { job_id } if queue.is_dead_letter() => service::dead_lettered(&db, &job_id, SystemClock.now_ms()).await,
        // The billing consumer (issue 11) handles these; until it exists they wait on the DLQ.
        QueueMessage::Generate { job_id } => {
            if config.diagnostics_enabled() {
                crash_on_purpose(&db, &job_id, lease_ms).await?;
            }
            let Ok(blobs) = bucket(env) else { return Ok(Outcome::Retry { delay_seconds: 5 }) };
            let provider = adapters::inference::OpenAiCompatible(&config.inference);
            service::run_job(&db, &blobs, &provider, &SystemClock, &job_id, lease_ms).await
        }
    })
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
            log::emit(
                Level::Error,
                "dead-lettering a message",
                serde_json::json!({ "queue": queue.short(), "message_id": message.id(), "reason": reason }),
            );
            match queue.dead_letter() {
                Some(dlq) => match adapters::queues::send_raw_json(env, dlq, body).await {
                    Ok(()) => message.ack(),
                    Err(_) => message.retry(),
                },
                None => message.ack(),
            }
        }
    }
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, ctx: ScheduleContext) {
    let started = SystemClock.now_ms();
    let bindings = isolate_config(&env).and_then(|config| Ok((database(&env, config)?, bucket(&env)?, payments(config))));
    let (db, blobs, stripe) = match bindings {
        Ok(both) => both,
        _ => {
            log::emit(Level::Error, "cron run", serde_json::json!({ "cron": event.cron(), "outcome": "no_bindings" }));
            report_later(&env, |r| ctx.wait_until(r), Source::Cron, format!("cron {}", event.cron()), "scheduled run without its bindings".into());
            return;
        }
    };
    let Some((sessions, config)) = env.kv(context::KV_BINDING).ok().map(adapters::kv::KvSessions).zip(isolate_config(&env).ok()) else {
        log::emit(Level::Error, "cron run", serde_json::json!({ "cron": event.cron(), "outcome": "no_bindings" }));
        return;
    };
    let retention = crate::ops::cron::RetentionPorts {
        sessions: &sessions,
        mailer: &adapters::email::HttpMailer(&config.email),
        from: &config.email.from,
        budget: config.retention_run_budget,
    };
    let run = crate::ops::cron::run_scheduled(&db, &blobs, &adapters::queues::Queues(&env), stripe.as_ref(), &retention, &SystemClock, &event.cron()).await;
    let failed = run.outcome != "ok";
    // G1: one line per cron run, with its outcome.
    log::emit(
        if failed { Level::Error } else { Level::Info },
        "cron run",
        serde_json::json!({ "cron": event.cron(), "task": run.task, "outcome": run.outcome, "detail": run.detail,
            "latency_ms": SystemClock.now_ms() - started }),
    );
    if failed {
        let message = format!("cron {} ended {}: {}", run.task, run.outcome, run.detail);
        report_later(&env, |r| ctx.wait_until(r), Source::Cron, format!("cron {}", run.task), message);
    }
}

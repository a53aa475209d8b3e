//! Development-only routes that drive each binding through the worker, so the
//! end-to-end tests prove KV, D1, R2, the queues and cron work on the real runtime.
//! `Config::diagnostics_enabled` keeps them off in production (they answer 404).

use crate::cf::adapters::queues::Queues;
use crate::cf::context::{Ctx, KV_BINDING};
use crate::cf::http::{json, no_content, read_json, Handled};
use crate::platform::db::{Db, Statement};
use crate::platform::ports::{Blobs, Jobs};
use crate::http::problem::AppError;
use crate::platform::queue_messages::{QueueMessage, QueueName};
use crate::http::routes::DiagRoute;
use serde::Deserialize;
use worker::{Request, Response};

const KV_PREFIX: &str = "diag:";
const BLOB_PREFIX: &str = "diag/";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KvPut {
    key: String,
    value: String,
    ttl_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueSend {
    #[serde(default)]
    fail: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sql {
    /// Run in order as one transaction (`Db::batch`), one statement each.
    statements: Vec<String>,
}

fn checked_key(key: &str) -> Result<&str, AppError> {
    let ok = !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    ok.then_some(key).ok_or_else(|| AppError::validation("key", "Use 1–64 letters, digits, dots, dashes or underscores."))
}

pub async fn handle(ctx: &Ctx<'_>, route: DiagRoute, mut req: Request) -> Handled {
    let (env, now) = (ctx.env(), ctx.now);
    match route {
        DiagRoute::KvPut => {
            let body: KvPut = read_json(&mut req, ctx.config).await?;
            let key = format!("{KV_PREFIX}{}", checked_key(&body.key)?);
            let kv = env.kv(KV_BINDING).map_err(AppError::internal)?;
            let mut put = kv.put(&key, body.value).map_err(AppError::internal)?;
            if let Some(ttl) = body.ttl_seconds {
                if ttl < 60 {
                    return Err(AppError::validation("ttl_seconds", "KV expires keys no sooner than 60 seconds."));
                }
                put = put.expiration_ttl(ttl);
            }
            put.execute().await.map_err(AppError::internal)?;
            no_content()
        }
        DiagRoute::KvGet { key } => {
            let key = format!("{KV_PREFIX}{}", checked_key(&key)?);
            let kv = env.kv(KV_BINDING).map_err(AppError::internal)?;
            let value = kv.get(&key).text().await.map_err(AppError::internal)?.ok_or(AppError::NotFound)?;
            let listed = kv.list().prefix(key.clone()).execute().await.map_err(AppError::internal)?;
            let expiration = listed.keys.iter().find(|k| k.name == key).and_then(|k| k.expiration);
            json(200, &serde_json::json!({ "value": value, "expiration": expiration }))
        }
        DiagRoute::BlobList => {
            // Every object key under `?prefix=` (whole bucket by default), for tests that
            // check no file was left behind.
            let prefix = req.url().ok().and_then(|u| u.query_pairs().find(|(k, _)| k == "prefix").map(|(_, v)| v.into_owned()));
            let bucket = &ctx.blobs()?.0;
            let mut keys = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut list = bucket.list().limit(1000);
                if let Some(p) = &prefix {
                    list = list.prefix(p.clone());
                }
                if let Some(c) = cursor.take() {
                    list = list.cursor(c);
                }
                let page = list.execute().await.map_err(AppError::internal)?;
                keys.extend(page.objects().iter().map(|o| o.key()));
                match (page.truncated(), page.cursor()) {
                    (true, Some(c)) => cursor = Some(c),
                    _ => break,
                }
            }
            json(200, &serde_json::json!({ "keys": keys }))
        }
        DiagRoute::BlobPut { key } => {
            let key = format!("{BLOB_PREFIX}{}", checked_key(&key)?);
            let content_type = req.headers().get("Content-Type").ok().flatten().unwrap_or_else(|| "application/octet-stream".into());
            let bytes = req.bytes().await.map_err(AppError::internal)?;
            let size = bytes.len();
            ctx.blobs()?.put(&key, bytes, &content_type).await?;
            json(201, &serde_json::json!({ "key": key, "size": size }))
        }
        DiagRoute::BlobGet { key } => {
            let key = format!("{BLOB_PREFIX}{}", checked_key(&key)?);
            let blob = ctx.blobs()?.get(&key).await?.ok_or(AppError::NotFound)?;
            let mut response = Response::from_bytes(blob.bytes).map_err(AppError::internal)?;
            let _ = response.headers_mut().set("Content-Type", &blob.content_type);
            Ok(response)
        }
        DiagRoute::Sql => {
            let body: Sql = read_json(&mut req, ctx.config).await?;
            let statements = body.statements.into_iter().map(Statement::new).collect();
            ctx.db.batch(statements).await.map_err(|e| AppError::validation("statements", e.to_string()))?;
            no_content()
        }
        DiagRoute::DbProbe => {
            let db = &ctx.db;
            let probe_id = crate::platform::ids::new_id("prb");
            crate::ops::probes::record_event(db, &probe_id, "direct", "written", now).await?;
            let events = crate::ops::probes::list_events(db, &probe_id).await?;
            json(201, &serde_json::json!({ "probe_id": probe_id, "events": events }))
        }
        DiagRoute::QueueSend { queue } => {
            let queue = QueueName::from_short(&queue).ok_or(AppError::NotFound)?;
            let body: QueueSend = read_json(&mut req, ctx.config).await?;
            let probe_id = crate::platform::ids::new_id("prb");
            Queues(env).send(queue, &QueueMessage::Probe { probe_id: probe_id.clone(), fail: body.fail }).await?;
            json(202, &serde_json::json!({ "probe_id": probe_id, "queue": queue.short() }))
        }
        DiagRoute::ProbeEvents { probe_id } => {
            if !crate::platform::ids::is_id(&probe_id, "prb") {
                return Err(AppError::NotFound);
            }
            let events = crate::ops::probes::list_events(&ctx.db, &probe_id).await?;
            json(200, &serde_json::json!({ "probe_id": probe_id, "events": events }))
        }
        DiagRoute::ResendJob { job_id } => send_job(env, QueueName::Generation, job_id).await,
        DiagRoute::DeadLetterJob { job_id } => send_job(env, QueueName::GenerationDeadLetter, job_id).await,
        // Needs the signed-in user: `app::dispatch` sends it to `forced_error`.
        DiagRoute::Error => Err(AppError::NotFound),
        DiagRoute::CronRuns => {
            let runs = crate::ops::cron::recent_runs(&ctx.db, 20).await?;
            json(200, &serde_json::json!({ "runs": runs }))
        }
    }
}

/// Sends a job's message to `queue`: a duplicate delivery, or a dead-lettering.
async fn send_job(env: &worker::Env, queue: QueueName, job_id: String) -> Handled {
    Queues(env).send(queue, &QueueMessage::Generate { job_id: job_id.clone() }).await?;
    json(202, &serde_json::json!({ "job_id": job_id, "queue": queue.short() }))
}

/// G1: raises an internal error on purpose. Its cause deliberately holds everything the
/// scrubber must remove before the log line and the Sentry event are written: the
/// signed-in user's name and email, the caller's IP, the request's body (a prompt, say)
/// and its Authorization and Cookie headers.
pub async fn forced_error(ctx: &Ctx<'_>, me: &crate::accounts::authentication::SignedIn, mut req: Request) -> Handled {
    let user = crate::accounts::queries::find_user(&ctx.db, &me.user_id).await?.ok_or(AppError::NotFound)?;
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    let (authorization, cookie) = (header("Authorization"), header("Cookie"));
    let body = crate::cf::http::read_body(&mut req, ctx.config.max_json_body_bytes, AppError::PayloadTooLarge { limit_bytes: ctx.config.max_json_body_bytes }).await?;
    let who = serde_json::json!({ "name": user.name, "email": user.email, "ip": ctx.ip });
    Err(AppError::internal(format!(
        "forced error (development only) for {who} with body {}; Authorization: {authorization}; Cookie: {cookie}",
        String::from_utf8_lossy(&body)
    )))
}

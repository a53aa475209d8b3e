//! One request's context: the isolate's configuration, the bindings (looked up at most
//! once per request), and facts about the caller. Handlers take `(&Ctx, &SignedIn, …)`.

use super::adapters::database::Database;
use super::adapters::email::HttpMailer;
use super::adapters::inference::OpenAiCompatible;
use super::adapters::kv::KvSessions;
use super::adapters::queues::Queues;
use super::adapters::r2::R2;
use super::adapters::stripe::StripeApi;
use super::adapters::web::WorkerWeb;
use crate::accounts::mail::{Mailer, OutgoingEmail};
use crate::accounts::sessions;
use crate::http::problem::AppError;
use crate::platform::config::Config;
use crate::platform::log::{self, Level};
use std::cell::OnceCell;
use std::future::Future;
use worker::{Context, Env, Request};

pub use super::adapters::{BLOBS_BINDING, KV_BINDING};

/// Reads a variable or secret; secrets win, since a secret can shadow a default var.
pub fn lookup(env: &Env, key: &str) -> Option<String> {
    env.secret(key).map(|s| s.to_string()).ok().or_else(|| env.var(key).map(|v| v.to_string()).ok())
}

/// The configuration, parsed once per isolate (an isolate's bindings never change).
pub fn isolate_config(env: &Env) -> Result<&'static Config, AppError> {
    thread_local! {
        static CONFIG: OnceCell<Result<&'static Config, String>> = const { OnceCell::new() };
    }
    CONFIG
        .with(|cell| {
            cell.get_or_init(|| Config::from_env(|k| lookup(env, k)).map(|c| &*Box::leak(Box::new(c))).map_err(|e| e.to_string()))
                .clone()
        })
        .map_err(AppError::internal)
}

/// D1, or Neon when `DATABASE_URL` is set (README, "Neon").
pub fn database(env: &Env, config: &Config) -> Result<Database, AppError> {
    Database::from_env(env, &config.database).map_err(AppError::internal)
}

pub fn payments(config: &'static Config) -> Option<StripeApi<'static>> {
    config.billing.secret_key.as_deref().map(|secret_key| StripeApi { config: &config.billing, secret_key })
}

pub fn bucket(env: &Env) -> Result<R2, AppError> {
    env.bucket(BLOBS_BINDING).map(R2).map_err(AppError::internal)
}

pub struct Ctx<'a> {
    env: &'a Env,
    worker: &'a Context,
    pub config: &'static Config,
    pub db: Database,
    pub now: i64,
    /// This request's id (problem documents, logs, Sentry; admin actions without a key).
    pub request_id: String,
    /// A short browser label for the sessions list and security events.
    pub device: String,
    pub ip: String,
    /// Origin for links in emails.
    pub origin: String,
    /// The session token from the cookie, if one was presented.
    pub token: Option<String>,
    kv: OnceCell<KvSessions>,
    blobs: OnceCell<R2>,
}

impl<'a> Ctx<'a> {
    pub fn new(req: &Request, env: &'a Env, worker: &'a Context, config: &'static Config, now: i64, request_id: &str) -> Result<Ctx<'a>, AppError> {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let origin = config
            .app_base_url
            .clone()
            .unwrap_or_else(|| req.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default());
        Ok(Ctx {
            env,
            worker,
            config,
            db: database(env, config)?,
            now,
            request_id: request_id.to_owned(),
            device: sessions::device_label(header("User-Agent").as_deref()),
            ip: header("CF-Connecting-IP").unwrap_or_else(|| "unknown".into()),
            origin,
            token: header("Cookie").as_deref().and_then(sessions::token_from_cookie_header).map(str::to_owned),
            kv: OnceCell::new(),
            blobs: OnceCell::new(),
        })
    }

    pub fn env(&self) -> &Env {
        self.env
    }

    pub fn sessions(&self) -> Result<&KvSessions, AppError> {
        if let Some(kv) = self.kv.get() {
            return Ok(kv);
        }
        let kv = self.env.kv(KV_BINDING).map(KvSessions).map_err(AppError::internal)?;
        Ok(self.kv.get_or_init(|| kv))
    }

    pub fn blobs(&self) -> Result<&R2, AppError> {
        if let Some(r2) = self.blobs.get() {
            return Ok(r2);
        }
        let r2 = bucket(self.env)?;
        Ok(self.blobs.get_or_init(|| r2))
    }

    pub fn queues(&self) -> Queues<'_> {
        Queues(self.env)
    }

    /// Stripe, when `STRIPE_SECRET_KEY` is set.
    pub fn payments(&self) -> Option<StripeApi<'static>> {
        payments(self.config)
    }

    pub fn inference(&self) -> OpenAiCompatible<'static> {
        OpenAiCompatible(&self.config.inference)
    }

    /// Other websites (B5): `fetch` and the runtime's HTMLRewriter.
    pub fn web(&self) -> WorkerWeb {
        WorkerWeb
    }

    /// Runs work after the response is sent.
    pub fn wait_until(&self, work: impl Future<Output = ()> + 'static) {
        self.worker.wait_until(work);
    }

    /// Sends email after the response, so neither its latency nor its failure shows in
    /// the answer (which must look the same whether or not an account exists).
    pub fn send_later(&self, emails: Vec<OutgoingEmail>) {
        let config = self.config;
        self.wait_until(async move {
            let mailer = HttpMailer(&config.email);
            for email in &emails {
                if let Err(e) = mailer.send(email).await {
                    log::emit(Level::Error, "email not sent", serde_json::json!({ "subject": email.subject, "error": e.0 }));
                }
            }
        });
    }
}

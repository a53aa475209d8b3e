//! Every setting the worker reads, parsed once at the edge of the program.
//!
//! `Config::from_env` takes a lookup function rather than `worker::Env`, so the parsing
//! rules are unit-tested natively and the worker only supplies `env.var`/`env.secret`.

use crate::accounts::sessions::Lifetimes;
use std::fmt;

/// Where the service runs; development turns on the diagnostics routes that the
/// end-to-end tests use to exercise each binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Which metadata store answers SQL: the D1 binding `DB`, or Neon Postgres over its
/// SQL-over-HTTP API when the secret `DATABASE_URL` is set (`platform::neon`).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    D1,
    Neon {
        /// `postgres://user:password@host/db`; sent to Neon in `Neon-Connection-String`.
        connection_string: String,
        /// `https://{host}/sql`, or `NEON_HTTP_ENDPOINT` when set (a local gateway).
        endpoint: String,
    },
}

impl DatabaseConfig {
    pub fn name(&self) -> &'static str {
        match self {
            DatabaseConfig::D1 => "d1",
            DatabaseConfig::Neon { .. } => "neon",
        }
    }
}

/// Never prints the connection string: it holds the database password.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseConfig::D1 => f.write_str("D1"),
            DatabaseConfig::Neon { endpoint, .. } => f.debug_struct("Neon").field("endpoint", endpoint).finish_non_exhaustive(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub database: DatabaseConfig,
    /// Largest JSON request body accepted, in bytes.
    pub max_json_body_bytes: usize,
    pub sessions: Lifetimes,
    /// Length of the sign-in/sign-up/reset throttling window.
    pub auth_throttle_window_ms: i64,
    /// The origin used in links inside emails; the request's origin when unset.
    pub app_base_url: Option<String>,
    pub email: EmailConfig,
    /// Development only: where the local email stand-in shows what it received.
    pub dev_mailbox_url: Option<String>,
    /// Largest upload, and the total a user may store (C1).
    pub upload_max_bytes: i64,
    pub storage_quota_bytes: i64,
    pub inference: InferenceConfig,
    pub starter_credits: i64,
    /// G1: where unexpected errors are reported (`SENTRY_DSN`); none when unset.
    pub sentry: Option<crate::ops::sentry::Reporting>,
    pub billing: BillingConfig,
    /// B5: which sites the website import may fetch (`WEBSITE_IMPORT_ALLOW_HOSTS`).
    pub website_import: crate::library::website::policy::HostPolicy,
    /// F1: how long a finished data export stays downloadable (`EXPORT_TTL_SECONDS`).
    pub export_ttl_ms: i64,
    /// F3: how long a closed account can be reopened before it is erased.
    pub account_deletion_grace_ms: i64,
    /// F4: operations one daily retention run may spend (`privacy::retention`).
    pub retention_run_budget: u32,
}

/// Stripe (E3): the API, its keys and the packs on sale.
#[derive(Clone, PartialEq, Eq)]
pub struct BillingConfig {
    /// `https://api.stripe.com`, or a stand-in; `/v1/...` is appended.
    pub api_base: String,
    /// Without it checkout answers 503 and reconciliation is skipped.
    pub secret_key: Option<String>,
    /// Endpoint signing secrets; several during a rotation (comma-separated).
    pub webhook_secrets: Vec<String>,
    pub packs: Vec<crate::credits::stripe::Pack>,
}

/// Never prints the keys.
impl fmt::Debug for BillingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingConfig")
            .field("api_base", &self.api_base)
            .field("api_key_set", &self.secret_key.is_some())
            .field("signing_keys", &self.webhook_secrets.len())
            .field("packs", &self.packs)
            .finish()
    }
}

pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
/// `id:credits:price in minor units:currency[:Stripe price id]`, comma-separated.
pub const DEFAULT_CREDIT_PACKS: &str = "starter:100:900:usd,studio:500:3900:usd,agency:2000:12900:usd";

/// Parses `CREDIT_PACKS`; every pack needs a unique id, positive credits and price, and
/// a three-letter currency.
pub fn parse_packs(raw: &str) -> Result<Vec<crate::credits::stripe::Pack>, String> {
    let mut packs: Vec<crate::credits::stripe::Pack> = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let parts: Vec<&str> = item.split(':').map(str::trim).collect();
        let bad = || format!("expected id:credits:amount:currency[:price], got {item:?}");
        if !(4..=5).contains(&parts.len()) {
            return Err(bad());
        }
        let id = parts[0];
        if id.is_empty() || id.len() > 40 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(bad());
        }
        let credits = parts[1].parse::<i64>().ok().filter(|n| *n > 0 && *n <= 1_000_000).ok_or_else(bad)?;
        let amount = parts[2].parse::<i64>().ok().filter(|n| *n > 0 && *n <= 100_000_000).ok_or_else(bad)?;
        let currency = parts[3].to_ascii_lowercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(bad());
        }
        let stripe_price = parts.get(4).filter(|p| !p.is_empty()).map(|p| p.to_string());
        if packs.iter().any(|p| p.id == id) {
            return Err(format!("the pack id {id:?} appears twice"));
        }
        packs.push(crate::credits::stripe::Pack { id: id.into(), credits, amount, currency, stripe_price });
    }
    if packs.is_empty() {
        return Err("expected at least one pack".into());
    }
    Ok(packs)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InferenceConfig {
    /// Without `/v1`: the client appends `/v1/chat/completions` and so on.
    pub base_url: String,
    pub api_key: Option<String>,
    pub text_model: String,
    pub image_model: String,
    /// Moderation (D5) runs only when a model is configured.
    pub moderation_model: Option<String>,
    pub timeout_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailConfig {
    pub api_base: String,
    /// Without a key no email is sent (the attempt is logged, without addresses).
    pub api_key: Option<String>,
    pub from: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: &'static str,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {}: {}", self.key, self.reason)
    }
}

pub const DEFAULT_MAX_JSON_BODY_BYTES: usize = 64 * 1024;
pub const DEFAULT_EMAIL_API_BASE: &str = "https://api.resend.com";
/// The longest duration any setting may name: ten years, in seconds.
pub const MAX_SECONDS: i64 = 10 * 365 * 24 * 3600;
pub const DEFAULT_INFERENCE_BASE_URL: &str = "https://api.openai.com";
pub const DEFAULT_EMAIL_FROM: &str = "Blimari <no-reply@blimari.space>";

/// A positive whole number (seconds, bytes), or the default when unset.
fn positive_number(lookup: &impl Fn(&str) -> Option<String>, key: &'static str, default: i64) -> Result<i64, ConfigError> {
    match lookup(key) {
        None => Ok(default),
        Some(raw) => raw.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or(ConfigError {
            key,
            reason: format!("expected a positive whole number, got {raw:?}"),
        }),
    }
}

/// A duration given in seconds, as milliseconds: positive, and at most `MAX_SECONDS`, so
/// that adding it to a time in epoch milliseconds cannot overflow.
fn duration_ms(lookup: &impl Fn(&str) -> Option<String>, key: &'static str, default_seconds: i64) -> Result<i64, ConfigError> {
    let seconds = positive_number(lookup, key, default_seconds)?;
    if seconds > MAX_SECONDS {
        return Err(ConfigError { key, reason: format!("expected at most {MAX_SECONDS} seconds (ten years), got {seconds}") });
    }
    Ok(seconds * 1000)
}

/// `http(s)://` and then a host: "https://" alone would make links with no host.
fn has_http_host(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

impl Environment {
    pub fn name(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }
}

impl Config {
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let environment = match lookup("ENVIRONMENT").as_deref().map(str::trim) {
            None | Some("") | Some("production") => Environment::Production,
            Some("development") => Environment::Development,
            Some(other) => {
                return Err(ConfigError {
                    key: "ENVIRONMENT",
                    reason: format!("expected \"production\" or \"development\", got {other:?}"),
                })
            }
        };
        let database = match lookup("DATABASE_URL").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
            None => DatabaseConfig::D1,
            Some(connection_string) => {
                let endpoint = crate::platform::neon::http_endpoint(&connection_string, lookup("NEON_HTTP_ENDPOINT").as_deref())
                    .map_err(|reason| ConfigError {
                        // Name the key at fault, never its value (it holds a password).
                        key: if lookup("NEON_HTTP_ENDPOINT").is_some_and(|v| !v.trim().is_empty()) { "NEON_HTTP_ENDPOINT" } else { "DATABASE_URL" },
                        reason,
                    })?;
                DatabaseConfig::Neon { connection_string, endpoint }
            }
        };
        let max_json_body_bytes = match lookup("MAX_JSON_BODY_BYTES") {
            None => DEFAULT_MAX_JSON_BODY_BYTES,
            Some(raw) => raw.trim().parse::<usize>().ok().filter(|n| *n >= 1024).ok_or(ConfigError {
                key: "MAX_JSON_BODY_BYTES",
                reason: format!("expected a whole number of bytes, at least 1024, got {raw:?}"),
            })?,
        };
        let idle_ms = duration_ms(&lookup, "SESSION_IDLE_SECONDS", 7 * 24 * 3600)?;
        let absolute_ms = duration_ms(&lookup, "SESSION_ABSOLUTE_SECONDS", 30 * 24 * 3600)?;
        let auth_throttle_window_ms = duration_ms(&lookup, "AUTH_THROTTLE_WINDOW_SECONDS", 15 * 60)?;
        let non_empty = |key: &str| lookup(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let app_base_url = match non_empty("APP_BASE_URL") {
            Some(url) if has_http_host(url.trim_end_matches('/')) => Some(url.trim_end_matches('/').to_owned()),
            Some(url) => {
                return Err(ConfigError { key: "APP_BASE_URL", reason: format!("expected an http(s) origin, got {url:?}") })
            }
            // Emailed links must never follow a request's Host header in production.
            None if environment == Environment::Production => {
                return Err(ConfigError { key: "APP_BASE_URL", reason: "required in production: the origin emailed links point to".into() })
            }
            None => None,
        };
        let email = EmailConfig {
            api_base: non_empty("EMAIL_API_BASE").unwrap_or_else(|| DEFAULT_EMAIL_API_BASE.into()).trim_end_matches('/').to_owned(),
            api_key: non_empty("EMAIL_API_KEY"),
            from: non_empty("EMAIL_FROM").unwrap_or_else(|| DEFAULT_EMAIL_FROM.into()),
        };
        let dev_mailbox_url = non_empty("DEV_MAILBOX_URL").filter(|_| environment == Environment::Development);
        Ok(Config {
            environment,
            database,
            max_json_body_bytes,
            sessions: Lifetimes { idle_ms, absolute_ms },
            auth_throttle_window_ms,
            app_base_url,
            email,
            dev_mailbox_url,
            upload_max_bytes: positive_number(&lookup, "UPLOAD_MAX_BYTES", crate::library::uploads::DEFAULT_MAX_BYTES)?,
            storage_quota_bytes: positive_number(&lookup, "STORAGE_QUOTA_BYTES", crate::library::uploads::DEFAULT_QUOTA_BYTES)?,
            inference: InferenceConfig {
                base_url: non_empty("INFERENCE_BASE_URL")
                    .unwrap_or_else(|| DEFAULT_INFERENCE_BASE_URL.into())
                    .trim_end_matches('/')
                    .trim_end_matches("/v1")
                    .to_owned(),
                api_key: non_empty("INFERENCE_API_KEY"),
                text_model: non_empty("TEXT_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
                image_model: non_empty("IMAGE_MODEL").unwrap_or_else(|| "gpt-image-1".into()),
                moderation_model: non_empty("MODERATION_MODEL"),
                timeout_ms: duration_ms(&lookup, "INFERENCE_TIMEOUT_SECONDS", 60)?,
            },
            starter_credits: positive_number(&lookup, "STARTER_CREDITS", crate::credits::ledger::STARTER_GRANT)?,
            account_deletion_grace_ms: duration_ms(&lookup, "ACCOUNT_DELETION_GRACE_SECONDS", crate::privacy::retention::DEFAULT_GRACE_SECONDS)?,
            retention_run_budget: match positive_number(&lookup, "RETENTION_RUN_BUDGET", crate::privacy::retention::DEFAULT_RUN_BUDGET.into())? {
                n if (i64::from(crate::privacy::retention::MIN_RUN_BUDGET)..=10_000).contains(&n) => n as u32,
                n => {
                    let min = crate::privacy::retention::MIN_RUN_BUDGET;
                    return Err(ConfigError { key: "RETENTION_RUN_BUDGET", reason: format!("expected {min} to 10000 operations, got {n}") });
                }
            },
            billing: BillingConfig {
                api_base: match non_empty("STRIPE_API_BASE") {
                    None => DEFAULT_STRIPE_API_BASE.into(),
                    Some(url) if has_http_host(url.trim_end_matches('/')) => url.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
                    Some(url) => return Err(ConfigError { key: "STRIPE_API_BASE", reason: format!("expected an http(s) URL, got {url:?}") }),
                },
                secret_key: non_empty("STRIPE_SECRET_KEY"),
                webhook_secrets: non_empty("STRIPE_WEBHOOK_SECRET")
                    .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default(),
                packs: parse_packs(&non_empty("CREDIT_PACKS").unwrap_or_else(|| DEFAULT_CREDIT_PACKS.into()))
                    .map_err(|reason| ConfigError { key: "CREDIT_PACKS", reason })?,
            },
            website_import: match non_empty("WEBSITE_IMPORT_ALLOW_HOSTS") {
                None => crate::library::website::policy::HostPolicy::public(),
                // A closed list of loopback hosts is for local runs and tests only.
                Some(_) if environment == Environment::Production => {
                    return Err(ConfigError { key: "WEBSITE_IMPORT_ALLOW_HOSTS", reason: "development only: production imports public sites".into() })
                }
                Some(raw) => crate::library::website::policy::HostPolicy::allow_list(&raw)
                    .map_err(|reason| ConfigError { key: "WEBSITE_IMPORT_ALLOW_HOSTS", reason })?,
            },
            export_ttl_ms: duration_ms(&lookup, "EXPORT_TTL_SECONDS", crate::privacy::export::DEFAULT_TTL_MS / 1000)?,
            sentry: match non_empty("SENTRY_DSN") {
                None => None,
                Some(raw) => Some(crate::ops::sentry::Reporting {
                    dsn: crate::ops::sentry::Dsn::parse(&raw).map_err(|reason| ConfigError { key: "SENTRY_DSN", reason })?,
                    environment: non_empty("SENTRY_ENVIRONMENT").unwrap_or_else(|| environment.name().to_owned()),
                    release: crate::ops::health::build_version(),
                }),
            },
        })
    }

    /// The diagnostics routes (`/api/_diag/...`) exist only in development.
    pub fn diagnostics_enabled(&self) -> bool {
        self.environment == Environment::Development
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A configuration from these pairs; production's required origin unless given.
    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry("APP_BASE_URL".into()).or_insert_with(|| "https://blimari.space".into());
        Config::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn production_requires_an_app_base_url_and_development_falls_back_to_the_request() {
        let bare = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            Config::from_env(|k| map.get(k).cloned())
        };
        assert_eq!(bare(&[]).unwrap_err().key, "APP_BASE_URL");
        assert_eq!(bare(&[("ENVIRONMENT", "development")]).unwrap().app_base_url, None);
    }

    #[test]
    fn an_empty_environment_is_a_safe_production_default() {
        let c = config(&[]).unwrap();
        assert_eq!(c.environment, Environment::Production);
        assert!(!c.diagnostics_enabled());
        assert_eq!(c.database, DatabaseConfig::D1);
        assert_eq!(c.database.name(), "d1");
        assert_eq!(c.max_json_body_bytes, DEFAULT_MAX_JSON_BODY_BYTES);
    }

    #[test]
    fn development_turns_on_diagnostics() {
        assert!(config(&[("ENVIRONMENT", "development")]).unwrap().diagnostics_enabled());
    }

    #[test]
    fn errors_name_the_key_at_fault() {
        assert_eq!(config(&[("ENVIRONMENT", "staging")]).unwrap_err().key, "ENVIRONMENT");
        assert_eq!(config(&[("MAX_JSON_BODY_BYTES", "lots")]).unwrap_err().key, "MAX_JSON_BODY_BYTES");
        assert_eq!(config(&[("MAX_JSON_BODY_BYTES", "10")]).unwrap_err().key, "MAX_JSON_BODY_BYTES");
        assert_eq!(config(&[("DATABASE_URL", "mysql://x")]).unwrap_err().key, "DATABASE_URL");
        assert_eq!(config(&[("DATABASE_URL", "postgres://u@h/db"), ("NEON_HTTP_ENDPOINT", "h:1")]).unwrap_err().key, "NEON_HTTP_ENDPOINT");
    }

    #[test]
    fn session_and_throttle_times_have_defaults_and_overrides() {
        let c = config(&[]).unwrap();
        assert_eq!(c.sessions.idle_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(c.sessions.absolute_ms, 30 * 24 * 3600 * 1000);
        assert_eq!(c.auth_throttle_window_ms, 15 * 60 * 1000);
        let c = config(&[("SESSION_IDLE_SECONDS", "3"), ("AUTH_THROTTLE_WINDOW_SECONDS", "5")]).unwrap();
        assert_eq!((c.sessions.idle_ms, c.auth_throttle_window_ms), (3000, 5000));
        assert_eq!(config(&[("SESSION_IDLE_SECONDS", "-1")]).unwrap_err().key, "SESSION_IDLE_SECONDS");
    }

    #[test]
    fn durations_too_long_to_add_to_a_time_are_refused_not_overflowed() {
        // 9223372036854776 s is 2^63 ms: multiplying by 1000 overflowed (a panic in debug,
        // a negative lifetime in release).
        for key in ["SESSION_IDLE_SECONDS", "SESSION_ABSOLUTE_SECONDS", "AUTH_THROTTLE_WINDOW_SECONDS", "INFERENCE_TIMEOUT_SECONDS"] {
            assert_eq!(config(&[(key, "9223372036854776")]).unwrap_err().key, key);
            assert_eq!(config(&[(key, &(MAX_SECONDS + 1).to_string())]).unwrap_err().key, key);
            assert!(config(&[(key, &MAX_SECONDS.to_string())]).is_ok());
        }
    }

    #[test]
    fn email_defaults_to_the_provider_and_the_dev_mailbox_only_shows_in_development() {
        let c = config(&[("DEV_MAILBOX_URL", "http://127.0.0.1:9/")]).unwrap();
        assert_eq!(c.email.api_base, DEFAULT_EMAIL_API_BASE);
        assert_eq!(c.email.api_key, None);
        assert_eq!(c.dev_mailbox_url, None);
        let c = config(&[("ENVIRONMENT", "development"), ("DEV_MAILBOX_URL", "http://127.0.0.1:9/"), ("EMAIL_API_BASE", "http://127.0.0.1:9/")]).unwrap();
        assert_eq!(c.dev_mailbox_url.as_deref(), Some("http://127.0.0.1:9/"));
        assert_eq!(c.email.api_base, "http://127.0.0.1:9");
        assert_eq!(config(&[("APP_BASE_URL", "blimari.space")]).unwrap_err().key, "APP_BASE_URL");
        assert_eq!(config(&[("APP_BASE_URL", "http://")]).unwrap_err().key, "APP_BASE_URL");
        assert_eq!(config(&[("APP_BASE_URL", "https://blimari.space/")]).unwrap().app_base_url.as_deref(), Some("https://blimari.space"));
    }

    #[test]
    fn inference_settings_default_to_openai_and_accept_a_v1_base() {
        let c = config(&[]).unwrap();
        assert_eq!(c.inference.base_url, DEFAULT_INFERENCE_BASE_URL);
        assert_eq!(c.inference.moderation_model, None);
        let c = config(&[("INFERENCE_BASE_URL", "http://127.0.0.1:9/v1/"), ("MODERATION_MODEL", "omni")]).unwrap();
        assert_eq!(c.inference.base_url, "http://127.0.0.1:9");
        assert_eq!(c.inference.moderation_model.as_deref(), Some("omni"));
    }

    #[test]
    fn a_database_url_selects_neon_at_the_host_it_names() {
        let c = config(&[("DATABASE_URL", "postgres://u:secret@ep-1.neon.tech/db?sslmode=require")]).unwrap();
        assert_eq!(c.database.name(), "neon");
        assert_eq!(
            c.database,
            DatabaseConfig::Neon {
                connection_string: "postgres://u:secret@ep-1.neon.tech/db?sslmode=require".into(),
                endpoint: "https://ep-1.neon.tech/sql".into()
            }
        );
        assert!(!format!("{c:?}").contains("secret"));
        let c = config(&[("DATABASE_URL", "postgres://u@127.0.0.1:5432/db"), ("NEON_HTTP_ENDPOINT", "http://127.0.0.1:4444/sql")]).unwrap();
        assert!(matches!(c.database, DatabaseConfig::Neon { endpoint, .. } if endpoint == "http://127.0.0.1:4444/sql"));
        assert_eq!(config(&[("DATABASE_URL", " ")]).unwrap().database, DatabaseConfig::D1);
    }

    #[test]
    fn billing_defaults_to_stripe_with_three_packs_and_accepts_rotated_secrets() {
        let c = config(&[]).unwrap();
        assert_eq!(c.billing.api_base, DEFAULT_STRIPE_API_BASE);
        assert_eq!(c.billing.secret_key, None);
        assert!(c.billing.webhook_secrets.is_empty());
        assert_eq!(c.billing.packs.iter().map(|p| (p.id.as_str(), p.credits, p.amount)).collect::<Vec<_>>(),
            vec![("starter", 100, 900), ("studio", 500, 3900), ("agency", 2000, 12900)]);
        let c = config(&[("STRIPE_API_BASE", "http://127.0.0.1:9/v1/"), ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old"), ("CREDIT_PACKS", "small:10:199:EUR:price_1")]).unwrap();
        assert_eq!(c.billing.api_base, "http://127.0.0.1:9");
        assert_eq!(c.billing.webhook_secrets, vec!["whsec_new".to_string(), "whsec_old".to_string()]);
        assert_eq!(c.billing.packs[0].currency, "eur");
        assert_eq!(c.billing.packs[0].stripe_price.as_deref(), Some("price_1"));
        assert!(!format!("{:?}", c.billing).contains("sk_test_1"));
        for bad in ["a:1:1", "a:0:100:usd", "a:1:100:dollars", "a:1:100:usd,a:2:200:usd", "a b:1:1:usd"] {
            assert_eq!(config(&[("CREDIT_PACKS", bad)]).map(|_| ()).unwrap_err().key, "CREDIT_PACKS", "{bad:?}");
        }
        assert_eq!(config(&[("STRIPE_API_BASE", "api.stripe.com")]).unwrap_err().key, "STRIPE_API_BASE");
    }

    #[test]
    fn sentry_is_off_without_a_dsn_and_names_its_key_when_the_dsn_is_wrong() {
        assert_eq!(config(&[]).unwrap().sentry, None);
        let c = config(&[("SENTRY_DSN", "https://k@o1.ingest.sentry.io/9")]).unwrap().sentry.unwrap();
        assert_eq!((c.environment.as_str(), c.dsn.project_id.as_str()), ("production", "9"));
        assert_eq!(c.release, crate::ops::health::build_version());
        let c = config(&[("SENTRY_DSN", "http://k@127.0.0.1:9/1"), ("SENTRY_ENVIRONMENT", "staging")]).unwrap().sentry.unwrap();
        assert_eq!(c.environment, "staging");
        assert_eq!(config(&[("SENTRY_DSN", "not a dsn")]).unwrap_err().key, "SENTRY_DSN");
    }

    #[test]
    fn the_website_import_allow_list_is_for_development_only() {
        assert!(!config(&[]).unwrap().website_import.is_closed_list());
        let err = config(&[("WEBSITE_IMPORT_ALLOW_HOSTS", "127.0.0.1:9000")]).unwrap_err();
        assert_eq!(err.key, "WEBSITE_IMPORT_ALLOW_HOSTS");
        let dev = config(&[("ENVIRONMENT", "development"), ("WEBSITE_IMPORT_ALLOW_HOSTS", "127.0.0.1:9000")]).unwrap();
        assert!(dev.website_import.is_closed_list());
        assert_eq!(config(&[("ENVIRONMENT", "development"), ("WEBSITE_IMPORT_ALLOW_HOSTS", "example.com:80")]).unwrap_err().key, "WEBSITE_IMPORT_ALLOW_HOSTS");
    }

    #[test]
    fn the_closure_grace_and_the_retention_budget_have_defaults_and_limits() {
        let c = config(&[]).unwrap();
        assert_eq!(c.account_deletion_grace_ms, 14 * 24 * 3600 * 1000);
        assert_eq!(c.retention_run_budget, crate::privacy::retention::DEFAULT_RUN_BUDGET);
        assert_eq!(config(&[("ACCOUNT_DELETION_GRACE_SECONDS", "2")]).unwrap().account_deletion_grace_ms, 2000);
        assert_eq!(config(&[("RETENTION_RUN_BUDGET", "40")]).unwrap().retention_run_budget, 40);
        for bad in ["0", "39", "10001", "x"] {
            assert_eq!(config(&[("RETENTION_RUN_BUDGET", bad)]).unwrap_err().key, "RETENTION_RUN_BUDGET", "{bad}");
        }
        assert_eq!(config(&[("ACCOUNT_DELETION_GRACE_SECONDS", "-1")]).unwrap_err().key, "ACCOUNT_DELETION_GRACE_SECONDS");
    }

    #[test]
    fn the_body_limit_can_be_raised() {
        assert_eq!(config(&[("MAX_JSON_BODY_BYTES", "131072")]).unwrap().max_json_body_bytes, 131072);
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config as cases, tricky_text};
        use proptest::prelude::*;
        use std::collections::HashMap;

        const KEYS: [&str; 21] = [
            "ENVIRONMENT", "DATABASE_URL", "MAX_JSON_BODY_BYTES", "SESSION_IDLE_SECONDS", "SESSION_ABSOLUTE_SECONDS",
            "AUTH_THROTTLE_WINDOW_SECONDS", "APP_BASE_URL", "EMAIL_API_BASE", "EMAIL_API_KEY", "EMAIL_FROM", "DEV_MAILBOX_URL",
            "UPLOAD_MAX_BYTES", "STORAGE_QUOTA_BYTES", "INFERENCE_BASE_URL", "INFERENCE_API_KEY", "TEXT_MODEL",
            "INFERENCE_TIMEOUT_SECONDS", "STARTER_CREDITS", "WEBSITE_IMPORT_ALLOW_HOSTS",
            "ACCOUNT_DELETION_GRACE_SECONDS", "RETENTION_RUN_BUDGET",
        ];

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| format!(" {n} ")),
                proptest::sample::select(vec!["production", "development", "", " ", "https://", "http://x/", "https://a.example/v1/", "0", "-1", "1024"]).prop_map(String::from),
                tricky_text(20),
            ]
        }

        fn env() -> impl Strategy<Value = HashMap<String, String>> {
            proptest::collection::hash_map(proptest::sample::select(&KEYS[..]).prop_map(String::from), value(), 0..8)
        }

        proptest! {
            #![proptest_config(cases())]

            #[test]
            fn any_environment_is_a_config_or_an_error_naming_one_of_its_keys(env in env()) {
                match Config::from_env(|k| env.get(k).cloned()) {
                    Ok(c) => {
                        prop_assert!(c.max_json_body_bytes >= 1024);
                        for ms in [c.sessions.idle_ms, c.sessions.absolute_ms, c.auth_throttle_window_ms, c.inference.timeout_ms] {
                            // Durations are added to epoch milliseconds: they must leave room.
                            prop_assert!(ms > 0 && ms <= MAX_SECONDS * 1000, "{}", ms);
                        }
                        prop_assert!(c.upload_max_bytes > 0 && c.storage_quota_bytes > 0 && c.starter_credits > 0);
                        if let Some(url) = &c.app_base_url {
                            let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
                            prop_assert!(host.is_some_and(|h| !h.is_empty() && !h.contains(char::is_whitespace)), "{:?}", url);
                        }
                    }
                    // The one required key: named when it is missing, too.
                    Err(e) => prop_assert!(env.contains_key(e.key) || e.key == "APP_BASE_URL", "{:?}", e),
                }
            }

            #[test]
            fn an_app_base_url_is_an_origin_with_a_host_or_refused(url in prop_oneof![
                "(https?://)?[a-z.:0-9/]{0,12}/{0,3}",
                tricky_text(20),
            ]) {
                match Config::from_env(|k| (k == "APP_BASE_URL").then(|| url.clone())) {
                    Ok(c) => {
                        if let Some(base) = c.app_base_url {
                            let host = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://")).unwrap_or("");
                            prop_assert!(!host.is_empty() && !host.starts_with('/') && !host.ends_with('/'), "{:?} gave {:?}", url, base);
                        } else {
                            prop_assert!(false, "production gave no origin for {:?}", url);
                        }
                    }
                    Err(e) => prop_assert_eq!(e.key, "APP_BASE_URL"),
                }
            }
        }
    }
}

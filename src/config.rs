//! Every setting the worker reads, parsed once at the edge of the program.
//!
//! `Config::from_env` takes a lookup function rather than `worker::Env`, so the parsing
//! rules are unit-tested natively and the worker only supplies `env.var`/`env.secret`.

use std::fmt;

/// Where the service runs; development turns on the diagnostics routes that the
/// end-to-end tests use to exercise each binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Which metadata store answers SQL. Only D1 is wired up today; the `Db` port is
/// shaped for Neon's HTTP transactions too (see docs/ARCHITECTURE.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseBackend {
    D1,
}

impl DatabaseBackend {
    pub fn name(self) -> &'static str {
        match self {
            DatabaseBackend::D1 => "d1",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub database: DatabaseBackend,
    /// Largest JSON request body accepted, in bytes.
    pub max_json_body_bytes: usize,
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
        if lookup("DATABASE_URL").is_some_and(|v| !v.trim().is_empty()) {
            return Err(ConfigError {
                key: "DATABASE_URL",
                reason: "the Neon backend is not available in this build; unset it to use D1".into(),
            });
        }
        let max_json_body_bytes = match lookup("MAX_JSON_BODY_BYTES") {
            None => DEFAULT_MAX_JSON_BODY_BYTES,
            Some(raw) => raw.trim().parse::<usize>().ok().filter(|n| *n >= 1024).ok_or(ConfigError {
                key: "MAX_JSON_BODY_BYTES",
                reason: format!("expected a whole number of bytes, at least 1024, got {raw:?}"),
            })?,
        };
        Ok(Config { environment, database: DatabaseBackend::D1, max_json_body_bytes })
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

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn an_empty_environment_is_a_safe_production_default() {
        let c = config(&[]).unwrap();
        assert_eq!(c.environment, Environment::Production);
        assert!(!c.diagnostics_enabled());
        assert_eq!(c.database, DatabaseBackend::D1);
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
        assert_eq!(config(&[("DATABASE_URL", "postgres://x")]).unwrap_err().key, "DATABASE_URL");
    }

    #[test]
    fn the_body_limit_can_be_raised() {
        assert_eq!(config(&[("MAX_JSON_BODY_BYTES", "131072")]).unwrap().max_json_body_bytes, 131072);
    }
}

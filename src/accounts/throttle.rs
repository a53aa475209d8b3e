//! Throttling of sign-in, sign-up and password reset (A4): fixed-window counters per
//! account and per IP in the database. One upsert per rule makes each count atomic and
//! exact (KV's one-write-per-second-per-key and eventual consistency would not be).
//! Buckets hold hashes, not the email or IP themselves.

use crate::platform::db::{Db, DbError, Statement};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    /// Attempts allowed per window; the next one is refused with 429.
    pub limit: i64,
}

/// Sign-in failures are counted per (account, IP) pair, so an attacker elsewhere cannot
/// lock the owner out; the per-account backstop is high enough that only a distributed
/// attack reaches it, and it still bounds guesses per account.
pub const LOGIN_PER_ACCOUNT_AND_IP: Rule = Rule { name: "login:account-ip", limit: 10 };
pub const LOGIN_PER_ACCOUNT: Rule = Rule { name: "login:account", limit: 200 };
pub const LOGIN_PER_IP: Rule = Rule { name: "login:ip", limit: 50 };
pub const SIGNUP_PER_IP: Rule = Rule { name: "signup:ip", limit: 10 };
/// Sign-ups naming one address (each sends that address an email).
pub const SIGNUP_PER_ADDRESS: Rule = Rule { name: "signup:address", limit: 3 };
pub const RESET_PER_ACCOUNT: Rule = Rule { name: "reset:account", limit: 5 };
pub const RESET_PER_IP: Rule = Rule { name: "reset:ip", limit: 20 };
pub const VERIFY_RESEND_PER_ACCOUNT: Rule = Rule { name: "verify:account", limit: 5 };
/// Re-authentication (password change, email change, session revocation with password).
pub const REAUTH_PER_ACCOUNT: Rule = Rule { name: "reauth:account", limit: 10 };

/// The subject of a per-(account, IP) rule.
pub fn account_and_ip(email: &str, ip: &str) -> String {
    format!("{email}\u{0}{ip}")
}

pub fn bucket(rule: Rule, subject: &str) -> String {
    let digest = Sha256::digest(subject.as_bytes());
    format!("{}:{}", rule.name, crate::platform::ids::hex(&digest[..16]))
}

pub fn window_start(now_ms: i64, window_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(window_ms)
}

/// Whole seconds until the current window ends (at least 1).
pub fn retry_after_seconds(now_ms: i64, window_ms: i64) -> u32 {
    let remaining = window_start(now_ms, window_ms) + window_ms - now_ms;
    ((remaining + 999) / 1000).max(1) as u32
}

/// Counts one attempt against each (rule, subject); `Some(retry_after)` when any is
/// over its limit. Attempts are counted even when refused, so hammering does not help.
pub async fn hit(db: &impl Db, checks: &[(Rule, &str)], now_ms: i64, window_ms: i64) -> Result<Option<u32>, DbError> {
    let start = window_start(now_ms, window_ms);
    let statements = checks
        .iter()
        .map(|(rule, subject)| {
            Statement::new(
                "INSERT INTO throttle_counters (bucket, window_start, hits) VALUES (?, ?, 1) \
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = throttle_counters.hits + 1 \
                 RETURNING hits",
            )
            .bind(bucket(*rule, subject))
            .bind(start)
        })
        .collect();
    let results = db.batch(statements).await?;
    let over = checks.iter().zip(results).any(|((rule, _), result)| {
        result.rows.first().and_then(|r| r.get("hits")).and_then(|v| v.as_i64()).unwrap_or(0) > rule.limit
    });
    Ok(over.then(|| retry_after_seconds(now_ms, window_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_counts_to_the_end() {
        assert_eq!(window_start(125_000, 60_000), 120_000);
        assert_eq!(retry_after_seconds(125_000, 60_000), 55);
        assert_eq!(retry_after_seconds(179_999, 60_000), 1);
    }

    #[test]
    fn buckets_hash_the_subject() {
        let b = bucket(LOGIN_PER_ACCOUNT, "ada@example.com");
        assert!(b.starts_with("login:account:"));
        assert!(!b.contains("ada"));
        assert_ne!(b, bucket(LOGIN_PER_IP, "ada@example.com"));
    }

    #[test]
    fn one_ip_reaches_its_pair_limit_long_before_anyone_can_lock_an_account() {
        assert!(LOGIN_PER_ACCOUNT_AND_IP.limit < LOGIN_PER_IP.limit);
        // Locking the owner out needs the backstop: more IPs than one attacker's pair limit.
        assert!(LOGIN_PER_ACCOUNT.limit >= 10 * LOGIN_PER_ACCOUNT_AND_IP.limit);
        assert!(RESET_PER_ACCOUNT.limit < RESET_PER_IP.limit);
    }
}

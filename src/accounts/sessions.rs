//! Sessions (A2): a 256-bit random token in a `__Host-` cookie; KV holds only the
//! token's SHA-256, keyed by it, with the session's record; D1 keeps a row per session
//! for listing and revocation. Idle and absolute lifetimes come from `Config`.

use crate::platform::ports::PortError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "__Host-blimari_session";

/// A new session token (256 bits, base64url) — only ever in the cookie.
pub fn new_token() -> String {
    B64URL.encode(crate::platform::ids::random_bytes::<32>())
}

/// The SHA-256 of a token, hex: what KV and D1 store instead of the token.
pub fn token_hash(token: &str) -> String {
    crate::platform::ids::hex(&Sha256::digest(token.as_bytes()))
}

/// True when `token` has the shape `new_token` makes; anything else is not looked up.
pub fn is_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The KV key of a session.
pub fn kv_key(token_hash: &str) -> String {
    format!("session:{token_hash}")
}

/// `Set-Cookie` for a new session. `__Host-` requires Secure, Path=/ and no Domain.
pub fn set_cookie(token: &str, max_age_seconds: i64) -> String {
    format!("{COOKIE_NAME}={token}; Max-Age={max_age_seconds}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// The session token from a `Cookie` header, if there is a well-formed one.
pub fn token_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|t| is_token(t))
}

/// What KV stores under `session:{sha256(token)}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The absolute end, fixed at sign-in.
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Expired,
    Valid,
    /// Valid, and `last_seen_at` is old enough to be worth writing again.
    ValidTouch,
}

impl SessionRecord {
    pub fn idle_deadline(&self, lifetimes: Lifetimes) -> i64 {
        (self.last_seen_at + lifetimes.idle_ms).min(self.expires_at)
    }

    pub fn freshness(&self, now_ms: i64, lifetimes: Lifetimes) -> Freshness {
        if now_ms >= self.idle_deadline(lifetimes) {
            Freshness::Expired
        } else if now_ms - self.last_seen_at >= touch_interval_ms(lifetimes) {
            Freshness::ValidTouch
        } else {
            Freshness::Valid
        }
    }

    /// Seconds KV should keep the record: until the idle deadline, at least KV's minimum
    /// of 60 s (the record's own timestamps decide validity, not the TTL).
    pub fn kv_ttl_seconds(&self, now_ms: i64, lifetimes: Lifetimes) -> u64 {
        (((self.idle_deadline(lifetimes) - now_ms) / 1000).max(60)) as u64
    }
}

#[cfg(test)]
pub const TOUCH_TEST_LIFETIMES: Lifetimes = Lifetimes { idle_ms: 7 * crate::platform::clock::DAY_MS, absolute_ms: 30 * crate::platform::clock::DAY_MS };

/// Writing `last_seen_at` on every request would cost a KV write each time (and KV
/// allows one write per key per second); once every few minutes is enough for idle
/// expiry and the sessions list.
pub fn touch_interval_ms(lifetimes: Lifetimes) -> i64 {
    (lifetimes.idle_ms / 4).min(5 * crate::platform::clock::MINUTE_MS)
}

/// A short, non-identifying description of the browser for the sessions list:
/// "Firefox on Windows", never the full User-Agent.
pub fn device_label(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("node", "Node.js"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map_or("Unknown browser", |(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

/// The session port (Workers KV).
#[allow(async_fn_in_trait)]
pub trait SessionStore {
    async fn get(&self, token_hash: &str) -> Result<Option<SessionRecord>, PortError>;
    async fn put(&self, token_hash: &str, record: &SessionRecord, ttl_seconds: u64) -> Result<(), PortError>;
    async fn delete(&self, token_hash: &str) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Lifetimes = Lifetimes { idle_ms: 60 * 60_000, absolute_ms: 24 * 60 * 60_000 };

    fn record(last_seen_at: i64, expires_at: i64) -> SessionRecord {
        SessionRecord { session_id: "ses_x".into(), user_id: "usr_x".into(), created_at: 0, last_seen_at, expires_at }
    }

    #[test]
    fn tokens_are_256_bits_of_base64url_and_differ() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert!(is_token(&a));
        assert_ne!(a, new_token());
    }

    #[test]
    fn only_the_hash_is_stored_and_it_is_sha256_hex() {
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let t = new_token();
        assert!(!kv_key(&token_hash(&t)).contains(&t));
    }

    #[test]
    fn the_cookie_has_every_required_attribute() {
        let c = set_cookie("TOKEN", 3600);
        assert!(c.starts_with("__Host-blimari_session=TOKEN;"));
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
            assert!(c.split("; ").any(|a| a == attr), "missing {attr}");
        }
        assert!(!c.contains("Domain"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn the_token_is_read_from_among_other_cookies() {
        let t = new_token();
        let header = format!("theme=dark; {COOKIE_NAME}={t}; other=1");
        assert_eq!(token_from_cookie_header(&header), Some(t.as_str()));
        assert_eq!(token_from_cookie_header("theme=dark"), None);
        assert_eq!(token_from_cookie_header(&format!("{COOKIE_NAME}=short")), None);
    }

    #[test]
    fn sessions_expire_when_idle_or_past_their_absolute_end() {
        let r = record(1_000, 10 * 60 * 60_000);
        assert_eq!(r.freshness(1_000 + 1, LIFE), Freshness::Valid);
        assert_eq!(r.freshness(1_000 + 6 * 60_000, LIFE), Freshness::ValidTouch);
        assert_eq!(r.freshness(1_000 + 60 * 60_000, LIFE), Freshness::Expired);
        let near_end = record(9 * 60 * 60_000 + 59 * 60_000, 10 * 60 * 60_000);
        assert_eq!(near_end.freshness(10 * 60 * 60_000, LIFE), Freshness::Expired);
    }

    #[test]
    fn the_kv_ttl_is_never_below_sixty_seconds() {
        let r = record(0, 10 * 60 * 60_000);
        assert_eq!(r.kv_ttl_seconds(0, LIFE), 3600);
        assert_eq!(r.kv_ttl_seconds(3_590_000, LIFE), 60);
    }

    #[test]
    fn devices_are_summarised_not_recorded_verbatim() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(device_label(Some(ua)), "Chrome on Linux");
        assert_eq!(device_label(Some("Mozilla/5.0 (Windows NT 10.0; rv:140.0) Gecko/20100101 Firefox/140.0")), "Firefox on Windows");
        assert_eq!(device_label(None), "Unknown browser");
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        /// Cookie pairs that are not the session cookie (cookie values hold no `;`).
        fn other_cookie() -> impl Strategy<Value = String> {
            ("[a-zA-Z_]{1,10}", tricky_text(20))
                .prop_map(|(name, value)| format!("{name}={}", value.replace(';', "")))
                .prop_filter("not the session cookie", |c| !c.contains(COOKIE_NAME))
        }

        fn token() -> impl Strategy<Value = String> {
            "[A-Za-z0-9_-]{43}"
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn a_cookie_header_gives_a_well_formed_token_or_none(header in prop_oneof![
                tricky_text(100),
                tricky_text(60).prop_map(|t| format!("{COOKIE_NAME}={t}")),
            ]) {
                if let Some(t) = token_from_cookie_header(&header) {
                    prop_assert!(is_token(t), "{:?}", t);
                }
            }

            #[test]
            fn the_token_is_found_among_any_other_cookies(
                token in token(), before in proptest::collection::vec(other_cookie(), 0..4), after in proptest::collection::vec(other_cookie(), 0..4),
            ) {
                let mut pairs = before;
                pairs.push(format!("{COOKIE_NAME}={token}"));
                pairs.extend(after);
                let header = pairs.join("; ");
                prop_assert_eq!(token_from_cookie_header(&header), Some(token.as_str()), "{}", header);
            }

            #[test]
            fn the_set_cookie_value_carries_the_token_it_was_given(token in token(), max_age in 0i64..100_000_000) {
                let header = set_cookie(&token, max_age);
                prop_assert_eq!(token_from_cookie_header(&header), Some(token.as_str()));
            }

            #[test]
            fn device_labels_are_from_a_fixed_vocabulary(ua in proptest::option::of(prop_oneof![
                tricky_text(200),
                "(Mozilla|Edg/|OPR/|Firefox/|Chrome/|Safari/|curl/|node|Android|iPhone|iPad|Windows|Mac OS X|CrOS|Linux| |;|\\(|\\)){0,12}",
            ])) {
                let label = device_label(ua.as_deref());
                let browsers = ["Edge", "Opera", "Firefox", "Chrome", "Chromium", "Safari", "curl", "Node.js", "Unknown browser"];
                let systems = ["Android", "iOS", "iPadOS", "Windows", "macOS", "ChromeOS", "Linux"];
                let (browser, os) = match label.split_once(" on ") {
                    Some((b, o)) => (b, Some(o)),
                    None => (label.as_str(), None),
                };
                prop_assert!(browsers.contains(&browser), "{}", label);
                prop_assert!(os.is_none_or(|o| systems.contains(&o)), "{}", label);
            }

            #[test]
            fn a_session_once_expired_stays_expired(
                last_seen in 0i64..1 << 42, idle_ms in 1i64..1 << 36, absolute_ms in 1i64..1 << 36, now in 0i64..1 << 43, later in 0i64..1 << 36,
            ) {
                let life = Lifetimes { idle_ms, absolute_ms };
                let r = SessionRecord { session_id: "s".into(), user_id: "u".into(), created_at: last_seen, last_seen_at: last_seen, expires_at: last_seen + absolute_ms };
                if r.freshness(now, life) == Freshness::Expired {
                    prop_assert_eq!(r.freshness(now + later, life), Freshness::Expired);
                }
                prop_assert!(r.kv_ttl_seconds(now, life) >= 60);
            }
        }
    }
}

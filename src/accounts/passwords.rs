//! Passwords (A3): the policy, and PBKDF2-HMAC-SHA256 hashes that carry their own
//! parameters, so the iteration count can be raised later and old hashes upgraded at
//! the next sign-in.
//!
//! Hash format: `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` (standard base64,
//! no padding), 16-byte salt, 32-byte hash.

use crate::http::problem::AppError;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The most PBKDF2 iterations Cloudflare's production runtime accepts in one call:
/// larger counts throw `NotSupportedError: Pbkdf2 failed: iteration counts above 100000
/// are not supported`. Local workerd does not enforce the cap, so a larger value would
/// pass every local test and break every sign-in in production (docs/PLATFORM.md).
pub const ITERATIONS: u32 = 100_000;
pub const SALT_LEN: usize = 16;
pub const HASH_LEN: usize = 32;
const SCHEME: &str = "pbkdf2-sha256";

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

impl PasswordHash {
    pub fn encode(&self) -> String {
        format!("{SCHEME}${}${}${}", self.iterations, B64.encode(&self.salt), B64.encode(&self.hash))
    }

    pub fn parse(encoded: &str) -> Option<PasswordHash> {
        let mut parts = encoded.split('$');
        if parts.next()? != SCHEME {
            return None;
        }
        // Digits only, no leading zero: only what `encode` writes ("+5" and "05" would
        // parse as 5 in Rust).
        let digits = parts.next()?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return None;
        }
        let iterations = digits.parse().ok().filter(|n| *n > 0)?;
        let salt = B64.decode(parts.next()?).ok()?;
        let hash = B64.decode(parts.next()?).ok()?;
        if parts.next().is_some() || hash.len() != HASH_LEN || salt.is_empty() {
            return None;
        }
        Some(PasswordHash { iterations, salt, hash })
    }

    /// True when this hash was made with weaker parameters than today's.
    pub fn needs_upgrade(&self) -> bool {
        self.iterations < ITERATIONS || self.salt.len() < SALT_LEN
    }

    pub fn matches(&self, derived: &[u8]) -> bool {
        constant_time_eq(&self.hash, derived)
    }
}

/// Compares without an early exit, so timing says nothing about where bytes differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// PBKDF2-HMAC-SHA256 in Rust. The worker derives with WebCrypto (native code, not
/// billed as wasm CPU); this implementation checks it in tests and serves natively.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mac = Hmac::<Sha256>::new_from_slice(password).expect("HMAC takes keys of any length");
    let mut block = mac.clone();
    block.update(salt);
    block.update(&1u32.to_be_bytes());
    let mut u: [u8; HASH_LEN] = block.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut next = mac.clone();
        next.update(&u);
        u = next.finalize().into_bytes().into();
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

/// The A3 policy: 8–128 characters, not a common password, not the email address.
pub fn check_policy(password: &str, field: &str, email_local_part: Option<&str>) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(AppError::validation(field, format!("Use at least {MIN_CHARS} characters.")));
    }
    if chars > MAX_CHARS {
        return Err(AppError::validation(field, format!("Use at most {MAX_CHARS} characters.")));
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err(AppError::validation(field, "This password is too common. Choose one that is harder to guess."));
    }
    if email_local_part.is_some_and(|local| local.len() >= 3 && lower.contains(local)) {
        return Err(AppError::validation(field, "Don't use your email address in your password."));
    }
    Ok(())
}

/// Common passwords of 8 characters or more (shorter ones fail the length rule anyway),
/// from the most frequent entries of public breach corpora.
const COMMON_PASSWORDS: &[&str] = &[
    "password", "12345678", "123456789", "1234567890", "qwertyuiop", "password1", "password123",
    "iloveyou", "11111111", "00000000", "12341234", "87654321", "sunshine", "princess", "football",
    "baseball", "welcome1", "welcome123", "superman", "trustno1", "qwerty123", "qwertyui", "1q2w3e4r",
    "1q2w3e4r5t", "zaq12wsx", "abc12345", "abcd1234", "letmein1", "passw0rd", "p@ssw0rd", "p@ssword",
    "starwars", "whatever", "charlie1", "michelle", "jennifer", "computer", "corvette", "mercedes",
    "liverpool", "chelsea1", "arsenal1", "michael1", "jordan23", "basketball", "pokemon1", "dragon12",
    "monkey12", "shadow12", "master12", "qazwsxedc", "asdfghjkl", "asdfasdf", "zxcvbnm1", "1qaz2wsx",
    "123qweasd", "q1w2e3r4", "q1w2e3r4t5", "aa123456", "a1234567", "12345qwert", "123123123",
    "112233445566", "1234qwer", "admin123", "administrator", "changeme", "default1", "letmein123",
    "loveyou1", "iloveyou1", "football1", "baseball1", "sunshine1", "princess1", "qwerty12345",
    "password12", "password1234", "passwort", "motdepasse", "contraseña", "senha123", "blimari123",
    "secret123", "access14", "freedom1", "internet", "samsung1", "google123", "facebook", "linkedin",
    "minecraft", "qwerty1234", "987654321", "999999999", "88888888", "22222222", "55555555",
    "66666666", "77777777", "99999999", "12121212", "69696969", "hello123", "testtest", "test1234",
    "summer2024", "summer2025", "summer2026", "winter2025", "winter2026", "spring2026", "autumn2026",
    "january1", "november", "december", "september", "greenday", "metallica", "nirvana1", "blink182",
    "superstar", "sweetheart", "butterfly", "chocolate", "cookie123", "pass1234", "mustang1", "ferrari1",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7914 §11, PBKDF2-HMAC-SHA256 test vectors.
    #[test]
    fn pbkdf2_matches_the_rfc_vectors() {
        let out = pbkdf2_sha256(b"passwd", b"salt", 1);
        assert_eq!(crate::platform::ids::hex(&out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
        let out = pbkdf2_sha256(b"Password", b"NaCl", 80000);
        assert_eq!(crate::platform::ids::hex(&out), "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56");
    }

    #[test]
    fn hashes_carry_their_parameters_and_round_trip() {
        let h = PasswordHash { iterations: ITERATIONS, salt: vec![7; SALT_LEN], hash: vec![9; HASH_LEN] };
        let encoded = h.encode();
        assert!(encoded.starts_with("pbkdf2-sha256$100000$"));
        assert_eq!(PasswordHash::parse(&encoded), Some(h));
        assert_eq!(PasswordHash::parse("bcrypt$10$x$y"), None);
        assert_eq!(PasswordHash::parse("pbkdf2-sha256$0$AAAA$AAAA"), None);
    }

    #[test]
    fn weaker_hashes_need_an_upgrade() {
        let old = PasswordHash { iterations: 10_000, salt: vec![1; SALT_LEN], hash: vec![0; HASH_LEN] };
        assert!(old.needs_upgrade());
        let current = PasswordHash { iterations: ITERATIONS, ..old };
        assert!(!current.needs_upgrade());
    }

    #[test]
    fn comparison_is_exact() {
        let h = PasswordHash { iterations: 1, salt: vec![1], hash: vec![5; HASH_LEN] };
        assert!(h.matches(&[5; HASH_LEN]));
        let mut other = [5u8; HASH_LEN];
        other[31] = 4;
        assert!(!h.matches(&other));
        assert!(!h.matches(&[5; 16]));
    }

    #[test]
    fn the_policy_refuses_short_long_common_and_email_passwords() {
        assert!(check_policy("correct horse battery", "password", Some("ada")).is_ok());
        for bad in ["short", &"x".repeat(129), "Password123", "ada.lovelace99"] {
            let err = check_policy(bad, "password", Some("ada.lovelace")).unwrap_err();
            assert!(matches!(err, AppError::Validation { .. }), "{bad}");
        }
        // Length counts characters, not bytes.
        assert!(check_policy("ééééééé", "password", None).is_err());
        assert!(check_policy("éééééééé", "password", None).is_ok());
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{bytes, config, tricky_text};
        use proptest::prelude::*;

        fn hash_string_parts() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                Just("pbkdf2-sha256".to_owned()),
                "[0-9+-]{0,12}",
                "[A-Za-z0-9+/=]{0,48}",
                tricky_text(10),
            ];
            proptest::collection::vec(part, 0..6).prop_map(|parts| parts.join("$"))
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn hashes_round_trip(iterations in 1u32.., salt in bytes(64).prop_filter("a salt", |s| !s.is_empty()), hash in proptest::array::uniform32(any::<u8>())) {
                let h = PasswordHash { iterations, salt, hash: hash.to_vec() };
                prop_assert_eq!(PasswordHash::parse(&h.encode()), Some(h));
            }

            #[test]
            fn an_iteration_count_has_one_spelling(iterations in 1u32.., prefix in proptest::sample::select(vec!["", "+", "0", "00", " ", "-"])) {
                let canonical = PasswordHash { iterations, salt: vec![1; SALT_LEN], hash: vec![2; HASH_LEN] }.encode();
                let spelled = canonical.replacen("$", &format!("${prefix}"), 1);
                prop_assert_eq!(PasswordHash::parse(&spelled).is_some(), prefix.is_empty(), "{}", spelled);
            }

            #[test]
            fn only_what_encode_makes_parses(raw in prop_oneof![hash_string_parts(), tricky_text(120)]) {
                if let Some(h) = PasswordHash::parse(&raw) {
                    prop_assert_eq!(h.encode(), raw);
                    prop_assert!(h.iterations > 0 && !h.salt.is_empty() && h.hash.len() == HASH_LEN);
                }
            }

            #[test]
            fn an_accepted_password_meets_every_rule(password in tricky_text(140), local in proptest::option::of("[a-z.]{0,10}")) {
                let result = check_policy(&password, "password", local.as_deref());
                let chars = password.chars().count();
                let lower = password.to_lowercase();
                let expected_ok = (MIN_CHARS..=MAX_CHARS).contains(&chars)
                    && !COMMON_PASSWORDS.contains(&lower.as_str())
                    && !local.as_deref().is_some_and(|l| l.len() >= 3 && lower.contains(l));
                prop_assert_eq!(result.is_ok(), expected_ok);
                if let Err(e) = result {
                    prop_assert!(matches!(e, AppError::Validation { ref field, .. } if field == "password"), "{:?}", e);
                }
            }

            #[test]
            fn common_passwords_are_refused_in_any_case(i in 0..COMMON_PASSWORDS.len(), flips in proptest::collection::vec(any::<bool>(), 16)) {
                let p: String = COMMON_PASSWORDS[i]
                    .chars()
                    .zip(flips.iter().cycle())
                    .map(|(c, up)| if *up { c.to_uppercase().next().unwrap() } else { c })
                    .collect();
                prop_assert!(check_policy(&p, "password", None).is_err(), "{}", p);
            }

            #[test]
            fn comparison_is_equality(a in bytes(40), b in bytes(40)) {
                prop_assert_eq!(constant_time_eq(&a, &b), a == b);
                prop_assert!(constant_time_eq(&a, &a));
            }
        }
    }
}

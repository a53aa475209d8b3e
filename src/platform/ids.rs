//! Identifiers: random, URL-safe, and text in every table so D1 and Postgres agree.

/// 16 bytes from the platform's CSPRNG (WebCrypto inside workerd).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // getrandom only fails when the platform has no entropy source at all; there is
    // nothing sensible to do then but stop.
    getrandom::fill(&mut bytes).expect("the platform has no random source");
    bytes
}

/// Lower-case hex, the form request ids and ids take.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// A new 128-bit id with a short prefix naming what it identifies, e.g. `prb_3f…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex(&random_bytes::<16>()))
}

/// A request id: 128 random bits, shown to users in problem documents for support.
pub fn new_request_id() -> String {
    hex(&random_bytes::<16>())
}

/// True when `s` looks like an id this module made with `prefix`; lets handlers refuse
/// garbage before it reaches a query.
pub fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hexpart| hexpart.len() == 32 && hexpart.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_128_random_bits() {
        let a = new_id("prb");
        let b = new_id("prb");
        assert!(a.starts_with("prb_") && a.len() == 4 + 32);
        assert_ne!(a, b);
        assert!(is_id(&a, "prb"));
        assert!(!is_id(&a, "usr"));
        assert!(!is_id("prb_XYZ", "prb"));
    }

    #[test]
    fn hex_is_lower_case_and_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}

//! Strategies for the property tests: text that stresses Unicode handling (characters
//! whose case mapping changes their length, combining marks, controls, the prompt
//! delimiters' characters) mixed with arbitrary characters, and arbitrary bytes.

use proptest::prelude::*;

/// Characters that break code assuming one character is one byte, that lower-casing
/// keeps lengths, or that text has no controls: `İ` (lower-cases to two characters),
/// the Kelvin and Ångström signs (to one ASCII or Latin-1 letter), final sigma, `ß`,
/// a ligature, combining marks, zero-width and bidi characters, controls.
const TRICKY: &[char] = &[
    'İ', 'ı', '\u{212A}', '\u{212B}', 'Σ', 'σ', 'ς', 'ß', 'ẞ', 'ﬃ', 'ǅ', 'Ω', 'ŉ', '\u{0307}', '\u{0301}', '\u{0345}',
    '\u{200B}', '\u{200D}', '\u{202E}', '\u{FEFF}', '\u{2028}', '\u{85}', '\u{0}', '\u{7}', '\u{1B}', '\u{7F}', '\r',
    '\n', '\t', ' ', '\u{A0}', '<', '>', '@', '.', ':', ';', '=', '-', '\'', '’', '"', '\\', '/', '%', '😀', '\u{10FFFF}',
];

/// Mostly tricky characters and ASCII letters, sometimes any character at all. (One
/// integer per character: far cheaper to generate than a union of strategies.)
pub fn tricky_char() -> impl Strategy<Value = char> {
    (any::<u16>(), any::<char>()).prop_map(|(n, any_char)| match n % 8 {
        0..=2 => TRICKY[n as usize / 8 % TRICKY.len()],
        3 | 4 => char::from(b'a' + (n / 8 % 26) as u8),
        5 => char::from(b'A' + (n / 8 % 26) as u8),
        _ => any_char,
    })
}

/// Text of up to `max` characters drawn from `tricky_char`.
pub fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(tricky_char(), 0..=max).prop_map(|cs| cs.into_iter().collect())
}

/// Arbitrary bytes, up to `max` of them.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

/// The case count for every property: enough to find the usual slips, fast enough that
/// `cargo test` stays quick.
pub fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) }
}

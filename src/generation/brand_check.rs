//! The brand check (B3): a text output against its brand — words to avoid, banned
//! claims, the words to use (at least one must appear when the brand lists any), and
//! the content type's length — with the exact reasons when it fails.

use crate::library::brands::BrandFields;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandCheck {
    pub passed: bool,
    pub problems: Vec<String>,
}

/// Lower case, one character at a time, with final sigma as sigma: unlike
/// `str::to_lowercase`, whose `Σ` depends on the letters around it, this gives a word
/// the same form wherever it stands, so a needle folds like the text it is found in.
fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).map(|c| if c == 'ς' { 'σ' } else { c }).collect()
}

/// Letters, digits, apostrophes, and combining marks (a decomposed `é` is `e` and a mark:
/// the mark belongs to the word).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == '\''
        || c == '’'
        || matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// True when `needle` occurs in `haystack` as whole words (case-insensitive). Every
/// occurrence is tried, overlapping ones too: in "xa-a-a" the whole word "a-a" is the
/// second one.
fn contains_words(haystack: &str, needle: &str) -> bool {
    let h = fold(haystack);
    let n = fold(needle.trim());
    if n.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(found) = h[from..].find(&n) {
        let i = from + found;
        let before = h[..i].chars().next_back();
        let after = h[i + n.len()..].chars().next();
        if !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char) {
            return true;
        }
        from = i + h[i..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

pub fn check(text: &str, brand: &BrandFields, max_chars: Option<usize>) -> BrandCheck {
    let mut problems = Vec::new();
    for word in &brand.words_to_avoid {
        if contains_words(text, word) {
            problems.push(format!("Uses a word to avoid: “{word}”."));
        }
    }
    for claim in &brand.banned_claims {
        let claim_folded = fold(claim.trim());
        if !claim_folded.is_empty() && fold(text).contains(&claim_folded) {
            problems.push(format!("Makes a banned claim: “{claim}”."));
        }
    }
    if !brand.words_to_use.is_empty() && !brand.words_to_use.iter().any(|w| contains_words(text, w)) {
        problems.push(format!("Uses none of the brand's words: {}.", brand.words_to_use.join(", ")));
    }
    if let Some(max) = max_chars {
        let n = text.chars().count();
        if n > max {
            problems.push(format!("Too long: {n} characters, the limit is {max}."));
        }
    }
    BrandCheck { passed: problems.is_empty(), problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> BrandFields {
        BrandFields {
            name: "Fernleaf".into(),
            words_to_use: vec!["cosy".into(), "small-batch".into()],
            words_to_avoid: vec!["cheap".into()],
            banned_claims: vec!["best coffee in the world".into()],
            ..BrandFields::empty()
        }
    }

    #[test]
    fn a_clean_text_passes() {
        let c = check("A cosy corner and small-batch beans.", &brand(), Some(280));
        assert_eq!(c, BrandCheck { passed: true, problems: vec![] });
    }

    #[test]
    fn avoided_words_fail_as_whole_words_only() {
        let c = check("Cheap thrills, cosy seats.", &brand(), None);
        assert!(!c.passed);
        assert_eq!(c.problems, vec!["Uses a word to avoid: “cheap”."]);
        assert!(check("Cheapside is cosy.", &brand(), None).passed);
    }

    #[test]
    fn a_whole_word_after_an_overlapping_partial_match_is_found() {
        let b = BrandFields { words_to_avoid: vec!["a-a".into()], ..brand() };
        assert!(!check("cosy xa-a-a", &b, None).passed);
    }

    #[test]
    fn greek_sigma_matches_whatever_its_position() {
        // `str::to_lowercase` gives "ας" for "ΑΣ" alone but "ασ" before ".x".
        let b = BrandFields { words_to_avoid: vec!["ΑΣ".into()], banned_claims: vec!["ς".into()], ..brand() };
        assert_eq!(check("cosy ΑΣ.x", &b, None).problems.len(), 2);
    }

    #[test]
    fn a_combining_mark_belongs_to_the_word() {
        let b = BrandFields { words_to_avoid: vec!["cafe".into()], ..brand() };
        assert!(check("A cosy cafe\u{0301}.", &b, None).passed);
        assert!(!check("A cosy cafe.", &b, None).passed);
    }

    #[test]
    fn banned_claims_missing_keywords_and_length_are_reported() {
        let c = check("The BEST coffee in the world!", &brand(), Some(10));
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
        assert!(c.problems[0].contains("banned claim"));
        assert!(c.problems[1].contains("none of the brand's words"));
        assert!(c.problems[2].contains("Too long"));
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        /// Words with cased letters whose lower case depends on context (`Σ`) or changes
        /// length (`İ`, the Kelvin sign), sometimes two of them joined by `-` or a space.
        fn word() -> impl Strategy<Value = String> {
            let part = "[abAΣσςİ\u{212A}é]{1,4}";
            (part, proptest::option::of(("[- ]", part))).prop_map(|(a, rest)| match rest {
                Some((sep, b)) => format!("{a}{sep}{b}"),
                None => a,
            })
        }

        fn separator() -> impl Strategy<Value = char> {
            proptest::sample::select(vec![' ', '.', ',', ':', '!', '-', '\n', '"', '(', ')', '?'])
        }

        fn brand_with(words_to_use: Vec<String>, words_to_avoid: Vec<String>, banned_claims: Vec<String>) -> BrandFields {
            BrandFields { name: "B".into(), words_to_use, words_to_avoid, banned_claims, ..BrandFields::empty() }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_and_brand_give_a_consistent_verdict(
                text in tricky_text(200),
                use_ in proptest::collection::vec(tricky_text(12), 0..3),
                avoid in proptest::collection::vec(tricky_text(12), 0..3),
                claims in proptest::collection::vec(tricky_text(20), 0..3),
                max in proptest::option::of(0usize..300),
            ) {
                let c = check(&text, &brand_with(use_, avoid, claims), max);
                prop_assert_eq!(c.passed, c.problems.is_empty());
                let too_long = max.is_some_and(|m| text.chars().count() > m);
                prop_assert_eq!(c.problems.iter().any(|p| p.starts_with("Too long")), too_long);
            }

            #[test]
            fn an_avoided_word_standing_alone_is_always_found(
                before in tricky_text(20), after in tricky_text(20), w in word(), s1 in separator(), s2 in separator(),
            ) {
                let text = format!("{before}{s1}{w}{s2}{after}");
                let c = check(&text, &brand_with(vec![], vec![w.clone()], vec![]), None);
                prop_assert!(!c.passed, "{:?} not found in {:?}", w, text);
            }

            #[test]
            fn a_word_to_use_standing_alone_is_always_found(
                before in tricky_text(20), after in tricky_text(20), w in word(), s1 in separator(), s2 in separator(),
            ) {
                let text = format!("{before}{s1}{w}{s2}{after}");
                prop_assert!(check(&text, &brand_with(vec![w], vec![], vec![]), None).passed);
            }

            #[test]
            fn a_banned_claim_is_found_in_any_case(before in tricky_text(20), after in tricky_text(20), claim in word(), upper in any::<bool>()) {
                let written = if upper { claim.to_uppercase() } else { claim.clone() };
                let text = format!("{before}{written}{after}");
                prop_assert!(!check(&text, &brand_with(vec![], vec![], vec![claim.clone()]), None).passed, "{:?} in {:?}", claim, text);
            }

            #[test]
            fn a_word_inside_a_longer_word_is_not_the_word(w in word(), letter in "[a-z]") {
                let brand = brand_with(vec![], vec![w.clone()], vec![]);
                prop_assert!(check(&format!("{w}{letter}"), &brand, None).passed, "{:?} then {:?}", w, letter);
                prop_assert!(check(&format!("{letter}{w}"), &brand, None).passed, "{:?} before {:?}", letter, w);
                prop_assert!(check(&format!("{w}\u{0301}"), &brand, None).passed, "a combining mark belongs to the word");
            }
        }
    }
}

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

/// True when `needle` occurs in `haystack` as whole words (case-insensitive).
fn contains_words(haystack: &str, needle: &str) -> bool {
    let h = haystack.to_lowercase();
    let n = needle.trim().to_lowercase();
    if n.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '\'' || c == '’';
    h.match_indices(&n).any(|(i, _)| {
        let before = h[..i].chars().next_back();
        let after = h[i + n.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

pub fn check(text: &str, brand: &BrandFields, max_chars: Option<usize>) -> BrandCheck {
    let mut problems = Vec::new();
    for word in &brand.words_to_avoid {
        if contains_words(text, word) {
            problems.push(format!("Uses a word to avoid: “{word}”."));
        }
    }
    for claim in &brand.banned_claims {
        if text.to_lowercase().contains(&claim.trim().to_lowercase()) {
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
    fn banned_claims_missing_keywords_and_length_are_reported() {
        let c = check("The BEST coffee in the world!", &brand(), Some(10));
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
        assert!(c.problems[0].contains("banned claim"));
        assert!(c.problems[1].contains("none of the brand's words"));
        assert!(c.problems[2].contains("Too long"));
    }
}

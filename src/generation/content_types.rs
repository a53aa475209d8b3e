//! Content types (D1) and their prices in credits, shown before the user submits.

use crate::generation::prompt::ContentKind;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Text,
    Image,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContentType {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub price: i64,
    pub output: Output,
    /// Longest acceptable text, for the brand check (B3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<usize>,
    #[serde(skip)]
    pub text_kind: Option<ContentKind>,
    /// Image size asked of the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<&'static str>,
    pub needs_references: bool,
}

pub const CONTENT_TYPES: &[ContentType] = &[
    ContentType { id: "social_post", name: "Social post", description: "One post, up to 280 characters.", price: 1, output: Output::Text, max_chars: Some(280), text_kind: Some(ContentKind::SocialPost), size: None, needs_references: false },
    ContentType { id: "ad_headlines", name: "Ad headline set", description: "Five headlines of up to 40 characters.", price: 1, output: Output::Text, max_chars: Some(5 * 41), text_kind: Some(ContentKind::AdHeadlines), size: None, needs_references: false },
    ContentType { id: "product_description", name: "Product description", description: "80 to 150 words.", price: 2, output: Output::Text, max_chars: Some(1200), text_kind: Some(ContentKind::ProductDescription), size: None, needs_references: false },
    ContentType { id: "email_subject_lines", name: "Email subject lines", description: "Five subject lines of up to 60 characters.", price: 1, output: Output::Text, max_chars: Some(5 * 61), text_kind: Some(ContentKind::EmailSubjectLines), size: None, needs_references: false },
    ContentType { id: "image_square", name: "Image, square", description: "1024 × 1024 in the brand's colours.", price: 4, output: Output::Image, max_chars: None, text_kind: None, size: Some("1024x1024"), needs_references: false },
    ContentType { id: "image_wide", name: "Image, wide", description: "1536 × 1024 in the brand's colours.", price: 5, output: Output::Image, max_chars: None, text_kind: None, size: Some("1536x1024"), needs_references: false },
    ContentType { id: "image_from_references", name: "Image from references", description: "A new image from the brand's reference images.", price: 6, output: Output::Image, max_chars: None, text_kind: None, size: Some("1024x1024"), needs_references: true },
];

pub fn find(id: &str) -> Option<&'static ContentType> {
    CONTENT_TYPES.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_positive_price_and_a_way_to_make_it() {
        for c in CONTENT_TYPES {
            assert!(c.price > 0, "{}", c.id);
            match c.output {
                Output::Text => assert!(c.text_kind.is_some() && c.max_chars.is_some(), "{}", c.id),
                Output::Image => assert!(c.size.is_some(), "{}", c.id),
            }
        }
        assert!(find("social_post").is_some());
        assert!(find("nope").is_none());
    }
}

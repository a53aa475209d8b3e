//! Keyset pagination, the one way every list is paged: newest first by
//! `(created_at, id)`, with an opaque cursor naming the last item seen.

use crate::http::problem::AppError;
use crate::platform::db::Statement;

/// The key of an item in a list: `(created_at, id)`.
pub type Cursor<'a> = (i64, &'a str);

pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The last item of the previous page; `None` for the first page.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

impl Page {
    pub fn first(limit: i64) -> Page {
        Page { after: None, limit }
    }

    /// Parses `?cursor=` and `?limit=` (1–100).
    pub fn parse(cursor: Option<&str>, limit: Option<&str>, default_limit: i64) -> Result<Page, AppError> {
        let after = match cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| AppError::validation("cursor", "This cursor is not valid."))?),
        };
        let limit = match limit {
            None => default_limit,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| AppError::validation("limit", "Use a limit from 1 to 100."))?,
        };
        Ok(Page { after, limit })
    }

    /// Appends the keyset condition, the order and the limit to a statement whose SQL
    /// ends inside a `WHERE` clause (so ` AND …` can follow).
    pub fn newest_first(&self, statement: Statement) -> Statement {
        let (at, id) = self.after.clone().unwrap_or((i64::MAX, String::new()));
        let sql = format!(
            "{} AND (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?",
            statement.sql
        );
        Statement { sql: sql.into(), params: statement.params }.bind(at).bind(at).bind(id).bind(self.limit)
    }

    /// The cursor of the next page: the last item's key when the page is full.
    pub fn next_cursor<T>(&self, items: &[T], key: impl Fn(&T) -> Cursor<'_>) -> Option<String> {
        if items.len() as i64 != self.limit {
            return None;
        }
        items.last().map(|i| {
            let (at, id) = key(i);
            encode_cursor(at, id)
        })
    }
}

/// A list request's query: `?cursor=` and `?limit=` become the page, every other pair is
/// kept for the handler's filters. Text holding U+0000 is refused (422) wherever it is:
/// PostgreSQL cannot store or compare it, so a Neon deployment would otherwise answer 500.
pub fn split_query(
    pairs: impl IntoIterator<Item = (String, String)>,
    default_limit: i64,
) -> Result<(Page, Vec<(String, String)>), AppError> {
    let (mut cursor, mut limit, mut rest) = (None, None, Vec::new());
    for (k, v) in pairs {
        if k.contains('\0') || v.contains('\0') {
            let field = if k.contains('\0') { "query" } else { k.as_str() };
            return Err(AppError::validation(field, "Query parameters cannot hold the character U+0000."));
        }
        match k.as_str() {
            "cursor" => cursor = Some(v),
            "limit" => limit = Some(v),
            _ => rest.push((k, v)),
        }
    }
    Ok((Page::parse(cursor.as_deref(), limit.as_deref(), default_limit)?, rest))
}

/// Opaque cursor for `(created_at, id)`.
pub fn encode_cursor(created_at: i64, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at}:{id}"))
}

pub fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (at, id) = text.split_once(':')?;
    if id.contains('\0') {
        return None;
    }
    Some((at.parse().ok()?, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor(1234, "evt_ab");
        assert_eq!(decode_cursor(&c), Some((1234, "evt_ab".into())));
        assert_eq!(decode_cursor("!!"), None);
        use base64::Engine;
        assert_eq!(decode_cursor(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("nocolon")), None);
    }

    #[test]
    fn limits_outside_1_to_100_and_bad_cursors_are_refused() {
        assert_eq!(Page::parse(None, None, 20).unwrap(), Page::first(20));
        for bad in ["0", "101", "-1", "x", ""] {
            assert!(Page::parse(None, Some(bad), 20).is_err(), "{bad}");
        }
        assert!(Page::parse(Some("!!"), None, 20).is_err());
    }

    #[test]
    fn a_nul_anywhere_in_the_query_is_refused() {
        let q = |k: &str, v: &str| split_query([(k.to_owned(), v.to_owned())], 20);
        assert_eq!(q("content_type", "a\0b").unwrap_err().status(), 422);
        assert_eq!(q("x\0", "b").unwrap_err().status(), 422);
        assert!(decode_cursor(&encode_cursor(1, "a\0")).is_none());
        let (page, rest) = q("q", "soap").unwrap();
        assert_eq!((page, rest), (Page::first(20), vec![("q".to_owned(), "soap".to_owned())]));
    }

    #[test]
    fn the_keyset_clause_follows_the_statement() {
        let page = Page { after: Some((5, "x".into())), limit: 3 };
        let s = page.newest_first(Statement::new("SELECT id FROM t WHERE user_id = ?").bind("u"));
        assert!(s.sql.ends_with("ORDER BY created_at DESC, id DESC LIMIT ?"));
        assert_eq!(s.params.len(), 5);
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor() {
        let page = Page::first(2);
        let items = [(1, "a".to_string()), (2, "b".to_string())];
        assert!(page.next_cursor(&items, |i| (i.0, i.1.as_str())).is_some());
        assert!(page.next_cursor(&items[..1], |i| (i.0, i.1.as_str())).is_none());
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn cursors_round_trip(created_at in any::<i64>(), id in tricky_text(40)) {
                let c = encode_cursor(created_at, &id);
                prop_assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{}", c);
                let expected = if id.contains('\0') { None } else { Some((created_at, id)) };
                prop_assert_eq!(decode_cursor(&c), expected);
            }

            #[test]
            fn a_query_splits_into_page_and_filters_or_is_refused(
                pairs in proptest::collection::vec((prop_oneof![Just("cursor".to_string()), Just("limit".to_string()), tricky_text(8)], tricky_text(12)), 0..6)
            ) {
                let nul = pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0'));
                match split_query(pairs.clone(), 20) {
                    Ok((page, rest)) => {
                        prop_assert!(!nul);
                        prop_assert!((1..=MAX_LIMIT).contains(&page.limit));
                        let filters: Vec<_> = pairs.into_iter().filter(|(k, _)| k != "cursor" && k != "limit").collect();
                        prop_assert_eq!(rest, filters);
                    }
                    Err(e) => prop_assert_eq!(e.status(), 422),
                }
            }

            #[test]
            fn any_text_decodes_to_a_cursor_or_none(raw in prop_oneof![tricky_text(60), "[A-Za-z0-9_-]{0,60}"]) {
                if let Some((at, id)) = decode_cursor(&raw) {
                    prop_assert_eq!(decode_cursor(&encode_cursor(at, &id)), Some((at, id)));
                }
            }
        }
    }
}

//! Cross-origin request protection (A4), the algorithm of Go's
//! `http.CrossOriginProtection`: safe methods pass; otherwise `Sec-Fetch-Site` decides
//! when present (`same-origin` or `none` pass); without it, an `Origin` must match the
//! request's host; a request with neither header is from a non-browser client and passes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
}

pub fn check(method: &str, sec_fetch_site: Option<&str>, origin: Option<&str>, host: &str) -> Verdict {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return Verdict::Allow;
    }
    match sec_fetch_site {
        Some("same-origin") | Some("none") => return Verdict::Allow,
        Some(_) => return Verdict::Deny,
        None => {}
    }
    let Some(origin) = origin else {
        return Verdict::Allow;
    };
    match origin_host(origin) {
        Some(h) if h.eq_ignore_ascii_case(host) => Verdict::Allow,
        _ => Verdict::Deny,
    }
}

/// The `host[:port]` of an Origin such as `https://example.com:8443`; `null` has none.
fn origin_host(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    /// The cases of Go's net/http csrf_test.go, against host "example.com".
    #[test]
    fn go_cross_origin_protection_cases() {
        let cases: &[(&str, &str, Option<&str>, Option<&str>, Verdict)] = &[
            ("same-origin allowed", "POST", Some("same-origin"), None, Allow),
            ("none allowed", "POST", Some("none"), None, Allow),
            ("cross-site blocked", "POST", Some("cross-site"), None, Deny),
            ("same-site blocked", "POST", Some("same-site"), None, Deny),
            ("no header with no origin", "POST", None, None, Allow),
            ("no header with matching origin", "POST", None, Some("https://example.com"), Allow),
            ("no header with mismatched origin", "POST", None, Some("https://attacker.example"), Deny),
            ("no header with null origin", "POST", None, Some("null"), Deny),
            ("origin with another port", "POST", None, Some("https://example.com:8443"), Deny),
            ("GET allowed", "GET", Some("cross-site"), None, Allow),
            ("HEAD allowed", "HEAD", Some("cross-site"), None, Allow),
            ("OPTIONS allowed", "OPTIONS", Some("cross-site"), None, Allow),
            ("PUT blocked", "PUT", Some("cross-site"), None, Deny),
            ("PATCH blocked", "PATCH", Some("cross-site"), None, Deny),
            ("DELETE blocked", "DELETE", Some("cross-site"), None, Deny),
            ("sec-fetch-site wins over a matching origin", "POST", Some("cross-site"), Some("https://example.com"), Deny),
        ];
        for (name, method, site, origin, want) in cases {
            assert_eq!(check(method, *site, *origin, "example.com"), *want, "{name}");
        }
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        fn method() -> impl Strategy<Value = String> {
            prop_oneof![
                proptest::sample::select(vec!["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "get", "post"]).prop_map(String::from),
                tricky_text(8),
            ]
        }

        fn header() -> impl Strategy<Value = Option<String>> {
            proptest::option::of(prop_oneof![
                proptest::sample::select(vec!["same-origin", "none", "cross-site", "same-site", "null", "https://example.com"]).prop_map(String::from),
                tricky_text(30),
            ])
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn the_verdict_follows_go_for_any_headers(method in method(), site in header(), origin in header(), host in prop_oneof![Just("example.com".to_owned()), tricky_text(20)]) {
                let v = check(&method, site.as_deref(), origin.as_deref(), &host);
                let safe = matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
                match (safe, site.as_deref()) {
                    (true, _) => prop_assert_eq!(v, Verdict::Allow),
                    (false, Some(s)) => prop_assert_eq!(v, if s == "same-origin" || s == "none" { Verdict::Allow } else { Verdict::Deny }),
                    (false, None) if origin.is_none() => prop_assert_eq!(v, Verdict::Allow),
                    (false, None) => {}
                }
            }

            #[test]
            fn an_unsafe_request_passes_on_origin_only_from_its_own_host(
                scheme in "https?", host in "[a-zA-Z0-9.-]{1,20}(:[0-9]{1,5})?", other in "[a-zA-Z0-9.-]{1,20}",
            ) {
                let origin = format!("{scheme}://{host}");
                prop_assert_eq!(check("POST", None, Some(&origin), &host.to_ascii_uppercase()), Verdict::Allow);
                let want = if other.eq_ignore_ascii_case(&host) { Verdict::Allow } else { Verdict::Deny };
                prop_assert_eq!(check("POST", None, Some(&origin), &other), want);
            }
        }
    }
}

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
}

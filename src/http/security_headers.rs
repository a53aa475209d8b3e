//! Headers every response carries (A4). Static pages get the same set from
//! `public/_headers`; a test checks both stay in step.

/// For JSON and files served by the API: nothing may be loaded or framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// For the HTML pages the worker answers itself (the admin page, its 404): the same
/// policy as `public/_headers` gives every static page.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

pub const COMMON: [(&str, &str); 5] = [
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ("X-Frame-Options", "DENY"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `public/_headers` must repeat the common headers for every static page.
    #[test]
    fn static_pages_carry_the_same_security_headers() {
        let file = include_str!("../../public/_headers");
        for (name, value) in COMMON {
            assert!(file.contains(&format!("{name}: {value}")), "public/_headers lacks {name}: {value}");
        }
        assert!(file.contains("frame-ancestors 'none'"));
        assert!(file.contains(&format!("Content-Security-Policy: {PAGE_CSP}")), "PAGE_CSP differs from public/_headers");
        assert!(!file.contains("'unsafe-inline'"), "the CSP must not allow inline script or style");
    }
}

//! Colours and fonts read from CSS text (B5): custom properties that hold a colour, how
//! often each colour is used, and the font families named. A small scanner, not a CSS
//! parser: it only has to find declarations, and it never fails on any input.

use std::collections::BTreeMap;

/// An opaque sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// White, black and greys: rarely what makes a brand recognisable.
    pub fn is_neutral(self) -> bool {
        let (max, min) = (self.0.max(self.1).max(self.2), self.0.min(self.1).min(self.2));
        max - min < 16
    }
}

/// Generic families and keywords that name no particular typeface.
const GENERIC_FONTS: [&str; 20] = [
    "serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "ui-serif", "ui-sans-serif", "ui-monospace",
    "ui-rounded", "math", "emoji", "fangsong", "inherit", "initial", "unset", "revert", "-apple-system", "blinkmacsystemfont", "none",
];

/// Parses a CSS colour value: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb()`/`rgba()`
/// (commas or spaces, numbers or percentages). Fully transparent colours are none.
pub fn parse_color(value: &str) -> Option<Rgb> {
    let v = value.trim().trim_end_matches("!important").trim().to_ascii_lowercase();
    if let Some(h) = v.strip_prefix('#') {
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| u8::from_str_radix(&h[i..i + 1], 16).ok();
        let pair = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
        return match h.len() {
            3 => Some(Rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            4 => (digit(3)? != 0).then_some(Rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            6 => Some(Rgb(pair(0)?, pair(2)?, pair(4)?)),
            8 => (pair(6)? != 0).then_some(Rgb(pair(0)?, pair(2)?, pair(4)?)),
            _ => None,
        };
    }
    let inner = v.strip_prefix("rgba(").or_else(|| v.strip_prefix("rgb("))?.strip_suffix(')')?;
    let parts: Vec<&str> = inner.split([',', ' ', '/']).map(str::trim).filter(|p| !p.is_empty()).collect();
    if !(3..=4).contains(&parts.len()) {
        return None;
    }
    let channel = |p: &str| -> Option<u8> {
        let n: f64 = match p.strip_suffix('%') {
            Some(pct) => pct.parse::<f64>().ok()? * 255.0 / 100.0,
            None => p.parse::<f64>().ok()?,
        };
        n.is_finite().then(|| n.round().clamp(0.0, 255.0) as u8)
    };
    if let Some(alpha) = parts.get(3) {
        let a: f64 = match alpha.strip_suffix('%') {
            Some(pct) => pct.parse::<f64>().ok()? / 100.0,
            None => alpha.parse::<f64>().ok()?,
        };
        if !(a > 0.0) {
            return None;
        }
    }
    Some(Rgb(channel(parts[0])?, channel(parts[1])?, channel(parts[2])?))
}

/// What the CSS of a page says, summed over every sheet scanned.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CssFacts {
    /// `--name: colour` declarations, in order, first value of each name.
    pub custom_colors: Vec<(String, Rgb)>,
    /// How many declarations use each colour.
    pub color_uses: BTreeMap<Rgb, u32>,
    /// How many `font-family` declarations start with each family (first spelling kept).
    pub font_uses: BTreeMap<String, (String, u32)>,
    /// Order in which fonts were first seen (for ties).
    font_order: Vec<String>,
}

const MAX_CUSTOM: usize = 200;
const MAX_DISTINCT: usize = 2000;

fn strip_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find("*/") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => return out,
        }
        out.push(' ');
    }
    out.push_str(rest);
    out
}

/// Every colour written out in a value (`1px solid #abc`, `linear-gradient(rgb(…), …)`).
fn colors_in(value: &str) -> Vec<Rgb> {
    let lower = value.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'#' {
            let end = (i + 1..bytes.len()).find(|&j| !bytes[j].is_ascii_hexdigit()).unwrap_or(bytes.len());
            let boundary = end == bytes.len() || !bytes[end].is_ascii_alphanumeric() && bytes[end] != b'-' && bytes[end] != b'_';
            if boundary {
                if let Some(c) = parse_color(&lower[i..end]) {
                    found.push(c);
                }
            }
            i = end.max(i + 1);
        } else if bytes[i..].starts_with(b"rgb") && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'-') {
            match lower[i..].find(')') {
                Some(close) => {
                    if let Some(c) = parse_color(&lower[i..i + close + 1]) {
                        found.push(c);
                    }
                    i += close + 1;
                }
                None => break,
            }
        } else {
            i += 1;
        }
    }
    found
}

/// The first typeface a `font-family` value names, unquoted; none for generic ones.
pub fn first_family(value: &str) -> Option<String> {
    value.split(',').map(|f| f.trim().trim_end_matches("!important").trim().trim_matches(['"', '\'']).trim()).find_map(|f| {
        let lower = f.to_ascii_lowercase();
        let plausible = !f.is_empty()
            && f.chars().count() <= 60
            && !lower.starts_with("var(")
            && !GENERIC_FONTS.contains(&lower.as_str())
            && f.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
        plausible.then(|| f.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

impl CssFacts {
    /// Adds one sheet (or `<style>` element) to the tally.
    pub fn scan(&mut self, css: &str) {
        let css = strip_comments(css);
        for segment in css.split(['{', '}', ';']) {
            let Some((property, value)) = segment.split_once(':') else { continue };
            let property = property.trim().to_ascii_lowercase();
            if property.is_empty() || !property.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                continue;
            }
            if property.starts_with("--") {
                if let Some(color) = parse_color(value) {
                    if self.custom_colors.len() < MAX_CUSTOM && !self.custom_colors.iter().any(|(n, _)| *n == property) {
                        self.custom_colors.push((property.clone(), color));
                    }
                }
            }
            if property == "font-family" {
                if let Some(family) = first_family(value) {
                    let key = family.to_lowercase();
                    if let Some((_, n)) = self.font_uses.get_mut(&key) {
                        *n += 1;
                    } else if self.font_uses.len() < MAX_DISTINCT {
                        self.font_order.push(key.clone());
                        self.font_uses.insert(key, (family, 1));
                    }
                }
                continue;
            }
            for color in colors_in(value) {
                if let Some(n) = self.color_uses.get_mut(&color) {
                    *n += 1;
                } else if self.color_uses.len() < MAX_DISTINCT {
                    self.color_uses.insert(color, 1);
                }
            }
        }
    }

    /// Colours by how often they are used, most used first (ties: lighter hex first, stable).
    pub fn most_used_colors(&self) -> Vec<Rgb> {
        let mut v: Vec<(Rgb, u32)> = self.color_uses.iter().map(|(c, n)| (*c, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(c, _)| c).collect()
    }

    /// Font families by how often they are declared, first seen first on ties.
    pub fn most_used_fonts(&self) -> Vec<String> {
        let mut v: Vec<(usize, &String, u32)> =
            self.font_order.iter().enumerate().filter_map(|(i, k)| self.font_uses.get(k).map(|(name, n)| (i, name, *n))).collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(_, name, _)| name.clone()).collect()
    }
}

/// Families named by a Google Fonts stylesheet link
/// (`https://fonts.googleapis.com/css2?family=Inter:wght@400;700&family=Playfair+Display`).
pub fn google_font_families(url: &url::Url) -> Vec<String> {
    if url.host_str() != Some("fonts.googleapis.com") {
        return Vec::new();
    }
    let mut families = Vec::new();
    for (key, value) in url.query_pairs() {
        if key != "family" {
            continue;
        }
        // css (v1) puts several in one value, separated by `|`.
        for family in value.split('|') {
            let name = family.split(':').next().unwrap_or("").trim();
            if let Some(name) = first_family(name) {
                if !families.contains(&name) {
                    families.push(name);
                }
            }
        }
    }
    families
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_read_in_the_usual_notations() {
        assert_eq!(parse_color("#0A7"), Some(Rgb(0, 0xaa, 0x77)));
        assert_eq!(parse_color(" #1A2B3C !important"), Some(Rgb(0x1a, 0x2b, 0x3c)));
        assert_eq!(parse_color("#1a2b3cff"), Some(Rgb(0x1a, 0x2b, 0x3c)));
        assert_eq!(parse_color("#1a2b3c00"), None, "transparent");
        assert_eq!(parse_color("rgb(255, 0, 10)"), Some(Rgb(255, 0, 10)));
        assert_eq!(parse_color("rgb(100% 0% 50% / 0.5)"), Some(Rgb(255, 0, 128)));
        assert_eq!(parse_color("rgba(1,2,3,0)"), None);
        for bad in ["", "#12", "#12345", "#ggg", "red", "rgb(1,2)", "rgb(a,b,c)", "rgb(1,2,3"] {
            assert_eq!(parse_color(bad), None, "{bad}");
        }
    }

    #[test]
    fn custom_properties_uses_and_fonts_are_tallied() {
        let mut facts = CssFacts::default();
        facts.scan(
            ":root { --brand-primary: #0F766E; --brand-accent:#f59e0b; --space: 8px } /* --ignored: #123456 */\n\
             a:hover { color: #0f766e; border: 1px solid rgb(245, 158, 11) }\n\
             h1 { font-family: \"Playfair Display\", Georgia, serif; color: #0f766e }\n\
             body { font-family: system-ui, 'Inter', sans-serif; background: #ffffff }\n\
             p { font-family: 'Inter', sans-serif; color:#333 }",
        );
        assert_eq!(facts.custom_colors, vec![("--brand-primary".into(), Rgb(0x0f, 0x76, 0x6e)), ("--brand-accent".into(), Rgb(0xf5, 0x9e, 0x0b))]);
        assert_eq!(facts.most_used_colors()[0], Rgb(0x0f, 0x76, 0x6e));
        assert_eq!(facts.color_uses[&Rgb(0xf5, 0x9e, 0x0b)], 2);
        assert!(!facts.color_uses.contains_key(&Rgb(0x12, 0x34, 0x56)), "comments are skipped");
        assert_eq!(facts.most_used_fonts(), vec!["Inter".to_string(), "Playfair Display".to_string()]);
    }

    #[test]
    fn google_fonts_links_name_their_families() {
        let url = url::Url::parse("https://fonts.googleapis.com/css2?family=Playfair+Display:wght@700&family=Inter:wght@400;600&display=swap").unwrap();
        assert_eq!(google_font_families(&url), vec!["Playfair Display".to_string(), "Inter".to_string()]);
        let v1 = url::Url::parse("https://fonts.googleapis.com/css?family=Roboto|Open+Sans:400,700").unwrap();
        assert_eq!(google_font_families(&v1), vec!["Roboto".to_string(), "Open Sans".to_string()]);
        assert!(google_font_families(&url::Url::parse("https://example.com/css?family=Inter").unwrap()).is_empty());
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{bytes, config, tricky_text};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(config())]

            /// Any text scans without panicking, and every tallied font is a plausible name.
            #[test]
            fn any_text_scans(css in prop_oneof![
                tricky_text(200),
                bytes(200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                "([a-z:#(){};,/* -]|--x|#[0-9a-f]{3,8}|rgb\\(|font-family:|[0-9]{1,3}%?){0,40}",
            ]) {
                let mut facts = CssFacts::default();
                facts.scan(&css);
                for font in facts.most_used_fonts() {
                    prop_assert!(!font.is_empty() && font.chars().count() <= 60);
                }
                prop_assert!(facts.custom_colors.iter().all(|(n, _)| n.starts_with("--")));
            }

            /// A colour written as #rrggbb is read back exactly.
            #[test]
            fn hex_colours_round_trip(r in any::<u8>(), g in any::<u8>(), b in any::<u8>(), upper in any::<bool>()) {
                let written = format!("#{r:02x}{g:02x}{b:02x}");
                let written = if upper { written.to_uppercase() } else { written };
                prop_assert_eq!(parse_color(&written).map(Rgb::hex), Some(format!("#{r:02x}{g:02x}{b:02x}")));
                let mut facts = CssFacts::default();
                facts.scan(&format!("a {{ color: {written} }}"));
                prop_assert_eq!(facts.most_used_colors(), vec![Rgb(r, g, b)]);
            }
        }
    }
}

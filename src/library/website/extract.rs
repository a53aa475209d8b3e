//! What a page says about its brand (B5), from the events of a streaming HTML parser:
//! names, theme colour, stylesheets, Google Fonts, logo candidates and sample copy.
//! Everything is bounded, whatever the page holds.

use super::css::{parse_color, Rgb};
use crate::platform::ports::HtmlEvent;

const MAX_TEXT_CHARS: usize = 4000;
const MAX_HEADINGS: usize = 10;
const MAX_PARAGRAPHS: usize = 20;
const MAX_LINKS: usize = 10;
pub const MAX_INLINE_CSS: usize = 256 * 1024;

/// A logo candidate: where it is and how strongly the page says it is the logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoCandidate {
    pub href: String,
    /// Higher is better: apple-touch-icon, then large icons, then og:image.
    pub rank: u32,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageFacts {
    pub site_name: Option<String>,
    pub application_name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub theme_color: Option<Rgb>,
    pub stylesheets: Vec<String>,
    pub logos: Vec<LogoCandidate>,
    pub headings: Vec<String>,
    pub paragraphs: Vec<String>,
    pub inline_css: String,
}

/// Decodes the character references that appear in real pages' text and attributes.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.char_indices().take(12).find(|(_, c)| *c == ';').map(|(i, _)| i);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "hellip" => Some('…'),
                "rsquo" => Some('’'),
                "lsquo" => Some('‘'),
                "ldquo" => Some('“'),
                "rdquo" => Some('”'),
                "copy" => Some('©'),
                _ => {
                    let number = name.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse::<u32>().ok()?,
                    };
                    char::from_u32(code).filter(|c| *c != '\0')
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One line of text: entities decoded, whitespace collapsed, control characters gone,
/// at most `max` characters (cut at a word where possible).
pub fn clean_text(raw: &str, max: usize) -> String {
    let decoded = decode_entities(raw);
    let words: Vec<&str> = decoded.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let mut out = String::new();
    for word in words {
        let needed = out.chars().count() + usize::from(!out.is_empty()) + word.chars().count();
        if needed > max {
            if out.is_empty() {
                out = word.chars().take(max).collect();
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The largest square size an icon declares (`sizes="180x180"`), 0 when unknown.
fn icon_size(sizes: Option<&str>) -> u32 {
    sizes
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|s| s.to_ascii_lowercase().split_once('x').and_then(|(w, _)| w.parse::<u32>().ok()))
        .max()
        .unwrap_or(0)
        .min(2048)
}

/// Formats the upload accepts (PNG, JPEG, WebP, GIF): an SVG or ICO icon is skipped.
fn may_be_raster(href: &str, kind: Option<&str>) -> bool {
    let path = href.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
    let kind = kind.unwrap_or("").to_ascii_lowercase();
    !(path.ends_with(".svg") || path.ends_with(".ico") || kind.contains("svg") || kind.contains("icon"))
}

#[derive(Default)]
struct Extractor {
    facts: PageFacts,
    /// The element whose text is being collected, and its text so far.
    open: Option<(String, String)>,
}

impl Extractor {
    fn flush(&mut self) {
        let Some((tag, text)) = self.open.take() else { return };
        let f = &mut self.facts;
        match tag.as_str() {
            "style" => {}
            "title" if f.title.is_none() => f.title = Some(clean_text(&text, 200)).filter(|t| !t.is_empty()),
            "h1" | "h2" if f.headings.len() < MAX_HEADINGS => {
                let t = clean_text(&text, 200);
                if !t.is_empty() && !f.headings.contains(&t) {
                    f.headings.push(t);
                }
            }
            "p" if f.paragraphs.len() < MAX_PARAGRAPHS => {
                let t = clean_text(&text, 600);
                if t.chars().count() >= 20 && !f.paragraphs.contains(&t) {
                    f.paragraphs.push(t);
                }
            }
            _ => {}
        }
    }

    fn element(&mut self, tag: &str, attrs: &[(String, String)]) {
        let tag = tag.to_ascii_lowercase();
        let value = |name: &str| attr(attrs, name).map(decode_entities);
        match tag.as_str() {
            "meta" => {
                let key = value("name").or_else(|| value("property")).unwrap_or_default().trim().to_ascii_lowercase();
                let Some(content) = value("content") else { return };
                let f = &mut self.facts;
                let text = |max| Some(clean_text(&content, max)).filter(|t| !t.is_empty());
                match key.as_str() {
                    // A dark-scheme theme colour is the second choice.
                    "theme-color" if f.theme_color.is_none() && !value("media").unwrap_or_default().contains("dark") => {
                        f.theme_color = parse_color(&content)
                    }
                    "og:site_name" if f.site_name.is_none() => f.site_name = text(80),
                    "application-name" if f.application_name.is_none() => f.application_name = text(80),
                    "description" => f.description = text(1000).or(f.description.take()),
                    "og:description" if f.description.is_none() => f.description = text(1000),
                    "og:image" | "og:image:url" => {
                        let href = content.trim().to_owned();
                        if !href.is_empty() && f.logos.len() < MAX_LINKS && may_be_raster(&href, None) {
                            f.logos.push(LogoCandidate { href, rank: 1 });
                        }
                    }
                    _ => {}
                }
            }
            "link" => {
                let rel = value("rel").unwrap_or_default().to_ascii_lowercase();
                let rels: Vec<&str> = rel.split_whitespace().collect();
                let Some(href) = value("href").map(|h| h.trim().to_owned()).filter(|h| !h.is_empty()) else { return };
                let f = &mut self.facts;
                if rels.contains(&"stylesheet") && !rels.contains(&"alternate") {
                    if f.stylesheets.len() < MAX_LINKS && !f.stylesheets.contains(&href) {
                        f.stylesheets.push(href);
                    }
                } else if rels.iter().any(|r| r.starts_with("apple-touch-icon")) || rels.contains(&"icon") {
                    if f.logos.len() < MAX_LINKS && may_be_raster(&href, value("type").as_deref()) {
                        let apple = rels.iter().any(|r| r.starts_with("apple-touch-icon"));
                        let size = icon_size(value("sizes").as_deref()).max(if apple { 180 } else { 0 });
                        // Favicons (16, 32 px) are poor logos: they rank below og:image.
                        let rank = if apple { 10_000 + size } else if size >= 96 { 2 + size } else { 0 };
                        f.logos.push(LogoCandidate { href, rank });
                    }
                }
            }
            "title" | "h1" | "h2" | "p" | "style" => {
                self.flush();
                self.open = Some((tag, String::new()));
            }
            _ => {}
        }
    }

    fn text(&mut self, tag: &str, text: &str) {
        let tag = tag.to_ascii_lowercase();
        if tag == "style" {
            // Raw CSS: no entities in <style>, and no cut at words.
            let room = MAX_INLINE_CSS.saturating_sub(self.facts.inline_css.len());
            let mut end = text.len().min(room);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            self.facts.inline_css.push_str(&text[..end]);
            return;
        }
        if self.open.as_ref().is_none_or(|(open, _)| *open != tag) {
            self.flush();
            self.open = Some((tag, String::new()));
        }
        if let Some((_, buffer)) = &mut self.open {
            if buffer.len() < MAX_TEXT_CHARS * 4 {
                buffer.push_str(text);
            }
        }
    }
}

/// Reads a page's facts from its parser events.
pub fn extract(events: &[HtmlEvent]) -> PageFacts {
    let mut x = Extractor::default();
    for event in events {
        match event {
            HtmlEvent::Element { tag, attrs } => x.element(tag, attrs),
            HtmlEvent::Text { tag, text } => x.text(tag, text),
        }
    }
    x.flush();
    // Best first; the order of the page breaks ties.
    x.facts.logos.sort_by(|a, b| b.rank.cmp(&a.rank));
    x.facts
}

impl PageFacts {
    /// The brand's name: og:site_name, application-name, or the title's first part
    /// ("Fernleaf Coffee | Home" → "Fernleaf Coffee").
    pub fn name(&self) -> Option<String> {
        self.site_name.clone().or_else(|| self.application_name.clone()).or_else(|| {
            let title = self.title.as_deref()?;
            let first = [" | ", " — ", " – ", " - ", " · ", " :: "].iter().fold(title, |t, sep| t.split(sep).next().unwrap_or(t));
            Some(clean_text(first, 80)).filter(|n| !n.is_empty())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(tag: &str, attrs: &[(&str, &str)]) -> HtmlEvent {
        HtmlEvent::Element { tag: tag.into(), attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }
    fn text(tag: &str, t: &str) -> HtmlEvent {
        HtmlEvent::Text { tag: tag.into(), text: t.into() }
    }

    #[test]
    fn entities_are_decoded_and_unknown_ones_kept() {
        assert_eq!(decode_entities("Fish &amp; Chips &#8212; &#x2019;&nbsp;&bogus; & &#0;"), "Fish & Chips — ’ &bogus; & &#0;");
        assert_eq!(clean_text("  Hello \n\t  world  ", 100), "Hello world");
        assert_eq!(clean_text("one two three", 9), "one two");
    }

    #[test]
    fn metadata_links_and_copy_are_read() {
        let facts = extract(&[
            el("title", &[]),
            text("title", "Fernleaf Coffee &amp; Co | Home"),
            el("meta", &[("name", "theme-color"), ("content", "#0F766E")]),
            el("meta", &[("name", "description"), ("content", "Small-batch coffee, roasted weekly.")]),
            el("meta", &[("property", "og:image"), ("content", "/og.png")]),
            el("link", &[("rel", "icon"), ("href", "/favicon.svg"), ("type", "image/svg+xml")]),
            el("link", &[("rel", "icon"), ("href", "/favicon-32.png"), ("sizes", "32x32")]),
            el("link", &[("rel", "apple-touch-icon"), ("href", "/apple-touch-icon.png")]),
            el("link", &[("rel", "stylesheet"), ("href", "/site.css")]),
            el("h1", &[]),
            text("h1", "Coffee for slow mornings"),
            el("p", &[]),
            text("p", "We roast in small batches "),
            text("p", "so every bag is fresh."),
            el("p", &[]),
            text("p", "Too short."),
            el("style", &[]),
            text("style", ":root { --brand: #f59e0b }"),
        ]);
        assert_eq!(facts.name().as_deref(), Some("Fernleaf Coffee & Co"));
        assert_eq!(facts.theme_color, Some(Rgb(0x0f, 0x76, 0x6e)));
        assert_eq!(facts.description.as_deref(), Some("Small-batch coffee, roasted weekly."));
        assert_eq!(facts.stylesheets, vec!["/site.css".to_string()]);
        let logos: Vec<&str> = facts.logos.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(logos, vec!["/apple-touch-icon.png", "/og.png", "/favicon-32.png"]);
        assert_eq!(facts.headings, vec!["Coffee for slow mornings".to_string()]);
        assert_eq!(facts.paragraphs, vec!["We roast in small batches so every bag is fresh.".to_string()]);
        assert_eq!(facts.inline_css, ":root { --brand: #f59e0b }");
    }

    #[test]
    fn site_name_beats_application_name_beats_title() {
        let facts = extract(&[
            el("title", &[]),
            text("title", "Home - Acme"),
            el("meta", &[("name", "application-name"), ("content", "Acme App")]),
        ]);
        assert_eq!(facts.name().as_deref(), Some("Acme App"));
        let facts = extract(&[el("meta", &[("property", "og:site_name"), ("content", "Acme")]), el("meta", &[("name", "application-name"), ("content", "Acme App")])]);
        assert_eq!(facts.name().as_deref(), Some("Acme"));
        assert_eq!(extract(&[]).name(), None);
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        fn event() -> impl Strategy<Value = HtmlEvent> {
            let tag = proptest::sample::select(vec!["meta", "link", "title", "h1", "h2", "p", "style", "div", "META"]);
            let name = proptest::sample::select(vec!["name", "property", "content", "rel", "href", "sizes", "type", "media"]);
            prop_oneof![
                (tag.clone(), proptest::collection::vec((name, tricky_text(30)), 0..5))
                    .prop_map(|(t, a)| HtmlEvent::Element { tag: t.into(), attrs: a.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }),
                (tag, tricky_text(80)).prop_map(|(t, text)| HtmlEvent::Text { tag: t.into(), text }),
            ]
        }

        proptest! {
            #![proptest_config(config())]

            /// Any sequence of events gives bounded, clean facts.
            #[test]
            fn any_events_give_bounded_clean_facts(events in proptest::collection::vec(event(), 0..60)) {
                let facts = extract(&events);
                prop_assert!(facts.headings.len() <= MAX_HEADINGS && facts.paragraphs.len() <= MAX_PARAGRAPHS);
                prop_assert!(facts.logos.len() <= MAX_LINKS && facts.stylesheets.len() <= MAX_LINKS);
                prop_assert!(facts.inline_css.len() <= MAX_INLINE_CSS);
                for t in facts.headings.iter().chain(&facts.paragraphs).chain(facts.name().iter()).chain(facts.description.iter()) {
                    prop_assert!(!t.chars().any(|c| c.is_control()), "{:?}", t);
                    prop_assert!(t.chars().count() <= 1000 && t.trim() == t);
                }
                prop_assert!(facts.logos.windows(2).all(|w| w[0].rank >= w[1].rank));
            }

            #[test]
            fn decoding_never_panics_and_plain_text_is_unchanged(s in tricky_text(60)) {
                let decoded = decode_entities(&s);
                if !s.contains('&') {
                    prop_assert_eq!(decoded, s);
                }
            }
        }
    }
}

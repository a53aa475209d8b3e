//! The import over the doubles: fixture pages parsed by lol_html (HTMLRewriter's
//! engine), real SQL on SQLite, in-memory R2 and a scripted text model.

use super::*;
use crate::generation::jobs::ProviderError;
use crate::testing::{block_on, FixtureWeb, MemoryBlobs, Reply, ScriptedInference, SqliteDb};

const T0: i64 = 1_800_000_000_000;
const SITE: &str = "http://127.0.0.1:8123";
const ANALYSIS: &str = r#"Sure: {"voice": "Warm and plain-spoken.", "tone": "Friendly, unhurried.", "audience": "Home baristas who buy beans weekly."}"#;

const PAGE: &str = r##"<!doctype html><html><head>
<title>Fernleaf Coffee | Home</title>
<meta name="theme-color" content="#0f766e">
<meta property="og:site_name" content="Fernleaf Coffee">
<meta name="description" content="Small-batch coffee, roasted weekly in Leeds.">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="apple-touch-icon" href="/logo.png">
<link rel="stylesheet" href="/site.css">
<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Playfair+Display:wght@700&display=swap">
<style>:root { --brand-accent: #f59e0b; }</style>
</head><body>
<h1>Coffee for slow mornings</h1>
<p>We roast in small batches, so every bag you open is <a href="/fresh">fresh</a> &amp; full of flavour.</p>
</body></html>"##;

const CSS: &str = "body { font-family: 'Inter', sans-serif; color: #1f2937; background: #ffffff }\n\
                   a, .button { color: #0f766e; border-color: #0F766E } .tag { background: #e11d48 }";

struct World {
    db: SqliteDb,
    blobs: MemoryBlobs,
    web: FixtureWeb,
    model: ScriptedInference,
    policy: HostPolicy,
}

impl World {
    fn new() -> World {
        World {
            db: SqliteDb::migrated(),
            blobs: MemoryBlobs::default(),
            web: FixtureWeb::default(),
            model: ScriptedInference::default(),
            policy: HostPolicy::allow_list("127.0.0.1:8123").unwrap(),
        }
    }

    fn site(self) -> World {
        self.web.page(&format!("{SITE}/"), "text/html; charset=utf-8", PAGE.as_bytes());
        self.web.page(&format!("{SITE}/site.css"), "text/css", CSS.as_bytes());
        self.web.page(&format!("{SITE}/logo.png"), "image/png", crate::library::images::tests::PNG_1X1);
        self
    }

    fn user(&self, credits: i64) -> String {
        let user = crate::platform::ids::new_id("usr");
        let mut batch = vec![crate::accounts::queries::insert_user(&user, "A", &format!("{user}@example.com"), "x", T0), ledger::open_account(&user, T0)];
        if credits > 0 {
            batch.extend(ledger::grant(&user, ledger::EntryKind::Grant, credits, &format!("grant:test:{user}"), T0));
        }
        block_on(self.db.batch(batch)).unwrap();
        user
    }

    fn import(&self, user: &str, url: &str) -> Result<Imported, AppError> {
        let request = Request { user_id: user, url, upload_limits: (5 * 1024 * 1024, 100 * 1024 * 1024), now_ms: T0 };
        block_on(import_website(&self.db, &self.blobs, &self.web, &self.model, &self.policy, request))
    }

    fn balance(&self, user: &str) -> i64 {
        block_on(ledger::balance(&self.db, user)).unwrap().balance
    }

    fn charges(&self, user: &str) -> i64 {
        self.db.scalar(&format!("SELECT COUNT(*) FROM ledger_entries WHERE user_id = '{user}' AND reference LIKE 'import:%'"))
    }

    fn uploads(&self, user: &str) -> i64 {
        self.db.scalar(&format!("SELECT COUNT(*) FROM uploads WHERE user_id = '{user}'"))
    }
}

fn colors(imported: &Imported) -> Vec<(String, String)> {
    imported.fields.colors.iter().map(|c| (c.hex.clone(), c.role.clone())).collect()
}

#[test]
fn a_site_gives_its_name_colours_fonts_logo_copy_and_voice_and_costs_the_price_once() {
    let w = World::new().site();
    w.model.then(Reply::Text(ANALYSIS));
    let user = w.user(10);

    let imported = w.import(&user, &format!("{SITE}/")).unwrap();

    let f = &imported.fields;
    assert_eq!(f.name, "Fernleaf Coffee");
    assert_eq!(f.description, "Small-batch coffee, roasted weekly in Leeds.");
    assert_eq!(
        colors(&imported),
        vec![("#0f766e".into(), "primary".into()), ("#f59e0b".into(), "accent".into()), ("#1f2937".into(), "other".into()), ("#e11d48".into(), "other".into())]
    );
    assert_eq!(f.fonts, vec!["Playfair Display".to_string(), "Inter".to_string()]);
    assert_eq!(f.example_content, vec!["Coffee for slow mornings".to_string(), "We roast in small batches, so every bag you open is fresh & full of flavour.".to_string()]);
    assert_eq!(f.voice, "Warm and plain-spoken. Tone: Friendly, unhurried.");
    assert_eq!(imported.tone, "Friendly, unhurried.");
    assert_eq!(f.audience, "Home baristas who buy beans weekly.");
    let logo = imported.logo.as_ref().expect("the apple-touch-icon is stored");
    assert_eq!(f.logo_upload_id.as_deref(), Some(logo.id.as_str()));
    assert_eq!((logo.content_type.as_str(), logo.filename.as_str()), ("image/png", "logo.png"));
    assert_eq!(w.blobs.keys(), vec![uploads::r2_key(&user, &logo.id)]);
    assert!(imported.not_found.is_empty(), "{:?}", imported.not_found);
    assert!(!w.web.was_fetched(&format!("{SITE}/favicon.svg")), "an SVG icon is not a logo the uploads accept");

    assert_eq!((w.balance(&user), w.charges(&user)), (10 - PRICE, 1));
    assert_eq!(w.model.calls.get(), 1);
}

#[test]
fn the_same_page_imported_twice_is_two_imports_each_charged_once() {
    let w = World::new().site();
    let user = w.user(10);
    w.model.then(Reply::Text(ANALYSIS)).then(Reply::Text(ANALYSIS));
    w.import(&user, &format!("{SITE}/")).unwrap();
    w.import(&user, &format!("{SITE}/")).unwrap();
    assert_eq!((w.balance(&user), w.charges(&user)), (10 - 2 * PRICE, 2));
}

#[test]
fn a_redirect_to_a_host_not_allowed_is_refused_and_nothing_is_fetched_from_it() {
    let w = World::new().site();
    w.web.redirect(&format!("{SITE}/moved"), "http://127.0.0.1:9999/secret");
    w.web.page("http://127.0.0.1:9999/secret", "text/html", PAGE.as_bytes());
    let user = w.user(10);

    let err = w.import(&user, &format!("{SITE}/moved")).unwrap_err();

    let AppError::Validation { field, detail } = err else { panic!("{err:?}") };
    assert_eq!(field, "url");
    assert!(detail.contains("\"127.0.0.1\"") && detail.contains("nothing was charged"), "{detail}");
    assert!(!w.web.was_fetched("http://127.0.0.1:9999/secret"));
    assert_eq!((w.balance(&user), w.charges(&user), w.uploads(&user)), (10, 0, 0));
}

#[test]
fn redirects_within_the_allowed_host_are_followed_at_most_three_times() {
    let w = World::new().site();
    w.model.then(Reply::Text(ANALYSIS));
    w.web.redirect(&format!("{SITE}/a"), "/b").redirect(&format!("{SITE}/b"), "/");
    let user = w.user(10);
    assert_eq!(w.import(&user, &format!("{SITE}/a")).unwrap().source_url, format!("{SITE}/"));

    for (from, to) in [("/l1", "/l2"), ("/l2", "/l3"), ("/l3", "/l4"), ("/l4", "/l5")] {
        w.web.redirect(&format!("{SITE}{from}"), to);
    }
    let err = w.import(&user, &format!("{SITE}/l1")).unwrap_err();
    assert!(matches!(&err, AppError::Validation { detail, .. } if detail.contains("more than 3 times")), "{err:?}");
    assert!(w.web.was_fetched(&format!("{SITE}/l4")), "three redirects are followed");
    assert!(!w.web.was_fetched(&format!("{SITE}/l5")), "the fourth is not");
    assert_eq!(w.charges(&user), 1);
}

#[test]
fn a_failed_import_costs_nothing_and_leaves_no_upload() {
    let w = World::new().site();
    let user = w.user(10);
    // The model is down.
    w.model.then(Reply::Fail(ProviderError::Transient("503".into())));
    assert!(matches!(w.import(&user, &format!("{SITE}/")), Err(AppError::ServiceUnavailable { .. })));
    // The model answers something that is not the analysis.
    w.model.then(Reply::Text("I cannot help with that."));
    assert!(matches!(w.import(&user, &format!("{SITE}/")), Err(AppError::ServiceUnavailable { .. })));
    // The site is down, or not a web page.
    assert!(matches!(w.import(&user, &format!("{SITE}/gone")), Err(AppError::Validation { .. })));
    w.web.page(&format!("{SITE}/data.json"), "application/json", b"{}");
    assert!(matches!(w.import(&user, &format!("{SITE}/data.json")), Err(AppError::Validation { .. })));
    // An empty page.
    w.web.page(&format!("{SITE}/empty"), "text/html", b"<html><body><div></div></body></html>");
    assert!(matches!(w.import(&user, &format!("{SITE}/empty")), Err(AppError::Validation { .. })));
    assert_eq!((w.balance(&user), w.charges(&user), w.uploads(&user)), (10, 0, 0));
    assert!(w.blobs.keys().is_empty());
}

#[test]
fn a_charge_that_fails_removes_the_stored_logo() {
    let w = World::new().site();
    w.model.then(Reply::Text(ANALYSIS));
    let user = w.user(10);
    w.db.fail_next("INSERT INTO ledger_entries");
    assert!(w.import(&user, &format!("{SITE}/")).is_err());
    assert_eq!((w.balance(&user), w.charges(&user), w.uploads(&user)), (10, 0, 0));
    assert!(w.blobs.keys().is_empty());
}

#[test]
fn without_enough_credits_nothing_is_fetched() {
    let w = World::new().site();
    let user = w.user(1);
    assert!(matches!(w.import(&user, &format!("{SITE}/")), Err(AppError::PaymentRequired { .. })));
    assert!(w.web.fetched.borrow().is_empty());
    assert_eq!(w.charges(&user), 0);
}

#[test]
fn a_url_the_policy_refuses_is_a_validation_error_before_anything_else() {
    let w = World::new().site();
    let user = w.user(10);
    for url in ["https://example.com/", "http://169.254.169.254/", "ftp://127.0.0.1:8123/"] {
        assert!(matches!(w.import(&user, url), Err(AppError::Validation { ref field, .. }) if field == "url"), "{url}");
    }
    assert!(w.web.fetched.borrow().is_empty());
}

#[test]
fn a_page_without_copy_skips_the_model_and_says_what_it_missed() {
    let w = World::new();
    w.web.page(&format!("{SITE}/"), "text/html", br##"<html><head><meta name="theme-color" content="#123456"></head></html>"##);
    let user = w.user(10);
    let imported = w.import(&user, &format!("{SITE}/")).unwrap();
    assert_eq!(colors(&imported), vec![("#123456".into(), "primary".into())]);
    assert_eq!(imported.not_found, vec!["name", "description", "fonts", "logo", "voice", "tone", "audience", "example_content"]);
    assert_eq!(w.model.calls.get(), 0);
    assert_eq!(w.charges(&user), 1);
}

#[test]
fn the_analysis_is_read_from_json_anywhere_in_the_reply() {
    let a = parse_analysis("```json\n{\"voice\": \" Bold \", \"audience\": \"Runners\", \"tone\": 3}\n```").unwrap();
    assert_eq!(a, Analysis { voice: "Bold".into(), tone: String::new(), audience: "Runners".into() });
    assert_eq!(parse_analysis("no json"), None);
    assert_eq!(parse_analysis("{\"voice\": \"\"}"), None);
}

mod properties {
    use super::*;
    use crate::proptest_text::{bytes, config, tricky_text};
    use proptest::prelude::*;

    fn page() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            bytes(300),
            tricky_text(200).prop_map(String::into_bytes),
            (tricky_text(40), tricky_text(40), "#[0-9a-fA-F]{3,8}").prop_map(|(title, p, color)| format!(
                "<title>{title}</title><meta name=theme-color content='{color}'><link rel=stylesheet href=/site.css><p>{p}</p><link rel=icon href='{p}'>"
            ).into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// Whatever the page holds, the import either answers valid brand fields and
        /// charges exactly the price, or fails and charges nothing.
        #[test]
        fn any_page_is_imported_and_charged_once_or_refused_for_free(body in page(), model_up in any::<bool>()) {
            let w = World::new().site();
            w.web.page(&format!("{SITE}/any"), "text/html", &body);
            w.model.then(if model_up { Reply::Text(ANALYSIS) } else { Reply::Fail(ProviderError::Transient("down".into())) });
            let user = w.user(10);
            match w.import(&user, &format!("{SITE}/any")) {
                Ok(imported) => {
                    prop_assert_eq!((w.balance(&user), w.charges(&user)), (10 - PRICE, 1));
                    let f = imported.fields;
                    let input = crate::library::brands::BrandInput {
                        name: Some(if f.name.is_empty() { "x".into() } else { f.name }),
                        description: Some(f.description), voice: Some(f.voice), audience: Some(f.audience),
                        colors: Some(f.colors), fonts: Some(f.fonts), example_content: Some(f.example_content),
                        ..Default::default()
                    };
                    let valid = crate::library::brands::BrandFields::apply(crate::library::brands::BrandFields::empty(), &input);
                    prop_assert!(valid.is_ok(), "{:?}", valid);
                }
                Err(_) => prop_assert_eq!((w.balance(&user), w.charges(&user), w.uploads(&user)), (10, 0, 0)),
            }
        }
    }
}

//! Brands (B1, B4): every field a brand has, its validation, and its SQL.
//! List fields are stored as JSON text (portable to Postgres as `text`).

use crate::http::pagination::Page;
use crate::platform::db::{Db, DbError, Statement};
use crate::http::problem::AppError;
use serde::{Deserialize, Serialize};

pub const COLOR_ROLES: [&str; 6] = ["primary", "secondary", "accent", "background", "text", "other"];
pub const MAX_REFERENCES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Color {
    pub hex: String,
    pub role: String,
}

/// The editable fields, as the API takes them; `None` means "not sent" (PATCH). A field
/// sent as `null` is refused (422) rather than read as "not sent", except the logo,
/// where `null` removes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandInput {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub voice: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub audience: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub words_to_use: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub words_to_avoid: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub banned_claims: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub colors: Option<Vec<Color>>,
    #[serde(default, deserialize_with = "present")]
    pub fonts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub example_content: Option<Vec<String>>,
    /// `Some(None)` (JSON null) removes the logo.
    #[serde(default, with = "double_option")]
    pub logo_upload_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub reference_upload_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub archived: Option<bool>,
}

/// A field that may be absent but, when sent, holds a value: `null` is a type error.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Distinguishes an absent field from an explicit `null`.
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(d)?))
    }
}

/// A brand's fields, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandFields {
    pub name: String,
    pub description: String,
    pub voice: String,
    pub audience: String,
    pub words_to_use: Vec<String>,
    pub words_to_avoid: Vec<String>,
    pub banned_claims: Vec<String>,
    pub colors: Vec<Color>,
    pub fonts: Vec<String>,
    pub example_content: Vec<String>,
    pub logo_upload_id: Option<String>,
    pub reference_upload_ids: Vec<String>,
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String, AppError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(AppError::validation(field, "This field is required."));
    }
    if v.chars().count() > max {
        return Err(AppError::validation(field, format!("Use at most {max} characters.")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(AppError::validation(field, "Remove control characters."));
    }
    Ok(v.to_owned())
}

fn list(field: &str, items: &[String], max_items: usize, max_chars: usize) -> Result<Vec<String>, AppError> {
    if items.len() > max_items {
        return Err(AppError::validation(field, format!("Use at most {max_items} entries.")));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let v = text(field, item, max_chars, false)?;
        if v.contains('\n') {
            return Err(AppError::validation(field, "Each entry is one line."));
        }
        if !v.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&v)) {
            out.push(v);
        }
    }
    Ok(out)
}

/// `#RRGGBB` (any case, stored lower-case); `#RGB` is expanded.
pub fn parse_hex(hex: &str) -> Option<String> {
    let h = hex.trim().strip_prefix('#')?;
    if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match h.len() {
        6 => Some(format!("#{}", h.to_ascii_lowercase())),
        3 => Some(format!("#{}", h.chars().flat_map(|c| [c, c]).collect::<String>().to_ascii_lowercase())),
        _ => None,
    }
}

fn colors(items: &[Color]) -> Result<Vec<Color>, AppError> {
    if items.len() > 12 {
        return Err(AppError::validation("colors", "Use at most 12 colours."));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let hex = parse_hex(&c.hex).ok_or_else(|| {
                AppError::validation(format!("colors[{i}].hex"), format!("{:?} is not a hex colour like #1a2b3c.", c.hex))
            })?;
            if !COLOR_ROLES.contains(&c.role.as_str()) {
                return Err(AppError::validation(format!("colors[{i}].role"), format!("Use one of: {}.", COLOR_ROLES.join(", "))));
            }
            Ok(Color { hex, role: c.role.clone() })
        })
        .collect()
}

impl BrandFields {
    /// Applies an input over `base` (all defaults for a new brand), validating each field.
    pub fn apply(base: BrandFields, input: &BrandInput) -> Result<BrandFields, AppError> {
        let mut f = base;
        if let Some(v) = &input.name {
            f.name = text("name", v, 80, true)?;
        }
        if f.name.is_empty() {
            return Err(AppError::validation("name", "Give the brand a name."));
        }
        if let Some(v) = &input.description {
            f.description = text("description", v, 1000, false)?;
        }
        if let Some(v) = &input.voice {
            f.voice = text("voice", v, 1000, false)?;
        }
        if let Some(v) = &input.audience {
            f.audience = text("audience", v, 500, false)?;
        }
        if let Some(v) = &input.words_to_use {
            f.words_to_use = list("words_to_use", v, 50, 60)?;
        }
        if let Some(v) = &input.words_to_avoid {
            f.words_to_avoid = list("words_to_avoid", v, 50, 60)?;
        }
        if let Some(v) = &input.banned_claims {
            f.banned_claims = list("banned_claims", v, 30, 200)?;
        }
        if let Some(v) = &input.colors {
            f.colors = colors(v)?;
        }
        if let Some(v) = &input.fonts {
            f.fonts = list("fonts", v, 6, 60)?;
        }
        if let Some(v) = &input.example_content {
            if v.len() > 5 {
                return Err(AppError::validation("example_content", "Use at most 5 examples."));
            }
            f.example_content = v.iter().map(|e| text("example_content", e, 2000, false)).filter(|r| !matches!(r, Ok(s) if s.is_empty())).collect::<Result<_, _>>()?;
        }
        if let Some(v) = &input.logo_upload_id {
            f.logo_upload_id = v.clone();
        }
        if let Some(v) = &input.reference_upload_ids {
            if v.len() > MAX_REFERENCES {
                return Err(AppError::validation("reference_upload_ids", format!("Use at most {MAX_REFERENCES} reference images.")));
            }
            let mut ids: Vec<String> = Vec::new();
            for id in v {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            f.reference_upload_ids = ids;
        }
        Ok(f)
    }

    pub fn empty() -> BrandFields {
        BrandFields {
            name: String::new(),
            description: String::new(),
            voice: String::new(),
            audience: String::new(),
            words_to_use: Vec::new(),
            words_to_avoid: Vec::new(),
            banned_claims: Vec::new(),
            colors: Vec::new(),
            fonts: Vec::new(),
            example_content: Vec::new(),
            logo_upload_id: None,
            reference_upload_ids: Vec::new(),
        }
    }

    /// Every upload this brand refers to.
    pub fn upload_ids(&self) -> Vec<&str> {
        self.logo_upload_id.iter().map(String::as_str).chain(self.reference_upload_ids.iter().map(String::as_str)).collect()
    }
}

/// A brand as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Brand {
    pub id: String,
    #[serde(flatten)]
    pub fields: BrandFields,
    pub archived: bool,
    #[serde(skip)]
    pub archived_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Deserialize)]
struct BrandRow {
    id: String,
    name: String,
    description: String,
    voice: String,
    audience: String,
    words_to_use: String,
    words_to_avoid: String,
    banned_claims: String,
    colors: String,
    fonts: String,
    example_content: String,
    logo_upload_id: Option<String>,
    archived_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

fn from_json<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

impl BrandRow {
    fn into_brand(self, reference_upload_ids: Vec<String>) -> Brand {
        let r = self;
        Brand {
            id: r.id,
            fields: BrandFields {
                name: r.name,
                description: r.description,
                voice: r.voice,
                audience: r.audience,
                words_to_use: from_json(&r.words_to_use),
                words_to_avoid: from_json(&r.words_to_avoid),
                banned_claims: from_json(&r.banned_claims),
                colors: from_json(&r.colors),
                fonts: from_json(&r.fonts),
                example_content: from_json(&r.example_content),
                logo_upload_id: r.logo_upload_id,
                reference_upload_ids,
            },
            archived: r.archived_at.is_some(),
            archived_at: r.archived_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT_BRAND: &str = "SELECT b.id, b.name, b.description, b.voice, b.audience, b.words_to_use, b.words_to_avoid, \
    b.banned_claims, b.colors, b.fonts, b.example_content, b.logo_upload_id, \
    b.archived_at, b.created_at, b.updated_at FROM brands b";

/// The brands with their reference images in position order: one more query for the
/// whole page (aggregating in SQL would need `group_concat` on SQLite and `string_agg`
/// on Postgres; this is the same on both).
async fn with_references(db: &impl Db, rows: Vec<BrandRow>) -> Result<Vec<Brand>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(Deserialize)]
    struct Reference {
        brand_id: String,
        upload_id: String,
    }
    let placeholders = vec!["?"; rows.len()].join(", ");
    let mut statement = Statement::new(format!(
        "SELECT brand_id, upload_id FROM brand_references WHERE brand_id IN ({placeholders}) ORDER BY brand_id, position"
    ));
    for row in &rows {
        statement = statement.bind(row.id.as_str());
    }
    let references: Vec<Reference> = db.query(statement).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let ids = references.iter().filter(|r| r.brand_id == row.id).map(|r| r.upload_id.clone()).collect();
            row.into_brand(ids)
        })
        .collect())
}

pub async fn find_brand(db: &impl Db, user_id: &str, id: &str) -> Result<Option<Brand>, DbError> {
    let rows: Vec<BrandRow> = db
        .query(Statement::new(format!("{SELECT_BRAND} WHERE b.id = ? AND b.user_id = ?")).bind(id).bind(user_id))
        .await?;
    Ok(with_references(db, rows).await?.into_iter().next())
}

/// Which brands a list shows: the ones in use, or the archived ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shelf {
    Active,
    Archived,
}

/// Newest first.
pub async fn list_brands(db: &impl Db, user_id: &str, shelf: Shelf, page: &Page) -> Result<Vec<Brand>, DbError> {
    let archived_test = match shelf {
        Shelf::Active => "IS NULL",
        Shelf::Archived => "IS NOT NULL",
    };
    let statement = Statement::new(format!("{SELECT_BRAND} WHERE b.user_id = ? AND b.archived_at {archived_test}")).bind(user_id);
    let rows: Vec<BrandRow> = db.query(page.newest_first(statement)).await?;
    with_references(db, rows).await
}

/// True when a brand other than `brand_id` uses the upload (as logo or reference).
pub async fn upload_used_by_another_brand(db: &impl Db, brand_id: &str, upload_id: &str) -> Result<bool, DbError> {
    let rows = db
        .run(
            Statement::new(
                "SELECT 1 AS used FROM brands WHERE id <> ? AND logo_upload_id = ? \
                 UNION ALL SELECT 1 FROM brand_references WHERE brand_id <> ? AND upload_id = ? LIMIT 1",
            )
            .bind(brand_id)
            .bind(upload_id)
            .bind(brand_id)
            .bind(upload_id),
        )
        .await?;
    Ok(!rows.rows.is_empty())
}

/// Deletes a brand and its reference list (the files are the caller's business).
pub fn delete_brand(user_id: &str, id: &str) -> Vec<Statement> {
    vec![
        Statement::new("DELETE FROM brand_references WHERE brand_id = ?").bind(id),
        Statement::new("DELETE FROM brands WHERE id = ? AND user_id = ?").bind(id).bind(user_id),
    ]
}

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Whether `write_brand` makes a new brand or changes an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Insert,
    Update,
}

/// Statements that write a brand's fields and replace its references.
pub fn write_brand(user_id: &str, id: &str, f: &BrandFields, archived_at: Option<i64>, created_at: i64, now_ms: i64, write: Write) -> Vec<Statement> {
    let main = if write == Write::Insert {
        Statement::new(
            "INSERT INTO brands (name, description, voice, audience, words_to_use, words_to_avoid, banned_claims, colors, fonts, \
             example_content, logo_upload_id, archived_at, created_at, updated_at, id, user_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
    } else {
        Statement::new(
            "UPDATE brands SET name = ?, description = ?, voice = ?, audience = ?, words_to_use = ?, words_to_avoid = ?, \
             banned_claims = ?, colors = ?, fonts = ?, example_content = ?, logo_upload_id = ?, archived_at = ?, \
             created_at = ?, updated_at = ? WHERE id = ? AND user_id = ?",
        )
    }
    .bind(&f.name)
    .bind(&f.description)
    .bind(&f.voice)
    .bind(&f.audience)
    .bind(json(&f.words_to_use))
    .bind(json(&f.words_to_avoid))
    .bind(json(&f.banned_claims))
    .bind(json(&f.colors))
    .bind(json(&f.fonts))
    .bind(json(&f.example_content))
    .bind(f.logo_upload_id.clone())
    .bind(archived_at)
    .bind(created_at)
    .bind(now_ms)
    .bind(id)
    .bind(user_id);
    let mut out = vec![main, Statement::new("DELETE FROM brand_references WHERE brand_id = ?").bind(id)];
    for (position, upload_id) in f.reference_upload_ids.iter().enumerate() {
        out.push(
            Statement::new("INSERT INTO brand_references (brand_id, upload_id, position) VALUES (?, ?, ?)")
                .bind(id)
                .bind(upload_id)
                .bind(position as i64),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> BrandInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn brands_come_back_with_their_references_in_order_from_one_portable_query() {
        use crate::testing::{block_on, SqliteDb};
        let db = SqliteDb::migrated();
        db.exec("INSERT INTO users (id, name, email, password_hash, policy_version, created_at, updated_at) VALUES ('u', 'N', 'e@x', 'x', 'v', 0, 0)");
        for id in ["upl_c", "upl_a", "upl_b"] {
            db.exec(&format!("INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, status, created_at) VALUES ('{id}', 'u', 'k{id}', 'f', 'image/png', 1, 'ready', 0)"));
        }
        let mut with_refs = BrandFields::empty();
        with_refs.name = "One".into();
        with_refs.reference_upload_ids = vec!["upl_c".into(), "upl_a".into(), "upl_b".into()];
        let mut without = BrandFields::empty();
        without.name = "Two".into();
        block_on(db.batch(write_brand("u", "brd_1", &with_refs, None, 1, 1, Write::Insert))).unwrap();
        block_on(db.batch(write_brand("u", "brd_2", &without, None, 2, 2, Write::Insert))).unwrap();
        let one = block_on(find_brand(&db, "u", "brd_1")).unwrap().unwrap();
        assert_eq!(one.fields.reference_upload_ids, vec!["upl_c", "upl_a", "upl_b"]);
        let listed = block_on(list_brands(&db, "u", Shelf::Active, &Page::first(10))).unwrap();
        let refs: Vec<_> = listed.iter().map(|b| (b.id.as_str(), b.fields.reference_upload_ids.len())).collect();
        assert_eq!(refs, vec![("brd_2", 0), ("brd_1", 3)]);
    }

    #[test]
    fn a_full_brand_validates_and_normalises() {
        let f = BrandFields::apply(
            BrandFields::empty(),
            &input(r##"{"name":" Fernleaf ","voice":"warm","words_to_use":["cosy","Cosy"," local "],"colors":[{"hex":"#0E7C66","role":"primary"},{"hex":"#fff","role":"background"}],"logo_upload_id":"upl_1","reference_upload_ids":["upl_2","upl_2","upl_3"]}"##),
        )
        .unwrap();
        assert_eq!(f.name, "Fernleaf");
        assert_eq!(f.words_to_use, vec!["cosy", "local"]);
        assert_eq!(f.colors[0].hex, "#0e7c66");
        assert_eq!(f.colors[1].hex, "#ffffff");
        assert_eq!(f.upload_ids(), vec!["upl_1", "upl_2", "upl_3"]);
    }

    #[test]
    fn invalid_values_name_the_field() {
        let field = |json: &str| match BrandFields::apply(BrandFields::empty(), &input(json)).unwrap_err() {
            AppError::Validation { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(r#"{"name":"  "}"#), "name");
        assert_eq!(field(r#"{"name":"x","colors":[{"hex":"red","role":"primary"}]}"#), "colors[0].hex");
        assert_eq!(field(r##"{"name":"x","colors":[{"hex":"#12345g","role":"primary"}]}"##), "colors[0].hex");
        assert_eq!(field(r##"{"name":"x","colors":[{"hex":"#123456","role":"hero"}]}"##), "colors[0].role");
        assert_eq!(field(&format!(r#"{{"name":"{}"}}"#, "x".repeat(81))), "name");
        assert_eq!(field(r#"{"name":"x","words_to_avoid":["two\nlines"]}"#), "words_to_avoid");
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<BrandInput>(r#"{"name":"x","colour":"red"}"#).is_err());
    }

    #[test]
    fn null_is_refused_for_every_field_but_the_logo() {
        for field in ["name", "description", "voice", "audience", "words_to_use", "words_to_avoid", "banned_claims", "colors",
            "fonts", "example_content", "reference_upload_ids", "archived"] {
            let err = serde_json::from_str::<BrandInput>(&format!(r#"{{"{field}":null}}"#)).unwrap_err();
            assert!(err.to_string().contains("null"), "{field}: {err}");
        }
        assert!(serde_json::from_str::<BrandInput>(r#"{"logo_upload_id":null}"#).is_ok());
        let absent = serde_json::from_str::<BrandInput>("{}").unwrap();
        assert!(absent.name.is_none() && absent.archived.is_none() && absent.logo_upload_id.is_none());
    }

    #[test]
    fn null_logo_removes_it_and_absent_keeps_it() {
        let base = BrandFields { logo_upload_id: Some("upl_1".into()), name: "x".into(), ..BrandFields::empty() };
        assert_eq!(BrandFields::apply(base.clone(), &input(r#"{}"#)).unwrap().logo_upload_id.as_deref(), Some("upl_1"));
        assert_eq!(BrandFields::apply(base, &input(r#"{"logo_upload_id":null}"#)).unwrap().logo_upload_id, None);
    }

    #[test]
    fn hex_colours_parse() {
        assert_eq!(parse_hex("#ABC").as_deref(), Some("#aabbcc"));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex("#abcd"), None);
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        fn list(max_items: usize, max_chars: usize) -> impl Strategy<Value = Option<Vec<String>>> {
            proptest::option::of(proptest::collection::vec(tricky_text(max_chars), 0..=max_items))
        }

        fn hex() -> impl Strategy<Value = String> {
            prop_oneof!["#[0-9a-fA-F]{6}", "#[0-9a-fA-F]{3}", " ?#?[0-9a-fA-FgG]{0,7} ?", tricky_text(8)]
        }

        fn any_input() -> impl Strategy<Value = BrandInput> {
            let color = (hex(), prop_oneof![proptest::sample::select(&COLOR_ROLES[..]).prop_map(String::from), tricky_text(6)])
                .prop_map(|(hex, role)| Color { hex, role });
            (
                (proptest::option::of(tricky_text(90)), proptest::option::of(tricky_text(60)), proptest::option::of(tricky_text(60)), proptest::option::of(tricky_text(60))),
                (list(6, 70), list(6, 70), list(4, 40), list(7, 70), list(6, 40)),
                proptest::option::of(proptest::collection::vec(color, 0..14)),
                proptest::option::of(proptest::collection::vec("upl_[a-c]", 0..12)),
            )
                .prop_map(|((name, description, voice, audience), (words_to_use, words_to_avoid, banned_claims, fonts, example_content), colors, reference_upload_ids)| BrandInput {
                    name, description, voice, audience, words_to_use, words_to_avoid, banned_claims, colors, fonts, example_content, reference_upload_ids,
                    ..BrandInput::default()
                })
        }

        /// The input that sends every field of `f` as it is.
        fn input_of(f: &BrandFields) -> BrandInput {
            BrandInput {
                name: Some(f.name.clone()),
                description: Some(f.description.clone()),
                voice: Some(f.voice.clone()),
                audience: Some(f.audience.clone()),
                words_to_use: Some(f.words_to_use.clone()),
                words_to_avoid: Some(f.words_to_avoid.clone()),
                banned_claims: Some(f.banned_claims.clone()),
                colors: Some(f.colors.clone()),
                fonts: Some(f.fonts.clone()),
                example_content: Some(f.example_content.clone()),
                logo_upload_id: Some(f.logo_upload_id.clone()),
                reference_upload_ids: Some(f.reference_upload_ids.clone()),
                archived: None,
            }
        }

        fn is_clean_text(v: &str, max: usize) -> bool {
            v.trim() == v && v.chars().count() <= max && !v.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        }

        fn is_clean_list(items: &[String], max_items: usize, max_chars: usize) -> bool {
            items.len() <= max_items
                && items.iter().all(|i| !i.is_empty() && !i.contains('\n') && is_clean_text(i, max_chars))
                && items.iter().enumerate().all(|(n, i)| !items[..n].iter().any(|o| o.eq_ignore_ascii_case(i)))
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn valid_fields_respect_every_limit(input in any_input()) {
                match BrandFields::apply(BrandFields { name: "Fernleaf".into(), ..BrandFields::empty() }, &input) {
                    Ok(f) => {
                        prop_assert!(!f.name.is_empty() && is_clean_text(&f.name, 80));
                        prop_assert!(is_clean_text(&f.description, 1000) && is_clean_text(&f.voice, 1000) && is_clean_text(&f.audience, 500));
                        prop_assert!(is_clean_list(&f.words_to_use, 50, 60) && is_clean_list(&f.words_to_avoid, 50, 60));
                        prop_assert!(is_clean_list(&f.banned_claims, 30, 200) && is_clean_list(&f.fonts, 6, 60));
                        prop_assert!(f.example_content.len() <= 5 && f.example_content.iter().all(|e| !e.is_empty() && is_clean_text(e, 2000)));
                        prop_assert!(f.colors.len() <= 12);
                        for c in &f.colors {
                            prop_assert!(c.hex.len() == 7 && c.hex.starts_with('#') && c.hex[1..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{:?}", c);
                            prop_assert!(COLOR_ROLES.contains(&c.role.as_str()));
                        }
                        prop_assert!(f.reference_upload_ids.len() <= MAX_REFERENCES);
                        prop_assert!(f.reference_upload_ids.iter().enumerate().all(|(n, id)| !f.reference_upload_ids[..n].contains(id)));
                    }
                    Err(e) => prop_assert!(matches!(e, AppError::Validation { .. }), "{:?}", e),
                }
            }

            #[test]
            fn validating_valid_fields_again_changes_nothing(input in any_input()) {
                if let Ok(f) = BrandFields::apply(BrandFields { name: "Fernleaf".into(), ..BrandFields::empty() }, &input) {
                    prop_assert_eq!(BrandFields::apply(BrandFields::empty(), &input_of(&f)), Ok(f));
                }
            }

            #[test]
            fn hex_colours_normalise_once(raw in hex()) {
                if let Some(h) = parse_hex(&raw) {
                    prop_assert!(h.len() == 7 && h == h.to_ascii_lowercase(), "{}", h);
                    prop_assert_eq!(parse_hex(&h), Some(h.clone()));
                    prop_assert_eq!(parse_hex(&raw.to_ascii_uppercase()), Some(h));
                }
            }
        }
    }
}

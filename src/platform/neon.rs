//! Neon's SQL-over-HTTP protocol, without the transport: our portable statements in,
//! JSON request bodies out; Neon's JSON answers (rows, row counts, Postgres errors) back
//! into `StatementResult` and `DbError`. `cf::adapters::neon` only POSTs what this builds.
//!
//! The protocol: `POST https://{host}/sql` with the headers of [`request_headers`], a body
//! `{"query": "…$1…", "params": [...]}` for one statement or `{"queries": [...]}` for a
//! transaction (all or nothing), answered by `{"fields":[{"name","dataTypeID"}], "rows",
//! "rowCount", "command"}` (or `{"results": [...]}`, one per query), or on failure by
//! HTTP 400 and Postgres's error fields (`message`, `code` = SQLSTATE, `constraint`, …).
//!
//! **Isolation: READ COMMITTED**, sent explicitly with every batch. Every credit invariant
//! is a single-row conditional `UPDATE` plus a `CHECK` or `UNIQUE` constraint. Under READ
//! COMMITTED a second writer of the same row waits for the first to commit, then
//! re-evaluates its `WHERE` and re-applies `balance = balance - ?` on the newest row
//! version, and the `CHECK` is tested on that result; an insert of a duplicate reference
//! waits for the first inserter and then fails with 23505. So the ledger stays exact, and
//! contended batches queue instead of failing. A batch that reads before it writes (the
//! starter grant's `NOT EXISTS`) first updates the user's row: concurrent batches of that
//! user queue there, and each later statement, with a snapshot of its own, sees what the
//! earlier batch committed. SERIALIZABLE would turn the same contention
//! (hundreds of jobs on one account) into serialization failures that D1, which runs one
//! writer at a time, never reports. What READ COMMITTED does not give is D1's protection
//! for checks that read *other* rows before writing (the upload quota's `SUM` in an
//! `INSERT … SELECT`): two such inserts at the same instant can both pass.
//! Deadlocks (40P01) and serialization failures (40001) roll the whole transaction back,
//! so [`is_retryable`] lets the adapter send it again.

use crate::platform::db::{DbError, Row, SqlValue, Statement, StatementResult};
use serde_json::{json, Map, Number, Value};

/// The isolation level named in `Neon-Batch-Isolation-Level` (see the module header).
pub const BATCH_ISOLATION_LEVEL: &str = "ReadCommitted";

/// How many times the adapter sends a transaction that Postgres rolled back for a
/// deadlock or a serialization failure.
pub const MAX_ATTEMPTS: u32 = 3;

/// The endpoint for a connection string `postgres://user:pass@host[:port]/db`:
/// `https://{host}/sql`, as Neon's own driver derives it. `override_url`
/// (`NEON_HTTP_ENDPOINT`) wins when set, for a local gateway or a proxy.
pub fn http_endpoint(connection_string: &str, override_url: Option<&str>) -> Result<String, String> {
    if let Some(url) = override_url.map(str::trim).filter(|u| !u.is_empty()) {
        return if url.starts_with("https://") || url.starts_with("http://") {
            Ok(url.to_owned())
        } else {
            Err(format!("expected an http(s) URL, got {url:?}"))
        };
    }
    let rest = connection_string
        .trim()
        .strip_prefix("postgres://")
        .or_else(|| connection_string.trim().strip_prefix("postgresql://"))
        .ok_or("expected a postgres:// or postgresql:// URL")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        // An IPv6 literal keeps its brackets in a URL.
        bracketed.split_once(']').map(|(h, _)| format!("[{h}]")).ok_or("unclosed [ in the host")?
    } else {
        host_port.split(':').next().unwrap_or("").to_owned()
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    Ok(format!("https://{host}/sql"))
}

/// The headers of every request. Raw text output: each value comes back as Postgres's
/// text form and is typed by [`parse_result`] from the column's type OID, so no value is
/// rounded on the way (a bigint stays exact). Array mode: rows are arrays in column order.
pub fn request_headers(connection_string: &str, batch: bool) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("Neon-Connection-String", connection_string.to_owned()),
        ("Neon-Raw-Text-Output", "true".to_owned()),
        ("Neon-Array-Mode", "true".to_owned()),
    ];
    if batch {
        headers.push(("Neon-Batch-Isolation-Level", BATCH_ISOLATION_LEVEL.to_owned()));
        headers.push(("Neon-Batch-Read-Only", "false".to_owned()));
    }
    headers
}

/// Rewrites each `?` placeholder outside string literals, quoted identifiers, dollar
/// quotes and comments with `placeholder(i)` (i counts from 0), and returns the new SQL
/// and how many placeholders there were. Never fails: unterminated quotes or comments
/// simply run to the end of the text, where Postgres will report them.
pub fn rewrite_placeholders(sql: &str, mut placeholder: impl FnMut(usize) -> String) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut count = 0;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let skip = match c {
            '\'' | '"' => quoted_len(rest, c),
            '-' if rest.starts_with("--") => rest.find('\n').map_or(rest.len(), |i| i + 1),
            '/' if rest.starts_with("/*") => block_comment_len(rest),
            '$' => dollar_quote_tag(rest).map_or(1, |tag| {
                rest[tag.len()..].find(tag).map_or(rest.len(), |end| tag.len() + end + tag.len())
            }),
            '?' => {
                out.push_str(&placeholder(count));
                count += 1;
                rest = &rest[1..];
                continue;
            }
            _ => c.len_utf8(),
        };
        out.push_str(&rest[..skip]);
        rest = &rest[skip..];
    }
    (out, count)
}

/// Length of a `'…'` or `"…"` token, a doubled quote being an escaped one.
fn quoted_len(s: &str, quote: char) -> usize {
    let mut i = 1;
    let bytes = s.as_bytes();
    let q = quote as u8;
    while i < bytes.len() {
        if bytes[i] == q {
            if bytes.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    s.len()
}

/// Length of a `/* … */` comment; Postgres lets them nest.
fn block_comment_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    s.len()
}

/// `$$` or `$tag$` at the start of `s` (a tag is letters, digits and `_`, not starting
/// with a digit), else None (`$1` is a positional parameter, not a quote).
fn dollar_quote_tag(s: &str) -> Option<&str> {
    let body = &s[1..];
    let end = body.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    if !body[end..].starts_with('$') || body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(&s[..end + 2])
}

/// One statement in Postgres's form: `$n` placeholders, parameters as text.
///
/// Parameters travel as text and Postgres infers their type from where they stand; a
/// bare `? IS NULL` or `SELECT ?` gives it nothing to infer from. So each placeholder
/// carries its value's type: integers `$n::int8` (our INTEGER columns are BIGINT on
/// Postgres), reals `$n::float8`, text `$n::text`, and a NULL is written as the literal
/// `NULL`, which takes whatever type its place needs.
pub fn to_postgres(statement: &Statement) -> Result<Value, DbError> {
    let mut params = Vec::new();
    let (query, count) = rewrite_placeholders(&statement.sql, |i| {
        let (text, cast) = match statement.params.get(i) {
            None | Some(SqlValue::Null) => return "NULL".to_owned(),
            Some(SqlValue::Int(n)) => (n.to_string(), "int8"),
            Some(SqlValue::Real(r)) => (format_real(*r), "float8"),
            Some(SqlValue::Text(t)) => (t.clone(), "text"),
        };
        params.push(Value::String(text));
        format!("${}::{cast}", params.len())
    });
    if count != statement.params.len() {
        return Err(DbError::Failed {
            message: format!("the statement has {count} placeholders but {} parameters", statement.params.len()),
        });
    }
    Ok(json!({ "query": query, "params": params }))
}

fn format_real(r: f64) -> String {
    if r.is_nan() {
        "NaN".into()
    } else if r.is_infinite() {
        if r > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        r.to_string()
    }
}

/// The body for one statement.
pub fn single_body(statement: &Statement) -> Result<String, DbError> {
    Ok(to_postgres(statement)?.to_string())
}

/// The body for a transaction of several statements.
pub fn batch_body(statements: &[Statement]) -> Result<String, DbError> {
    let queries = statements.iter().map(to_postgres).collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "queries": queries }).to_string())
}

fn failed(message: impl Into<String>) -> DbError {
    DbError::Failed { message: message.into() }
}

/// Postgres type OIDs whose text form we turn into JSON numbers.
mod oid {
    pub const BOOL: u64 = 16;
    pub const INT8: u64 = 20;
    pub const INT2: u64 = 21;
    pub const INT4: u64 = 23;
    pub const OID: u64 = 26;
    pub const FLOAT4: u64 = 700;
    pub const FLOAT8: u64 = 701;
    pub const NUMERIC: u64 = 1700;
}

/// One value in raw text output, typed by its column's OID as D1 would return it:
/// integers as numbers, booleans as 0/1 (our schema stores flags as integers), numerics
/// (`SUM` of a bigint is one) as an integer when whole, everything else as text.
pub fn typed_value(type_oid: u64, raw: Value) -> Value {
    let text = match raw {
        Value::String(text) => text,
        // Without raw text output Neon sends booleans as JSON booleans.
        Value::Bool(b) => return Value::from(i64::from(b)),
        other => return other,
    };
    match type_oid {
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => text.parse::<i64>().map_or(Value::String(text), Value::from),
        oid::BOOL => Value::from(i64::from(text == "t" || text == "true")),
        oid::NUMERIC => match text.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => text.parse::<f64>().ok().and_then(Number::from_f64).map_or(Value::String(text), Value::Number),
        },
        oid::FLOAT4 | oid::FLOAT8 => text.parse::<f64>().ok().and_then(Number::from_f64).map_or(Value::String(text), Value::Number),
        _ => Value::String(text),
    }
}

/// One query's answer: `{fields, rows, rowCount, command}`. Rows may be arrays (array
/// mode) or objects; either way they become objects keyed by column name. `changes` is
/// the row count of INSERT, UPDATE, DELETE and MERGE, and 0 for anything else, as on D1.
pub fn parse_result(result: &Value) -> Result<StatementResult, DbError> {
    let fields = result.get("fields").and_then(Value::as_array).ok_or_else(|| failed("Neon answered without fields"))?;
    let columns: Vec<(&str, u64)> = fields
        .iter()
        .map(|f| (f.get("name").and_then(Value::as_str).unwrap_or(""), f.get("dataTypeID").and_then(Value::as_u64).unwrap_or(0)))
        .collect();
    let raw_rows = result.get("rows").and_then(Value::as_array).ok_or_else(|| failed("Neon answered without rows"))?;
    let rows = raw_rows
        .iter()
        .map(|row| -> Result<Row, DbError> {
            let mut out = Map::new();
            match row {
                Value::Array(values) => {
                    for ((name, type_oid), value) in columns.iter().zip(values) {
                        out.insert((*name).to_owned(), typed_value(*type_oid, value.clone()));
                    }
                }
                Value::Object(map) => {
                    for (name, type_oid) in &columns {
                        let value = map.get(*name).cloned().unwrap_or(Value::Null);
                        out.insert((*name).to_owned(), typed_value(*type_oid, value));
                    }
                }
                _ => return Err(failed("Neon answered a row that is neither an array nor an object")),
            }
            Ok(out)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let command = result.get("command").and_then(Value::as_str).unwrap_or("");
    let changes = match command {
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" => result.get("rowCount").and_then(Value::as_u64).unwrap_or(0),
        _ => 0,
    };
    Ok(StatementResult { rows, changes })
}

/// A transaction's answer: `{results: [...]}`, one per statement, in order.
pub fn parse_batch(body: &Value, expected: usize) -> Result<Vec<StatementResult>, DbError> {
    let results = body.get("results").and_then(Value::as_array).ok_or_else(|| failed("Neon answered a batch without results"))?;
    if results.len() != expected {
        return Err(failed(format!("Neon answered {} results for {expected} statements", results.len())));
    }
    results.iter().map(parse_result).collect()
}

/// Reads an HTTP answer: 2xx is a result body, 400 a Postgres error, anything else a
/// failure of the service itself (its text, shortened).
pub fn parse_response(status: u16, body: &str) -> Result<Value, DbError> {
    let parsed = serde_json::from_str::<Value>(body);
    match (status, parsed) {
        (200..=299, Ok(value)) => Ok(value),
        (200..=299, Err(e)) => Err(failed(format!("Neon answered {status} with a body that is not JSON: {e}"))),
        (_, Ok(value)) if value.get("message").is_some() => Err(error_from_body(&value)),
        (_, _) => Err(failed(format!("Neon answered {status}: {}", body.chars().take(300).collect::<String>()))),
    }
}

/// A Postgres error as a `DbError`, classified by SQLSTATE. The message names the
/// constraint, table and column, because callers tell expected violations apart by those
/// names (`ledger_entries_reference_key` holds "reference", as SQLite's
/// `ledger_entries.reference` does). Of `detail` only the key's columns are kept:
/// `Key (email)=(…)` and `Failing row contains (…)` carry the row's values, which may be
/// personal data, and these messages end up in logs.
pub fn error_from_body(body: &Value) -> DbError {
    let field = |name: &str| body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut message = field("message").unwrap_or("unknown error").to_owned();
    let mut context = Vec::new();
    if let Some(constraint) = field("constraint") {
        context.push(format!("constraint {constraint}"));
    }
    if let Some(table) = field("table") {
        context.push(format!("table {table}"));
    }
    if let Some(column) = field("column") {
        context.push(format!("column {column}"));
    }
    if let Some(key) = field("detail").and_then(|d| d.strip_prefix("Key (")).and_then(|d| d.split_once(")=")) {
        context.push(format!("key ({})", key.0));
    }
    if !context.is_empty() {
        message = format!("{message} ({})", context.join(", "));
    }
    let code = field("code");
    if let Some(code) = code {
        message = format!("{message} [SQLSTATE {code}]");
    }
    DbError::classify(&message, code)
}

/// Whether Postgres rolled the whole transaction back for a reason that a second try
/// can clear: a serialization failure (40001) or a deadlock (40P01).
pub fn is_retryable(error: &DbError) -> bool {
    matches!(error, DbError::Failed { message } if message.ends_with("[SQLSTATE 40001]") || message.ends_with("[SQLSTATE 40P01]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::ConstraintKind;
    use proptest::prelude::*;

    fn dollars(sql: &str) -> (String, usize) {
        rewrite_placeholders(sql, |i| format!("${}", i + 1))
    }

    #[test]
    fn placeholders_become_numbered_parameters() {
        assert_eq!(dollars("SELECT * FROM t WHERE a = ? AND b IN (?, ?)"), ("SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)".into(), 3));
    }

    #[test]
    fn question_marks_in_literals_identifiers_and_comments_stay() {
        let sql = "SELECT 'why?', 'it''s ?', \"col?\" -- what?\n, ? /* a ? /* nested ? */ still ? */ , $$ ? $$, $t$ ? $t$, ?";
        let (out, n) = dollars(sql);
        assert_eq!(n, 2);
        assert_eq!(out, sql.replacen("\n, ?", "\n, $1", 1).replacen("$t$, ?", "$t$, $2", 1));
    }

    #[test]
    fn positional_dollars_are_not_quotes() {
        assert_eq!(dollars("SELECT $1, ?"), ("SELECT $1, $1".into(), 1));
    }

    #[test]
    fn unterminated_quotes_run_to_the_end() {
        assert_eq!(dollars("SELECT '?"), ("SELECT '?".into(), 0));
        assert_eq!(dollars("SELECT ? /* ?"), ("SELECT $1 /* ?".into(), 1));
    }

    #[test]
    fn statements_carry_typed_parameters_and_inline_nulls() {
        let s = Statement::new("INSERT INTO t VALUES (?, ?, ?, ?, '?')").bind(7_i64).bind("x").bind(None::<String>).bind(true);
        let v = to_postgres(&s).unwrap();
        assert_eq!(v["query"], "INSERT INTO t VALUES ($1::int8, $2::text, NULL, $3::int8, '?')");
        assert_eq!(v["params"], json!(["7", "x", "1"]));
        let s = Statement::new("SELECT ? IS NULL").bind(SqlValue::Real(1.5));
        assert_eq!(to_postgres(&s).unwrap(), json!({"query": "SELECT $1::float8 IS NULL", "params": ["1.5"]}));
    }

    #[test]
    fn a_parameter_count_mismatch_is_refused_before_sending() {
        assert!(matches!(to_postgres(&Statement::new("SELECT ?")), Err(DbError::Failed { .. })));
        assert!(matches!(to_postgres(&Statement::new("SELECT 1").bind(1_i64)), Err(DbError::Failed { .. })));
    }

    #[test]
    fn batch_bodies_list_the_queries_in_order() {
        let body = batch_body(&[Statement::new("SELECT ?").bind(1_i64), Statement::new("SELECT 2")]).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["queries"][0]["query"], "SELECT $1::int8");
        assert_eq!(v["queries"][1], json!({"query": "SELECT 2", "params": []}));
    }

    #[test]
    fn batches_ask_for_read_committed_and_single_queries_do_not() {
        let batch = request_headers("postgres://u:p@h/db", true);
        assert!(batch.contains(&("Neon-Batch-Isolation-Level", "ReadCommitted".into())));
        assert!(batch.contains(&("Neon-Raw-Text-Output", "true".into())));
        assert!(batch.contains(&("Neon-Array-Mode", "true".into())));
        assert!(batch.contains(&("Neon-Connection-String", "postgres://u:p@h/db".into())));
        assert!(!request_headers("postgres://u:p@h/db", false).iter().any(|(k, _)| k.starts_with("Neon-Batch")));
    }

    #[test]
    fn the_endpoint_is_the_host_of_the_connection_string() {
        let e = |url| http_endpoint(url, None);
        assert_eq!(e("postgres://u:p@ep-x-123.eu-central-1.aws.neon.tech/neondb?sslmode=require").unwrap(), "https://ep-x-123.eu-central-1.aws.neon.tech/sql");
        assert_eq!(e("postgresql://u@db.example:5432/x").unwrap(), "https://db.example/sql");
        assert_eq!(e("postgres://u:p@ss@[::1]:5432/x").unwrap(), "https://[::1]/sql");
        assert!(e("mysql://u@h/x").is_err());
        assert!(e("postgres:///x").is_err());
    }

    #[test]
    fn an_endpoint_override_wins() {
        assert_eq!(http_endpoint("postgres://u@h/x", Some("http://127.0.0.1:4444/sql")).unwrap(), "http://127.0.0.1:4444/sql");
        assert_eq!(http_endpoint("postgres://u@h/x", Some(" ")).unwrap(), "https://h/sql");
        assert!(http_endpoint("postgres://u@h/x", Some("127.0.0.1:4444")).is_err());
    }

    #[test]
    fn raw_text_values_are_typed_by_their_column() {
        let result = json!({
            "command": "SELECT", "rowCount": 1,
            "fields": [
                {"name": "n", "dataTypeID": 20}, {"name": "small", "dataTypeID": 23}, {"name": "flag", "dataTypeID": 16},
                {"name": "total", "dataTypeID": 1700}, {"name": "avg", "dataTypeID": 1700}, {"name": "name", "dataTypeID": 25},
                {"name": "gone", "dataTypeID": 25}, {"name": "f", "dataTypeID": 701}
            ],
            "rows": [["1700000000000", "-3", "t", "42", "2.5000", "Zoë ✓", null, "0.25"]]
        });
        let r = parse_result(&result).unwrap();
        assert_eq!(Value::Object(r.rows[0].clone()), json!({"n": 1700000000000_i64, "small": -3, "flag": 1, "total": 42, "avg": 2.5, "name": "Zoë ✓", "gone": null, "f": 0.25}));
        assert_eq!(r.changes, 0);
    }

    #[test]
    fn object_rows_are_read_too() {
        let r = parse_result(&json!({"command": "SELECT", "rowCount": 1, "fields": [{"name": "b", "dataTypeID": 16}], "rows": [{"b": "f"}]})).unwrap();
        assert_eq!(r.rows[0]["b"], 0);
    }

    #[test]
    fn changes_count_written_rows_only() {
        let update = json!({"command": "UPDATE", "rowCount": 2, "fields": [], "rows": []});
        assert_eq!(parse_result(&update).unwrap().changes, 2);
        let returning = json!({"command": "INSERT", "rowCount": 1, "fields": [{"name": "hits", "dataTypeID": 20}], "rows": [["3"]]});
        let r = parse_result(&returning).unwrap();
        assert_eq!((r.changes, r.rows[0]["hits"].clone()), (1, json!(3)));
    }

    #[test]
    fn batch_results_come_back_one_per_statement() {
        let body = json!({"results": [{"command": "INSERT", "rowCount": 1, "fields": [], "rows": []}, {"command": "UPDATE", "rowCount": 0, "fields": [], "rows": []}]});
        let r = parse_batch(&body, 2).unwrap();
        assert_eq!((r[0].changes, r[1].changes), (1, 0));
        assert!(parse_batch(&body, 3).is_err());
    }

    #[test]
    fn a_duplicate_reference_is_a_unique_violation_that_names_the_column() {
        let body = r#"{"message":"duplicate key value violates unique constraint \"ledger_entries_reference_key\"","code":"23505","severity":"ERROR","detail":"Key (reference)=(settle:job-1) already exists.","schema":"public","table":"ledger_entries","constraint":"ledger_entries_reference_key"}"#;
        let e = parse_response(400, body).unwrap_err();
        assert!(crate::credits::ledger::is_duplicate_reference(&e), "{e}");
        let DbError::Constraint { message, .. } = &e else { unreachable!() };
        assert!(message.contains("key (reference)") && !message.contains("settle:job-1"), "{message}");
    }

    #[test]
    fn violations_are_classified_as_on_d1_without_the_row_values() {
        let check = json!({"message": "new row for relation \"credit_accounts\" violates check constraint \"credit_accounts_balance_check\"", "code": "23514", "detail": "Failing row contains (u1, -5, 0, 0, 1).", "table": "credit_accounts", "constraint": "credit_accounts_balance_check"});
        let e = error_from_body(&check);
        assert!(crate::credits::ledger::is_insufficient(&e));
        assert!(!e.to_string().contains("-5"));
        let email = json!({"message": "duplicate key value violates unique constraint \"users_email_key\"", "code": "23505", "detail": "Key (email)=(a@b.example) already exists.", "constraint": "users_email_key"});
        let e = error_from_body(&email);
        assert!(matches!(&e, DbError::Constraint { kind: ConstraintKind::Unique, message } if message.contains("email") && !message.contains("a@b.example")));
        let fk = json!({"message": "insert or update on table \"sessions\" violates foreign key constraint \"sessions_user_id_fkey\"", "code": "23503"});
        assert!(matches!(error_from_body(&fk), DbError::Constraint { kind: ConstraintKind::ForeignKey, .. }));
        let nn = json!({"message": "null value in column \"name\" of relation \"users\" violates not-null constraint", "code": "23502", "column": "name"});
        assert!(matches!(error_from_body(&nn), DbError::Constraint { kind: ConstraintKind::NotNull, .. }));
    }

    #[test]
    fn other_failures_are_not_constraints() {
        assert!(matches!(parse_response(400, r#"{"message":"relation \"x\" does not exist","code":"42P01"}"#), Err(DbError::Failed { .. })));
        assert!(matches!(parse_response(502, "bad gateway"), Err(DbError::Failed { message }) if message.contains("502")));
        assert!(matches!(parse_response(200, "{"), Err(DbError::Failed { .. })));
    }

    #[test]
    fn deadlocks_and_serialization_failures_may_be_retried() {
        assert!(is_retryable(&error_from_body(&json!({"message": "deadlock detected", "code": "40P01"}))));
        assert!(is_retryable(&error_from_body(&json!({"message": "could not serialize access", "code": "40001"}))));
        assert!(!is_retryable(&error_from_body(&json!({"message": "duplicate key", "code": "23505"}))));
        assert!(!is_retryable(&error_from_body(&json!({"message": "syntax error", "code": "42601"}))));
    }

    proptest! {
        #[test]
        fn rewriting_never_panics_and_counts_every_replacement(sql in "\\PC*") {
            let (out, n) = dollars(&sql);
            prop_assert!(n <= sql.matches('?').count());
            prop_assert_eq!(out.matches('?').count(), sql.matches('?').count() - n);
            // Numbering the placeholders with a marker and removing it gives the input back.
            let (marked, m) = rewrite_placeholders(&sql, |_| "\u{0}".into());
            prop_assert_eq!(m, n);
            prop_assert_eq!(marked.replace('\u{0}', "?"), sql.replace('\u{0}', "?"));
        }

        #[test]
        fn plain_placeholders_are_all_found(parts in proptest::collection::vec("[a-z0-9 ,=()]*", 1..8)) {
            let sql = parts.join("?");
            let (out, n) = dollars(&sql);
            prop_assert_eq!(n, parts.len() - 1);
            prop_assert!(!out.contains('?'));
        }

        #[test]
        fn any_statement_builds_a_body_or_a_count_error(sql in "\\PC*", k in 0usize..4) {
            let mut s = Statement::new(sql.clone());
            for i in 0..k { s = s.bind(i as i64); }
            let (_, n) = dollars(&sql);
            prop_assert_eq!(to_postgres(&s).is_ok(), n == k);
        }
    }
}

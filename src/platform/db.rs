//! The `Db` port: SQL statements and atomic batches, answered by D1 (or, later, Neon).
//!
//! Portable SQL conventions, so one set of queries serves both backends:
//! `?` placeholders (the Neon adapter rewrites them to `$n`), integer epoch-millisecond
//! times, text ids, `INTEGER` for money and counts, no `RETURNING` on batches that must
//! run on both, and invariants as `CHECK`/`UNIQUE`/`FOREIGN KEY` constraints.
//!
//! `batch` is one transaction on both backends (D1's `batch`, Neon's
//! `{"queries":[…]}`): if any statement fails, none of them took effect. That is what
//! the credit ledger relies on.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<u32> for SqlValue {
    fn from(v: u32) -> Self {
        SqlValue::Int(v.into())
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Int(v.into())
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One SQL statement with its positional parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub params: Vec<SqlValue>,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Statement { sql: sql.into(), params: Vec::new() }
    }

    pub fn bind(mut self, value: impl Into<SqlValue>) -> Self {
        self.params.push(value.into());
        self
    }
}

pub type Row = Map<String, Value>;

/// What a statement did: the rows it returned and how many rows it changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementResult {
    pub rows: Vec<Row>,
    pub changes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// A `UNIQUE`, `CHECK`, `FOREIGN KEY` or `NOT NULL` constraint refused the write.
    /// Callers map the ones they expect (a duplicate reference, a negative balance) to
    /// domain errors; the rest are bugs.
    Constraint { kind: ConstraintKind, message: String },
    /// Anything else: the database is unreachable, the SQL is wrong, a limit was hit.
    Failed { message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    Check,
    ForeignKey,
    NotNull,
}

impl DbError {
    /// Classifies a backend's error text. SQLite (D1) names the constraint in English;
    /// Postgres (Neon) gives a SQLSTATE code, which the Neon adapter passes as `code`.
    pub fn classify(message: &str, sqlstate: Option<&str>) -> DbError {
        let kind = match sqlstate {
            Some("23505") => Some(ConstraintKind::Unique),
            Some("23514") => Some(ConstraintKind::Check),
            Some("23503") => Some(ConstraintKind::ForeignKey),
            Some("23502") => Some(ConstraintKind::NotNull),
            _ if message.contains("UNIQUE constraint failed") => Some(ConstraintKind::Unique),
            _ if message.contains("CHECK constraint failed") => Some(ConstraintKind::Check),
            _ if message.contains("FOREIGN KEY constraint failed") => Some(ConstraintKind::ForeignKey),
            _ if message.contains("NOT NULL constraint failed") => Some(ConstraintKind::NotNull),
            _ => None,
        };
        match kind {
            Some(kind) => DbError::Constraint { kind, message: message.to_owned() },
            None => DbError::Failed { message: message.to_owned() },
        }
    }
}

impl DbError {
    /// True when this is a unique violation of exactly `table (columns…)`: the one
    /// constraint mapper, so callers never match on error text themselves. SQLite (D1)
    /// says `UNIQUE constraint failed: t.a, t.b`; Postgres (Neon) names the constraint,
    /// by default `t_a_b_key`.
    pub fn violates_unique(&self, table: &str, columns: &[&str]) -> bool {
        let sqlite = format!("UNIQUE constraint failed: {}", columns.iter().map(|c| format!("{table}.{c}")).collect::<Vec<_>>().join(", "));
        self.names_constraint(&sqlite, &format!("{table}_{}_key", columns.join("_")))
    }

    /// True when this is a duplicate primary key `table (column)`; Postgres names it `t_pkey`.
    pub fn violates_primary_key(&self, table: &str, column: &str) -> bool {
        self.names_constraint(&format!("UNIQUE constraint failed: {table}.{column}"), &format!("{table}_pkey"))
    }

    fn names_constraint(&self, sqlite: &str, postgres: &str) -> bool {
        let DbError::Constraint { kind: ConstraintKind::Unique, message } = self else { return false };
        [sqlite, postgres].iter().any(|needle| {
            message.match_indices(*needle).any(|(at, _)| {
                let before_ok = !message[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                let after = message[at + needle.len()..].chars().next();
                before_ok && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ',' || c == '.')
            })
        })
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Constraint { kind, message } => write!(f, "{kind:?} constraint: {message}"),
            DbError::Failed { message } => write!(f, "database: {message}"),
        }
    }
}

impl From<DbError> for crate::http::problem::AppError {
    fn from(e: DbError) -> Self {
        crate::http::problem::AppError::internal(e)
    }
}

/// Decodes rows into a typed struct (column names are field names).
pub fn decode_rows<T: DeserializeOwned>(rows: Vec<Row>) -> Result<Vec<T>, DbError> {
    rows.into_iter()
        .map(|r| serde_json::from_value(Value::Object(r)).map_err(|e| DbError::Failed { message: format!("decoding a row: {e}") }))
        .collect()
}

/// The port. Futures are not `Send`: everything runs on one wasm thread.
#[allow(async_fn_in_trait)]
pub trait Db {
    /// Runs one statement; rows (possibly none) and the change count.
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError>;

    /// Runs the statements as one transaction: all take effect or none do.
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError>;

    async fn query<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, DbError> {
        decode_rows(self.run(statement).await?.rows)
    }

    async fn query_one<T: DeserializeOwned>(&self, statement: Statement) -> Result<Option<T>, DbError> {
        Ok(self.query(statement).await?.into_iter().next())
    }
}

/// A borrowed database is a database, so `&ctx.db` and `db` read the same.
impl<T: Db> Db for &T {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        (**self).run(statement).await
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        (**self).batch(statements).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_constraint_messages_are_classified() {
        let e = DbError::classify("D1_ERROR: UNIQUE constraint failed: ledger.reference: SQLITE_CONSTRAINT", None);
        assert!(matches!(e, DbError::Constraint { kind: ConstraintKind::Unique, .. }));
        let e = DbError::classify("CHECK constraint failed: balance >= 0", None);
        assert!(matches!(e, DbError::Constraint { kind: ConstraintKind::Check, .. }));
        assert!(matches!(DbError::classify("no such table: x", None), DbError::Failed { .. }));
    }

    #[test]
    fn postgres_sqlstates_are_classified() {
        let e = DbError::classify("duplicate key value violates unique constraint", Some("23505"));
        assert!(matches!(e, DbError::Constraint { kind: ConstraintKind::Unique, .. }));
        let e = DbError::classify("new row violates check constraint", Some("23514"));
        assert!(matches!(e, DbError::Constraint { kind: ConstraintKind::Check, .. }));
    }

    #[test]
    fn unique_violations_are_mapped_by_table_and_columns_on_both_backends() {
        let d1 = DbError::classify("D1_ERROR: UNIQUE constraint failed: users.email: SQLITE_CONSTRAINT", None);
        assert!(d1.violates_unique("users", &["email"]));
        assert!(!d1.violates_unique("users", &["name"]));
        assert!(!d1.violates_unique("xusers", &["email"]));
        let composite = DbError::classify("UNIQUE constraint failed: generation_jobs.user_id, generation_jobs.idempotency_key", None);
        assert!(composite.violates_unique("generation_jobs", &["user_id", "idempotency_key"]));
        assert!(!composite.violates_unique("generation_jobs", &["user_id"]));
        let pg = DbError::classify("duplicate key value violates unique constraint \"users_email_key\"", Some("23505"));
        assert!(pg.violates_unique("users", &["email"]));
        assert!(!pg.violates_unique("users", &["email_x"]));
        let check = DbError::classify("CHECK constraint failed: users.email", None);
        assert!(!check.violates_unique("users", &["email"]));
    }

    #[test]
    fn statements_bind_portable_values() {
        let s = Statement::new("INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?)")
            .bind(7_i64)
            .bind("x")
            .bind(None::<String>)
            .bind(true);
        assert_eq!(s.params, vec![SqlValue::Int(7), SqlValue::Text("x".into()), SqlValue::Null, SqlValue::Int(1)]);
    }

    #[test]
    fn rows_decode_into_structs() {
        #[derive(serde::Deserialize)]
        struct R {
            id: String,
            n: i64,
        }
        let row: Row = serde_json::from_str(r#"{"id":"a","n":3}"#).unwrap();
        let out: Vec<R> = decode_rows(vec![row]).unwrap();
        assert_eq!((out[0].id.as_str(), out[0].n), ("a", 3));
    }
}

//! The `Db` port on Cloudflare D1.
//!
//! Rows cross from JavaScript as ONE string: `JSON.stringify` of D1's `results` array,
//! parsed by serde_json in the wasm. Walking the rows with `serde_wasm_bindgen` (what
//! `D1Result::results` does) costs several boundary crossings per column of every row:
//! ≈ 1.7 ms of the ≈ 10.7 ms a 100-row page cost (docs/BENCHMARKS.md).

use crate::platform::db::{Db, DbError, Row, SqlValue, Statement, StatementResult};
use js_sys::{Array, Promise, Reflect};
use wasm_bindgen_futures::JsFuture;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::D1Database as D1DatabaseSys;
use worker::{D1Database, D1PreparedStatement};

pub struct D1(pub D1Database);

fn to_js(value: &SqlValue) -> JsValue {
    match value {
        SqlValue::Null => JsValue::NULL,
        // Epoch-ms times and credit amounts stay far below 2^53, where f64 is exact.
        SqlValue::Int(i) => JsValue::from_f64(*i as f64),
        SqlValue::Real(r) => JsValue::from_f64(*r),
        SqlValue::Text(t) => JsValue::from_str(t),
    }
}

fn error(e: worker::Error) -> DbError {
    DbError::classify(&e.to_string(), None)
}

/// A rejected D1 promise: its message and, where D1 puts the SQLite message ("UNIQUE
/// constraint failed: …"), its `cause`'s.
fn rejected(e: JsValue) -> DbError {
    let message_of = |v: &JsValue| v.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| v.as_string());
    let mut message = message_of(&e).unwrap_or_else(|| "D1 failed".into());
    if let Some(cause) = e.dyn_ref::<js_sys::Error>().and_then(|e| message_of(&e.cause())) {
        message = format!("{message} {cause}");
    }
    DbError::classify(&message, None)
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

async fn settle(promise: Result<Promise, JsValue>) -> Result<JsValue, DbError> {
    JsFuture::from(promise.map_err(rejected)?).await.map_err(rejected)
}

impl D1 {
    fn prepare(&self, statement: &Statement) -> Result<D1PreparedStatement, DbError> {
        let params: Vec<JsValue> = statement.params.iter().map(to_js).collect();
        self.0.prepare(statement.sql.as_ref()).bind(&params).map_err(error)
    }
}

/// One D1 result object (`{ success, error?, results, meta: { changes, … } }`).
fn read(result: &JsValue) -> Result<StatementResult, DbError> {
    if let Some(message) = get(result, "error").as_string() {
        return Err(DbError::classify(&message, None));
    }
    let results = get(result, "results");
    let rows = if results.is_array() { decode(&results)? } else { Vec::new() };
    let changes = get(&get(result, "meta"), "changes").as_f64().unwrap_or(0.0) as u64;
    Ok(StatementResult { rows, changes })
}

/// D1 decodes SQLite's UTF-8 text into JavaScript strings, so no lone surrogate (the one
/// thing `JSON.stringify` writes that serde_json refuses) can reach this.
fn decode(results: &JsValue) -> Result<Vec<Row>, DbError> {
    let text = js_sys::JSON::stringify(results).map_err(rejected)?;
    serde_json::from_str(&String::from(text)).map_err(|e| DbError::Failed { message: format!("reading D1's rows: {e}") })
}

impl Db for D1 {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        let prepared = self.prepare(&statement)?;
        read(&settle(prepared.inner().all()).await?)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        let prepared = statements.iter().map(|s| self.prepare(s).map(|p| JsValue::from(p.inner().clone()))).collect::<Result<Array, _>>()?;
        let database: &D1DatabaseSys = self.0.as_ref().unchecked_ref();
        let results = settle(database.batch(prepared)).await?;
        results.dyn_ref::<Array>().ok_or_else(|| DbError::Failed { message: "D1's batch answered no list".into() })?.iter().map(|r| read(&r)).collect()
    }
}

//! The `Db` port on Cloudflare D1.

use crate::platform::db::{Db, DbError, SqlValue, Statement, StatementResult};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

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
    let message = match &e {
        // D1 puts the SQLite message ("UNIQUE constraint failed: …") in `cause`.
        worker::Error::D1(d1) => format!("{e} {}", d1.cause()),
        _ => e.to_string(),
    };
    DbError::classify(&message, None)
}

impl D1 {
    fn prepare(&self, statement: &Statement) -> Result<D1PreparedStatement, DbError> {
        let params: Vec<JsValue> = statement.params.iter().map(to_js).collect();
        self.0.prepare(statement.sql.as_ref()).bind(&params).map_err(error)
    }
}

fn read(result: D1Result) -> Result<StatementResult, DbError> {
    if let Some(message) = result.error() {
        return Err(DbError::classify(&message, None));
    }
    let rows = result
        .results::<serde_json::Value>()
        .map_err(error)?
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    let changes = result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) as u64;
    Ok(StatementResult { rows, changes })
}

impl Db for D1 {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        let prepared = self.prepare(&statement)?;
        read(prepared.all().await.map_err(error)?)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        let prepared = statements.iter().map(|s| self.prepare(s)).collect::<Result<Vec<_>, _>>()?;
        self.0.batch(prepared).await.map_err(error)?.into_iter().map(read).collect()
    }
}

//! The `Db` port on Neon Postgres, over its SQL-over-HTTP API with `fetch`. What goes on
//! the wire and how answers are read is in `platform::neon`; this only sends it.

use crate::platform::db::{Db, DbError, Statement, StatementResult};
use crate::platform::neon;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub struct Neon {
    connection_string: String,
    endpoint: String,
}

impl Neon {
    pub fn new(connection_string: impl Into<String>, endpoint: impl Into<String>) -> Neon {
        Neon { connection_string: connection_string.into(), endpoint: endpoint.into() }
    }

    /// POSTs one body; a transaction that Postgres rolled back for a deadlock or a
    /// serialization failure took no effect, so it is sent again (a lost answer is not:
    /// the transaction may have committed).
    async fn post(&self, body: &str, batch: bool) -> Result<serde_json::Value, DbError> {
        let mut attempt = 1;
        loop {
            match self.post_once(body, batch).await {
                Err(e) if attempt < neon::MAX_ATTEMPTS && neon::is_retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn post_once(&self, body: &str, batch: bool) -> Result<serde_json::Value, DbError> {
        let fail = |e: worker::Error| DbError::Failed { message: format!("Neon request failed: {e}") };
        let headers = Headers::new();
        for (name, value) in neon::request_headers(&self.connection_string, batch) {
            headers.set(name, &value).map_err(fail)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let request = Request::new_with_init(&self.endpoint, &init).map_err(fail)?;
        let mut response = Fetch::Request(request).send().await.map_err(fail)?;
        let status = response.status_code();
        let text = response.text().await.map_err(fail)?;
        neon::parse_response(status, &text)
    }
}

impl Db for Neon {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        let body = neon::single_body(&statement)?;
        neon::parse_result(&self.post(&body, false).await?)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let body = neon::batch_body(&statements)?;
        neon::parse_batch(&self.post(&body, true).await?, statements.len())
    }
}

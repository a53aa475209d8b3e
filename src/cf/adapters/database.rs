//! The metadata store the configuration chose: the D1 binding, or Neon over HTTP.

use super::d1::D1;
use super::neon::Neon;
use crate::platform::config::DatabaseConfig;
use crate::platform::db::{Db, DbError, Statement, StatementResult};
use worker::Env;

pub enum Database {
    D1(D1),
    Neon(Neon),
}

impl Database {
    /// D1 from the binding `DB`, or Neon at the configured endpoint (no binding needed).
    pub fn from_env(env: &Env, config: &DatabaseConfig) -> worker::Result<Database> {
        Ok(match config {
            DatabaseConfig::D1 => Database::D1(D1(env.d1(super::DB_BINDING)?)),
            DatabaseConfig::Neon { connection_string, endpoint } => Database::Neon(Neon::new(connection_string, endpoint)),
        })
    }
}

impl Db for Database {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        match self {
            Database::D1(db) => db.run(statement).await,
            Database::Neon(db) => db.run(statement).await,
        }
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        match self {
            Database::D1(db) => db.batch(statements).await,
            Database::Neon(db) => db.batch(statements).await,
        }
    }
}

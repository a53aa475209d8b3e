//! The schema version the health endpoint reports. Each migration sets it, so it is
//! the same on D1 and Postgres (D1's own `d1_migrations` table does not exist there).

use crate::platform::db::{Db, DbError, Statement};

pub async fn schema_version(db: &impl Db) -> Result<i64, DbError> {
    #[derive(serde::Deserialize)]
    struct Row {
        version: i64,
    }
    Ok(db
        .query_one::<Row>(Statement::new("SELECT version FROM schema_version"))
        .await?
        .map_or(0, |r| r.version))
}

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

/// G2: the build's version: the package version, plus `+` and the git commit when the
/// build was given one (`scripts/lib.sh` sets `BLIMARI_GIT_COMMIT`). Sentry's release too.
pub fn build_version() -> String {
    version_of(env!("CARGO_PKG_VERSION"), option_env!("BLIMARI_GIT_COMMIT"))
}

fn version_of(package: &str, commit: Option<&str>) -> String {
    match commit.map(str::trim).filter(|c| !c.is_empty()) {
        Some(commit) => format!("{package}+{commit}"),
        None => package.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_package_version_plus_the_commit_when_known() {
        assert_eq!(version_of("0.1.0", None), "0.1.0");
        assert_eq!(version_of("0.1.0", Some(" ")), "0.1.0");
        assert_eq!(version_of("0.1.0", Some("abc123def456")), "0.1.0+abc123def456");
        assert!(build_version().starts_with(env!("CARGO_PKG_VERSION")));
    }
}

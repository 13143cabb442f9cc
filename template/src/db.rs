//! Database connection: Postgres when `DATABASE_URL` is set, otherwise the embedded SQLite
//! file under `DATA_DIR` (dev only — the production guard refuses it).

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use crate::config::Settings;

/// How long to wait for a connection (at startup or from the pool) before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled connection idle for longer is pinged before use.
const POOL_IDLE_PING_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot create the data folder {path}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database ({target})")]
    Connect {
        target: String,
        source: sea_orm::DbErr,
    },
    #[error("migration failed")]
    Migration(#[source] sea_orm::DbErr),
}

/// The URL the settings resolve to, and a version safe to print (no password).
pub struct DatabaseTarget {
    pub url: String,
    pub display: String,
}

pub fn target(settings: &Settings) -> DatabaseTarget {
    match &settings.database_url {
        Some(url) => DatabaseTarget {
            url: url.clone(),
            display: redact_url(url),
        },
        None => {
            let path = settings.embedded_database_path();
            DatabaseTarget {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    url_encode_path(&path.to_string_lossy())
                ),
                display: format!("embedded SQLite at {}", path.display()),
            }
        }
    }
}

/// Connects (eagerly, so a wrong URL fails at startup with a clear message), creating the
/// embedded database's folder when needed.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DatabaseError> {
    let target = target(settings);
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| DatabaseError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
    }
    let mut options = ConnectOptions::new(target.url);
    options
        .max_connections(settings.database_max_connections)
        .connect_timeout(CONNECT_TIMEOUT)
        // sqlx pings a connection on every acquire by default: a round trip per query. Only
        // a connection idle long enough to have been dropped by the server or a proxy is
        // checked; a busy one goes straight to work.
        .test_before_acquire_if_idle_for(POOL_IDLE_PING_AFTER)
        // sea-orm passes both to the pool's acquire timeout; this one wins. A request waits
        // this long for a connection, then answers 503 + Retry-After.
        .acquire_timeout(settings.database_acquire_timeout())
        // Statements are traced by our own spans; sqlx's per-query INFO lines would drown the
        // request logs.
        .sqlx_logging(false);
    if settings.database_url.is_none() {
        // WAL lets readers proceed while one connection writes; without it concurrent requests
        // on the embedded database fail with "database is locked".
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(CONNECT_TIMEOUT)
        });
    }
    Database::connect(options)
        .await
        .map_err(|source| DatabaseError::Connect {
            target: target.display,
            source,
        })
}

pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DatabaseError> {
    Migrator::up(db, None)
        .await
        .map_err(DatabaseError::Migration)
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        DbBackend::Sqlite => "sqlite",
        DbBackend::MySql => "mysql",
        _ => "unknown",
    }
}

/// Percent-encodes what would end or break the path part of a `sqlite://` URL (sqlx decodes
/// it), so a data folder with spaces, `?` or `#` in its name still works.
fn url_encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' | '?' | '#' | ' ' => encoded.push_str(&format!("%{:02X}", c as u32)),
            _ => encoded.push(c),
        }
    }
    encoded
}

/// `postgres://user:password@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let credentials = &authority[..at];
            let user = credentials.split(':').next().unwrap_or("");
            let masked = if credentials.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{}{}{}", &url[..scheme_end + 3], masked, &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_url, url_encode_path};

    #[test]
    fn sqlite_paths_are_url_encoded() {
        assert_eq!(
            url_encode_path("/home/me/My Apps/data?#/app.sqlite3"),
            "/home/me/My%20Apps/data%3F%23/app.sqlite3"
        );
    }

    #[test]
    fn passwords_are_masked_in_printed_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cr3t@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(redact_url("postgres://db/app"), "postgres://db/app");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}

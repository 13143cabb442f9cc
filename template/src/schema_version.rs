//! Does the database schema match this build's migrations? Checked at startup, before
//! anything reads a table, so a database that was never migrated (or was migrated by another
//! build) stops `serve` with one line that says what to run instead of a cascade of
//! "relation does not exist" errors from whichever component queries first.
//!
//! Dev applies pending migrations itself (so `cargo run -- serve` works on a fresh project);
//! elsewhere migrating is a deliberate deployment step, `<app> db migrate`.

use std::collections::HashSet;

use migration::{Migrator, MigratorTrait, SchemaManager, seaql_migrations};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};

/// The migrations of this build compared with those the database recorded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SchemaVersion {
    /// Known to this build, not applied yet (in the order they apply).
    pub pending: Vec<String>,
    /// Applied to the database, unknown to this build (a newer build migrated it).
    pub unknown: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database is behind this build: {} pending migration(s) ({}); apply them with `{} db migrate`, then start again",
        .pending.len(), .pending.join(", "), env!("CARGO_PKG_NAME")
    )]
    Behind { pending: Vec<String> },
    #[error(
        "the database is ahead of this build: it has migration(s) this build does not know ({}); run the build that applied them, or roll them back with that build's `db down`",
        .unknown.join(", ")
    )]
    Ahead { unknown: Vec<String> },
    #[error("cannot read the applied migrations")]
    Read(#[source] DbErr),
    #[error("migration failed")]
    Migrate(#[source] DbErr),
}

/// Reads the migration table without writing to the database (no `CREATE TABLE`: the
/// application's database user may lack DDL rights in production).
pub async fn read(db: &DatabaseConnection) -> Result<SchemaVersion, SchemaError> {
    let table = Migrator::migration_table_name().to_string();
    let recorded = SchemaManager::new(db)
        .has_table(&table)
        .await
        .map_err(SchemaError::Read)?;
    let applied: HashSet<String> = if recorded {
        seaql_migrations::Entity::find()
            .all(db)
            .await
            .map_err(SchemaError::Read)?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        HashSet::new()
    };
    Ok(compare(
        Migrator::migrations().iter().map(|m| m.name().to_owned()),
        applied,
    ))
}

fn compare(known: impl Iterator<Item = String>, applied: HashSet<String>) -> SchemaVersion {
    let known: Vec<String> = known.collect();
    let pending = known
        .iter()
        .filter(|name| !applied.contains(*name))
        .cloned()
        .collect();
    let mut unknown: Vec<String> = applied
        .into_iter()
        .filter(|name| !known.contains(name))
        .collect();
    unknown.sort();
    SchemaVersion { pending, unknown }
}

/// Succeeds when the schema is this build's: pending migrations are applied when
/// `apply_pending` (dev), refused otherwise; a database ahead of the build is always refused.
pub async fn ensure_current(
    db: &DatabaseConnection,
    apply_pending: bool,
) -> Result<(), SchemaError> {
    let version = read(db).await?;
    if !version.unknown.is_empty() {
        return Err(SchemaError::Ahead {
            unknown: version.unknown,
        });
    }
    if version.pending.is_empty() {
        return Ok(());
    }
    if !apply_pending {
        return Err(SchemaError::Behind {
            pending: version.pending,
        });
    }
    Migrator::up(db, None).await.map_err(SchemaError::Migrate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pending_keeps_the_build_order_and_unknown_lists_foreign_migrations() {
        let known = names(&["m1", "m2", "m3"]);
        let applied = names(&["m1", "m9"]).into_iter().collect();
        assert_eq!(
            compare(known.into_iter(), applied),
            SchemaVersion {
                pending: names(&["m2", "m3"]),
                unknown: names(&["m9"]),
            }
        );
    }

    #[test]
    fn the_behind_message_names_each_migration_and_the_command() {
        let message = SchemaError::Behind {
            pending: names(&["m2", "m3"]),
        }
        .to_string();
        assert!(
            message.contains("2 pending migration(s) (m2, m3)"),
            "{message}"
        );
        assert!(
            message.contains(&format!("`{} db migrate`", env!("CARGO_PKG_NAME"))),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

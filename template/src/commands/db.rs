use anyhow::Context;
use migration::{MigrationStatus, Migrator, MigratorTrait};

use crate::cli::{CommandError, DbCommand};
use crate::config::Settings;
use crate::db;

pub async fn run(mut settings: Settings, command: DbCommand) -> Result<(), CommandError> {
    // One connection: sea-orm's `fresh` turns SQLite's foreign-key checks off with a PRAGMA,
    // which holds only on the connection it ran on, so every drop must use that connection.
    settings.database_max_connections = 1;
    if let DbCommand::Fresh { allow_non_dev } = command
        && !settings.environment.is_dev()
        && !allow_non_dev
    {
        return Err(CommandError::Refused(format!(
            "`db fresh` deletes every row; in {} it needs --allow-non-dev",
            settings.environment
        )));
    }
    let target = db::target(&settings).display;
    let connection = db::connect(&settings)
        .await
        .context("database unavailable")?;
    println!("database: {target}");

    match command {
        DbCommand::Migrate => {
            let pending = Migrator::get_pending_migrations(&connection)
                .await
                .context("cannot read the migration table")?;
            Migrator::up(&connection, None)
                .await
                .context("migration failed")?;
            if pending.is_empty() {
                println!("nothing to apply: the schema is up to date");
            }
            for migration in pending {
                println!("applied  {}", migration.name());
            }
        }
        DbCommand::Status { check: true } => {
            // Read-only, like serve's own check: never creates the migration table.
            crate::schema_version::ensure_current(&connection, false)
                .await
                .map_err(anyhow::Error::new)?;
            println!("the schema is up to date");
        }
        DbCommand::Status { check: false } => {
            let migrations = Migrator::get_migration_with_status(&connection)
                .await
                .context("cannot read the migration table")?;
            let mut pending = 0;
            for migration in &migrations {
                let status = match migration.status() {
                    MigrationStatus::Applied => "applied",
                    MigrationStatus::Pending => {
                        pending += 1;
                        "pending"
                    }
                };
                println!("{status:<8} {}", migration.name());
            }
            println!(
                "{} migration(s), {} applied, {pending} pending",
                migrations.len(),
                migrations.len() - pending
            );
        }
        DbCommand::Down { steps } => {
            let applied = Migrator::get_applied_migrations(&connection)
                .await
                .context("cannot read the migration table")?;
            Migrator::down(&connection, Some(steps))
                .await
                .context("rollback failed")?;
            let rolled_back: Vec<&str> = applied
                .iter()
                .rev()
                .take(steps as usize)
                .map(|m| m.name())
                .collect();
            if rolled_back.is_empty() {
                println!("nothing to roll back");
            }
            for name in rolled_back {
                println!("rolled back  {name}");
            }
        }
        DbCommand::Fresh { .. } => {
            Migrator::fresh(&connection)
                .await
                .context("fresh migration failed")?;
            println!("dropped every table and re-applied all migrations");
        }
    }
    Ok(())
}

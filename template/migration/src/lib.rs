//! Database migrations, applied with `<app> db migrate` (and automatically at startup in dev;
//! elsewhere `serve` refuses a database that is behind or ahead of these).
//!
//! New migration: `sea-orm-cli migrate generate <name>` from the project root (it adds the
//! file here and registers it below), or copy the newest file, rename it with a later
//! timestamp and add it to `migrations()`. Every migration must run on both Postgres and
//! SQLite (the embedded dev default) and implement `down`.

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;
// The table of applied migrations: the app reads it at startup without writing to it.
pub use sea_orm_migration::seaql_migrations;

mod m20250101_000001_create_app_metadata;
mod m20250101_000002_create_users;
mod m20250101_000003_create_casbin_rule;
mod m20250101_000004_create_audit_events;
{%- if example_resource %}
mod m20250101_000005_create_articles;
mod m20250101_000006_articles_policy;
{%- endif %}
mod m20250301_000001_accounts;
mod m20250301_000002_mfa;
{%- if storage %}
mod m20250401_000001_create_stored_files;
{%- endif %}
// shaapi:migration-modules (`generate resource` adds its `mod` lines above this one)

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_create_app_metadata::Migration),
            Box::new(m20250101_000002_create_users::Migration),
            Box::new(m20250101_000003_create_casbin_rule::Migration),
            Box::new(m20250101_000004_create_audit_events::Migration),
{%- if example_resource %}
            Box::new(m20250101_000005_create_articles::Migration),
            Box::new(m20250101_000006_articles_policy::Migration),
{%- endif %}
            Box::new(m20250301_000001_accounts::Migration),
            Box::new(m20250301_000002_mfa::Migration),
{%- if storage %}
            Box::new(m20250401_000001_create_stored_files::Migration),
{%- endif %}
            // shaapi:migrations (`generate resource` adds its migrations above, in order)
        ]
    }
}

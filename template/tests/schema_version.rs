//! `serve` and the database schema: outside dev a database behind this build's migrations (or
//! ahead of them) stops the server with one line saying what to do; dev applies what is pending.
//! The binary runs as an operator would, against a fresh Postgres database.

mod common;

use std::process::Stdio;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use common::{TestDatabase, run_binary};

/// How `serve` ended up: it exited (code, stderr), or it logged "listening" (then it is stopped).
#[derive(Debug)]
enum Serve {
    Exited { code: Option<i32>, stderr: String },
    Listening,
}

async fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> Serve {
    let mut child = tokio::process::Command::from(common::app_command(dir))
        .arg("serve")
        .envs(env.iter().copied())
        .envs([("PORT", "0"), ("LOG_FORMAT", "json")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run the application binary");
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let mut seen = String::new();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let listening = serde_json::from_str::<serde_json::Value>(&line)
                .is_ok_and(|event| event["fields"]["message"] == "listening");
            if listening {
                return true;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        false
    })
    .await
    .expect("serve neither exited nor listened within 30 s");
    if outcome {
        child.kill().await.ok();
        return Serve::Listening;
    }
    let mut rest = String::new();
    lines.into_inner().read_to_string(&mut rest).await.ok();
    seen.push_str(&rest);
    let status = child.wait().await.expect("cannot wait for serve");
    Serve::Exited {
        code: status.code(),
        stderr: seen,
    }
}

/// Settings that pass the production guard.
fn production_env<'a>(
    database_url: &'a str,
    redis_prefix: &'a str,
{%- if storage %}
    storage_url: &'a str,
{%- endif %}
    redis_url: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ENVIRONMENT", "prod"),
        ("JWT_SECRET", common::TEST_JWT_SECRET),
        ("DATABASE_URL", database_url),
        ("REDIS_URL", redis_url),
        ("REDIS_KEY_PREFIX", redis_prefix),
{%- if storage %}
        ("STORAGE_URL", storage_url),
        ("STORAGE_ENCRYPTION_KEY", common::TEST_STORAGE_KEY),
{%- endif %}
        // Mail links need a relay and an https base outside dev; nothing is sent here.
        ("SMTP_HOST", "smtp.example.com"),
        ("PUBLIC_URL", "https://app.example.com"),
        ("MFA_ENCRYPTION_KEY", common::TEST_MFA_ENCRYPTION_KEY),
    ]
}

fn migration_names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// The one line `serve` printed, checked for what every schema refusal must say.
fn refusal_line(outcome: Serve) -> String {
    let Serve::Exited { code, stderr } = outcome else {
        panic!("serve started on a database whose schema is not this build's");
    };
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {stderr}");
    assert!(
        !stderr.contains("does not exist"),
        "a table was queried before the schema check: {stderr}"
    );
    lines[0].to_owned()
}

#[tokio::test]
async fn serve_in_prod_refuses_an_unmigrated_database_naming_db_migrate_then_starts_once_migrated()
{
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
{%- if storage %}
    let storage = tempfile::tempdir().unwrap();
    let storage_url = format!("file://{}", storage.path().display());
{%- endif %}
    let prefix = common::unique_redis_prefix();
    let redis_url = common::redis_url();
{%- if storage %}
    let env = production_env(&database.url, &prefix, &storage_url, &redis_url);
{%- else %}
    let env = production_env(&database.url, &prefix, &redis_url);
{%- endif %}
    let names = migration_names();

    let line = refusal_line(serve(dir.path(), &env).await);
    assert!(
        line.contains(&format!("{} pending migration(s)", names.len())),
        "{line}"
    );
    for name in &names {
        assert!(line.contains(name.as_str()), "{name} not named: {line}");
    }
    let command = format!("`{} db migrate`", env!("CARGO_PKG_NAME"));
    assert!(line.contains(&command), "{line}");

    // Nothing was written: the check never creates the migration table.
    let connection = Database::connect(&database.url).await.unwrap();
    let tables = connection
        .query_all_raw(sea_orm::Statement::from_string(
            connection.get_database_backend(),
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        ))
        .await
        .unwrap();
    assert!(tables.is_empty(), "serve created {} table(s)", tables.len());
    connection.close().await.ok();

    let output = run_binary(dir.path(), &["db", "migrate"], &env).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(matches!(serve(dir.path(), &env).await, Serve::Listening));

    // Partly migrated: only the rolled-back migration is named.
    let output = run_binary(dir.path(), &["db", "down"], &env).await;
    assert!(output.status.success());
    let line = refusal_line(serve(dir.path(), &env).await);
    let newest = names.last().unwrap();
    assert!(
        line.contains(&format!("1 pending migration(s) ({newest})")),
        "{line}"
    );
}

#[tokio::test]
async fn db_status_check_fails_in_one_line_until_the_schema_is_current_and_writes_nothing() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ENVIRONMENT", "dev"),
        ("DATABASE_URL", database.url.as_str()),
    ];

    let output = run_binary(dir.path(), &["db", "status", "--check"], &env).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    let pending = format!("{} pending migration(s)", migration_names().len());
    assert!(stderr.contains(&pending), "{stderr}");
    // A check, not a migration, even in dev: the database is still empty.
    let output = run_binary(dir.path(), &["db", "status", "--check"], &env).await;
    assert_eq!(output.status.code(), Some(1));

    let output = run_binary(dir.path(), &["db", "migrate"], &env).await;
    assert!(output.status.success());
    let output = run_binary(dir.path(), &["db", "status", "--check"], &env).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("the schema is up to date"));
}

#[tokio::test]
async fn serve_refuses_a_database_migrated_by_a_newer_build_in_every_environment() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
{%- if storage %}
    let storage = tempfile::tempdir().unwrap();
    let storage_url = format!("file://{}", storage.path().display());
{%- endif %}
    let prefix = common::unique_redis_prefix();
    let redis_url = common::redis_url();
{%- if storage %}
    let env = production_env(&database.url, &prefix, &storage_url, &redis_url);
{%- else %}
    let env = production_env(&database.url, &prefix, &redis_url);
{%- endif %}

    let output = run_binary(dir.path(), &["db", "migrate"], &env).await;
    assert!(output.status.success());
    let foreign = "m20990101_000001_from_a_newer_build";
    let connection = Database::connect(&database.url).await.unwrap();
    connection
        .execute_unprepared(&format!(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ('{foreign}', 0)"
        ))
        .await
        .unwrap();
    connection.close().await.ok();

    let line = refusal_line(serve(dir.path(), &env).await);
    assert!(line.contains("ahead of this build"), "{line}");
    assert!(line.contains(foreign), "{line}");

    // Dev migrates what is pending, but cannot undo what a newer build applied.
    let dev = [("DATABASE_URL", database.url.as_str())];
    let line = refusal_line(serve(dir.path(), &dev).await);
    assert!(line.contains(foreign), "{line}");
}

#[tokio::test]
async fn serve_in_dev_applies_pending_migrations_to_postgres_and_starts() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", database.url.as_str())];
    assert!(matches!(serve(dir.path(), &env).await, Serve::Listening));
    let output = run_binary(dir.path(), &["db", "status"], &env).await;
    let status = String::from_utf8_lossy(&output.stdout);
    assert!(status.contains(" applied, 0 pending"), "{status}");
}

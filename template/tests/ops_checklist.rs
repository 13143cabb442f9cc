//! `ops checklist`: the built binary against a fresh Postgres database and Redis.

mod common;

use std::path::Path;
use std::process::Output;

use common::{RedisPrefix, TestDatabase, run_binary};
use sea_orm::{ConnectionTrait, Database};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The status the checklist printed for the item titled `title`.
fn status_of(report: &str, title: &str) -> String {
    report
        .lines()
        .find(|line| line.contains(title))
        .and_then(|line| line.split(']').next())
        .map(|mark| mark.trim_start_matches('[').trim().to_owned())
        .unwrap_or_else(|| panic!("no item `{title}` in:\n{report}"))
}

async fn auth_init(dir: &Path, env: &[(&str, &str)], email: &str) -> Output {
    let args = ["auth", "init", "--email", email, "--password-stdin"];
    common::run_binary_with_stdin(dir, &args, env, "quartz-meadow-lantern-4821\n").await
}

#[tokio::test]
async fn each_live_item_fails_until_the_deployment_is_ready_then_the_checklist_passes() {
    let database = TestDatabase::create().await;
    let redis = RedisPrefix {
        prefix: common::unique_redis_prefix(),
    };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let redis_url = common::redis_url();
    let backups_text = backups.display().to_string();
    let env = [
        ("ENVIRONMENT", "prod"),
        ("JWT_SECRET", common::TEST_JWT_SECRET),
        ("DATABASE_URL", database.url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("REDIS_KEY_PREFIX", redis.prefix.as_str()),
        ("SMTP_HOST", "smtp.example.com"),
        ("PUBLIC_URL", "https://app.example.com"),
        ("MFA_ENCRYPTION_KEY", common::TEST_MFA_ENCRYPTION_KEY),
{%- if storage %}
        ("STORAGE_ENCRYPTION_KEY", common::TEST_STORAGE_KEY),
{%- endif %}
        ("BACKUP_DIR", backups_text.as_str()),
    ];

    let output = run_binary(dir.path(), &["ops", "checklist"], &env).await;
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}{}", stderr(&output));
    assert_eq!(status_of(&report, "ENVIRONMENT is prod"), "ok");
    assert_eq!(
        status_of(&report, "Production guard passes"),
        "ok",
        "{report}"
    );
    assert_eq!(status_of(&report, "Database reachable"), "ok");
    assert_eq!(status_of(&report, "Migrations applied"), "FAIL");
    assert!(report.contains("pending"), "{report}");
    assert_eq!(status_of(&report, "An active admin account exists"), "FAIL");
    assert_eq!(status_of(&report, "Redis reachable"), "ok");
{%- if storage %}
    // STORAGE_URL unset: DATA_DIR/storage, which nothing has created yet.
    assert_eq!(status_of(&report, "Object storage reachable"), "FAIL");
    assert!(report.contains("storage init"), "{report}");
{%- endif %}
    assert_eq!(status_of(&report, "Backups configured and recent"), "FAIL");
    assert_eq!(status_of(&report, "TLS reverse proxy"), "manual");
    assert!(
        !report.contains(common::TEST_JWT_SECRET),
        "a secret was printed"
    );

    let migrated = run_binary(dir.path(), &["db", "migrate"], &env).await;
    assert!(migrated.status.success(), "{}", stderr(&migrated));
{%- if storage %}
    let storage = run_binary(dir.path(), &["storage", "init"], &env).await;
    assert!(storage.status.success(), "{}", stderr(&storage));
{%- endif %}
    let created = auth_init(dir.path(), &env, "ops@example.org").await;
    assert!(created.status.success(), "{}", stderr(&created));
    std::fs::create_dir(&backups).unwrap();
    std::fs::write(backups.join("app-20250101T031500Z.dump"), b"archive").unwrap();

    let output = run_binary(dir.path(), &["ops", "checklist"], &env).await;
    let report = stdout(&output);
    assert!(output.status.success(), "{report}{}", stderr(&output));
    for title in [
        "Migrations applied",
        "An active admin account exists",
        "Backups configured and recent",
{%- if storage %}
        "Object storage reachable",
{%- endif %}
    ] {
        assert_eq!(status_of(&report, title), "ok", "{title}:\n{report}");
    }
    assert!(report.contains("summary: {% if storage %}8{% else %}7{% endif %} ok, 0 failing"), "{report}");

    // A deactivated admin is no admin.
    let db = Database::connect(&database.url).await.unwrap();
    db.execute_unprepared("UPDATE users SET is_active = false")
        .await
        .unwrap();
    db.close().await.unwrap();
    let output = run_binary(dir.path(), &["ops", "checklist"], &env).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        status_of(&stdout(&output), "An active admin account exists"),
        "FAIL"
    );
}

#[tokio::test]
async fn with_dev_defaults_every_live_item_fails_and_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(dir.path(), &["ops", "checklist"], &[]).await;
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}{}", stderr(&output));
    assert_eq!(status_of(&report, "ENVIRONMENT is prod"), "FAIL");
    assert_eq!(status_of(&report, "Production guard passes"), "FAIL");
    for setting in ["JWT_SECRET", "DATABASE_URL", "REDIS_URL"] {
        assert!(report.contains(setting), "{setting} not named:\n{report}");
    }
    assert_eq!(status_of(&report, "Database reachable"), "FAIL");
    assert_eq!(status_of(&report, "Redis reachable"), "FAIL");
{%- if storage %}
    assert_eq!(status_of(&report, "Object storage reachable"), "FAIL");
{%- endif %}
    assert!(
        !dir.path().join("data").exists(),
        "the checklist created local state"
    );
}

#[tokio::test]
async fn unreachable_stores_are_failed_items_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        common::closed_port()
    );
    let redis_url = format!("redis://127.0.0.1:{}", common::closed_port());
    let env = [
        ("ENVIRONMENT", "prod"),
        ("JWT_SECRET", common::TEST_JWT_SECRET),
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("SMTP_HOST", "smtp.example.com"),
        ("PUBLIC_URL", "https://app.example.com"),
        ("MFA_ENCRYPTION_KEY", common::TEST_MFA_ENCRYPTION_KEY),
{%- if storage %}
        ("STORAGE_ENCRYPTION_KEY", common::TEST_STORAGE_KEY),
{%- endif %}
    ];
    let output = run_binary(dir.path(), &["ops", "checklist"], &env).await;
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}{}", stderr(&output));
    assert_eq!(status_of(&report, "Database reachable"), "FAIL");
    assert!(
        report.contains("cannot connect to the database"),
        "{report}"
    );
    assert_eq!(status_of(&report, "Migrations applied"), "FAIL");
    assert_eq!(status_of(&report, "Redis reachable"), "FAIL");
    assert_eq!(status_of(&report, "Production guard passes"), "ok");
}

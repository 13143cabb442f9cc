//! The application binary, run as an operator would: fresh temporary working directory,
//! nothing inherited from the environment but what each test sets.

mod common;

use common::{TestDatabase, run_binary};
use migration::{Migrator, MigratorTrait};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn db_status_migrate_and_down_on_a_fresh_database() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", database.url.as_str())];
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let total = names.len();
    let newest = names.last().unwrap();

    let output = run_binary(dir.path(), &["db", "status"], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for name in &names {
        assert!(text.contains(&format!("pending  {name}")), "{text}");
    }
    assert!(
        text.contains(&format!("0 applied, {total} pending")),
        "{text}"
    );

    let output = run_binary(dir.path(), &["db", "migrate"], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for name in &names {
        assert!(text.contains(&format!("applied  {name}")), "{text}");
    }

    let output = run_binary(dir.path(), &["db", "status"], &env).await;
    let text = stdout(&output);
    assert!(
        text.contains(&format!("{total} applied, 0 pending")),
        "{text}"
    );

    let output = run_binary(dir.path(), &["db", "down"], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains(&format!("rolled back  {newest}")));

    let output = run_binary(dir.path(), &["db", "status"], &env).await;
    let text = stdout(&output);
    assert!(
        text.contains(&format!("{} applied, 1 pending", total - 1)),
        "{text}"
    );
    assert!(text.contains(&format!("pending  {newest}")), "{text}");
}

#[tokio::test]
async fn db_fresh_outside_dev_needs_an_explicit_flag() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("ENVIRONMENT", "prod"),
    ];
    let output = run_binary(dir.path(), &["db", "fresh"], &env).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("--allow-non-dev"),
        "{}",
        stderr(&output)
    );

    let output = run_binary(dir.path(), &["db", "fresh", "--allow-non-dev"], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn db_status_on_an_unreachable_database_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        common::closed_port()
    );
    let output = run_binary(
        dir.path(),
        &["db", "status"],
        &[("DATABASE_URL", url.as_str())],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot connect to the database"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn doctor_for_prod_with_defaults_fails_naming_each_setting() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(dir.path(), &["doctor", "--env", "prod"], &[]).await;
    assert_eq!(output.status.code(), Some(3));
    let text = stderr(&output);
    for setting in ["JWT_SECRET", "DATABASE_URL", "REDIS_URL"] {
        assert!(text.contains(setting), "{setting} not named in: {text}");
    }
}

#[tokio::test]
async fn doctor_for_prod_passes_with_safe_settings() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(
        dir.path(),
        &["doctor", "--env", "prod"],
        &[
            ("JWT_SECRET", common::TEST_JWT_SECRET),
            ("DATABASE_URL", "postgres://app:pw@db:5432/app"),
            ("REDIS_URL", "redis://redis:6379"),
            ("SMTP_HOST", "smtp.example.com"),
            ("PUBLIC_URL", "https://app.example.com"),
            ("MFA_ENCRYPTION_KEY", common::TEST_MFA_ENCRYPTION_KEY),
{%- if storage %}
            ("STORAGE_ENCRYPTION_KEY", common::TEST_STORAGE_KEY),
{%- endif %}
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("the production guard passes"), "{text}");
    assert!(!text.contains("pw@"), "password printed: {text}");
}

#[tokio::test]
async fn doctor_reads_the_dotenv_file_in_dev() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "# production values prepared locally\nJWT_SECRET={}\n\
             DATABASE_URL=postgres://app:pw@db:5432/app\nREDIS_URL=redis://redis:6379\n\
             SMTP_HOST=smtp.example.com\nPUBLIC_URL=https://app.example.com\n\
             MFA_ENCRYPTION_KEY={}\n{% if storage %}STORAGE_ENCRYPTION_KEY={}\n{% endif %}",
            common::TEST_JWT_SECRET,
            common::TEST_MFA_ENCRYPTION_KEY,
{%- if storage %}
            common::TEST_STORAGE_KEY,
{%- endif %}
        ),
    )
    .unwrap();
    // An env file holding secrets must be private, or doctor refuses it (ops production checks).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join(".env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let output = run_binary(dir.path(), &["doctor", "--env", "prod"], &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn serve_in_prod_with_defaults_exits_non_zero_naming_each_setting() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(
        dir.path(),
        &["serve"],
        &[("ENVIRONMENT", "prod"), ("PORT", "0")],
    )
    .await;
    assert_eq!(output.status.code(), Some(3));
    let text = stderr(&output);
    assert!(text.contains("refusing to start in prod"), "{text}");
    for setting in ["JWT_SECRET", "DATABASE_URL", "REDIS_URL"] {
        assert!(text.contains(setting), "{setting} not named in: {text}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "refused, yet created local state"
    );
}

#[tokio::test]
async fn an_invalid_setting_exits_3_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(dir.path(), &["serve"], &[("PORT", "eighty")]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("PORT"), "{}", stderr(&output));

    let output = run_binary(dir.path(), &["serve"], &[("ENVIRONMENT", "production-ish")]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("production-ish"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn an_explicit_config_file_that_does_not_exist_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(dir.path(), &["--config", "missing.toml", "doctor"], &[]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("missing.toml"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn unknown_command_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(dir.path(), &["frobnicate"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn health_exits_0_against_a_live_server_and_1_against_nothing() {
    let app = common::spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let port = app.port.to_string();
    let output = run_binary(dir.path(), &["health"], &[("PORT", port.as_str())]).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let closed = common::closed_port().to_string();
    let output = run_binary(dir.path(), &["health"], &[("PORT", closed.as_str())]).await;
    assert_eq!(output.status.code(), Some(1));

    let url = format!("http://127.0.0.1:{}/no/such/route", app.port);
    let output = run_binary(dir.path(), &["health", "--url", url.as_str()], &[]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("404"), "{}", stderr(&output));
}

#[tokio::test]
async fn migrations_go_up_down_and_fresh_on_the_embedded_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["db", "migrate"][..],
        &["db", "down"],
        &["db", "migrate"],
        &["db", "fresh"],
    ] {
        let output = run_binary(dir.path(), args, &[]).await;
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    let output = run_binary(dir.path(), &["db", "status"], &[]).await;
    let text = stdout(&output);
    assert!(text.contains("embedded SQLite"), "{text}");
    assert!(text.contains(", 0 pending"), "{text}");
}

#[tokio::test]
async fn the_config_file_is_a_layer_below_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.toml"),
        "port = 9100\nhost = \"0.0.0.0\"\n",
    )
    .unwrap();
    let output = run_binary(
        dir.path(),
        &["--config", "settings.toml", "doctor"],
        &[("PORT", "9200")],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("listen:      0.0.0.0:9200"),
        "{}",
        stdout(&output)
    );

    let output = run_binary(dir.path(), &["doctor"], &[("CONFIG_FILE", "settings.toml")]).await;
    assert!(
        stdout(&output).contains("0.0.0.0:9100"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn the_embedded_database_works_in_a_folder_with_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("my data #1");
    let data_dir = data_dir.to_str().unwrap();
    let output = run_binary(dir.path(), &["db", "migrate"], &[("DATA_DIR", data_dir)]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::read_dir(data_dir).unwrap().next().is_some());
}

#[tokio::test]
async fn a_malformed_dotenv_file_exits_3_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "PORT=8000\nthis line is not an assignment\n",
    )
    .unwrap();
    let output = run_binary(dir.path(), &["doctor"], &[]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains(".env"), "{}", stderr(&output));
}

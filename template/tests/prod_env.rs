//! The production flow of issue 6, run with the built binary:
//! `cp .env.prod.example .env` → `doctor --env prod` fails naming every placeholder →
//! `ops secrets --write` → with DATABASE_URL / REDIS_URL set, `doctor --env prod` passes.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use {{crate_name}}::guard::check_secret;
use {{crate_name}}::ops::env_file::EnvFile;
use {{crate_name}}::ops::secrets::SECRET_SETTINGS;

/// The local servers the test suite runs against (overridable like the other tests).
fn local_database_url() -> String {
    std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn local_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn prod_example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.prod.example")
}

fn app(directory: &Path, args: &[&str], environment: &[(&str, String)]) -> Output {
    let mut command = common::app_command(directory);
    command.args(args);
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn combined(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Keys of the example whose value production refuses.
fn placeholders(content: &str) -> Vec<String> {
    let file = EnvFile::parse(content);
    file.keys()
        .into_iter()
        .filter(|key| {
            file.get(key)
                .is_some_and(|value| value.contains("CHANGE_ME"))
        })
        .collect()
}

#[test]
fn the_prod_example_cannot_boot_until_ops_secrets_writes_real_secrets() {
    let directory = tempfile::tempdir().unwrap();
    let example = fs::read_to_string(prod_example()).unwrap();
    let env_file = directory.path().join(".env");
    fs::write(&env_file, &example).unwrap();
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o600)).unwrap();

    let refused = placeholders(&example);
    assert!(!refused.is_empty(), "the example has no placeholder");
    let urls = [
        ("DATABASE_URL", local_database_url()),
        ("REDIS_URL", local_redis_url()),
        // Not secrets but this deployment's own services, like the stores.
        ("SMTP_HOST", "smtp.example.com".to_owned()),
        ("PUBLIC_URL", "https://app.example.com".to_owned()),
    ];

    // Unchanged copy: refused, naming every placeholder.
    let before = app(directory.path(), &["doctor", "--env", "prod"], &urls);
    assert_eq!(before.status.code(), Some(3), "{}", combined(&before));
    for key in &refused {
        assert!(
            combined(&before).contains(&format!("{key}:")),
            "doctor did not name {key}:\n{}",
            combined(&before)
        );
    }

    let write = app(directory.path(), &["ops", "secrets", "--write"], &[]);
    assert!(write.status.success(), "{}", combined(&write));

    // Every line that is not a secret is exactly as in the example.
    let written = fs::read_to_string(&env_file).unwrap();
    let secret_names: Vec<&str> = SECRET_SETTINGS.iter().map(|s| s.name).collect();
    let is_secret_line = |line: &&str| {
        secret_names
            .iter()
            .any(|name| line.starts_with(&format!("{name}=")))
    };
    let kept_before: Vec<&str> = example.lines().filter(|l| !is_secret_line(l)).collect();
    let kept_after: Vec<&str> = written.lines().filter(|l| !is_secret_line(l)).collect();
    assert_eq!(kept_before, kept_after);
    assert_eq!(placeholders(&written), Vec::<String>::new());

    // Without the stores the guard still refuses, naming them and nothing else.
    let no_stores = app(directory.path(), &["doctor", "--env", "prod"], &[]);
    assert_eq!(no_stores.status.code(), Some(3));
    let output = combined(&no_stores);
    assert!(
        output.contains("DATABASE_URL:") && output.contains("REDIS_URL:"),
        "{output}"
    );
    for key in &refused {
        assert!(
            !output.contains(&format!("{key}:")),
            "{key} still refused:\n{output}"
        );
    }

    let after = app(directory.path(), &["doctor", "--env", "prod"], &urls);
    assert!(after.status.success(), "{}", combined(&after));
}

#[test]
fn every_generated_secret_is_a_refused_placeholder_in_the_prod_example() {
    let example = EnvFile::parse(&fs::read_to_string(prod_example()).unwrap());
    assert_eq!(example.get("ENVIRONMENT").as_deref(), Some("prod"));
    for setting in SECRET_SETTINGS {
        let value = example
            .get(setting.name)
            .unwrap_or_else(|| panic!("{} is missing from .env.prod.example", setting.name));
        assert!(
            !check_secret(&value).is_empty(),
            "{} has a value production would accept",
            setting.name
        );
    }
}

#[test]
fn doctor_refuses_an_env_file_other_users_can_read() {
    let directory = tempfile::tempdir().unwrap();
    let env_file = directory.path().join(".env");
    fs::write(&env_file, "ENVIRONMENT=prod\n").unwrap();
    let write = app(directory.path(), &["ops", "secrets", "--write"], &[]);
    assert!(write.status.success(), "{}", combined(&write));
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o644)).unwrap();
    let urls = [
        ("DATABASE_URL", local_database_url()),
        ("REDIS_URL", local_redis_url()),
        // Not secrets but this deployment's own services, like the stores.
        ("SMTP_HOST", "smtp.example.com".to_owned()),
        ("PUBLIC_URL", "https://app.example.com".to_owned()),
    ];
    let output = app(directory.path(), &["doctor", "--env", "prod"], &urls);
    assert_eq!(output.status.code(), Some(3), "{}", combined(&output));
    assert!(
        combined(&output).contains("chmod 600"),
        "{}",
        combined(&output)
    );
}

//! Settings read from files (`JWT_SECRET_FILE`, `DATABASE_URL_FILE`, `REDIS_URL_FILE`), the
//! way Docker Swarm secrets reach the app, run with the built binary: the production guard
//! judges the file's content, and a missing, unreadable or empty file stops the binary with one
//! line naming the variable.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

fn app(directory: &Path, args: &[&str], environment: &[(&str, String)]) -> Output {
    let mut command = common::app_command(directory);
    command.args(args);
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(directory: &Path, name: &str, content: &str) -> String {
    let path = directory.join(name);
    fs::write(&path, content).unwrap();
    path.display().to_string()
}

/// Production settings whose three secrets come from files in `directory`.
fn prod_from_files(directory: &Path, jwt_secret: &str) -> Vec<(&'static str, String)> {
    let database = std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    vec![
        ("ENVIRONMENT", "prod".to_owned()),
        (
            "JWT_SECRET_FILE",
            write(directory, "jwt", &format!("{jwt_secret}\n")),
        ),
        (
            "DATABASE_URL_FILE",
            write(directory, "database", &format!("{database}\n")),
        ),
        (
            "REDIS_URL_FILE",
            write(directory, "redis", &format!("{}\n", common::redis_url())),
        ),
        // Mail links need a relay and an https base outside dev; nothing is sent here.
        ("SMTP_HOST", "smtp.example.com".to_owned()),
        ("PUBLIC_URL", "https://app.example.com".to_owned()),
        (
            "MFA_ENCRYPTION_KEY",
            common::TEST_MFA_ENCRYPTION_KEY.to_owned(),
        ),
{%- if storage %}
        (
            "STORAGE_ENCRYPTION_KEY",
            common::TEST_STORAGE_KEY.to_owned(),
        ),
{%- endif %}
    ]
}

#[test]
fn the_guard_judges_the_content_of_the_secret_file() {
    let directory = tempfile::tempdir().unwrap();
    let strong = "k3Vq9sX2pL7mN4bR8tY1wZ6cF0hJ5dG3aE9uQ2iO";
    let accepted = app(
        directory.path(),
        &["doctor"],
        &prod_from_files(directory.path(), strong),
    );
    assert!(accepted.status.success(), "{}", stderr(&accepted));

    let refused = app(
        directory.path(),
        &["doctor"],
        &prod_from_files(directory.path(), "CHANGE_ME_jwt_secret"),
    );
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        stderr(&refused)
    );
    assert!(output.contains("JWT_SECRET:"), "{output}");
    assert!(
        !output.contains("CHANGE_ME_jwt_secret"),
        "the secret is echoed: {output}"
    );
}

#[test]
fn a_missing_unreadable_or_empty_file_is_one_clear_line() {
    let directory = tempfile::tempdir().unwrap();
    let empty = write(directory.path(), "empty", "\n");
    let missing = directory.path().join("absent").display().to_string();
    let folder = directory.path().display().to_string();
    for (variable, path, expected) in [
        (
            "JWT_SECRET_FILE",
            missing.clone(),
            format!("JWT_SECRET_FILE: cannot read {missing}: "),
        ),
        (
            "DATABASE_URL_FILE",
            folder.clone(),
            format!("DATABASE_URL_FILE: cannot read {folder}: "),
        ),
        (
            "REDIS_URL_FILE",
            empty.clone(),
            format!("REDIS_URL_FILE: {empty} is empty"),
        ),
    ] {
        for command in [&["doctor"][..], &["serve"][..]] {
            let output = app(directory.path(), command, &[(variable, path.clone())]);
            assert_eq!(
                output.status.code(),
                Some(3),
                "{variable}: {}",
                stderr(&output)
            );
            let message = stderr(&output);
            assert_eq!(message.lines().count(), 1, "{message}");
            assert!(
                message.starts_with(&format!("error: {expected}")),
                "{message}"
            );
        }
    }
}

//! `ops secrets`: the built binary, run in a temporary folder, with bad input.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Output;

use {{crate_name}}::guard::check_secret;
use {{crate_name}}::ops::env_file::EnvFile;
use {{crate_name}}::ops::secrets::SECRET_SETTINGS;

fn app(directory: &Path, args: &[&str]) -> Output {
    common::app_command(directory)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn secret_values(path: &Path) -> Vec<String> {
    let file = EnvFile::parse(&fs::read_to_string(path).unwrap());
    SECRET_SETTINGS
        .iter()
        .map(|setting| file.get(setting.name).expect("every secret is written"))
        .collect()
}

#[test]
fn without_write_it_prints_one_strong_value_per_secret_and_touches_no_file() {
    let directory = tempfile::tempdir().unwrap();
    let output = app(directory.path(), &["ops", "secrets"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), SECRET_SETTINGS.len(), "{printed}");
    for (line, setting) in lines.iter().zip(SECRET_SETTINGS) {
        let value = line
            .strip_prefix(&format!("{}=", setting.name))
            .unwrap_or_else(|| panic!("`{line}` does not set {}", setting.name));
        assert!(value.len() >= 43, "{value} is shorter than 32 random bytes");
        assert!(check_secret(value).is_empty(), "{value} is weak");
    }
    let again = stdout(&app(directory.path(), &["ops", "secrets"]));
    assert_ne!(printed, again, "two runs printed the same secrets");
    assert_eq!(fs::read_dir(directory.path()).unwrap().count(), 0);
}

#[test]
fn write_creates_a_0600_env_file_and_prints_no_secret() {
    let directory = tempfile::tempdir().unwrap();
    let output = app(directory.path(), &["ops", "secrets", "--write"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let env_file = directory.path().join(".env");
    assert_eq!(mode(&env_file), 0o600);
    let values = secret_values(&env_file);
    for value in &values {
        assert!(check_secret(value).is_empty());
        assert!(
            !stdout(&output).contains(value.as_str()),
            "a secret was printed"
        );
        assert!(
            !stderr(&output).contains(value.as_str()),
            "a secret was printed"
        );
    }
    for setting in SECRET_SETTINGS {
        assert!(stdout(&output).contains(&format!("{}: added", setting.name)));
    }
}

#[test]
fn write_replaces_placeholders_and_keeps_every_other_line_in_order() {
    let directory = tempfile::tempdir().unwrap();
    let env_file = directory.path().join("prod.env");
    let original = "# production settings\n\
                    ENVIRONMENT=prod\n\
                    \n\
                    export JWT_SECRET=CHANGE_ME_jwt_secret   # replace me\n\
                    CORS_ALLOWED_ORIGINS=https://app.example.org\n\
                    POSTGRES_PASSWORD=\"short\"\n\
                    REDIS_PASSWORD=\n\
                    MFA_ENCRYPTION_KEY=CHANGE_ME_mfa\n\
                    METRICS_TOKEN=\n\
{%- if storage %}
                    STORAGE_ENCRYPTION_KEY=CHANGE_ME_storage\n\
{%- endif %}
                    LOG_FORMAT=json{% if monitoring %}\n\
                    GRAFANA_ADMIN_PASSWORD=admin\n\
                    GRAFANA_SECRET_KEY=SW2YcwTIb9zpOOhoPsMm{% endif %}";
    fs::write(&env_file, original).unwrap();
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o644)).unwrap();

    let output = app(
        directory.path(),
        &["ops", "secrets", "--write", "--env-file", "prod.env"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let written = fs::read_to_string(&env_file).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines[0], "# production settings");
    assert_eq!(lines[1], "ENVIRONMENT=prod");
    assert_eq!(lines[2], "");
    assert!(lines[3].starts_with("export JWT_SECRET="), "{}", lines[3]);
    assert_eq!(lines[4], "CORS_ALLOWED_ORIGINS=https://app.example.org");
    assert!(lines[5].starts_with("POSTGRES_PASSWORD="));
    assert!(lines[6].starts_with("REDIS_PASSWORD="));
    assert!(lines[7].starts_with("MFA_ENCRYPTION_KEY="));
    assert!(lines[8].starts_with("METRICS_TOKEN="));
{%- if storage %}
    assert!(lines[9].starts_with("STORAGE_ENCRYPTION_KEY="));
    assert!(!lines[9].contains("CHANGE_ME"));
    let rest = &lines[10..];
{%- else %}
    let rest = &lines[9..];
{%- endif %}
    assert_eq!(rest[0], "LOG_FORMAT=json");{% if monitoring %}
    assert!(rest[1].starts_with("GRAFANA_ADMIN_PASSWORD="));
    assert!(rest[2].starts_with("GRAFANA_SECRET_KEY="));{% endif %}
    assert_eq!(
        rest.len(),
        {% if monitoring %}3{% else %}1{% endif %},
        "nothing appended when every key existed:\n{written}"
    );
    assert!(
        secret_values(&env_file)
            .iter()
            .all(|v| check_secret(v).is_empty())
    );
    assert_eq!(
        mode(&env_file),
        0o600,
        "an env file with secrets is made private"
    );
    assert!(stdout(&output).contains("replaced (the old value was weak)"));
}

#[test]
fn a_second_write_keeps_strong_secrets_and_rotate_replaces_them() {
    let directory = tempfile::tempdir().unwrap();
    let env_file = directory.path().join(".env");
    assert!(
        app(directory.path(), &["ops", "secrets", "--write"])
            .status
            .success()
    );
    let first = secret_values(&env_file);

    let output = app(directory.path(), &["ops", "secrets", "--write"]);
    assert!(output.status.success());
    assert_eq!(
        secret_values(&env_file),
        first,
        "strong secrets were changed"
    );
    assert!(stdout(&output).contains("kept (already strong"));

    let output = app(directory.path(), &["ops", "secrets", "--write", "--rotate"]);
    assert!(output.status.success());
    let rotated = secret_values(&env_file);
    for (old, new) in first.iter().zip(&rotated) {
        assert_ne!(old, new);
    }
    assert!(stdout(&output).contains("note: POSTGRES_PASSWORD changed"));
}

#[test]
fn malformed_lines_are_kept_byte_for_byte_and_reported() {
    let directory = tempfile::tempdir().unwrap();
    let env_file = directory.path().join(".env");
    let original =
        "GOOD=1\nthis is not an assignment\n=no key\n9STARTS_WITH_DIGIT=x\nJWT_SECRET=changeme\n";
    fs::write(&env_file, original).unwrap();
    // The default .env of the working folder is malformed: the command must still run.
    let output = app(directory.path(), &["ops", "secrets", "--write"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written = fs::read_to_string(&env_file).unwrap();
    for kept in [
        "GOOD=1\n",
        "this is not an assignment\n",
        "=no key\n",
        "9STARTS_WITH_DIGIT=x\n",
    ] {
        assert!(written.contains(kept), "lost {kept:?}:\n{written}");
    }
    assert!(written.starts_with(
        "GOOD=1\nthis is not an assignment\n=no key\n9STARTS_WITH_DIGIT=x\nJWT_SECRET="
    ));
    let warning = stderr(&output);
    assert!(warning.contains("line(s) 2, 3, 4"), "{warning}");
}

#[test]
fn a_read_only_env_file_is_refused_and_left_unchanged() {
    let directory = tempfile::tempdir().unwrap();
    let env_file = directory.path().join(".env");
    fs::write(&env_file, "JWT_SECRET=changeme\n").unwrap();
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o400)).unwrap();
    let output = app(directory.path(), &["ops", "secrets", "--write"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("read-only"), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(&env_file).unwrap(),
        "JWT_SECRET=changeme\n"
    );
    assert_eq!(mode(&env_file), 0o400);
}

#[test]
fn unwritable_destinations_fail_with_a_clear_error() {
    let directory = tempfile::tempdir().unwrap();
    let missing_folder = app(
        directory.path(),
        &[
            "ops",
            "secrets",
            "--write",
            "--env-file",
            "no/such/folder/.env",
        ],
    );
    assert_eq!(missing_folder.status.code(), Some(1));
    assert!(
        stderr(&missing_folder).contains("does not exist"),
        "{}",
        stderr(&missing_folder)
    );

    fs::create_dir(directory.path().join("a-folder")).unwrap();
    let folder = app(
        directory.path(),
        &["ops", "secrets", "--write", "--env-file", "a-folder"],
    );
    assert_eq!(folder.status.code(), Some(1));
    assert!(
        stderr(&folder).contains("not a regular file"),
        "{}",
        stderr(&folder)
    );

    let binary = directory.path().join("binary.env");
    fs::write(&binary, [0xff, 0xfe, b'\n']).unwrap();
    let not_text = app(
        directory.path(),
        &["ops", "secrets", "--write", "--env-file", "binary.env"],
    );
    assert_eq!(not_text.status.code(), Some(1));
    assert!(
        stderr(&not_text).contains("not UTF-8"),
        "{}",
        stderr(&not_text)
    );
    assert_eq!(fs::read(&binary).unwrap(), vec![0xff, 0xfe, b'\n']);
}

#[test]
fn a_symlinked_env_file_is_updated_through_the_link() {
    let directory = tempfile::tempdir().unwrap();
    let real = directory.path().join("real.env");
    fs::write(&real, "A=1\n").unwrap();
    symlink("real.env", directory.path().join(".env")).unwrap();
    let output = app(directory.path(), &["ops", "secrets", "--write"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        fs::symlink_metadata(directory.path().join(".env"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(fs::read_to_string(&real).unwrap().starts_with("A=1\n"));
    assert_eq!(secret_values(&real).len(), SECRET_SETTINGS.len());
}

#[test]
fn rotate_and_env_file_require_write() {
    let directory = tempfile::tempdir().unwrap();
    for args in [
        &["ops", "secrets", "--rotate"][..],
        &["ops", "secrets", "--env-file", "x.env"][..],
    ] {
        let output = app(directory.path(), args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stderr(&output).contains("--write"), "{}", stderr(&output));
    }
    assert!(!directory.path().join("x.env").exists());
}

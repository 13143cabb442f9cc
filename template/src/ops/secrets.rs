//! `ops secrets`: a fresh CSPRNG value for every secret the deployment needs, printed or
//! upserted into the env file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::config::ConfigSources;
use crate::guard::{self, Violation};
use crate::ops::env_file::{self, ENV_FILE_MODE, EnvFile, EnvFileError, Upsert};

/// Random bytes per secret: 256 bits, the guard's minimum for an HMAC-SHA256 key.
pub const SECRET_BYTES: usize = 32;

/// Who reads a secret, which decides who judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretConsumer {
    /// A field of `Settings`; the production guard judges it.
    Application,
    /// Compose hands it to a container (a datastore{% if monitoring %}, the monitoring stack{% endif %}); `doctor`
    /// judges it when it is set.
    Datastore,
}

#[derive(Debug, Clone, Copy)]
pub struct SecretSetting {
    pub name: &'static str,
    pub consumer: SecretConsumer,
    /// Shown when an existing value is replaced: what changing it does to a running system.
    pub rotation_note: &'static str,
}

/// Every secret `ops secrets` generates. A unit test fails when the guard judges a secret
/// setting missing from this list.
pub const SECRET_SETTINGS: &[SecretSetting] = &[
    SecretSetting {
        name: "JWT_SECRET",
        consumer: SecretConsumer::Application,
        rotation_note: "tokens signed with the old value stop working: every user logs in again",
    },
    SecretSetting {
        name: "MFA_ENCRYPTION_KEY",
        consumer: SecretConsumer::Application,
        rotation_note: "TOTP secrets encrypted with the old value can no longer be read: every \
                        user with MFA on must be reset (admin) and enrol again",
    },
{%- if storage %}
    SecretSetting {
        name: "STORAGE_ENCRYPTION_KEY",
        consumer: SecretConsumer::Application,
        rotation_note: "files wrapped with the old value can no longer be read unless it is kept: \
                        put `OLD_ID:old value` in STORAGE_ENCRYPTION_PREVIOUS_KEYS, give \
                        STORAGE_ENCRYPTION_KEY_ID a new id, restart, then run `storage rotate-key`",
    },
{%- endif %}
    SecretSetting {
        name: "METRICS_TOKEN",
        consumer: SecretConsumer::Application,
        rotation_note: "Prometheus must scrape with the new value (its bearer token file)",
    },
    SecretSetting {
        name: "POSTGRES_PASSWORD",
        consumer: SecretConsumer::Datastore,
        rotation_note: "Postgres applies it only when its data volume is first created; for an \
                        existing database also run ALTER USER … PASSWORD with the new value",
    },
    SecretSetting {
        name: "REDIS_PASSWORD",
        consumer: SecretConsumer::Datastore,
        rotation_note: "takes effect when the redis and api containers are recreated",
    },{% if monitoring %}
    SecretSetting {
        name: "GRAFANA_ADMIN_PASSWORD",
        consumer: SecretConsumer::Datastore,
        rotation_note: "Grafana applies it only when its data volume is first created; for an \
                        existing one run `grafana cli admin reset-admin-password` in the container",
    },
    SecretSetting {
        name: "GRAFANA_SECRET_KEY",
        consumer: SecretConsumer::Datastore,
        rotation_note: "Grafana can no longer decrypt the secrets it stored with the old key \
                        (data source passwords): enter them again",
    },{% endif %}
];

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    #[error("cannot write to standard output")]
    Output(#[from] io::Error),
}

/// A fresh secret: [`SECRET_BYTES`] from the OS CSPRNG, URL-safe base64 without padding (safe
/// unquoted in a dotenv file, a shell and a connection URL).
pub fn generate_secret() -> Result<String, SecretsError> {
    // A random value may by chance contain a word the guard treats as a placeholder marker
    // (about 1 in 25 000 for "todo"); draw again rather than emit a value production refuses.
    for _ in 0..16 {
        let mut bytes = [0u8; SECRET_BYTES];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|error| SecretsError::Random(error.to_string()))?;
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        if guard::check_secret(&secret).is_empty() {
            return Ok(secret);
        }
    }
    Err(SecretsError::Random(
        "16 draws in a row were refused by the guard; the generator is not random".to_owned(),
    ))
}

/// What `--write` did to one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    Added,
    /// Replaced because the old value was weak, or because of `--rotate`.
    Replaced {
        weak: bool,
    },
    /// Already strong and `--rotate` not given.
    Kept,
}

#[derive(Debug, Clone)]
pub struct WriteReport {
    pub path: PathBuf,
    pub changes: Vec<(&'static str, SecretChange)>,
    pub malformed_lines: Vec<usize>,
}

/// Upserts every secret into the env file at `path` (created if missing, mode 0600). Values
/// that already pass the guard are kept unless `rotate`: re-running must not silently change
/// the password of a live database.
pub fn write_secrets(path: &Path, rotate: bool) -> Result<WriteReport, SecretsError> {
    let (target, mut file) = env_file::read_for_update(path)?;
    let malformed_lines = file.malformed_lines();
    let mut changes = Vec::with_capacity(SECRET_SETTINGS.len());
    let mut labelled_appends = false;
    for setting in SECRET_SETTINGS {
        let current = file.get(setting.name);
        let weak = current
            .as_deref()
            .is_none_or(|value| !guard::check_secret(value).is_empty());
        if !weak && !rotate {
            changes.push((setting.name, SecretChange::Kept));
            continue;
        }
        if !file.contains(setting.name) && !labelled_appends {
            file.append_comment("Secrets generated by `ops secrets --write`.");
            labelled_appends = true;
        }
        let change = match file.upsert(setting.name, &generate_secret()?) {
            Upsert::Appended => SecretChange::Added,
            Upsert::Replaced => SecretChange::Replaced {
                weak: current
                    .as_deref()
                    .is_none_or(|v| !guard::check_secret(v).is_empty()),
            },
        };
        changes.push((setting.name, change));
    }
    env_file::write_atomically(&target, &file.render())?;
    Ok(WriteReport {
        path: path.to_path_buf(),
        changes,
        malformed_lines,
    })
}

/// `ops secrets` without `--write`: `KEY=value` lines on stdout, ready to paste or append.
pub fn print_secrets(out: &mut impl Write) -> Result<(), SecretsError> {
    for setting in SECRET_SETTINGS {
        writeln!(out, "{}={}", setting.name, generate_secret()?)?;
    }
    Ok(())
}

/// Describes a [`WriteReport`] without a single secret value.
pub fn describe_report(report: &WriteReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "Updated {} (mode {:04o}); no secret is printed.",
        report.path.display(),
        ENV_FILE_MODE
    )?;
    for (name, change) in &report.changes {
        let what = match change {
            SecretChange::Added => "added",
            SecretChange::Replaced { weak: true } => "replaced (the old value was weak)",
            SecretChange::Replaced { weak: false } => "rotated",
            SecretChange::Kept => "kept (already strong; --rotate replaces it)",
        };
        writeln!(out, "  {name}: {what}")?;
    }
    for (name, change) in &report.changes {
        if matches!(change, SecretChange::Replaced { .. })
            && let Some(setting) = SECRET_SETTINGS.iter().find(|s| s.name == *name)
        {
            writeln!(out, "  note: {name} changed: {}", setting.rotation_note)?;
        }
    }
    Ok(())
}

/// Lines of the env file that are not `KEY=value`, reported on stderr (they were kept as is).
pub fn describe_malformed(report: &WriteReport, err: &mut impl Write) -> io::Result<()> {
    if report.malformed_lines.is_empty() {
        return Ok(());
    }
    let numbers: Vec<String> = report
        .malformed_lines
        .iter()
        .map(ToString::to_string)
        .collect();
    writeln!(
        err,
        "warning: {} line(s) {} are not KEY=value assignments; they were kept unchanged",
        report.path.display(),
        numbers.join(", ")
    )
}

/// The datastore passwords are not settings of the app, so the guard cannot see them; `doctor`
/// judges them the same way whenever they are set (in the environment or `.env`).
pub fn datastore_secret_violations(sources: &ConfigSources) -> Vec<Violation> {
    let mut violations = Vec::new();
    for setting in SECRET_SETTINGS
        .iter()
        .filter(|s| s.consumer == SecretConsumer::Datastore)
    {
        let value = sources
            .environment
            .get(setting.name)
            .or_else(|| sources.dotenv.get(setting.name));
        if let Some(value) = value {
            guard::check_secret_setting(setting.name, value, &mut violations);
        }
    }
    violations
}

/// Parses an env file for tests and tools that want the dotenv view of it.
pub fn read_env_file(path: &Path) -> Result<EnvFile, EnvFileError> {
    env_file::read_for_update(path).map(|(_, file)| file)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::SecretString;

    use super::*;
    use crate::config::{Environment, Settings};

    #[test]
    fn generated_secrets_are_url_safe_32_random_bytes_that_the_guard_accepts() {
        let first = generate_secret().unwrap();
        let second = generate_secret().unwrap();
        assert_ne!(first, second);
        assert_eq!(URL_SAFE_NO_PAD.decode(&first).unwrap().len(), SECRET_BYTES);
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert!(guard::check_secret(&first).is_empty());
    }

    /// If a new secret setting is added to the guard without being listed here, production
    /// refuses it even after `ops secrets --write`: this catches that drift.
    #[test]
    fn every_secret_the_guard_judges_is_generated() {
        let mut environment: HashMap<String, String> = HashMap::new();
        environment.insert("ENVIRONMENT".to_owned(), "prod".to_owned());
        environment.insert(
            "DATABASE_URL".to_owned(),
            "postgres://a:b@db/app".to_owned(),
        );
        environment.insert("REDIS_URL".to_owned(), "redis://redis:6379".to_owned());
        environment.insert("SMTP_HOST".to_owned(), "smtp.example.com".to_owned());
        environment.insert(
            "PUBLIC_URL".to_owned(),
            "https://app.example.com".to_owned(),
        );
        for setting in SECRET_SETTINGS {
            environment.insert(setting.name.to_owned(), generate_secret().unwrap());
        }
        let settings = Settings::from_sources(ConfigSources {
            environment,
            ..ConfigSources::default()
        })
        .unwrap();
        assert_eq!(settings.environment, Environment::Prod);
        assert_eq!(guard::production_violations(&settings), vec![]);
        // And the list is not vacuous: the default JWT secret is refused.
        let defaults = Settings {
            jwt_secret: SecretString::from(crate::config::DEV_JWT_SECRET),
            ..settings
        };
        assert!(!guard::production_violations(&defaults).is_empty());
    }

    #[test]
    fn weak_datastore_passwords_are_named_and_strong_or_absent_ones_pass() {
        let mut sources = ConfigSources::default();
        assert_eq!(datastore_secret_violations(&sources), vec![]);
        sources.dotenv.insert(
            "POSTGRES_PASSWORD".to_owned(),
            "CHANGE_ME_postgres".to_owned(),
        );
        sources
            .environment
            .insert("REDIS_PASSWORD".to_owned(), "redis".to_owned());
        let named: Vec<_> = datastore_secret_violations(&sources)
            .iter()
            .map(|v| v.setting)
            .collect();
        assert_eq!(named, vec!["POSTGRES_PASSWORD", "REDIS_PASSWORD"]);
        // The environment wins over .env, as for every other setting.
        sources
            .environment
            .insert("POSTGRES_PASSWORD".to_owned(), generate_secret().unwrap());
        sources
            .environment
            .insert("REDIS_PASSWORD".to_owned(), generate_secret().unwrap());
        assert_eq!(datastore_secret_violations(&sources), vec![]);
    }
}

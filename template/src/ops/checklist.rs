//! `ops checklist`: the go-live list. Each item that can be verified from here is checked live
//! (guard, database, migrations, an admin, Redis,{% if storage %} object storage,{% endif %} backups); the rest are listed with the
//! command or step that settles them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;

use crate::config::{ConfigSources, Settings};
use crate::error_chain::Chain;
use crate::ops::production_checks::deployment_violations;
{%- if storage %}
use crate::storage::Storage;
{%- endif %}
use crate::{db, guard, store};

/// The binary's name, for the commands the checklist suggests.
const APP: &str = env!("CARGO_PKG_NAME");
/// A backup older than this fails the checklist (a daily job plus slack for a slow dump).
pub const DEFAULT_BACKUP_MAX_AGE_HOURS: u64 = 26;
/// How long a live check may take before it counts as failed; longer than the database's own
/// connect timeout, so its more precise error is the one reported.
const CHECK_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// Cannot be verified from inside the app; the detail says how to verify it.
    Manual,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub title: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Item {
    fn new(title: &'static str, status: Status, detail: impl Into<String>) -> Item {
        Item {
            title,
            status,
            detail: detail.into(),
        }
    }
}

/// Runs every check. Never fails itself: an unreachable store is a failed item.
pub async fn run_checks(settings: &Settings, sources: &ConfigSources) -> Vec<Item> {
    let mut items = vec![environment_item(settings), guard_item(settings, sources)];

    let database = connect_database(settings).await;
    match &database {
        Ok(connection) => {
            items.push(Item::new(
                "Database reachable (Postgres)",
                Status::Pass,
                db::target(settings).display,
            ));
            items.push(migrations_item(connection).await);
            items.push(admin_item(connection).await);
        }
        Err(reason) => {
            items.push(Item::new(
                "Database reachable (Postgres)",
                Status::Fail,
                reason.clone(),
            ));
            let skipped = "not checked: the database is unreachable";
            items.push(Item::new("Migrations applied", Status::Fail, skipped));
            items.push(Item::new(
                "An active admin account exists",
                Status::Fail,
                skipped,
            ));
        }
    }
    if let Ok(connection) = database {
        // Release the pool before the remaining checks rather than at the end of the command.
        let _ = connection.close().await;
    }

    items.push(redis_item(settings).await);
{%- if storage %}
    items.push(storage_item(settings).await);
{%- endif %}
    items.push(backups_item(
        &backup_directory(sources),
        backup_max_age(sources),
    ));
    items.extend(manual_items());
    items
}

fn environment_item(settings: &Settings) -> Item {
    if settings.environment.is_dev() {
        Item::new(
            "ENVIRONMENT is prod (or staging)",
            Status::Fail,
            "ENVIRONMENT is dev: the production guard does not run and dev defaults apply",
        )
    } else {
        Item::new(
            "ENVIRONMENT is prod (or staging)",
            Status::Pass,
            format!("ENVIRONMENT={}", settings.environment),
        )
    }
}

/// The production rules regardless of ENVIRONMENT, plus the deployment's own secrets.
fn guard_item(settings: &Settings, sources: &ConfigSources) -> Item {
    let mut violations = guard::rules_for_production(settings);
    violations.extend(deployment_violations(
        sources,
        Path::new(crate::ops::DEFAULT_ENV_FILE),
    ));
    if violations.is_empty() {
        return Item::new(
            "Production guard passes",
            Status::Pass,
            "no setting would be refused",
        );
    }
    let named: Vec<String> = violations.iter().map(ToString::to_string).collect();
    Item::new(
        "Production guard passes",
        Status::Fail,
        format!(
            "{}; `{APP} ops secrets --write` fixes the secrets",
            named.join("; ")
        ),
    )
}

async fn connect_database(settings: &Settings) -> Result<DatabaseConnection, String> {
    match settings.database_url.as_deref() {
        None => return Err("DATABASE_URL is not set (the embedded SQLite is dev only)".into()),
        Some(url) if url.starts_with("sqlite:") => {
            return Err("DATABASE_URL points at SQLite, which is dev only".into());
        }
        Some(_) => {}
    }
    match tokio::time::timeout(CHECK_TIMEOUT, db::connect(settings)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(Chain(&error).to_string()),
        Err(_) => Err(format!(
            "no answer from {} within {}s",
            db::target(settings).display,
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

async fn migrations_item(connection: &DatabaseConnection) -> Item {
    const TITLE: &str = "Migrations applied";
    match Migrator::get_pending_migrations(connection).await {
        Ok(pending) if pending.is_empty() => Item::new(TITLE, Status::Pass, "none pending"),
        Ok(pending) => {
            let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
            Item::new(
                TITLE,
                Status::Fail,
                format!(
                    "{} pending ({}): run `{APP} db migrate`",
                    names.len(),
                    names.join(", ")
                ),
            )
        }
        Err(error) => Item::new(TITLE, Status::Fail, format!("cannot read them: {error}")),
    }
}

async fn admin_item(connection: &DatabaseConnection) -> Item {
    const TITLE: &str = "An active admin account exists";
    match crate::ops::admins::count_active_admins(connection).await {
        Ok(0) => Item::new(
            TITLE,
            Status::Fail,
            format!("no active user has the admin role: run `{APP} auth init`"),
        ),
        Ok(count) => Item::new(TITLE, Status::Pass, format!("{count} active admin(s)")),
        Err(error) => Item::new(TITLE, Status::Fail, format!("cannot count them: {error}")),
    }
}

async fn redis_item(settings: &Settings) -> Item {
    const TITLE: &str = "Redis reachable";
    let Some(url) = settings.redis_url.as_deref() else {
        return Item::new(
            TITLE,
            Status::Fail,
            "REDIS_URL is not set (the in-process store is dev only)",
        );
    };
    let shown = db::redact_url(url);
    let store = match store::from_settings(settings) {
        Ok(store) => store,
        Err(error) => return Item::new(TITLE, Status::Fail, format!("{shown}: {error}")),
    };
    match tokio::time::timeout(CHECK_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => Item::new(TITLE, Status::Pass, shown),
        Ok(Err(error)) => Item::new(TITLE, Status::Fail, format!("{shown}: {error}")),
        Err(_) => Item::new(
            TITLE,
            Status::Fail,
            format!("{shown}: no answer within {}s", CHECK_TIMEOUT.as_secs()),
        ),
    }
}

{%- if storage %}

/// Opens the configured store without creating anything and runs its write/read/delete check.
async fn storage_item(settings: &Settings) -> Item {
    const TITLE: &str = "Object storage reachable";
    let storage = match Storage::open(settings) {
        Ok(storage) => storage,
        Err(error) => return Item::new(TITLE, Status::Fail, Chain(&error).to_string()),
    };
    let shown = storage.target().to_string();
    match tokio::time::timeout(CHECK_TIMEOUT, storage.check()).await {
        Ok(Ok(report)) => Item::new(
            TITLE,
            Status::Pass,
            format!("{shown}: wrote, read back and deleted {}", report.marker),
        ),
        Ok(Err(error)) => Item::new(TITLE, Status::Fail, Chain(&error).to_string()),
        Err(_) => Item::new(
            TITLE,
            Status::Fail,
            format!("{shown}: no answer within {}s", CHECK_TIMEOUT.as_secs()),
        ),
    }
}
{%- endif %}

/// Where the backup service writes: BACKUP_DIR (set for the api container by
/// compose.prod.yaml), else BACKUP_HOST_DIR, else `./backups` of the project.
pub fn backup_directory(sources: &ConfigSources) -> PathBuf {
    ["BACKUP_DIR", "BACKUP_HOST_DIR"]
        .iter()
        .find_map(|name| lookup(sources, name).filter(|v| !v.trim().is_empty()))
        .map_or_else(|| PathBuf::from("backups"), PathBuf::from)
}

fn backup_max_age(sources: &ConfigSources) -> Duration {
    let hours = lookup(sources, "BACKUP_MAX_AGE_HOURS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|hours| *hours > 0)
        .unwrap_or(DEFAULT_BACKUP_MAX_AGE_HOURS);
    Duration::from_secs(hours.saturating_mul(3600))
}

fn lookup(sources: &ConfigSources, name: &str) -> Option<String> {
    sources
        .environment
        .get(name)
        .or_else(|| sources.dotenv.get(name))
        .cloned()
}

/// Passes when the newest `*.dump` archive (deploy/backup.sh) is younger than `max_age`.
pub fn backups_item(directory: &Path, max_age: Duration) -> Item {
    const TITLE: &str = "Backups configured and recent";
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => {
            return Item::new(
                TITLE,
                Status::Fail,
                format!(
                    "cannot read {} ({error}): schedule daily dumps (the backup service of \
                     compose.prod.yaml runs deploy/backup.sh) or set BACKUP_DIR",
                    directory.display()
                ),
            );
        }
    };
    let newest = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "dump"))
        .filter_map(|entry| {
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some((modified, entry.path()))
        })
        .max_by_key(|(modified, _)| *modified);
    let Some((modified, path)) = newest else {
        return Item::new(
            TITLE,
            Status::Fail,
            format!("no backup archive in {}", directory.display()),
        );
    };
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or(Duration::ZERO);
    let hours = age.as_secs() / 3600;
    if age > max_age {
        Item::new(
            TITLE,
            Status::Fail,
            format!(
                "newest archive {} is {hours}h old (limit {}h): check the backup service's logs",
                path.display(),
                max_age.as_secs() / 3600
            ),
        )
    } else {
        Item::new(
            TITLE,
            Status::Pass,
            format!("newest archive {} is {hours}h old", path.display()),
        )
    }
}

fn manual_items() -> Vec<Item> {
    [
        (
            "TLS reverse proxy in front of the API",
            "Caddy or nginx terminating TLS (deploy/setup-proxy.sh DOMAIN EMAIL sets up \
             Caddy); then `shasec probe https://DOMAIN`",
        ),
        (
            "Firewall: only 22, 80 and 443 open; no datastore port public",
            "deploy/harden-os.sh on the server (--check-only re-verifies); remember that \
             ports published by Docker bypass ufw",
        ),
        (
            "A restore has been rehearsed",
            "restore the latest archive into a scratch database (deploy/restore.sh)",
        ),
        (
            "Backups are copied off the server",
            "sync ./backups to another machine or object storage",
        ),
        (
            "Static audit is clean",
            "shasec audit --fail-on medium in the project folder",
        ),
        (
            "The .env secrets are also kept outside the server",
            "store them in a password manager; losing POSTGRES_PASSWORD locks you out",
        ),
    ]
    .into_iter()
    .map(|(title, detail)| Item::new(title, Status::Manual, detail))
    .collect()
}

/// Prints the list; returns how many items failed.
pub fn print_items(items: &[Item], out: &mut impl std::io::Write) -> std::io::Result<usize> {
    let mut failed = 0;
    let mut passed = 0;
    let mut manual = 0;
    for item in items {
        let mark = match item.status {
            Status::Pass => {
                passed += 1;
                "[ok]    "
            }
            Status::Fail => {
                failed += 1;
                "[FAIL]  "
            }
            Status::Manual => {
                manual += 1;
                "[manual]"
            }
        };
        writeln!(out, "{mark} {}", item.title)?;
        writeln!(out, "         {}", item.detail)?;
    }
    writeln!(
        out,
        "summary: {passed} ok, {failed} failing, {manual} to verify by hand"
    )?;
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use std::fs::{self, File, FileTimes};

    use super::*;

    #[test]
    fn a_recent_archive_passes_and_an_old_one_fails() {
        let directory = tempfile::tempdir().unwrap();
        let archive = directory.path().join("app-20250101T000000Z.dump");
        File::create(&archive).unwrap();
        let day = Duration::from_secs(26 * 3600);
        assert_eq!(backups_item(directory.path(), day).status, Status::Pass);

        let old = SystemTime::now() - Duration::from_secs(30 * 3600);
        File::options()
            .write(true)
            .open(&archive)
            .unwrap()
            .set_times(FileTimes::new().set_modified(old))
            .unwrap();
        let item = backups_item(directory.path(), day);
        assert_eq!(item.status, Status::Fail);
        assert!(item.detail.contains("30h old"), "{}", item.detail);
    }

    #[test]
    fn a_missing_or_empty_backup_folder_fails() {
        let directory = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(3600);
        fs::write(directory.path().join("notes.txt"), "not an archive").unwrap();
        assert_eq!(backups_item(directory.path(), day).status, Status::Fail);
        let missing = directory.path().join("nope");
        assert_eq!(backups_item(&missing, day).status, Status::Fail);
    }

    #[test]
    fn backup_settings_come_from_the_environment_then_dotenv() {
        let mut sources = ConfigSources::default();
        assert_eq!(backup_directory(&sources), PathBuf::from("backups"));
        sources
            .dotenv
            .insert("BACKUP_HOST_DIR".to_owned(), "/srv/backups".to_owned());
        assert_eq!(backup_directory(&sources), PathBuf::from("/srv/backups"));
        sources
            .environment
            .insert("BACKUP_DIR".to_owned(), "/backups".to_owned());
        assert_eq!(backup_directory(&sources), PathBuf::from("/backups"));
        sources
            .environment
            .insert("BACKUP_MAX_AGE_HOURS".to_owned(), "nonsense".to_owned());
        assert_eq!(backup_max_age(&sources), Duration::from_secs(26 * 3600));
        sources
            .environment
            .insert("BACKUP_MAX_AGE_HOURS".to_owned(), "2".to_owned());
        assert_eq!(backup_max_age(&sources), Duration::from_secs(7200));
        sources
            .environment
            .insert("BACKUP_MAX_AGE_HOURS".to_owned(), u64::MAX.to_string());
        assert_eq!(backup_max_age(&sources), Duration::from_secs(u64::MAX));
    }
}

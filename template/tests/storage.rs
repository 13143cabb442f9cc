//! Object storage: `storage init` on real folders, the reachability check of each local
//! backend, and malformed `STORAGE_URL` values refused with a clear error.

mod common;

use std::path::Path;
use std::process::Output;

use common::run_binary;

// The application crate, in its own group (see tests/common/mod.rs).
use {{crate_name}}::config::Settings;
use {{crate_name}}::storage::Storage;
use {{crate_name}}::storage::StorageError;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Every file under `folder`, recursively (the check must leave none behind).
fn files_under(folder: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn storage_init_creates_the_folder_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("objects").join("nested");
    let url = file_url(&folder);
    let env = [("STORAGE_URL", url.as_str())];

    let first = run_binary(dir.path(), &["storage", "init"], &env).await;
    let report = stdout(&first);
    assert!(first.status.success(), "{report}{}", stderr(&first));
    assert!(report.contains("created folder"), "{report}");
    assert!(
        report.contains("wrote, read back and deleted .shaapi/"),
        "{report}"
    );
    assert!(folder.is_dir());

    std::fs::write(folder.join("kept.txt"), b"user data").unwrap();
    let second = run_binary(dir.path(), &["storage", "init"], &env).await;
    let report = stdout(&second);
    assert!(second.status.success(), "{report}{}", stderr(&second));
    assert!(report.contains("already exists"), "{report}");
    assert_eq!(files_under(&folder), vec![folder.join("kept.txt")]);
}

#[tokio::test]
async fn storage_init_defaults_to_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(dir.path(), &["storage", "init"], &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(dir.path().join("data").join("storage").is_dir());
}

#[tokio::test]
async fn storage_init_on_an_impossible_location_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a folder").unwrap();

    // Under a regular file: creation fails whatever the user's permissions (tests run as root).
    let below = file_url(&blocker.join("storage"));
    let output = run_binary(dir.path(), &["storage", "init"], &[("STORAGE_URL", &below)]).await;
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("cannot create the storage folder"),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(!message.contains("panicked"), "{message}");

    // The file itself: it exists, but is no folder.
    let itself = file_url(&blocker);
    let output = run_binary(
        dir.path(),
        &["storage", "init"],
        &[("STORAGE_URL", &itself)],
    )
    .await;
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("is not a folder"), "{message}");
    assert_eq!(std::fs::read(&blocker).unwrap(), b"not a folder");
}

#[tokio::test]
async fn malformed_storage_urls_are_configuration_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "not a url",
        "ftp://example.org/x",
        "s3://",
        "file://host/srv",
    ] {
        for command in [&["doctor"][..], &["storage", "init"], &["serve"]] {
            let output = run_binary(dir.path(), command, &[("STORAGE_URL", bad)]).await;
            let message = stderr(&output);
            assert_eq!(
                output.status.code(),
                Some(3),
                "{bad} {command:?}: {message}"
            );
            assert!(message.contains("STORAGE_URL"), "{bad}: {message}");
            assert!(!message.contains("panicked"), "{bad}: {message}");
        }
    }
}

#[tokio::test]
async fn the_reachability_check_passes_on_a_folder_and_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("objects");
    let settings = Settings {
        storage_url: Some(file_url(&folder)),
        ..Settings::default()
    };
    // Opening never creates: the folder must be initialised first.
    assert!(matches!(
        Storage::open(&settings),
        Err(StorageError::MissingFolder { .. })
    ));
    let (storage, created) = Storage::open_creating(&settings).unwrap();
    assert!(created);
    let report = storage.check().await.unwrap();
    assert!(report.marker.starts_with(".shaapi/"), "{}", report.marker);
    assert!(
        files_under(&folder).is_empty(),
        "the marker was left behind"
    );

    let settings = Settings {
        storage_url: Some("memory://".to_owned()),
        ..Settings::default()
    };
    let storage = Storage::open(&settings).unwrap();
    storage.check().await.unwrap();
}

#[tokio::test]
async fn the_check_fails_clearly_when_the_folder_disappears() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("objects");
    let settings = Settings {
        storage_url: Some(file_url(&folder)),
        ..Settings::default()
    };
    let (storage, _) = Storage::open_creating(&settings).unwrap();
    std::fs::remove_dir(&folder).unwrap();
    std::fs::write(&folder, b"now a file").unwrap();
    let error = storage.check().await.unwrap_err();
    assert!(
        error.to_string().contains("writing a marker object"),
        "{error}"
    );
}

#[tokio::test]
async fn the_running_app_holds_a_reachable_store() {
    let app = common::spawn_app().await;
    app.state.storage.check().await.unwrap();
}

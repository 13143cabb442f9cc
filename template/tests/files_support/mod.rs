//! Helpers of the files tests: an app storing into its own folder (so a test can read the raw
//! objects), multipart bodies built by hand (so malformed ones can be sent too), sample files.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::path::{Path, PathBuf};

use reqwest::Response;
use uuid::Uuid;

use crate::auth_support::relaxed_limits;
use crate::common::{TestApp, spawn_app_with};

use {{crate_name}}::config::Settings;

pub const FILES: &str = "/api/v1/files";
pub const BOUNDARY: &str = "shaapi-test-boundary-7d1f";

/// An app whose object storage is a fresh folder of its own.
pub async fn spawn_files_app(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, tempfile::TempDir) {
    let folder = tempfile::tempdir().expect("cannot create a storage folder");
    let url = format!("file://{}", folder.path().display());
    let app = spawn_app_with(
        |settings| {
            relaxed_limits(settings);
            settings.storage_url = Some(url);
            configure(settings);
        },
        axum::Router::new(),
    )
    .await;
    (app, folder)
}

/// A PNG signature followed by `len` bytes that repeat a recognisable phrase.
pub fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let phrase = b"the quick plaintext phrase that must never reach the disk; ";
    while bytes.len() < len {
        bytes.extend_from_slice(phrase);
    }
    bytes.truncate(len.max(8));
    bytes
}

/// One part of a multipart body.
pub struct Part<'a> {
    pub name: &'a str,
    pub filename: Option<&'a str>,
    pub content_type: &'a str,
    pub data: &'a [u8],
}

pub fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match part.filename {
            Some(filename) => format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{filename}\"\r\n",
                part.name
            ),
            None => format!("Content-Disposition: form-data; name=\"{}\"\r\n", part.name),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(format!("Content-Type: {}\r\n\r\n", part.content_type).as_bytes());
        body.extend_from_slice(part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub async fn post_multipart(app: &TestApp, token: &str, body: Vec<u8>) -> Response {
    app.client
        .post(app.url(FILES))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload request failed")
}

/// Uploads `data` as `filename`, the part claiming `claimed_type`.
pub async fn upload(
    app: &TestApp,
    token: &str,
    filename: &str,
    claimed_type: &str,
    data: &[u8],
) -> Response {
    let body = multipart(&[Part {
        name: "file",
        filename: Some(filename),
        content_type: claimed_type,
        data,
    }]);
    post_multipart(app, token, body).await
}

/// Uploads a file that must be accepted; answers its id.
pub async fn uploaded(app: &TestApp, token: &str, data: &[u8]) -> Uuid {
    let response = upload(app, token, "picture.png", "image/png", data).await;
    let status = response.status();
    assert_eq!(
        status,
        201,
        "upload refused: {}",
        response.text().await.unwrap_or_default()
    );
    let body: serde_json::Value = response.json().await.expect("file metadata is JSON");
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("the metadata has an id")
}

pub async fn download(app: &TestApp, token: &str, id: Uuid) -> Response {
    app.client
        .get(app.url(&format!("{FILES}/{id}/content")))
        .bearer_auth(token)
        .send()
        .await
        .expect("download request failed")
}

/// Path of file `id`'s object in a local storage folder.
pub fn object_file(folder: &Path, id: Uuid) -> PathBuf {
    folder.join("files").join(id.to_string())
}

/// Every file under `folder`, recursively.
pub fn files_under(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Whether a missing test server (clamd, the S3 server) fails the test instead of skipping
/// it: CI sets `SHAAPI_REQUIRE_TEST_SERVERS=1` where it installs them.
pub fn test_servers_required() -> bool {
    std::env::var("SHAAPI_REQUIRE_TEST_SERVERS").is_ok_and(|value| value == "1")
}

/// Says why a test cannot run here: a skip on a developer machine, a failure in CI.
pub fn missing_server(reason: &str) {
    assert!(
        !test_servers_required(),
        "{reason}, and SHAAPI_REQUIRE_TEST_SERVERS=1: install it (the CI workflow does)"
    );
    eprintln!("skipping: {reason}; the CI workflow installs it");
}

/// The first of `candidates` that exists, or the program found on `PATH`.
pub fn find_program(name: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().find(|path| path.is_file()) {
        return Some(found.clone());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}

/// A child process killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub port: u16,
    pub folder: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `port` accepts connections (at most `seconds`).
pub async fn wait_for_port(port: u16, seconds: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

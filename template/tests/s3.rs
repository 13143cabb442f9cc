//! The S3 backend against a real S3-compatible server started here (moto's server mode, from
//! PyPI): `storage init` creates the missing bucket, then the application binary, configured
//! through the usual `AWS_*` variables, uploads, downloads and deletes encrypted files in it.

mod auth_support;
mod common;
mod files_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use files_support::*;
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;
use serde_json::{Value, json};
use uuid::Uuid;

use common::{RedisPrefix, TestDatabase, closed_port, redis_url, run_binary, unique_redis_prefix};

/// moto's server: `MOTO_SERVER`, else the venv the CI workflow makes.
fn moto_server() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        candidates.push(PathBuf::from(path));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cache/shaapi/tools/moto-venv/bin/moto_server"));
    }
    find_program("moto_server", &candidates)
}

async fn start_s3() -> Option<Server> {
    let Some(program) = moto_server() else {
        missing_server("moto_server is not installed (PyPI package moto[server])");
        return None;
    };
    let port = closed_port();
    let folder = tempfile::tempdir().unwrap();
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .current_dir(folder.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start moto_server");
    let server = Server {
        child,
        port,
        folder,
    };
    assert!(wait_for_port(port, 60).await, "moto_server did not listen");
    Some(server)
}

fn s3_env(port: u16, bucket: &str) -> Vec<(String, String)> {
    vec![
        ("STORAGE_URL".to_owned(), format!("s3://{bucket}/app")),
        (
            "AWS_ENDPOINT".to_owned(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("AWS_ALLOW_HTTP".to_owned(), "true".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
    ]
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

#[tokio::test]
async fn storage_init_creates_the_bucket_and_the_app_stores_encrypted_files_in_it() {
    let Some(s3) = start_s3().await else {
        return;
    };
    let bucket = format!("files-{}", Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let mut env = s3_env(s3.port, &bucket);

    let first = run_binary(dir.path(), &["storage", "init"], &pairs(&env)).await;
    let report = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        report.contains(&format!("created bucket {bucket}")),
        "{report}"
    );
    assert!(report.contains("wrote, read back and deleted"), "{report}");
    let second = run_binary(dir.path(), &["storage", "init"], &pairs(&env)).await;
    assert!(String::from_utf8_lossy(&second.stdout).contains("already exists"));

    // The application binary, as a deployment runs it.
    let database = TestDatabase::create().await;
    let redis = RedisPrefix {
        prefix: unique_redis_prefix(),
    };
    let port = closed_port();
    env.extend([
        ("DATABASE_URL".to_owned(), database.url.clone()),
        ("REDIS_URL".to_owned(), redis_url()),
        ("REDIS_KEY_PREFIX".to_owned(), redis.prefix.clone()),
        ("HOST".to_owned(), "127.0.0.1".to_owned()),
        ("PORT".to_owned(), port.to_string()),
        ("LOG_LEVEL".to_owned(), "warn".to_owned()),
    ]);
    let child = common::app_command(dir.path())
        .arg("serve")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start the application");
    let _app = Server {
        child,
        port,
        folder: tempfile::tempdir().unwrap(),
    };
    assert!(
        wait_for_port(port, 60).await,
        "the application did not listen"
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let ready: Value = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["storage"]["backend"], "s3", "{ready}");
    assert_eq!(ready["checks"]["storage"]["status"], "up", "{ready}");

    let email = format!("s3-{}@example.com", Uuid::new_v4().simple());
    let credentials = json!({"email": email, "password": auth_support::PASSWORD});
    let registered = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();

    // Larger than one 5 MiB part: a real multipart upload.
    let plaintext = png(6 * 1024 * 1024);
    let created = client
        .post(format!("{base}{FILES}"))
        .bearer_auth(&token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[Part {
            name: "file",
            filename: Some("big.png"),
            content_type: "image/png",
            data: &plaintext,
        }]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let store = AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{}", s3.port))
        .with_allow_http(true)
        .with_bucket_name(&bucket)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .build()
        .unwrap();
    let key = object_store::path::Path::from(format!("app/files/{id}"));
    let raw = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert!(raw.len() > plaintext.len());
    assert!(
        !contains(&raw, b"quick plaintext phrase"),
        "plaintext in the bucket"
    );

    let downloaded = client
        .get(format!("{base}{FILES}/{id}/content"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(
        downloaded.bytes().await.unwrap().as_ref(),
        plaintext.as_slice()
    );

    let deleted = client
        .delete(format!("{base}{FILES}/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(matches!(
        store.head(&key).await,
        Err(object_store::Error::NotFound { .. })
    ));
}

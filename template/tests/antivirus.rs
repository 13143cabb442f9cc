//! Uploads scanned by a real clamd (Debian's clamav-daemon), started here on a free port with
//! a signature database made locally: `sigtool --md5` of a harmless sample file, so no virus
//! database is needed. An infected upload is refused and leaves nothing; an unreachable clamd
//! fails closed.

mod auth_support;
mod common;
mod files_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use auth_support::*;
use files_support::*;
use sea_orm::{EntityTrait, PaginatorTrait};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{closed_port, problem};

use {{crate_name}}::entities::stored_files;

const SIGNATURE: &str = "Shaapi.Test.Sample";

/// The harmless file the local signature matches (a PNG, so the upload passes the sniffer).
fn sample() -> Vec<u8> {
    let mut bytes = png(64);
    bytes.extend_from_slice(b"shaapi harmless antivirus test sample\n");
    bytes
}

/// Starts clamd with its own configuration and a one-signature database; `None` (after saying
/// why) when clamd or sigtool is not installed.
async fn start_clamd() -> Option<Server> {
    let clamd = find_program("clamd", &[PathBuf::from("/usr/sbin/clamd")]);
    let sigtool = find_program("sigtool", &[PathBuf::from("/usr/bin/sigtool")]);
    let (Some(clamd), Some(sigtool)) = (clamd, sigtool) else {
        missing_server("clamd or sigtool is not installed (Debian package clamav-daemon)");
        return None;
    };
    let folder = tempfile::tempdir().unwrap();
    let database = folder.path().join("db");
    std::fs::create_dir(&database).unwrap();
    let sample_path = folder.path().join("sample.png");
    std::fs::write(&sample_path, sample()).unwrap();
    let output = Command::new(&sigtool)
        .arg("--md5")
        .arg(&sample_path)
        .output()
        .expect("cannot run sigtool");
    assert!(output.status.success(), "sigtool --md5 failed");
    // `md5:size:file name` → `md5:size:signature name`
    let line = String::from_utf8(output.stdout).unwrap();
    let mut fields: Vec<&str> = line.trim().splitn(3, ':').collect();
    fields[2] = SIGNATURE;
    std::fs::write(
        database.join("shaapi.hdb"),
        format!("{}\n", fields.join(":")),
    )
    .unwrap();

    let port = closed_port();
    let config = folder.path().join("clamd.conf");
    std::fs::write(
        &config,
        format!(
            "Foreground yes\nDatabaseDirectory {}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n\
             LogFile {}\nStreamMaxLength 100M\n",
            database.display(),
            folder.path().join("clamd.log").display()
        ),
    )
    .unwrap();
    let child = Command::new(&clamd)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start clamd");
    let server = Server {
        child,
        port,
        folder,
    };
    assert!(
        wait_for_port(port, 60).await,
        "clamd did not listen within 60 s; see its log"
    );
    // Listening is not answering: wait for PONG.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(b"zPING\0").await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    assert!(answer.starts_with(b"PONG"), "clamd answered {answer:?}");
    Some(server)
}

#[tokio::test]
async fn clean_files_are_stored_and_an_infected_one_is_refused_leaving_nothing() {
    let Some(clamd) = start_clamd().await else {
        return;
    };
    let address = format!("127.0.0.1:{}", clamd.port);
    let (app, folder) = spawn_files_app(|settings| settings.clamd_address = Some(address)).await;
    let (_, tokens) = signed_up(&app).await;

    let clean = png(300_000);
    let id = uploaded(&app, &tokens.access, &clean).await;
    assert!(object_file(folder.path(), id).is_file());

    let response = upload(&app, &tokens.access, "sample.png", "image/png", &sample()).await;
    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(SIGNATURE), "{detail}");

    assert_eq!(
        files_under(folder.path()),
        vec![object_file(folder.path(), id)]
    );
    assert_eq!(
        stored_files::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn an_unreachable_clamd_fails_closed_with_503() {
    let address = format!("127.0.0.1:{}", closed_port());
    let (app, folder) = spawn_files_app(|settings| settings.clamd_address = Some(address)).await;
    let (_, tokens) = signed_up(&app).await;
    let response = upload(&app, &tokens.access, "a.png", "image/png", &png(5000)).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body = problem(response).await;
    assert_eq!(body["dependency"], "antivirus");
    assert!(files_under(folder.path()).is_empty());
    assert_eq!(
        stored_files::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

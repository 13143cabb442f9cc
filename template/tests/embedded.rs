//! The no-Docker dev default: no DATABASE_URL, no REDIS_URL — SQLite under `data/`,
//! in-process stores, migrations applied at startup.

mod common;

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn serve_with_no_urls_is_ready_on_sqlite_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(common::binary())
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .envs([
            ("PORT", "0"),
            ("METRICS_ADDRESS", "127.0.0.1:0"),
            ("LOG_FORMAT", "json"),
        ])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if event["fields"]["message"] == "listening" {
                return event["fields"]["address"].as_str().unwrap().to_owned();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server did not start");
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let response = reqwest::get(format!("http://{address}/health/ready"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["backend"], "sqlite");
    assert_eq!(body["checks"]["redis"]["backend"], "in-process");
    let crate_name = "{{crate_name}}";
    let database_file = format!("data/{crate_name}.sqlite3");
    assert!(dir.path().join(database_file).is_file());

    // Migrations ran at startup: `db status` (same folder, same embedded file) agrees.
    let output = common::run_binary(dir.path(), &["db", "status"], &[]).await;
    let status = String::from_utf8_lossy(&output.stdout);
    assert!(status.contains(" applied, 0 pending"), "{status}");

    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server did not stop after SIGTERM")
        .unwrap();
    assert!(exit.success(), "exit status after SIGTERM: {exit}");
}

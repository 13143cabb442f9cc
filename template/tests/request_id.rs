mod common;

use std::time::Duration;

use common::{problem, spawn_app};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn a_sane_incoming_id_is_kept_and_echoed_in_header_and_error_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/missing"))
        .header("x-request-id", "client-trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-trace-42");
    let body = problem(response).await;
    assert_eq!(body["request_id"], "client-trace-42");
}

#[tokio::test]
async fn a_missing_id_is_generated_as_a_uuid() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");

    let response = app.client.get(app.url("/missing")).send().await.unwrap();
    let body = problem(response).await;
    assert!(uuid::Uuid::parse_str(body["request_id"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn an_unsafe_incoming_id_is_replaced() {
    let app = spawn_app().await;
    for unsafe_id in ["has spaces", "<script>alert(1)</script>", &"a".repeat(200)] {
        let response = app
            .client
            .get(app.url("/health/live"))
            .header("x-request-id", unsafe_id)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, unsafe_id);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
}

#[tokio::test]
async fn every_request_log_line_carries_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(common::binary())
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .envs([
            ("PORT", "0"),
            ("METRICS_ADDRESS", "127.0.0.1:0"),
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "info"),
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

    let response = reqwest::Client::new()
        .get(format!("http://{address}/no/such/page"))
        .header("x-request-id", "log-correlation-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let logged = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if event["span"]["path"] == "/no/such/page" {
                return event;
            }
        }
        panic!("no log line for the request");
    })
    .await
    .expect("the request was not logged");
    assert_eq!(logged["span"]["request_id"], "log-correlation-7");
    child.kill().await.unwrap();
}

//! Every error is an RFC 9457 problem document with the request id, whichever layer produced
//! it. The routes exercising the extractor, a panic and a slow handler exist only here.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use common::{problem, spawn_app_with};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use validator::Validate;

use {{crate_name}}::extract::ValidatedJson;
use {{crate_name}}::state::AppState;

const BODY_LIMIT: usize = 1024;

#[derive(Debug, Deserialize, Serialize, Validate)]
struct Order {
    #[validate(email(message = "must be an email address"))]
    email: String,
    #[validate(range(min = 1, max = 10, message = "must be between 1 and 10"))]
    quantity: u32,
}

async fn echo(ValidatedJson(order): ValidatedJson<Order>) -> axum::Json<Order> {
    axum::Json(order)
}

async fn explode() -> &'static str {
    panic!("database password is hunter2");
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

fn test_routes() -> Router<AppState> {
    Router::new()
        .route("/test/orders", post(echo))
        .route("/test/panic", get(explode))
        .route("/test/slow", get(slow))
}

async fn app() -> common::TestApp {
    spawn_app_with(
        |settings| {
            settings.body_limit_bytes = BODY_LIMIT;
            settings.request_timeout_secs = 1;
        },
        test_routes(),
    )
    .await
}

#[tokio::test]
async fn valid_body_is_accepted() {
    let app = app().await;
    let response = app
        .client
        .post(app.url("/test/orders"))
        .json(&serde_json::json!({"email": "a@example.com", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = app().await;
    let response = app
        .client
        .post(app.url("/test/orders"))
        .header("content-type", "application/json")
        .body(r#"{"email": "a@example.com", "quantity": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = problem(response).await;
    assert_eq!(body["status"], 400);
    assert!(body["detail"].as_str().unwrap().contains("malformed JSON"));
}

#[tokio::test]
async fn invalid_field_is_422_naming_the_field() {
    let app = app().await;
    let response = app
        .client
        .post(app.url("/test/orders"))
        .json(&serde_json::json!({"email": "not-an-email", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    assert_eq!(body["errors"][0]["field"], "email");
    assert_eq!(body["errors"][0]["message"], "must be an email address");
}

#[tokio::test]
async fn wrong_type_and_missing_field_are_422_naming_the_field() {
    let app = app().await;
    let response = app
        .client
        .post(app.url("/test/orders"))
        .json(&serde_json::json!({"email": "a@example.com", "quantity": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(problem(response).await["errors"][0]["field"], "quantity");

    let response = app
        .client
        .post(app.url("/test/orders"))
        .json(&serde_json::json!({"quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(problem(response).await["errors"][0]["field"], "email");
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    let app = app().await;
    let body = r#"{"email": "a@example.com", "quantity": 2}"#;
    let response = app
        .client
        .post(app.url("/test/orders"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    problem(response).await;

    let response = app
        .client
        .post(app.url("/test/orders"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    problem(response).await;
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = app().await;
    let email = format!("{}@example.com", "a".repeat(BODY_LIMIT));
    let response = app
        .client
        .post(app.url("/test/orders"))
        .json(&serde_json::json!({"email": email, "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    problem(response).await;
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413() {
    // No Content-Length: the limit must hold while streaming, not only on the header.
    let app = app().await;
    let mut stream = tokio::net::TcpStream::connect(app.socket_address())
        .await
        .unwrap();
    let head = "POST /test/orders HTTP/1.1\r\nHost: localhost\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
                Connection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = "x".repeat(512);
    for _ in 0..4 {
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if stream.write_all(framed.as_bytes()).await.is_err() {
            break; // the server may answer and close before the whole body is sent
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

#[tokio::test]
async fn unknown_route_is_404() {
    let app = app().await;
    let response = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body = problem(response).await;
    assert_eq!(body["title"], "Not Found");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_header() {
    let app = app().await;
    let response = app
        .client
        .delete(app.url("/test/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.headers().contains_key("allow"));
    problem(response).await;
}

#[tokio::test]
async fn panic_is_500_without_internals() {
    let app = app().await;
    let response = app.client.get(app.url("/test/panic")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let body = problem(response).await;
    let text = body.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("panic"),
        "{text}"
    );
    // The server keeps serving after a panic.
    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn slow_handler_is_cut_off_with_503() {
    let app = app().await;
    let started = std::time::Instant::now();
    let response = app.client.get(app.url("/test/slow")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(4));
    problem(response).await;
}

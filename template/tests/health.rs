mod common;

use axum::Router;
use common::{closed_port, problem, spawn_app, spawn_app_with};
use sea_orm::{ConnectionTrait, Database};

#[tokio::test]
async fn live_answers_200() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn ready_answers_200_when_postgres_and_redis_answer() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["database"]["backend"], "postgres");
    assert_eq!(body["checks"]["redis"]["status"], "up");
    assert_eq!(body["checks"]["redis"]["backend"], "redis");
{%- if storage %}
    assert_eq!(body["checks"]["storage"]["status"], "up");
    assert_eq!(body["checks"]["storage"]["backend"], "local");
{%- endif %}
}

#[tokio::test]
async fn ready_is_503_naming_redis_when_redis_is_unreachable() {
    let port = closed_port();
    let app = spawn_app_with(
        |settings| settings.redis_url = Some(format!("redis://127.0.0.1:{port}")),
        Router::new(),
    )
    .await;
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body = problem(response).await;
    assert_eq!(body["checks"]["redis"]["status"], "down");
    assert_eq!(body["checks"]["database"]["status"], "up");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("redis") && !detail.contains("database"),
        "{detail}"
    );
}

{%- if storage %}

#[tokio::test]
async fn ready_is_503_naming_storage_when_its_folder_disappears() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("file://{}", folder.path().join("objects").display());
    let app = spawn_app_with(|settings| settings.storage_url = Some(url), Router::new()).await;
    std::fs::remove_dir(folder.path().join("objects")).unwrap();
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body = problem(response).await;
    assert_eq!(body["checks"]["storage"]["status"], "down");
    assert_eq!(body["checks"]["database"]["status"], "up");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("storage"), "{detail}");
}
{%- endif %}

#[tokio::test]
async fn ready_is_503_naming_the_database_when_it_disappears() {
    let app = spawn_app().await;
    let admin = Database::connect(&common::admin_database_url())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE \"{}\" WITH (FORCE)",
            app.database.name
        ))
        .await
        .unwrap();
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body = problem(response).await;
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert_eq!(body["checks"]["redis"]["status"], "up");
    assert!(body["detail"].as_str().unwrap().contains("database"));
}

#[tokio::test]
async fn a_hanging_dependency_is_reported_down_within_the_readiness_timeout() {
    // A listener that accepts connections but never answers: the check must time out, not hang.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let _keep_open = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = spawn_app_with(
        |settings| {
            settings.redis_url = Some(format!("redis://127.0.0.1:{port}"));
            settings.readiness_timeout_ms = 300;
        },
        Router::new(),
    )
    .await;
    let started = std::time::Instant::now();
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let body = problem(response).await;
    assert_eq!(body["checks"]["redis"]["reason"], "timeout");
}

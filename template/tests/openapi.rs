mod common;

use axum::Router;
use common::{spawn_app, spawn_app_with};

#[tokio::test]
async fn dev_serves_the_openapi_document_and_docs_page_under_the_api_prefix() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert!(document["paths"]["/health/live"].is_object());
    assert!(document["paths"]["/health/ready"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());

    let response = app
        .client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src"),
        "the docs page needs its own CSP: {csp}"
    );
    let html = response.text().await.unwrap();
    assert!(
        html.contains("/health/ready"),
        "the page embeds the document"
    );
}

#[tokio::test]
async fn docs_can_be_turned_off_and_follow_a_custom_prefix() {
    let app = spawn_app_with(|settings| settings.api_docs = Some(false), Router::new()).await;
    let response = app
        .client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let app = spawn_app_with(
        |settings| settings.api_prefix = "/api/v2".to_owned(),
        Router::new(),
    )
    .await;
    let response = app
        .client
        .get(app.url("/api/v2/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

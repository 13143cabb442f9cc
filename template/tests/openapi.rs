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

#[tokio::test]
async fn the_document_states_error_media_types_and_the_real_request_constraints() {
    let app = spawn_app_with(|settings| settings.password_min_length = 14, Router::new()).await;
    let document: serde_json::Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let login = &document["paths"]["/api/v1/auth/login"]["post"]["responses"];
    for status in ["400", "401", "413", "415", "422", "429", "503"] {
        let response = &login[status];
        assert!(
            response["content"]["application/problem+json"].is_object(),
            "login {status}: {response}"
        );
        assert!(
            response["content"]["application/json"].is_null(),
            "{status}"
        );
    }
    assert!(login["503"]["headers"]["Retry-After"].is_object());
    let me = &document["paths"]["/api/v1/auth/me"]["get"]["responses"];
    assert!(me["401"].is_object() && me["403"].is_object());
    let credentials = &document["components"]["schemas"]["Credentials"]["properties"];
    assert_eq!(credentials["email"]["format"], "email");
    assert_eq!(credentials["email"]["maxLength"], 254);
    assert_eq!(credentials["password"]["minLength"], 14);
    assert_eq!(credentials["password"]["maxLength"], 128);
    let page = &document["paths"]["/api/v1/admin/users"]["get"]["parameters"][0]["schema"];
    assert_eq!(page["minimum"], 1, "{page}");
    let roles = &document["components"]["schemas"]["SeededRole"]["enum"];
    assert_eq!(roles, &serde_json::json!(["user", "admin"]));
    let refresh = &document["paths"]["/api/v1/auth/refresh"]["post"]["requestBody"];
    assert_ne!(refresh["required"], true);
    let schema = &refresh["content"]["application/json"]["schema"];
    assert!(
        schema["oneOf"].is_null(),
        "a null body is refused: {schema}"
    );
}

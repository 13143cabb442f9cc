mod common;

use axum::Router;
use common::{spawn_app, spawn_app_with};

const BASELINE: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
];

#[tokio::test]
async fn baseline_headers_are_on_successes_and_errors() {
    let app = spawn_app().await;
    for path in ["/health/live", "/no/such/route"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        for (name, value) in BASELINE {
            assert_eq!(response.headers()[name], value, "{name} on {path}");
        }
        assert!(response.headers().contains_key("permissions-policy"));
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "HSTS is for deployments behind TLS, not dev"
        );
    }
}

#[tokio::test]
async fn cors_answers_listed_origins_only() {
    let app = spawn_app_with(
        |settings| settings.cors_allowed_origins = vec!["https://app.example.com".to_owned()],
        Router::new(),
    )
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/health/live"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let response = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let response = preflight("https://evil.example.net").await.unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn no_cors_headers_without_an_allow_list() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

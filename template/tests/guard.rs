//! The production guard as the application applies it at startup (its rules are unit-tested
//! in `src/guard.rs`).

mod common;

use axum::Router;
use common::{TestDatabase, production_settings, spawn_app_with};
use secrecy::SecretString;

use {{crate_name}}::config::Environment;
use {{crate_name}}::config::Settings;
use {{crate_name}}::startup::Application;
use {{crate_name}}::startup::StartupError;

fn refused_settings(error: StartupError) -> Vec<&'static str> {
    match error {
        StartupError::Refused { violations, .. } => violations.iter().map(|v| v.setting).collect(),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn prod_with_default_settings_refuses_to_build_naming_each_setting() {
    let settings = Settings {
        environment: Environment::Prod,
        port: 0,
        ..Settings::default()
    };
    let Err(error) = Application::build(settings).await else {
        panic!("the application built with default settings in prod");
    };
    let message = error.to_string();
    assert_eq!(
        refused_settings(error),
        vec![
            "JWT_SECRET",
            "DATABASE_URL",
            "REDIS_URL",
            "SMTP_HOST",
            "PUBLIC_URL",
            "MFA_ENCRYPTION_KEY",
{%- if storage %}
            "STORAGE_ENCRYPTION_KEY",
{%- endif %}
        ]
    );
    assert!(message.contains("refusing to start in prod"), "{message}");
}

#[tokio::test]
async fn staging_with_a_placeholder_secret_and_docs_on_is_refused() {
    let database = TestDatabase::create().await;
    let settings = Settings {
        environment: Environment::Staging,
        jwt_secret: SecretString::from("CHANGE_ME_to_a_long_random_secret_value_0123456789"),
        api_docs: Some(true),
        cors_allowed_origins: vec!["*".to_owned()],
        ..production_settings(&database.url)
    };
    let Err(error) = Application::build(settings).await else {
        panic!("the application built with unsafe staging settings");
    };
    assert_eq!(
        refused_settings(error),
        vec!["JWT_SECRET", "API_DOCS", "CORS_ALLOWED_ORIGINS"]
    );
}

#[tokio::test]
async fn prod_with_safe_settings_serves_without_docs_and_with_hsts() {
    let app = spawn_app_with(
        |settings| {
            settings.environment = Environment::Prod;
            settings.jwt_secret = SecretString::from(common::TEST_JWT_SECRET);
        },
        Router::new(),
    )
    .await;
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    for path in ["/api/v1/docs", "/api/v1/openapi.json"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path} is served in prod");
    }
}

#[tokio::test]
async fn prod_refuses_a_public_metrics_listener_without_a_token() {
    let database = TestDatabase::create().await;
    let settings = Settings {
        metrics_address: "0.0.0.0:0".to_owned(),
        ..production_settings(&database.url)
    };
    let Err(error) = Application::build(settings).await else {
        panic!("the application built with /metrics open to the network");
    };
    let message = error.to_string();
    assert_eq!(refused_settings(error), vec!["METRICS_TOKEN"]);
    assert!(message.contains("METRICS_ADDRESS=0.0.0.0:0"), "{message}");
}

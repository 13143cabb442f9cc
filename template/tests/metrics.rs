//! `/metrics`: served apart from the API, behind its token when one is set, with the series
//! the README lists, labelled by route template (never by raw path).
//!
//! The recorder is process-wide and the tests of this file run in parallel: each one reads
//! the counters it drives before and after, and checks the difference.

mod auth_support;
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use auth_support::*;
use axum::Router;
use reqwest::StatusCode;
use sea_orm::TransactionTrait;
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use common::{TestApp, spawn_app_with};

use {{crate_name}}::config::DEFAULT_METRICS_ADDRESS;
use {{crate_name}}::config::Settings;

/// One sample of the exposition: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (label values here never hold `,` or `"`).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("label is key=value");
                    (key.to_owned(), value.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("the value is a number"),
            }
        })
        .collect()
}

async fn scrape_text(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let address = app.metrics.expect("the metrics listener is on");
    let mut request = app.client.get(format!("http://{address}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("scrape failed")
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let response = scrape_text(app, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    parse(&response.text().await.unwrap())
}

/// Sum of the samples of `name` whose labels include every `(key, value)` of `labels`.
fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value))
        })
        .map(|sample| sample.value)
        .sum()
}

#[tokio::test]
async fn metrics_are_on_their_own_loopback_listener_not_on_the_api() {
    assert!(DEFAULT_METRICS_ADDRESS.starts_with("127.0.0.1:"));
    assert_eq!(Settings::default().metrics_address, DEFAULT_METRICS_ADDRESS);
    let app = spawn_auth_app().await;
    let metrics = app.metrics.expect("the metrics listener is on");
    assert!(metrics.ip().is_loopback());
    assert_ne!(metrics.port(), app.port);

    // The API does not serve them, whatever a proxy in front of it forwards.
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = scrape_text(&app, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let samples = parse(&text);
    let build = samples
        .iter()
        .find(|sample| sample.name == "app_build_info")
        .expect("app_build_info is exported");
    assert_eq!(build.value, 1.0);
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build.labels["name"], env!("CARGO_PKG_NAME"));
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(samples.iter().any(|s| s.name == "http_requests_in_flight"));
    let max = total(&samples, "db_pool_max_connections", &[]);
    assert_eq!(max, f64::from(app.state.settings.database_max_connections));
    assert!(total(&samples, "db_pool_connections", &[("state", "idle")]) >= 0.0);
    assert!(
        samples
            .iter()
            .any(|s| s.name == "db_pool_connections" && s.labels["state"] == "in_use")
    );

    // Only GET /metrics.
    let response = app
        .client
        .get(format!("http://{metrics}/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn fixed_label_counters_are_exported_before_their_first_event() {
    let app = spawn_app_with(|_| {}, Router::new()).await;
    let samples = scrape(&app).await;
    for (name, label) in [
        ("auth_tokens_refused_total", Some(("gate", "permission"))),
        ("auth_logins_total", Some(("outcome", "limited"))),
        ("rate_limit_rejections_total", Some(("limiter", "api"))),
        ("redis_errors_total", Some(("kind", "wrong_type"))),
        ("db_pool_acquire_timeouts_total", None),
    ] {
        let present = samples.iter().any(|sample| {
            sample.name == name
                && label.is_none_or(|(key, value)| {
                    sample.labels.get(key).map(String::as_str) == Some(value)
                })
        });
        assert!(
            present,
            "{name} {label:?} is not exported before its first event"
        );
    }
}

#[tokio::test]
async fn off_serves_no_metrics_listener() {
    let app = spawn_app_with(
        |settings| settings.metrics_address = "off".to_owned(),
        Router::new(),
    )
    .await;
    assert_eq!(app.metrics, None);
}

#[tokio::test]
async fn with_a_token_metrics_need_it() {
    let token = "Jq4Xv8Lm2Rt6Wc0Nb3Hd7Fs1Ky5Ua9Ep2Gi6Oz4Tl8Mx";
    let app = spawn_app_with(
        |settings| settings.metrics_token = Some(SecretString::from(token)),
        Router::new(),
    )
    .await;
    let refused = scrape_text(&app, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let wrong = scrape_text(&app, Some("Jq4Xv8Lm2Rt6Wc0Nb3Hd7Fs1Ky5Ua9Ep2Gi6Oz4Tl8Mz")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let allowed = scrape_text(&app, Some(token)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(allowed.text().await.unwrap().contains("app_build_info"));
}

#[tokio::test]
async fn a_thousand_distinct_ids_make_one_series_per_route_template() {
    let app = spawn_auth_app().await;
    let ids: Vec<String> = (0..1000).map(|_| Uuid::new_v4().to_string()).collect();
    let before = scrape(&app).await;
    let template = "/api/v1/admin/users/{id}";
    let route = [
        ("route", template),
        ("method", "GET"),
        ("status_class", "4xx"),
    ];
    let unmatched = [
        ("route", "unmatched"),
        ("method", "GET"),
        ("status_class", "4xx"),
    ];
    for id in &ids {
        // No token: refused (401) by the gate, after routing.
        let response = app
            .client
            .get(app.url(&format!("/api/v1/admin/users/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = app
            .client
            .get(app.url(&format!("/no-such-page/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let response = scrape_text(&app, None).await;
    let text = response.text().await.unwrap();
    for id in &ids {
        assert!(
            !text.contains(id.as_str()),
            "a raw path reached a label: {id}"
        );
    }
    let after = parse(&text);
    let counted =
        |samples: &[Sample], labels: &[(&str, &str)]| total(samples, "http_requests_total", labels);
    assert!(counted(&after, &route) - counted(&before, &route) >= 1000.0);
    assert!(counted(&after, &unmatched) - counted(&before, &unmatched) >= 1000.0);
    let histogram = total(&after, "http_request_duration_seconds_count", &route);
    assert!(histogram >= 1000.0, "{histogram}");
    // Every label set is one of the router's templates × methods × status classes.
    let request_series: Vec<&Sample> = after
        .iter()
        .filter(|sample| sample.name == "http_requests_total")
        .collect();
    assert!(
        request_series.len() < 100,
        "{} series",
        request_series.len()
    );
    for sample in request_series {
        let route = &sample.labels["route"];
        assert!(route == "unmatched" || route.starts_with('/'), "{route}");
        assert!(
            ["1xx", "2xx", "3xx", "4xx", "5xx"].contains(&sample.labels["status_class"].as_str())
        );
    }
    let refusals = total(&after, "auth_tokens_refused_total", &[("gate", "missing")])
        - total(&before, "auth_tokens_refused_total", &[("gate", "missing")]);
    assert!(refusals >= 1000.0, "{refusals}");
}

#[tokio::test]
async fn logins_and_refused_tokens_are_counted_by_outcome_and_gate() {
    let app = spawn_auth_app_with(|settings| {
        settings.login_max_attempts_per_ip = 3;
    })
    .await;
    let login_outcome = |samples: &[Sample], outcome: &str| {
        total(samples, "auth_logins_total", &[("outcome", outcome)])
    };
    let refused = |samples: &[Sample], gate: &str| {
        total(samples, "auth_tokens_refused_total", &[("gate", gate)])
    };
    let before = scrape(&app).await;

    let (email, tokens) = signed_up(&app).await;
    assert_eq!(
        login(&app, &email, OTHER_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The throttle allows 3 failures per IP: the next attempts are limited.
    for _ in 0..4 {
        login(&app, &email, OTHER_PASSWORD).await;
    }
    assert_eq!(
        login(&app, &email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    assert_eq!(me(&app, "not-a-jwt").await, StatusCode::UNAUTHORIZED);
    // A normal user on an admin route: refused by the policy.
    let response = get_with(&app, "/api/v1/admin/users", &tokens.access).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Logged out: the signature is still good, the session is gone.
    let response = post_with(&app, "/api/v1/auth/logout", &tokens.access).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(me(&app, &tokens.access).await, StatusCode::UNAUTHORIZED);

    let after = scrape(&app).await;
    assert!(login_outcome(&after, "ok") - login_outcome(&before, "ok") >= 1.0);
    assert!(login_outcome(&after, "failed") - login_outcome(&before, "failed") >= 3.0);
    assert!(login_outcome(&after, "limited") - login_outcome(&before, "limited") >= 2.0);
    for gate in ["signature", "permission", "session"] {
        assert!(
            refused(&after, gate) - refused(&before, gate) >= 1.0,
            "{gate}"
        );
    }
}

#[tokio::test]
async fn a_deactivated_account_is_refused_at_the_user_gate() {
    let app = spawn_auth_app().await;
    let (email, tokens) = signed_up(&app).await;
    let before = scrape(&app).await;
    let id = user_id(&app, &email).await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.state.db,
        &format!("UPDATE users SET is_active = false WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    assert_eq!(me(&app, &tokens.access).await, StatusCode::UNAUTHORIZED);
    let after = scrape(&app).await;
    let gate = [("gate", "user")];
    assert!(
        total(&after, "auth_tokens_refused_total", &gate)
            - total(&before, "auth_tokens_refused_total", &gate)
            >= 1.0
    );
}

#[tokio::test]
async fn rate_limit_rejections_are_counted_by_limiter() {
    let app = spawn_app_with(
        |settings| {
            settings.rate_limit_per_second = 1;
            settings.rate_limit_burst = 1;
        },
        Router::new(),
    )
    .await;
    let before = scrape(&app).await;
    let mut limited = 0;
    for _ in 0..5 {
        let response = app
            .client
            .get(app.url("/api/v1/auth/me"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 3, "{limited}");
    let after = scrape(&app).await;
    let api = [("limiter", "api")];
    let counted = total(&after, "rate_limit_rejections_total", &api)
        - total(&before, "rate_limit_rejections_total", &api);
    assert!(counted >= f64::from(limited), "{counted}");
}

#[tokio::test]
async fn a_full_pool_shows_in_use_connections_and_counts_the_timed_out_waits() {
    let app = spawn_auth_app_with(|settings| {
        settings.database_max_connections = 1;
        settings.database_acquire_timeout_ms = 200;
    })
    .await;
    let before = scrape(&app).await;
    // Hold the only connection.
    let transaction = app.state.db.begin().await.unwrap();
    let response = post_json(
        &app,
        "/api/v1/auth/login",
        json!({"email": unique_email(), "password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let during = scrape(&app).await;
    assert_eq!(
        total(&during, "db_pool_connections", &[("state", "in_use")]),
        1.0
    );
    assert_eq!(
        total(&during, "db_pool_connections", &[("state", "idle")]),
        0.0
    );
    assert!(
        total(&during, "db_pool_acquire_timeouts_total", &[])
            - total(&before, "db_pool_acquire_timeouts_total", &[])
            >= 1.0
    );
    transaction.rollback().await.unwrap();
}

#[tokio::test]
async fn redis_failures_are_counted() {
    let app = spawn_auth_app_with(|settings| {
        settings.redis_url = Some(format!("redis://127.0.0.1:{}", common::closed_port()));
    })
    .await;
    let before = scrape(&app).await;
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        post_json(
            &app,
            "/api/v1/auth/login",
            json!({"email": unique_email(), "password": PASSWORD}),
        ),
    )
    .await
    .expect("a Redis outage answers fast");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let after = scrape(&app).await;
    let kind = [("kind", "unavailable")];
    assert!(
        total(&after, "redis_errors_total", &kind) - total(&before, "redis_errors_total", &kind)
            >= 1.0
    );
}

//! The brute-force policy is fair (README, "Brute-force policy"): only failures count, an
//! attacker on one address never locks the owner out from another, and an attacker rotating
//! addresses meets a growing delay. Client addresses are simulated the way a real deployment
//! sees them: loopback is the trusted reverse proxy and `X-Forwarded-For` names the client.

mod auth_support;
mod common;

use std::time::{Duration, Instant};

use auth_support::*;
use reqwest::StatusCode;
use serde_json::json;

use common::{TestApp, problem};

use {{crate_name}}::config::Settings;

/// The shipped login limits, loopback trusted as the proxy; request buckets stay relaxed (they
/// are a separate, per-request mechanism).
fn shipped_login_limits(settings: &mut Settings) {
    let defaults = Settings::default();
    settings.login_max_attempts_per_ip = defaults.login_max_attempts_per_ip;
    settings.login_ip_window_secs = defaults.login_ip_window_secs;
    settings.login_max_attempts_per_account = defaults.login_max_attempts_per_account;
    settings.login_account_window_secs = defaults.login_account_window_secs;
    settings.login_delay_after_failures = defaults.login_delay_after_failures;
    settings.login_delay_initial_secs = defaults.login_delay_initial_secs;
    settings.login_delay_max_secs = defaults.login_delay_max_secs;
    settings.trusted_proxies = vec!["127.0.0.1/32".to_owned()];
}

async fn login_from(
    app: &TestApp,
    client_ip: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", client_ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login request failed")
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("a 429 carries Retry-After in seconds")
}

async fn registered(app: &TestApp) -> String {
    let email = unique_email();
    assert_eq!(
        register(app, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    email
}

#[tokio::test]
async fn twenty_logins_in_a_row_from_one_address_succeed() {
    let app = spawn_auth_app_with(shipped_login_limits).await;
    let email = registered(&app).await;
    for login in 1..=20 {
        let response = login_from(&app, "198.51.100.10", &email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login {login}");
    }
}

#[tokio::test]
async fn a_success_clears_the_failures_of_its_address_on_that_account() {
    let app = spawn_auth_app_with(|settings| {
        shipped_login_limits(settings);
        settings.login_max_attempts_per_ip = 1_000;
        settings.login_max_attempts_per_account = 3;
    })
    .await;
    let email = registered(&app).await;
    // Three rounds of two typos then the right password: six failures in all, never three
    // in a row, so the pair limit of three is never reached.
    for round in 0..3 {
        for _ in 0..2 {
            let typo = login_from(&app, "198.51.100.11", &email, OTHER_PASSWORD).await;
            assert_eq!(typo.status(), StatusCode::UNAUTHORIZED, "round {round}");
        }
        let right = login_from(&app, "198.51.100.11", &email, PASSWORD).await;
        assert_eq!(right.status(), StatusCode::OK, "round {round}");
    }
}

#[tokio::test]
async fn an_attacker_on_one_address_never_locks_the_owner_out_from_another() {
    let app = spawn_auth_app_with(shipped_login_limits).await;
    let email = registered(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(
            login_from(&app, "203.0.113.66", &email, OTHER_PASSWORD)
                .await
                .status(),
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "the attacker is limited: {statuses:?}"
    );
    let refused = login_from(&app, "203.0.113.66", &email, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    problem(refused).await;
    // The owner, on an address this account has never been used from.
    let owner = login_from(&app, "198.51.100.20", &email, PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);

    // Same with the per-IP limit out of the way: the (account, IP) limit alone stops A.
    let app = spawn_auth_app_with(|settings| {
        shipped_login_limits(settings);
        settings.login_max_attempts_per_ip = 1_000;
    })
    .await;
    let email = registered(&app).await;
    let limit = Settings::default().login_max_attempts_per_account;
    for guess in 0..limit {
        let status = login_from(&app, "203.0.113.67", &email, OTHER_PASSWORD)
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    let limited = login_from(&app, "203.0.113.67", &email, OTHER_PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) > 0);
    let owner = login_from(&app, "198.51.100.21", &email, PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_attacker_rotating_addresses_meets_a_growing_delay_the_owner_skips() {
    let app = spawn_auth_app_with(|settings| {
        shipped_login_limits(settings);
        settings.login_delay_after_failures = 5;
        settings.login_delay_initial_secs = 1;
        settings.login_delay_max_secs = 4;
    })
    .await;
    let email = registered(&app).await;
    // The owner's usual address, known from an earlier login.
    let usual = "198.51.100.30";
    assert_eq!(
        login_from(&app, usual, &email, PASSWORD).await.status(),
        StatusCode::OK
    );
    let mut next_address = 0u16;
    let mut fresh_address = || {
        next_address += 1;
        format!(
            "203.0.{}.{}",
            100 + next_address / 250,
            next_address % 250 + 1
        )
    };
    for guess in 0..5 {
        let status = login_from(&app, &fresh_address(), &email, OTHER_PASSWORD)
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    let delayed = login_from(&app, &fresh_address(), &email, OTHER_PASSWORD).await;
    assert_eq!(delayed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&delayed), 1);
    // The owner's known address is not delayed.
    assert_eq!(
        login_from(&app, usual, &email, PASSWORD).await.status(),
        StatusCode::OK
    );

    // Measured: rotating addresses as fast as it can for three seconds, the attacker gets only
    // a handful of guesses checked, and the delay grows.
    let started = Instant::now();
    let (mut checked, mut refused, mut longest_wait) = (0, 0, 0);
    while started.elapsed() < Duration::from_secs(3) {
        let response = login_from(&app, &fresh_address(), &email, OTHER_PASSWORD).await;
        match response.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                longest_wait = longest_wait.max(retry_after(&response));
            }
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        (1..=3).contains(&checked),
        "{checked} guesses checked in 3 s ({refused} refused)"
    );
    assert!(refused > 20, "{refused} refused");
    assert!(
        longest_wait >= 2,
        "the delay doubles: longest Retry-After {longest_wait}"
    );
    assert_eq!(
        login_from(&app, usual, &email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

//! Helpers shared by the auth, access-control and abuse-limit tests: an app with generous
//! limits (tests that are about limits set their own), and one-line account operations.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use axum::Router;
use reqwest::{Response, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestApp, spawn_app_with};

use {{crate_name}}::auth::ADMIN_ROLE;
use {{crate_name}}::auth::USER_ROLE;
use {{crate_name}}::auth::rbac;
use {{crate_name}}::config::Settings;
use {{crate_name}}::entities::users;

/// Passes the default password policy and contains no test email's local part.
pub const PASSWORD: &str = "violet-harbour-tractor-87";
pub const OTHER_PASSWORD: &str = "copper-lantern-meadow-42";

/// Limits high enough that no test trips them by accident.
pub fn relaxed_limits(settings: &mut Settings) {
    settings.login_max_attempts_per_ip = 10_000;
    settings.login_max_attempts_per_account = 10_000;
    settings.auth_rate_limit_per_minute = 100_000;
    settings.auth_rate_limit_burst = 10_000;
    settings.rate_limit_per_second = 100_000;
    settings.rate_limit_burst = 10_000;
}

pub async fn spawn_auth_app() -> TestApp {
    spawn_app_with(relaxed_limits, Router::new()).await
}

pub async fn spawn_auth_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(
        |settings| {
            relaxed_limits(settings);
            configure(settings);
        },
        Router::new(),
    )
    .await
}

pub fn unique_email() -> String {
    format!("member-{}@example.com", Uuid::new_v4().simple())
}

pub async fn post_json(app: &TestApp, path: &str, body: Value) -> Response {
    app.client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .expect("request failed")
}

pub async fn register(app: &TestApp, email: &str, password: &str) -> Response {
    post_json(
        app,
        "/api/v1/auth/register",
        json!({"email": email, "password": password}),
    )
    .await
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    post_json(
        app,
        "/api/v1/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

/// Tokens of one session.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// The refresh token of a response's `Set-Cookie`, and the whole cookie line.
pub fn refresh_cookie(response: &Response) -> Option<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|line| line.starts_with("refresh_token="))
        .map(|line| {
            let value = line
                .split(';')
                .next()
                .unwrap_or_default()
                .trim_start_matches("refresh_token=")
                .to_owned();
            (value, line.to_owned())
        })
}

pub async fn tokens_of(response: Response) -> Tokens {
    assert_eq!(response.status(), StatusCode::OK, "expected tokens");
    let (refresh, _) = refresh_cookie(&response).expect("no refresh cookie");
    let body: Value = response.json().await.expect("token body is JSON");
    assert_eq!(body["token_type"], "bearer");
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("access_token is a string")
            .to_owned(),
        refresh,
    }
}

/// Registers an account and logs it in.
pub async fn signed_up(app: &TestApp) -> (String, Tokens) {
    let email = unique_email();
    let response = register(app, &email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let tokens = tokens_of(login(app, &email, PASSWORD).await).await;
    (email, tokens)
}

/// Registers an account, makes it an administrator in the database, logs it in.
pub async fn signed_up_admin(app: &TestApp) -> (String, Tokens) {
    let (email, tokens) = signed_up(app).await;
    let id = user_id(app, &email).await;
    rbac::grant_role(&app.state.db, id, ADMIN_ROLE)
        .await
        .expect("cannot grant admin");
    (email, tokens)
}

pub async fn user_id(app: &TestApp, email: &str) -> Uuid {
    users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .expect("users query failed")
        .expect("no such user")
        .id
}

/// Removes every role of the user, straight in the database.
pub async fn strip_roles(app: &TestApp, email: &str) {
    let id = user_id(app, email).await;
    rbac::set_roles(&app.state.db, id, &Default::default())
        .await
        .expect("cannot strip roles");
}

pub async fn get_with(app: &TestApp, path: &str, access_token: &str) -> Response {
    app.client
        .get(app.url(path))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("request failed")
}

pub async fn me(app: &TestApp, access_token: &str) -> StatusCode {
    get_with(app, "/api/v1/auth/me", access_token)
        .await
        .status()
}

pub async fn refresh_with_body(app: &TestApp, refresh_token: &str) -> Response {
    post_json(
        app,
        "/api/v1/auth/refresh",
        json!({ "refresh_token": refresh_token }),
    )
    .await
}

pub async fn post_with(app: &TestApp, path: &str, access_token: &str) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("request failed")
}

pub const ROLE_USER: &str = USER_ROLE;

//! Identity and sessions, against real Postgres and Redis: registration, login, the three
//! gates on access tokens, refresh-token rotation and replay, logout, password change.

mod auth_support;
mod common;

use std::time::Duration;

use auth_support::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use common::{TEST_JWT_SECRET, problem};

use {{crate_name}}::config::DEV_JWT_SECRET;
use {{crate_name}}::config::Environment;
use {{crate_name}}::config::SameSitePolicy;

#[tokio::test]
async fn register_login_me_happy_path() {
    let app = spawn_auth_app().await;
    let email = unique_email();
    let response = register(&app, &format!("  {}  ", email.to_uppercase()), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["email"], email.as_str(), "email is normalised");
    assert_eq!(created["roles"], json!(["user"]));
    assert!(created.get("password_hash").is_none());

    let response = login(&app, &email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (_, cookie) = refresh_cookie(&response).expect("refresh cookie set");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/api/v1/auth"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "no Secure flag on plain-HTTP dev: {cookie}"
    );

    let access = body["access_token"].as_str().unwrap();
    let response = get_with(&app, "/api/v1/auth/me", access).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["email"], email.as_str());
    assert_eq!(account["id"], created["id"]);
}

#[tokio::test]
async fn outside_dev_the_refresh_cookie_is_secure_and_can_be_strict() {
    let app = spawn_auth_app_with(|settings| {
        settings.environment = Environment::Prod;
        settings.jwt_secret = SecretString::from(TEST_JWT_SECRET);
        settings.refresh_cookie_same_site = SameSitePolicy::Strict;
        // About cookies, not verification (tests/accounts.rs).
        settings.require_verified_email = Some(false);
    })
    .await;
    let email = unique_email();
    assert_eq!(
        register(&app, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let response = login(&app, &email, PASSWORD).await;
    let (_, cookie) = refresh_cookie(&response).expect("refresh cookie set");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(response.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn weak_passwords_get_422_naming_the_rule() {
    let app = spawn_auth_app().await;
    let cases = [
        ("short-pass1", "min_length"),
        ("password1234", "weak_password"),
        ("Qwerty123456", "weak_password"),
    ];
    for (password, rule) in cases {
        let response = register(&app, &unique_email(), password).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}"
        );
        let body = problem(response).await;
        assert_eq!(body["rule"], rule, "{password}: {body}");
        assert_eq!(body["errors"][0]["field"], "password");
    }
    let too_long = "x9".repeat(65);
    let body = problem(register(&app, &unique_email(), &too_long).await).await;
    assert_eq!(body["rule"], "max_length");
    let body = problem(
        register(
            &app,
            "rosalind.franklin@example.com",
            "my-rosalind.franklin-pw",
        )
        .await,
    )
    .await;
    assert_eq!(body["rule"], "contains_email");
}

#[tokio::test]
async fn registering_twice_is_a_conflict_and_bad_emails_are_named() {
    let app = spawn_auth_app().await;
    let email = unique_email();
    assert_eq!(
        register(&app, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let response = register(&app, &email.to_uppercase(), OTHER_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    problem(response).await;
    let response = register(&app, "not-an-email", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(response).await["errors"][0]["field"], "email");
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_problems() {
    let app = spawn_auth_app().await;
    let login_url = app.url("/api/v1/auth/login");
    let wrong_type = app
        .client
        .post(&login_url)
        .header("content-type", "text/plain")
        .body("email=a&password=b")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    problem(wrong_type).await;
    let malformed = app
        .client
        .post(&login_url)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    problem(malformed).await;
    let missing = post_json(
        &app,
        "/api/v1/auth/login",
        json!({"email": "a@example.com"}),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(missing).await["errors"][0]["field"], "password");

    for authorization in [
        "Bearer not.a.jwt",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer a b",
    ] {
        let response = app
            .client
            .get(app.url("/api/v1/auth/me"))
            .header("authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization}"
        );
        assert!(response.headers().contains_key("www-authenticate"));
        problem(response).await;
    }
    let no_token = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    problem(no_token).await;

    let refresh_as_text = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("content-type", "text/plain")
        .body("token")
        .send()
        .await
        .unwrap();
    assert_eq!(refresh_as_text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let refresh_nothing = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh_nothing.status(), StatusCode::UNAUTHORIZED);
    problem(refresh_nothing).await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_are_indistinguishable() {
    let app = spawn_auth_app().await;
    let (email, _) = signed_up(&app).await;
    let wrong_password = login(&app, &email, OTHER_PASSWORD).await;
    let unknown_email = login(&app, &unique_email(), OTHER_PASSWORD).await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), wrong_password.status());
    assert_eq!(
        wrong_password.headers().get("www-authenticate"),
        unknown_email.headers().get("www-authenticate")
    );
    let mut first = problem(wrong_password).await;
    let mut second = problem(unknown_email).await;
    first.as_object_mut().unwrap().remove("request_id");
    second.as_object_mut().unwrap().remove("request_id");
    assert_eq!(first, second);
}

/// The claims of a token the server issued, to re-sign with one thing changed.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("JSON claims")
}

fn sign(algorithm: Algorithm, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing a test token")
}

#[tokio::test]
async fn forged_and_tampered_tokens_are_refused_each_for_its_own_reason() {
    let app = spawn_auth_app().await;
    let (_, tokens) = signed_up(&app).await;
    let claims = claims_of(&tokens.access);
    for name in ["sub", "jti", "iat", "exp", "iss", "aud"] {
        assert!(claims.get(name).is_some(), "claim {name} missing: {claims}");
    }
    assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 900);

    // Baseline: the same claims re-signed with the dev secret are accepted, so each refusal
    // below is due to the one thing changed.
    let resigned = sign(Algorithm::HS256, &claims, DEV_JWT_SECRET);
    assert_eq!(me(&app, &resigned).await, StatusCode::OK);

    let mut never_issued = claims.clone();
    never_issued["jti"] = json!(Uuid::new_v4());
    assert_eq!(
        me(&app, &sign(Algorithm::HS256, &never_issued, DEV_JWT_SECRET)).await,
        StatusCode::UNAUTHORIZED,
        "a well-signed token the server never issued"
    );

    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_eq!(
        me(&app, &format!("{header}.{payload}.")).await,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        me(&app, &sign(Algorithm::HS512, &claims, DEV_JWT_SECRET)).await,
        StatusCode::UNAUTHORIZED,
        "another algorithm"
    );
    assert_eq!(
        me(
            &app,
            &sign(
                Algorithm::HS256,
                &claims,
                "another-secret-entirely-0123456789"
            )
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "another key"
    );

    let mut expired = claims.clone();
    let now = jsonwebtoken::get_current_timestamp();
    expired["iat"] = json!(now - 3_600);
    expired["exp"] = json!(now - 120);
    assert_eq!(
        me(&app, &sign(Algorithm::HS256, &expired, DEV_JWT_SECRET)).await,
        StatusCode::UNAUTHORIZED,
        "expired beyond the leeway"
    );

    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("some-other-api");
    assert_eq!(
        me(
            &app,
            &sign(Algorithm::HS256, &wrong_audience, DEV_JWT_SECRET)
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "wrong audience"
    );
    let mut wrong_issuer = claims.clone();
    wrong_issuer["iss"] = json!("someone-else");
    assert_eq!(
        me(&app, &sign(Algorithm::HS256, &wrong_issuer, DEV_JWT_SECRET)).await,
        StatusCode::UNAUTHORIZED,
        "wrong issuer"
    );
    let mut other_user = claims.clone();
    other_user["sub"] = json!(Uuid::new_v4());
    assert_eq!(
        me(&app, &sign(Algorithm::HS256, &other_user, DEV_JWT_SECRET)).await,
        StatusCode::UNAUTHORIZED,
        "a live jti moved to another subject"
    );
    // And the genuine token still works.
    assert_eq!(me(&app, &tokens.access).await, StatusCode::OK);
}

#[tokio::test]
async fn after_logout_the_session_is_dead() {
    let app = spawn_auth_app().await;
    let (_, tokens) = signed_up(&app).await;
    let response = post_with(&app, "/api/v1/auth/logout", &tokens.access).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (cleared, _) = refresh_cookie(&response).expect("the cookie is cleared");
    assert!(cleared.is_empty());
    assert_eq!(me(&app, &tokens.access).await, StatusCode::UNAUTHORIZED);
    let response = refresh_with_body(&app, &tokens.refresh).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn after_logout_all_every_session_is_dead() {
    let app = spawn_auth_app().await;
    let (email, first) = signed_up(&app).await;
    let second = tokens_of(login(&app, &email, PASSWORD).await).await;
    let third = tokens_of(login(&app, &email, PASSWORD).await).await;
    let (_, bystander) = signed_up(&app).await;
    let response = post_with(&app, "/api/v1/auth/logout-all", &second.access).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for tokens in [&first, &second, &third] {
        assert_eq!(me(&app, &tokens.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refresh_with_body(&app, &tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        me(&app, &bystander.access).await,
        StatusCode::OK,
        "other users untouched"
    );
}

#[tokio::test]
async fn refresh_rotates_and_a_replay_revokes_the_family() {
    let app = spawn_auth_app().await;
    let (_, original) = signed_up(&app).await;

    // Rotation through the cookie, as a browser does it.
    let response = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("cookie", format!("refresh_token={}", original.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let rotated = tokens_of(response).await;
    assert_ne!(rotated.refresh, original.refresh);
    assert_ne!(rotated.access, original.access);
    assert_eq!(me(&app, &rotated.access).await, StatusCode::OK);

    // Rotation again through the JSON body, as a mobile client does it.
    let rotated_again = tokens_of(refresh_with_body(&app, &rotated.refresh).await).await;
    assert_eq!(me(&app, &rotated_again.access).await, StatusCode::OK);

    // The first refresh token is presented again: a replay.
    let replay = refresh_with_body(&app, &original.refresh).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    problem(replay).await;
    // The whole family is revoked: every access and refresh token of that login.
    for access in [&original.access, &rotated.access, &rotated_again.access] {
        assert_eq!(me(&app, access).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        refresh_with_body(&app, &rotated_again.refresh)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_replay_revokes_only_its_own_family() {
    let app = spawn_auth_app().await;
    let (email, laptop) = signed_up(&app).await;
    let phone = tokens_of(login(&app, &email, PASSWORD).await).await;
    tokens_of(refresh_with_body(&app, &laptop.refresh).await).await;
    assert_eq!(
        refresh_with_body(&app, &laptop.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(&app, &phone.access).await, StatusCode::OK);
    tokens_of(refresh_with_body(&app, &phone.refresh).await).await;
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_succeed_exactly_once() {
    let app = spawn_auth_app().await;
    for _ in 0..3 {
        let (_, tokens) = signed_up(&app).await;
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/refresh");
            let body = json!({ "refresh_token": tokens.refresh });
            attempts.spawn(async move { client.post(url).json(&body).send().await });
        }
        let responses: Vec<reqwest::Response> = attempts
            .join_all()
            .await
            .into_iter()
            .map(|response| response.expect("request failed"))
            .collect();
        let successes = responses
            .iter()
            .filter(|response| response.status() == StatusCode::OK)
            .count();
        assert_eq!(successes, 1, "exactly one concurrent refresh may win");
        for response in &responses {
            assert!(
                response.status() == StatusCode::OK
                    || response.status() == StatusCode::UNAUTHORIZED,
                "unexpected {}",
                response.status()
            );
        }
    }
}

#[tokio::test]
async fn changing_the_password_kills_the_other_sessions() {
    let app = spawn_auth_app().await;
    let (email, current) = signed_up(&app).await;
    let other = tokens_of(login(&app, &email, PASSWORD).await).await;

    let wrong = app
        .client
        .post(app.url("/api/v1/auth/password"))
        .bearer_auth(&current.access)
        .json(
            &json!({"current_password": OTHER_PASSWORD, "new_password": "amber-glacier-violin-19"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        me(&app, &other.access).await,
        StatusCode::OK,
        "nothing changed yet"
    );

    let weak = app
        .client
        .post(app.url("/api/v1/auth/password"))
        .bearer_auth(&current.access)
        .json(&json!({"current_password": PASSWORD, "new_password": "password1234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = problem(weak).await;
    assert_eq!(body["rule"], "weak_password");
    assert_eq!(body["errors"][0]["field"], "new_password");

    let changed = app
        .client
        .post(app.url("/api/v1/auth/password"))
        .bearer_auth(&current.access)
        .json(&json!({"current_password": PASSWORD, "new_password": OTHER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        me(&app, &current.access).await,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(me(&app, &other.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh_with_body(&app, &other.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, &email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, &email, OTHER_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn access_tokens_expire_after_their_lifetime() {
    let app = spawn_auth_app_with(|settings| {
        settings.access_token_ttl_secs = 1;
        settings.jwt_leeway_secs = 0;
    })
    .await;
    let (_, tokens) = signed_up(&app).await;
    assert_eq!(me(&app, &tokens.access).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(me(&app, &tokens.access).await, StatusCode::UNAUTHORIZED);
    // The session itself lives on: refresh gives a fresh access token.
    let fresh = tokens_of(refresh_with_body(&app, &tokens.refresh).await).await;
    assert_eq!(me(&app, &fresh.access).await, StatusCode::OK);
}

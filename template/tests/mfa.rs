//! TOTP MFA over HTTP against real Postgres and Redis: enrolment, the two-step login, code
//! reuse, failure limits, ticket expiry, recovery codes, disable and the admin reset.

mod auth_support;
mod common;

use std::time::Duration;

use auth_support::*;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use common::{TestApp, problem};

/// The authenticator app of a test.
struct Authenticator {
    totp: TOTP,
}

impl Authenticator {
    fn new(base32: &str) -> Self {
        let secret = Secret::Encoded(base32.to_owned())
            .to_bytes()
            .expect("base32 secret");
        Authenticator {
            totp: TOTP::new(Algorithm::SHA1, 6, 1, 30, secret, None, "test".to_owned())
                .expect("valid TOTP parameters"),
        }
    }

    /// The code `steps` time steps from now (-1, 0 or 1 are accepted by the server).
    fn code(&self, steps: i64) -> String {
        let now = chrono::Utc::now().timestamp() + steps * 30;
        self.totp.generate(u64::try_from(now).unwrap())
    }
}

/// Waits until at least 3 s remain in the current 30 s step, so that "now" is the same step
/// for the test and the server.
async fn settle_clock() {
    let into_step = chrono::Utc::now().timestamp() % 30;
    if into_step > 26 {
        tokio::time::sleep(Duration::from_secs(u64::try_from(31 - into_step).unwrap())).await;
    }
}

async fn post_json_with(app: &TestApp, path: &str, access: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .expect("request failed")
}

/// Registers, logs in, enrols and confirms TOTP (with the previous step's code, so the
/// current and next ones stay usable). Returns the account, its tokens, its app and its
/// recovery codes.
async fn enrolled(app: &TestApp) -> (String, Tokens, Authenticator, Vec<String>) {
    settle_clock().await;
    let (email, tokens) = signed_up(app).await;
    let enrolment = post_with(app, "/api/v1/auth/mfa/totp", &tokens.access).await;
    assert_eq!(enrolment.status(), StatusCode::CREATED);
    let enrolment: Value = enrolment.json().await.unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let app_secret = enrolment["secret"].as_str().unwrap();
    assert!(uri.contains(&format!("secret={app_secret}")), "{uri}");
    let authenticator = Authenticator::new(app_secret);

    // Not active yet: login still answers tokens.
    tokens_of(login(app, &email, PASSWORD).await).await;

    let confirmed = post_json_with(
        app,
        "/api/v1/auth/mfa/totp/confirm",
        &tokens.access,
        json!({"code": authenticator.code(-1)}),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes: Value = confirmed.json().await.unwrap();
    let codes: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (email, tokens, authenticator, codes)
}

/// Logs in with the password; expects the MFA challenge and returns its ticket.
async fn ticket(app: &TestApp, email: &str) -> String {
    let response = login(app, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refresh_cookie(&response).is_none(),
        "tokens before the second factor"
    );
    let body = problem(response).await;
    assert_eq!(body["type"], "urn:problem-type:mfa-required");
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none());
    body["mfa_ticket"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, body: Value) -> reqwest::Response {
    post_json(app, "/api/v1/auth/mfa/verify", body).await
}

#[tokio::test]
async fn with_totp_on_login_needs_a_fresh_code_and_the_same_code_twice_is_refused() {
    let app = spawn_auth_app().await;
    let (email, _, authenticator, _) = enrolled(&app).await;

    let first = ticket(&app, &email).await;
    let code = authenticator.code(0);
    let tokens = tokens_of(verify(&app, json!({"ticket": first, "code": code})).await).await;
    assert_eq!(me(&app, &tokens.access).await, StatusCode::OK);

    // The ticket is single use.
    let again = verify(
        &app,
        json!({"ticket": first, "code": authenticator.code(1)}),
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        problem(again).await["type"],
        "urn:problem-type:invalid-mfa-ticket"
    );

    // The same code, on a new ticket: refused (already used in its window).
    let second = ticket(&app, &email).await;
    let reused = verify(&app, json!({"ticket": second, "code": code})).await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        problem(reused).await["type"],
        "urn:problem-type:invalid-mfa-code"
    );
    // The next step's code still works on that ticket.
    tokens_of(
        verify(
            &app,
            json!({"ticket": second, "code": authenticator.code(1)}),
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn wrong_codes_kill_the_ticket_after_five_and_the_account_waits_a_minute() {
    let app = spawn_auth_app().await;
    let (email, _, authenticator, _) = enrolled(&app).await;
    let ticket_one = ticket(&app, &email).await;
    let wrong = if authenticator.code(0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 0..5 {
        let response = verify(&app, json!({"ticket": ticket_one, "code": wrong})).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
        assert_eq!(
            problem(response).await["type"],
            "urn:problem-type:invalid-mfa-code"
        );
    }
    // Sixth try, even with the right code: the ticket is dead.
    let dead = verify(
        &app,
        json!({"ticket": ticket_one, "code": authenticator.code(0)}),
    )
    .await;
    assert_eq!(dead.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        problem(dead).await["type"],
        "urn:problem-type:invalid-mfa-ticket"
    );
    // A new ticket does not reset the account's budget of 5 failures a minute.
    let ticket_two = ticket(&app, &email).await;
    let limited = verify(
        &app,
        json!({"ticket": ticket_two, "code": authenticator.code(0)}),
    )
    .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited).await;
}

#[tokio::test]
async fn an_expired_ticket_is_refused() {
    let app = spawn_auth_app_with(|settings| settings.mfa_ticket_ttl_secs = 1).await;
    let (email, _, authenticator, _) = enrolled(&app).await;
    let expired = ticket(&app, &email).await;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let response = verify(
        &app,
        json!({"ticket": expired, "code": authenticator.code(0)}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        problem(response).await["type"],
        "urn:problem-type:invalid-mfa-ticket"
    );
}

#[tokio::test]
async fn bad_input_gets_a_problem_never_a_500() {
    let app = spawn_auth_app().await;
    let (email, _, authenticator, _) = enrolled(&app).await;
    let (_, _, other_authenticator, _) = enrolled(&app).await;
    let ticket = ticket(&app, &email).await;
    let cases = [
        (
            json!({"ticket": ticket, "code": "12345"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"ticket": ticket, "code": "abcdef"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"ticket": ticket, "recovery_code": "nope"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"ticket": ticket}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"ticket": ticket, "code": "123456", "recovery_code": "aaaa-bbbb-cccc-dddd"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"ticket": "made-up", "code": "123456"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            json!({"ticket": "A".repeat(43), "code": "123456"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            json!({"ticket": 42, "code": "123456"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // A valid code of another account does not open this account's ticket.
        (
            json!({"ticket": ticket, "code": other_authenticator.code(0)}),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (body, status) in cases {
        let response = verify(&app, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        problem(response).await;
    }
    // Still one failure short of the limit: the right code works.
    tokens_of(
        verify(
            &app,
            json!({"ticket": ticket, "code": authenticator.code(0)}),
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn recovery_codes_work_once_and_regenerating_voids_the_old_ones() {
    let app = spawn_auth_app().await;
    let (email, tokens, authenticator, codes) = enrolled(&app).await;
    let first = ticket(&app, &email).await;
    tokens_of(
        verify(
            &app,
            json!({"ticket": first, "recovery_code": codes[0].to_uppercase()}),
        )
        .await,
    )
    .await;
    let second = ticket(&app, &email).await;
    let reused = verify(&app, json!({"ticket": second, "recovery_code": codes[0]})).await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);

    let regenerated = post_json_with(
        &app,
        "/api/v1/auth/mfa/recovery-codes",
        &tokens.access,
        json!({"code": authenticator.code(0)}),
    )
    .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    let fresh: Value = regenerated.json().await.unwrap();
    let fresh = fresh["recovery_codes"][0].as_str().unwrap().to_owned();
    let old = verify(&app, json!({"ticket": second, "recovery_code": codes[1]})).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    tokens_of(verify(&app, json!({"ticket": second, "recovery_code": fresh})).await).await;
}

#[tokio::test]
async fn the_secret_is_stored_encrypted() {
    let app = spawn_auth_app().await;
    let (email, _, authenticator, codes) = enrolled(&app).await;
    let id = user_id(&app, &email).await;
    let rows = app
        .state
        .db
        .query_all_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            format!("SELECT secret_encrypted FROM user_totp WHERE user_id = '{id}'"),
        ))
        .await
        .unwrap();
    let stored: String = rows[0].try_get("", "secret_encrypted").unwrap();
    let base32 = authenticator.totp.get_secret_base32();
    assert!(!stored.contains(&base32) && !stored.is_empty());
    let hashes = app
        .state
        .db
        .query_all_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            format!("SELECT code_hash FROM mfa_recovery_codes WHERE user_id = '{id}'"),
        ))
        .await
        .unwrap();
    assert_eq!(hashes.len(), 10);
    for row in hashes {
        let hash: String = row.try_get("", "code_hash").unwrap();
        assert!(
            codes
                .iter()
                .all(|code| !hash.contains(&code.replace('-', "")))
        );
    }
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_code() {
    let app = spawn_auth_app().await;
    let (email, tokens, authenticator, _) = enrolled(&app).await;
    let disable =
        |body: Value| post_json_with(&app, "/api/v1/auth/mfa/totp/disable", &tokens.access, body);
    let wrong_password =
        disable(json!({"password": OTHER_PASSWORD, "code": authenticator.code(0)})).await;
    assert_eq!(wrong_password.status(), StatusCode::FORBIDDEN);
    let wrong_code = disable(json!({"password": PASSWORD, "code": "999999"})).await;
    assert_eq!(wrong_code.status(), StatusCode::UNAUTHORIZED);
    let no_code = disable(json!({"password": PASSWORD})).await;
    assert_eq!(no_code.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let done = disable(json!({"password": PASSWORD, "code": authenticator.code(0)})).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    tokens_of(login(&app, &email, PASSWORD).await).await;
}

#[tokio::test]
async fn an_admin_resets_a_users_mfa_and_nobody_else_can() {
    let app = spawn_auth_app().await;
    let (email, tokens, _, _) = enrolled(&app).await;
    let id = user_id(&app, &email).await;
    let path = format!("/api/v1/admin/users/{id}/mfa");
    let by_user = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(by_user.status(), StatusCode::FORBIDDEN);
    let (_, admin) = signed_up_admin(&app).await;
    let reset = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    tokens_of(login(&app, &email, PASSWORD).await).await;
    let again = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    problem(again).await;
}

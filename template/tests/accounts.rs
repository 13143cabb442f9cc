//! Email verification and password reset, end to end: the app sends through a real SMTP
//! server (aiosmtpd, `tests/mail_support`), the test reads what it received and follows the
//! links, against real Postgres and Redis.

mod auth_support;
mod common;
mod mail_support;

use std::time::{Duration, Instant};

use auth_support::*;
use mail_support::SmtpServer;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use common::{TestApp, problem};

use {{crate_name}}::config::Settings;
use {{crate_name}}::entities::audit_events;
use {{crate_name}}::mail::SmtpTls;

async fn app_with_mail(smtp: &SmtpServer, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_auth_app_with(|settings| {
        smtp.configure(settings);
        configure(settings);
    })
    .await
}

/// How many audit rows of this action the app wrote.
async fn audited(app: &TestApp, action: &str) -> u64 {
    audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq(action))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    post_json(app, "/api/v1/auth/verify-email", json!({"token": token})).await
}

#[tokio::test]
async fn register_mails_a_link_that_verifies_the_account_and_unlocks_login() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |settings| {
        settings.require_verified_email = Some(true);
    })
    .await;
    let email = unique_email();
    assert_eq!(
        register(&app, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );

    // Before verification: the right password is refused with its own problem type.
    let refused = login(&app, &email, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body = problem(refused).await;
    assert_eq!(body["type"], "urn:problem-type:email-not-verified");
    // A wrong password still gets the usual answer (verification status is not revealed).
    assert_eq!(
        login(&app, &email, OTHER_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let mail = smtp.wait_for(&email, 1).await.remove(0);
    assert!(mail.subject.contains("Confirm"), "{}", mail.subject);
    assert!(
        mail.text
            .contains("https://app.example.com/verify-email#token="),
        "{}",
        mail.text
    );
    let token = mail.link_token();
    assert_eq!(token.len(), 43, "256 bits, base64url");

    assert_eq!(verify(&app, &token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(audited(&app, "email_verified").await, 1);
    tokens_of(login(&app, &email, PASSWORD).await).await;

    // The link works once.
    let reused = verify(&app, &token).await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        problem(reused).await["type"],
        "urn:problem-type:invalid-link-token"
    );
}

#[tokio::test]
async fn bad_verification_tokens_get_a_problem_never_a_500() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |_| {}).await;
    let unknown = "A".repeat(43);
    let long = "x".repeat(300);
    for token in [unknown.as_str(), "short", "🙂🙂🙂", long.as_str()] {
        let response = verify(&app, token).await;
        assert!(
            response.status() == StatusCode::BAD_REQUEST
                || response.status() == StatusCode::UNPROCESSABLE_ENTITY,
            "{token}: {}",
            response.status()
        );
        problem(response).await;
    }
    let missing = post_json(&app, "/api/v1/auth/verify-email", json!({})).await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong_type = post_json(&app, "/api/v1/auth/verify-email", json!({"token": 7})).await;
    assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_expired_verification_link_is_refused() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |settings| {
        settings.email_verification_ttl_secs = 1;
    })
    .await;
    let email = unique_email();
    register(&app, &email, PASSWORD).await;
    let token = smtp.wait_for(&email, 1).await.remove(0).link_token();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(verify(&app, &token).await.status(), StatusCode::BAD_REQUEST);
}

async fn resend(app: &TestApp, email: &str) -> Value {
    let response = post_json(
        app,
        "/api/v1/auth/verify-email/resend",
        json!({"email": email}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn resend_answers_alike_and_is_rate_limited_per_address() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |settings| {
        settings.email_verification_resend_per_hour = 2;
    })
    .await;
    let email = unique_email();
    register(&app, &email, PASSWORD).await;
    smtp.wait_for(&email, 1).await;
    let known = resend(&app, &email).await;
    let unknown = resend(&app, &unique_email()).await;
    assert_eq!(known, unknown, "the answer tells nothing about the address");
    resend(&app, &email).await;
    resend(&app, &email).await;
    // Registration + two resends: the third resend within the hour sends nothing.
    smtp.wait_for(&email, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received_by(&email).len(), 3);
}

async fn reset_request(app: &TestApp, email: &str) -> reqwest::Response {
    post_json(app, "/api/v1/auth/password-reset", json!({"email": email})).await
}

async fn reset_confirm(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    post_json(
        app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": token, "new_password": password}),
    )
    .await
}

#[tokio::test]
async fn a_mailed_reset_token_sets_the_password_once_and_ends_every_session() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |_| {}).await;
    let (email, first) = signed_up(&app).await;
    let second = tokens_of(login(&app, &email, PASSWORD).await).await;
    smtp.wait_for(&email, 1).await; // the verification mail

    let accepted = reset_request(&app, &email).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(&email, 2).await;
    let reset = mails
        .iter()
        .find(|mail| mail.text.contains("/reset-password#token="))
        .expect("a reset mail");
    let token = reset.link_token();

    // The policy applies, and a refused password does not spend the link.
    let weak = reset_confirm(&app, &token, "password1234").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(weak).await["rule"], "weak_password");

    let new_password = "saffron-glacier-pylon-19";
    assert_eq!(
        reset_confirm(&app, &token, new_password).await.status(),
        StatusCode::NO_CONTENT
    );
    // Every session is dead: access and refresh tokens of both logins.
    for tokens in [&first, &second] {
        assert_eq!(me(&app, &tokens.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refresh_with_body(&app, &tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&app, &email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    tokens_of(login(&app, &email, new_password).await).await;
    assert_eq!(audited(&app, "password_reset").await, 1);

    // Single use.
    let reused = reset_confirm(&app, &token, "another-quartz-harbor-77").await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        problem(reused).await["type"],
        "urn:problem-type:invalid-link-token"
    );
}

#[tokio::test]
async fn a_reset_link_dies_when_the_password_changes_or_expires() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |settings| {
        settings.password_reset_ttl_secs = 2;
    })
    .await;
    let (email, tokens) = signed_up(&app).await;
    reset_request(&app, &email).await;
    reset_request(&app, &email).await;
    let mails = smtp.wait_for(&email, 3).await;
    let mut reset_tokens: Vec<String> = mails
        .iter()
        .filter(|mail| mail.text.contains("/reset-password#token="))
        .map(|mail| mail.link_token())
        .collect();
    assert_eq!(reset_tokens.len(), 2);
    // Using one link voids the other: it was issued for the old password.
    let used = reset_tokens.pop().unwrap();
    let other = reset_tokens.pop().unwrap();
    assert_eq!(
        reset_confirm(&app, &used, "saffron-glacier-pylon-19")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        reset_confirm(&app, &other, "ember-lattice-quorum-55")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    drop(tokens);

    // Expiry.
    reset_request(&app, &email).await;
    let mails = smtp.wait_for(&email, 4).await;
    let fresh: Vec<String> = mails
        .iter()
        .filter(|mail| mail.text.contains("/reset-password#token="))
        .map(|mail| mail.link_token())
        .filter(|token| *token != used && *token != other)
        .collect();
    assert_eq!(fresh.len(), 1);
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(
        reset_confirm(&app, &fresh[0], "ember-lattice-quorum-55")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_reset_tokens_get_a_problem_never_a_500() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |_| {}).await;
    let unknown = "B".repeat(43);
    for token in [unknown.as_str(), "", "../../etc/passwd", "🙂"] {
        let response = reset_confirm(&app, token, "saffron-glacier-pylon-19").await;
        assert!(
            response.status() == StatusCode::BAD_REQUEST
                || response.status() == StatusCode::UNPROCESSABLE_ENTITY,
            "{token:?}: {}",
            response.status()
        );
        problem(response).await;
    }
    let missing_password = post_json(
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": unknown}),
    )
    .await;
    assert_eq!(missing_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Median wall time of `runs` calls of `request`.
async fn median_millis<F, Fut>(runs: usize, mut request: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        let started = Instant::now();
        let response = request(run).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

#[tokio::test]
async fn reset_for_known_and_unknown_addresses_answers_alike_in_comparable_time() {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(&smtp, |_| {}).await;
    let mut known = Vec::new();
    for _ in 0..20 {
        let email = unique_email();
        register(&app, &email, PASSWORD).await;
        known.push(email);
    }
    let known_body: Value = reset_request(&app, &known[0]).await.json().await.unwrap();
    let unknown_body: Value = reset_request(&app, &unique_email())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(known_body, unknown_body);

    let known_ms = median_millis(20, |run| reset_request(&app, &known[run])).await;
    let strangers: Vec<String> = (0..20).map(|_| unique_email()).collect();
    let unknown_ms = median_millis(20, |run| reset_request(&app, &strangers[run])).await;
    println!("password-reset median: known {known_ms:.2} ms, unknown {unknown_ms:.2} ms");
    assert!(
        (known_ms - unknown_ms).abs() < 5.0 + known_ms.max(unknown_ms) * 0.5,
        "known {known_ms:.2} ms vs unknown {unknown_ms:.2} ms"
    );
    // And the known addresses did get their mail.
    smtp.wait_for(&known[19], 2).await;
}

#[tokio::test]
async fn outside_dev_unverified_accounts_cannot_log_in_by_default() {
    let settings = Settings {
        environment: {{crate_name}}::config::Environment::Prod,
        ..Settings::default()
    };
    assert!(settings.require_verified_email());
    assert!(!Settings::default().require_verified_email());
}

#[tokio::test]
async fn in_dev_without_smtp_the_mail_is_written_to_a_file_with_its_link() {
    let data_dir = tempfile::tempdir().unwrap();
    let folder = data_dir.path().to_owned();
    let app = spawn_auth_app_with(move |settings| {
        settings.smtp_host = None;
        settings.data_dir = folder;
    })
    .await;
    let email = unique_email();
    register(&app, &email, PASSWORD).await;
    let mail_dir = data_dir.path().join("mail");
    let started = Instant::now();
    let eml = loop {
        let found: Option<std::path::PathBuf> = std::fs::read_dir(&mail_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .next();
        if let Some(path) = found {
            break std::fs::read_to_string(path).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no .eml written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(eml.contains(&format!("To: {email}")), "{eml}");
    assert!(eml.contains("multipart/alternative"), "{eml}");
    assert!(eml.contains("text/html"), "{eml}");
}

/// A self-signed certificate for `localhost` (openssl CLI): (folder, cert path, key path).
fn localhost_certificate() -> (tempfile::TempDir, String, String) {
    let folder = tempfile::tempdir().unwrap();
    let cert = folder.path().join("cert.pem").display().to_string();
    let key = folder.path().join("key.pem").display().to_string();
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout", &key, "-out", &cert])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the TLS mail tests need the openssl command");
    assert!(made.success(), "openssl could not make a certificate");
    (folder, cert, key)
}

/// Sends the verification mail of a fresh account through `smtp` with `tls` and AUTH.
async fn mail_over_tls(smtp: &SmtpServer, tls: SmtpTls, ca_file: &str) {
    let ca_file = std::path::PathBuf::from(ca_file);
    let app = app_with_mail(smtp, |settings| {
        settings.smtp_host = Some("localhost".to_owned());
        settings.smtp_tls = tls;
        settings.smtp_ca_file = Some(ca_file);
        settings.smtp_username = Some("mailer".to_owned());
        settings.smtp_password = Some("relay-password-1".into());
    })
    .await;
    let email = unique_email();
    register(&app, &email, PASSWORD).await;
    let mail = smtp.wait_for(&email, 1).await.remove(0);
    assert!(mail.tls, "not received over TLS");
    assert!(mail.authenticated, "not authenticated");
    assert_eq!(mail.link_token().len(), 43);
}

#[tokio::test]
async fn starttls_with_auth_delivers_over_an_encrypted_connection() {
    let (_folder, cert, key) = localhost_certificate();
    let smtp = SmtpServer::start_with(&[
        "--auth",
        "mailer:relay-password-1",
        "--cert",
        &cert,
        "--key",
        &key,
    ])
    .await;
    mail_over_tls(&smtp, SmtpTls::StartTls, &cert).await;
}

#[tokio::test]
async fn implicit_tls_with_auth_delivers_over_an_encrypted_connection() {
    let (_folder, cert, key) = localhost_certificate();
    let smtp = SmtpServer::start_with(&[
        "--auth",
        "mailer:relay-password-1",
        "--cert",
        &cert,
        "--key",
        &key,
        "--implicit-tls",
    ])
    .await;
    mail_over_tls(&smtp, SmtpTls::Implicit, &cert).await;
}

#[tokio::test]
async fn a_relay_that_refuses_the_credentials_gets_no_mail_and_the_answer_does_not_change() {
    let smtp = SmtpServer::start_with(&["--auth", "mailer:relay-password-1"]).await;
    let app = app_with_mail(&smtp, |settings| {
        settings.smtp_username = Some("mailer".to_owned());
        settings.smtp_password = Some("wrong-password".into());
    })
    .await;
    let email = unique_email();
    assert_eq!(
        register(&app, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(smtp.received_by(&email).is_empty());
}

//! `shasec probe` on APIs that are not shaped like a shaapi app: a user-name login described by
//! OpenAPI answering `{"auth_token": …}`, an OAuth2 password form, a cookie session, and a login
//! nobody described (reached with --login-body / --token-field). Each server here is a small real
//! axum app on 127.0.0.1:0; weak variants show that the families really ran through that login.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-battery-staple-42";
const STRONG_SECRET: &str = "Qm7Vx2Lp9Rt4Wz8Kc1Nf6Hd3Js5Bg0Ya2Ue7Ti9Oo4Rr1Ew";
/// A placeholder word every weak-secret list has.
const WEAK_SECRET: &str = "changeme";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginStyle {
    /// POST /api/session/signin, JSON {"username","password"} (described by OpenAPI).
    UsernameJson,
    /// POST /auth/token, form username/password/grant_type (FastAPI's OAuth2 password form).
    OAuthForm,
    /// POST /rpc/open-session, JSON {"credentials":{"handle","secret"}}, described nowhere.
    Undescribed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// {"auth_token": …}
    AuthToken,
    /// {"result": {"grant": {"value": …}}}
    Nested,
    /// Set-Cookie: sid=…; the me route reads only that cookie.
    Cookie,
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    login: LoginStyle,
    answer: Answer,
    openapi: bool,
    secret: &'static str,
    login_limit: bool,
}

impl Shape {
    fn hardened(login: LoginStyle, answer: Answer) -> Self {
        Shape {
            login,
            answer,
            openapi: login != LoginStyle::Undescribed,
            secret: STRONG_SECRET,
            login_limit: true,
        }
    }
}

struct ServerState {
    shape: Shape,
    issued: Mutex<HashSet<String>>,
    failures: Mutex<HashMap<String, u32>>,
}

type Shared = Arc<ServerState>;

struct Server {
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn login_path(style: LoginStyle) -> &'static str {
    match style {
        LoginStyle::UsernameJson => "/api/session/signin",
        LoginStyle::OAuthForm => "/auth/token",
        LoginStyle::Undescribed => "/rpc/open-session",
    }
}

fn openapi(shape: Shape) -> Value {
    let login_body = match shape.login {
        LoginStyle::OAuthForm => {
            json!({"content": {"application/x-www-form-urlencoded": {"schema": {
            "$ref": "#/components/schemas/Body_login_auth_token_post"}}}, "required": true})
        }
        _ => json!({"content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/SignIn"}}}, "required": true}),
    };
    json!({
        "openapi": "3.1.0",
        "info": {"title": "people API", "version": "2"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "SignIn": {"type": "object", "required": ["username", "password"], "properties": {
                    "username": {"type": "string"}, "password": {"type": "string", "format": "password"}}},
                "Body_login_auth_token_post": {"type": "object", "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"anyOf": [{"type": "string", "pattern": "^password$"}, {"type": "null"}]},
                        "username": {"type": "string"}, "password": {"type": "string"},
                        "scope": {"type": "string", "default": ""}}},
                "NewPerson": {"type": "object", "required": ["username", "email", "password"], "properties": {
                    "username": {"type": "string"}, "email": {"type": "string"}, "password": {"type": "string"}}}
            }
        },
        "paths": {
            login_path(shape.login): {"post": {"operationId": "sign_in", "security": [], "requestBody": login_body}},
            "/api/people": {"post": {"security": [], "requestBody": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/NewPerson"}}}}}},
            "/api/people/me": {"get": {"security": [{"bearer": []}]}},
            "/api/people/{id}": {"get": {"security": [{"bearer": []}], "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]}},
            "/health": {"get": {"security": []}}
        }
    })
}

fn issue(state: &ServerState) -> String {
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = json!({"sub": "alice", "jti": jti, "iat": now(), "exp": now() + 600});
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.shape.secret.as_bytes()),
    )
    .expect("token encodes");
    state.issued.lock().expect("lock").insert(jti);
    token
}

/// The credentials a request carries in the server's own shape; `None` when the shape differs.
fn presented(style: LoginStyle, headers: &HeaderMap, body: &[u8]) -> Option<(String, String)> {
    match style {
        LoginStyle::UsernameJson => {
            let value: Value = serde_json::from_slice(body).ok()?;
            Some((
                value["username"].as_str()?.to_owned(),
                value["password"].as_str()?.to_owned(),
            ))
        }
        LoginStyle::OAuthForm => {
            let form = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
            if !form.starts_with("application/x-www-form-urlencoded") {
                return None;
            }
            let fields: HashMap<String, String> =
                url::form_urlencoded::parse(body).into_owned().collect();
            if fields
                .get("grant_type")
                .is_some_and(|grant| grant != "password")
            {
                return None;
            }
            Some((
                fields.get("username")?.clone(),
                fields.get("password")?.clone(),
            ))
        }
        LoginStyle::Undescribed => {
            let value: Value = serde_json::from_slice(body).ok()?;
            Some((
                value["credentials"]["handle"].as_str()?.to_owned(),
                value["credentials"]["secret"].as_str()?.to_owned(),
            ))
        }
    }
}

async fn login(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let key = peer.ip().to_string();
    let failures = state
        .failures
        .lock()
        .expect("lock")
        .get(&key)
        .copied()
        .unwrap_or(0);
    if state.shape.login_limit && failures >= 5 {
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "60")]).into_response();
    }
    let Some((user, password)) = presented(state.shape.login, &headers, &body) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": "unexpected body"})),
        )
            .into_response();
    };
    if user != USER || password != PASSWORD {
        *state.failures.lock().expect("lock").entry(key).or_insert(0) += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "bad credentials"})),
        )
            .into_response();
    }
    let token = issue(&state);
    match state.shape.answer {
        Answer::AuthToken => {
            Json(json!({"auth_token": token, "user": {"username": USER}})).into_response()
        }
        Answer::Nested => {
            Json(json!({"result": {"grant": {"value": token, "kind": "bearer"}}})).into_response()
        }
        Answer::Cookie => {
            let mut response = Json(json!({"ok": true})).into_response();
            let cookie = format!("sid={token}; HttpOnly; Secure; SameSite=Lax; Path=/");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
    }
}

fn authenticated(state: &ServerState, headers: &HeaderMap) -> bool {
    let token = if state.shape.answer == Answer::Cookie {
        headers
            .get(header::COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|cookies| {
                cookies
                    .split(';')
                    .find_map(|pair| pair.trim().strip_prefix("sid=").map(str::to_owned))
            })
    } else {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::to_owned)
    };
    let Some(token) = token else {
        return false;
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    let Ok(data) = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(state.shape.secret.as_bytes()),
        &validation,
    ) else {
        return false;
    };
    data.claims["jti"]
        .as_str()
        .is_some_and(|jti| state.issued.lock().is_ok_and(|issued| issued.contains(jti)))
        && data.claims["sub"] == USER
}

async fn me(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if authenticated(&state, &headers) {
        Json(json!({"username": USER})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "not authenticated"})),
        )
            .into_response()
    }
}

async fn person(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if authenticated(&state, &headers) {
        StatusCode::NOT_FOUND.into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("referrer-policy", "no-referrer"),
        ("permissions-policy", "camera=()"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn start(shape: Shape) -> Server {
    let state = Arc::new(ServerState {
        shape,
        issued: Mutex::new(HashSet::new()),
        failures: Mutex::new(HashMap::new()),
    });
    let mut router = Router::new()
        .route(login_path(shape.login), post(login))
        .route("/api/people/me", get(me))
        .route("/api/people/{id}", get(person))
        .route(
            "/api/people",
            post(|| async { StatusCode::UNPROCESSABLE_ENTITY }),
        )
        .route("/health", get(|| async { "ok" }));
    if shape.openapi {
        router = router.route(
            "/openapi.json",
            get(move || async move { Json(openapi(shape)) }),
        );
    }
    let app = router
        .layer(middleware::from_fn(security_headers))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test server binds");
    let address = listener.local_addr().expect("bound address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Server {
        base_url: format!("http://{address}"),
        task,
    }
}

struct Run {
    code: i32,
    report: Value,
    stderr: String,
}

impl Run {
    fn findings(&self) -> Vec<Value> {
        self.report["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn has(&self, rule: &str) -> bool {
        self.findings()
            .iter()
            .any(|finding| finding["rule"] == rule)
    }

    fn messages(&self, rule: &str) -> String {
        self.findings()
            .iter()
            .filter(|finding| finding["rule"] == rule)
            .filter_map(|finding| finding["message"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn shasec(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_shasec"))
            .args(&args)
            .env_remove("SHASEC_CREDENTIALS")
            .env_remove("SHASEC_TOKEN")
            .output()
            .expect("shasec runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("shasec run joins")
}

/// `shasec probe BASE --credentials alice:… --format json` plus `extra`.
async fn probe(server: &Server, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec![
        "probe".into(),
        server.base_url.clone(),
        "--credentials".into(),
        format!("{USER}:{PASSWORD}"),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let (code, stdout, stderr) = shasec(args).await;
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!("JSON report expected ({error}); stdout: {stdout}\nstderr: {stderr}")
    });
    Run {
        code,
        report,
        stderr,
    }
}

/// Medium-or-worse findings other than the ports family's (which judges this machine's own
/// services, not the test server).
fn severe_outside_ports(run: &Run) -> Vec<Value> {
    run.findings()
        .into_iter()
        .filter(|finding| finding["rule"] != "SHA180")
        .filter(|finding| {
            matches!(
                finding["severity"].as_str(),
                Some("medium" | "high" | "critical")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openapi_username_login_answering_auth_token_needs_only_the_credentials() {
    let server = start(Shape::hardened(LoginStyle::UsernameJson, Answer::AuthToken)).await;
    // Acceptance: nothing but the credentials (and the report format), every family.
    let run = probe(&server, &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.report, run.stderr);
    assert!(
        !run.has("SHA100"),
        "every family ran in full: {}",
        run.messages("SHA100")
    );
    assert!(severe_outside_ports(&run).is_empty(), "{}", run.report);
    let note = run.messages("SHA101");
    for expected in [
        "POST /api/session/signin (found in the OpenAPI document)",
        "JSON {\"username\", \"password\"}",
        "token from `auth_token` of the JSON body",
        "oracle GET /api/people/me (found in the OpenAPI document)",
        "baseline: valid token -> 200, no token -> 401, broken signature -> 401",
    ] {
        assert!(note.contains(expected), "`{expected}` missing from: {note}");
    }

    // The same API with a guessable key and no login limit: the families really judged it.
    let weak = start(Shape {
        secret: WEAK_SECRET,
        login_limit: false,
        ..Shape::hardened(LoginStyle::UsernameJson, Answer::AuthToken)
    })
    .await;
    let run = probe(&weak, &["--skip", "ports"]).await;
    assert_eq!(run.code, 1, "{}", run.report);
    assert!(run.has("SHA112"), "key guessed offline: {}", run.report);
    assert!(run.has("SHA114") && !run.has("SHA113"), "{}", run.report);
    assert!(run.has("SHA130"), "login without a limit: {}", run.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth2_password_form_login_is_sent_as_a_form() {
    let server = start(Shape::hardened(LoginStyle::OAuthForm, Answer::AuthToken)).await;
    let run = probe(&server, &["--skip", "ports"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.report, run.stderr);
    assert!(!run.has("SHA100"), "{}", run.messages("SHA100"));
    let note = run.messages("SHA101");
    assert!(
        note.contains("POST /auth/token")
            && note.contains("form fields username, password, grant_type"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_session_is_attacked_through_its_cookie() {
    let weak = start(Shape {
        secret: WEAK_SECRET,
        ..Shape::hardened(LoginStyle::UsernameJson, Answer::Cookie)
    })
    .await;
    let strong = start(Shape::hardened(LoginStyle::UsernameJson, Answer::Cookie)).await;
    let (bad, good) = tokio::join!(
        probe(&weak, &["--only", "jwt,cookies"]),
        probe(&strong, &["--only", "jwt,cookies"])
    );
    assert!(bad.has("SHA112"), "{}", bad.report);
    assert!(bad.has("SHA114") && !bad.has("SHA113"), "{}", bad.report);
    assert!(
        bad.messages("SHA101").contains("sent as the cookie `sid`"),
        "{}",
        bad.messages("SHA101")
    );
    assert!(
        !good.has("SHA112") && !good.has("SHA100"),
        "{}",
        good.report
    );
    // The session cookie is right to be site-wide; nothing about its Path.
    assert!(!good.has("SHA163"), "{}", good.report);
    assert_eq!(good.code, 0, "{}", good.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undescribed_login_needs_login_body_and_token_field() {
    let server = start(Shape::hardened(LoginStyle::Undescribed, Answer::Nested)).await;
    let login = login_path(LoginStyle::Undescribed);
    // No document: the routes family has nothing to call, so it is skipped here.
    let common = [
        "--login-path",
        login,
        "--me-path",
        "/api/people/me",
        "--skip",
        "ports,routes",
    ];
    let body = r#"{"credentials":{"handle":"{username}","secret":"{password}"}}"#;

    let mut without_body: Vec<String> = vec![
        "probe".into(),
        server.base_url.clone(),
        "--credentials".into(),
        format!("{USER}:{PASSWORD}"),
    ];
    without_body.extend(common.iter().map(|arg| (*arg).to_owned()));
    let (code, _, stderr) = shasec(without_body.clone()).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("login failed") && stderr.contains("--login-body"),
        "{stderr}"
    );

    let mut without_field = without_body.clone();
    without_field.extend(["--login-body".to_owned(), body.to_owned()]);
    let (code, _, stderr) = shasec(without_field).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("carries no token") && stderr.contains("--token-field"),
        "{stderr}"
    );

    let mut flags: Vec<&str> = common.to_vec();
    flags.extend(["--login-body", body, "--token-field", "result.grant.value"]);
    let run = probe(&server, &flags).await;
    assert_eq!(run.code, 0, "{}\n{}", run.report, run.stderr);
    assert!(!run.has("SHA100"), "{}", run.messages("SHA100"));
    let note = run.messages("SHA101");
    assert!(
        note.contains("the --login-body template (given)")
            && note.contains("`result.grant.value` of the JSON body"),
        "{note}"
    );

    let (code, _, stderr) = shasec(vec![
        "probe".into(),
        server.base_url.clone(),
        "--login-body".into(),
        r#"{"user":"{username}"}"#.into(),
    ])
    .await;
    assert_eq!(code, 2);
    assert!(stderr.contains("{password}"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_short_fails_the_gate_unless_partial_runs_are_allowed() {
    let server = start(Shape::hardened(LoginStyle::UsernameJson, Answer::AuthToken)).await;
    let cut = probe(&server, &["--skip", "ports", "--max-requests", "12"]).await;
    assert_eq!(cut.code, 1, "a truncated run fails: {}", cut.report);
    assert!(
        cut.report["truncated"]
            .as_str()
            .is_some_and(|reason| reason.contains("--max-requests")),
        "{}",
        cut.report
    );
    assert!(
        severe_outside_ports(&cut).is_empty(),
        "only the truncation fails it"
    );
    let allowed = probe(
        &server,
        &["--skip", "ports", "--max-requests", "12", "--allow-partial"],
    )
    .await;
    assert_eq!(allowed.code, 0, "{}", allowed.report);
    assert!(allowed.report.get("truncated").is_none());
    assert!(
        allowed.messages("SHA100").contains("not run"),
        "{}",
        allowed.report
    );
    let full = probe(&server, &["--skip", "ports"]).await;
    assert_eq!(full.code, 0, "a complete run passes: {}", full.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_local_and_metadata_targets_are_refused_even_with_allow_public() {
    for target in ["http://169.254.169.254/", "http://[fe80::1]:8080/"] {
        let (code, _, stderr) =
            shasec(vec!["probe".into(), target.into(), "--allow-public".into()]).await;
        assert_eq!(code, 2, "{target}: {stderr}");
        assert!(
            stderr.contains("link-local or cloud metadata")
                && stderr.contains("--allow-link-local"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_secrets_in_python_and_spring_config_join_the_key_candidates() {
    const FLASK_SECRET: &str = "fl4sk-app-signing-9c1e";
    let server = start(Shape {
        secret: FLASK_SECRET,
        ..Shape::hardened(LoginStyle::UsernameJson, Answer::AuthToken)
    })
    .await;
    let flask = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flask.path().join("app.py"),
        format!("app = Flask(__name__)\napp.config[\"JWT_SECRET_KEY\"] = \"{FLASK_SECRET}\"\n"),
    )
    .expect("write app.py");
    let unrelated = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(unrelated.path().join("src/main/resources")).expect("mkdir");
    std::fs::write(
        unrelated.path().join("src/main/resources/application.yml"),
        "security:\n  jwt:\n    secret: ${JWT_SECRET:some-other-spring-default}\n",
    )
    .expect("write application.yml");
    let flask_path = flask.path().to_string_lossy().into_owned();
    let unrelated_path = unrelated.path().to_string_lossy().into_owned();
    let with_args = ["--only", "jwt", "--project", flask_path.as_str()];
    let without_args = ["--only", "jwt", "--project", unrelated_path.as_str()];
    let (with, without) = tokio::join!(probe(&server, &with_args), probe(&server, &without_args));
    assert!(
        with.messages("SHA112").contains("the project (--project)"),
        "{}",
        with.report
    );
    assert!(
        !with.messages("SHA112").contains(FLASK_SECRET),
        "project secrets are masked"
    );
    assert!(!without.has("SHA112"), "{}", without.report);
}

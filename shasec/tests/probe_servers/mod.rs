//! Test-only API servers for the probe tests, started in-process on 127.0.0.1:0. One `Posture`
//! describes every weakness the probe looks for; `Posture::vulnerable()` has them all and
//! `Posture::hardened()` none, so each finding can be shown to appear on one and not the other.
//! Deliberately vulnerable code: never reuse any of it outside these tests.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};

/// The generated app's dev default, on the embedded weak list: a guessable key.
pub const GUESSABLE_SECRET: &str = "dev-insecure-jwt-secret-do-not-use-outside-dev";
const STRONG_SECRET: &str = "Zr8q2W9vLm4Tx7Kp1Nc6Bd3Hf5Js0Ga8Ue2Yi9Oq4Rw7Ek1Vt";
const RSA_KEY_PEM: &str = include_str!("fixtures/test-only-rsa-key.pem");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// No login limit at all.
    Off,
    /// Counts failed logins per X-Forwarded-For / X-Real-IP, falling back to the socket address.
    TrustsForwardedHeaders,
    /// Counts failed logins per socket address.
    Socket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Hmac(&'static str),
    /// RS256 tokens, JWKS published, and an HS256 token verified with the public key's PEM
    /// (the classic algorithm-confusion bug).
    RsaConfusable,
}

#[derive(Debug, Clone, Copy)]
pub struct Posture {
    pub signing: Signing,
    pub accepts_alg_none: bool,
    /// False: claims are read without checking the signature at all.
    pub verifies_signature: bool,
    /// Reads the key named by `kid` (only `…/dev/null`, emulated: an empty key).
    pub kid_file_lookup: bool,
    /// Every issued `jti` is recorded, bound to its user, and required.
    pub tracks_tokens: bool,
    pub checks_expiry: bool,
    pub roles_from_claims: bool,
    pub limiter: Limiter,
    pub reflects_origins: bool,
    pub security_headers: bool,
    pub banner: bool,
    pub docs: bool,
    pub hardened_cookie: bool,
    /// `/api/v1/admin/users` is documented as protected but checks nothing.
    pub unprotected_admin_route: bool,
}

impl Posture {
    pub fn vulnerable() -> Self {
        Posture {
            signing: Signing::Hmac("secret"),
            accepts_alg_none: true,
            verifies_signature: true,
            kid_file_lookup: true,
            tracks_tokens: false,
            checks_expiry: false,
            roles_from_claims: true,
            limiter: Limiter::TrustsForwardedHeaders,
            reflects_origins: true,
            security_headers: false,
            banner: true,
            docs: true,
            hardened_cookie: false,
            unprotected_admin_route: true,
        }
    }

    pub fn hardened() -> Self {
        Posture {
            signing: Signing::Hmac(STRONG_SECRET),
            accepts_alg_none: false,
            verifies_signature: true,
            kid_file_lookup: false,
            tracks_tokens: true,
            checks_expiry: true,
            roles_from_claims: false,
            limiter: Limiter::Socket,
            reflects_origins: false,
            security_headers: true,
            banner: false,
            docs: false,
            hardened_cookie: true,
            unprotected_admin_route: false,
        }
    }
}

struct Account {
    id: String,
    password: String,
}

struct ServerState {
    posture: Posture,
    accounts: Mutex<HashMap<String, Account>>,
    /// jti -> user id
    issued: Mutex<HashMap<String, String>>,
    refresh_tokens: Mutex<HashSet<String>>,
    failures: Mutex<HashMap<String, u32>>,
}

type Shared = Arc<ServerState>;

pub struct TestServer {
    pub address: SocketAddr,
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub const USER_EMAIL: &str = "alice@example.com";
pub const USER_PASSWORD: &str = "correct-horse-battery-staple-42";

/// Starts a server with one user (USER_EMAIL / USER_PASSWORD, role user).
pub async fn start(posture: Posture) -> TestServer {
    start_on(posture, "127.0.0.1:0").await
}

pub async fn start_on(posture: Posture, bind: &str) -> TestServer {
    let state = Arc::new(ServerState {
        posture,
        accounts: Mutex::new(HashMap::from([(
            USER_EMAIL.to_owned(),
            Account {
                id: "7".to_owned(),
                password: USER_PASSWORD.to_owned(),
            },
        )])),
        issued: Mutex::new(HashMap::new()),
        refresh_tokens: Mutex::new(HashSet::new()),
        failures: Mutex::new(HashMap::new()),
    });
    let mut router = Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/admin/stats", get(admin_stats))
        .route("/api/v1/admin/users", get(admin_users))
        .route("/health", get(|| async { "ok" }));
    if posture.docs {
        router = router
            .route("/api/v1/openapi.json", get(|| async { Json(openapi_document()) }))
            .route(
                "/docs",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<html><body><div id=\"swagger-ui\"></div><script src=\"swagger-ui-bundle.js\"></script></body></html>",
                    )
                }),
            );
    }
    if matches!(posture.signing, Signing::RsaConfusable) {
        router = router.route("/.well-known/jwks.json", get(|| async { Json(jwks()) }));
    }
    let app = router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            response_headers,
        ))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(bind)
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
    TestServer {
        address,
        base_url: format!("http://{address}"),
        task,
    }
}

/// The document the servers describe themselves with (also written to a file for `--openapi`).
pub fn openapi_document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "probe test server", "version": "1"},
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/api/v1/auth/register": {"post": {"security": []}},
            "/api/v1/auth/login": {"post": {"security": []}},
            "/api/v1/auth/refresh": {"post": {"security": []}},
            "/api/v1/auth/me": {"get": {}},
            "/api/v1/admin/stats": {"get": {}},
            "/api/v1/admin/users": {"get": {}},
            "/health": {"get": {"security": []}}
        }
    })
}

fn rsa_public_pem() -> String {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_KEY_PEM).expect("fixture key parses");
    key.to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("public key encodes")
}

fn jwks() -> Value {
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_KEY_PEM).expect("fixture key parses");
    let public = key.to_public_key();
    json!({"keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "test",
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    }]})
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn issue(state: &ServerState, user_id: &str) -> String {
    let jti = uuid::Uuid::new_v4().to_string();
    let claims =
        json!({"sub": user_id, "jti": jti, "iat": now(), "exp": now() + 900, "role": "user"});
    let token = match state.posture.signing {
        Signing::Hmac(secret) => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        ),
        Signing::RsaConfusable => jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(RSA_KEY_PEM.as_bytes()).expect("fixture key loads"),
        ),
    }
    .expect("token encodes");
    state
        .issued
        .lock()
        .expect("lock")
        .insert(jti, user_id.to_owned());
    token
}

fn client_key(state: &ServerState, headers: &HeaderMap, peer: SocketAddr) -> String {
    if state.posture.limiter == Limiter::TrustsForwardedHeaders {
        for name in ["x-forwarded-for", "x-real-ip", "forwarded"] {
            if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
                return value.to_owned();
            }
        }
    }
    peer.ip().to_string()
}

async fn register(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    let (Some(email), Some(password)) = (body["email"].as_str(), body["password"].as_str()) else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let mut accounts = state.accounts.lock().expect("lock");
    if accounts.contains_key(email) {
        return StatusCode::CONFLICT.into_response();
    }
    let id = (accounts.len() + 100).to_string();
    accounts.insert(
        email.to_owned(),
        Account {
            id: id.clone(),
            password: password.to_owned(),
        },
    );
    (StatusCode::CREATED, Json(json!({"id": id, "email": email}))).into_response()
}

async fn login(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = client_key(&state, &headers, peer);
    if state.posture.limiter != Limiter::Off
        && state
            .failures
            .lock()
            .expect("lock")
            .get(&key)
            .copied()
            .unwrap_or(0)
            >= 5
    {
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "60")]).into_response();
    }
    let email = body["email"].as_str().unwrap_or_default();
    let password = body["password"].as_str().unwrap_or_default();
    let user_id = {
        let accounts = state.accounts.lock().expect("lock");
        accounts
            .get(email)
            .filter(|account| account.password == password)
            .map(|account| account.id.clone())
    };
    let Some(user_id) = user_id else {
        *state.failures.lock().expect("lock").entry(key).or_insert(0) += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid credentials"})),
        )
            .into_response();
    };
    session_response(&state, &user_id)
}

fn session_response(state: &ServerState, user_id: &str) -> Response {
    let token = issue(state, user_id);
    let refresh = uuid::Uuid::new_v4().simple().to_string();
    state
        .refresh_tokens
        .lock()
        .expect("lock")
        .insert(refresh.clone());
    let cookie = if state.posture.hardened_cookie {
        format!(
            "refresh_token={refresh}; HttpOnly; Secure; SameSite=Lax; Path=/api/v1/auth; Max-Age=1209600"
        )
    } else {
        format!("refresh_token={refresh}; Path=/")
    };
    let mut response =
        Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 900}))
            .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn refresh(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|cookies| {
            cookies.split(';').find_map(|pair| {
                pair.trim()
                    .strip_prefix("refresh_token=")
                    .map(str::to_owned)
            })
        });
    let Some(presented) = presented else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if !state
        .refresh_tokens
        .lock()
        .expect("lock")
        .remove(&presented)
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    session_response(&state, "7")
}

/// The server's token check; `None` is a refusal.
fn authenticate(state: &ServerState, headers: &HeaderMap) -> Option<Value> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .to_owned();
    let mut parts = token.split('.');
    let (header_segment, payload_segment) = (parts.next()?, parts.next()?);
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_segment).ok()?).ok()?;
    let alg = header["alg"].as_str().unwrap_or_default();
    let posture = state.posture;
    let claims: Value = if !posture.verifies_signature {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload_segment).ok()?).ok()?
    } else if alg.eq_ignore_ascii_case("none") {
        if !posture.accepts_alg_none {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload_segment).ok()?).ok()?
    } else {
        let mut validation;
        let key;
        match posture.signing {
            Signing::RsaConfusable if alg == "HS256" => {
                // The bug: the verification key follows the token's own `alg`.
                validation = Validation::new(Algorithm::HS256);
                key = DecodingKey::from_secret(rsa_public_pem().as_bytes());
            }
            Signing::RsaConfusable => {
                validation = Validation::new(Algorithm::RS256);
                key = DecodingKey::from_rsa_pem(rsa_public_pem().as_bytes()).ok()?;
            }
            Signing::Hmac(secret) => {
                validation = Validation::new(Algorithm::HS256);
                let kid = header["kid"].as_str().unwrap_or_default();
                key = if posture.kid_file_lookup && kid.ends_with("dev/null") {
                    DecodingKey::from_secret(b"")
                } else {
                    DecodingKey::from_secret(secret.as_bytes())
                };
            }
        }
        validation.validate_exp = posture.checks_expiry;
        validation.required_spec_claims = HashSet::new();
        validation.leeway = 0;
        jsonwebtoken::decode::<Value>(&token, &key, &validation)
            .ok()?
            .claims
    };
    if posture.tracks_tokens {
        let jti = claims["jti"].as_str()?;
        let owner = state.issued.lock().ok()?.get(jti).cloned()?;
        if claims["sub"].as_str() != Some(owner.as_str()) {
            return None;
        }
    }
    Some(claims)
}

fn me_body(state: &ServerState, claims: &Value) -> Value {
    let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
    let email = state
        .accounts
        .lock()
        .ok()
        .and_then(|accounts| {
            accounts
                .iter()
                .find(|(_, account)| account.id == subject)
                .map(|(email, _)| email.clone())
        })
        .unwrap_or_else(|| format!("user-{subject}@example.com"));
    json!({"id": subject, "email": email})
}

async fn me(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match authenticate(&state, &headers) {
        Some(claims) => Json(me_body(&state, &claims)).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized"})),
        )
            .into_response(),
    }
}

async fn admin_stats(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(claims) = authenticate(&state, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let admin = state.posture.roles_from_claims && claims["role"].as_str() == Some("admin");
    if admin {
        Json(json!({"users": 1})).into_response()
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

async fn admin_users(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if state.posture.unprotected_admin_route || authenticate(&state, &headers).is_some() {
        Json(json!([{"id": "7", "email": USER_EMAIL}])).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn response_headers(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight && state.posture.reflects_origins {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    if state.posture.reflects_origins {
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    } else if origin.as_ref().and_then(|o| o.to_str().ok()) == Some("https://app.example.com") {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("https://app.example.com"),
        );
    }
    if state.posture.security_headers {
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        headers.insert(
            "permissions-policy",
            HeaderValue::from_static("camera=(), microphone=()"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.posture.banner {
        headers.insert(header::SERVER, HeaderValue::from_static("vulnapp/1.2.3"));
        headers.insert(
            "x-powered-by",
            HeaderValue::from_static("TestFramework 4.1"),
        );
    }
    response
}

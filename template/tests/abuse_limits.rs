//! Abuse limits, headers and failure modes, against real Postgres and Redis: brute-force
//! throttling per IP and per account (shared by instances), forwarded-header spoofing, request
//! rate limits, security headers and CORS on the auth routes, and Redis going down.

mod auth_support;
mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use auth_support::*;
use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use common::{RedisPrefix, TestDatabase, problem, redis_url, test_settings};

use {{crate_name}}::auth::rbac;
use {{crate_name}}::config::Settings;
use {{crate_name}}::db;
use {{crate_name}}::startup::Application;

/// The defaults the issue asks for: 5 per minute per IP, 10 per 15 minutes per account.
fn default_login_limits(settings: &mut Settings) {
    settings.login_max_attempts_per_ip = 5;
    settings.login_ip_window_secs = 60;
    settings.login_max_attempts_per_account = 10;
    settings.login_account_window_secs = 900;
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("a 429 carries Retry-After in seconds")
}

#[tokio::test]
async fn the_sixth_bad_login_from_one_ip_gets_429_with_retry_after() {
    let app = spawn_auth_app_with(default_login_limits).await;
    let email = unique_email();
    assert_eq!(
        register(&app, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    for attempt in 1..=5 {
        // Different accounts, so only the per-IP limit is in play.
        let target = if attempt % 2 == 0 {
            email.clone()
        } else {
            unique_email()
        };
        let response = login(&app, &target, OTHER_PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let response = login(&app, &unique_email(), OTHER_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&response);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    problem(response).await;
    // Even the right password waits: the limit is on guesses from this address.
    let response = login(&app, &email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn rotating_x_forwarded_for_does_not_reset_the_ip_limit() {
    let app = spawn_auth_app_with(default_login_limits).await;
    for attempt in 0..6u8 {
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.{attempt}"))
            .header("forwarded", format!("for=198.51.100.{attempt}"))
            .json(&json!({"email": unique_email(), "password": OTHER_PASSWORD}))
            .send()
            .await
            .unwrap();
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(response.status(), expected, "attempt {attempt}");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = spawn_auth_app_with(|settings| {
        default_login_limits(settings);
        settings.trusted_proxies = vec!["127.0.0.1/32".to_owned()];
    })
    .await;
    let attempt = |client_ip: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", client_ip)
            .json(&json!({"email": unique_email(), "password": OTHER_PASSWORD}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("203.0.113.7").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("203.0.113.7").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not punished for the first one.
    assert_eq!(
        attempt("203.0.113.8").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Two instances of the application on one database and one Redis prefix.
struct TwoInstances {
    urls: [String; 2],
    servers: Vec<JoinHandle<()>>,
    _redis: RedisPrefix,
    _database: TestDatabase,
}

impl Drop for TwoInstances {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

async fn two_instances(configure: impl Fn(&mut Settings)) -> TwoInstances {
    let database = TestDatabase::create().await;
    let mut settings = test_settings(&database.url);
    relaxed_limits(&mut settings);
    configure(&mut settings);
    let redis = RedisPrefix {
        prefix: settings.redis_key_prefix.clone(),
    };
    let connection = db::connect(&settings).await.unwrap();
    db::migrate_up(&connection).await.unwrap();
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let application = Application::build(settings.clone()).await.unwrap();
        urls.push(format!("http://127.0.0.1:{}", application.port()));
        servers.push(tokio::spawn(async move {
            let _ = application.run_until(std::future::pending()).await;
        }));
    }
    TwoInstances {
        urls: [urls[0].clone(), urls[1].clone()],
        servers,
        _redis: redis,
        _database: database,
    }
}

#[tokio::test]
async fn two_instances_sharing_redis_share_the_account_limit() {
    let instances = two_instances(|settings| {
        settings.login_max_attempts_per_account = 10;
        settings.login_account_window_secs = 900;
    })
    .await;
    let client = reqwest::Client::new();
    let email = unique_email();
    let register = client
        .post(format!("{}/api/v1/auth/register", instances.urls[0]))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), StatusCode::CREATED);
    let attempt = |instance: usize, password: &'static str| {
        client
            .post(format!("{}/api/v1/auth/login", instances.urls[instance]))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    // Ten wrong guesses, alternating instances: neither instance alone saw more than five.
    for guess in 0..10 {
        let status = attempt(guess % 2, OTHER_PASSWORD).await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    for instance in 0..2 {
        let response = attempt(instance, PASSWORD).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "instance {instance} must know about the other's failures"
        );
        assert!(retry_after(&response) > 0);
    }
}

#[tokio::test]
async fn bursts_on_auth_routes_get_429_from_the_request_limiter() {
    let app = spawn_auth_app_with(|settings| {
        settings.auth_rate_limit_per_minute = 6;
        settings.auth_rate_limit_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..6 {
        let response = app
            .client
            .post(app.url("/api/v1/auth/refresh"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some(response);
        }
    }
    assert_eq!(
        &statuses[..3],
        &[StatusCode::UNAUTHORIZED; 3],
        "{statuses:?}"
    );
    let limited = limited.expect("the burst is exhausted after three requests");
    assert!(retry_after(&limited) >= 1);
    problem(limited).await;
    // The stricter auth bucket does not throttle the rest of the API.
    let health = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_whole_api_has_a_per_ip_request_limit() {
    let app = spawn_auth_app_with(|settings| {
        settings.rate_limit_per_second = 1;
        settings.rate_limit_burst = 2;
    })
    .await;
    let stats = || app.client.get(app.url("/api/v1/admin/stats")).send();
    assert_eq!(stats().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stats().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let limited = stats().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) >= 1);
    // Probes are outside the API and never limited.
    for _ in 0..5 {
        let health = app
            .client
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn auth_responses_carry_the_security_headers() {
    let app = spawn_auth_app().await;
    let (_, tokens) = signed_up(&app).await;
    let responses = [
        get_with(&app, "/api/v1/auth/me", &tokens.access).await,
        login(&app, &unique_email(), OTHER_PASSWORD).await,
        get_with(&app, "/api/v1/admin/stats", &tokens.access).await,
    ];
    for response in responses {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(headers.contains_key("permissions-policy"));
        assert_eq!(headers["cache-control"], "no-store", "{}", response.url());
    }
}

#[tokio::test]
async fn cors_preflight_on_auth_routes_answers_listed_origins_only() {
    let app = spawn_auth_app_with(|settings| {
        settings.cors_allowed_origins = vec!["https://app.example.com".to_owned()];
        settings.cors_allow_credentials = true;
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/refresh"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let listed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(listed.headers()["access-control-allow-credentials"], "true");
    // Without an allow-origin the browser refuses the response, whatever else it carries.
    let unlisted = preflight("https://evil.example.net").await.unwrap();
    assert!(
        !unlisted
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

/// A TCP relay to Redis that can be cut, to take Redis away from one app only.
struct CuttableRedis {
    address: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl CuttableRedis {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = tasks.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().await.push(relay);
            }
        });
        CuttableRedis {
            address,
            tasks,
            acceptor,
        }
    }

    /// Stops accepting and drops every relayed connection.
    async fn cut(&self) {
        self.acceptor.abort();
        for task in self.tasks.lock().await.drain(..) {
            task.abort();
        }
        // Let the aborted relays close their sockets.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_redis_down_protected_routes_fail_closed() {
    let relay = CuttableRedis::start().await;
    let address = relay.address;
    let app = spawn_auth_app_with(move |settings| {
        settings.redis_url = Some(format!("redis://{address}"));
        settings.readiness_timeout_ms = 500;
    })
    .await;
    let (email, tokens) = signed_up(&app).await;
    let id = user_id(&app, &email).await;
    rbac::grant_role(&app.state.db, id, "admin").await.unwrap();
    assert_eq!(me(&app, &tokens.access).await, StatusCode::OK);

    relay.cut().await;

    for path in [
        "/api/v1/auth/me",
        "/api/v1/admin/stats",
        "/api/v1/admin/users",
    ] {
        let response = get_with(&app, path, &tokens.access).await;
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{path} must fail closed without Redis"
        );
        problem(response).await;
    }
    let logout = post_with(&app, "/api/v1/auth/logout", &tokens.access).await;
    assert_eq!(logout.status(), StatusCode::SERVICE_UNAVAILABLE);
    let refresh = refresh_with_body(&app, &tokens.refresh).await;
    assert_eq!(refresh.status(), StatusCode::SERVICE_UNAVAILABLE);
    let login = login(&app, &email, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
}

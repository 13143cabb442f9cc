//! Shared helpers for the integration tests: every test gets the real application, started on
//! a free port against its own fresh Postgres database (dropped afterwards) and its own Redis
//! key prefix (deleted afterwards), driven over HTTP.
//!
//! Postgres and Redis are the local servers, overridable for CI with
//! `TEST_DATABASE_ADMIN_URL` (a database the tests may create others from) and
//! `TEST_REDIS_URL`.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;

use axum::Router;
use deadpool_redis::redis;
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;

// The application crate, in its own group: its name varies per project, and rustfmt
// sorts imports by name within a group.
use {{crate_name}}::config::Environment;
use {{crate_name}}::config::Settings;
use {{crate_name}}::db;
use {{crate_name}}::mail::SmtpTls;
use {{crate_name}}::startup::Application;
use {{crate_name}}::state::AppState;
use {{crate_name}}::telemetry;

/// A strong secret for tests that run outside dev; never used by a real deployment.
pub const TEST_JWT_SECRET: &str = "tG3vX9qLm2Zr7Kp4Wc8Nb1Hd6Fs0Jy5Ua3Ex7Qi2Ro9Tl4Mz";
/// Passes the production guard too (TOTP-secret encryption key).
pub const TEST_MFA_ENCRYPTION_KEY: &str = "Wq5Yc8Rb2Nf7Lx1Td4Gj9Km3Hs6Pv0Zu2Ae8Io5Xn7Bl1Cy";
{%- if storage %}
/// Passes the production guard too (master key of uploaded files).
pub const TEST_STORAGE_KEY: &str = "Hn4Ks8Wd2Qx6Vb0Mz3Lr7Ty1Pe5Uc9Ia2Og6Nj0Fh4Ed8S";
{%- endif %}

pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test (or run) uses.
pub fn unique_redis_prefix() -> String {
    format!("test-{}:", uuid::Uuid::new_v4().simple())
}

/// A fresh, empty Postgres database, dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin_url = admin_database_url();
        let admin = Database::connect(&admin_url)
            .await
            .expect("Postgres must be running for the integration tests (TEST_DATABASE_ADMIN_URL)");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("cannot create the test database");
        admin.close().await.ok();
        let url = database_url_for(&admin_url, &name);
        TestDatabase { name, url }
    }
}

/// The admin URL with its database name replaced.
fn database_url_for(admin_url: &str, database: &str) -> String {
    let without_query = admin_url.split('?').next().unwrap_or(admin_url);
    match without_query.rfind('/') {
        Some(index) if index > "postgres://".len() => {
            format!("{}/{database}", &without_query[..index])
        }
        _ => format!("{without_query}/{database}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: drop the database
        // from a separate thread with its own runtime, through its own connection.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cannot build a runtime to drop the test database");
            runtime.block_on(async {
                let admin = Database::connect(&admin_database_url()).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// Deletes every Redis key under `prefix` when dropped.
pub struct RedisPrefix {
    pub prefix: String,
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let pattern = format!("{}*", self.prefix);
        let _ = std::thread::spawn(move || -> redis::RedisResult<()> {
            let client = redis::Client::open(redis_url())?;
            let mut connection = client.get_connection()?;
            let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut connection)?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).query::<()>(&mut connection)?;
            }
            Ok(())
        })
        .join();
    }
}

/// Settings for a test app: dev, port 0, the given database, Redis under a fresh prefix.
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        environment: Environment::Dev,
        host: "127.0.0.1".to_owned(),
        port: 0,
        database_url: Some(database_url.to_owned()),
        redis_url: Some(redis_url()),
        redis_key_prefix: unique_redis_prefix(),
{%- if storage %}
        // A folder outside the project, so tests that switch to prod pass the guard too.
        storage_url: Some(format!("file://{}", test_storage_folder().display())),
        storage_encryption_key: SecretString::from(TEST_STORAGE_KEY),
{%- endif %}
        // Mail goes to a relay on this host that is not there (sending fails quietly in the
        // background); tests about mail start a real SMTP server (tests/mail_support).
        smtp_host: Some("127.0.0.1".to_owned()),
        smtp_port: Some(closed_port()),
        smtp_tls: SmtpTls::None,
        public_url: "https://app.example.com".to_owned(),
        mfa_encryption_key: SecretString::from(TEST_MFA_ENCRYPTION_KEY),
        // Quiet unless asked: TEST_LOG=debug cargo test -- --nocapture
        log_level: std::env::var("TEST_LOG").unwrap_or_else(|_| "off".to_owned()),
        // Tests run in parallel: each app's `/metrics` on a port of its own.
        metrics_address: "127.0.0.1:0".to_owned(),
        ..Settings::default()
    }
}

{%- if storage %}

/// A folder outside the project shared by the tests that need durable storage (each check
/// writes a uniquely named marker and deletes it).
pub fn test_storage_folder() -> std::path::PathBuf {
    std::env::temp_dir().join(concat!(env!("CARGO_PKG_NAME"), "-test-storage"))
}
{%- endif %}

/// Settings that pass the production guard (strong secret, Postgres, Redis, docs off).
pub fn production_settings(database_url: &str) -> Settings {
    Settings {
        environment: Environment::Prod,
        jwt_secret: SecretString::from(TEST_JWT_SECRET),
        ..test_settings(database_url)
    }
}

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The `/metrics` listener (`None` with `METRICS_ADDRESS=off`).
    pub metrics: Option<SocketAddr>,
    server: tokio::task::JoinHandle<()>,
    // Dropped after the server task is aborted (fields drop in declaration order).
    pub redis: RedisPrefix,
    pub database: TestDatabase,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn socket_address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The application with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}, Router::new()).await
}

/// The application with settings adjusted by `configure` and `extra_routes` merged into its
/// router (under the full middleware stack).
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut Settings),
    extra_routes: Router<AppState>,
) -> TestApp {
    let database = TestDatabase::create().await;
    let mut settings = test_settings(&database.url);
    configure(&mut settings);
    let redis = RedisPrefix {
        prefix: settings.redis_key_prefix.clone(),
    };
    telemetry::init(&settings);

    // Migrations first, as a deployment would (`db migrate`) — whatever the environment.
    let connection = db::connect(&settings)
        .await
        .expect("cannot connect to the test database");
    db::migrate_up(&connection)
        .await
        .expect("migrations failed on a fresh database");
    connection.close().await.ok();

    let application = Application::build_with_routes(settings, extra_routes)
        .await
        .expect("the application failed to build");
    let port = application.port();
    let state = application.state().clone();
    let metrics = application.metrics_addr();
    let server = tokio::spawn(async move {
        let _ = application.run_until(std::future::pending()).await;
    });
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("cannot build the HTTP client"),
        state,
        metrics,
        server,
        redis,
        database,
    }
}

/// A port nothing listens on (bound then released; good enough for "connection refused").
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind port 0");
    listener.local_addr().expect("no local address").port()
}

/// Path of the application binary built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_{{project-name}}")
}

/// The application binary, to run in `dir` with nothing inherited but `PATH`, so a
/// developer's `.env` or shell variables cannot change the outcome. Callers add arguments and
/// the environment the case needs.
pub fn app_command(dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(binary());
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // Binaries run in parallel: each `serve` gets a `/metrics` port of its own.
        .env("METRICS_ADDRESS", "127.0.0.1:0");
    command
}

/// Runs the binary in `dir` with only the given environment (see [`app_command`]).
pub async fn run_binary(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_binary_with_stdin(dir, args, env, "").await
}

/// Like [`run_binary`], feeding `stdin` to the process (for `--password-stdin`).
pub async fn run_binary_with_stdin(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> Output {
    use tokio::io::AsyncWriteExt;

    let mut command = tokio::process::Command::from(app_command(dir));
    let mut child = command
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run the application binary");
    let mut input = child.stdin.take().expect("piped stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("cannot write to the binary's stdin");
    drop(input);
    child
        .wait_with_output()
        .await
        .expect("cannot run the application binary")
}

/// Reads a problem document, checking its content type and that it carries the request id
/// of the response header.
pub async fn problem(response: reqwest::Response) -> serde_json::Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        content_type, "application/problem+json",
        "not a problem document"
    );
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("no X-Request-Id header");
    let body: serde_json::Value = response.json().await.expect("problem body is not JSON");
    assert_eq!(
        body["request_id"],
        header_id.as_str(),
        "body and header ids differ"
    );
    body
}

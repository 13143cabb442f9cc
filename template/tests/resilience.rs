//! Faults and load, against real Postgres and Redis: the database going away mid-run, a burst
//! of logins larger than the hashing slots, and slow or silent clients. Each must end in a
//! 503 with `Retry-After` (the client may retry) or a closed connection, never a 500 or a hang.

mod auth_support;
mod common;

use std::time::{Duration, Instant};

use auth_support::*;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{TestApp, admin_database_url, problem};

/// Runs `statement` on the admin database, retrying while the target still has sessions
/// (the app's pool may be closing them).
async fn admin_execute(statements: &[String]) {
    let admin = Database::connect(&admin_database_url()).await.unwrap();
    let mut last_error = None;
    for _ in 0..20 {
        let mut failed = false;
        for statement in statements {
            if let Err(error) = admin.execute_unprepared(statement).await {
                last_error = Some(error);
                failed = true;
                break;
            }
        }
        if !failed {
            admin.close().await.ok();
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("admin statements failed: {last_error:?}");
}

fn terminate(database: &str) -> String {
    format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
}

/// Takes the app's database away (sessions killed, database renamed) until dropped… or
/// rather until [`Outage::end`], which puts it back.
struct Outage {
    name: String,
    hidden: String,
}

impl Outage {
    async fn start(app: &TestApp) -> Outage {
        let name = app.database.name.clone();
        let hidden = format!("{name}_gone");
        admin_execute(&[
            terminate(&name),
            format!("ALTER DATABASE \"{name}\" RENAME TO \"{hidden}\""),
        ])
        .await;
        Outage { name, hidden }
    }

    async fn end(self) {
        admin_execute(&[format!(
            "ALTER DATABASE \"{}\" RENAME TO \"{}\"",
            self.hidden, self.name
        )])
        .await;
    }
}

async fn assert_unavailable(response: reqwest::Response, dependency: &str, retry_after: &str) {
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.url()
    );
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some(retry_after),
        "503 without Retry-After"
    );
    let body: Value = problem(response).await;
    assert_eq!(body["dependency"], dependency, "{body}");
}

#[tokio::test]
async fn with_postgres_gone_requests_get_503_with_retry_after_then_recover() {
    // The database path: with the user cache on (the default), a cached user's `auth/me` needs
    // no database at all and keeps answering 200 through the outage.
    let app = spawn_auth_app_with(|settings| {
        settings.database_acquire_timeout_ms = 1_000;
        settings.user_cache_capacity = 0;
    })
    .await;
    let (email, tokens) = signed_up(&app).await;
    let (_, admin) = signed_up_admin(&app).await;
    assert_eq!(me(&app, &tokens.access).await, StatusCode::OK);

    let outage = Outage::start(&app).await;
    let started = Instant::now();
    assert_unavailable(
        get_with(&app, "/api/v1/auth/me", &tokens.access).await,
        "database",
        "5",
    )
    .await;
    assert_unavailable(login(&app, &email, PASSWORD).await, "database", "5").await;
    assert_unavailable(
        register(&app, &unique_email(), PASSWORD).await,
        "database",
        "5",
    )
    .await;
    assert_unavailable(
        get_with(&app, "/api/v1/admin/users", &admin.access).await,
        "database",
        "5",
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "four requests took {elapsed:?}: each must fail within the acquire timeout"
    );
    // Liveness does not depend on the database.
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    outage.end().await;
    let mut recovered = false;
    for _ in 0..50 {
        if me(&app, &tokens.access).await == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the app did not recover once the database was back"
    );
    let response = login(&app, &email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_login_burst_beyond_the_hashing_slots_is_shed_with_503_and_retry_after() {
    let app = spawn_auth_app_with(|settings| {
        settings.password_hash_max_concurrent = 1;
        settings.password_hash_queue_timeout_ms = 1;
    })
    .await;
    let email = unique_email();
    assert_eq!(
        register(&app, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let burst = (0..16).map(|_| login(&app, &email, PASSWORD));
    let responses = futures::future::join_all(burst).await;
    let mut shed = 0;
    let mut succeeded = 0;
    for response in responses {
        match response.status() {
            StatusCode::OK => succeeded += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                shed += 1;
                assert_unavailable(response, "password hashing", "1").await;
            }
            other => panic!("a login in the burst answered {other}"),
        }
    }
    assert!(succeeded >= 1, "no login of the burst succeeded");
    assert!(shed >= 1, "one slot and a 1 ms wait shed nothing out of 16");
}

/// Waits for the server to close `stream`: end of file, or a reset.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buffer),
        )
        .await
        {
            Err(_) => return Err(format!("still open after {limit:?}")),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(started.elapsed()),
            // A response (to a complete request): keep reading until the close.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn idle_silent_and_half_header_connections_are_closed_by_their_timeouts() {
    let app = spawn_auth_app_with(|settings| {
        settings.http_header_read_timeout_secs = 1;
        settings.http_keep_alive_timeout_secs = 2;
    })
    .await;
    let address = app.socket_address();
    let mut silent = TcpStream::connect(address).await.unwrap();
    let mut half_header = TcpStream::connect(address).await.unwrap();
    half_header
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let mut kept_alive = TcpStream::connect(address).await.unwrap();
    kept_alive
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    kept_alive.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");

    // While they hang, the server keeps answering others.
    for _ in 0..5 {
        let live = app
            .client
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), StatusCode::OK);
    }

    // Watched at once, so each close is timed from the same start.
    let (silent_closed, half_closed, idle_closed) = tokio::join!(
        closed_within(&mut silent, Duration::from_secs(4)),
        closed_within(&mut half_header, Duration::from_secs(4)),
        closed_within(&mut kept_alive, Duration::from_secs(5)),
    );
    let (silent_closed, half_closed, idle_closed) = (
        silent_closed.unwrap(),
        half_closed.unwrap(),
        idle_closed.unwrap(),
    );
    assert!(
        silent_closed >= Duration::from_millis(500),
        "{silent_closed:?}"
    );
    assert!(half_closed >= Duration::from_millis(500), "{half_closed:?}");
    // The keep-alive connection had 2 s, not the 1 s of a request head.
    assert!(
        idle_closed >= Duration::from_millis(1_500),
        "{idle_closed:?}"
    );
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_slow_ones_time_out() {
    let app = spawn_auth_app_with(|settings| {
        settings.http_header_read_timeout_secs = 1;
        settings.http_max_connections = 4;
    })
    .await;
    let address = app.socket_address();
    let mut hogs = Vec::new();
    for _ in 0..4 {
        hogs.push(TcpStream::connect(address).await.unwrap());
    }
    // Let the server accept all four before the probe connects.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let live = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::get(app.url("/health/live")),
    )
    .await
    .expect("/health/live never answered: the silent connections were never closed")
    .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "answered in {waited:?}: the cap of 4 connections did not hold"
    );
    for mut hog in hogs {
        closed_within(&mut hog, Duration::from_secs(1))
            .await
            .unwrap();
    }
}

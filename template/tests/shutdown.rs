//! Graceful shutdown: once the stop signal arrives, new connections are refused but requests
//! already running finish.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{TestDatabase, test_settings};

// The application crate, in its own group (see tests/common/mod.rs).
use {{crate_name}}::startup::Application;
use {{crate_name}}::state::AppState;

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(800)).await;
    "finished"
}

#[tokio::test]
async fn in_flight_requests_complete_after_the_stop_signal() {
    let database = TestDatabase::create().await;
    let settings = test_settings(&database.url);
    let routes: Router<AppState> = Router::new().route("/test/slow", get(slow));
    let application = Application::build_with_routes(settings, routes)
        .await
        .unwrap();
    let address = format!("http://{}", application.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let in_flight = tokio::spawn(client.get(format!("{address}/test/slow")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();

    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server did not stop after draining")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("{address}/health/live"))
            .await
            .is_err(),
        "still accepting connections after shutdown"
    );
}

#[tokio::test]
async fn a_request_outliving_the_grace_period_does_not_block_shutdown() {
    let database = TestDatabase::create().await;
    let mut settings = test_settings(&database.url);
    settings.shutdown_grace_secs = 0;
    let routes: Router<AppState> = Router::new().route("/test/slow", get(slow));
    let application = Application::build_with_routes(settings, routes)
        .await
        .unwrap();
    let address = format!("http://{}", application.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    let in_flight = tokio::spawn(reqwest::get(format!("{address}/test/slow")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_millis(500), server)
        .await
        .expect("shutdown waited for a request beyond the grace period")
        .unwrap()
        .unwrap();
    drop(in_flight);
}

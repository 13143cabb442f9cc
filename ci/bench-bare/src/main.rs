//! `GET /health/live` answering `{"status":"ok"}` with nothing else: no middleware, the
//! default `axum::serve` loop, the multi-threaded runtime. Listens on 127.0.0.1:$PORT.

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde::Serialize;

#[derive(Serialize)]
struct Liveness {
    status: &'static str,
}

async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "0".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, Router::new().route("/health/live", get(live))).await
}

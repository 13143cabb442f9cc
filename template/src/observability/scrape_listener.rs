//! The `/metrics` listener: apart from the API (`METRICS_ADDRESS`, loopback by default), so a
//! reverse proxy in front of the API never exposes it, and behind a bearer token when
//! `METRICS_TOKEN` is set (the production guard requires one on a non-loopback address).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::recorder;
use crate::error::Problem;

/// Prometheus text exposition format, version 0.0.4.
const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct ScrapeState {
    handle: PrometheusHandle,
    db: DatabaseConnection,
    /// SHA-256 of the token: compared in constant time whatever the presented length.
    token_digest: Option<Arc<[u8; 32]>>,
}

/// The router served on `METRICS_ADDRESS`: `GET /metrics`, everything else 404.
pub fn router(
    handle: PrometheusHandle,
    db: DatabaseConnection,
    token: Option<&SecretString>,
) -> Router {
    let state = ScrapeState {
        handle,
        db,
        token_digest: token.map(|token| Arc::new(digest(token.expose_secret().as_bytes()))),
    };
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(not_found)
        .with_state(state)
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

async fn scrape(State(state): State<ScrapeState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.token_digest
        && !presents_token(&headers, expected)
    {
        let mut response = Problem::new(StatusCode::UNAUTHORIZED)
            .with_detail("/metrics needs `Authorization: Bearer <METRICS_TOKEN>`")
            .into_response();
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let body = recorder::render(&state.handle, &state.db);
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(EXPOSITION_CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}

fn presents_token(headers: &HeaderMap, expected: &[u8; 32]) -> bool {
    let Some(presented) = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    let presented = digest(presented.as_bytes());
    // Equal-length digests, every byte compared: no early exit to time.
    presented
        .iter()
        .zip(expected.iter())
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND).with_detail("this listener serves GET /metrics only")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let expected = digest(b"right-token");
        assert!(presents_token(
            &with_authorization("Bearer right-token"),
            &expected
        ));
        assert!(presents_token(
            &with_authorization("bearer right-token"),
            &expected
        ));
        assert!(!presents_token(
            &with_authorization("Bearer wrong-token"),
            &expected
        ));
        assert!(!presents_token(
            &with_authorization("Basic right-token"),
            &expected
        ));
        assert!(!presents_token(
            &with_authorization("right-token"),
            &expected
        ));
        assert!(!presents_token(&HeaderMap::new(), &expected));
    }
}

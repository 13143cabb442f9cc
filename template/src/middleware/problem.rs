//! Turns every error response that is not already a problem document (axum's 404 and 405,
//! tower-http's 408/413/503, a rate limiter's 429…) into one, keeping its status and headers
//! (`Allow`, `Retry-After`). This is what guarantees clients never see a plain-text or empty
//! error body, whichever layer produced it.

use std::any::Any;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{DEFAULT_RETRY_AFTER_SECS, PROBLEM_CONTENT_TYPE, Problem};

pub async fn normalize_error_responses(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(response.headers()) {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let problem = Problem::new(status).with_detail(default_detail(status));
    let rebuilt = problem.into_response();
    // Keep the original headers (Allow, Retry-After, CORS…) but describe the new body.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    let (problem_parts, body) = rebuilt.into_parts();
    for (name, value) in problem_parts.headers.iter() {
        parts.headers.insert(name.clone(), value.clone());
    }
    // A 503 (request timeout) always says when to come back.
    if status == StatusCode::SERVICE_UNAVAILABLE && !parts.headers.contains_key(header::RETRY_AFTER)
    {
        parts.headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(DEFAULT_RETRY_AFTER_SECS),
        );
    }
    Response::from_parts(parts, body)
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_CONTENT_TYPE))
}

fn default_detail(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "no route matches this path",
        StatusCode::METHOD_NOT_ALLOWED => "this route does not accept this method",
        StatusCode::PAYLOAD_TOO_LARGE => "the request body exceeds the configured limit",
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
            "the server could not answer in time; retry later"
        }
        StatusCode::TOO_MANY_REQUESTS => "too many requests; retry after the delay given",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported content type",
        _ => "the request could not be processed",
    }
}

/// Answer for a panicking handler: a bare 500 problem. The panic message goes to the log
/// only, since it may name internals.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    tracing::error!(panic = message, "handler panicked");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_detail("an unexpected error occurred")
        .into_response()
}

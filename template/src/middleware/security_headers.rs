//! Security headers on every response. A handler that needs a different value (the docs page
//! and its CSP) sets the header itself: values already present are kept.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// API responses are JSON: nothing may be loaded, framed or sniffed from them.
pub const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

const BASELINE: [(HeaderName, &str); 7] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CONTENT_SECURITY_POLICY, API_CONTENT_SECURITY_POLICY),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        HeaderName::from_static("permissions-policy"),
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), \
         microphone=(), payment=(), usb=()",
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
];

/// Strict-Transport-Security: two years, subdomains included. Sent outside dev only, where
/// TLS terminates in front of the app (HSTS on plain-HTTP localhost would only get in the way).
const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

#[derive(Debug, Clone, Copy)]
pub struct SecurityHeadersConfig {
    pub strict_transport_security: bool,
}

pub async fn set_security_headers(
    State(config): State<SecurityHeadersConfig>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in BASELINE {
        insert_if_absent(headers, name, value);
    }
    if config.strict_transport_security {
        insert_if_absent(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            STRICT_TRANSPORT_SECURITY,
        );
    }
    response
}

fn insert_if_absent(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

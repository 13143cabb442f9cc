//! CORS from an explicit allow-list (`CORS_ALLOWED_ORIGINS`). No list, no CORS headers: the
//! API then serves same-origin callers and non-browser clients only.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Settings;
use crate::middleware::request_id::REQUEST_ID_HEADER;

#[derive(Debug, thiserror::Error)]
#[error(
    "CORS_ALLOWED_ORIGINS: `{origin}` is not an origin (expected scheme://host[:port], e.g. https://app.example.com)"
)]
pub struct InvalidOrigin {
    pub origin: String,
}

/// The CORS layer for these settings, or None when no origin is allowed.
pub fn layer(settings: &Settings) -> Result<Option<CorsLayer>, InvalidOrigin> {
    let origins = &settings.cors_allowed_origins;
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        // Credentials with `*` are refused when the settings load, so this never pairs them.
        AllowOrigin::any()
    } else {
        let parsed = origins
            .iter()
            .map(|origin| parse_origin(origin))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(parsed)
    };
    let layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID_HEADER,
        ])
        .expose_headers([
            REQUEST_ID_HEADER,
            header::RETRY_AFTER,
            HeaderName::from_static("location"),
        ])
        .allow_credentials(settings.cors_allow_credentials)
        .max_age(Duration::from_secs(600));
    Ok(Some(layer))
}

fn parse_origin(origin: &str) -> Result<HeaderValue, InvalidOrigin> {
    let invalid = || InvalidOrigin {
        origin: origin.to_owned(),
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let well_formed = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !well_formed {
        return Err(invalid());
    }
    HeaderValue::from_str(origin).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_must_be_scheme_host_port() {
        assert!(parse_origin("https://app.example.com").is_ok());
        assert!(parse_origin("http://localhost:3000").is_ok());
        assert!(parse_origin("app.example.com").is_err());
        assert!(parse_origin("https://app.example.com/path").is_err());
        assert!(parse_origin("https://").is_err());
    }
}

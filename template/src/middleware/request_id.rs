//! Request ids: accept a sane `X-Request-Id` from the caller (so one id follows a request
//! across services) or generate a UUID; make it available to handlers, the trace span and
//! every error body; echo it in the response.
//!
//! Hand-written rather than tower-http's `SetRequestId`: that layer trusts any incoming value,
//! while we must refuse log-injection material, and error bodies built deep inside other
//! layers need the id through a task-local.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a caller.
const MAX_INCOMING_LEN: usize = 128;

/// The id of the request being served, as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

tokio::task_local! {
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request whose task is running, if any (None outside a request).
pub fn current() -> Option<String> {
    CURRENT_REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accepts ids made of letters, digits and `-_.:` (UUIDs, ULIDs, trace ids), 1 to 128 long.
pub fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_INCOMING_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_acceptable(value))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    request.extensions_mut().insert(RequestId(id.clone()));
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID_HEADER, value);
    }

    let mut response = CURRENT_REQUEST_ID
        .scope(id.clone(), next.run(request))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_acceptable;

    #[test]
    fn accepts_common_id_formats() {
        assert!(is_acceptable("3f1c8a52-6d7e-4b8f-9a0b-1c2d3e4f5a6b"));
        assert!(is_acceptable("01HZX3K5Q7R9T1V3W5Y7Z9A1B3"));
        assert!(is_acceptable("trace:abc.def_1"));
    }

    #[test]
    fn refuses_injection_material_and_oversized_ids() {
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("abc\ndef"));
        assert!(!is_acceptable("a b"));
        assert!(!is_acceptable("<script>"));
        assert!(!is_acceptable(&"a".repeat(129)));
    }
}

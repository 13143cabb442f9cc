//! The one error model: every error response is an RFC 9457 problem document
//! (`application/problem+json`) carrying the request id.
//!
//! Handlers return `Result<_, AppError>`; middleware turns anything else that is an error
//! (unknown route, timeout, body too large, panic) into the same shape
//! (see `middleware::problem`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error_chain::Chain;
use crate::middleware::request_id;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field in the body, e.g. `email` or `items[2].quantity`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// RFC 9457 problem details, plus the request id and, for validation errors, the fields.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI identifying the problem type; `about:blank` means "see the status code".
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Identifier of the request, also in the `X-Request-Id` response header and the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extra members specific to one problem (e.g. the readiness checks).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Problem {
    /// A problem for `status` with its standard title, tagged with the current request id.
    pub fn new(status: StatusCode) -> Self {
        Problem {
            problem_type: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: None,
            request_id: request_id::current(),
            errors: Vec::new(),
            extensions: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extensions
            .get_or_insert_with(serde_json::Map::new)
            .insert(key.to_owned(), value);
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        response
    }
}

/// Errors a handler can return. Each variant maps to one status; internal details are logged,
/// never sent.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request body: {0}")]
    MalformedBody(String),
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: Option<u64> },
    #[error("service unavailable: {0}")]
    ServiceUnavailable(String),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    #[error("store error")]
    Store(#[from] crate::store::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::ServiceUnavailable(_) | AppError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document sent to the client: details only where they help the caller and
    /// reveal nothing about the server.
    pub fn to_problem(&self) -> Problem {
        let problem = Problem::new(self.status());
        match self {
            AppError::MalformedBody(detail)
            | AppError::UnsupportedMediaType(detail)
            | AppError::Conflict(detail) => problem.with_detail(detail.clone()),
            AppError::Validation(errors) => problem
                .with_detail("the request body is well-formed but some fields are invalid")
                .with_errors(errors.clone()),
            AppError::PayloadTooLarge => {
                problem.with_detail("the request body exceeds the configured limit")
            }
            AppError::ServiceUnavailable(detail) => problem.with_detail(detail.clone()),
            AppError::Store(_) => problem.with_detail("a backing service is unavailable"),
            _ => problem,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Database(_) | AppError::Internal(_) | AppError::Store(_) => {
                tracing::error!(error = %Chain(&self), "request failed");
            }
            _ => tracing::debug!(error = %Chain(&self), "request rejected"),
        }
        let mut response = self.to_problem().into_response();
        if let AppError::TooManyRequests {
            retry_after_secs: Some(secs),
        } = self
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = AppError::Internal("connection string postgres://secret@db".to_owned());
        let body = serde_json::to_string(&error.to_problem()).unwrap();
        assert!(!body.contains("postgres://"), "{body}");
        assert!(body.contains("\"status\":500"), "{body}");
    }

    #[test]
    fn validation_problem_lists_fields() {
        let error = AppError::Validation(vec![FieldError {
            field: "email".to_owned(),
            message: "must be an email address".to_owned(),
        }]);
        let body = serde_json::to_value(error.to_problem()).unwrap();
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"][0]["field"], "email");
    }

    #[test]
    fn problem_response_has_problem_content_type() {
        let response = Problem::new(StatusCode::NOT_FOUND).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            PROBLEM_CONTENT_TYPE
        );
    }
}

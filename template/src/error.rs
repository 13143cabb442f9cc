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
    /// OpenTelemetry trace id of the request, when traces are exported (find it in the
    /// collector, and in the logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
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
            trace_id: crate::observability::traces::current_trace_id(),
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

/// A backing service a request needed and could not use right now. The client gets 503, a
/// `Retry-After` and the dependency's name (`dependency` in the problem body); nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database,
    KeyValueStore,
    /// Every password hashing slot stayed busy for the queue timeout (a burst of logins).
    PasswordHashing,
{%- if storage %}
    /// The object store (`STORAGE_URL`) failed a read or a write.
    ObjectStorage,
    /// clamd (`CLAMD_ADDRESS`) could not scan an upload: uploads fail closed.
    Antivirus,
{%- endif %}
}

impl Dependency {
    pub fn name(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::KeyValueStore => "key-value store",
            Dependency::PasswordHashing => "password hashing",
{%- if storage %}
            Dependency::ObjectStorage => "object storage",
            Dependency::Antivirus => "antivirus",
{%- endif %}
        }
    }

    /// A reconnect takes seconds; a hashing slot frees up in milliseconds.
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Dependency::Database | Dependency::KeyValueStore => 5,
{%- if storage %}
            Dependency::ObjectStorage | Dependency::Antivirus => 5,
{%- endif %}
            Dependency::PasswordHashing => 1,
        }
    }
}

/// `Retry-After` of a 503 that names no dependency (request timeout, shutdown…).
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// Whether a database error means "the database cannot be reached now" (pool exhausted,
/// connection refused or lost, database missing) rather than a bad query: the former is a 503
/// the client may retry, the latter a bug (500).
pub fn database_unavailable(error: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match error {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    match runtime {
        RuntimeErr::SqlxError(sqlx_error) => sqlx_unavailable(sqlx_error),
        _ => false,
    }
}

fn sqlx_unavailable(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed
        | Error::Protocol(_) => true,
        // SQLSTATE classes 08 (connection exception) and 57P (operator intervention: admin
        // shutdown, crash shutdown, cannot connect now, database dropped), 3D000 (the database
        // does not exist: renamed or dropped under us).
        Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "3D000"
        }),
        _ => false,
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
    #[error("{} unavailable", .0.name())]
    Unavailable(Dependency),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    #[error("store error")]
    Store(#[from] crate::store::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The dependency whose outage this error is, if it is one.
    pub fn unavailable_dependency(&self) -> Option<Dependency> {
        match self {
            AppError::Unavailable(dependency) => Some(*dependency),
            AppError::Store(_) => Some(Dependency::KeyValueStore),
            AppError::Database(error) if database_unavailable(error) => Some(Dependency::Database),
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        if self.unavailable_dependency().is_some() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
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
            AppError::ServiceUnavailable(_) | AppError::Store(_) | AppError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document sent to the client: details only where they help the caller and
    /// reveal nothing about the server.
    pub fn to_problem(&self) -> Problem {
        let problem = Problem::new(self.status());
        if let Some(dependency) = self.unavailable_dependency() {
            return problem
                .with_detail(format!(
                    "the {} is unavailable; retry later",
                    dependency.name()
                ))
                .with_extension("dependency", serde_json::Value::from(dependency.name()));
        }
        match self {
            AppError::MalformedBody(detail)
            | AppError::UnsupportedMediaType(detail)
            | AppError::Conflict(detail) => problem.with_detail(detail.clone()),
            AppError::Validation(errors) => problem
                .with_detail("some fields of the request are invalid")
                .with_errors(errors.clone()),
            AppError::PayloadTooLarge => {
                problem.with_detail("the request body exceeds the configured limit")
            }
            AppError::ServiceUnavailable(detail) => problem.with_detail(detail.clone()),
            _ => problem,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let dependency = self.unavailable_dependency();
        if matches!(
            self,
            AppError::Database(sea_orm::DbErr::ConnectionAcquire(
                sea_orm::ConnAcquireErr::Timeout
            ))
        ) {
            crate::observability::names::count_pool_acquire_timeout();
        }
        match (&self, dependency) {
            (_, Some(Dependency::PasswordHashing)) => {
                tracing::warn!(error = %Chain(&self), "request shed");
            }
            (_, Some(_)) => tracing::error!(error = %Chain(&self), "dependency unavailable"),
            (AppError::Database(_) | AppError::Internal(_), None) => {
                tracing::error!(error = %Chain(&self), "request failed");
            }
            _ => tracing::debug!(error = %Chain(&self), "request rejected"),
        }
        let mut response = self.to_problem().into_response();
        let retry_after = match (&self, dependency) {
            (_, Some(dependency)) => Some(dependency.retry_after_secs()),
            (AppError::ServiceUnavailable(_), None) => Some(DEFAULT_RETRY_AFTER_SECS),
            (AppError::TooManyRequests { retry_after_secs }, None) => *retry_after_secs,
            _ => None,
        };
        if let Some(secs) = retry_after
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
    fn an_unreachable_database_is_a_503_naming_it_and_a_bad_query_a_500() {
        let unreachable = AppError::Database(sea_orm::DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout,
        ));
        assert_eq!(unreachable.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = unreachable.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let bug = AppError::Database(sea_orm::DbErr::Custom("syntax error".to_owned()));
        assert_eq!(bug.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_saturated_hasher_is_a_503_with_a_short_retry_after() {
        let shed = AppError::Unavailable(Dependency::PasswordHashing);
        let body = serde_json::to_value(shed.to_problem()).unwrap();
        assert_eq!(body["dependency"], "password hashing");
        let response = shed.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
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

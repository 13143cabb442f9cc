//! What every resource handler shares: [`ResourceError`] (the application errors plus the
//! conditional-request ones, 412 and 428), `ETag` / `If-Match` handling, and [`Viewer`] — the
//! caller of a public route, authenticated when a token is sent.
//!
//! Concurrency rule: a change (`PATCH`) must carry `If-Match` with the current `ETag`, or it is
//! refused with 428, so no client overwrites a version it never saw; a `DELETE` may omit it
//! (the caller means "whatever it is now") and is refused with 412 when it sends a stale one.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::ADMIN_ROLE;
use crate::auth::error::AuthError;
use crate::auth::extractor::{CurrentUser, authenticate};
use crate::error::{AppError, Problem};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// `If-Match` names a version that is no longer the current one.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A change was sent without `If-Match`.
    #[error("precondition required")]
    PreconditionRequired,
}

impl From<sea_orm::DbErr> for ResourceError {
    fn from(error: sea_orm::DbErr) -> Self {
        ResourceError::App(AppError::Database(error))
    }
}

impl IntoResponse for ResourceError {
    fn into_response(self) -> Response {
        match self {
            ResourceError::App(error) => error.into_response(),
            ResourceError::Auth(error) => error.into_response(),
            ResourceError::PreconditionFailed => Problem::new(StatusCode::PRECONDITION_FAILED)
                .with_detail(
                    "the resource changed since the version named in If-Match: \
                     fetch it again and retry",
                )
                .into_response(),
            ResourceError::PreconditionRequired => Problem::new(StatusCode::PRECONDITION_REQUIRED)
                .with_detail("send If-Match with the ETag of the version you are changing")
                .into_response(),
        }
    }
}

/// The strong `ETag` of a row's version.
pub fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Adds the `ETag` header to a response.
pub fn with_etag(version: i32, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(ETAG, etag(version));
    response
}

/// What `If-Match` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    Absent,
    /// `*`: any current version.
    Any,
    Tags(Vec<String>),
}

impl IfMatch {
    pub fn from_headers(headers: &HeaderMap) -> IfMatch {
        let mut tags = Vec::new();
        let mut present = false;
        for value in headers.get_all(IF_MATCH) {
            present = true;
            // An unreadable header matches nothing: the change is refused, never let through.
            let Ok(value) = value.to_str() else { continue };
            for tag in value
                .split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
            {
                if tag == "*" {
                    return IfMatch::Any;
                }
                tags.push(tag.to_owned());
            }
        }
        if present {
            IfMatch::Tags(tags)
        } else {
            IfMatch::Absent
        }
    }

    /// Strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
    pub fn matches(&self, version: i32) -> bool {
        let current = format!("\"{version}\"");
        match self {
            IfMatch::Absent | IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.contains(&current),
        }
    }

    /// For changes: `If-Match` must be sent and name the current version.
    pub fn require(&self, version: i32) -> Result<(), ResourceError> {
        match self {
            IfMatch::Absent => Err(ResourceError::PreconditionRequired),
            _ => self.check(version),
        }
    }

    /// For deletes: `If-Match` is optional, but a stale one is refused.
    pub fn check(&self, version: i32) -> Result<(), ResourceError> {
        if self.matches(version) {
            Ok(())
        } else {
            Err(ResourceError::PreconditionFailed)
        }
    }
}

/// The caller of a public route: anonymous, or the user of the bearer token it sent (an invalid
/// token is refused with 401 rather than silently read as anonymous).
#[derive(Clone, Debug, Default)]
pub struct Viewer(pub Option<CurrentUser>);

impl Viewer {
    pub fn user(&self) -> Option<&CurrentUser> {
        self.0.as_ref()
    }
}

/// Whether the user holds the admin role.
pub fn is_admin(user: &CurrentUser) -> bool {
    user.roles.iter().any(|role| role == ADMIN_ROLE)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(Viewer(None));
        }
        let user = authenticate(state, &parts.headers).await?;
        Ok(Viewer(Some(user)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_match(values: &[&'static str]) -> IfMatch {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(IF_MATCH, HeaderValue::from_static(value));
        }
        IfMatch::from_headers(&headers)
    }

    #[test]
    fn if_match_compares_strongly() {
        assert!(if_match(&["\"3\""]).matches(3));
        assert!(if_match(&["\"1\", \"3\""]).matches(3));
        assert!(if_match(&["\"1\"", "\"3\""]).matches(3));
        assert!(if_match(&["*"]).matches(9));
        assert!(!if_match(&["W/\"3\""]).matches(3));
        assert!(!if_match(&["\"2\""]).matches(3));
        assert!(!if_match(&[""]).matches(3));
    }

    #[test]
    fn changes_need_if_match_and_deletes_do_not() {
        let absent = if_match(&[]);
        assert!(matches!(
            absent.require(1),
            Err(ResourceError::PreconditionRequired)
        ));
        assert!(absent.check(1).is_ok());
        assert!(matches!(
            if_match(&["\"1\""]).check(2),
            Err(ResourceError::PreconditionFailed)
        ));
    }
}

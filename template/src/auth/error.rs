//! Errors of the auth endpoints and gates, rendered through the application's problem model.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::jwt::SigningError;
use crate::auth::password::{PasswordHashError, PasswordPolicyViolation};
use crate::auth::rbac::RbacError;
use crate::error::{AppError, Dependency, FieldError, Problem};
use crate::error_chain::Chain;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    #[error("no bearer token")]
    MissingToken,
    /// Malformed, badly signed, expired, never issued, revoked, or its user is gone/inactive.
    /// One answer for all of them: the client can only get a new token.
    #[error("invalid or expired token")]
    InvalidToken,
    /// Wrong email or password — the same answer whether or not the account exists.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("missing, invalid or already used refresh token")]
    InvalidRefreshToken,
    #[error("the password breaks the `{}` rule", .violation.rule)]
    WeakPassword {
        field: &'static str,
        violation: PasswordPolicyViolation,
    },
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("not allowed")]
    Forbidden,
    #[error("too many attempts")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    App(#[from] AppError),
    /// Email verification, password reset and MFA (`account_error.rs`).
    #[error(transparent)]
    Account(#[from] crate::auth::account_error::AccountError),
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        AuthError::App(AppError::Store(error))
    }
}

impl From<sea_orm::DbErr> for AuthError {
    fn from(error: sea_orm::DbErr) -> Self {
        AuthError::App(AppError::Database(error))
    }
}

impl From<PasswordHashError> for AuthError {
    fn from(error: PasswordHashError) -> Self {
        match error {
            PasswordHashError::Busy => {
                AuthError::App(AppError::Unavailable(Dependency::PasswordHashing))
            }
            error => AuthError::App(AppError::Internal(Chain(&error).to_string())),
        }
    }
}

impl From<SigningError> for AuthError {
    fn from(error: SigningError) -> Self {
        AuthError::App(AppError::Internal(Chain(&error).to_string()))
    }
}

impl From<RbacError> for AuthError {
    fn from(error: RbacError) -> Self {
        match error {
            RbacError::Database(error) => AuthError::App(AppError::Database(error)),
            RbacError::Casbin(error) => {
                AuthError::App(AppError::Internal(Chain(&error).to_string()))
            }
        }
    }
}

fn unauthorized(detail: &str, challenge: &'static str) -> Response {
    let mut response = Problem::new(StatusCode::UNAUTHORIZED)
        .with_detail(detail)
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            AuthError::MissingToken => unauthorized(
                "this route needs an access token: `Authorization: Bearer <token>`",
                "Bearer",
            ),
            AuthError::InvalidToken => unauthorized(
                "the access token is invalid, expired or revoked",
                r#"Bearer error="invalid_token""#,
            ),
            AuthError::InvalidCredentials => unauthorized("invalid email or password", "Bearer"),
            AuthError::InvalidRefreshToken => unauthorized(
                "the refresh token is missing, invalid, expired or already used: log in again",
                "Bearer",
            ),
            AuthError::WeakPassword { field, violation } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .with_detail(format!("the password breaks the `{}` rule", violation.rule))
                    .with_errors(vec![FieldError {
                        field: field.to_owned(),
                        message: violation.message,
                    }])
                    .with_extension("rule", serde_json::Value::from(violation.rule))
                    .with_extension(
                        "suggestions",
                        serde_json::Value::from(violation.suggestions),
                    )
                    .into_response()
            }
            AuthError::WrongCurrentPassword => Problem::new(StatusCode::FORBIDDEN)
                .with_detail("the current password is wrong")
                .into_response(),
            AuthError::Forbidden => Problem::new(StatusCode::FORBIDDEN)
                .with_detail("your roles do not allow this operation")
                .into_response(),
            AuthError::Throttled { retry_after_secs } => AppError::TooManyRequests {
                retry_after_secs: Some(retry_after_secs),
            }
            .into_response(),
            AuthError::App(error) => error.into_response(),
            AuthError::Account(error) => error.into_response(),
        }
    }
}

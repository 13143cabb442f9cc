//! Problems of the account flows (email verification, password reset, MFA), each with its own
//! problem `type` so clients can branch on it without parsing text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Problem;

/// Problem types (RFC 9457 `type`), stable identifiers documented in the README.
pub const EMAIL_NOT_VERIFIED: &str = "urn:problem-type:email-not-verified";
pub const INVALID_LINK_TOKEN: &str = "urn:problem-type:invalid-link-token";
pub const MFA_REQUIRED: &str = "urn:problem-type:mfa-required";
pub const INVALID_MFA_TICKET: &str = "urn:problem-type:invalid-mfa-ticket";
pub const INVALID_MFA_CODE: &str = "urn:problem-type:invalid-mfa-code";
pub const MFA_STATE: &str = "urn:problem-type:mfa-state";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The password was right but `REQUIRE_VERIFIED_EMAIL` is on and the address unverified.
    #[error("the email address is not verified")]
    EmailNotVerified,
    /// Unknown, malformed, expired or already used verification / reset token.
    #[error("invalid, expired or already used link")]
    InvalidLinkToken,
    /// The password was right; a second factor is needed: no tokens yet, only a ticket.
    #[error("a second factor is required")]
    MfaRequired { ticket: String, expires_in: u64 },
    /// Unknown, expired, spent or exhausted MFA ticket.
    #[error("invalid or expired MFA ticket")]
    InvalidMfaTicket,
    /// Wrong, reused or expired code (TOTP or recovery).
    #[error("wrong or already used code")]
    InvalidMfaCode,
    /// The operation does not fit the account's MFA state (not enrolled, already on…).
    #[error("{0}")]
    MfaState(&'static str),
}

fn typed(status: StatusCode, problem_type: &str, detail: &str) -> Problem {
    let mut problem = Problem::new(status).with_detail(detail);
    problem.problem_type = problem_type.to_owned();
    problem
}

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        match self {
            AccountError::EmailNotVerified => typed(
                StatusCode::FORBIDDEN,
                EMAIL_NOT_VERIFIED,
                "confirm your email address first: follow the link we sent \
                 (POST auth/verify-email/resend sends another)",
            )
            .into_response(),
            AccountError::InvalidLinkToken => typed(
                StatusCode::BAD_REQUEST,
                INVALID_LINK_TOKEN,
                "the link is invalid, expired or already used: ask for a new one",
            )
            .into_response(),
            AccountError::MfaRequired { ticket, expires_in } => {
                let mut response = typed(
                    StatusCode::UNAUTHORIZED,
                    MFA_REQUIRED,
                    "password accepted; send a code from the authenticator app (or a recovery \
                     code) with this ticket to POST auth/mfa/verify",
                )
                .with_extension("mfa_required", true.into())
                .with_extension("mfa_ticket", ticket.into())
                .with_extension("expires_in", expires_in.into())
                .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="mfa_required""#),
                );
                response
            }
            AccountError::InvalidMfaTicket => typed(
                StatusCode::UNAUTHORIZED,
                INVALID_MFA_TICKET,
                "the MFA ticket is invalid, expired or used up: log in again",
            )
            .into_response(),
            AccountError::InvalidMfaCode => typed(
                StatusCode::UNAUTHORIZED,
                INVALID_MFA_CODE,
                "the code is wrong, expired or already used",
            )
            .into_response(),
            AccountError::MfaState(detail) => {
                typed(StatusCode::CONFLICT, MFA_STATE, detail).into_response()
            }
        }
    }
}

//! Email verification: registration mails a link carrying a single-use token
//! (`{PUBLIC_URL}/verify-email#token=…`; the fragment never reaches a server log); the page
//! posts the token to `POST auth/verify-email`. `POST auth/verify-email/resend` sends a new
//! link, at most `EMAIL_VERIFICATION_RESEND_PER_HOUR` times an hour per address, and answers
//! the same whether or not the address has an account. With `REQUIRE_VERIFIED_EMAIL` on, login
//! refuses unverified accounts (`urn:problem-type:email-not-verified`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;
use validator::Validate;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::account_error::AccountError;
use crate::auth::error::AuthError;
use crate::auth::mail_tokens::{Purpose, sha256_hex};
use crate::auth::normalize_email;
use crate::entities::users;
use crate::error::{AppError, FieldError, Problem};
use crate::extract::ValidatedJson;
use crate::mail::templates::Template;
use crate::state::AppState;

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Public, routes!(verify_email))
        .route(Access::Public, routes!(resend_verification))
}

/// A token from a mail link. `Debug` never prints it.
#[derive(Deserialize, Validate, ToSchema)]
pub struct LinkToken {
    /// The `token` of the link (43 characters).
    #[validate(length(min = 1, max = 256, message = "must be the token of the link"))]
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    pub token: String,
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkToken").finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct EmailAddress {
    #[schema(example = "ana@example.com", format = Email, max_length = 254)]
    pub email: String,
}

impl EmailAddress {
    /// The normalised address, or 422: nothing malformed reaches the store keys or the
    /// database (which rejects NUL bytes with an error).
    pub fn normalized(&self) -> Result<String, AuthError> {
        normalize_email(&self.email).map_err(|message| {
            AuthError::App(AppError::Validation(vec![FieldError {
                field: "email".to_owned(),
                message: message.to_owned(),
            }]))
        })
    }
}

/// The same answer whatever happened, so it tells nothing about which addresses have accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "accepted")]
    pub status: &'static str,
    pub detail: &'static str,
}

/// Mails a verification link to `user` (in the background), unless verification is off or the
/// address is already verified.
pub async fn send_link(state: &AppState, user: &users::Model) -> Result<(), AuthError> {
    let settings = &state.settings;
    if !settings.email_verification || user.email_verified_at.is_some() {
        return Ok(());
    }
    let ttl = Duration::from_secs(settings.email_verification_ttl_secs);
    let token = state
        .auth
        .mail_tokens
        .issue(Purpose::VerifyEmail, user.id, &user.email, ttl)
        .await?;
    let link = format!("{}/verify-email#token={token}", settings.public_url);
    let mail = Template::VerifyEmail.render(&user.email, &link, ttl.as_secs().div_ceil(60));
    state.auth.mail.send(mail);
    tracing::info!(user_id = %user.id, "verification link sent");
    Ok(())
}

/// Verify an email address
///
/// Spends the token of a verification link: the account's address counts as verified from now
/// on. A token works once, expires after `EMAIL_VERIFICATION_TTL_SECS`, and only for the
/// address it was sent to.
#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "auth",
    request_body = LinkToken,
    responses(
        (status = 204, description = "Address verified"),
        (status = 400, description = "Unknown, malformed, expired or already used token (`urn:problem-type:invalid-link-token`)", body = Problem),
        (status = 422, description = "Missing token", body = Problem),
        (status = 429, description = "Too many requests", body = Problem),
    )
)]
async fn verify_email(
    State(state): State<AppState>,
    audit: AuditContext,
    ValidatedJson(request): ValidatedJson<LinkToken>,
) -> Result<StatusCode, AuthError> {
    let grant = state
        .auth
        .mail_tokens
        .consume(Purpose::VerifyEmail, &request.token)
        .await?
        .ok_or(AccountError::InvalidLinkToken)?;
    let user = users::Entity::find_by_id(grant.user_id)
        .one(&state.db)
        .await?
        .filter(|user| user.email == grant.binding)
        .ok_or(AccountError::InvalidLinkToken)?;
    if user.email_verified_at.is_none() {
        let user_id = user.id;
        let mut account: users::ActiveModel = user.into();
        account.email_verified_at = Set(Some(Utc::now()));
        account.updated_at = Set(Utc::now());
        let transaction = state.db.begin().await?;
        account.update(&transaction).await?;
        audit
            .record(
                &transaction,
                AuditEvent::new(AuditAction::EmailVerified)
                    .by(user_id)
                    .on("user", user_id)
                    .fields(&["email_verified_at"]),
            )
            .await?;
        transaction.commit().await?;
        tracing::info!(%user_id, "email verified");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Send a new verification link
///
/// Always answers 202 with the same body; a link is mailed only when the address belongs to an
/// unverified account, at most `EMAIL_VERIFICATION_RESEND_PER_HOUR` times an hour.
#[utoipa::path(
    post,
    path = "/auth/verify-email/resend",
    tag = "auth",
    request_body = EmailAddress,
    responses(
        (status = 202, description = "Accepted (whether or not a mail was sent)", body = Accepted),
        (status = 422, description = "Missing or malformed email", body = Problem),
        (status = 429, description = "Too many requests", body = Problem),
    )
)]
async fn resend_verification(
    State(state): State<AppState>,
    ValidatedJson(request): ValidatedJson<EmailAddress>,
) -> Result<(StatusCode, Json<Accepted>), AuthError> {
    let email = request.normalized()?;
    let sent_this_hour = state
        .kv
        .increment_with_ttl(
            &format!("auth:verification-resend:{}", sha256_hex(&email)),
            Duration::from_secs(3600),
        )
        .await?;
    if sent_this_hour <= state.settings.email_verification_resend_per_hour {
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&state.db)
            .await?
            .filter(|user| user.is_active);
        if let Some(user) = user {
            send_link(&state, &user).await?;
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "accepted",
            detail: "if this address has an unverified account, a new link is on its way",
        }),
    ))
}

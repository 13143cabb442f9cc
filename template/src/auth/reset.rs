//! Password reset by mail.
//!
//! `POST auth/password-reset` answers 202 with one body, known address or not, and does the
//! same store and database work on both paths (the mail leaves in the background), so neither
//! the answer nor its timing tells whether an account exists. At most
//! [`RESETS_PER_ADDRESS_PER_HOUR`] links per address an hour.
//!
//! `POST auth/password-reset/confirm` takes the link's token and a new password: the password
//! policy applies, the token works once, expires after `PASSWORD_RESET_TTL_SECS` (≤ 1 h) and
//! dies as soon as the password changes by any means (it is bound to the password hash it was
//! issued for). Success ends every session of the account and marks its address verified (the
//! link proved the owner reads that mailbox).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;
use validator::Validate;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::account_error::AccountError;
use crate::auth::error::AuthError;
use crate::auth::mail_tokens::{Purpose, sha256_hex};
use crate::auth::verification::{Accepted, EmailAddress};
use crate::entities::users;
use crate::error::Problem;
use crate::extract::ValidatedJson;
use crate::mail::templates::Template;
use crate::state::AppState;

/// Reset links one address may receive per hour.
pub const RESETS_PER_ADDRESS_PER_HOUR: u64 = 3;

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Public, routes!(request_reset))
        .route(Access::Public, routes!(confirm_reset))
}

#[derive(Deserialize, Validate, ToSchema)]
pub struct ResetConfirmation {
    /// The `token` of the reset link (43 characters).
    #[validate(length(min = 1, max = 256, message = "must be the token of the link"))]
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    pub token: String,
    #[schema(format = Password)]
    pub new_password: String,
}

impl std::fmt::Debug for ResetConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetConfirmation").finish_non_exhaustive()
    }
}

/// Ties a reset token to the password it replaces: once that changes, the token is void.
fn password_fingerprint(password_hash: &str) -> String {
    sha256_hex(password_hash)[..32].to_owned()
}

/// Ask for a password reset link
///
/// Always 202 with the same body, whether or not the address has an account: a link is mailed
/// only to an active account, at most three times an hour per address.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    tag = "auth",
    request_body = EmailAddress,
    responses(
        (status = 202, description = "Accepted (whether or not a mail was sent)", body = Accepted),
        (status = 422, description = "Missing or malformed email", body = Problem),
        (status = 429, description = "Too many requests", body = Problem),
    )
)]
async fn request_reset(
    State(state): State<AppState>,
    ValidatedJson(request): ValidatedJson<EmailAddress>,
) -> Result<(StatusCode, Json<Accepted>), AuthError> {
    let settings = &state.settings;
    let email = request.normalized()?;
    // Counted for every address, known or not: the same work on both paths.
    let requests_this_hour = state
        .kv
        .increment_with_ttl(
            &format!("auth:password-reset-requests:{}", sha256_hex(&email)),
            Duration::from_secs(3600),
        )
        .await?;
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&state.db)
        .await?
        .filter(|user| user.is_active);
    if settings.password_reset
        && requests_this_hour <= RESETS_PER_ADDRESS_PER_HOUR
        && let Some(user) = user
    {
        let ttl = Duration::from_secs(settings.password_reset_ttl_secs);
        let token = state
            .auth
            .mail_tokens
            .issue(
                Purpose::PasswordReset,
                user.id,
                &password_fingerprint(&user.password_hash),
                ttl,
            )
            .await?;
        let link = format!("{}/reset-password#token={token}", settings.public_url);
        let mail = Template::PasswordReset.render(&user.email, &link, ttl.as_secs().div_ceil(60));
        state.auth.mail.send(mail);
        tracing::info!(user_id = %user.id, "password reset link sent");
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "accepted",
            detail: "if this address has an account, a reset link is on its way",
        }),
    ))
}

/// Set a new password with a reset link
///
/// The new password must pass the password policy (422 naming the rule; the link stays
/// usable). The token works once; on success every session of the account ends.
#[utoipa::path(
    post,
    path = "/auth/password-reset/confirm",
    tag = "auth",
    request_body = ResetConfirmation,
    responses(
        (status = 204, description = "Password changed; every session revoked"),
        (status = 400, description = "Unknown, malformed, expired or already used token (`urn:problem-type:invalid-link-token`)", body = Problem),
        (status = 422, description = "The new password is rejected by the policy", body = Problem),
        (status = 429, description = "Too many requests", body = Problem),
    )
)]
async fn confirm_reset(
    State(state): State<AppState>,
    audit: AuditContext,
    ValidatedJson(request): ValidatedJson<ResetConfirmation>,
) -> Result<StatusCode, AuthError> {
    let auth = &state.auth;
    let tokens = &auth.mail_tokens;
    // Looked at first, spent only once the new password is acceptable: a refused password
    // does not cost the user their link.
    let grant = tokens
        .peek(Purpose::PasswordReset, &request.token)
        .await?
        .ok_or(AccountError::InvalidLinkToken)?;
    let user = users::Entity::find_by_id(grant.user_id)
        .one(&state.db)
        .await?
        .filter(|user| user.is_active && password_fingerprint(&user.password_hash) == grant.binding)
        .ok_or(AccountError::InvalidLinkToken)?;
    auth.password_policy
        .check(&request.new_password, &user.email)
        .map_err(|violation| AuthError::WeakPassword {
            field: "new_password",
            violation,
        })?;
    if tokens
        .consume(Purpose::PasswordReset, &request.token)
        .await?
        .is_none_or(|spent| spent != grant)
    {
        return Err(AccountError::InvalidLinkToken.into());
    }
    let password_hash = auth.passwords.hash(request.new_password).await?;
    let user_id = user.id;
    let now = Utc::now();
    let verified_at = user.email_verified_at.unwrap_or(now);
    let mut account: users::ActiveModel = user.into();
    account.password_hash = Set(password_hash);
    account.email_verified_at = Set(Some(verified_at));
    account.updated_at = Set(now);
    let transaction = state.db.begin().await?;
    account.update(&transaction).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::PasswordReset)
                .by(user_id)
                .on("user", user_id)
                .fields(&["password_hash"]),
        )
        .await?;
    transaction.commit().await?;
    auth.tokens.revoke_user_sessions(user_id, None).await?;
    tracing::info!(%user_id, "password reset: every session revoked");
    Ok(StatusCode::NO_CONTENT)
}

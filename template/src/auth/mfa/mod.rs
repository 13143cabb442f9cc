//! TOTP MFA (RFC 6238 through `totp-rs`: SHA-1, 6 digits, 30 s steps, one step of skew).
//!
//! - Enrol: `POST auth/mfa/totp` answers the secret and an `otpauth://` URI; nothing changes
//!   at login until `POST auth/mfa/totp/confirm` with a valid code, which answers ten recovery
//!   codes, once (stored as SHA-256, single use; `POST auth/mfa/recovery-codes` replaces them).
//! - Login with TOTP on: the password step answers 401 `urn:problem-type:mfa-required` with a
//!   single-use ticket (`MFA_TICKET_TTL_SECS`) and no tokens; `POST auth/mfa/verify` with the
//!   ticket and a code (or a recovery code) issues them.
//! - A code is accepted once (its time step is recorded, compared and set atomically); wrong
//!   codes count against 5 per minute per account (then 429) and 5 per ticket (then the ticket
//!   dies).
//! - `POST auth/mfa/totp/disable` needs the password and a code; an administrator resets a
//!   user's MFA with `DELETE admin/users/{id}/mfa`.

pub mod secret_box;

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;
use chrono::Utc;
use rand::RngCore as _;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;
use utoipa_axum::routes;
use uuid::Uuid;
use validator::Validate;

use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::account_error::AccountError;
use crate::auth::error::AuthError;
use crate::auth::extractor::{ClientIp, CurrentUser};
use crate::auth::mail_tokens::sha256_hex;
use crate::auth::routes::{TokenResponse, issue_tokens};
use crate::entities::{mfa_recovery_codes, user_totp, users};
use crate::error::{AppError, FieldError, Problem};
use crate::extract::ValidatedJson;
use crate::observability::names::{self, LoginOutcome};
use crate::state::AppState;

/// Recovery codes per account.
pub const RECOVERY_CODES: usize = 10;
/// Wrong codes per account per minute before 429, and per ticket before it dies.
pub const MAX_FAILURES: u64 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const STEP_SECS: u64 = 30;
const SECRET_BYTES: usize = 20;

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Authenticated, routes!(enrol))
        .route(Access::Authenticated, routes!(confirm))
        .route(Access::Authenticated, routes!(disable))
        .route(Access::Authenticated, routes!(regenerate_recovery_codes))
        .route(Access::Public, routes!(verify))
        .route(Access::Policy, routes!(admin_reset))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolment {
    /// Base32 secret, for apps that cannot read the URI.
    pub secret: String,
    /// `otpauth://totp/…`, usually shown as a QR code.
    pub otpauth_uri: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown this once: each works one time in place of a code.
    pub recovery_codes: Vec<String>,
}

/// A current code from the authenticator app.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CodeRequest {
    #[schema(example = "123456", pattern = r"^[0-9]{6}$")]
    pub code: String,
}

#[derive(Deserialize, Validate, ToSchema)]
pub struct VerifyRequest {
    /// The `mfa_ticket` of the login answer.
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    pub ticket: String,
    /// A 6-digit code; or give `recovery_code` instead.
    #[serde(default)]
    #[schema(nullable = false, pattern = r"^[0-9]{6}$")]
    pub code: Option<String>,
    /// One of the recovery codes (`xxxx-xxxx-xxxx-xxxx`); or give `code` instead.
    #[serde(default)]
    #[schema(nullable = false, pattern = r"^[A-Za-z2-7]{4}(-?[A-Za-z2-7]{4}){3}$")]
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest").finish_non_exhaustive()
    }
}

#[derive(Deserialize, Validate, ToSchema)]
pub struct DisableRequest {
    #[schema(format = Password)]
    pub password: String,
    /// A 6-digit code; or give `recovery_code` instead.
    #[serde(default)]
    #[schema(nullable = false, pattern = r"^[0-9]{6}$")]
    pub code: Option<String>,
    /// One of the recovery codes (`xxxx-xxxx-xxxx-xxxx`); or give `code` instead.
    #[serde(default)]
    #[schema(nullable = false, pattern = r"^[A-Za-z2-7]{4}(-?[A-Za-z2-7]{4}){3}$")]
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for DisableRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisableRequest").finish_non_exhaustive()
    }
}

/// The second factor a request carries, already checked for shape.
enum Factor {
    Totp(String),
    Recovery(String),
}

fn invalid_field(field: &str, message: &str) -> AuthError {
    AuthError::App(AppError::Validation(vec![FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }]))
}

fn totp_code(code: &str) -> Result<String, AuthError> {
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code.to_owned())
    } else {
        Err(invalid_field(
            "code",
            "must be the 6 digits of the authenticator app",
        ))
    }
}

/// Recovery codes are 16 base32 characters, shown in groups of four; dashes, spaces and case
/// do not matter.
fn recovery_code(code: &str) -> Result<String, AuthError> {
    let normalized: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if normalized.len() == 16
        && normalized
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
    {
        Ok(normalized)
    } else {
        Err(invalid_field(
            "recovery_code",
            "must be one of your recovery codes",
        ))
    }
}

fn factor(code: Option<&str>, recovery: Option<&str>) -> Result<Factor, AuthError> {
    match (code, recovery) {
        (Some(code), None) => Ok(Factor::Totp(totp_code(code)?)),
        (None, Some(recovery)) => Ok(Factor::Recovery(recovery_code(recovery)?)),
        _ => Err(invalid_field(
            "code",
            "give either `code` or `recovery_code`",
        )),
    }
}

fn totp_for(secret: Vec<u8>, email: &str) -> Result<TOTP, AuthError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret,
        Some(env!("CARGO_PKG_NAME").to_owned()),
        email.to_owned(),
    )
    .map_err(|error| AuthError::App(AppError::Internal(format!("TOTP: {error}"))))
}

fn now_secs() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

/// Constant-time comparison of two short codes.
fn same_code(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The time step `code` belongs to (now, one step before or after), if any.
fn matching_step(totp: &TOTP, code: &str, now: u64) -> Option<u64> {
    let step = now / STEP_SECS;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|candidate| same_code(&totp.generate(candidate * STEP_SECS), code))
}

fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b & 31)]))
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

async fn enrolment(state: &AppState, user_id: Uuid) -> Result<Option<user_totp::Model>, AuthError> {
    Ok(user_totp::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?)
}

fn totp_of(state: &AppState, row: &user_totp::Model, email: &str) -> Result<TOTP, AuthError> {
    let secret = state
        .auth
        .mfa_secrets
        .open(row.user_id, &row.secret_encrypted)
        .ok_or_else(|| {
            AuthError::App(AppError::Internal(
                "a TOTP secret does not decrypt: was MFA_ENCRYPTION_KEY changed?".to_owned(),
            ))
        })?;
    totp_for(secret, email)
}

fn failures_key(user_id: Uuid) -> String {
    format!("auth:mfa-failures:{user_id}")
}

/// 429 while the account is over its failure budget.
async fn refuse_if_over_budget(state: &AppState, user_id: Uuid) -> Result<(), AuthError> {
    let key = failures_key(user_id);
    let failures = state
        .kv
        .get(&key)
        .await?
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    if failures >= MAX_FAILURES {
        let wait = state.kv.time_to_live(&key).await?.unwrap_or(FAILURE_WINDOW);
        return Err(AuthError::Throttled {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    Ok(())
}

async fn count_failure(state: &AppState, user_id: Uuid) -> Result<(), AuthError> {
    state
        .kv
        .increment_with_ttl(&failures_key(user_id), FAILURE_WINDOW)
        .await?;
    tracing::warn!(%user_id, "wrong MFA code");
    Ok(())
}

/// Checks a second factor of an enrolled account and spends it: a TOTP code's step is recorded
/// atomically (never accepted twice), a recovery code is marked used atomically.
async fn spend_factor(
    state: &AppState,
    row: &user_totp::Model,
    email: &str,
    factor: &Factor,
) -> Result<bool, AuthError> {
    match factor {
        Factor::Totp(code) => {
            let totp = totp_of(state, row, email)?;
            let Some(step) = matching_step(&totp, code, now_secs()) else {
                return Ok(false);
            };
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            let updated = user_totp::Entity::update_many()
                .col_expr(user_totp::Column::LastUsedStep, Expr::value(step))
                .filter(user_totp::Column::UserId.eq(row.user_id))
                .filter(
                    Condition::any()
                        .add(user_totp::Column::LastUsedStep.is_null())
                        .add(user_totp::Column::LastUsedStep.lt(step)),
                )
                .exec(&state.db)
                .await?;
            Ok(updated.rows_affected == 1)
        }
        Factor::Recovery(code) => {
            let updated = mfa_recovery_codes::Entity::update_many()
                .col_expr(mfa_recovery_codes::Column::UsedAt, Expr::value(Utc::now()))
                .filter(mfa_recovery_codes::Column::UserId.eq(row.user_id))
                .filter(mfa_recovery_codes::Column::CodeHash.eq(sha256_hex(code)))
                .filter(mfa_recovery_codes::Column::UsedAt.is_null())
                .exec(&state.db)
                .await?;
            Ok(updated.rows_affected == 1)
        }
    }
}

/// Replaces the account's recovery codes with ten new ones, returned in clear this once.
async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<String>, AuthError> {
    mfa_recovery_codes::Entity::delete_many()
        .filter(mfa_recovery_codes::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let now = Utc::now();
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let rows = codes.iter().map(|code| mfa_recovery_codes::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        code_hash: Set(sha256_hex(&code.replace('-', ""))),
        used_at: Set(None),
        created_at: Set(now),
    });
    mfa_recovery_codes::Entity::insert_many(rows)
        .exec(db)
        .await?;
    Ok(codes)
}

async fn delete_mfa(db: &impl ConnectionTrait, user_id: Uuid) -> Result<bool, AuthError> {
    mfa_recovery_codes::Entity::delete_many()
        .filter(mfa_recovery_codes::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let deleted = user_totp::Entity::delete_by_id(user_id).exec(db).await?;
    Ok(deleted.rows_affected > 0)
}

fn ticket_key(ticket: &str) -> String {
    format!("auth:mfa-ticket:{}", sha256_hex(ticket))
}

fn ticket_failures_key(ticket: &str) -> String {
    format!("auth:mfa-ticket-failures:{}", sha256_hex(ticket))
}

/// Called by login once the password is right: when the account has TOTP on, the problem that
/// carries a fresh ticket (the caller answers it instead of tokens).
pub async fn login_challenge(
    state: &AppState,
    user_id: Uuid,
) -> Result<Option<AccountError>, AuthError> {
    let enabled = enrolment(state, user_id)
        .await?
        .is_some_and(|row| row.enabled_at.is_some());
    if !enabled {
        return Ok(None);
    }
    let ttl = Duration::from_secs(state.settings.mfa_ticket_ttl_secs);
    let ticket = crate::auth::random_token();
    state
        .kv
        .set_with_ttl(&ticket_key(&ticket), &user_id.to_string(), ttl)
        .await?;
    tracing::info!(%user_id, "password accepted: MFA required");
    Ok(Some(AccountError::MfaRequired {
        ticket,
        expires_in: ttl.as_secs(),
    }))
}

/// Start TOTP enrolment
///
/// Answers a new secret and its `otpauth://` URI. Login does not ask for codes until
/// `auth/mfa/totp/confirm` succeeds; enrolling again before that replaces the secret.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp",
    tag = "mfa",
    responses(
        (status = 201, description = "Secret to load into the authenticator app", body = Enrolment),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 409, description = "TOTP is already on (`urn:problem-type:mfa-state`)", body = Problem),
    )
)]
async fn enrol(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<(StatusCode, Json<Enrolment>), AuthError> {
    if enrolment(&state, user.id)
        .await?
        .is_some_and(|row| row.enabled_at.is_some())
    {
        return Err(AccountError::MfaState("TOTP is already on: disable it first").into());
    }
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    let sealed = state
        .auth
        .mfa_secrets
        .seal(user.id, &secret)
        .map_err(|error| AuthError::App(AppError::Internal(error.to_string())))?;
    let totp = totp_for(secret, &user.email)?;
    let transaction = state.db.begin().await?;
    user_totp::Entity::delete_by_id(user.id)
        .exec(&transaction)
        .await?;
    user_totp::ActiveModel {
        user_id: Set(user.id),
        secret_encrypted: Set(sealed),
        enabled_at: Set(None),
        last_used_step: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&transaction)
    .await?;
    transaction.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Enrolment {
            secret: totp.get_secret_base32(),
            otpauth_uri: totp.get_url(),
        }),
    ))
}

/// Turn TOTP on
///
/// A valid code from the app turns the enrolment on; the answer holds ten recovery codes,
/// shown this once.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/confirm",
    tag = "mfa",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "TOTP on; the recovery codes", body = RecoveryCodes),
        (status = 401, description = "No valid access token, or wrong code (`urn:problem-type:invalid-mfa-code`)", body = Problem),
        (status = 409, description = "Nothing to confirm (`urn:problem-type:mfa-state`)", body = Problem),
        (status = 422, description = "Not 6 digits", body = Problem),
        (status = 429, description = "Too many wrong codes", body = Problem),
    )
)]
async fn confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidatedJson(request): ValidatedJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, AuthError> {
    let code = Factor::Totp(totp_code(&request.code)?);
    let row = enrolment(&state, user.id)
        .await?
        .filter(|row| row.enabled_at.is_none())
        .ok_or(AccountError::MfaState(
            "no enrolment to confirm: POST auth/mfa/totp first",
        ))?;
    refuse_if_over_budget(&state, user.id).await?;
    if !spend_factor(&state, &row, &user.email, &code).await? {
        count_failure(&state, user.id).await?;
        return Err(AccountError::InvalidMfaCode.into());
    }
    let transaction = state.db.begin().await?;
    user_totp::Entity::update_many()
        .col_expr(user_totp::Column::EnabledAt, Expr::value(Utc::now()))
        .filter(user_totp::Column::UserId.eq(user.id))
        .exec(&transaction)
        .await?;
    let recovery_codes = replace_recovery_codes(&transaction, user.id).await?;
    transaction.commit().await?;
    tracing::info!(user_id = %user.id, "TOTP turned on");
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Replace the recovery codes
///
/// Needs a current code; the old recovery codes stop working.
#[utoipa::path(
    post,
    path = "/auth/mfa/recovery-codes",
    tag = "mfa",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "The new recovery codes", body = RecoveryCodes),
        (status = 401, description = "No valid access token, or wrong code", body = Problem),
        (status = 409, description = "TOTP is not on", body = Problem),
        (status = 422, description = "Not 6 digits", body = Problem),
        (status = 429, description = "Too many wrong codes", body = Problem),
    )
)]
async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidatedJson(request): ValidatedJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, AuthError> {
    let code = Factor::Totp(totp_code(&request.code)?);
    let row = enabled_enrolment(&state, user.id).await?;
    refuse_if_over_budget(&state, user.id).await?;
    if !spend_factor(&state, &row, &user.email, &code).await? {
        count_failure(&state, user.id).await?;
        return Err(AccountError::InvalidMfaCode.into());
    }
    let recovery_codes = replace_recovery_codes(&state.db, user.id).await?;
    tracing::info!(user_id = %user.id, "recovery codes replaced");
    Ok(Json(RecoveryCodes { recovery_codes }))
}

async fn enabled_enrolment(state: &AppState, user_id: Uuid) -> Result<user_totp::Model, AuthError> {
    Ok(enrolment(state, user_id)
        .await?
        .filter(|row| row.enabled_at.is_some())
        .ok_or(AccountError::MfaState("TOTP is not on for this account"))?)
}

/// Turn TOTP off
///
/// Needs the password and a current code (or a recovery code).
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/disable",
    tag = "mfa",
    request_body = DisableRequest,
    responses(
        (status = 204, description = "TOTP off; recovery codes deleted"),
        (status = 401, description = "No valid access token, or wrong code", body = Problem),
        (status = 403, description = "The password is wrong", body = Problem),
        (status = 409, description = "TOTP is not on", body = Problem),
        (status = 422, description = "Malformed code", body = Problem),
        (status = 429, description = "Too many attempts", body = Problem),
    )
)]
async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    ValidatedJson(request): ValidatedJson<DisableRequest>,
) -> Result<StatusCode, AuthError> {
    let auth = &state.auth;
    let factor = factor(request.code.as_deref(), request.recovery_code.as_deref())?;
    let row = enabled_enrolment(&state, user.id).await?;
    if let Err(throttled) = auth
        .login_throttle
        .register_attempt(ip, &user.email)
        .await?
    {
        return Err(AuthError::Throttled {
            retry_after_secs: throttled.retry_after.as_secs().max(1),
        });
    }
    let account = users::Entity::find_by_id(user.id)
        .one(&state.db)
        .await?
        .ok_or(AuthError::InvalidToken)?;
    let plausible = request.password.chars().count() <= auth.password_policy.max_length;
    let verified = plausible
        && auth
            .passwords
            .verify(request.password, Some(account.password_hash))
            .await?;
    if !verified {
        auth.login_throttle.record_failure(ip, &user.email).await?;
        return Err(AuthError::WrongCurrentPassword);
    }
    auth.login_throttle.record_success(ip, &user.email).await?;
    refuse_if_over_budget(&state, user.id).await?;
    if !spend_factor(&state, &row, &user.email, &factor).await? {
        count_failure(&state, user.id).await?;
        return Err(AccountError::InvalidMfaCode.into());
    }
    let transaction = state.db.begin().await?;
    delete_mfa(&transaction, user.id).await?;
    transaction.commit().await?;
    tracing::info!(user_id = %user.id, "TOTP turned off");
    Ok(StatusCode::NO_CONTENT)
}

/// Finish a login with a second factor
///
/// Spends the ticket of the `mfa_required` login answer with a code from the app (or a
/// recovery code) and answers the tokens, like `auth/login`. Wrong codes: 5 per minute per
/// account, 5 per ticket (then log in again).
#[utoipa::path(
    post,
    path = "/auth/mfa/verify",
    tag = "mfa",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Logged in; refresh token in `Set-Cookie`", body = TokenResponse),
        (status = 401, description = "Invalid or expired ticket (`urn:problem-type:invalid-mfa-ticket`) or wrong, reused code (`urn:problem-type:invalid-mfa-code`)", body = Problem),
        (status = 422, description = "Malformed code", body = Problem),
        (status = 429, description = "Too many wrong codes; see Retry-After", body = Problem),
    )
)]
async fn verify(
    State(state): State<AppState>,
    jar: CookieJar,
    ValidatedJson(request): ValidatedJson<VerifyRequest>,
) -> Result<(CookieJar, Json<TokenResponse>), AuthError> {
    let factor = factor(request.code.as_deref(), request.recovery_code.as_deref())?;
    let ticket = request.ticket.trim();
    let user_id = if ticket.len() == 43 {
        state.kv.get(&ticket_key(ticket)).await?
    } else {
        None
    }
    .and_then(|value| value.parse::<Uuid>().ok())
    .ok_or(AccountError::InvalidMfaTicket)?;
    let user = users::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?
        .filter(|user| user.is_active)
        .ok_or(AccountError::InvalidMfaTicket)?;
    let row = enrolment(&state, user_id)
        .await?
        .filter(|row| row.enabled_at.is_some())
        .ok_or(AccountError::InvalidMfaTicket)?;
    refuse_if_over_budget(&state, user_id)
        .await
        .inspect_err(|error| {
            if matches!(error, AuthError::Throttled { .. }) {
                names::count_login(LoginOutcome::Limited);
            }
        })?;
    if !spend_factor(&state, &row, &user.email, &factor).await? {
        names::count_login(LoginOutcome::Failed);
        count_failure(&state, user_id).await?;
        let ticket_failures = state
            .kv
            .increment_with_ttl(
                &ticket_failures_key(ticket),
                Duration::from_secs(state.settings.mfa_ticket_ttl_secs),
            )
            .await?;
        if ticket_failures >= MAX_FAILURES {
            state.kv.delete(&ticket_key(ticket)).await?;
        }
        return Err(AccountError::InvalidMfaCode.into());
    }
    // Single use: of two requests with the same ticket, one gets the tokens.
    if state.kv.take(&ticket_key(ticket)).await?.is_none() {
        return Err(AccountError::InvalidMfaTicket.into());
    }
    let session = state.auth.tokens.start_session(user_id).await?;
    tracing::info!(%user_id, session_id = %session.session_id, "logged in with MFA");
    names::count_login(LoginOutcome::Ok);
    issue_tokens(&state.auth, session, jar).await
}

/// Reset a user's MFA (administrators)
///
/// Deletes the user's TOTP enrolment and recovery codes (a lost phone); the user logs in with
/// the password alone and may enrol again.
#[utoipa::path(
    delete,
    path = "/admin/users/{id}/mfa",
    tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "MFA removed"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The caller's roles do not allow this", body = Problem),
        (status = 404, description = "No such user, or no MFA to reset", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn admin_reset(
    State(state): State<AppState>,
    admin: CurrentUser,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, AuthError> {
    let Path(id) = path.map_err(|_| invalid_field("id", "must be a UUID"))?;
    let transaction = state.db.begin().await?;
    let removed = delete_mfa(&transaction, id).await?;
    transaction.commit().await?;
    if !removed {
        return Err(AuthError::App(AppError::NotFound));
    }
    tracing::info!(admin_id = %admin.id, user_id = %id, "MFA reset by an administrator");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let totp = totp_for(vec![7u8; SECRET_BYTES], "ana@example.com").unwrap();
        let now = 1_700_000_000;
        let code = totp.generate(now);
        assert_eq!(matching_step(&totp, &code, now), Some(now / STEP_SECS));
        assert_eq!(
            matching_step(&totp, &code, now + STEP_SECS),
            Some(now / STEP_SECS)
        );
        assert_eq!(matching_step(&totp, &code, now + 3 * STEP_SECS), None);
    }

    #[test]
    fn recovery_codes_are_80_bits_and_parse_back() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19, "{code}");
        assert!(recovery_code(&code.to_uppercase()).is_ok());
        assert!(recovery_code("not-a-code").is_err());
        assert!(totp_code("12345a").is_err() && totp_code("123456").is_ok());
    }
}

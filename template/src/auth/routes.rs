//! `auth/*`: register, login, refresh, logout, logout-all, me, password.
//!
//! Login and refresh answer the access token in JSON and set the refresh token as an
//! `HttpOnly` cookie scoped to `{API_PREFIX}/auth`; clients that do not keep cookies read it
//! from `Set-Cookie` and may send it back in the JSON body of `refresh` / `logout`.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::ToSchema;
use utoipa_axum::routes;
use uuid::Uuid;
use validator::Validate;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::account_error::AccountError;
use crate::auth::error::AuthError;
use crate::auth::extractor::{ClientIp, CurrentUser};
use crate::auth::token_store::{RefreshOutcome, Session};
use crate::auth::{AuthServices, USER_ROLE, normalize_email, rbac};
use crate::entities::users;
use crate::error::{AppError, FieldError, Problem};
use crate::extract::ValidatedJson;
use crate::middleware::rate_limit;
use crate::observability::names::{self, LoginOutcome};
use crate::state::AppState;

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Public, routes!(register))
        .route(Access::Public, routes!(login))
        .route(Access::Public, routes!(refresh))
        .route(Access::Authenticated, routes!(logout))
        .route(Access::Authenticated, routes!(logout_all))
        .route(Access::Policy, routes!(me))
        .route(Access::Policy, routes!(change_password))
        .merge(crate::auth::verification::routes())
        .merge(crate::auth::reset::routes())
        .merge(crate::auth::mfa::routes())
        .layer_with(|router, state| {
            router
                // Tokens and personal data must not linger in any cache.
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(rate_limit::auth_layer(state))
        })
}

/// Email and password. `Debug` never prints the password.
#[derive(Deserialize, Validate, ToSchema)]
pub struct Credentials {
    #[schema(example = "ana@example.com")]
    pub email: String,
    #[schema(example = "violet-harbour-tractor-87", format = Password)]
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
}

/// Refresh token for clients that do not keep cookies; otherwise the cookie is used.
#[derive(Deserialize, Validate, ToSchema, Default)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").finish_non_exhaustive()
    }
}

#[derive(Deserialize, Validate, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(format = Password)]
    pub current_password: String,
    #[schema(format = Password)]
    pub new_password: String,
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .finish_non_exhaustive()
    }
}

/// A JSON body that may be absent: no `Content-Type` and no body means `None`; anything else
/// goes through [`ValidatedJson`] (415 / 400 / 422 as usual).
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    ValidatedJson<T>: FromRequest<S, Rejection = AppError>,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        let declared_empty = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length.trim() == "0");
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        let no_body = !headers.contains_key(header::CONTENT_TYPE)
            && (declared_empty || (!chunked && !headers.contains_key(header::CONTENT_LENGTH)));
        if no_body {
            return Ok(OptionalJson(None));
        }
        let ValidatedJson(value) = ValidatedJson::<T>::from_request(request, state).await?;
        Ok(OptionalJson(Some(value)))
    }
}

fn invalid_field(field: &str, message: &str) -> AuthError {
    AuthError::App(AppError::Validation(vec![FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }]))
}

fn refresh_cookie(auth: &AuthServices, value: String, max_age_secs: i64) -> Cookie<'static> {
    let config = &auth.refresh_cookie;
    Cookie::build((config.name, value))
        .http_only(true)
        .secure(config.secure)
        .same_site(if config.same_site_strict {
            SameSite::Strict
        } else {
            SameSite::Lax
        })
        .path(config.path.clone())
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
}

/// A cookie that makes the browser forget the refresh token.
fn expired_refresh_cookie(auth: &AuthServices) -> Cookie<'static> {
    refresh_cookie(auth, String::new(), 0)
}

/// Issues an access token and the next refresh token of `session`.
pub(crate) async fn issue_tokens(
    auth: &AuthServices,
    session: Session,
    jar: CookieJar,
) -> Result<(CookieJar, Json<TokenResponse>), AuthError> {
    let access = auth.jwt.issue(session.user_id, session.session_id)?;
    auth.tokens
        .record_access_token(access.claims.jti, session, access.lifetime)
        .await?;
    let refresh_token = auth.tokens.issue_refresh_token(session).await?;
    let max_age = i64::try_from(auth.tokens.refresh_lifetime().as_secs()).unwrap_or(i64::MAX);
    let jar = jar.add(refresh_cookie(auth, refresh_token, max_age));
    Ok((
        jar,
        Json(TokenResponse {
            access_token: access.token,
            token_type: "bearer",
            expires_in: access.lifetime.as_secs(),
        }),
    ))
}

/// Create an account
///
/// The account gets the `user` role. The password must pass the password policy; a 422 names
/// the rule it breaks (`rule`: min_length, max_length, contains_email, weak_password — the
/// last one with zxcvbn's `suggestions`).
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 201, description = "Account created", body = AccountView),
        (status = 409, description = "An account with this email exists", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 422, description = "Invalid email or password rejected by the policy", body = Problem),
        (status = 429, description = "Too many requests", body = Problem),
    )
)]
async fn register(
    State(state): State<AppState>,
    ValidatedJson(credentials): ValidatedJson<Credentials>,
) -> Result<Response, AuthError> {
    let auth = &state.auth;
    let email =
        normalize_email(&credentials.email).map_err(|message| invalid_field("email", message))?;
    auth.password_policy
        .check(&credentials.password, &email)
        .map_err(|violation| AuthError::WeakPassword {
            field: "password",
            violation,
        })?;
    let taken = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&state.db)
        .await?
        .is_some();
    if taken {
        return Err(duplicate_account());
    }
    let password_hash = auth.passwords.hash(credentials.password).await?;
    let now = Utc::now();
    let user = users::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email),
        password_hash: Set(password_hash),
        is_active: Set(true),
        email_verified_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let transaction = state.db.begin().await?;
    let user = match user.insert(&transaction).await {
        Ok(user) => user,
        // Two registrations raced past the check above: the unique index decides.
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(duplicate_account());
        }
        Err(error) => return Err(error.into()),
    };
    rbac::grant_role(&transaction, user.id, USER_ROLE).await?;
    transaction.commit().await?;
    tracing::info!(user_id = %user.id, "account registered");
    crate::auth::verification::send_link(&state, &user).await?;
    let body = AccountView {
        id: user.id,
        email: user.email,
        roles: vec![USER_ROLE.to_owned()],
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn duplicate_account() -> AuthError {
    AuthError::App(AppError::Conflict(
        "an account with this email already exists".to_owned(),
    ))
}

/// Log in
///
/// Answers the access token; sets the refresh token cookie. Wrong password and unknown email
/// get the same answer, in the same time. Failed attempts are limited per client IP and per
/// (account, client IP); an account under attack from many addresses makes new addresses wait
/// a growing delay (see the README's brute-force policy).
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in; refresh token in `Set-Cookie`", body = TokenResponse),
        (status = 401, description = "Invalid email or password; or, with TOTP on, the password was right and a second factor is needed: problem type `urn:problem-type:mfa-required` with `mfa_ticket` and `expires_in` (no tokens; finish with `auth/mfa/verify`)", body = Problem),
        (status = 403, description = "The address is not verified yet (`urn:problem-type:email-not-verified`, when REQUIRE_VERIFIED_EMAIL is on)", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 422, description = "Missing field", body = Problem),
        (status = 429, description = "Too many attempts; see Retry-After", body = Problem),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    audit: AuditContext,
    jar: CookieJar,
    ValidatedJson(credentials): ValidatedJson<Credentials>,
) -> Result<(CookieJar, Json<TokenResponse>), AuthError> {
    let auth = &state.auth;
    // No account can have a malformed email (register validates it): refuse it before it
    // reaches the throttle keys or the database, which rejects NUL bytes with an error.
    let email =
        normalize_email(&credentials.email).map_err(|message| invalid_field("email", message))?;
    if let Err(throttled) = auth.login_throttle.register_attempt(ip, &email).await? {
        tracing::warn!(%ip, "login throttled");
        names::count_login(LoginOutcome::Limited);
        audit
            .record(&state.db, AuditEvent::new(AuditAction::LoginLimited))
            .await?;
        return Err(AuthError::Throttled {
            retry_after_secs: throttled.retry_after.as_secs().max(1),
        });
    }
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&state.db)
        .await?;
    // No stored password can be longer than the policy allows; such input is checked against
    // the dummy hash so that it costs the same as any other failure.
    let plausible = credentials.password.chars().count() <= auth.password_policy.max_length;
    let stored_hash = user
        .as_ref()
        .filter(|_| plausible)
        .map(|user| user.password_hash.clone());
    let password = if plausible {
        credentials.password
    } else {
        String::new()
    };
    let verified = auth.passwords.verify(password, stored_hash).await?;
    let account_id = user.as_ref().map(|user| user.id);
    let Some(user) = user.filter(|user| verified && user.is_active) else {
        names::count_login(LoginOutcome::Failed);
        auth.login_throttle.record_failure(ip, &email).await?;
        audit.record(&state.db, login_failed(account_id)).await?;
        return Err(AuthError::InvalidCredentials);
    };
    auth.login_throttle.record_success(ip, &email).await?;
    if state.settings.require_verified_email() && user.email_verified_at.is_none() {
        return Err(AccountError::EmailNotVerified.into());
    }
    if let Some(challenge) = crate::auth::mfa::login_challenge(&state, user.id).await? {
        names::count_login(LoginOutcome::MfaRequired);
        return Err(challenge.into());
    }
    audit
        .record(
            &state.db,
            AuditEvent::new(AuditAction::LoginSucceeded)
                .by(user.id)
                .on("user", user.id),
        )
        .await?;
    let session = auth.tokens.start_session(user.id).await?;
    tracing::info!(user_id = %user.id, session_id = %session.session_id, "logged in");
    names::count_login(LoginOutcome::Ok);
    issue_tokens(auth, session, jar).await
}

/// The account a failed login aimed at, when it exists (the email itself is not recorded).
fn login_failed(account_id: Option<Uuid>) -> AuditEvent {
    let event = AuditEvent::new(AuditAction::LoginFailed);
    match account_id {
        Some(id) => event.on("user", id),
        None => event,
    }
}

/// Rotate the refresh token
///
/// Spends the refresh token (cookie, or `refresh_token` in the JSON body) and answers a new
/// access token with a new refresh token. A refresh token works once: presenting a used one
/// revokes its whole session (a duplicate sent while its rotation is still running is only
/// refused, so of concurrent refreshes exactly one succeeds).
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "Optional when the cookie is sent"),
    responses(
        (status = 200, description = "New tokens; new refresh token in `Set-Cookie`", body = TokenResponse),
        (status = 401, description = "Missing, invalid, expired or already used refresh token", body = Problem),
        (status = 429, description = "Too many requests", body = Problem),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    jar: CookieJar,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response, AuthError> {
    let auth = &state.auth;
    let presented = body
        .and_then(|body| body.refresh_token)
        .filter(|token| !token.is_empty())
        .or_else(|| {
            jar.get(auth.refresh_cookie.name)
                .map(|cookie| cookie.value().to_owned())
                .filter(|token| !token.is_empty())
        });
    let refused = |jar: CookieJar| {
        let jar = jar.add(expired_refresh_cookie(auth));
        (jar, AuthError::InvalidRefreshToken).into_response()
    };
    let Some(presented) = presented else {
        return Ok(refused(jar));
    };
    let session = match auth.tokens.consume_refresh_token(&presented).await? {
        RefreshOutcome::Rotated(session) => session,
        RefreshOutcome::Replayed | RefreshOutcome::Invalid => return Ok(refused(jar)),
    };
    let active = users::Entity::find_by_id(session.user_id)
        .one(&state.db)
        .await?
        .is_some_and(|user| user.is_active);
    if !active {
        auth.tokens.revoke_session(session).await?;
        auth.tokens.complete_rotation(&presented, session).await?;
        return Ok(refused(jar));
    }
    let issued = issue_tokens(auth, session, jar).await?;
    auth.tokens.complete_rotation(&presented, session).await?;
    Ok(issued.into_response())
}

/// Log out of this session
///
/// Revokes the access token and the session's refresh token.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid access token", body = Problem),
    )
)]
async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), AuthError> {
    let auth = &state.auth;
    auth.tokens.revoke_session(user.session).await?;
    auth.tokens.revoke_access_token(user.token_id).await?;
    Ok((
        jar.add(expired_refresh_cookie(auth)),
        StatusCode::NO_CONTENT,
    ))
}

/// Log out of every session
///
/// Revokes every access and refresh token of the user, on every device.
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    tag = "auth",
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "No valid access token", body = Problem),
    )
)]
async fn logout_all(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), AuthError> {
    let auth = &state.auth;
    audit
        .record(
            &state.db,
            AuditEvent::new(AuditAction::LogoutAll)
                .by(user.id)
                .on("user", user.id),
        )
        .await?;
    auth.tokens.revoke_user_sessions(user.id, None).await?;
    auth.tokens.revoke_access_token(user.token_id).await?;
    tracing::info!(user_id = %user.id, "logged out everywhere");
    Ok((
        jar.add(expired_refresh_cookie(auth)),
        StatusCode::NO_CONTENT,
    ))
}

/// The current account
#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller's account", body = AccountView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The caller's roles do not allow this", body = Problem),
    )
)]
async fn me(user: CurrentUser) -> Json<AccountView> {
    Json(AccountView {
        id: user.id,
        email: user.email,
        roles: user.roles,
    })
}

/// Change the password
///
/// Needs the current password; the new one must pass the password policy. Every other
/// session of the user is revoked; this one stays logged in.
#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "auth",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; other sessions revoked"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The current password is wrong", body = Problem),
        (status = 422, description = "The new password is rejected by the policy", body = Problem),
        (status = 429, description = "Too many attempts", body = Problem),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    audit: AuditContext,
    ValidatedJson(request): ValidatedJson<ChangePasswordRequest>,
) -> Result<StatusCode, AuthError> {
    let auth = &state.auth;
    // A stolen access token must not become a way to guess the password.
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
    let plausible = request.current_password.chars().count() <= auth.password_policy.max_length;
    let verified = plausible
        && auth
            .passwords
            .verify(
                request.current_password,
                Some(account.password_hash.clone()),
            )
            .await?;
    if !verified {
        auth.login_throttle.record_failure(ip, &user.email).await?;
        return Err(AuthError::WrongCurrentPassword);
    }
    auth.login_throttle.record_success(ip, &user.email).await?;
    auth.password_policy
        .check(&request.new_password, &account.email)
        .map_err(|violation| AuthError::WeakPassword {
            field: "new_password",
            violation,
        })?;
    let password_hash = auth.passwords.hash(request.new_password).await?;
    let mut account: users::ActiveModel = account.into();
    account.password_hash = Set(password_hash);
    account.updated_at = Set(Utc::now());
    let transaction = state.db.begin().await?;
    account.update(&transaction).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::PasswordChanged)
                .by(user.id)
                .on("user", user.id)
                .fields(&["password_hash"]),
        )
        .await?;
    transaction.commit().await?;
    auth.tokens
        .revoke_user_sessions(user.id, Some(user.session.session_id))
        .await?;
    tracing::info!(user_id = %user.id, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

//! `CurrentUser` and `ClientIp` extractors, and the gates [`Access`](super::access::Access)
//! installs: signature → token still active → user active → (policy) permission.
//!
//! Anything the gates cannot confirm is refused: a store or database error answers 503/500,
//! never a pass.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::sea_query::{Condition, JoinType, Order, Query};
use sea_orm::{ColumnTrait, ConnectionTrait};
use uuid::Uuid;

use crate::auth::error::AuthError;
use crate::auth::rbac;
use crate::auth::token_store::Session;
use crate::auth::user_cache::CachedUser;
use crate::entities::{casbin_rule, users};
use crate::middleware::client_ip;
use crate::observability::names::{self, RefusingGate};
use crate::state::AppState;

/// The authenticated caller, as loaded from the database for this request.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
    /// From the database (or this instance's copy at the user's current cache version): a role
    /// granted or revoked a moment ago already counts.
    pub roles: Vec<String>,
    pub session: Session,
    /// `jti` of the access token this request carried.
    pub token_id: Uuid,
}

/// The token of an `Authorization: Bearer …` header. `None`: no such header; a header that is
/// present but not a well-formed bearer credential is an invalid token.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthError::InvalidToken)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::InvalidToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::InvalidToken);
    }
    Ok(Some(token))
}

/// Runs the first gates on a request's headers: one round trip to the key-value store and one
/// database query (none when the user cache is on and holds a current copy of the user).
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<CurrentUser, AuthError> {
    let token = match bearer_token(headers) {
        Ok(Some(token)) => token,
        Ok(None) => return Err(refused(RefusingGate::Missing, AuthError::MissingToken)),
        Err(error) => return Err(refused(RefusingGate::Signature, error)),
    };
    let auth = &state.auth;
    // Gate 1: signature, algorithm, expiry, issuer, audience.
    let claims = auth
        .jwt
        .verify(token)
        .map_err(|_| refused(RefusingGate::Signature, AuthError::InvalidToken))?;
    // Gate 2: the token was issued by us for this session, and the session is still active
    // (not logged out, not revoked); the same read gives the user's cache version.
    let active = auth
        .tokens
        .active_access_token(claims.jti, claims.sub, claims.sid)
        .await?
        .ok_or_else(|| refused(RefusingGate::Session, AuthError::InvalidToken))?;
    // The account still exists and is active; its roles come from the database (or a copy
    // made at the current cache version), never from the token.
    let cached = match active.cache_version.as_deref() {
        Some(version) => auth.users.get(claims.sub, version),
        None => None,
    };
    let user = match cached {
        Some(user) => user,
        None => {
            let user = load_active_user(state, claims.sub)
                .await?
                .ok_or_else(|| refused(RefusingGate::User, AuthError::InvalidToken))?;
            if let Some(version) = active.cache_version {
                auth.users.insert(claims.sub, version, user.clone());
            }
            user
        }
    };
    Ok(CurrentUser {
        id: claims.sub,
        email: user.email.clone(),
        roles: user.roles.clone(),
        session: active.session,
        token_id: claims.jti,
    })
}

/// Counts a refusal by `gate` (`auth_tokens_refused_total`) and passes the error on.
fn refused(gate: RefusingGate, error: AuthError) -> AuthError {
    names::count_refused_token(gate);
    error
}

/// The user's email and roles, if the account exists and is active: one query (the user left
/// joined with its role links), so the gate costs one database round trip.
async fn load_active_user(
    state: &AppState,
    user_id: Uuid,
) -> Result<Option<Arc<CachedUser>>, AuthError> {
    let query = Query::select()
        .column((users::Entity, users::Column::Email))
        .column((users::Entity, users::Column::IsActive))
        .column((casbin_rule::Entity, casbin_rule::Column::V1))
        .from(users::Entity)
        .join(
            JoinType::LeftJoin,
            casbin_rule::Entity,
            Condition::all()
                .add(casbin_rule::Column::Ptype.eq(rbac::USER_ROLE_PTYPE))
                .add(casbin_rule::Column::V0.eq(user_id.to_string())),
        )
        .and_where(users::Column::Id.eq(user_id))
        .order_by((casbin_rule::Entity, casbin_rule::Column::V1), Order::Asc)
        .to_owned();
    let rows = state.db.query_all(&query).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    if !first.try_get::<bool>("", "is_active")? {
        return Ok(None);
    }
    let email = first.try_get::<String>("", "email")?;
    let mut roles = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(role) = row.try_get::<Option<String>>("", "v1")? {
            roles.push(role);
        }
    }
    Ok(Some(Arc::new(CachedUser { email, roles })))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Already authenticated by the route's gate: no second round of lookups.
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let user = authenticate(state, &parts.headers).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// The client's address (see `middleware::client_ip` for the trusted-proxy rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
        Ok(ClientIp(client_ip::resolve(
            peer,
            &parts.headers,
            &state.auth.trusted_proxies,
        )))
    }
}

/// Gate of [`Access::Authenticated`](super::access::Access::Authenticated) routes.
pub async fn require_authenticated(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match authenticate(&state, request.headers()).await {
        Ok(user) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// Gate of [`Access::Policy`](super::access::Access::Policy) routes: authenticated, and the
/// casbin policy allows one of the user's roles on this route template and method.
pub async fn require_permission(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match authenticate(&state, request.headers()).await {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    let Some(route) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| policy_object(matched.as_str(), &state.settings.api_prefix))
    else {
        // Only reachable if the gate were installed outside the router: refuse.
        return AuthError::Forbidden.into_response();
    };
    let method = policy_action(request.method());
    match state
        .auth
        .authorizer
        .is_allowed(&user.roles, &route, method)
        .await
    {
        Ok(true) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Ok(false) => {
            tracing::info!(user_id = %user.id, %route, %method, "forbidden by policy");
            refused(RefusingGate::Permission, AuthError::Forbidden).into_response()
        }
        Err(error) => AuthError::from(error).into_response(),
    }
}

/// The route template below the API prefix: `/api/v1/admin/users/{id}` → `/admin/users/{id}`.
pub fn policy_object(matched_path: &str, api_prefix: &str) -> String {
    matched_path
        .strip_prefix(api_prefix)
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(matched_path)
        .to_owned()
}

/// HEAD is answered by GET handlers, so it is judged as GET.
fn policy_action(method: &Method) -> &str {
    if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_authorization(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(
            bearer_token(&with_authorization("bearer abc.def.ghi"))
                .ok()
                .flatten(),
            Some("abc.def.ghi")
        );
        assert_eq!(bearer_token(&HeaderMap::new()).ok().flatten(), None);
    }

    #[test]
    fn other_schemes_and_malformed_headers_are_invalid_tokens() {
        for value in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "token",
        ] {
            assert!(
                matches!(
                    bearer_token(&with_authorization(value)),
                    Err(AuthError::InvalidToken)
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn the_policy_object_is_the_route_below_the_prefix() {
        assert_eq!(
            policy_object("/api/v1/admin/users/{id}", "/api/v1"),
            "/admin/users/{id}"
        );
        assert_eq!(policy_object("/api/v10/x", "/api/v1"), "/api/v10/x");
    }
}

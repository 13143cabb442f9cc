//! `admin/*`: user administration, every route checked by the casbin policy (seeded for the
//! `admin` role).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;
use uuid::Uuid;
use validator::Validate;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::ADMIN_ROLE;
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::error::AuthError;
use crate::auth::extractor::CurrentUser;
use crate::auth::rbac::{self, USER_ROLE_PTYPE};
use crate::entities::{casbin_rule, users};
use crate::error::{AppError, FieldError, Problem};
use crate::extract::ValidatedJson;
use crate::state::AppState;

const MAX_PER_PAGE: u64 = 100;
const DEFAULT_PER_PAGE: u64 = 20;
/// Far beyond any real table, and small enough that `(page - 1) * per_page` always fits the
/// database's signed 64-bit OFFSET.
const MAX_PAGE: u64 = 1_000_000_000;

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Policy, routes!(list_users))
        .route(Access::Policy, routes!(get_user))
        .route(Access::Policy, routes!(set_user_roles))
        .route(Access::Policy, routes!(deactivate_user))
        .route(Access::Policy, routes!(activate_user))
        .route(Access::Policy, routes!(stats))
        .layer_with(|router, _| {
            router.layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
        })
}

/// An account as administrators see it (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub is_active: bool,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    fn new(user: users::Model, roles: Vec<String>) -> Self {
        UserView {
            id: user.id,
            email: user.email,
            is_active: user.is_active,
            roles,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000_000)]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct SetRolesRequest {
    /// The complete list of roles the user should have (replaces the current ones).
    #[schema(example = json!(["user", "admin"]), value_type = Vec<SeededRole>)]
    pub roles: Vec<String>,
}

/// The roles of the seeded policy. A project that adds roles to its policy lists them here
/// too: the API accepts exactly the roles the policy knows.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the accepted values; requests carry them as strings
pub enum SeededRole {
    User,
    Admin,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub users_total: u64,
    pub users_active: u64,
    pub users_inactive: u64,
    /// Number of users holding each role.
    pub users_per_role: BTreeMap<String, u64>,
}

fn invalid(field: &str, message: impl Into<String>) -> AuthError {
    AuthError::App(AppError::Validation(vec![FieldError {
        field: field.to_owned(),
        message: message.into(),
    }]))
}

fn user_id(path: Result<Path<Uuid>, PathRejection>) -> Result<Uuid, AuthError> {
    path.map(|Path(id)| id)
        .map_err(|_| invalid("id", "must be a UUID"))
}

async fn find_user(state: &AppState, id: Uuid) -> Result<users::Model, AuthError> {
    users::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(AuthError::App(AppError::NotFound))
}

async fn roles_by_user(
    state: &AppState,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, AuthError> {
    let rows = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq(USER_ROLE_PTYPE))
        .filter(casbin_rule::Column::V0.is_in(ids.iter().map(Uuid::to_string)))
        .order_by_asc(casbin_rule::Column::V1)
        .all(&state.db)
        .await?;
    let mut roles: HashMap<Uuid, Vec<String>> = HashMap::new();
    for row in rows {
        if let Ok(id) = row.v0.parse::<Uuid>() {
            roles.entry(id).or_default().push(row.v1);
        }
    }
    Ok(roles)
}

/// List users
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    params(ListUsersQuery),
    responses(
        (status = 200, description = "One page of users, oldest first", body = UserPage),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 422, description = "Invalid page or per_page", body = Problem),
    )
)]
async fn list_users(
    State(state): State<AppState>,
    query: Result<Query<ListUsersQuery>, QueryRejection>,
) -> Result<Json<UserPage>, AuthError> {
    let Query(query) = query.map_err(|rejection| invalid("query", rejection.body_text()))?;
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 || page > MAX_PAGE {
        return Err(invalid("page", format!("must be between 1 and {MAX_PAGE}")));
    }
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(invalid(
            "per_page",
            format!("must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let paginator = users::Entity::find()
        .order_by_asc(users::Column::CreatedAt)
        .order_by_asc(users::Column::Id)
        .paginate(&state.db, per_page);
    let total = paginator.num_items().await?;
    // Both bounds above keep this product far from u64 and i64 overflow.
    let rows = paginator.fetch_page(page - 1).await?;
    let ids: Vec<Uuid> = rows.iter().map(|user| user.id).collect();
    let mut roles = roles_by_user(&state, &ids).await?;
    let items = rows
        .into_iter()
        .map(|user| {
            let user_roles = roles.remove(&user.id).unwrap_or_default();
            UserView::new(user, user_roles)
        })
        .collect();
    Ok(Json(UserPage {
        items,
        page,
        per_page,
        total,
    }))
}

/// Get one user
#[utoipa::path(
    get,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such user", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn get_user(
    State(state): State<AppState>,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<UserView>, AuthError> {
    let user = find_user(&state, user_id(path)?).await?;
    let roles = rbac::roles_of(&state.db, user.id).await?;
    Ok(Json(UserView::new(user, roles)))
}

/// Set a user's roles
///
/// Replaces the user's roles; takes effect on the user's next request, on every instance.
#[utoipa::path(
    put,
    path = "/admin/users/{id}/roles",
    tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = SetRolesRequest,
    responses(
        (status = 200, description = "The user with the new roles", body = UserView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such user", body = Problem),
        (status = 409, description = "Would remove your own admin role", body = Problem),
        (status = 422, description = "Unknown role", body = Problem),
    )
)]
async fn set_user_roles(
    State(state): State<AppState>,
    admin: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
    ValidatedJson(request): ValidatedJson<SetRolesRequest>,
) -> Result<Json<UserView>, AuthError> {
    let id = user_id(path)?;
    let known = state.auth.authorizer.known_roles().await;
    let roles: BTreeSet<String> = request.roles.iter().cloned().collect();
    if let Some(unknown) = roles.iter().find(|role| !known.contains(*role)) {
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        return Err(invalid(
            "roles",
            format!("unknown role `{unknown}` (known: {})", known.join(", ")),
        ));
    }
    if id == admin.id && !roles.contains(ADMIN_ROLE) {
        return Err(AuthError::App(AppError::Conflict(
            "you cannot remove your own admin role: ask another administrator".to_owned(),
        )));
    }
    let user = find_user(&state, id).await?;
    let transaction = state.db.begin().await?;
    rbac::set_roles(&transaction, id, &roles).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::RolesChanged)
                .by(admin.id)
                .on("user", id)
                .fields(&["roles"]),
        )
        .await?;
    transaction.commit().await?;
    // After the commit: an instance reloading on the new version reads the new roles.
    state.auth.tokens.invalidate_cached_user(id).await?;
    tracing::info!(admin_id = %admin.id, user_id = %id, ?roles, "roles set");
    Ok(Json(UserView::new(user, roles.into_iter().collect())))
}

async fn set_active(
    state: &AppState,
    admin: &CurrentUser,
    audit: &AuditContext,
    id: Uuid,
    active: bool,
) -> Result<Json<UserView>, AuthError> {
    if id == admin.id && !active {
        return Err(AuthError::App(AppError::Conflict(
            "you cannot deactivate your own account".to_owned(),
        )));
    }
    let user = find_user(state, id).await?;
    let mut model: users::ActiveModel = user.into();
    model.is_active = Set(active);
    model.updated_at = Set(Utc::now());
    let transaction = state.db.begin().await?;
    let user = model.update(&transaction).await?;
    let action = if active {
        AuditAction::Activated
    } else {
        AuditAction::Deactivated
    };
    audit
        .record(
            &transaction,
            AuditEvent::new(action)
                .by(admin.id)
                .on("user", id)
                .fields(&["is_active"]),
        )
        .await?;
    transaction.commit().await?;
    if !active {
        // Also invalidates the cached account on every instance.
        state.auth.tokens.revoke_user_sessions(id, None).await?;
        tracing::info!(admin_id = %admin.id, user_id = %id, "user deactivated");
    } else {
        state.auth.tokens.invalidate_cached_user(id).await?;
        tracing::info!(admin_id = %admin.id, user_id = %id, "user activated");
    }
    let roles = rbac::roles_of(&state.db, id).await?;
    Ok(Json(UserView::new(user, roles)))
}

/// Deactivate a user
///
/// The user can no longer log in, and every session of the user is revoked at once.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/deactivate",
    tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The deactivated user", body = UserView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such user", body = Problem),
        (status = 409, description = "You cannot deactivate yourself", body = Problem),
    )
)]
async fn deactivate_user(
    State(state): State<AppState>,
    admin: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<UserView>, AuthError> {
    set_active(&state, &admin, &audit, user_id(path)?, false).await
}

/// Reactivate a user
#[utoipa::path(
    post,
    path = "/admin/users/{id}/activate",
    tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The reactivated user", body = UserView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such user", body = Problem),
    )
)]
async fn activate_user(
    State(state): State<AppState>,
    admin: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<UserView>, AuthError> {
    set_active(&state, &admin, &audit, user_id(path)?, true).await
}

/// User statistics
#[utoipa::path(
    get,
    path = "/admin/stats",
    tag = "admin",
    responses(
        (status = 200, description = "Counts of users", body = Stats),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
    )
)]
async fn stats(State(state): State<AppState>) -> Result<Json<Stats>, AuthError> {
    let users_total = users::Entity::find().count(&state.db).await?;
    let users_active = users::Entity::find()
        .filter(users::Column::IsActive.eq(true))
        .count(&state.db)
        .await?;
    let per_role: Vec<(String, i64)> = casbin_rule::Entity::find()
        .select_only()
        .column(casbin_rule::Column::V1)
        .column_as(casbin_rule::Column::Id.count(), "holders")
        .filter(casbin_rule::Column::Ptype.eq(USER_ROLE_PTYPE))
        .group_by(casbin_rule::Column::V1)
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(Json(Stats {
        users_total,
        users_active,
        users_inactive: users_total.saturating_sub(users_active),
        users_per_role: per_role
            .into_iter()
            .map(|(role, holders)| (role, u64::try_from(holders).unwrap_or(0)))
            .collect(),
    }))
}

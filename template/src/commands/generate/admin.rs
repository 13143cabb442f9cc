//! `src/http/PLURAL/admin.rs` (`--soft-delete`): deleted rows — list, restore, or remove for
//! good — for administrators.

use super::Resource;

const TEMPLATE: &str = r#"//! `admin/%plural%/*`: deleted %plural_words% — list, restore, or remove for good. Covered by
//! the `/admin/*` policy.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, ModelTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::extractor::CurrentUser;
use crate::entities::%plural%::{ActiveModel, Column, Entity, Model};
use crate::error::{AppError, Problem};
use crate::http::pagination::{self, Page, PageRequest};
use crate::http::resource::{ResourceError, with_etag};
use crate::state::AppState;

use super::dto::%Type%View as View;
use super::dto::PageQuery;
use super::{ENTITY, dto, path_id, save_if_current};

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Policy, routes!(deleted_%plural%))
        .route(Access::Policy, routes!(restore_%singular%))
        .route(Access::Policy, routes!(purge_%singular%))
}

/// List deleted %plural_words%
///
/// Most recently deleted first.
#[utoipa::path(
    get,
    path = "/admin/%plural%/deleted",
    tag = "admin",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of deleted %plural_words%", body = Page<dto::%Type%View>),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 422, description = "Invalid page", body = Problem),
    )
)]
async fn deleted_%plural%(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<View>>, ResourceError> {
    let query = pagination::query(query)?;
    let page = PageRequest::new(query.page, query.per_page)?;
    let paginator = Entity::find()
        .filter(Column::DeletedAt.is_not_null())
        .order_by_desc(Column::DeletedAt)
        .order_by_desc(Column::Id)
        .paginate(&state.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(View::from)
        .collect();
    Ok(Json(page.envelope(items, total)))
}

async fn find_deleted(state: &AppState, id: Uuid) -> Result<Model, ResourceError> {
    Entity::find_by_id(id)
        .filter(Column::DeletedAt.is_not_null())
        .one(&state.db)
        .await?
        .ok_or(ResourceError::App(AppError::NotFound))
}

/// Restore a deleted %words%
#[utoipa::path(
    post,
    path = "/admin/%plural%/{id}/restore",
    tag = "admin",
    params(("id" = Uuid, Path, description = "%Words% id")),
    responses(
        (status = 200, description = "The restored %words%, with its new `ETag`", body = dto::%Type%View),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No deleted %words% with this id", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn restore_%singular%(
    State(state): State<AppState>,
    admin: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Response, ResourceError> {
    let row = find_deleted(&state, path_id(path)?).await?;
    let mut model: ActiveModel = row.clone().into();
    model.deleted_at = Set(None);
    let transaction = state.db.begin().await?;
    let restored = save_if_current(&transaction, row.id, model, row.version).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Restore)
                .by(admin.id)
                .on(ENTITY, row.id)
                .fields(&["deleted_at"]),
        )
        .await?;
    transaction.commit().await?;
    Ok(with_etag(restored.version, Json(View::from(restored))))
}

/// Remove a deleted %words% for good
///
/// Only a (soft-)deleted %words% can be removed.
#[utoipa::path(
    delete,
    path = "/admin/%plural%/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "%Words% id")),
    responses(
        (status = 204, description = "Removed for good"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No deleted %words% with this id", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn purge_%singular%(
    State(state): State<AppState>,
    admin: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, ResourceError> {
    let row = find_deleted(&state, path_id(path)?).await?;
    let id = row.id;
    let transaction = state.db.begin().await?;
    row.delete(&transaction).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Purge)
                .by(admin.id)
                .on(ENTITY, id),
        )
        .await?;
    transaction.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
"#;

pub fn render(resource: &Resource) -> String {
    resource.fill(TEMPLATE)
}

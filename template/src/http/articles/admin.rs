//! `admin/articles/*`: deleted articles — list, restore, or remove for good (with their
//! comments, by the foreign key's cascade). Covered by the `/admin/*` policy.

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
use crate::entities::articles;
use crate::error::{AppError, Problem};
use crate::http::pagination::{self, Page, PageRequest};
use crate::http::resource::{ResourceError, with_etag};
use crate::state::AppState;

use super::dto::{ArticleView, PageQuery};
use super::{ENTITY, article_id, save_if_current};

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Policy, routes!(list_deleted_articles))
        .route(Access::Policy, routes!(restore_article))
        .route(Access::Policy, routes!(purge_article))
}

/// List deleted articles
///
/// Most recently deleted first.
#[utoipa::path(
    get,
    path = "/admin/articles/deleted",
    tag = "admin",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of deleted articles", body = Page<ArticleView>),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 422, description = "Invalid page", body = Problem),
    )
)]
async fn list_deleted_articles(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<ArticleView>>, ResourceError> {
    let query = pagination::query(query)?;
    let page = PageRequest::new(query.page, query.per_page)?;
    let paginator = articles::Entity::find()
        .filter(articles::Column::DeletedAt.is_not_null())
        .order_by_desc(articles::Column::DeletedAt)
        .order_by_desc(articles::Column::Id)
        .paginate(&state.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(ArticleView::from)
        .collect();
    Ok(Json(page.envelope(items, total)))
}

async fn find_deleted(state: &AppState, id: Uuid) -> Result<articles::Model, ResourceError> {
    articles::Entity::find_by_id(id)
        .filter(articles::Column::DeletedAt.is_not_null())
        .one(&state.db)
        .await?
        .ok_or(ResourceError::App(AppError::NotFound))
}

/// Restore a deleted article
#[utoipa::path(
    post,
    path = "/admin/articles/{id}/restore",
    tag = "admin",
    params(("id" = Uuid, Path, description = "Article id")),
    responses(
        (status = 200, description = "The restored article, with its new `ETag`", body = ArticleView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No deleted article with this id", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn restore_article(
    State(state): State<AppState>,
    admin: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Response, ResourceError> {
    let article = find_deleted(&state, article_id(path)?).await?;
    let mut model: articles::ActiveModel = article.clone().into();
    model.deleted_at = Set(None);
    let transaction = state.db.begin().await?;
    let restored = save_if_current(&transaction, article.id, model, article.version).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Restore)
                .by(admin.id)
                .on(ENTITY, article.id)
                .fields(&["deleted_at"]),
        )
        .await?;
    transaction.commit().await?;
    Ok(with_etag(
        restored.version,
        Json(ArticleView::from(restored)),
    ))
}

/// Remove a deleted article for good
///
/// Only a (soft-)deleted article can be removed; its comments go with it.
#[utoipa::path(
    delete,
    path = "/admin/articles/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "Article id")),
    responses(
        (status = 204, description = "Removed with its comments"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No deleted article with this id", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn purge_article(
    State(state): State<AppState>,
    admin: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, ResourceError> {
    let article = find_deleted(&state, article_id(path)?).await?;
    let id = article.id;
    let transaction = state.db.begin().await?;
    article.delete(&transaction).await?;
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

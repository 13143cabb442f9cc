//! `articles/{id}/comments`: comments on an article the caller can read. A comment is removed
//! by its author or an admin.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::extractor::CurrentUser;
use crate::entities::comments;
use crate::error::{AppError, Problem};
use crate::extract::ValidatedJson;
use crate::http::pagination::{self, Page, PageRequest};
use crate::http::resource::{ResourceError, Viewer, is_admin};
use crate::state::AppState;

use super::dto::{CommentView, NewComment, PageQuery};
use super::{article_id, find_readable};

const ENTITY: &str = "comment";

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Public, routes!(list_comments))
        .route(Access::Policy, routes!(create_comment))
        .route(Access::Policy, routes!(delete_comment))
}

/// List an article's comments
///
/// Oldest first.
#[utoipa::path(
    get,
    path = "/articles/{id}/comments",
    tag = "articles",
    params(("id" = Uuid, Path, description = "Article id"), PageQuery),
    responses(
        (status = 200, description = "One page of comments", body = Page<CommentView>),
        (status = 401, description = "A token was sent but is not valid", body = Problem),
        (status = 404, description = "No such article, deleted, or a draft of someone else", body = Problem),
        (status = 422, description = "Invalid id or page", body = Problem),
    )
)]
async fn list_comments(
    State(state): State<AppState>,
    viewer: Viewer,
    path: Result<Path<Uuid>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<CommentView>>, ResourceError> {
    let article = find_readable(&state, viewer.user(), article_id(path)?).await?;
    let query = pagination::query(query)?;
    let page = PageRequest::new(query.page, query.per_page)?;
    let paginator = comments::Entity::find()
        .filter(comments::Column::ArticleId.eq(article.id))
        .order_by_asc(comments::Column::CreatedAt)
        .order_by_asc(comments::Column::Id)
        .paginate(&state.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(CommentView::from)
        .collect();
    Ok(Json(page.envelope(items, total)))
}

/// Comment on an article
#[utoipa::path(
    post,
    path = "/articles/{id}/comments",
    tag = "articles",
    params(("id" = Uuid, Path, description = "Article id")),
    request_body = NewComment,
    responses(
        (status = 201, description = "Created", body = CommentView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such article, deleted, or a draft of someone else", body = Problem),
        (status = 422, description = "Invalid or unknown field", body = Problem),
    )
)]
async fn create_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
    ValidatedJson(new): ValidatedJson<NewComment>,
) -> Result<(StatusCode, Json<CommentView>), ResourceError> {
    let article = find_readable(&state, Some(&user), article_id(path)?).await?;
    let transaction = state.db.begin().await?;
    let comment = comments::ActiveModel {
        id: Set(Uuid::new_v4()),
        article_id: Set(article.id),
        author_id: Set(user.id),
        body: Set(new.body),
        created_at: Set(Utc::now()),
    }
    .insert(&transaction)
    .await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Create)
                .by(user.id)
                .on(ENTITY, comment.id)
                .fields(&["body"]),
        )
        .await?;
    transaction.commit().await?;
    Ok((StatusCode::CREATED, Json(CommentView::from(comment))))
}

/// Remove a comment
///
/// Its author or an admin only; removed for good.
#[utoipa::path(
    delete,
    path = "/articles/{id}/comments/{comment_id}",
    tag = "articles",
    params(
        ("id" = Uuid, Path, description = "Article id"),
        ("comment_id" = Uuid, Path, description = "Comment id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not the comment's author or an admin", body = Problem),
        (status = 404, description = "No such comment on a readable article", body = Problem),
        (status = 422, description = "An id is not a UUID", body = Problem),
    )
)]
async fn delete_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    path: Result<Path<(Uuid, Uuid)>, PathRejection>,
) -> Result<StatusCode, ResourceError> {
    let Path((id, comment_id)) =
        path.map_err(|_| pagination::invalid("id", "both ids must be UUIDs"))?;
    let article = find_readable(&state, Some(&user), id).await?;
    let comment = comments::Entity::find_by_id(comment_id)
        .filter(comments::Column::ArticleId.eq(article.id))
        .one(&state.db)
        .await?
        .ok_or(ResourceError::App(AppError::NotFound))?;
    if comment.author_id != user.id && !is_admin(&user) {
        return Err(ResourceError::App(AppError::Forbidden));
    }
    let transaction = state.db.begin().await?;
    comment.delete(&transaction).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Purge)
                .by(user.id)
                .on(ENTITY, comment_id),
        )
        .await?;
    transaction.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

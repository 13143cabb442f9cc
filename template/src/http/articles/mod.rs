//! `articles/*`: the example resource — the shape every resource follows.
//!
//! Who may do what:
//! - anyone reads and lists **published** articles; an author also sees their drafts, an admin
//!   sees every draft;
//! - any account (`user` role, policy rows in the migration) creates articles and comments; the
//!   author is the caller, never a field of the body;
//! - only the author or an admin changes or deletes an article. Someone else gets **403** on a
//!   published article (its existence is public anyway) and **404** on a draft (whose existence
//!   must not leak);
//! - deletes are soft (`deleted_at`): the article vanishes from every read, and an admin lists
//!   and restores deleted articles (`admin.rs`), or removes one for good with its comments.
//!
//! Every response carrying an article has its `ETag`; `PATCH` requires `If-Match` (428 without,
//! 412 when stale), `DELETE` honours it when sent (see `http::resource`). Each change writes an
//! audit event in its own transaction.

mod admin;
mod comments;
pub mod dto;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, Select, TransactionTrait,
};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::extractor::CurrentUser;
use crate::entities::articles;
use crate::error::{AppError, Problem};
use crate::extract::ValidatedJson;
use crate::http::pagination::{self, Page, PageRequest};
use crate::http::resource::{IfMatch, ResourceError, Viewer, is_admin, with_etag};
use crate::state::AppState;

use self::dto::{ArticleChanges, ArticleSort, ArticleView, ListArticlesQuery, NewArticle};

/// Entity type of the audit events.
pub const ENTITY: &str = "article";

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Public, routes!(list_articles))
        .route(Access::Policy, routes!(create_article))
        .route(Access::Public, routes!(get_article))
        .route(Access::Policy, routes!(update_article))
        .route(Access::Policy, routes!(delete_article))
        .merge(comments::routes())
        .merge(admin::routes())
}

pub(crate) fn article_id(path: Result<Path<Uuid>, PathRejection>) -> Result<Uuid, AppError> {
    path.map(|Path(id)| id)
        .map_err(|_| pagination::invalid("id", "must be a UUID"))
}

/// Articles that are not deleted and that `viewer` may read.
pub(crate) fn readable_by(viewer: Option<&CurrentUser>) -> Select<articles::Entity> {
    let select = articles::Entity::find().filter(articles::Column::DeletedAt.is_null());
    match viewer {
        Some(user) if is_admin(user) => select,
        Some(user) => select.filter(
            Condition::any()
                .add(articles::Column::Published.eq(true))
                .add(articles::Column::AuthorId.eq(user.id)),
        ),
        None => select.filter(articles::Column::Published.eq(true)),
    }
}

/// The live article `id` as `viewer` may see it; 404 when it is deleted or a draft of someone
/// else.
pub(crate) async fn find_readable(
    state: &AppState,
    viewer: Option<&CurrentUser>,
    id: Uuid,
) -> Result<articles::Model, ResourceError> {
    readable_by(viewer)
        .filter(articles::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(ResourceError::App(AppError::NotFound))
}

/// The live article `id`, if `user` may change it: 404 when `user` may not even read it, 403
/// when it may read but not change it.
async fn find_writable(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<articles::Model, ResourceError> {
    let article = find_readable(state, Some(user), id).await?;
    if article.author_id != user.id && !is_admin(user) {
        return Err(ResourceError::App(AppError::Forbidden));
    }
    Ok(article)
}

fn sorted(select: Select<articles::Entity>, sort: ArticleSort) -> Select<articles::Entity> {
    let (column, order) = match sort {
        ArticleSort::CreatedAt => (articles::Column::CreatedAt, Order::Asc),
        ArticleSort::CreatedAtDesc => (articles::Column::CreatedAt, Order::Desc),
        ArticleSort::UpdatedAt => (articles::Column::UpdatedAt, Order::Asc),
        ArticleSort::UpdatedAtDesc => (articles::Column::UpdatedAt, Order::Desc),
        ArticleSort::Title => (articles::Column::Title, Order::Asc),
        ArticleSort::TitleDesc => (articles::Column::Title, Order::Desc),
    };
    // The id breaks ties, so pages never overlap or skip rows.
    select
        .order_by(column, order.clone())
        .order_by(articles::Column::Id, order)
}

/// List articles
///
/// Published articles, plus the caller's drafts (every draft for an admin).
#[utoipa::path(
    get,
    path = "/articles",
    tag = "articles",
    params(ListArticlesQuery),
    responses(
        (status = 200, description = "One page of articles", body = Page<ArticleView>),
        (status = 401, description = "A token was sent but is not valid", body = Problem),
        (status = 422, description = "Invalid page, filter or sort", body = Problem),
    )
)]
async fn list_articles(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<ListArticlesQuery>, QueryRejection>,
) -> Result<Json<Page<ArticleView>>, ResourceError> {
    let query = pagination::query(query)?;
    let page = PageRequest::new(query.page, query.per_page)?;
    let mut select = readable_by(viewer.user());
    if let Some(published) = query.published {
        select = select.filter(articles::Column::Published.eq(published));
    }
    if let Some(author_id) = query.author_id {
        select = select.filter(articles::Column::AuthorId.eq(author_id));
    }
    let paginator =
        sorted(select, query.sort.unwrap_or_default()).paginate(&state.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(ArticleView::from)
        .collect();
    Ok(Json(page.envelope(items, total)))
}

/// Create an article
#[utoipa::path(
    post,
    path = "/articles",
    tag = "articles",
    request_body = NewArticle,
    responses(
        (status = 201, description = "Created; `Location` and `ETag` set", body = ArticleView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 422, description = "Invalid or unknown field", body = Problem),
    )
)]
async fn create_article(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    ValidatedJson(new): ValidatedJson<NewArticle>,
) -> Result<Response, ResourceError> {
    let now = Utc::now();
    let transaction = state.db.begin().await?;
    let article = articles::ActiveModel {
        id: Set(Uuid::new_v4()),
        author_id: Set(user.id),
        title: Set(new.title.trim().to_owned()),
        body: Set(new.body),
        published: Set(new.published),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&transaction)
    .await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Create)
                .by(user.id)
                .on(ENTITY, article.id)
                .fields(&["title", "body", "published"]),
        )
        .await?;
    transaction.commit().await?;
    let location = format!("{}/articles/{}", state.settings.api_prefix, article.id);
    Ok(with_etag(
        article.version,
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(ArticleView::from(article)),
        ),
    ))
}

/// Get an article
#[utoipa::path(
    get,
    path = "/articles/{id}",
    tag = "articles",
    params(("id" = Uuid, Path, description = "Article id")),
    responses(
        (status = 200, description = "The article, with its `ETag`", body = ArticleView),
        (status = 401, description = "A token was sent but is not valid", body = Problem),
        (status = 404, description = "No such article, deleted, or a draft of someone else", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn get_article(
    State(state): State<AppState>,
    viewer: Viewer,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Response, ResourceError> {
    let article = find_readable(&state, viewer.user(), article_id(path)?).await?;
    Ok(with_etag(article.version, Json(ArticleView::from(article))))
}

/// Change an article
///
/// Author or admin only. `If-Match` with the article's current `ETag` is required.
#[utoipa::path(
    patch,
    path = "/articles/{id}",
    tag = "articles",
    params(
        ("id" = Uuid, Path, description = "Article id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version being changed"),
    ),
    request_body = ArticleChanges,
    responses(
        (status = 200, description = "The changed article, with its new `ETag`", body = ArticleView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not the author or an admin", body = Problem),
        (status = 404, description = "No such article, deleted, or a draft of someone else", body = Problem),
        (status = 412, description = "`If-Match` is stale: the article changed", body = Problem),
        (status = 422, description = "Invalid or unknown field", body = Problem),
        (status = 428, description = "`If-Match` is missing", body = Problem),
    )
)]
async fn update_article(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
    ValidatedJson(changes): ValidatedJson<ArticleChanges>,
) -> Result<Response, ResourceError> {
    // A change without `If-Match` is refused before anything is read: 428 whatever the id.
    let if_match = IfMatch::from_headers(&headers);
    if if_match == IfMatch::Absent {
        return Err(ResourceError::PreconditionRequired);
    }
    let article = find_writable(&state, &user, article_id(path)?).await?;
    if_match.require(article.version)?;

    let mut model: articles::ActiveModel = article.clone().into();
    let mut changed = Vec::new();
    if let Some(title) = changes.title.map(|title| title.trim().to_owned())
        && title != article.title
    {
        model.title = Set(title);
        changed.push("title");
    }
    if let Some(body) = changes.body
        && body != article.body
    {
        model.body = Set(body);
        changed.push("body");
    }
    if let Some(published) = changes.published
        && published != article.published
    {
        model.published = Set(published);
        changed.push("published");
    }
    if changed.is_empty() {
        return Ok(with_etag(article.version, Json(ArticleView::from(article))));
    }
    let transaction = state.db.begin().await?;
    let updated = save_if_current(&transaction, article.id, model, article.version).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Update)
                .by(user.id)
                .on(ENTITY, updated.id)
                .fields(&changed),
        )
        .await?;
    transaction.commit().await?;
    Ok(with_etag(updated.version, Json(ArticleView::from(updated))))
}

/// Writes `model` with the next version, only if the row is still at `version`: the check and
/// the write are one statement, so of two concurrent changes of the same version one gets 412.
pub(crate) async fn save_if_current(
    connection: &impl ConnectionTrait,
    id: Uuid,
    mut model: articles::ActiveModel,
    version: i32,
) -> Result<articles::Model, ResourceError> {
    model.version = Set(version + 1);
    model.updated_at = Set(Utc::now());
    let result = articles::Entity::update_many()
        .set(model)
        .filter(articles::Column::Id.eq(id))
        .filter(articles::Column::Version.eq(version))
        .exec(connection)
        .await?;
    if result.rows_affected == 0 {
        return Err(ResourceError::PreconditionFailed);
    }
    articles::Entity::find_by_id(id)
        .one(connection)
        .await?
        .ok_or(ResourceError::App(AppError::NotFound))
}

/// Delete an article
///
/// Author or admin only. Soft delete: the article disappears from every read; an admin can
/// restore it. `If-Match` is optional; a stale one is refused.
#[utoipa::path(
    delete,
    path = "/articles/{id}",
    tag = "articles",
    params(
        ("id" = Uuid, Path, description = "Article id"),
        ("If-Match" = Option<String>, Header, description = "Delete only this version"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not the author or an admin", body = Problem),
        (status = 404, description = "No such article, already deleted, or a draft of someone else", body = Problem),
        (status = 412, description = "`If-Match` is stale: the article changed", body = Problem),
    )
)]
async fn delete_article(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, ResourceError> {
    let article = find_writable(&state, &user, article_id(path)?).await?;
    IfMatch::from_headers(&headers).check(article.version)?;
    let mut model: articles::ActiveModel = article.clone().into();
    model.deleted_at = Set(Some(Utc::now()));
    let transaction = state.db.begin().await?;
    save_if_current(&transaction, article.id, model, article.version).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Delete)
                .by(user.id)
                .on(ENTITY, article.id)
                .fields(&["deleted_at"]),
        )
        .await?;
    transaction.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

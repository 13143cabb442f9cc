//! `files/*`: uploads kept encrypted in object storage (see `crate::files`).
//!
//! Who may do what:
//! - any account (`user` role, policy rows in the migration) uploads files and lists its own;
//! - a file is read, downloaded or deleted by its owner or an admin. Anyone else gets **404**,
//!   exactly as for a file that does not exist, so ids reveal nothing;
//! - the download is always `Content-Disposition: attachment` with the sniffed type and
//!   `X-Content-Type-Options: nosniff`: a browser never renders an upload as a page.
//!
//! Upload and delete write an audit event in the transaction of the row. A deleted file's row
//! (and so its wrapped data key) is gone at commit; the object is deleted after, and an object
//! left behind by a failed delete cannot be decrypted by anyone.

pub mod dto;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ModelTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::extractor::CurrentUser;
use crate::entities::stored_files;
use crate::error::{AppError, Dependency, Problem};
use crate::files::keys::WrappedKey;
use crate::files::{BodyError, DownloadError, UploadError, object_path};
use crate::http::pagination::{self, Page, PageRequest};
use crate::http::resource::is_admin;
use crate::state::AppState;

use self::dto::{
    FileContent, FileView, ListFilesQuery, UploadForm, content_disposition, sanitize_filename,
};

/// Entity type of the audit events.
pub const ENTITY: &str = "file";
/// Room for the multipart framing (boundaries, part headers) above `FILES_MAX_BYTES`.
pub const MULTIPART_OVERHEAD_BYTES: usize = 64 * 1024;

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Policy, routes!(list_files))
        .route(Access::Policy, routes!(get_file))
        .route(Access::Policy, routes!(download_file))
        .route(Access::Policy, routes!(delete_file))
        .merge(
            DeclaredRoutes::new()
                .route(Access::Policy, routes!(upload_file))
                .layer_with(|router, state| {
                    let limit = usize::try_from(state.settings.files_max_bytes)
                        .unwrap_or(usize::MAX)
                        .saturating_add(MULTIPART_OVERHEAD_BYTES);
                    router.layer(DefaultBodyLimit::max(limit))
                }),
        )
}

/// What the files routes answer besides the shared application errors.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Download(#[from] DownloadError),
}

impl From<sea_orm::DbErr> for FileError {
    fn from(error: sea_orm::DbErr) -> Self {
        FileError::App(AppError::Database(error))
    }
}

fn invalid_form(message: &str) -> FileError {
    FileError::App(pagination::invalid("file", message))
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        let error = match self {
            FileError::App(error) => return error.into_response(),
            other => other,
        };
        let chain = crate::error_chain::Chain(&error).to_string();
        let problem = |status: StatusCode| Problem::new(status).with_detail(error.to_string());
        match &error {
            FileError::App(_) => AppError::Internal(chain.clone()).into_response(),
            FileError::Upload(UploadError::Body(body)) => Problem::new(body.status)
                .with_detail(body.detail.clone())
                .into_response(),
            FileError::Upload(UploadError::TooLarge { .. }) => {
                problem(StatusCode::PAYLOAD_TOO_LARGE).into_response()
            }
            FileError::Upload(UploadError::Empty) => {
                invalid_form("must not be empty").into_response()
            }
            FileError::Upload(
                UploadError::UnknownType { .. } | UploadError::TypeNotAllowed { .. },
            ) => problem(StatusCode::UNSUPPORTED_MEDIA_TYPE).into_response(),
            FileError::Upload(UploadError::Infected(_)) => {
                tracing::warn!(error = %chain, "infected upload refused");
                problem(StatusCode::UNPROCESSABLE_ENTITY).into_response()
            }
            FileError::Upload(UploadError::Scanner(_)) => {
                tracing::error!(error = %chain, "antivirus unavailable: upload refused");
                AppError::Unavailable(Dependency::Antivirus).into_response()
            }
            FileError::Upload(UploadError::Storage(_))
            | FileError::Download(DownloadError::Storage(_)) => {
                tracing::error!(error = %chain, "object storage failed");
                AppError::Unavailable(Dependency::ObjectStorage).into_response()
            }
            FileError::Upload(UploadError::Encryption(_)) | FileError::Download(_) => {
                tracing::error!(error = %chain, "stored file unusable");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                    .with_detail("the stored file failed its integrity check")
                    .into_response()
            }
        }
    }
}

fn file_id(path: Result<Path<Uuid>, PathRejection>) -> Result<Uuid, FileError> {
    path.map(|Path(id)| id)
        .map_err(|_| FileError::App(pagination::invalid("id", "must be a UUID")))
}

/// File `id` if `user` owns it or is an admin; 404 otherwise, as if it did not exist.
async fn find_visible(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<stored_files::Model, FileError> {
    let mut select = stored_files::Entity::find_by_id(id);
    if !is_admin(user) {
        select = select.filter(stored_files::Column::OwnerId.eq(user.id));
    }
    select
        .one(&state.db)
        .await?
        .ok_or(FileError::App(AppError::NotFound))
}

/// List your files
///
/// The caller's own files, newest first.
#[utoipa::path(
    get,
    path = "/files",
    tag = "files",
    params(ListFilesQuery),
    responses(
        (status = 200, description = "One page of the caller's files", body = Page<FileView>),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 422, description = "Invalid page", body = Problem),
    )
)]
async fn list_files(
    State(state): State<AppState>,
    user: CurrentUser,
    query: Result<Query<ListFilesQuery>, QueryRejection>,
) -> Result<Json<Page<FileView>>, FileError> {
    let query = pagination::query(query)?;
    let page = PageRequest::new(query.page, query.per_page)?;
    let paginator = stored_files::Entity::find()
        .filter(stored_files::Column::OwnerId.eq(user.id))
        .order_by(stored_files::Column::CreatedAt, Order::Desc)
        .order_by(stored_files::Column::Id, Order::Desc)
        .paginate(&state.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(FileView::from)
        .collect();
    Ok(Json(page.envelope(items, total)))
}

/// Upload a file
///
/// `multipart/form-data` with one part, `file`, carrying a file name. The body is streamed:
/// sniffed, hashed, scanned by clamd when `CLAMD_ADDRESS` is set, encrypted and written to
/// object storage as it arrives. Refused files leave nothing behind.
#[utoipa::path(
    post,
    path = "/files",
    tag = "files",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; `Location` names the file", body = FileView),
        (status = 400, description = "Malformed multipart body", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 413, description = "Larger than `FILES_MAX_BYTES`", body = Problem),
        (status = 415, description = "Not multipart/form-data, or the sniffed type is not in `FILES_ALLOWED_TYPES`", body = Problem),
        (status = 422, description = "No `file` part, an extra part, an empty file, or the antivirus found a threat", body = Problem),
        (status = 503, description = "Object storage or the antivirus is unavailable (nothing stored)", body = Problem),
    )
)]
async fn upload_file(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, FileError> {
    let mut multipart = multipart.map_err(|rejection| {
        AppError::UnsupportedMediaType(format!(
            "send multipart/form-data with a `file` part ({})",
            rejection.body_text()
        ))
    })?;
    let body_error = |error: axum::extract::multipart::MultipartError| {
        FileError::Upload(UploadError::Body(BodyError {
            status: error.status(),
            detail: error.body_text(),
        }))
    };
    let Some(field) = multipart.next_field().await.map_err(body_error)? else {
        return Err(invalid_form("is missing: send one part named `file`"));
    };
    if field.name() != Some("file") {
        return Err(invalid_form("send one part named `file` and no other"));
    }
    let Some(raw_name) = field.file_name() else {
        return Err(invalid_form("the `file` part needs a file name"));
    };
    let filename = sanitize_filename(raw_name);
    let store = state.storage.store();
    let stored = state
        .vault
        .store(
            &store,
            field.map_err(|error| BodyError {
                status: error.status(),
                detail: error.body_text(),
            }),
        )
        .await?;
    let location = object_path(stored.id);
    // One file per request: a second part is refused, and what was stored goes.
    let extra = multipart.next_field().await;
    if !matches!(extra, Ok(None)) {
        delete_object(&state, &location).await;
        return Err(match extra {
            Err(error) => body_error(error),
            _ => invalid_form("send one part named `file` and no other"),
        });
    }

    let saved = async {
        let transaction = state.db.begin().await?;
        let file = stored_files::ActiveModel {
            id: Set(stored.id),
            owner_id: Set(user.id),
            filename: Set(filename),
            content_type: Set(stored.content_type.clone()),
            size_bytes: Set(i64::try_from(stored.size_bytes).unwrap_or(i64::MAX)),
            sha256: Set(stored.sha256.clone()),
            key_id: Set(stored.key.key_id.clone()),
            wrapped_key: Set(stored.key.wrapped.clone()),
            created_at: Set(Utc::now()),
        }
        .insert(&transaction)
        .await?;
        audit
            .record(
                &transaction,
                AuditEvent::new(AuditAction::Create)
                    .by(user.id)
                    .on(ENTITY, file.id)
                    .fields(&["filename", "content_type", "size_bytes"]),
            )
            .await?;
        transaction.commit().await?;
        Ok::<_, sea_orm::DbErr>(file)
    }
    .await;
    let file = match saved {
        Ok(file) => file,
        Err(error) => {
            delete_object(&state, &location).await;
            return Err(error.into());
        }
    };
    let location = format!("{}/files/{}", state.settings.api_prefix, file.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(FileView::from(file)),
    )
        .into_response())
}

async fn delete_object(state: &AppState, location: &object_store::path::Path) {
    if let Err(error) = state.storage.store().delete(location).await {
        tracing::warn!(%error, %location, "deleting an unused object failed");
    }
}

/// Get a file's metadata
#[utoipa::path(
    get,
    path = "/files/{id}",
    tag = "files",
    params(("id" = Uuid, Path, description = "File id")),
    responses(
        (status = 200, description = "The file's metadata", body = FileView),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such file, or not yours", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn get_file(
    State(state): State<AppState>,
    user: CurrentUser,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<FileView>, FileError> {
    let file = find_visible(&state, &user, file_id(path)?).await?;
    Ok(Json(FileView::from(file)))
}

/// Download a file
///
/// The decrypted content, streamed, as an attachment with the type sniffed at upload. A file
/// whose stored bytes fail authentication is refused (500) or, past its first chunk, the
/// transfer is cut short: no unauthenticated byte is ever sent.
#[utoipa::path(
    get,
    path = "/files/{id}/content",
    tag = "files",
    params(("id" = Uuid, Path, description = "File id")),
    responses(
        (status = 200, description = "The content, as `Content-Disposition: attachment`",
            content_type = "*/*", body = FileContent),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such file, or not yours", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
        (status = 500, description = "The stored file failed its integrity check", body = Problem),
        (status = 503, description = "Object storage is unavailable", body = Problem),
    )
)]
async fn download_file(
    State(state): State<AppState>,
    user: CurrentUser,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Response, FileError> {
    let file = find_visible(&state, &user, file_id(path)?).await?;
    let key = WrappedKey {
        key_id: file.key_id.clone(),
        wrapped: file.wrapped_key.clone(),
    };
    let size = u64::try_from(file.size_bytes).unwrap_or_default();
    let plaintext = state
        .vault
        .open(&state.storage.store(), file.id, &key, size)
        .await?;
    let id = file.id;
    let body = Body::from_stream(plaintext.inspect_err(move |error| {
        tracing::error!(file = %id, error = %crate::error_chain::Chain(error), "download cut short");
    }));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(disposition) = HeaderValue::from_str(&content_disposition(&file.filename)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// Delete a file
///
/// Owner or admin. The row and its data key go in one transaction with the audit event; the
/// object is deleted after.
#[utoipa::path(
    delete,
    path = "/files/{id}",
    tag = "files",
    params(("id" = Uuid, Path, description = "File id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such file, or not yours", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn delete_file(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, FileError> {
    let file = find_visible(&state, &user, file_id(path)?).await?;
    let id = file.id;
    let transaction = state.db.begin().await?;
    file.delete(&transaction).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Purge)
                .by(user.id)
                .on(ENTITY, id),
        )
        .await?;
    transaction.commit().await?;
    delete_object(&state, &object_path(id)).await;
    Ok(StatusCode::NO_CONTENT)
}

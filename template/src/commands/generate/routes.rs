//! `src/http/PLURAL/mod.rs`: the handlers, their OpenAPI annotations and access declarations.

use super::Resource;
use super::fields::FieldType;

const HEAD: &str = r#"//! `%plural%/*`: the %words% resource, written by `generate resource` — yours to edit.
//!
//! Who may do what:
//! - any account (`user` role, policy rows in `migration/src/%policy_migration%.rs`)
//!   lists, reads and creates %plural_words%;
%who_changes%%how_deletes%//!
//! Every response carrying a %words% has its `ETag`; `PATCH` requires `If-Match` (428 without,
//! 412 when stale), `DELETE` honours it when sent (see `http::resource`). Each change writes an
//! audit event in its own transaction.

%admin_module%pub mod dto;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic,
    Iterable, Order, PaginatorTrait, QueryFilter, QueryOrder, Select, TransactionTrait,
};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::access::{Access, DeclaredRoutes};
use crate::auth::extractor::CurrentUser;
use crate::entities::%plural%::{ActiveModel, Column, Entity, Model};
use crate::error::{AppError, Problem};
use crate::extract::ValidatedJson;
use crate::http::pagination::{self, Page, PageRequest};
use crate::http::resource::%resource_imports%;
use crate::state::AppState;

%dto_imports%
/// Entity type of the audit events.
pub const ENTITY: &str = "%singular%";

/// Where the collection is served, below the API prefix.
const PATH: &str = "/%plural%";

/// Columns the server keeps; the others are the fields a client sets.
const BOOKKEEPING: &[&str] = &[
    "id",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
    "deleted_at",
];

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Policy, routes!(list_%plural%))
        .route(Access::Policy, routes!(create_%singular%))
        .route(Access::Policy, routes!(get_%singular%))
        .route(Access::Policy, routes!(update_%singular%))
        .route(Access::Policy, routes!(delete_%singular%))
%admin_routes%}

/// The fields a client sets, named in the audit event of a create.
fn client_fields() -> Vec<&'static str> {
    Column::iter()
        .map(|column| column.as_str())
        .filter(|name| !BOOKKEEPING.contains(name))
        .collect()
}

fn path_id(path: Result<Path<Uuid>, PathRejection>) -> Result<Uuid, AppError> {
    path.map(|Path(id)| id)
        .map_err(|_| pagination::invalid("id", "must be a UUID"))
}

/// The %plural_words% every read sees%live_note%.
fn live() -> Select<Entity> {
%live_body%}

/// The %words% `id`; 404 when there is none%live_note%.
async fn find_live(state: &AppState, id: Uuid) -> Result<Model, ResourceError> {
    live()
        .filter(Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(ResourceError::App(AppError::NotFound))
}
%find_writable%
fn sorted(select: Select<Entity>, sort: Sort) -> Select<Entity> {
    let (column, order) = match sort {
        Sort::CreatedAt => (Column::CreatedAt, Order::Asc),
        Sort::CreatedAtDesc => (Column::CreatedAt, Order::Desc),
        Sort::UpdatedAt => (Column::UpdatedAt, Order::Asc),
        Sort::UpdatedAtDesc => (Column::UpdatedAt, Order::Desc),
%sort_arms%    };
    // The id breaks ties, so pages never overlap or skip rows.
    select
        .order_by(column, order.clone())
        .order_by(Column::Id, order)
}
%decimal_helper%
/// List %plural_words%
///
/// One page, filtered and sorted on the listed parameters only.
#[utoipa::path(
    get,
    path = "/%plural%",
    tag = "%plural%",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of %plural_words%", body = Page<dto::%Type%View>),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 422, description = "Invalid page, filter or sort", body = Problem),
    )
)]
async fn list_%plural%(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<View>>, ResourceError> {
    let query = pagination::query(query)?;
    let page = PageRequest::new(query.page, query.per_page)?;
%filters%    let paginator =
        sorted(select, query.sort.unwrap_or_default()).paginate(&state.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(View::from)
        .collect();
    Ok(Json(page.envelope(items, total)))
}

/// Create a %words%
#[utoipa::path(
    post,
    path = "/%plural%",
    tag = "%plural%",
    request_body = dto::New%Type%,
    responses(
        (status = 201, description = "Created; `Location` and `ETag` set", body = dto::%Type%View),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 422, description = "Invalid or unknown field", body = Problem),
    )
)]
async fn create_%singular%(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    ValidatedJson(new): ValidatedJson<New%Type%>,
) -> Result<Response, ResourceError> {
    let now = Utc::now();
    let row = ActiveModel {
        id: Set(Uuid::new_v4()),
%create_fields%        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
%create_deleted%    };
    let transaction = state.db.begin().await?;
    let row = row.insert(&transaction).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Create)
                .by(user.id)
                .on(ENTITY, row.id)
                .fields(&client_fields()),
        )
        .await?;
    transaction.commit().await?;
    let location = format!("{}{PATH}/{}", state.settings.api_prefix, row.id);
    Ok(with_etag(
        row.version,
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(View::from(row)),
        ),
    ))
}

/// Get a %words%
#[utoipa::path(
    get,
    path = "/%plural%/{id}",
    tag = "%plural%",
    params(("id" = Uuid, Path, description = "%Words% id")),
    responses(
        (status = 200, description = "The %words%, with its `ETag`", body = dto::%Type%View),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 404, description = "No such %words%%deleted_note%", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn get_%singular%(
    State(state): State<AppState>,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Response, ResourceError> {
    let row = find_live(&state, path_id(path)?).await?;
    Ok(with_etag(row.version, Json(View::from(row))))
}

/// Change a %words%
///
/// %changer%. `If-Match` with the %words%'s current `ETag` is required.
#[utoipa::path(
    patch,
    path = "/%plural%/{id}",
    tag = "%plural%",
    params(
        ("id" = Uuid, Path, description = "%Words% id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version being changed"),
    ),
    request_body = dto::%Type%Changes,
    responses(
        (status = 200, description = "The changed %words%, with its new `ETag`", body = dto::%Type%View),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "%forbidden%", body = Problem),
        (status = 404, description = "No such %words%%deleted_note%", body = Problem),
        (status = 412, description = "`If-Match` is stale: the %words% changed", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 422, description = "Invalid or unknown field, or the id is not a UUID", body = Problem),
        (status = 428, description = "`If-Match` is missing", body = Problem),
    )
)]
async fn update_%singular%(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
    ValidatedJson(changes): ValidatedJson<%Type%Changes>,
) -> Result<Response, ResourceError> {
    let row = %find_for_change%;
    IfMatch::from_headers(&headers).require(row.version)?;

    let mut model: ActiveModel = row.clone().into();
    let mut changed = Vec::new();
%update_fields%    if changed.is_empty() {
        return Ok(with_etag(row.version, Json(View::from(row))));
    }
    let transaction = state.db.begin().await?;
    let updated = save_if_current(&transaction, row.id, model, row.version).await?;
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
    Ok(with_etag(updated.version, Json(View::from(updated))))
}

/// Writes `model` with the next version, only if the row is still at `version`: the check and
/// the write are one statement, so of two concurrent changes of the same version one gets 412.
async fn save_if_current(
    connection: &impl ConnectionTrait,
    id: Uuid,
    mut model: ActiveModel,
    version: i32,
) -> Result<Model, ResourceError> {
    model.version = Set(version + 1);
    model.updated_at = Set(Utc::now());
    let result = Entity::update_many()
        .set(model)
        .filter(Column::Id.eq(id))
        .filter(Column::Version.eq(version))
        .exec(connection)
        .await?;
    if result.rows_affected == 0 {
        return Err(ResourceError::PreconditionFailed);
    }
    Entity::find_by_id(id)
        .one(connection)
        .await?
        .ok_or(ResourceError::App(AppError::NotFound))
}

/// Delete a %words%
///
/// %changer%. %delete_kind% `If-Match` is optional; a stale one is refused.
#[utoipa::path(
    delete,
    path = "/%plural%/{id}",
    tag = "%plural%",
    params(
        ("id" = Uuid, Path, description = "%Words% id"),
        ("If-Match" = Option<String>, Header, description = "Delete only this version"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "%forbidden%", body = Problem),
        (status = 404, description = "No such %words%%deleted_note%", body = Problem),
        (status = 412, description = "`If-Match` is stale: the %words% changed", body = Problem),
        (status = 422, description = "The id is not a UUID", body = Problem),
    )
)]
async fn delete_%singular%(
    State(state): State<AppState>,
    user: CurrentUser,
    audit: AuditContext,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, ResourceError> {
    let row = %find_for_change%;
    IfMatch::from_headers(&headers).check(row.version)?;
%delete_body%    transaction.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
"#;

const FIND_WRITABLE: &str = r#"
/// The %words% `id`, if `user` may change it: 404 when there is none, 403 when it is someone
/// else's and `user` is not an admin.
async fn find_writable(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<Model, ResourceError> {
    let row = find_live(state, id).await?;
    if row.owner_id != user.id && !is_admin(user) {
        return Err(ResourceError::App(AppError::Forbidden));
    }
    Ok(row)
}
"#;

const DECIMAL_HELPER: &str = r#"
/// A decimal the body's rules already checked (`decimal_text`), as a number.
fn decimal(field: &str, text: &str) -> Result<sea_orm::prelude::Decimal, ResourceError> {
    text.parse()
        .map_err(|_| pagination::invalid(field, "must be a decimal number").into())
}
"#;

const SOFT_DELETE: &str = r#"    let mut model: ActiveModel = row.clone().into();
    model.deleted_at = Set(Some(Utc::now()));
    let transaction = state.db.begin().await?;
    save_if_current(&transaction, row.id, model, row.version).await?;
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Delete)
                .by(user.id)
                .on(ENTITY, row.id)
                .fields(&["deleted_at"]),
        )
        .await?;
"#;

const HARD_DELETE: &str = r#"    let transaction = state.db.begin().await?;
    // Only the version `If-Match` named (or the one just read): a concurrent change wins.
    let result = Entity::delete_many()
        .filter(Column::Id.eq(row.id))
        .filter(Column::Version.eq(row.version))
        .exec(&transaction)
        .await?;
    if result.rows_affected == 0 {
        return Err(ResourceError::PreconditionFailed);
    }
    audit
        .record(
            &transaction,
            AuditEvent::new(AuditAction::Purge)
                .by(user.id)
                .on(ENTITY, row.id),
        )
        .await?;
"#;

const STRING_CHANGE: &str = r#"    if let Some(value) = changes.NAME.map(|value| value.trim().to_owned())
        && value != row.NAME
    {
        model.NAME = Set(value);
        changed.push("NAME");
    }
"#;

const DECIMAL_CHANGE: &str = r#"    if let Some(text) = changes.NAME {
        let value = decimal("NAME", &text)?;
        if value != row.NAME {
            model.NAME = Set(value);
            changed.push("NAME");
        }
    }
"#;

const VALUE_CHANGE: &str = r#"    if let Some(value) = changes.NAME
        && value != row.NAME
    {
        model.NAME = Set(value);
        changed.push("NAME");
    }
"#;

pub fn render(resource: &Resource) -> String {
    let owned = resource.owned;
    let soft = resource.soft_delete;
    let mut dto_imports = [
        "use self::dto::%Type%Changes;".to_owned(),
        "use self::dto::%Type%Sort as Sort;".to_owned(),
        "use self::dto::%Type%View as View;".to_owned(),
        "use self::dto::ListQuery;".to_owned(),
        "use self::dto::New%Type%;".to_owned(),
    ];
    let type_name = &resource.name.type_name;
    dto_imports.sort_by_key(|line| line.replace("%Type%", type_name));
    let mut dto_imports = dto_imports.join("\n");
    dto_imports.push('\n');

    let who_changes = if owned {
        "//! - the owner is the caller, never a field of the body; only the owner or an admin changes\n\
         //!   or deletes a %words%, anyone else gets 403 (to hide other people's %plural_words%\n\
         //!   instead, filter `live()` on the owner: they get 404);\n"
    } else {
        "//! - any account changes and deletes any %words% (`generate resource … --owned` makes each\n\
         //!   row its creator's);\n"
    };
    let how_deletes = if soft {
        "//! - deletes are soft (`deleted_at`): the %words% vanishes from every read, and an admin\n\
         //!   lists and restores deleted %plural_words% (`admin.rs`), or removes one for good.\n"
    } else {
        "//! - a delete removes the row for good.\n"
    };
    let resource_imports = if owned {
        "{IfMatch, ResourceError, is_admin, with_etag}"
    } else {
        "{IfMatch, ResourceError, with_etag}"
    };

    let mut sort_arms = String::new();
    for field in resource.fields.iter().filter(|field| field.kind.sortable()) {
        let variant = field.type_name();
        sort_arms.push_str(&format!(
            "        Sort::{variant} => (Column::{variant}, Order::Asc),\n        \
             Sort::{variant}Desc => (Column::{variant}, Order::Desc),\n"
        ));
    }

    let mut filters = Vec::new();
    if owned {
        filters.push(("owner_id".to_owned(), "OwnerId".to_owned()));
    }
    for field in resource
        .fields
        .iter()
        .filter(|field| field.kind.filterable())
    {
        filters.push((field.name.clone(), field.type_name()));
    }
    let mut filter_code = String::new();
    if filters.is_empty() {
        filter_code.push_str("    let select = live();\n");
    } else {
        filter_code.push_str("    let mut select = live();\n");
        for (name, variant) in &filters {
            filter_code.push_str(
                &"    if let Some(value) = query.NAME {\n        \
                  select = select.filter(Column::VARIANT.eq(value));\n    }\n"
                    .replace("NAME", name)
                    .replace("VARIANT", variant),
            );
        }
    }

    let mut create_fields = String::new();
    if owned {
        create_fields.push_str("        owner_id: Set(user.id),\n");
    }
    let mut update_fields = String::new();
    for field in &resource.fields {
        let name = &field.name;
        let value = match field.kind {
            FieldType::String => format!("new.{name}.trim().to_owned()"),
            FieldType::Decimal => format!("decimal(\"{name}\", &new.{name})?"),
            _ => format!("new.{name}"),
        };
        create_fields.push_str(&format!("        {name}: Set({value}),\n"));
        let template = match field.kind {
            FieldType::String => STRING_CHANGE,
            FieldType::Decimal => DECIMAL_CHANGE,
            _ => VALUE_CHANGE,
        };
        update_fields.push_str(&template.replace("NAME", name));
    }

    let find_for_change = if owned {
        "find_writable(&state, &user, path_id(path)?).await?"
    } else {
        "find_live(&state, path_id(path)?).await?"
    };
    let text = HEAD
        .replace("%who_changes%", who_changes)
        .replace("%how_deletes%", how_deletes)
        .replace("%admin_module%", if soft { "mod admin;\n" } else { "" })
        .replace("%resource_imports%", resource_imports)
        .replace("%dto_imports%", &dto_imports)
        .replace(
            "%admin_routes%",
            if soft {
                "        .merge(admin::routes())\n"
            } else {
                ""
            },
        )
        .replace("%live_note%", if soft { " (not deleted)" } else { "" })
        .replace(
            "%live_body%",
            if soft {
                "    Entity::find().filter(Column::DeletedAt.is_null())\n"
            } else {
                "    Entity::find()\n"
            },
        )
        .replace("%find_writable%", if owned { FIND_WRITABLE } else { "" })
        .replace("%sort_arms%", &sort_arms)
        .replace(
            "%decimal_helper%",
            if resource.has(FieldType::Decimal) {
                DECIMAL_HELPER
            } else {
                ""
            },
        )
        .replace("%filters%", &filter_code)
        .replace("%create_fields%", &create_fields)
        .replace(
            "%create_deleted%",
            if soft {
                "        deleted_at: Set(None),\n"
            } else {
                ""
            },
        )
        .replace("%update_fields%", &update_fields)
        .replace("%find_for_change%", find_for_change)
        .replace("%deleted_note%", if soft { ", or deleted" } else { "" })
        .replace(
            "%changer%",
            if owned {
                "The owner or an admin only"
            } else {
                "Any account with the policy"
            },
        )
        .replace(
            "%forbidden%",
            if owned {
                "Not allowed by the policy, or not the owner or an admin"
            } else {
                "Not allowed by the policy"
            },
        )
        .replace(
            "%delete_kind%",
            if soft {
                "Soft delete: the %words% disappears from every read; an admin can restore it."
            } else {
                "The row is removed for good."
            },
        )
        .replace(
            "%delete_body%",
            if soft { SOFT_DELETE } else { HARD_DELETE },
        );
    resource.fill(&text)
}

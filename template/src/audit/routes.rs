//! `GET /admin/audit-events`: the audit trail for administrators (the `/admin/*` policy),
//! newest first, filtered by actor, entity, action and time range.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::AuditAction;
use crate::auth::access::{Access, DeclaredRoutes};
use crate::entities::audit_events;
use crate::error::{AppError, Problem};
use crate::http::pagination::{self, Page, PageRequest};
use crate::state::AppState;

pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new().route(Access::Policy, routes!(list_audit_events))
}

/// A recorded action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    /// Names of the fields the action changed.
    pub changed_fields: Vec<String>,
}

impl From<audit_events::Model> for AuditEventView {
    fn from(event: audit_events::Model) -> Self {
        let changed_fields = serde_json::from_value(event.changed_fields).unwrap_or_default();
        AuditEventView {
            id: event.id,
            occurred_at: event.occurred_at,
            actor_id: event.actor_id,
            action: event.action,
            entity_type: event.entity_type,
            entity_id: event.entity_id,
            request_id: event.request_id,
            client_ip: event.client_ip,
            changed_fields,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000_000)]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    /// Only events by this user.
    pub actor_id: Option<Uuid>,
    /// Only events on this kind of entity (`article`, `user`…).
    #[param(pattern = r"^[a-z][a-z0-9_]{0,63}$")]
    pub entity_type: Option<String>,
    /// Only events on this entity (with `entity_type`).
    #[param(pattern = r"^[A-Za-z0-9._:-]{1,128}$")]
    pub entity_id: Option<String>,
    #[param(inline)]
    pub action: Option<AuditAction>,
    /// Events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// What the code records as an entity type (`AuditEvent::on`): anything else matches nothing,
/// and is refused before it reaches the database (which rejects NUL bytes with an error).
fn is_entity_type(value: &str) -> bool {
    let mut bytes = value.bytes();
    value.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Entity ids are UUIDs or other printable keys.
fn is_entity_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'_' | b'-'))
}

/// List audit events
#[utoipa::path(
    get,
    path = "/admin/audit-events",
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of events, newest first", body = Page<AuditEventView>),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "Not allowed by the policy", body = Problem),
        (status = 422, description = "Invalid page, filter or time range", body = Problem),
    )
)]
async fn list_audit_events(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Page<AuditEventView>>, AppError> {
    let query = pagination::query(query)?;
    let page = PageRequest::new(query.page, query.per_page)?;
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since >= until
    {
        return Err(pagination::invalid("until", "must be later than `since`"));
    }
    if let Some(entity_type) = &query.entity_type
        && !is_entity_type(entity_type)
    {
        return Err(pagination::invalid(
            "entity_type",
            "must be a lower-case identifier (`article`, `user`…)",
        ));
    }
    if let Some(entity_id) = &query.entity_id
        && !is_entity_id(entity_id)
    {
        return Err(pagination::invalid(
            "entity_id",
            "must be 1 to 128 letters, digits or `.:_-`",
        ));
    }
    if query.entity_id.is_some() && query.entity_type.is_none() {
        return Err(pagination::invalid(
            "entity_id",
            "needs `entity_type` (ids are only unique within a type)",
        ));
    }
    let mut select = audit_events::Entity::find();
    if let Some(actor_id) = query.actor_id {
        select = select.filter(audit_events::Column::ActorId.eq(actor_id));
    }
    if let Some(entity_type) = query.entity_type {
        select = select.filter(audit_events::Column::EntityType.eq(entity_type));
    }
    if let Some(entity_id) = query.entity_id {
        select = select.filter(audit_events::Column::EntityId.eq(entity_id));
    }
    if let Some(action) = query.action {
        select = select.filter(audit_events::Column::Action.eq(action.as_str()));
    }
    if let Some(since) = query.since {
        select = select.filter(audit_events::Column::OccurredAt.gte(since));
    }
    if let Some(until) = query.until {
        select = select.filter(audit_events::Column::OccurredAt.lt(until));
    }
    let paginator = select
        .order_by_desc(audit_events::Column::Id)
        .paginate(&state.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(AuditEventView::from)
        .collect();
    Ok(Json(page.envelope(items, total)))
}

#[cfg(test)]
mod tests {
    use super::{is_entity_id, is_entity_type};

    #[test]
    fn entity_filters_are_identifiers_only() {
        assert!(is_entity_type("article") && is_entity_type("user_totp"));
        for bad in ["", "Article", "1user", "a\0b", "a b", &"a".repeat(65)] {
            assert!(!is_entity_type(bad), "{bad:?}");
        }
        assert!(is_entity_id("0b6c2f9e-8d1a-4c55-9a0e-3f1d2c4b5a69") && is_entity_id("42"));
        for bad in ["", "a\0", "a/b", "%", &"1".repeat(129)] {
            assert!(!is_entity_id(bad), "{bad:?}");
        }
    }
}

//! `audit_events`: one row per recorded action (see `crate::audit`).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub occurred_at: DateTimeUtc,
    /// The user who acted; `None` for anonymous callers (a failed login) and the command line
    /// before an account exists.
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    /// JSON array of the names of the fields the action changed (never their values).
    pub changed_fields: Json,
}

impl ActiveModelBehavior for ActiveModel {}

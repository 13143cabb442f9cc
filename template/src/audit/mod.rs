//! The audit trail: who did what to which entity, from where, and which fields changed.
//!
//! An event is written with the same connection — the same transaction — as the change it
//! records, so either both are committed or neither is: a change whose audit row cannot be
//! written is rolled back and the request fails. Values are never recorded, only field names,
//! so no secret or password hash can reach the table.
//!
//! - [`AuditContext`]: where a request came from (request id, client IP), as an extractor.
//! - [`AuditEvent`]: what happened; [`AuditContext::record`] writes it.
//! - `routes`: the admin listing, `GET /admin/audit-events`.

pub mod routes;

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extractor::ClientIp;
use crate::entities::audit_events;
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

/// What was done. Stored as its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Create,
    Update,
    /// Soft delete: the row is hidden, an admin can restore it.
    Delete,
    Restore,
    /// Hard delete: the row (and what cascades from it) is gone.
    Purge,
    LoginSucceeded,
    LoginFailed,
    /// Refused by the login throttle before the password was checked.
    LoginLimited,
    LogoutAll,
    PasswordChanged,
    RolesChanged,
    Deactivated,
    Activated,
    /// `auth init` created or promoted an administrator.
    AuthInit,
    /// A mailed reset link set a new password (every session ended).
    PasswordReset,
    /// A mailed verification link proved the address.
    EmailVerified,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
        AuditAction::Restore,
        AuditAction::Purge,
        AuditAction::LoginSucceeded,
        AuditAction::LoginFailed,
        AuditAction::LoginLimited,
        AuditAction::LogoutAll,
        AuditAction::PasswordChanged,
        AuditAction::RolesChanged,
        AuditAction::Deactivated,
        AuditAction::Activated,
        AuditAction::AuthInit,
        AuditAction::PasswordReset,
        AuditAction::EmailVerified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Restore => "restore",
            AuditAction::Purge => "purge",
            AuditAction::LoginSucceeded => "login_succeeded",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::LoginLimited => "login_limited",
            AuditAction::LogoutAll => "logout_all",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::RolesChanged => "roles_changed",
            AuditAction::Deactivated => "deactivated",
            AuditAction::Activated => "activated",
            AuditAction::AuthInit => "auth_init",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::EmailVerified => "email_verified",
        }
    }
}

/// One thing that happened, before it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub action: AuditAction,
    pub actor_id: Option<Uuid>,
    pub entity_type: Option<&'static str>,
    pub entity_id: Option<String>,
    pub changed_fields: Vec<&'static str>,
}

impl AuditEvent {
    pub fn new(action: AuditAction) -> Self {
        AuditEvent {
            action,
            actor_id: None,
            entity_type: None,
            entity_id: None,
            changed_fields: Vec::new(),
        }
    }

    /// The user who acted.
    pub fn by(mut self, actor_id: Uuid) -> Self {
        self.actor_id = Some(actor_id);
        self
    }

    /// The entity acted upon, e.g. `("article", id)`.
    pub fn on(mut self, entity_type: &'static str, entity_id: impl ToString) -> Self {
        self.entity_type = Some(entity_type);
        self.entity_id = Some(entity_id.to_string());
        self
    }

    /// The names of the fields the action changed.
    pub fn fields(mut self, names: &[&'static str]) -> Self {
        self.changed_fields = names.to_vec();
        self
    }
}

/// Where an action came from: the request id and client IP of an HTTP request, or nothing for
/// the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditContext {
    pub request_id: Option<String>,
    pub client_ip: Option<IpAddr>,
}

impl AuditContext {
    /// An action taken from the command line (`auth init`).
    pub fn command_line() -> Self {
        AuditContext::default()
    }

    /// Writes `event` through `connection`: pass the transaction that makes the change.
    pub async fn record<C: ConnectionTrait>(
        &self,
        connection: &C,
        event: AuditEvent,
    ) -> Result<(), DbErr> {
        audit_events::ActiveModel {
            occurred_at: Set(Utc::now()),
            actor_id: Set(event.actor_id),
            action: Set(event.action.as_str().to_owned()),
            entity_type: Set(event.entity_type.map(str::to_owned)),
            entity_id: Set(event.entity_id),
            request_id: Set(self.request_id.clone()),
            client_ip: Set(self.client_ip.map(|ip| ip.to_string())),
            changed_fields: Set(serde_json::json!(event.changed_fields)),
            ..Default::default()
        }
        .insert(connection)
        .await?;
        Ok(())
    }
}

impl FromRequestParts<AppState> for AuditContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        Ok(AuditContext {
            request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
            client_ip: Some(ip),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_the_serde_names() {
        for action in AuditAction::ALL {
            let serialised = serde_json::to_value(action).unwrap();
            assert_eq!(serialised, action.as_str());
            let parsed: AuditAction = serde_json::from_value(serialised).unwrap();
            assert_eq!(parsed, action);
        }
    }
}

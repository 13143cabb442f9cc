//! `user_totp`: one TOTP enrolment per account. The secret is stored encrypted
//! (AES-256-GCM under `MFA_ENCRYPTION_KEY`); `enabled_at` is set once a code confirmed it.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_totp")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Nonce and ciphertext, base64url; never serialised into a response.
    pub secret_encrypted: String,
    /// None: enrolment started, not confirmed yet (login does not ask for a code).
    pub enabled_at: Option<DateTimeUtc>,
    /// Time step of the last accepted code: a code is never accepted twice.
    pub last_used_step: Option<i64>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

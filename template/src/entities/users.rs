//! `users`: one row per account. Roles are not a column: they are casbin groupings
//! (`casbin_rule` rows with `ptype = 'g'`), which no request body can reach.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Trimmed and lower-cased before it is stored or looked up.
    #[sea_orm(unique)]
    pub email: String,
    /// Argon2id PHC string; never serialised into a response.
    pub password_hash: String,
    pub is_active: bool,
    /// When the owner followed a verification (or password reset) link; None: unverified.
    pub email_verified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

//! Counting administrators for `ops checklist`. Roles are casbin groupings (`g` rows:
//! user id → role) stored in the database, so "an admin exists" means an active user with such
//! a row.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::ADMIN_ROLE;
use crate::auth::rbac::USER_ROLE_PTYPE;
use crate::entities::{casbin_rule, users};

pub async fn count_active_admins(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let admin_ids: HashSet<Uuid> = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq(USER_ROLE_PTYPE))
        .filter(casbin_rule::Column::V1.eq(ADMIN_ROLE))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|rule| Uuid::parse_str(&rule.v0).ok())
        .collect();
    if admin_ids.is_empty() {
        return Ok(0);
    }
    users::Entity::find()
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::Id.is_in(admin_ids))
        .count(db)
        .await
}

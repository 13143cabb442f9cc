//! `casbin_rule`: casbin policy (`p`) and grouping (`g`) rows, in casbin's usual column layout
//! so policies can be inspected with any SQL client.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "casbin_rule")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ptype: String,
    pub v0: String,
    pub v1: String,
    pub v2: String,
    pub v3: String,
    pub v4: String,
    pub v5: String,
}

impl ActiveModelBehavior for ActiveModel {}

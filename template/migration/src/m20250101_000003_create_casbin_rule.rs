//! `casbin_rule`: the authorization policy, in casbin's usual layout, with the default policy:
//!
//! - `admin` may use every `/admin/*` route;
//! - `user` may read its account (`GET /auth/me`) and change its password;
//! - `admin` inherits everything `user` may do (`g2`).
//!
//! Routes are matched below the API prefix with keyMatch2, methods with an anchored regex.
//! User → role links (`g` rows) are added by registration and `auth init`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CasbinRule {
    Table,
    Id,
    Ptype,
    V0,
    V1,
    V2,
    V3,
    V4,
    V5,
}

const VALUE_COLUMNS: [CasbinRule; 6] = [
    CasbinRule::V0,
    CasbinRule::V1,
    CasbinRule::V2,
    CasbinRule::V3,
    CasbinRule::V4,
    CasbinRule::V5,
];

/// (ptype, v0, v1, v2)
const DEFAULT_POLICY: &[(&str, &str, &str, &str)] = &[
    ("p", "admin", "/admin/*", "^(GET|POST|PUT|PATCH|DELETE)$"),
    ("p", "user", "/auth/me", "^GET$"),
    ("p", "user", "/auth/password", "^POST$"),
    ("g2", "admin", "user", ""),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(CasbinRule::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(CasbinRule::Id)
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(ColumnDef::new(CasbinRule::Ptype).string_len(16).not_null());
        for column in VALUE_COLUMNS {
            table.col(
                ColumnDef::new(column)
                    .string_len(255)
                    .not_null()
                    .default(""),
            );
        }
        manager.create_table(table.to_owned()).await?;

        // One row per rule; its prefix (ptype, v0) also serves the per-request role lookup.
        let mut unique = Index::create();
        unique
            .name("idx_casbin_rule_unique")
            .table(CasbinRule::Table)
            .col(CasbinRule::Ptype)
            .unique()
            .if_not_exists();
        for column in VALUE_COLUMNS {
            unique.col(column);
        }
        manager.create_index(unique.to_owned()).await?;

        let mut insert = Query::insert();
        insert.into_table(CasbinRule::Table).columns([
            CasbinRule::Ptype,
            CasbinRule::V0,
            CasbinRule::V1,
            CasbinRule::V2,
            CasbinRule::V3,
            CasbinRule::V4,
            CasbinRule::V5,
        ]);
        for (ptype, v0, v1, v2) in DEFAULT_POLICY {
            insert.values_panic([
                (*ptype).into(),
                (*v0).into(),
                (*v1).into(),
                (*v2).into(),
                "".into(),
                "".into(),
                "".into(),
            ]);
        }
        manager.exec_stmt(insert.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CasbinRule::Table).to_owned())
            .await
    }
}

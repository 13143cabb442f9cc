//! `migration/src/m…_PLURAL_policy.rs`: the casbin rows that let the `user` role (and so
//! `admin`, which inherits it) call the resource's routes.

use super::Resource;

const TEMPLATE: &str = r#"//! Policy rows of the %words% resource, written by `generate resource`: the `user` role (and
//! so `admin`, which inherits it) may list, read, create, change and delete %plural_words%.%owned_note%
//! The admin routes (`/admin/*`) are covered by the admin policy.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CasbinRule {
    Table,
    Ptype,
    V0,
    V1,
    V2,
}

/// (role, route below the API prefix, methods)
const POLICY: &[(&str, &str, &str)] = &[
    ("user", "/%plural%", "^(GET|POST)$"),
    ("user", "/%plural%/:id", "^(GET|PATCH|DELETE)$"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut insert = Query::insert();
        insert.into_table(CasbinRule::Table).columns([
            CasbinRule::Ptype,
            CasbinRule::V0,
            CasbinRule::V1,
            CasbinRule::V2,
        ]);
        for (role, route, methods) in POLICY {
            insert.values_panic([
                "p".into(),
                (*role).into(),
                (*route).into(),
                (*methods).into(),
            ]);
        }
        manager.exec_stmt(insert.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (role, route, methods) in POLICY {
            manager
                .exec_stmt(
                    Query::delete()
                        .from_table(CasbinRule::Table)
                        .and_where(Expr::col(CasbinRule::Ptype).eq("p"))
                        .and_where(Expr::col(CasbinRule::V0).eq(*role))
                        .and_where(Expr::col(CasbinRule::V1).eq(*route))
                        .and_where(Expr::col(CasbinRule::V2).eq(*methods))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
"#;

pub fn render(resource: &Resource) -> String {
    let owned_note = if resource.owned {
        "\n//! Whether a caller may change *this* row (its owner or an admin) is decided by the\n\
         //! handler, which knows the row."
    } else {
        ""
    };
    resource.fill(&TEMPLATE.replace("%owned_note%", owned_note))
}

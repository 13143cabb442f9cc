//! Policy rows of the example resource: the `user` role (and so `admin`, which inherits it)
//! may write articles and comments. Reads are public routes; whether a caller may change *this*
//! article (author or admin) is decided by the handler, which knows the row.

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
    ("user", "/articles", "^POST$"),
    ("user", "/articles/:id", "^(PATCH|DELETE)$"),
    ("user", "/articles/:id/comments", "^POST$"),
    ("user", "/articles/:id/comments/:comment_id", "^DELETE$"),
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

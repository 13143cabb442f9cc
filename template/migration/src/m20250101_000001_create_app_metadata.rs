//! `app_metadata`: key/value facts about this database itself — which template generated
//! the schema, and when it was created — so an operator (or `ops checklist`) can tell what
//! a database holds without guessing from its tables.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppMetadata {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AppMetadata::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AppMetadata::Key)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AppMetadata::Value).text().not_null())
                    .col(
                        ColumnDef::new(AppMetadata::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await?;
        let origin = "shaapi {{template_version}}";
        let project = "{{project-name}}";
        let mut insert = Query::insert();
        insert
            .into_table(AppMetadata::Table)
            .columns([AppMetadata::Key, AppMetadata::Value]);
        for (key, value) in [("schema_origin", origin), ("project", project)] {
            insert
                .values([key.into(), value.into()])
                .map_err(|e| DbErr::Migration(e.to_string()))?;
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AppMetadata::Table).to_owned())
            .await
    }
}

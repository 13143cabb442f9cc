//! `stored_files`: metadata of uploaded files (the encrypted bytes are in object storage), and
//! the policy rows letting the `user` role (and so `admin`) use the files routes. Whose file a
//! caller may read or delete (owner or admin) is decided by the handler, which knows the row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StoredFiles {
    Table,
    Id,
    OwnerId,
    Filename,
    ContentType,
    SizeBytes,
    Sha256,
    KeyId,
    WrappedKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

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
    ("user", "/files", "^(GET|POST)$"),
    ("user", "/files/:id", "^(GET|DELETE)$"),
    ("user", "/files/:id/content", "^GET$"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StoredFiles::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(StoredFiles::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StoredFiles::OwnerId).uuid().not_null())
                    .col(
                        ColumnDef::new(StoredFiles::Filename)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StoredFiles::ContentType)
                            .string_len(127)
                            .not_null(),
                    )
                    .col(ColumnDef::new(StoredFiles::SizeBytes).big_integer().not_null())
                    .col(ColumnDef::new(StoredFiles::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(StoredFiles::KeyId).string_len(64).not_null())
                    .col(ColumnDef::new(StoredFiles::WrappedKey).text().not_null())
                    .col(
                        ColumnDef::new(StoredFiles::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_stored_files_owner")
                            .from(StoredFiles::Table, StoredFiles::OwnerId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The owner's list, newest first; `storage rotate-key` finds rows by key id.
        for (name, columns) in [
            (
                "idx_stored_files_owner_created_at",
                vec![StoredFiles::OwnerId, StoredFiles::CreatedAt],
            ),
            ("idx_stored_files_key_id", vec![StoredFiles::KeyId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(StoredFiles::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }

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
        manager
            .drop_table(Table::drop().table(StoredFiles::Table).to_owned())
            .await
    }
}

//! `articles` and their `comments`: the example resource. Soft delete (`deleted_at`) hides an
//! article; `version` changes on every update and is the article's `ETag`. Comments belong to
//! an article and go with it when the article is deleted for good.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
    AuthorId,
    Title,
    Body,
    Published,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    ArticleId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Articles::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Articles::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Articles::AuthorId).uuid().not_null())
                    .col(ColumnDef::new(Articles::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Articles::Body).text().not_null())
                    .col(
                        ColumnDef::new(Articles::Published)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Articles::Version)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .col(timestamp(Articles::CreatedAt))
                    .col(timestamp(Articles::UpdatedAt))
                    .col(
                        ColumnDef::new(Articles::DeletedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_articles_author")
                            .from(Articles::Table, Articles::AuthorId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Lists filter on publication and author and order by time.
        for (name, columns) in [
            (
                "idx_articles_published_created_at",
                vec![Articles::Published, Articles::CreatedAt],
            ),
            ("idx_articles_author", vec![Articles::AuthorId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Articles::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Comments::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Comments::ArticleId).uuid().not_null())
                    .col(ColumnDef::new(Comments::AuthorId).uuid().not_null())
                    .col(ColumnDef::new(Comments::Body).text().not_null())
                    .col(timestamp(Comments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_comments_article")
                            .from(Comments::Table, Comments::ArticleId)
                            .to(Articles::Table, Articles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_comments_author")
                            .from(Comments::Table, Comments::AuthorId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_comments_article_created_at")
                    .table(Comments::Table)
                    .col(Comments::ArticleId)
                    .col(Comments::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Comments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Articles::Table).to_owned())
            .await
    }
}

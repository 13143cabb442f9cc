//! `migration/src/m…_create_PLURAL.rs`: the table, on Postgres and SQLite alike.

use super::Resource;

const HEAD: &str = r#"//! `%plural%`: the %words% resource's table, written by `generate resource`.%soft_note%

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table (`Columns::Table`) and its columns.
#[derive(DeriveIden)]
enum Columns {
    #[sea_orm(iden = "%plural%")]
    Table,
    Id,
"#;

const USERS: &str = r#"
#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
"#;

const UP: &str = r#"
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Columns::Table)
                    .if_not_exists()
                    .col(schema::pk_uuid(Columns::Id))
"#;

const OWNER_KEY: &str = r#"                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_%plural%_owner")
                            .from(Columns::Table, Columns::OwnerId)
                            .to(Users::Table, Users::Id),
                    )
"#;

const INDEX: &str = r#"        manager
            .create_index(
                Index::create()
                    .name("idx_%plural%_%index%")
                    .table(Columns::Table)
                    .col(Columns::%Column%)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
"#;

const DOWN: &str = r#"        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Columns::Table).to_owned())
            .await
    }
}
"#;

pub fn render(resource: &Resource) -> String {
    let soft_note = if resource.soft_delete {
        "\n//! A delete sets `deleted_at`; `version` changes on every update and is the `ETag`."
    } else {
        "\n//! `version` changes on every update and is the `ETag`."
    };
    let mut text = HEAD.replace("%soft_note%", soft_note);
    let mut identifiers = Vec::new();
    if resource.owned {
        identifiers.push("OwnerId".to_owned());
    }
    identifiers.extend(resource.fields.iter().map(|field| field.type_name()));
    identifiers.extend(["Version", "CreatedAt", "UpdatedAt"].map(str::to_owned));
    if resource.soft_delete {
        identifiers.push("DeletedAt".to_owned());
    }
    for identifier in &identifiers {
        text.push_str(&format!("    {identifier},\n"));
    }
    text.push_str("}\n");
    if resource.owned {
        text.push_str(USERS);
    }
    text.push_str(UP);
    let table = "Columns";
    // rustfmt gives a call its own lines past 60 characters of arguments (`fn_call_width`).
    let column = |definition: String| match definition.split_once('(') {
        Some((function, argument)) if definition.len() > 60 && !argument.contains(',') => format!(
            "                    .col({function}(\n                        {},\n                    ))\n",
            argument.trim_end_matches(')')
        ),
        _ => format!("                    .col({definition})\n"),
    };
    if resource.owned {
        text.push_str(&column(format!("schema::uuid({table}::OwnerId)")));
    }
    for field in &resource.fields {
        text.push_str(&column(field.kind.column(table, &field.type_name())));
    }
    text.push_str(&column(format!(
        "schema::integer({table}::Version).default(1)"
    )));
    for timestamp in ["CreatedAt", "UpdatedAt"] {
        text.push_str(&column(format!(
            "schema::timestamp_with_time_zone({table}::{timestamp})"
        )));
    }
    if resource.soft_delete {
        text.push_str(&column(format!(
            "schema::timestamp_with_time_zone_null({table}::DeletedAt)"
        )));
    }
    if resource.owned {
        text.push_str(OWNER_KEY);
    }
    text.push_str("                    .to_owned(),\n            )\n            .await?;\n");
    // Lists order by creation time by default, and filter on the owner.
    let mut indexes = vec![("created_at", "CreatedAt")];
    if resource.owned {
        indexes.push(("owner", "OwnerId"));
    }
    for (index, column) in indexes {
        text.push_str(&INDEX.replace("%index%", index).replace("%Column%", column));
    }
    text.push_str(DOWN);
    resource.fill(&text)
}

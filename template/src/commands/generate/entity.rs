//! `src/entities/PLURAL.rs`: the sea-orm entity, one field per column.

use super::Resource;

const HEAD: &str = r#"//! `%plural%`: the %words% resource's table (see `http::%plural%`).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "%plural%")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
"#;

const OWNER: &str = r#"    /// Set from the authenticated caller, never from a request body.
    pub owner_id: Uuid,
"#;

const TAIL: &str = r#"    /// Bumped by every update; the row's `ETag`.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
"#;

const DELETED: &str = r#"    /// Set by a (soft) delete: the row vanishes from reads until an admin restores it.
    pub deleted_at: Option<DateTimeUtc>,
"#;

pub fn render(resource: &Resource) -> String {
    let mut text = HEAD.to_owned();
    if resource.owned {
        text.push_str(OWNER);
    }
    for field in &resource.fields {
        if field.kind == super::FieldType::Text {
            text.push_str("    #[sea_orm(column_type = \"Text\")]\n");
        }
        text.push_str(&format!(
            "    pub {}: {},\n",
            field.name,
            field.kind.entity_type()
        ));
    }
    text.push_str(TAIL);
    if resource.soft_delete {
        text.push_str(DELETED);
    }
    text.push_str("}\n\nimpl ActiveModelBehavior for ActiveModel {}\n");
    resource.fill(&text)
}

//! `src/http/PLURAL/dto.rs`: request bodies with their validation rules (stated in the
//! OpenAPI schema too), the response body, and the list's query parameters.

use super::Resource;
use super::fields::{Field, FieldType};

const HEAD: &str = r#"//! Request and response bodies of the %plural_words% API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::entities::%plural%;
%validation_imports%
/// Longest single-line text field, in characters.
pub const STRING_MAX: u64 = 200;
/// Longest multi-line text field, in characters.
pub const TEXT_MAX: u64 = 100_000;

"#;

/// The validation and schema attributes of a request field.
fn attributes(field: &Field) -> &'static str {
    match field.kind {
        FieldType::String => {
            "    #[validate(length(min = 1, max = STRING_MAX), custom(function = \"single_line\"))]\n    \
             #[schema(\n        min_length = 1,\n        max_length = 200,\n        pattern = r\"^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$\"\n    )]\n"
        }
        FieldType::Text => {
            "    #[validate(length(min = 1, max = TEXT_MAX), custom(function = \"multi_line\"))]\n    \
             #[schema(\n        min_length = 1,\n        max_length = 100000,\n        pattern = r\"^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*\\S[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$\"\n    )]\n"
        }
        FieldType::Decimal => {
            "    /// A decimal number as a string: up to 13 digits before the point, 2 after.\n    \
             #[validate(custom(function = \"decimal_text\"))]\n    \
             #[schema(pattern = r\"^-?[0-9]{1,13}(\\.[0-9]{1,2})?$\", example = \"19.99\")]\n"
        }
        FieldType::Int | FieldType::Bool | FieldType::Uuid | FieldType::Datetime => "",
    }
}

pub fn render(resource: &Resource) -> String {
    let mut imports = Vec::new();
    for (kind, function) in [
        (FieldType::Decimal, "decimal_text"),
        (FieldType::Text, "multi_line"),
        (FieldType::String, "single_line"),
    ] {
        if resource.has(kind) {
            imports.push(format!("use crate::http::validation::{function};\n"));
        }
    }
    let mut text = HEAD.replace("%validation_imports%", &imports.concat());

    // The new row: every field required; the owner is the caller.
    text.push_str(if resource.owned {
        "/// A new %words%. The owner is the caller; a body naming one is refused (unknown field).\n"
    } else {
        "/// A new %words%: every field is required; any other field is refused.\n"
    });
    text.push_str(
        "#[derive(Debug, Deserialize, Validate, ToSchema)]\n#[serde(deny_unknown_fields)]\npub struct New%Type% {\n",
    );
    for field in &resource.fields {
        text.push_str(attributes(field));
        text.push_str(&format!(
            "    pub {}: {},\n",
            field.name,
            field.kind.body_type()
        ));
    }
    text.push_str("}\n\n");

    text.push_str("/// The fields to change; absent fields keep their value.\n");
    text.push_str(
        "#[derive(Debug, Deserialize, Validate, ToSchema)]\n#[serde(deny_unknown_fields)]\npub struct %Type%Changes {\n",
    );
    for field in &resource.fields {
        text.push_str(attributes(field));
        text.push_str(&format!(
            "    pub {}: Option<{}>,\n",
            field.name,
            field.kind.body_type()
        ));
    }
    text.push_str("}\n\n");

    text.push_str(
        "#[derive(Debug, Serialize, ToSchema)]\npub struct %Type%View {\n    pub id: Uuid,\n",
    );
    if resource.owned {
        text.push_str("    pub owner_id: Uuid,\n");
    }
    for field in &resource.fields {
        if field.kind == FieldType::Decimal {
            text.push_str("    #[schema(example = \"19.99\")]\n");
        }
        text.push_str(&format!(
            "    pub {}: {},\n",
            field.name,
            field.kind.body_type()
        ));
    }
    text.push_str(
        "    /// Also the `ETag` (quoted) to send back in `If-Match`.\n    pub version: i32,\n    \
         pub created_at: DateTime<Utc>,\n    pub updated_at: DateTime<Utc>,\n",
    );
    if resource.soft_delete {
        text.push_str(
            "    /// Only on the admin listing of deleted %plural_words%.\n    \
             #[serde(skip_serializing_if = \"Option::is_none\")]\n    \
             pub deleted_at: Option<DateTime<Utc>>,\n",
        );
    }
    text.push_str("}\n\n");

    text.push_str(
        "impl From<%plural%::Model> for %Type%View {\n    fn from(row: %plural%::Model) -> Self {\n        %Type%View {\n            id: row.id,\n",
    );
    if resource.owned {
        text.push_str("            owner_id: row.owner_id,\n");
    }
    for field in &resource.fields {
        let name = &field.name;
        if field.kind == FieldType::Decimal {
            // Two decimals whatever the backend returned (SQLite drops trailing zeros).
            text.push_str(
                &"            NAME: format!(\"{:.2}\", row.NAME),\n".replace("NAME", name),
            );
        } else {
            text.push_str(&format!("            {name}: row.{name},\n"));
        }
    }
    text.push_str(
        "            version: row.version,\n            created_at: row.created_at,\n            \
         updated_at: row.updated_at,\n",
    );
    if resource.soft_delete {
        text.push_str("            deleted_at: row.deleted_at,\n");
    }
    text.push_str("        }\n    }\n}\n\n");

    text.push_str(&sort_enum(resource));
    text.push_str(&list_query(resource));
    if resource.soft_delete {
        text.push_str(PAGE_QUERY);
    }
    resource.fill(&text)
}

fn sort_enum(resource: &Resource) -> String {
    let mut text = String::from(
        "/// Sort orders a list accepts (a leading `-` is descending); nothing else can be sorted \
         on.\n#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]\n\
         pub enum %Type%Sort {\n    #[serde(rename = \"created_at\")]\n    CreatedAt,\n    \
         #[default]\n    #[serde(rename = \"-created_at\")]\n    CreatedAtDesc,\n    \
         #[serde(rename = \"updated_at\")]\n    UpdatedAt,\n    \
         #[serde(rename = \"-updated_at\")]\n    UpdatedAtDesc,\n",
    );
    for field in resource.fields.iter().filter(|field| field.kind.sortable()) {
        let (name, variant) = (&field.name, field.type_name());
        text.push_str(&format!(
            "    #[serde(rename = \"{name}\")]\n    {variant},\n    \
             #[serde(rename = \"-{name}\")]\n    {variant}Desc,\n"
        ));
    }
    text.push_str("}\n\n");
    text
}

fn list_query(resource: &Resource) -> String {
    let mut text = String::from(
        "/// Filters, sort and page of `GET /%plural%`; any other parameter is refused.\n\
         #[derive(Debug, Deserialize, IntoParams)]\n#[into_params(parameter_in = Query)]\n\
         #[serde(deny_unknown_fields)]\npub struct ListQuery {\n    \
         /// Page number, from 1.\n    pub page: Option<u64>,\n    \
         /// Items per page, 1 to 100 (default 20).\n    pub per_page: Option<u64>,\n    \
         /// Sort order (default `-created_at`, newest first); ties are broken by id.\n    \
         #[param(inline)]\n    pub sort: Option<%Type%Sort>,\n",
    );
    if resource.owned {
        text.push_str(
            "    /// Only the %plural_words% of this owner.\n    pub owner_id: Option<Uuid>,\n",
        );
    }
    for field in resource
        .fields
        .iter()
        .filter(|field| field.kind.filterable())
    {
        text.push_str(&format!(
            "    /// Only the %plural_words% whose {} is this.\n    pub {}: Option<{}>,\n",
            field.words(),
            field.name,
            field.kind.body_type()
        ));
    }
    text.push_str("}\n");
    text
}

const PAGE_QUERY: &str = r#"
/// Page of the admin list of deleted %plural_words%.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page number, from 1.
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    pub per_page: Option<u64>,
}
"#;

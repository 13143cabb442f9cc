//! `name:type` arguments: the field types a resource can have, and what each becomes in the
//! migration, the entity, the request bodies, the OpenAPI schema and the tests.

use heck::ToUpperCamelCase;

use super::GenerateError;
use super::names::{RESERVED_FIELDS, check_identifier};

/// The types `generate resource` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// One line of text, 1 to 200 characters (`VARCHAR(200)`).
    String,
    /// Text with line breaks, 1 to 100 000 characters (`TEXT`).
    Text,
    /// 32-bit signed integer.
    Int,
    Bool,
    Uuid,
    /// A point in time, RFC 3339 in JSON (`TIMESTAMP WITH TIME ZONE`).
    Datetime,
    /// `DECIMAL(15, 2)`, a string in JSON so no cent is lost to floating point.
    Decimal,
}

pub const TYPE_NAMES: &str = "string, text, int, bool, uuid, datetime, decimal";

impl FieldType {
    fn parse(value: &str) -> Option<FieldType> {
        Some(match value {
            "string" => FieldType::String,
            "text" => FieldType::Text,
            "int" => FieldType::Int,
            "bool" => FieldType::Bool,
            "uuid" => FieldType::Uuid,
            "datetime" => FieldType::Datetime,
            "decimal" => FieldType::Decimal,
            _ => return None,
        })
    }

    /// The entity's Rust type.
    pub fn entity_type(self) -> &'static str {
        match self {
            FieldType::String | FieldType::Text => "String",
            FieldType::Int => "i32",
            FieldType::Bool => "bool",
            FieldType::Uuid => "Uuid",
            FieldType::Datetime => "DateTimeUtc",
            FieldType::Decimal => "Decimal",
        }
    }

    /// The request and response bodies' Rust type.
    pub fn body_type(self) -> &'static str {
        match self {
            FieldType::String | FieldType::Text | FieldType::Decimal => "String",
            FieldType::Int => "i32",
            FieldType::Bool => "bool",
            FieldType::Uuid => "Uuid",
            FieldType::Datetime => "DateTime<Utc>",
        }
    }

    /// The `sea_orm_migration::schema` function making the column (NOT NULL).
    pub fn column(self, table: &str, column: &str) -> String {
        match self {
            FieldType::String => format!("schema::string_len({table}::{column}, 200)"),
            FieldType::Text => format!("schema::text({table}::{column})"),
            FieldType::Int => format!("schema::integer({table}::{column})"),
            FieldType::Bool => format!("schema::boolean({table}::{column})"),
            FieldType::Uuid => format!("schema::uuid({table}::{column})"),
            FieldType::Datetime => format!("schema::timestamp_with_time_zone({table}::{column})"),
            FieldType::Decimal => format!("schema::decimal_len({table}::{column}, 15, 2)"),
        }
    }

    /// Lists can be sorted on it.
    pub fn sortable(self) -> bool {
        matches!(
            self,
            FieldType::String | FieldType::Int | FieldType::Datetime | FieldType::Decimal
        )
    }

    /// Lists can be filtered on it (equality).
    pub fn filterable(self) -> bool {
        matches!(self, FieldType::Int | FieldType::Bool | FieldType::Uuid)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub kind: FieldType,
}

impl Field {
    /// `Title`: the migration identifier and the sort variant.
    pub fn type_name(&self) -> String {
        self.name.to_upper_camel_case()
    }

    /// The words of the name, for documentation.
    pub fn words(&self) -> String {
        self.name.replace('_', " ")
    }
}

/// Parses and checks `name:type` arguments: at least one, no duplicate, no reserved name.
pub fn parse_fields(arguments: &[String]) -> Result<Vec<Field>, GenerateError> {
    if arguments.is_empty() {
        return Err(GenerateError::Usage(format!(
            "give at least one field as name:type (types: {TYPE_NAMES})"
        )));
    }
    let mut fields: Vec<Field> = Vec::new();
    for argument in arguments {
        let Some((name, kind)) = argument.split_once(':') else {
            return Err(GenerateError::Usage(format!(
                "field `{argument}` is not name:type (types: {TYPE_NAMES})"
            )));
        };
        check_identifier("field name", name)?;
        let Some(kind) = FieldType::parse(kind) else {
            return Err(GenerateError::Usage(format!(
                "field `{name}` has unknown type `{kind}` (types: {TYPE_NAMES})"
            )));
        };
        if RESERVED_FIELDS.contains(&name) {
            return Err(GenerateError::Usage(format!(
                "field name `{name}` is reserved: every resource has id, owner_id, version, \
                 created_at, updated_at, deleted_at, and lists take page, per_page, sort"
            )));
        }
        if name.ends_with("_desc") {
            return Err(GenerateError::Usage(format!(
                "field name `{name}` ends in `_desc`, which names descending sort orders"
            )));
        }
        if fields.iter().any(|field| field.name == name) {
            return Err(GenerateError::Usage(format!(
                "field `{name}` is given twice"
            )));
        }
        fields.push(Field {
            name: name.to_owned(),
            kind,
        });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn every_type_parses() {
        let fields = parse_fields(&arguments(&[
            "title:string",
            "body:text",
            "pages:int",
            "done:bool",
            "isbn:uuid",
            "released:datetime",
            "price:decimal",
        ]))
        .unwrap();
        assert_eq!(fields.len(), 7);
        assert_eq!(fields[6].kind, FieldType::Decimal);
    }

    #[test]
    fn bad_fields_are_refused_with_the_reason() {
        for (bad, reason) in [
            (&[][..], "at least one field"),
            (&["title"], "not name:type"),
            (&["title:varchar"], "unknown type `varchar`"),
            (&["title:String"], "unknown type"),
            (&["Title:string"], "snake_case"),
            (&["id:uuid"], "reserved"),
            (&["owner_id:uuid"], "reserved"),
            (&["type:string"], "Rust keyword"),
            (&["order:int"], "SQL"),
            (&["a:int", "a:bool"], "twice"),
            (&["price_desc:int"], "_desc"),
        ] {
            let error = parse_fields(&arguments(bad)).unwrap_err().to_string();
            assert!(error.contains(reason), "{bad:?}: {error}");
        }
    }
}

//! What a resource is called, checked before anything is written.
//!
//! Singular and plural: `generate resource book` takes the **singular**, snake_case, for the
//! Rust types (`Book`, `NewBook`, `BookView`) and the audit entity type (`book`). The
//! **plural** (`books`, from the `pluralizer` crate, or `--plural`) names the table, the URL
//! path, the modules and files — `src/http/books/`, `src/entities/books.rs`, `tests/books.rs` —
//! as for every collection of this project.

use heck::ToUpperCamelCase;

use super::GenerateError;

/// Longest resource or field name: identifiers, index names and test lines stay readable.
pub const MAX_NAME_LENGTH: usize = 20;

/// Rust keywords (strict, reserved and edition 2024's `gen`): none makes a usable identifier.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// SQL words Postgres or SQLite reserve: a table or column named so needs quoting everywhere.
const SQL_KEYWORDS: &[&str] = &[
    "all",
    "alter",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "asc",
    "asymmetric",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "cross",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "delete",
    "desc",
    "distinct",
    "drop",
    "except",
    "exists",
    "fetch",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "index",
    "initially",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "join",
    "key",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "set",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "transaction",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "values",
    "variadic",
    "when",
    "window",
    "with",
];

/// Names the framework already uses for a table, a module or a route prefix.
const FRAMEWORK_NAMES: &[&str] = &[
    "admin",
    "app_metadata",
    "audit",
    "audit_events",
    "auth",
    "casbin_rule",
    "commands",
    "docs",
    "entities",
    "health",
    "http",
    "mfa_recovery_codes",
    "migration",
    "mod",
    "openapi",
    "pagination",
    "resource",
    "seaql_migrations",
    "user_totp",
    "users",
    "validation",
];

/// Columns every generated table has, or that list queries use as parameters.
pub const RESERVED_FIELDS: &[&str] = &[
    "id",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
    "deleted_at",
    "page",
    "per_page",
    "sort",
];

/// Checks `name` is a snake_case identifier usable as a Rust item and an SQL name.
pub fn check_identifier(what: &str, name: &str) -> Result<(), GenerateError> {
    let refuse = |why: String| Err(GenerateError::Usage(format!("{what} `{name}` {why}")));
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let snake = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !starts_with_letter
        || !snake
        || name.ends_with('_')
        || name.contains("__")
        || name.chars().any(|c| c.is_ascii_uppercase())
    {
        return refuse(
            "is not a snake_case identifier (lowercase ASCII letters, digits and single \
             underscores, starting with a letter)"
                .to_owned(),
        );
    }
    if name.len() > MAX_NAME_LENGTH {
        return refuse(format!("is longer than {MAX_NAME_LENGTH} characters"));
    }
    if RUST_KEYWORDS.contains(&name) {
        return refuse("is a Rust keyword".to_owned());
    }
    if SQL_KEYWORDS.contains(&name) {
        return refuse("is a reserved SQL word".to_owned());
    }
    Ok(())
}

/// The names a resource is written with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceName {
    /// `book`: the audit entity type, the words in documentation.
    pub singular: String,
    /// `books`: table, URL path, modules, files.
    pub plural: String,
    /// `Book`: the prefix of the Rust types.
    pub type_name: String,
    /// `Books`: the migration's table identifier.
    pub table_type: String,
}

impl ResourceName {
    /// Checks `singular` (and `plural` when given) and derives the rest.
    pub fn new(singular: &str, plural: Option<&str>) -> Result<ResourceName, GenerateError> {
        check_identifier("resource name", singular)?;
        let plural = match plural {
            Some(plural) => {
                check_identifier("plural", plural)?;
                plural.to_owned()
            }
            None => {
                let (head, last) = split_last_word(singular);
                if pluralizer::pluralize(last, 1, false) != last {
                    return Err(GenerateError::Usage(format!(
                        "resource name `{singular}` looks plural: give the singular (the table \
                         and paths get the plural), or say both with --plural"
                    )));
                }
                let plural = format!("{head}{}", pluralizer::pluralize(last, 2, false));
                check_identifier("plural", &plural)?;
                plural
            }
        };
        if plural == singular {
            return Err(GenerateError::Usage(format!(
                "resource name `{singular}` is its own plural: pass a distinct --plural"
            )));
        }
        for name in [singular, plural.as_str()] {
            if FRAMEWORK_NAMES.contains(&name) {
                return Err(GenerateError::Usage(format!(
                    "resource name `{name}` is taken by the framework (a table, module or route)"
                )));
            }
        }
        Ok(ResourceName {
            singular: singular.to_owned(),
            type_name: singular.to_upper_camel_case(),
            table_type: plural.to_upper_camel_case(),
            plural,
        })
    }

    /// `blog post`: the singular in prose.
    pub fn words(&self) -> String {
        self.singular.replace('_', " ")
    }

    /// `blog posts`: the plural in prose.
    pub fn plural_words(&self) -> String {
        self.plural.replace('_', " ")
    }
}

/// `("blog_", "post")` from `blog_post`: only the last word takes the plural.
fn split_last_word(name: &str) -> (&str, &str) {
    match name.rfind('_') {
        Some(index) => (&name[..=index], &name[index + 1..]),
        None => ("", name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plural_comes_from_the_last_word() {
        let name = ResourceName::new("blog_post", None).unwrap();
        assert_eq!(
            (name.plural.as_str(), name.type_name.as_str()),
            ("blog_posts", "BlogPost")
        );
        assert_eq!(
            ResourceName::new("category", None).unwrap().plural,
            "categories"
        );
        assert_eq!(ResourceName::new("person", None).unwrap().plural, "people");
        assert_eq!(
            ResourceName::new("box_item", None).unwrap().table_type,
            "BoxItems"
        );
        let given = ResourceName::new("datum", Some("data_points")).unwrap();
        assert_eq!(given.plural, "data_points");
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "",
            "Book",
            "book-club",
            "2books",
            "_book",
            "book_",
            "blog__post",
            "bøok",
            "type",
            "self",
            "select",
            "user",
            "users",
            "admin",
            "books",
            "a_name_far_too_long_for_a_table",
        ] {
            assert!(ResourceName::new(bad, None).is_err(), "{bad}");
        }
        assert!(ResourceName::new("book", Some("book")).is_err());
        assert!(ResourceName::new("book", Some("Books")).is_err());
    }
}

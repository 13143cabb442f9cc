//! `generate resource NAME field:type …`: writes a resource in the shape every resource of
//! this project has — migration, policy-row migration, entity, DTOs with validation, routes
//! with their access declarations, and an integration test file — and registers it in the
//! migrator, the entity list, the router and the OpenAPI tags.
//!
//! Nothing is written unless everything can be: names and types are checked, every file to
//! create must be absent and every registration marker (`// shaapi:…` lines in the files it
//! edits) present, before the first write. Plain format templates, one module per file
//! written: the output is rustfmt-clean as written (CI checks it with `cargo fmt --check`),
//! so the command needs no rustfmt.

mod admin;
mod dto;
mod entity;
pub mod fields;
mod migration;
pub mod names;
mod policy;
mod project;
mod routes;
mod test_file;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use self::fields::{Field, FieldType};
use self::names::ResourceName;
use self::project::Project;

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Write a new resource: migration, policy rows, entity, DTOs, routes and their tests
    Resource(ResourceArgs),
}

#[derive(Debug, Args)]
pub struct ResourceArgs {
    /// Singular snake_case name (`book`); the table, URL path, modules and files take the
    /// plural (`books`)
    pub name: String,
    /// Fields as name:type; types: string, text, int, bool, uuid, datetime, decimal
    #[arg(value_name = "FIELD:TYPE")]
    pub fields: Vec<String>,
    /// Each row belongs to the account that created it (`owner_id`): only the owner or an
    /// admin changes or deletes it, anyone else gets 403
    #[arg(long)]
    pub owned: bool,
    /// Deletes set `deleted_at` instead of removing the row; admins list and restore them
    #[arg(long)]
    pub soft_delete: bool,
    /// The plural, when the English rule gets it wrong (default: from the name)
    #[arg(long, value_name = "NAME")]
    pub plural: Option<String>,
    /// The project's root (default: the nearest folder, from the current one up, holding
    /// `migration/src/lib.rs`)
    #[arg(long, value_name = "PATH")]
    pub project: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A bad name, type or argument (exit 2, like any usage error).
    #[error("{0}")]
    Usage(String),
    /// The project cannot take the resource as it is: a file exists, a marker is missing.
    #[error("{0}")]
    Refused(String),
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// A resource to write: its names, fields and options.
#[derive(Clone, Debug)]
pub struct Resource {
    pub name: ResourceName,
    pub fields: Vec<Field>,
    pub owned: bool,
    pub soft_delete: bool,
    /// Module names of the two migrations.
    pub create_migration: String,
    pub policy_migration: String,
}

impl Resource {
    pub fn has(&self, kind: FieldType) -> bool {
        self.fields.iter().any(|field| field.kind == kind)
    }

    /// Replaces the `%…%` placeholders of a template with this resource's names.
    pub fn fill(&self, template: &str) -> String {
        let name = &self.name;
        template
            .replace("%plural_words%", &name.plural_words())
            .replace("%Plural_words%", &capitalised(&name.plural_words()))
            .replace("%words%", &name.words())
            .replace("%Words%", &capitalised(&name.words()))
            .replace("%plural%", &name.plural)
            .replace("%singular%", &name.singular)
            .replace("%Type%", &name.type_name)
            .replace("%Table%", &name.table_type)
            .replace("%create_migration%", &self.create_migration)
            .replace("%policy_migration%", &self.policy_migration)
    }
}

fn capitalised(words: &str) -> String {
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn run(command: GenerateCommand) -> Result<(), GenerateError> {
    match command {
        GenerateCommand::Resource(args) => generate_resource(args),
    }
}

fn generate_resource(args: ResourceArgs) -> Result<(), GenerateError> {
    let name = ResourceName::new(&args.name, args.plural.as_deref())?;
    let fields = fields::parse_fields(&args.fields)?;
    let project = match args.project {
        Some(root) => Project::at(root)?,
        None => {
            let here = std::env::current_dir().map_err(|source| GenerateError::Io {
                action: "read",
                path: "the current directory".to_owned(),
                source,
            })?;
            Project::find_from(&here)?
        }
    };
    project.check_name_is_free(&name)?;
    // Migrations are applied in the order of `migrations()`; the timestamps only make the
    // names unique and sort the files.
    let now = chrono::Utc::now();
    let later = now + chrono::Duration::seconds(1);
    let resource = Resource {
        create_migration: format!("m{}_create_{}", now.format("%Y%m%d_%H%M%S"), name.plural),
        policy_migration: format!("m{}_{}_policy", later.format("%Y%m%d_%H%M%S"), name.plural),
        name,
        fields,
        owned: args.owned,
        soft_delete: args.soft_delete,
    };
    let plan = project::plan(&project, &resource)?;
    plan.apply()?;
    for path in &plan.created {
        println!("created  {path}");
    }
    for path in &plan.changed {
        println!("changed  {path}");
    }
    println!(
        "next: `cargo run -- db migrate`, then `cargo test --test {}`",
        resource.name.plural
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_every_form_of_the_name() {
        let resource = Resource {
            name: ResourceName::new("blog_post", None).unwrap(),
            fields: Vec::new(),
            owned: false,
            soft_delete: false,
            create_migration: "m1_create_blog_posts".to_owned(),
            policy_migration: "m2_blog_posts_policy".to_owned(),
        };
        assert_eq!(
            resource
                .fill("%Type% %Table% %plural% %singular% %Words% %plural_words% %Plural_words%"),
            "BlogPost BlogPosts blog_posts blog_post Blog post blog posts Blog posts"
        );
    }
}

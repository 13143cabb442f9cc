//! The project being written into: where it is, which names it already uses, and the plan —
//! files to create and registrations to add above the `// shaapi:…` markers — checked whole
//! before anything is written.

use std::cmp::Ordering;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::names::ResourceName;
use super::{GenerateError, Resource, admin, dto, entity, migration, policy, routes, test_file};

const MIGRATOR: &str = "migration/src/lib.rs";
const ENTITIES: &str = "src/entities/mod.rs";
const HTTP: &str = "src/http/mod.rs";
const OPENAPI: &str = "src/http/openapi.rs";
const MANIFEST: &str = "Cargo.toml";

pub struct Project {
    root: PathBuf,
}

impl Project {
    /// The project at `root`, which must look like one.
    pub fn at(root: PathBuf) -> Result<Project, GenerateError> {
        if is_project(&root) {
            Ok(Project { root })
        } else {
            Err(GenerateError::Refused(format!(
                "{} is not a project root (no {MIGRATOR} or {ENTITIES})",
                root.display()
            )))
        }
    }

    /// The nearest project root at or above `start`.
    pub fn find_from(start: &Path) -> Result<Project, GenerateError> {
        start
            .ancestors()
            .find(|dir| is_project(dir))
            .map(|root| Project {
                root: root.to_path_buf(),
            })
            .ok_or_else(|| {
                GenerateError::Refused(format!(
                    "no project here: neither {} nor a folder above it holds {MIGRATOR} \
                     (run from the project, or pass --project)",
                    start.display()
                ))
            })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn read(&self, relative: &str) -> Result<String, GenerateError> {
        std::fs::read_to_string(self.path(relative)).map_err(|source| GenerateError::Io {
            action: "read",
            path: relative.to_owned(),
            source,
        })
    }

    /// Refuses a name whose table, module, files or migration the project already has.
    pub fn check_name_is_free(&self, name: &ResourceName) -> Result<(), GenerateError> {
        let plural = &name.plural;
        let taken = |what: String| {
            Err(GenerateError::Refused(format!(
                "resource `{}` would collide with {what}",
                name.singular
            )))
        };
        for relative in [
            format!("src/entities/{plural}.rs"),
            format!("src/http/{plural}.rs"),
            format!("src/http/{plural}"),
            format!("tests/{plural}.rs"),
            format!("src/{plural}.rs"),
            format!("src/{plural}"),
        ] {
            if self.path(&relative).exists() {
                return taken(format!("the existing {relative}"));
            }
        }
        let entities = list_dir(&self.path("src/entities"))?;
        let table = format!("table_name = \"{plural}\"");
        for file in entities.iter().filter(|file| file.ends_with(".rs")) {
            let text = self.read(&format!("src/entities/{file}"))?;
            if text.contains(&table) {
                return taken(format!("the table of src/entities/{file}"));
            }
        }
        let suffix = format!("_create_{plural}.rs");
        if let Some(file) = list_dir(&self.path("migration/src"))?
            .into_iter()
            .find(|file| file.ends_with(&suffix))
        {
            return taken(format!("the migration migration/src/{file}"));
        }
        Ok(())
    }
}

fn is_project(dir: &Path) -> bool {
    dir.join(MIGRATOR).is_file() && dir.join(ENTITIES).is_file() && dir.join(MANIFEST).is_file()
}

fn list_dir(dir: &Path) -> Result<Vec<String>, GenerateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| GenerateError::Io {
        action: "list",
        path: dir.display().to_string(),
        source,
    })?;
    Ok(entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect())
}

/// What a generation writes, checked whole before the first write.
pub struct Plan {
    root: PathBuf,
    files: Vec<(String, String)>,
    edits: Vec<(String, String)>,
    /// Paths created and changed, relative to the root, for the report.
    pub created: Vec<String>,
    pub changed: Vec<String>,
}

pub fn plan(project: &Project, resource: &Resource) -> Result<Plan, GenerateError> {
    let plural = &resource.name.plural;
    let mut files = vec![
        (
            format!("migration/src/{}.rs", resource.create_migration),
            migration::render(resource),
        ),
        (
            format!("migration/src/{}.rs", resource.policy_migration),
            policy::render(resource),
        ),
        (
            format!("src/entities/{plural}.rs"),
            entity::render(resource),
        ),
        (
            format!("src/http/{plural}/mod.rs"),
            routes::render(resource),
        ),
        (format!("src/http/{plural}/dto.rs"), dto::render(resource)),
        (format!("tests/{plural}.rs"), test_file::render(resource)),
    ];
    if resource.soft_delete {
        files.push((
            format!("src/http/{plural}/admin.rs"),
            admin::render(resource),
        ));
    }
    for (relative, _) in &files {
        if project.path(relative).exists() {
            return Err(GenerateError::Refused(format!(
                "{relative} already exists: nothing was written (remove it, or choose another name)"
            )));
        }
    }

    let mut edits = Vec::new();
    let mut migrator = project.read(MIGRATOR)?;
    for module in [&resource.create_migration, &resource.policy_migration] {
        migrator = insert(
            &migrator,
            MIGRATOR,
            "migration-modules",
            &format!("mod {module};"),
            true,
        )?;
    }
    for module in [&resource.create_migration, &resource.policy_migration] {
        migrator = insert(
            &migrator,
            MIGRATOR,
            "migrations",
            &format!("Box::new({module}::Migration),"),
            false,
        )?;
    }
    edits.push((MIGRATOR.to_owned(), migrator));
    let entities = project.read(ENTITIES)?;
    let entities = insert(
        &entities,
        ENTITIES,
        "entities",
        &format!("pub mod {plural};"),
        true,
    )?;
    edits.push((ENTITIES.to_owned(), entities));
    let http = project.read(HTTP)?;
    let http = insert(
        &http,
        HTTP,
        "resource-modules",
        &format!("pub mod {plural};"),
        true,
    )?;
    let http = insert(
        &http,
        HTTP,
        "resource-routes",
        &format!(".merge({plural}::routes())"),
        false,
    )?;
    edits.push((HTTP.to_owned(), http));
    let openapi = project.read(OPENAPI)?;
    let tag = resource.fill(
        "(name = \"%plural%\", description = \"%Plural_words% (written by `generate resource`)\"),",
    );
    edits.push((
        OPENAPI.to_owned(),
        insert(&openapi, OPENAPI, "openapi-tags", &tag, false)?,
    ));
    if resource.has(super::FieldType::Decimal) {
        let manifest = project.read(MANIFEST)?;
        // Decimal columns need sea-orm's rust_decimal support (sqlx's, on Postgres).
        if !manifest.contains("\"with-rust_decimal\"") {
            let manifest = insert(
                &manifest,
                MANIFEST,
                "sea-orm-features",
                "\"with-rust_decimal\",",
                false,
            )?;
            edits.push((MANIFEST.to_owned(), manifest));
        }
    }
    let created = files.iter().map(|(path, _)| path.clone()).collect();
    let changed = edits.iter().map(|(path, _)| path.clone()).collect();
    Ok(Plan {
        root: project.root.clone(),
        files,
        edits,
        created,
        changed,
    })
}

/// `text` with `line` inserted above its `// shaapi:MARKER` line (`# shaapi:MARKER` in TOML),
/// indented like it. `sorted`: among the lines of the same kind just above the marker, where
/// rustfmt's ordering puts it.
fn insert(
    text: &str,
    file: &str,
    marker: &str,
    line: &str,
    sorted: bool,
) -> Result<String, GenerateError> {
    let lines: Vec<&str> = text.lines().collect();
    let is_marker = |candidate: &&str| {
        let trimmed = candidate.trim_start();
        [format!("// shaapi:{marker}"), format!("# shaapi:{marker}")]
            .iter()
            .any(|tag| {
                trimmed
                    .strip_prefix(tag.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
            })
    };
    let Some(at) = lines.iter().position(is_marker) else {
        return Err(GenerateError::Refused(format!(
            "{file} has no `shaapi:{marker}` marker line, so the resource cannot be registered \
             there: nothing was written (restore the marker from a freshly generated project)"
        )));
    };
    let indent = &lines[at][..lines[at].len() - lines[at].trim_start().len()];
    let new_line = format!("{indent}{line}");
    let mut position = at;
    if sorted {
        // `pub mod ` / `mod `: the part before the name.
        let kind = &line[..line.rfind(' ').map_or(0, |index| index + 1)];
        let mut start = at;
        while start > 0 && lines[start - 1].trim_start().starts_with(kind) {
            start -= 1;
        }
        position = (start..at)
            .find(|&index| version_order(lines[index].trim_start(), line) == Ordering::Greater)
            .unwrap_or(at);
    }
    let mut output: Vec<&str> = lines[..position].to_vec();
    output.push(&new_line);
    output.extend_from_slice(&lines[position..]);
    let mut text = output.join("\n");
    text.push('\n');
    Ok(text)
}

/// rustfmt's order of names: runs of digits compare as numbers, the rest character by
/// character.
fn version_order(left: &str, right: &str) -> Ordering {
    let (mut left, mut right) = (left.chars().peekable(), right.chars().peekable());
    loop {
        match (left.peek().copied(), right.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) if a.is_ascii_digit() && b.is_ascii_digit() => {
                let number = |chars: &mut std::iter::Peekable<std::str::Chars>| {
                    let mut digits = String::new();
                    while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(c);
                        chars.next();
                    }
                    digits.trim_start_matches('0').to_owned()
                };
                let (a, b) = (number(&mut left), number(&mut right));
                let order = a.len().cmp(&b.len()).then_with(|| a.cmp(&b));
                if order != Ordering::Equal {
                    return order;
                }
            }
            (Some(a), Some(b)) => {
                if a != b {
                    return a.cmp(&b);
                }
                left.next();
                right.next();
            }
        }
    }
}

impl Plan {
    /// Creates the files (never over an existing one), then rewrites the registrations, each
    /// through a temporary file renamed over the original. A failure removes what this run
    /// created.
    pub fn apply(&self) -> Result<(), GenerateError> {
        let mut created: Vec<PathBuf> = Vec::new();
        let result = self.write_all(&mut created);
        if result.is_err() {
            for path in created.iter().rev() {
                let _ = std::fs::remove_file(path);
            }
        }
        result
    }

    fn write_all(&self, created: &mut Vec<PathBuf>) -> Result<(), GenerateError> {
        for (relative, contents) in &self.files {
            let path = self.root.join(relative);
            let io = |action: &'static str| {
                let path = relative.clone();
                move |source| GenerateError::Io {
                    action,
                    path,
                    source,
                }
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io("create the folder of"))?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io("create"))?;
            created.push(path);
            file.write_all(contents.as_bytes()).map_err(io("write"))?;
        }
        for (relative, contents) in &self.edits {
            let path = self.root.join(relative);
            let io = |source| GenerateError::Io {
                action: "rewrite",
                path: relative.clone(),
                source,
            };
            let dir = path.parent().unwrap_or(&self.root);
            let mut temporary = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
            temporary.write_all(contents.as_bytes()).map_err(io)?;
            temporary.persist(&path).map_err(|error| io(error.error))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_above_the_marker_in_rustfmt_order() {
        let text = "pub mod audit;\npub mod users;\n// shaapi:entities (note)\n";
        let text = insert(text, "f", "entities", "pub mod books;", true).unwrap();
        assert_eq!(
            text,
            "pub mod audit;\npub mod books;\npub mod users;\n// shaapi:entities (note)\n"
        );
        let text = insert(&text, "f", "entities", "pub mod zebras;", true).unwrap();
        assert!(text.contains("pub mod users;\npub mod zebras;\n// shaapi"));
        let chain = "    x()\n        // shaapi:resource-routes\n        .y()\n";
        assert_eq!(
            insert(chain, "f", "resource-routes", ".merge(b::routes())", false).unwrap(),
            "    x()\n        .merge(b::routes())\n        // shaapi:resource-routes\n        .y()\n"
        );
    }

    #[test]
    fn a_missing_marker_is_refused_naming_it() {
        let error = insert("pub mod a;\n", "src/x.rs", "entities", "pub mod b;", true)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("src/x.rs") && error.contains("shaapi:entities"),
            "{error}"
        );
        // A longer marker name is not the marker.
        assert!(insert("// shaapi:entities2\n", "f", "entities", "x", false).is_err());
    }

    #[test]
    fn version_order_compares_numbers_as_numbers() {
        assert_eq!(version_order("mod a2;", "mod a10;"), Ordering::Less);
        assert_eq!(version_order("mod book_x;", "mod books;"), Ordering::Less);
        assert_eq!(version_order("mod b;", "mod a;"), Ordering::Greater);
    }
}

//! `shasec audit`: walk a project, parse each file once, run every rule family, apply the
//! suppressions of `.shasec.toml`.

pub mod project;
pub mod suppress;

use std::path::{Path, PathBuf};

use crate::cli::AuditArgs;
use crate::finding::{Finding, Location};
use crate::parse::compose::{self, ComposeFile};
use crate::parse::config::{self, Setting};
use crate::parse::dockerfile::{self, Dockerfile};
use crate::parse::dotenv::{self, EnvFile};
use crate::parse::yaml::{self, Node};
use crate::report::Report;
use crate::rules::meta::PARSE_ERROR;
use crate::rules::{self, RuleSet};
pub use project::{FileKind, FileRole, Project, SourceFile};

/// Options that change what is audited.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Skip what `.gitignore` files exclude (default).
    pub respect_gitignore: bool,
    /// The day suppression expiry dates are compared with.
    pub today: jiff::civil::Date,
}

impl AuditOptions {
    pub fn new(respect_gitignore: bool) -> Self {
        AuditOptions {
            respect_gitignore,
            today: jiff::Zoned::now().date(),
        }
    }
}

impl From<&AuditArgs> for AuditOptions {
    fn from(args: &AuditArgs) -> Self {
        AuditOptions::new(!args.no_ignore)
    }
}

/// Nothing could be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot audit {path}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot audit {0}: not a directory")]
    NotADirectory(PathBuf),
}

/// A compose file with its role.
pub struct ComposeDocument<'p> {
    pub file: &'p SourceFile,
    pub compose: ComposeFile,
    pub prod: bool,
}

/// Every file parsed once, shared by the rule families.
pub struct Parsed<'p> {
    pub compose: Vec<ComposeDocument<'p>>,
    pub dockerfiles: Vec<(&'p SourceFile, Dockerfile)>,
    pub dotenvs: Vec<(&'p SourceFile, EnvFile)>,
    /// TOML, YAML (other than compose) and JSON files as flat settings.
    pub configs: Vec<(&'p SourceFile, Vec<Setting>)>,
    pub rust: Vec<(&'p SourceFile, syn::File)>,
}

fn parse_error(file: &SourceFile, line: Option<u32>, message: impl std::fmt::Display) -> Finding {
    let location = match line {
        Some(line) => Location::line(&file.path, line),
        None => Location::file(&file.path),
    };
    Finding::new(
        &PARSE_ERROR,
        location,
        format!("{}: {message}", kind_name(file.kind)),
    )
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Dotenv => "dotenv",
        FileKind::Compose => "compose file",
        FileKind::Dockerfile => "Dockerfile",
        FileKind::Toml => "TOML",
        FileKind::Yaml => "YAML",
        FileKind::Json => "JSON",
        FileKind::Sql => "SQL",
        FileKind::Rust => "Rust",
        FileKind::Text => "text",
    }
}

/// Lock files and CI/tooling metadata hold no application settings.
fn is_config_candidate(file: &SourceFile) -> bool {
    let name = file.file_name().to_ascii_lowercase();
    let skipped_names = [
        "package-lock.json",
        "pnpm-lock.yaml",
        "yarn.lock",
        "composer.lock",
        "tsconfig.json",
        ".shasec.toml",
    ];
    let skipped_dirs = ["locales", "locale", "i18n", "translations", "lang"];
    !skipped_names.contains(&name.as_str())
        && !name.ends_with(".lock")
        && !file
            .path
            .split('/')
            .any(|dir| skipped_dirs.contains(&dir.to_ascii_lowercase().as_str()))
}

fn yaml_documents(file: &SourceFile, findings: &mut Vec<Finding>) -> Option<Vec<Node>> {
    match yaml::parse(&file.text) {
        Ok(documents) => Some(documents),
        Err(error) => {
            findings.push(parse_error(file, Some(error.line), &error.message));
            None
        }
    }
}

pub fn parse_project<'p>(project: &'p Project, findings: &mut Vec<Finding>) -> Parsed<'p> {
    let mut parsed = Parsed {
        compose: Vec::new(),
        dockerfiles: Vec::new(),
        dotenvs: Vec::new(),
        configs: Vec::new(),
        rust: Vec::new(),
    };
    for file in &project.files {
        match file.kind {
            FileKind::Dotenv => {
                let env = dotenv::parse(&file.text);
                for issue in &env.issues {
                    findings.push(parse_error(file, Some(issue.line), &issue.message));
                }
                parsed.dotenvs.push((file, env));
            }
            FileKind::Dockerfile => {
                let dockerfile = dockerfile::parse(&file.text);
                for issue in &dockerfile.issues {
                    findings.push(parse_error(file, Some(issue.line), &issue.message));
                }
                parsed.dockerfiles.push((file, dockerfile));
            }
            FileKind::Compose | FileKind::Yaml | FileKind::Json => {
                let Some(documents) = yaml_documents(file, findings) else {
                    continue;
                };
                let is_compose = file.kind == FileKind::Compose
                    || documents.first().is_some_and(compose::looks_like_compose);
                if is_compose {
                    let Some(root) = documents.first() else {
                        continue;
                    };
                    match compose::from_yaml(root) {
                        Ok(compose) => parsed.compose.push(ComposeDocument {
                            file,
                            compose,
                            prod: project::is_prod_compose(&file.path),
                        }),
                        Err(message) => findings.push(parse_error(file, None, message)),
                    }
                } else if is_config_candidate(file) && !file.path.starts_with(".github/") {
                    parsed.configs.push((file, config::from_yaml(&documents)));
                }
            }
            FileKind::Toml => {
                if !is_config_candidate(file) {
                    continue;
                }
                match config::from_toml(&file.text) {
                    Ok(settings) => parsed.configs.push((file, settings)),
                    Err(error) => {
                        findings.push(parse_error(file, Some(error.line), &error.message))
                    }
                }
            }
            FileKind::Rust => match syn::parse_file(&file.text) {
                Ok(ast) => parsed.rust.push((file, ast)),
                Err(error) => {
                    let line = u32::try_from(error.span().start().line)
                        .ok()
                        .filter(|line| *line > 0);
                    findings.push(parse_error(file, line, error));
                }
            },
            FileKind::Sql | FileKind::Text => {}
        }
    }
    parsed
}

/// Audits the project at `root`.
pub fn run(root: &Path, options: &AuditOptions) -> Result<Report, AuditError> {
    let metadata = std::fs::metadata(root).map_err(|source| AuditError::Unreadable {
        path: root.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(AuditError::NotADirectory(root.to_path_buf()));
    }
    std::fs::read_dir(root).map_err(|source| AuditError::Unreadable {
        path: root.to_path_buf(),
        source,
    })?;

    let mut findings = Vec::new();
    let project = Project::load(root, options.respect_gitignore, &mut findings);
    let parsed = parse_project(&project, &mut findings);
    rules::secrets::check(&project, &parsed, &mut findings);
    rules::compose::check(&project, &parsed, &mut findings);
    rules::dockerfile::check(&project, &parsed, &mut findings);
    rules::code::check(&project, &parsed, &mut findings);
    rules::hygiene::check(&project, &parsed, &mut findings);

    let mut findings = suppress::apply(root, findings, options.today);
    // A builder judged both as a binding and where it is used reports the same thing twice.
    crate::finding::sort_findings(&mut findings);
    findings.dedup();
    Ok(Report::new(
        RuleSet::Audit,
        root.display().to_string(),
        findings,
    ))
}

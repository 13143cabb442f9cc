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
    /// YAML files holding Kubernetes objects (never another engine's template source).
    pub kubernetes: Vec<(&'p SourceFile, Vec<Node>)>,
    /// kustomization.yaml files: which files are patches, which images they pin.
    pub kustomizations: Vec<(&'p SourceFile, Vec<Node>)>,
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
    // Tooling manifests: lint names (`needless_pass_by_value`), feature lists, formatter rules.
    let skipped_names = [
        "cargo.toml",
        ".taplo.toml",
        "taplo.toml",
        "rustfmt.toml",
        ".rustfmt.toml",
        "clippy.toml",
        "deny.toml",
        "pyproject.toml",
        "package.json",
        "composer.json",
        "renovate.json",
        "package-lock.json",
        "pnpm-lock.yaml",
        "yarn.lock",
        "composer.lock",
        "tsconfig.json",
        ".shasec.toml",
    ];
    let skipped_dirs = [
        "locales",
        "locale",
        "i18n",
        "translations",
        "lang",
        ".vscode",
        "vscode",
        ".devcontainer",
    ];
    // JSON with comments (tsconfig, VS Code, launch settings) is valid for its reader, not JSON.
    let jsonc = (name.starts_with("tsconfig") || name.starts_with("jsconfig"))
        && name.ends_with(".json")
        || matches!(
            name.as_str(),
            "devcontainer.json" | "launchsettings.json" | ".eslintrc.json" | ".babelrc"
        );
    !skipped_names.contains(&name.as_str())
        && !jsonc
        && !name.ends_with(".lock")
        && !file
            .path
            .split('/')
            .any(|dir| skipped_dirs.contains(&dir.to_ascii_lowercase().as_str()))
}

/// Sources of another template engine (cookiecutter's `{{cookiecutter.project_slug}}/…`, a Helm
/// chart's `templates/`): not valid YAML, TOML or Dockerfiles until rendered, so not parsed.
fn is_template_path(file: &SourceFile) -> bool {
    file.path.contains("{{")
        || file.path.contains("{%")
        || (matches!(
            file.kind,
            FileKind::Yaml | FileKind::Compose | FileKind::Json
        ) && file
            .path
            .split('/')
            .rev()
            .skip(1)
            .any(|dir| dir == "templates")
            && file.text.contains("{{"))
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
        kubernetes: Vec::new(),
        kustomizations: Vec::new(),
    };
    for file in &project.files {
        // Another engine's template source is judged as far as it parses; its syntax errors
        // are the template's, not the project's.
        let mut template_errors = Vec::new();
        let sink: &mut Vec<Finding> = if is_template_path(file) {
            &mut template_errors
        } else {
            &mut *findings
        };
        match file.kind {
            FileKind::Dotenv => {
                let env = dotenv::parse(&file.text);
                for issue in &env.issues {
                    sink.push(parse_error(file, Some(issue.line), &issue.message));
                }
                parsed.dotenvs.push((file, env));
            }
            FileKind::Dockerfile => {
                let dockerfile = dockerfile::parse(&file.text);
                for issue in &dockerfile.issues {
                    sink.push(parse_error(file, Some(issue.line), &issue.message));
                }
                parsed.dockerfiles.push((file, dockerfile));
            }
            FileKind::Compose | FileKind::Yaml | FileKind::Json => {
                if file.kind == FileKind::Json && !is_config_candidate(file) {
                    continue;
                }
                let Some(documents) = yaml_documents(file, sink) else {
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
                        Err(message) => sink.push(parse_error(file, None, message)),
                    }
                } else {
                    let deployable = !is_template_path(file)
                        && project::file_role(&file.path) == FileRole::Deployed;
                    if rules::kubernetes::is_kustomization(file.file_name()) {
                        parsed.kustomizations.push((file, documents.clone()));
                    } else if deployable
                        && file.kind == FileKind::Yaml
                        && documents.iter().any(rules::kubernetes::looks_like_object)
                    {
                        parsed.kubernetes.push((file, documents.clone()));
                    }
                    if is_config_candidate(file) && !file.path.starts_with(".github/") {
                        parsed.configs.push((file, config::from_yaml(&documents)));
                    }
                }
            }
            FileKind::Toml => {
                if !is_config_candidate(file) {
                    continue;
                }
                match config::from_toml(&file.text) {
                    Ok(settings) => parsed.configs.push((file, settings)),
                    Err(error) => sink.push(parse_error(file, Some(error.line), &error.message)),
                }
            }
            FileKind::Rust => match syn::parse_file(&file.text) {
                Ok(ast) => parsed.rust.push((file, ast)),
                Err(error) => {
                    let line = u32::try_from(error.span().start().line)
                        .ok()
                        .filter(|line| *line > 0);
                    sink.push(parse_error(file, line, error));
                }
            },
            FileKind::Text if file.path.ends_with(".properties") && is_config_candidate(file) => {
                parsed
                    .configs
                    .push((file, config::from_properties(&file.text)));
            }
            FileKind::Sql | FileKind::Text => {}
        }
    }
    // Files compose loads with `env_file:` are dotenv files whatever their name.
    for path in env_file_targets(&parsed.compose) {
        if let Some(file) = project
            .file(&path)
            .filter(|file| file.kind != FileKind::Dotenv)
        {
            parsed.dotenvs.push((file, dotenv::parse(&file.text)));
        }
    }
    parsed
}

/// The `env_file:` paths of every compose file, relative to the project root.
pub fn env_file_targets(compose: &[ComposeDocument<'_>]) -> Vec<String> {
    let mut targets: Vec<String> = compose
        .iter()
        .flat_map(|document| {
            let directory = document
                .file
                .path
                .rsplit_once('/')
                .map_or("", |(dir, _)| dir);
            document.compose.services.iter().flat_map(move |service| {
                service
                    .env_files
                    .iter()
                    .filter_map(move |env_file| normalise_join(directory, &env_file.value))
            })
        })
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// `directory/relative` with `.` and `..` resolved; `None` when it leaves the project.
fn normalise_join(directory: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = directory.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
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
    rules::kubernetes::check(&project, &parsed, &mut findings);

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

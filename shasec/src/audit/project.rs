//! The project being audited: its files (walked once, respecting `.gitignore` unless told not
//! to), what kind each is, and facts several rules share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::finding::{Finding, Location};
use crate::parse::{dotenv, git_index};
use crate::rules::meta::{FILE_OVER_BUDGET, PARSE_ERROR};

/// Files larger than this are not read whole: no configuration or source file is this big.
/// Dotenv files over it are read streaming; any other one is named in an info finding.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// Of an over-budget dotenv file, lines longer than this are kept empty (no setting is that long).
const MAX_STREAMED_LINE: usize = 4096;
/// Always skipped: build output, dependencies, the git database.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", ".git"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dotenv,
    Compose,
    Dockerfile,
    Toml,
    Yaml,
    Json,
    Sql,
    Rust,
    /// Any other text file (scanned for leftovers, geo-IP services, cookie literals).
    Text,
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative to the audited root, `/`-separated.
    pub path: String,
    pub kind: FileKind,
    pub text: String,
}

impl SourceFile {
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// How much a weak value in a file matters: templates and dev-only files are not deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// `*.example`, `*.sample`, `*.template`, `*.dist`.
    Template,
    /// Named for development or tests (`.env.dev`, `compose.override.yaml`, under `tests/`).
    DevOnly,
    /// Anything else: a deployment may read it.
    Deployed,
}

fn name_parts(file_name: &str) -> Vec<String> {
    file_name
        .to_ascii_lowercase()
        .split(['.', '-', '_'])
        .map(str::to_owned)
        .collect()
}

pub fn file_role(path: &str) -> FileRole {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let parts = name_parts(file_name);
    let has = |words: &[&str]| parts.iter().any(|part| words.contains(&part.as_str()));
    if has(&["example", "examples", "sample", "template", "dist", "tpl"]) {
        return FileRole::Template;
    }
    let in_dev_dir = path.split('/').rev().skip(1).any(|dir| {
        matches!(
            dir.to_ascii_lowercase().as_str(),
            "test"
                | "tests"
                | "testdata"
                | "spec"
                | "e2e"
                | "examples"
                | "example"
                | "docs"
                | ".devcontainer"
        )
    });
    if in_dev_dir
        || has(&[
            "dev",
            "development",
            "local",
            "test",
            "testing",
            "ci",
            "override",
            "debug",
            "travis",
            "playwright",
            "e2e",
        ])
    {
        return FileRole::DevOnly;
    }
    FileRole::Deployed
}

/// Compose files by name; other YAML is recognised by content later.
fn compose_by_name(file_name: &str) -> bool {
    let lower = file_name.to_ascii_lowercase();
    let Some(stem) = lower
        .strip_suffix(".yaml")
        .or_else(|| lower.strip_suffix(".yml"))
    else {
        return false;
    };
    stem == "compose"
        || stem == "docker-compose"
        || stem.starts_with("compose.")
        || stem.starts_with("docker-compose.")
        || stem.starts_with("docker-compose-")
        || stem.ends_with(".compose")
        || stem.ends_with("-compose")
}

pub fn classify(file_name: &str) -> FileKind {
    let lower = file_name.to_ascii_lowercase();
    // `.env.patch`, `.env.diff`: changes to an env file, not one.
    let change_file = [".patch", ".diff", ".orig", ".rej"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    if change_file {
        FileKind::Text
    } else if lower == ".env"
        || lower.starts_with(".env.")
        || lower.ends_with(".env")
        || lower == "env.example"
    {
        FileKind::Dotenv
    } else if lower == "dockerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower == "containerfile"
        || lower.starts_with("containerfile.")
    {
        FileKind::Dockerfile
    } else if compose_by_name(file_name) {
        FileKind::Compose
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        FileKind::Yaml
    } else if lower.ends_with(".toml") {
        FileKind::Toml
    } else if lower.ends_with(".json") {
        FileKind::Json
    } else if lower.ends_with(".sql") {
        FileKind::Sql
    } else if lower.ends_with(".rs") {
        FileKind::Rust
    } else {
        FileKind::Text
    }
}

/// A production compose file: `compose.prod.yaml`, `docker-compose.production.yml` …
pub fn is_prod_compose(path: &str) -> bool {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    name_parts(file_name)
        .iter()
        .any(|part| matches!(part.as_str(), "prod" | "production" | "prd" | "live"))
}

pub struct Project {
    pub root: PathBuf,
    pub files: Vec<SourceFile>,
    /// Tracked paths when the root is a git work tree.
    pub tracked: Option<Vec<String>>,
    /// Variables of the root `.env` (what compose interpolates with), when it exists.
    pub dotenv: HashMap<String, String>,
    /// Generated by shaapi (has its `.shaapi.toml` origin file).
    pub generated_by_shaapi: bool,
    pub respect_gitignore: bool,
}

impl Project {
    /// Walks `root`, reading every text file; unreadable files become `info` findings.
    pub fn load(root: &Path, respect_gitignore: bool, findings: &mut Vec<Finding>) -> Project {
        let mut files = Vec::new();
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .git_ignore(respect_gitignore)
            .git_exclude(respect_gitignore)
            .git_global(false)
            .ignore(respect_gitignore)
            .parents(false)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(|entry| {
                !(entry.file_type().is_some_and(|t| t.is_dir())
                    && entry
                        .file_name()
                        .to_str()
                        .is_some_and(|name| SKIPPED_DIRS.contains(&name)))
            })
            .build();
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    findings.push(Finding::new(
                        &PARSE_ERROR,
                        Location::file(error_path(root, &error)),
                        format!("cannot read: {error}"),
                    ));
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(root) else {
                continue;
            };
            let path = relative.to_string_lossy().replace('\\', "/");
            let kind = classify(entry.file_name().to_str().unwrap_or_default());
            if let Some(size) = entry
                .metadata()
                .ok()
                .map(|m| m.len())
                .filter(|size| *size > MAX_FILE_BYTES)
            {
                if kind == FileKind::Dotenv {
                    match stream_settings(entry.path()) {
                        Ok(text) => files.push(SourceFile { path, kind, text }),
                        Err(error) => findings.push(Finding::new(
                            &PARSE_ERROR,
                            Location::file(&path),
                            format!("cannot read: {error}"),
                        )),
                    }
                } else if !starts_binary(entry.path()) {
                    findings.push(Finding::new(
                        &FILE_OVER_BUDGET,
                        Location::file(&path),
                        format!("{size} bytes, over the {MAX_FILE_BYTES}-byte budget: not audited"),
                    ));
                }
                continue;
            }
            let bytes = match std::fs::read(entry.path()) {
                Ok(bytes) => bytes,
                Err(error) => {
                    findings.push(Finding::new(
                        &PARSE_ERROR,
                        Location::file(&path),
                        format!("cannot read: {error}"),
                    ));
                    continue;
                }
            };
            // Binary files (a NUL in the first 8 KiB, as git decides) are not audited.
            if bytes.iter().take(8192).any(|byte| *byte == 0) {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            files.push(SourceFile { path, kind, text });
        }

        let tracked = match git_index::tracked_paths(root) {
            Ok(tracked) => tracked,
            Err(error) => {
                findings.push(Finding::new(
                    &PARSE_ERROR,
                    Location::file(".git/index"),
                    format!("cannot read the git index: {error}"),
                ));
                None
            }
        };
        // Compose reads the root `.env` for interpolation even when git ignores it.
        let dotenv = std::fs::read_to_string(root.join(".env"))
            .map(|text| {
                dotenv::parse(&text)
                    .entries
                    .into_iter()
                    .map(|entry| (entry.key, entry.value))
                    .collect()
            })
            .unwrap_or_default();
        Project {
            root: root.to_path_buf(),
            files,
            tracked,
            dotenv,
            generated_by_shaapi: root.join(".shaapi.toml").is_file(),
            respect_gitignore,
        }
    }

    pub fn files_of(&self, kind: FileKind) -> impl Iterator<Item = &SourceFile> {
        self.files.iter().filter(move |file| file.kind == kind)
    }

    pub fn file(&self, path: &str) -> Option<&SourceFile> {
        self.files.iter().find(|file| file.path == path)
    }
}

/// A NUL in the first 8 KiB, as git decides: binary files are not audited at any size.
fn starts_binary(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(path)
        .and_then(|file| file.take(8192).read_to_end(&mut head))
        .is_ok_and(|_| head.contains(&0))
}

/// An over-budget dotenv file, read line by line: settings keep their line numbers, lines too
/// long to be a setting are kept empty, so memory stays bounded by the number of lines.
fn stream_settings(path: &Path) -> std::io::Result<String> {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut text = String::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        // Reads at most one line past the limit, then skips the rest of it.
        let read = (&mut reader)
            .take(MAX_STREAMED_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && line.len() > MAX_STREAMED_LINE {
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let skipped = (&mut reader)
                    .take(MAX_STREAMED_LINE as u64)
                    .read_until(b'\n', &mut rest)?;
                if skipped == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            text.push('\n');
            continue;
        }
        if line.len() > MAX_STREAMED_LINE {
            text.push('\n');
        } else {
            text.push_str(&String::from_utf8_lossy(&line));
        }
    }
    Ok(text)
}

fn error_path(root: &Path, error: &ignore::Error) -> String {
    fn find(error: &ignore::Error) -> Option<&Path> {
        match error {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                find(err)
            }
            _ => None,
        }
    }
    find(error)
        .map(|path| {
            path.strip_prefix(root)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/")
        })
        .unwrap_or_else(|| ".".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_classified_by_name() {
        assert_eq!(classify(".env.production"), FileKind::Dotenv);
        assert_eq!(classify("prod.env"), FileKind::Dotenv);
        assert_eq!(classify("Dockerfile.api"), FileKind::Dockerfile);
        assert_eq!(classify("api.dockerfile"), FileKind::Dockerfile);
        assert_eq!(classify("docker-compose.prod.yml"), FileKind::Compose);
        assert_eq!(classify("compose.yaml"), FileKind::Compose);
        assert_eq!(classify("config.yaml"), FileKind::Yaml);
    }

    #[test]
    fn roles_separate_templates_dev_files_and_deployed_files() {
        assert_eq!(file_role(".env.example"), FileRole::Template);
        assert_eq!(file_role(".env.prod.example"), FileRole::Template);
        assert_eq!(file_role("config/settings.sample.toml"), FileRole::Template);
        assert_eq!(file_role(".env.test"), FileRole::DevOnly);
        assert_eq!(file_role("compose.override.yaml"), FileRole::DevOnly);
        assert_eq!(file_role("tests/fixtures/.env"), FileRole::DevOnly);
        assert_eq!(file_role(".env"), FileRole::Deployed);
        assert_eq!(file_role("compose.prod.yaml"), FileRole::Deployed);
        assert!(is_prod_compose("deploy/docker-compose.production.yml"));
        assert!(!is_prod_compose("compose.yaml"));
    }
}

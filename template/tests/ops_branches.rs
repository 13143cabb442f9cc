//! `ops branches`: the built binary against temporary git repositories.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use {{crate_name}}::ops::branches::PROD_OVERLAY;

/// A git that ignores the machine's configuration and has an identity of its own.
fn git_command(directory: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(directory)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Ops Test")
        .env("GIT_AUTHOR_EMAIL", "ops@test.invalid")
        .env("GIT_COMMITTER_NAME", "Ops Test")
        .env("GIT_COMMITTER_EMAIL", "ops@test.invalid");
    command
}

fn git(directory: &Path, args: &[&str]) -> String {
    let output = git_command(directory)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ops_branches(directory: &Path, identity: bool) -> Output {
    let mut command = common::app_command(directory);
    command
        .args(["ops", "branches", "--repo"])
        .arg(directory)
        .env("HOME", directory)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    if identity {
        command
            .env("GIT_AUTHOR_NAME", "Ops Test")
            .env("GIT_AUTHOR_EMAIL", "ops@test.invalid")
            .env("GIT_COMMITTER_NAME", "Ops Test")
            .env("GIT_COMMITTER_EMAIL", "ops@test.invalid");
    } else {
        // Without this git may guess an identity from the user and host names.
        command
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "user.useConfigOnly")
            .env("GIT_CONFIG_VALUE_0", "true");
    }
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A project as generated with prod on: code, a base compose file and the overlay.
fn project() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::create_dir_all(root.join("deploy")).unwrap();
    fs::write(root.join("Cargo.toml"), "[package]\nname = \"demo\"\n").unwrap();
    fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs::write(root.join("compose.yaml"), "services: {}\n").unwrap();
    fs::write(root.join(".gitignore"), "/target\n.env*\n!.env.example\n").unwrap();
    fs::write(root.join("compose.prod.yaml"), "services: {}\n").unwrap();
    fs::write(root.join(".env.prod.example"), "ENVIRONMENT=prod\n").unwrap();
    fs::write(root.join("deploy/backup.sh"), "#!/usr/bin/env bash\n").unwrap();
    git(root, &["init", "--quiet", "--initial-branch=main"]);
    directory
}

fn tracked(directory: &Path, branch: &str) -> Vec<String> {
    git(directory, &["ls-tree", "-r", "--name-only", branch])
        .lines()
        .map(str::to_owned)
        .collect()
}

fn is_overlay(path: &str) -> bool {
    PROD_OVERLAY
        .iter()
        .any(|o| path == *o || path.starts_with(&format!("{o}/")))
}

fn assert_branch_model(directory: &Path) {
    let dev = tracked(directory, "dev");
    let prod = tracked(directory, "prod");
    assert!(
        dev.iter().all(|path| !is_overlay(path)),
        "overlay on dev: {dev:?}"
    );
    for path in ["compose.prod.yaml", ".env.prod.example", "deploy/backup.sh"] {
        assert!(
            prod.contains(&path.to_owned()),
            "{path} missing on prod: {prod:?}"
        );
    }
    for path in ["Cargo.toml", "src/main.rs", "compose.yaml", ".gitignore"] {
        assert!(dev.contains(&path.to_owned()) && prod.contains(&path.to_owned()));
    }
    // prod is dev plus exactly one commit, and differs from it by the overlay only.
    assert_eq!(
        git(directory, &["rev-parse", "prod~1"]),
        git(directory, &["rev-parse", "dev"])
    );
    let differing = git(directory, &["diff", "--name-only", "dev", "prod"]);
    assert!(differing.lines().all(is_overlay), "{differing}");
    assert_eq!(git(directory, &["branch", "--show-current"]).trim(), "dev");
    assert!(
        !directory.join("compose.prod.yaml").exists(),
        "overlay left in the dev checkout"
    );
}

#[test]
fn a_repository_without_commits_gets_dev_and_prod_with_the_overlay_only_on_prod() {
    let directory = project();
    let output = ops_branches(directory.path(), true);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_branch_model(directory.path());
    assert_eq!(git(directory.path(), &["status", "--porcelain"]), "");
}

#[test]
fn a_tracked_overlay_is_moved_to_prod_and_a_merge_of_dev_keeps_it_there() {
    let directory = project();
    let root = directory.path();
    git(root, &["add", "--all"]);
    git(root, &["add", "--force", ".env.prod.example"]);
    git(root, &["commit", "--quiet", "-m", "generated"]);
    let output = ops_branches(root, true);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_branch_model(root);
    assert!(
        tracked(root, "main").contains(&"compose.prod.yaml".to_owned()),
        "main was rewritten"
    );

    // Release flow: a change on dev merges into prod without touching the overlay.
    fs::write(root.join("src/lib.rs"), "pub fn feature() {}\n").unwrap();
    git(root, &["add", "src/lib.rs"]);
    git(root, &["commit", "--quiet", "-m", "feature"]);
    git(root, &["switch", "--quiet", "prod"]);
    git(root, &["merge", "--quiet", "--no-edit", "dev"]);
    let prod = tracked(root, "prod");
    assert!(prod.contains(&"src/lib.rs".to_owned()));
    assert!(
        prod.contains(&"compose.prod.yaml".to_owned()),
        "the merge removed the overlay"
    );
}

#[test]
fn existing_branches_are_never_overwritten() {
    let directory = project();
    let root = directory.path();
    git(root, &["add", "--all"]);
    git(root, &["commit", "--quiet", "-m", "generated"]);
    git(root, &["branch", "prod"]);
    let before = git(root, &["show-ref"]);
    let output = ops_branches(root, true);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("branch `prod` already exists"),
        "{}",
        stderr(&output)
    );
    assert_eq!(git(root, &["show-ref"]), before);
}

#[test]
fn uncommitted_changes_outside_the_overlay_are_refused_before_any_change() {
    let directory = project();
    let root = directory.path();
    git(root, &["add", "--all"]);
    git(root, &["commit", "--quiet", "-m", "generated"]);
    fs::write(
        root.join("src/main.rs"),
        "fn main() { println!(\"wip\"); }\n",
    )
    .unwrap();
    let output = ops_branches(root, true);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("src/main.rs"),
        "{}",
        stderr(&output)
    );
    assert_eq!(git(root, &["branch", "--list", "dev", "prod"]), "");
}

#[test]
fn a_missing_git_identity_is_reported_before_any_change() {
    let directory = project();
    let output = ops_branches(directory.path(), false);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("git config user.name"),
        "{}",
        stderr(&output)
    );
    assert_eq!(git(directory.path(), &["branch", "--list"]), "");
}

#[test]
fn a_folder_outside_git_or_without_overlay_is_refused() {
    let plain = tempfile::tempdir().unwrap();
    let output = ops_branches(plain.path(), true);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not inside a git repository"),
        "{}",
        stderr(&output)
    );

    let directory = project();
    for path in PROD_OVERLAY {
        let path = directory.path().join(path);
        if path.is_dir() {
            fs::remove_dir_all(path).unwrap();
        } else {
            fs::remove_file(path).unwrap();
        }
    }
    let output = ops_branches(directory.path(), true);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no production overlay"),
        "{}",
        stderr(&output)
    );
}

//! `ops branches`: the dev/prod branch model. Both branches carry the same code; `prod` adds
//! one commit holding the production overlay (compose.prod.yaml, .env.prod.example, deploy/),
//! so releasing is `git switch prod && git merge dev` and the overlay never reaches `dev`.
//!
//! It drives the git CLI: the user's own git (hooks, signing, config) makes the commits, and an
//! ops command run once per project does not justify a git library in the app's build.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Files and folders that exist only on the `prod` branch.
pub const PROD_OVERLAY: &[&str] = &["compose.prod.yaml", ".env.prod.example", "deploy"];
pub const DEV_BRANCH: &str = "dev";
pub const PROD_BRANCH: &str = "prod";

#[derive(Debug, thiserror::Error)]
pub enum BranchesError {
    #[error("git is not installed or cannot be run")]
    GitMissing(#[source] std::io::Error),
    #[error("{0} is not inside a git repository: run `git init` there first")]
    NotARepository(PathBuf),
    #[error("branch `{0}` already exists; nothing was changed (delete or rename it to start over)")]
    BranchExists(&'static str),
    #[error(
        "no production overlay in {0} (compose.prod.yaml, .env.prod.example, deploy/): \
         the project was generated without the prod option"
    )]
    NoOverlay(PathBuf),
    #[error(
        "the working tree has uncommitted changes outside the production overlay; commit or stash them first:\n{0}"
    )]
    DirtyWorktree(String),
    #[error(
        "git does not know who you are, so it cannot commit; nothing was changed. Run \
         `git config user.name \"Your Name\"` and `git config user.email you@example.org`"
    )]
    NoIdentity,
    #[error("`git {command}` failed: {stderr}")]
    GitFailed { command: String, stderr: String },
}

/// What [`create_branches`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchesReport {
    /// The overlay paths committed on `prod`.
    pub overlay: Vec<String>,
    /// Whether `dev` got a commit removing an overlay that was tracked before.
    pub removed_tracked_overlay: bool,
    /// Whether the repository had no commit yet (everything else became `dev`'s first commit).
    pub initial_commit: bool,
}

struct Git<'a> {
    directory: &'a Path,
}

impl Git<'_> {
    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(self.directory)
            .args(args)
            // Never wait for a credential or editor prompt.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_EDITOR", "true");
        command
    }

    fn output<I, S>(&self, args: I) -> Result<Output, BranchesError>
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        self.command(args)
            .output()
            .map_err(BranchesError::GitMissing)
    }

    /// Runs git and fails with its stderr when it exits non-zero.
    fn run<I, S>(&self, args: I) -> Result<String, BranchesError>
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        let rendered: Vec<String> = args
            .clone()
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let output = self.output(args)?;
        if !output.status.success() {
            return Err(BranchesError::GitFailed {
                command: rendered.join(" "),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn succeeds<I, S>(&self, args: I) -> Result<bool, BranchesError>
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        Ok(self.output(args)?.status.success())
    }

    fn commit(&self, message: &str) -> Result<(), BranchesError> {
        self.run(["commit", "--quiet", "--allow-empty", "-m", message])
            .map(drop)
    }
}

/// Creates `dev` and `prod` in the repository containing `project`, then leaves `dev` checked
/// out. Everything that can make it fail half-way is checked before the first change.
pub fn create_branches(project: &Path) -> Result<BranchesReport, BranchesError> {
    let git = Git { directory: project };
    if !git.succeeds(["rev-parse", "--is-inside-work-tree"])? {
        return Err(BranchesError::NotARepository(project.to_path_buf()));
    }
    for branch in [DEV_BRANCH, PROD_BRANCH] {
        if git.succeeds([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ])? {
            return Err(BranchesError::BranchExists(branch));
        }
    }
    let overlay: Vec<&str> = PROD_OVERLAY
        .iter()
        .copied()
        .filter(|path| project.join(path).exists())
        .collect();
    if overlay.is_empty() {
        return Err(BranchesError::NoOverlay(project.to_path_buf()));
    }
    if !git.succeeds(["var", "GIT_AUTHOR_IDENT"])?
        || !git.succeeds(["var", "GIT_COMMITTER_IDENT"])?
    {
        return Err(BranchesError::NoIdentity);
    }
    let has_commits = git.succeeds(["rev-parse", "--verify", "--quiet", "HEAD"])?;
    if has_commits {
        let foreign = changes_outside(&git, &overlay)?;
        if !foreign.is_empty() {
            return Err(BranchesError::DirtyWorktree(foreign.join("\n")));
        }
    }

    let mut removed_tracked_overlay = false;
    if has_commits {
        git.run(["switch", "--quiet", "-c", DEV_BRANCH])?;
        let tracked = git.run(
            ["ls-files", "--"]
                .into_iter()
                .chain(overlay.iter().copied())
                .collect::<Vec<_>>(),
        )?;
        if !tracked.trim().is_empty() {
            // Untracked on dev but kept on disk: the prod commit below adds them back.
            git.run(
                ["rm", "-r", "--cached", "--quiet", "--"]
                    .into_iter()
                    .chain(overlay.iter().copied())
                    .collect::<Vec<_>>(),
            )?;
            git.commit("Keep the production overlay on the prod branch only")?;
            removed_tracked_overlay = true;
        }
    } else {
        git.run(["symbolic-ref", "HEAD", &format!("refs/heads/{DEV_BRANCH}")])?;
        // Stage everything, then take the overlay back out (an exclude pathspec would make
        // git fail on an overlay file that .gitignore already ignores).
        git.run(["add", "--all", "--", "."])?;
        git.run(
            ["rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "--"]
                .into_iter()
                .chain(overlay.iter().copied())
                .collect::<Vec<_>>(),
        )?;
        git.commit("Initial commit")?;
    }

    git.run(["switch", "--quiet", "-c", PROD_BRANCH])?;
    for path in &overlay {
        // Files are named explicitly, so add them even if a broad .gitignore pattern (`.env*`)
        // matches them; folders go through .gitignore as usual.
        let force = project.join(path).is_file();
        let mut add = vec!["add"];
        if force {
            add.push("--force");
        }
        add.extend(["--", path]);
        git.run(&add)?;
    }
    git.commit("Add the production overlay (prod branch only)")?;
    git.run(["switch", "--quiet", DEV_BRANCH])?;

    Ok(BranchesReport {
        overlay: overlay.iter().map(|path| (*path).to_owned()).collect(),
        removed_tracked_overlay,
        initial_commit: !has_commits,
    })
}

/// `git status` entries (staged, modified or untracked) anywhere in the repository, except
/// inside the overlay paths of the project.
fn changes_outside(git: &Git<'_>, overlay: &[&str]) -> Result<Vec<String>, BranchesError> {
    // Status paths are relative to the repository root; the overlay is relative to the project,
    // which may be a sub-folder.
    let prefix = git.run(["rev-parse", "--show-prefix"])?.trim().to_owned();
    let status = git.run(["status", "--porcelain=v1", "--untracked-files=all"])?;
    Ok(status
        .lines()
        .filter(|line| {
            let path = line.get(3..).unwrap_or_default().trim_matches('"');
            let Some(path) = path.strip_prefix(prefix.as_str()) else {
                return true;
            };
            !overlay
                .iter()
                .any(|o| path == *o || path.starts_with(&format!("{o}/")))
        })
        .map(str::to_owned)
        .collect())
}

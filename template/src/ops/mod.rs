//! `ops …`: going to production. `secrets` generates strong secrets, `checklist` prints the
//! go-live list with live checks, `branches` sets up the dev/prod branch model.

pub mod admins;
pub mod branches;
pub mod checklist;
pub mod env_file;
pub mod production_checks;
pub mod secrets;

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use crate::cli::CommandError;
use crate::config::{ConfigSources, Settings};

#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Generate a strong random value for every secret; print them, or upsert them into the
    /// env file with --write
    Secrets(SecretsArgs),
    /// The go-live checklist, with a live status for every item that can be checked from here
    Checklist,
    /// Create `dev` and `prod` git branches; the production overlay is committed on `prod` only
    Branches(BranchesArgs),
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// Upsert the secrets into the env file (created if missing, mode 0600) instead of
    /// printing them; every other line is kept. Never prints a secret.
    #[arg(long)]
    pub write: bool,
    /// Also replace secrets that are already strong (by default only missing or weak ones
    /// change, so re-running never alters a live database password)
    #[arg(long, requires = "write")]
    pub rotate: bool,
    /// The env file to write
    #[arg(long, value_name = "PATH", requires = "write")]
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BranchesArgs {
    /// The project folder (inside a git repository)
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
}

pub const DEFAULT_ENV_FILE: &str = ".env";

impl OpsCommand {
    /// `secrets` and `branches` read no settings: they must work while `.env` is malformed or
    /// still holds the placeholders they are about to replace.
    pub fn needs_settings(&self) -> bool {
        matches!(self, OpsCommand::Checklist)
    }
}

/// Runs a command for which [`OpsCommand::needs_settings`] is false.
pub fn run_without_settings(command: OpsCommand) -> Result<(), CommandError> {
    match command {
        OpsCommand::Secrets(args) => run_secrets(args),
        OpsCommand::Branches(args) => run_branches(args),
        OpsCommand::Checklist => Err(anyhow!("ops checklist needs the settings").into()),
    }
}

pub async fn run(settings: Settings, command: OpsCommand) -> Result<(), CommandError> {
    match command {
        OpsCommand::Checklist => run_checklist(settings).await,
        other => run_without_settings(other),
    }
}

fn run_secrets(args: SecretsArgs) -> Result<(), CommandError> {
    let mut stdout = std::io::stdout().lock();
    if !args.write {
        secrets::print_secrets(&mut stdout).map_err(|e| anyhow!(e))?;
        return Ok(());
    }
    let path = args
        .env_file
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ENV_FILE));
    let report = secrets::write_secrets(&path, args.rotate).map_err(|e| anyhow!(e))?;
    secrets::describe_malformed(&report, &mut std::io::stderr().lock())
        .and_then(|()| secrets::describe_report(&report, &mut stdout))
        .map_err(|e| anyhow!("cannot write to the terminal: {e}"))?;
    Ok(())
}

async fn run_checklist(settings: Settings) -> Result<(), CommandError> {
    let sources = ConfigSources::from_process(None)?;
    let items = checklist::run_checks(&settings, &sources).await;
    let failed = checklist::print_items(&items, &mut std::io::stdout().lock())
        .map_err(|e| anyhow!("cannot write to the terminal: {e}"))?;
    if failed > 0 {
        return Err(anyhow!("{failed} checklist item(s) failing").into());
    }
    Ok(())
}

fn run_branches(args: BranchesArgs) -> Result<(), CommandError> {
    let report = branches::create_branches(&args.repo).map_err(|e| anyhow!(e))?;
    if report.initial_commit {
        println!("dev: first commit with the whole project except the production overlay");
    }
    if report.removed_tracked_overlay {
        println!("dev: one commit removing the production overlay from the branch");
    }
    println!(
        "prod: dev plus one commit adding {}",
        report.overlay.join(", ")
    );
    println!(
        "Now on `dev`. Release with: git switch prod && git merge dev (the overlay stays on prod)."
    );
    Ok(())
}

//! The application's command line: everything a maintainer does with the app goes through
//! this one binary.
//!
//! Exit codes, one meaning each: 0 success; 1 the command failed (a store unreachable, a
//! migration error, an unhealthy server, a file `generate` will not overwrite); 2 usage error
//! (clap, or a name or type `generate` refuses); 3 configuration refused (invalid settings, or
//! the production guard).
//!
//! To add a command: a variant of [`Command`] (or of a nested enum), its implementation in
//! `commands/`, and one arm in [`run`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::config::{ConfigError, Environment, Settings};
use crate::startup::StartupError;

#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// TOML file with settings (default: `config.toml` when present). Environment variables
    /// override it.
    #[arg(long, global = true, value_name = "PATH", env = "CONFIG_FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server (refuses to start outside dev while a setting is unsafe)
    Serve,
    /// Database schema: apply, inspect or roll back migrations
    #[command(subcommand)]
    Db(DbCommand),
    /// Check the settings against the production guard, without serving
    Doctor(DoctorArgs),
    /// Exit 0 when a running server answers GET /health/live (for container health checks)
    Health(HealthArgs),
{%- if storage %}
    /// Object storage: create the folder or bucket, prove it is reachable, rotate file keys
    #[command(subcommand)]
    Storage(StorageCommand),
{%- endif %}
    /// Accounts: create the first administrator
    #[command(subcommand)]
    Auth(crate::auth::init::AuthCommand),
    /// Going to production: strong secrets, the go-live checklist, dev/prod branches
    #[command(subcommand)]
    Ops(crate::ops::OpsCommand),
    /// Write new code into this project: `generate resource NAME field:type …`
    #[command(subcommand)]
    Generate(commands::generate::GenerateCommand),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration
    Migrate,
    /// List migrations and whether each is applied
    Status {
        /// Exit 1 unless the schema is exactly this build's (nothing pending, nothing unknown):
        /// what a deployment waits on before starting the server (deploy/k8s runs it first)
        #[arg(long)]
        check: bool,
    },
    /// Roll back the most recent migrations
    Down {
        /// How many migrations to roll back
        #[arg(long, short = 'n', default_value_t = 1)]
        steps: u32,
    },
    /// Drop every table and re-apply all migrations (destroys all data)
    Fresh {
        /// Required outside dev: this deletes every row of the database
        #[arg(long)]
        allow_non_dev: bool,
    },
}

{%- if storage %}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Create the local folder or the S3 bucket when missing, then write, read back and
    /// delete a marker object
    Init,
    /// Re-wrap the data key of every file not wrapped with STORAGE_ENCRYPTION_KEY_ID (the
    /// file contents are not re-encrypted); afterwards the previous keys can be removed
    RotateKey,
}
{%- endif %}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Judge the settings as if running in this environment (default: ENVIRONMENT)
    #[arg(long = "env", value_name = "ENV", value_parser = parse_environment)]
    pub environment: Option<Environment>,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// URL to probe (default: http://HOST:PORT/health/live from the settings)
    #[arg(long)]
    pub url: Option<String>,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 3)]
    pub timeout_secs: u64,
}

fn parse_environment(value: &str) -> Result<Environment, String> {
    value.parse()
}

/// How a command failed, which decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Refused(String),
    /// Arguments clap accepted but the command refuses (exit 2, like clap's own).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl CommandError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::Failed(_) => ExitCode::from(1),
            CommandError::Usage(_) => ExitCode::from(2),
            CommandError::Config(_) | CommandError::Refused(_) => ExitCode::from(3),
        }
    }
}

impl From<commands::generate::GenerateError> for CommandError {
    fn from(error: commands::generate::GenerateError) -> Self {
        match error {
            commands::generate::GenerateError::Usage(message) => CommandError::Usage(message),
            other => CommandError::Failed(anyhow::Error::new(other)),
        }
    }
}

impl From<StartupError> for CommandError {
    fn from(error: StartupError) -> Self {
        match error {
            StartupError::Refused { .. } | StartupError::Cors(_) => {
                CommandError::Refused(error.to_string())
            }
            StartupError::Config(config) => CommandError::Config(config),
            other => CommandError::Failed(anyhow::Error::new(other)),
        }
    }
}

/// Loads the settings, installs logging and runs the command.
pub async fn run(cli: Cli) -> ExitCode {
    let command = match cli.command {
        // No settings needed: these must work while `.env` is malformed or holds placeholders.
        Command::Ops(ops) if !ops.needs_settings() => {
            return match crate::ops::run_without_settings(ops) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => report(error),
            };
        }
        // Code generation reads and writes source files only: no settings, no stores.
        Command::Generate(generate) => {
            return match commands::generate::run(generate) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => report(error.into()),
            };
        }
        command => command,
    };
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => return report(CommandError::Config(error)),
    };
    crate::telemetry::init(&settings);

    let result = match command {
        Command::Serve => commands::serve::run(settings).await,
        Command::Db(command) => commands::db::run(settings, command).await,
        Command::Doctor(args) => commands::doctor::run(settings, args),
        Command::Health(args) => commands::health::run(&settings, args).await,
{%- if storage %}
        Command::Storage(command) => commands::storage::run(settings, command).await,
{%- endif %}
        Command::Auth(command) => crate::auth::init::run(settings, command).await,
        Command::Ops(ops) => crate::ops::run(settings, ops).await,
        Command::Generate(generate) => commands::generate::run(generate).map_err(Into::into),
    };
    // The spans of the last requests are still buffered: send them before exiting.
    if crate::observability::traces::enabled() {
        let _flushed = tokio::task::spawn_blocking(crate::observability::traces::shutdown).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(error),
    }
}

fn report(error: CommandError) -> ExitCode {
    eprintln!("error: {}", crate::error_chain::Chain(&error));
    error.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn doctor_accepts_each_environment_and_refuses_others() {
        let cli = Cli::try_parse_from(["app", "doctor", "--env", "prod"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Doctor(DoctorArgs {
                environment: Some(Environment::Prod)
            })
        ));
        assert!(Cli::try_parse_from(["app", "doctor", "--env", "qa"]).is_err());
    }
}

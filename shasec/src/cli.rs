//! Command line: `shasec audit | probe | rules`. Parses, dispatches, writes the report, maps the
//! outcome to an exit code — the only place errors become process state.

use std::fs;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::exit::ExitStatus;
use crate::finding::Severity;
use crate::report::{Format, Report};

const EXIT_CODES: &str = "Exit codes: 0 passed, 1 a finding reached --fail-on (or a probe run was cut short), 2 usage or runtime error.";

#[derive(Debug, Parser)]
#[command(name = "shasec", version, about = "Security audit and probe for backend projects", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit a project's files statically (compose, Dockerfiles, dotenv, config, Rust sources).
    #[command(after_help = EXIT_CODES)]
    Audit(AuditArgs),
    /// Attack a running API and report what got through (loopback/private targets by default).
    #[command(after_help = EXIT_CODES)]
    Probe {
        #[command(flatten)]
        // Boxed: the probe's many options would make every `Command` as large as they are.
        probe: Box<crate::probe::ProbeArgs>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List the rules (or write the rules document with --markdown).
    Rules(RulesArgs),
}

/// Report options shared by `audit` and `probe`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = Severity::High)]
    pub fail_on: Severity,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Project directory to audit.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Audit files that .gitignore excludes too (target/, node_modules/ and .git/ are always skipped).
    #[arg(long)]
    pub no_ignore: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    /// Print the rules document (Markdown) instead of the listing.
    #[arg(long)]
    pub markdown: bool,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Parses the command line, runs the command and returns its exit code.
pub fn run() -> ExitCode {
    // clap prints usage errors and exits 2 itself; --help and --version exit 0.
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!(
                "shasec: error: {}",
                crate::error_chain::one_line(error.as_ref())
            );
            ExitStatus::Error.into()
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Audit(args) => {
            let report = crate::audit::run(&args.path, &crate::audit::AuditOptions::from(&args))?;
            emit(&report, &args.output)
        }
        Command::Probe { probe, output } => {
            let report = crate::probe::run(&probe)?;
            emit(&report, &output)
        }
        Command::Rules(args) => {
            let text = if args.markdown {
                crate::rules_doc::markdown()
            } else {
                crate::rules_doc::listing()
            };
            write_output(args.output.as_ref(), &text)?;
            Ok(ExitStatus::Passed)
        }
    }
}

/// Writes the report where asked and applies the `--fail-on` gate.
pub fn emit(report: &Report, output: &OutputArgs) -> anyhow::Result<ExitStatus> {
    let colour = output.output.is_none() && std::io::stdout().is_terminal();
    let rendered = report.render(output.format, output.fail_on, colour);
    write_output(output.output.as_ref(), &rendered)?;
    Ok(if report.gate_fails(output.fail_on) {
        ExitStatus::GateFailed
    } else {
        ExitStatus::Passed
    })
}

fn write_output(path: Option<&PathBuf>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(path) => {
            fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`shasec … | head`) is not an error worth reporting.
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write to standard output"),
            }
        }
    }
}

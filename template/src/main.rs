//! `{{project-name}}` binary: parse the command line, hand over to the library.

use std::process::ExitCode;

use clap::Parser;

use {{crate_name}}::cli;
use {{crate_name}}::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::run(cli).await
}

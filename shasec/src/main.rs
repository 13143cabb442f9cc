use std::process::ExitCode;

fn main() -> ExitCode {
    shasec::cli::run()
}

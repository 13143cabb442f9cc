//! Exit codes, each meaning one thing (documented in `--help` and README.md).

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The run completed and no finding reached `--fail-on`.
    Passed = 0,
    /// The run completed and at least one finding reached `--fail-on`.
    GateFailed = 1,
    /// Usage error (clap's own usage errors also exit 2) or nothing could be examined.
    Error = 2,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status as u8)
    }
}

//! The stable JSON format (documented in README.md; additive changes only).

use serde::Serialize;

use super::{Report, Summary};
use crate::finding::Finding;

#[derive(Serialize)]
struct JsonReport<'a> {
    tool: &'static str,
    version: &'static str,
    command: &'static str,
    target: &'a str,
    findings: &'a [Finding],
    summary: Summary,
    /// Present only for a run cut short (the gate then fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<&'a str>,
}

pub fn render(report: &Report) -> String {
    let document = JsonReport {
        tool: "shasec",
        version: env!("CARGO_PKG_VERSION"),
        command: report.command.as_str(),
        target: &report.target,
        findings: &report.findings,
        summary: report.summary(),
        truncated: report.truncated.as_deref(),
    };
    // Serialising plain structs of strings and integers cannot fail.
    let mut out = serde_json::to_string_pretty(&document).unwrap_or_default();
    out.push('\n');
    out
}

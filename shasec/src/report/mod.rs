//! Reports shared by `shasec audit` and `shasec probe`: one model, three formats, one gate.

pub mod json;
pub mod sarif;
pub mod text;

use serde::Serialize;

use crate::finding::{Finding, Severity, sort_findings};
use crate::rules::RuleSet;

/// Everything one run found, sorted most severe first.
#[derive(Debug, Clone)]
pub struct Report {
    pub command: RuleSet,
    /// What was examined: the audited directory as given, or the probed base URL.
    pub target: String,
    pub findings: Vec<Finding>,
    /// Set when the run was cut short (probe budget or time limit): the gate fails whatever was
    /// found, since what did not run proves nothing.
    pub truncated: Option<String>,
}

/// Count of findings per severity (JSON field order: most severe first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl Summary {
    pub fn count(&self, severity: Severity) -> usize {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.info
    }
}

/// Output format selected with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

impl Report {
    pub fn new(command: RuleSet, target: impl Into<String>, mut findings: Vec<Finding>) -> Self {
        sort_findings(&mut findings);
        Report {
            command,
            target: target.into(),
            findings,
            truncated: None,
        }
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for finding in &self.findings {
            match finding.severity {
                Severity::Critical => summary.critical += 1,
                Severity::High => summary.high += 1,
                Severity::Medium => summary.medium += 1,
                Severity::Low => summary.low += 1,
                Severity::Info => summary.info += 1,
            }
        }
        summary
    }

    /// The `--fail-on` gate: true when a finding is at or above `fail_on`, or the run was cut short.
    pub fn gate_fails(&self, fail_on: Severity) -> bool {
        self.truncated.is_some()
            || self
                .findings
                .iter()
                .any(|finding| finding.severity >= fail_on)
    }

    /// The report in `format`; `colour` only affects text.
    pub fn render(&self, format: Format, fail_on: Severity, colour: bool) -> String {
        match format {
            Format::Text => text::render(self, fail_on, colour),
            Format::Json => json::render(self),
            Format::Sarif => sarif::render(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;
    use crate::rules::meta::PARSE_ERROR;
    use crate::rules::secrets::WEAK_SECRET;

    fn sample() -> Report {
        Report::new(
            RuleSet::Audit,
            ".",
            vec![
                Finding::new(&PARSE_ERROR, Location::file("b.yaml"), "broken"),
                Finding::new(&WEAK_SECRET, Location::line(".env", 2), "weak"),
                Finding::new(&WEAK_SECRET, Location::line(".env.example", 1), "weak")
                    .with_severity(Severity::Low),
            ],
        )
    }

    #[test]
    fn findings_are_sorted_most_severe_first() {
        let severities: Vec<_> = sample().findings.iter().map(|f| f.severity).collect();
        assert_eq!(
            severities,
            [Severity::Critical, Severity::Low, Severity::Info]
        );
    }

    #[test]
    fn gate_fails_at_or_above_the_threshold_only() {
        let report = sample();
        assert!(report.gate_fails(Severity::Critical));
        assert!(report.gate_fails(Severity::Low));
        let only_low = Report::new(RuleSet::Audit, ".", report.findings[1..].to_vec());
        assert!(!only_low.gate_fails(Severity::Medium));
        assert!(only_low.gate_fails(Severity::Low));
        assert!(!Report::new(RuleSet::Audit, ".", vec![]).gate_fails(Severity::Info));
        let mut truncated = Report::new(RuleSet::Probe, "http://127.0.0.1:1", vec![]);
        truncated.truncated = Some("the request budget is spent".to_owned());
        assert!(truncated.gate_fails(Severity::Critical));
    }

    #[test]
    fn summary_counts_each_severity() {
        let summary = sample().summary();
        assert_eq!(
            (summary.critical, summary.low, summary.info, summary.total()),
            (1, 1, 1, 3)
        );
    }
}

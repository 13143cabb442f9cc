//! Human-readable table: most severe first, `path:line`, title, what was seen and how to fix it.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Effects, Style};

use super::Report;
use crate::finding::Severity;

fn severity_style(severity: Severity) -> Style {
    let colour = match severity {
        Severity::Critical => AnsiColor::BrightRed,
        Severity::High => AnsiColor::Red,
        Severity::Medium => AnsiColor::Yellow,
        Severity::Low => AnsiColor::Cyan,
        Severity::Info => AnsiColor::BrightBlack,
    };
    let style = Style::new().fg_color(Some(colour.into()));
    if severity >= Severity::High {
        style.effects(Effects::BOLD)
    } else {
        style
    }
}

/// `colour` adds ANSI styles; callers pass true only when writing to a terminal.
pub fn render(report: &Report, fail_on: Severity, colour: bool) -> String {
    let paint = |style: Style, text: &str| -> String {
        if colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let dim = Style::new().effects(Effects::DIMMED);
    let bold = Style::new().effects(Effects::BOLD);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "shasec {} — {}",
        report.command.as_str(),
        report.target
    );
    if report.findings.is_empty() {
        let _ = writeln!(out, "\nNo findings.");
    } else {
        let locations: Vec<String> = report
            .findings
            .iter()
            .map(|f| f.location.to_string())
            .collect();
        // Long paths would push every title off screen: cap the column, let long ones overflow.
        let width = locations
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(8, 48);
        let _ = writeln!(out);
        let header = format!(
            "{:<8}  {:<width$}  {:<6}  TITLE",
            "SEVERITY", "LOCATION", "RULE"
        );
        let _ = writeln!(out, "{}", paint(bold, &header));
        for (finding, location) in report.findings.iter().zip(&locations) {
            let severity = format!("{:<8}", finding.severity.as_str());
            let _ = writeln!(
                out,
                "{}  {:<width$}  {:<6}  {}",
                paint(severity_style(finding.severity), &severity),
                location,
                finding.rule,
                finding.title
            );
            let indent = " ".repeat(10);
            if !finding.message.is_empty() {
                let _ = writeln!(out, "{indent}{}", finding.message);
            }
            let _ = writeln!(
                out,
                "{indent}{}",
                paint(dim, &format!("fix: {}", finding.remediation))
            );
        }
    }

    let summary = report.summary();
    let counts: Vec<String> = Severity::DESCENDING
        .iter()
        .map(|severity| format!("{} {}", summary.count(*severity), severity.as_str()))
        .collect();
    let verdict = if let Some(reason) = &report.truncated {
        paint(
            severity_style(Severity::Critical),
            &format!("FAILED (run cut short: {reason}; --allow-partial accepts a partial run)"),
        )
    } else if report.gate_fails(fail_on) {
        paint(severity_style(Severity::Critical), "FAILED")
    } else {
        paint(
            Style::new().fg_color(Some(AnsiColor::Green.into())),
            "passed",
        )
    };
    let _ = writeln!(
        out,
        "\n{} finding(s): {} — gate --fail-on {}: {}",
        summary.total(),
        counts.join(", "),
        fail_on.as_str(),
        verdict
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Location};
    use crate::rules::RuleSet;
    use crate::rules::secrets::WEAK_SECRET;

    #[test]
    fn text_lists_location_title_and_remediation_without_colour_when_asked() {
        let report = Report::new(
            RuleSet::Audit,
            "proj",
            vec![Finding::new(
                &WEAK_SECRET,
                Location::line(".env", 4),
                "JWT_SECRET is `changeme`",
            )],
        );
        let text = render(&report, Severity::High, false);
        assert!(text.contains(".env:4"), "{text}");
        assert!(text.contains(WEAK_SECRET.title));
        assert!(text.contains("fix: Generate a random value"));
        assert!(text.contains("gate --fail-on high: FAILED"));
        assert!(!text.contains('\u{1b}'), "no ANSI escapes without colour");
        assert!(render(&report, Severity::High, true).contains('\u{1b}'));
    }
}

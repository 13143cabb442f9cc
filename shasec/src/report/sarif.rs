//! SARIF 2.1.0, in the subset GitHub code scanning reads: rules with `help` and
//! `security-severity`, results with physical locations and `partialFingerprints`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Report;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleSet};

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// GitHub maps security-severity > 9.0 to critical, ≥ 7.0 high, ≥ 4.0 medium, else low.
fn security_severity(severity: Severity) -> Option<&'static str> {
    match severity {
        Severity::Critical => Some("9.5"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("3.0"),
        Severity::Info => None,
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn rule_descriptor(rule: &Rule) -> Value {
    let references = if rule.references.is_empty() {
        String::new()
    } else {
        format!("\n\n**References:** {}", rule.references.join(", "))
    };
    let mut properties = json!({ "tags": ["security"], "precision": "high" });
    if let Some(score) = security_severity(rule.severity) {
        properties["security-severity"] = json!(score);
    }
    json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": { "text": rule.title },
        "fullDescription": { "text": rule.summary },
        "help": {
            "text": format!("{}\n\nRemediation: {}", rule.summary, rule.remediation),
            "markdown": format!("{}\n\n**Remediation:** {}{references}", rule.summary, rule.remediation),
        },
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": properties,
    })
}

/// Stable across line moves: the rule, the file and what was seen, not where.
fn fingerprint(finding: &Finding) -> String {
    let mut hasher = Sha256::new();
    for part in [
        finding.rule.as_str(),
        finding.location.path.as_str(),
        finding.message.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Percent-encodes a relative path for `artifactLocation.uri` (spaces, `#`, `%`, non-ASCII …).
fn path_to_uri(path: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(path, KEEP).to_string()
}

fn result(report: &Report, rules: &[&Rule], finding: &Finding) -> Value {
    let uri = match report.command {
        RuleSet::Audit => path_to_uri(&finding.location.path),
        RuleSet::Probe => format!(
            "{}{}",
            report.target.trim_end_matches('/'),
            finding.location.path
        ),
    };
    let mut physical = json!({ "artifactLocation": { "uri": uri } });
    if let Some(line) = finding.location.line.filter(|line| *line > 0) {
        physical["region"] = json!({ "startLine": line });
    }
    let mut result = json!({
        "ruleId": finding.rule,
        "level": level(finding.severity),
        "message": { "text": format!("{}: {}", finding.title, finding.message) },
        "locations": [{ "physicalLocation": physical }],
        "partialFingerprints": { "shasecFinding/v1": fingerprint(finding) },
        "properties": { "severity": finding.severity.as_str() },
    });
    if let Some(index) = rules.iter().position(|rule| rule.id == finding.rule) {
        result["ruleIndex"] = json!(index);
    }
    if let Some(score) = security_severity(finding.severity) {
        result["properties"]["security-severity"] = json!(score);
    }
    result
}

pub fn render(report: &Report) -> String {
    let rules = report.command.rules();
    let document = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "shasec",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(|rule| rule_descriptor(rule)).collect::<Vec<_>>(),
                }
            },
            "automationDetails": { "id": format!("shasec/{}/", report.command.as_str()) },
            "results": report.findings.iter().map(|finding| result(report, rules, finding)).collect::<Vec<_>>(),
        }]
    });
    let mut document = document;
    // A probe run cut short: say so where SARIF readers look for a failed run.
    if let (Some(reason), Some(run)) = (&report.truncated, document["runs"].get_mut(0)) {
        run["invocations"] = json!([{
            "executionSuccessful": false,
            "toolExecutionNotifications": [{
                "level": "error",
                "message": { "text": format!("run cut short: {reason}") },
            }],
        }]);
    }
    let mut out = serde_json::to_string_pretty(&document).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_run_is_an_unsuccessful_invocation() {
        let mut report = Report::new(crate::rules::RuleSet::Probe, "http://127.0.0.1:1/", vec![]);
        assert!(!render(&report).contains("invocations"));
        report.truncated = Some("the time limit (--max-time) is reached".to_owned());
        let document: serde_json::Value =
            serde_json::from_str(&render(&report)).unwrap_or_default();
        assert_eq!(
            document["runs"][0]["invocations"][0]["executionSuccessful"],
            false
        );
    }

    #[test]
    fn uris_are_percent_encoded_but_keep_slashes() {
        assert_eq!(
            path_to_uri("deploy/my file#1.env"),
            "deploy/my%20file%231.env"
        );
        assert_eq!(path_to_uri("a/b-c_d.e~f"), "a/b-c_d.e~f");
    }
}

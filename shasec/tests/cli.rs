//! The command line as users run it: formats, output file, the --fail-on gate and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn shasec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shasec"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
        .output()
        .expect("the shasec binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn audit_exits_1_when_a_finding_reaches_the_gate_and_0_otherwise() {
    let failing = shasec(&["audit", "compose-privileged/bad"]);
    assert_eq!(failing.status.code(), Some(1), "{}", stdout(&failing));
    let critical_only = shasec(&["audit", "--fail-on", "critical", "compose-privileged/bad"]);
    assert_eq!(critical_only.status.code(), Some(0));
    let clean = shasec(&["audit", "dockerfile-add-from-url/good"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
}

#[test]
fn text_report_is_a_table_without_colour_when_piped() {
    let output = shasec(&["audit", "compose-privileged/bad"]);
    let text = stdout(&output);
    assert!(text.contains("SEVERITY"));
    assert!(text.contains("compose.yaml:4"));
    assert!(text.contains("Container runs privileged"));
    assert!(text.contains("fix: Remove `privileged: true`"));
    assert!(!text.contains('\u{1b}'), "no colour outside a terminal");
}

#[test]
fn json_report_has_the_documented_shape() {
    let output = shasec(&["audit", "--format", "json", "compose-privileged/bad"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(report["tool"], "shasec");
    assert_eq!(report["command"], "audit");
    assert_eq!(report["target"], "compose-privileged/bad");
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "SHA012")
        .unwrap();
    assert_eq!(finding["severity"], "high");
    assert_eq!(finding["location"]["path"], "compose.yaml");
    assert_eq!(finding["location"]["line"], 4);
    for key in ["title", "message", "remediation"] {
        assert!(
            finding[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key}"
        );
    }
    for key in ["critical", "high", "medium", "low", "info"] {
        assert!(report["summary"][key].is_u64(), "{key}");
    }
}

#[test]
fn output_file_receives_the_report() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("report.sarif");
    let output = shasec(&[
        "audit",
        "--format",
        "sarif",
        "--output",
        target.to_str().unwrap(),
        "compose-privileged/bad",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
}

#[test]
fn bad_flags_are_usage_errors_with_exit_2() {
    let unknown = shasec(&["audit", "--no-such-flag"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("--no-such-flag"));
    let bad_severity = shasec(&["audit", "--fail-on", "severe", "."]);
    assert_eq!(bad_severity.status.code(), Some(2));
    assert!(stderr(&bad_severity).contains("severe"));
    let bad_format = shasec(&["audit", "--format", "xml", "."]);
    assert_eq!(bad_format.status.code(), Some(2));
}

#[test]
fn a_missing_or_unreadable_target_is_a_clear_error_with_exit_2() {
    let missing = shasec(&["audit", "does-not-exist"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot audit does-not-exist"),
        "{}",
        stderr(&missing)
    );
    let not_a_directory = shasec(&["audit", ".gitignore"]);
    assert_eq!(not_a_directory.status.code(), Some(2));
    assert!(stderr(&not_a_directory).contains("not a directory"));
    let unwritable = shasec(&[
        "audit",
        "--output",
        "/nonexistent-dir/report.json",
        "compose-privileged/good",
    ]);
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(stderr(&unwritable).contains("cannot write /nonexistent-dir/report.json"));
}

#[test]
fn rules_lists_every_rule_and_help_names_the_exit_codes() {
    let output = shasec(&["rules"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for rule in shasec::rules::AUDIT_RULES {
        assert!(
            text.contains(rule.id) && text.contains(rule.name),
            "{}",
            rule.id
        );
    }
    let help = shasec(&["audit", "--help"]);
    assert!(stdout(&help).contains("Exit codes: 0 passed, 1"));
    let version = shasec(&["--version"]);
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
}

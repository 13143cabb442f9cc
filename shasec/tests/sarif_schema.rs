//! SARIF output validated against the official SARIF 2.1.0 JSON schema (tests/data, taken from
//! the `@microsoft/sarif-multitool-linux` npm package), plus what GitHub code scanning reads.

use std::path::Path;

use shasec::audit::{self, AuditOptions};
use shasec::report::Format;

fn sarif_of(fixture: &str) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let options = AuditOptions {
        respect_gitignore: true,
        today: jiff::civil::date(2026, 6, 1),
    };
    let report = audit::run(&root, &options).expect("fixture audits");
    let text = report.render(Format::Sarif, shasec::finding::Severity::High, false);
    serde_json::from_str(&text).expect("SARIF is JSON")
}

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema kept as test data"))
            .expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn sarif_output_is_valid_against_the_2_1_0_schema() {
    let validator = schema();
    for fixture in ["golden-shop", "weak-secret/bad", "compose-privileged/good"] {
        let sarif = sarif_of(fixture);
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{fixture}: {errors:#?}");
    }
}

#[test]
fn the_schema_rejects_a_broken_document() {
    // Proves the validation above can fail.
    let mut sarif = sarif_of("compose-privileged/bad");
    sarif["runs"][0]["results"][0]["level"] = serde_json::json!("catastrophic");
    assert!(!schema().is_valid(&sarif));
}

#[test]
fn sarif_carries_what_github_code_scanning_reads() {
    let sarif = sarif_of("golden-shop");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), shasec::rules::AUDIT_RULES.len());
    for rule in rules {
        assert!(
            rule["help"]["text"].is_string() && rule["help"]["markdown"].is_string(),
            "{rule}"
        );
    }
    let privileged = rules.iter().find(|r| r["id"] == "SHA012").unwrap();
    assert_eq!(privileged["properties"]["security-severity"], "8.0");
    for result in run["results"].as_array().unwrap() {
        let location = &result["locations"][0]["physicalLocation"];
        assert!(location["artifactLocation"]["uri"].is_string(), "{result}");
        assert!(
            result["partialFingerprints"]["shasecFinding/v1"]
                .as_str()
                .is_some_and(|f| f.len() == 32)
        );
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
    let socket = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "SHA013")
        .unwrap();
    assert_eq!(
        socket["locations"][0]["physicalLocation"]["region"]["startLine"],
        39
    );
}

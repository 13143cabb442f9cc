//! RULES.md is generated from the registry; this fails when the committed file is stale.
//! Regenerate with `cargo run -p shasec -- rules --markdown --output shasec/RULES.md`.

#[test]
fn committed_rules_document_matches_the_registry() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("RULES.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == shasec::rules_doc::markdown(),
        "shasec/RULES.md is stale: run `cargo run -p shasec -- rules --markdown --output shasec/RULES.md`"
    );
}

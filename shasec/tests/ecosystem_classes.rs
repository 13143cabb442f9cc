//! The false-positive, missed and never-silent classes found by the ecosystem check
//! (`shasec/ecosystem/`), each as a hand-written bad and good fixture CI can run.

use std::path::{Path, PathBuf};
use std::process::Command;

use shasec::audit::{self, AuditOptions};
use shasec::finding::{Finding, Severity};

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

fn options() -> AuditOptions {
    AuditOptions {
        respect_gitignore: true,
        today: jiff::civil::date(2026, 6, 1),
    }
}

fn findings(root: &Path, rule: &str) -> Vec<Finding> {
    let report = audit::run(root, &options()).expect("fixture audits");
    report
        .findings
        .into_iter()
        .filter(|finding| finding.rule == rule)
        .collect()
}

fn locations(root: &Path, rule: &str) -> Vec<String> {
    let mut found: Vec<String> = findings(root, rule)
        .iter()
        .map(|finding| finding.location.to_string())
        .collect();
    found.sort();
    found
}

fn assert_rule(name: &str, rule: &str, expected_bad: &[&str]) {
    let mut expected: Vec<String> = expected_bad.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(
        locations(&fixture(&format!("{name}/bad")), rule),
        expected,
        "{name}/bad"
    );
    assert_eq!(
        locations(&fixture(&format!("{name}/good")), rule),
        Vec::<String>::new(),
        "{name}/good"
    );
}

fn severity_at(root: &Path, rule: &str, location: &str) -> Severity {
    findings(root, rule)
        .into_iter()
        .find(|finding| finding.location.to_string() == location)
        .map(|finding| finding.severity)
        .unwrap_or_else(|| panic!("no {rule} at {location}"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn git(directory: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(directory)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "git {args:?} (git is required for this test)"
    );
}

/// A git repository made from a fixture, every file tracked (`-f`: even ignored ones).
fn git_project(name: &str) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), directory.path());
    git(directory.path(), &["init", "--quiet"]);
    git(directory.path(), &["add", "-f", "--all"]);
    directory
}

// §2 false-positive classes

#[test]
fn only_settings_are_judged_not_key_fields_of_other_structures() {
    assert_rule(
        "weak-secret-not-settings",
        "SHA001",
        &["k8s/deployment.yaml:10"],
    );
}

#[test]
fn an_empty_optional_secret_is_low_and_a_weak_used_one_critical() {
    let bad = fixture("weak-secret-empty-optional/bad");
    assert_eq!(locations(&bad, "SHA001"), [".env:1", ".env:2"]);
    assert_eq!(severity_at(&bad, "SHA001", ".env:1"), Severity::Low);
    assert_eq!(severity_at(&bad, "SHA001", ".env:2"), Severity::Critical);
    assert!(locations(&fixture("weak-secret-empty-optional/good"), "SHA001").is_empty());
}

#[test]
fn template_syntax_of_other_engines_is_no_leftover() {
    assert_rule("template-leftover-foreign", "SHA040", &["Cargo.toml:2"]);
}

#[test]
fn a_tracked_env_file_of_public_values_is_low() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join(".env"),
        "VITE_API_URL=https://api.example.com\nSMTP_PASSWORD=\n",
    )
    .unwrap();
    git(directory.path(), &["init", "--quiet"]);
    git(directory.path(), &["add", "-f", ".env"]);
    assert_eq!(
        severity_at(directory.path(), "SHA002", ".env"),
        Severity::Low
    );
    std::fs::write(directory.path().join(".env"), "JWT_SECRET=changeme\n").unwrap();
    assert_eq!(
        severity_at(directory.path(), "SHA002", ".env"),
        Severity::Critical
    );
}

// §3 missed classes

#[test]
fn weak_secrets_in_code_and_framework_config_of_other_stacks() {
    assert_rule(
        "weak-secret-in-code",
        "SHA001",
        &[
            "app/__init__.py:4",
            "common/utils.go:3",
            "config.py:5",
            "config/jwt.php:3",
            "src/config.ts:2",
            "src/main/resources/application.yml:2",
            "src/main/resources/application.yml:5",
        ],
    );
}

#[test]
fn strong_literal_secrets_in_code_and_properties() {
    assert_rule(
        "secret-in-source",
        "SHA005",
        &["application.properties:2", "settings.py:1"],
    );
}

#[test]
fn env_files_compose_loads_are_judged_and_tracked_like_dotenv() {
    assert_rule(
        "env-file-compose-mounted",
        "SHA001",
        &["deploy/grafana/config.monitoring:1"],
    );
    let bad = git_project("env-file-compose-mounted/bad");
    assert_eq!(
        locations(bad.path(), "SHA002"),
        ["deploy/grafana/config.monitoring"]
    );
}

#[test]
fn datastores_in_the_override_are_medium_and_dev_files_exempt_only_beside_prod() {
    let bad = fixture("compose-datastore-published/bad");
    assert_eq!(
        severity_at(&bad, "SHA010", "compose.override.yaml:5"),
        Severity::Medium
    );
    assert_eq!(
        severity_at(&bad, "SHA010", "compose.dev.yaml:6"),
        Severity::Medium
    );
}

#[test]
fn monitoring_and_admin_uis_published_on_all_interfaces() {
    assert_rule(
        "compose-admin-ui-published",
        "SHA015",
        &[
            "compose.override.yaml:4",
            "compose.yaml:11",
            "compose.yaml:15",
            "compose.yaml:21",
            "compose.yaml:7",
        ],
    );
}

#[test]
fn grafana_with_anonymous_admin_or_no_login_form() {
    assert_rule(
        "compose-grafana-anonymous-admin",
        "SHA016",
        &["compose.yaml:2", "compose.yaml:9"],
    );
}

#[test]
fn untagged_and_latest_images_in_compose() {
    assert_rule(
        "compose-image-unpinned",
        "SHA017",
        &["compose.yaml:3", "compose.yaml:5", "compose.yaml:7"],
    );
}

#[test]
fn host_network_pid_and_ipc_namespaces() {
    assert_rule(
        "compose-host-namespace",
        "SHA018",
        &["compose.yaml:4", "compose.yaml:5", "compose.yaml:8"],
    );
}

#[test]
fn added_capabilities_and_unconfined_profiles() {
    assert_rule(
        "compose-isolation-weakened",
        "SHA019",
        &[
            "compose.yaml:10",
            "compose.yaml:11",
            "compose.yaml:5",
            "compose.yaml:6",
        ],
    );
    let bad = fixture("compose-isolation-weakened/bad");
    assert_eq!(
        severity_at(&bad, "SHA019", "compose.yaml:5"),
        Severity::High
    );
    assert_eq!(
        severity_at(&bad, "SHA019", "compose.yaml:6"),
        Severity::Medium
    );
}

#[test]
fn cookies_without_secure_in_python_express_and_rust_builders() {
    assert_rule(
        "cookie-set-without-secure",
        "SHA035",
        &[
            "app/auth.py:2",
            "app/auth.py:7",
            "app/server.js:2",
            "app/server.js:4",
            "src/session.rs:4",
            "src/session.rs:8",
        ],
    );
}

// §4 never silent

#[test]
fn an_over_budget_env_file_is_read_streaming_and_other_files_are_named() {
    let directory = tempfile::tempdir().unwrap();
    copy_tree(&fixture("file-over-budget/bad"), directory.path());
    let pad = |path: &Path| {
        let mut text = std::fs::read_to_string(path).unwrap();
        // One line far longer than any setting, then many ordinary ones: 3 MiB in all.
        text.push_str(&"x".repeat(1024 * 1024));
        text.push('\n');
        while text.len() < 3 * 1024 * 1024 {
            text.push_str("# padding line of a generated file\n");
        }
        text.push_str("API_TOKEN=changeme\n");
        std::fs::write(path, text).unwrap();
    };
    pad(&directory.path().join(".env"));
    pad(&directory.path().join("data/dump.csv"));
    let weak = locations(directory.path(), "SHA001");
    assert_eq!(weak.first().map(String::as_str), Some(".env:1"));
    assert_eq!(
        weak.len(),
        2,
        "the setting after the long lines is read too"
    );
    assert_eq!(
        locations(directory.path(), "SHA093"),
        ["data/dump.csv"],
        "the large data file is named, the env file is audited"
    );
    assert!(locations(&fixture("file-over-budget/good"), "SHA093").is_empty());
}

#[test]
fn split_and_sparse_indexes_never_hide_a_tracked_env_file() {
    let split = git_project("env-file-tracked/bad");
    git(split.path(), &["update-index", "--split-index"]);
    assert!(split.path().join(".git/index").is_file());
    assert_eq!(locations(split.path(), "SHA002"), [".env"]);

    let sparse = tempfile::tempdir().unwrap();
    let root = sparse.path();
    std::fs::create_dir_all(root.join("deploy")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("deploy/.env"), "JWT_SECRET=changeme\n").unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    git(root, &["init", "--quiet"]);
    git(root, &["add", "-f", "--all"]);
    git(root, &["commit", "--quiet", "-m", "init"]);
    git(
        root,
        &["sparse-checkout", "init", "--cone", "--sparse-index"],
    );
    git(root, &["sparse-checkout", "set", "src"]);
    assert!(
        !root.join("deploy/.env").exists(),
        "outside the sparse cone"
    );
    assert_eq!(locations(root, "SHA002"), ["deploy/.env"]);
}

#[test]
fn a_weak_dockerfile_env_or_arg_secret_is_judged_by_sha001() {
    assert_rule(
        "dockerfile-secret-in-image",
        "SHA001",
        &["Dockerfile:3", "Dockerfile:5"],
    );
}

/// Helm chart templates (unrendered `{{ }}`) and kustomize patches (partial objects) are not
/// Kubernetes objects yet: judging them floods a chart with findings about values it sets later.
/// The same Pod as a plain manifest is judged.
#[test]
fn helm_templates_and_kustomize_patches_are_not_judged_as_manifests() {
    let bad = fixture("k8s-templates-and-patches/bad");
    for rule in ["SHA052", "SHA053", "SHA054"] {
        assert_eq!(
            locations(&bad, rule),
            vec!["pod.yaml:7".to_owned()],
            "{rule}"
        );
    }
    assert_eq!(locations(&bad, "SHA056"), vec!["pod.yaml:8".to_owned()]);
    let good = fixture("k8s-templates-and-patches/good");
    let report = audit::run(&good, &options()).expect("fixture audits");
    let judged: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|finding| finding.rule.starts_with("SHA05") || finding.rule == "SHA090")
        .collect();
    assert!(judged.is_empty(), "{judged:#?}");
}

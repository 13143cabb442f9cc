//! Every rule against its fixtures: each `bad/` project must produce exactly the expected
//! findings of that rule (by location), each `good/` project none of them.

use std::path::{Path, PathBuf};
use std::process::Command;

use shasec::audit::{self, AuditOptions};
use shasec::finding::Severity;

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

/// `path:line` of every finding of `rule` when auditing `root`.
fn locations(root: &Path, rule: &str) -> Vec<String> {
    let report = audit::run(root, &options()).expect("fixture audits");
    let mut found: Vec<String> = report
        .findings
        .iter()
        .filter(|finding| finding.rule == rule)
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

#[test]
fn weak_secret_in_dotenv_compose_toml_and_yaml() {
    assert_rule(
        "weak-secret",
        "SHA001",
        &[
            ".env:3",
            ".env:4",
            ".env:5",
            ".env:6",
            ".env:7",
            ".env.example:1",
            "compose.yaml:5",
            "config/app.yaml:3",
            "config/settings.toml:5",
        ],
    );
}

#[test]
fn weak_secret_is_critical_where_deployed_and_low_in_templates() {
    let report = audit::run(&fixture("weak-secret/bad"), &options()).unwrap();
    for finding in report.findings.iter().filter(|f| f.rule == "SHA001") {
        let expected = if finding.location.path == ".env.example" {
            Severity::Low
        } else {
            Severity::Critical
        };
        assert_eq!(finding.severity, expected, "{finding:?}");
    }
}

/// Builds a git repository from a fixture in a temporary directory (a fixture cannot hold its own
/// `.git`), tracking the files `git add -f` is given.
fn git_project(name: &str, tracked: &[&str]) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), directory.path().join(entry.file_name())).unwrap();
    }
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(directory.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "git {args:?} (git is required for this test)"
        );
    };
    git(&["init", "--quiet"]);
    let mut add = vec!["add", "-f", "--"];
    add.extend_from_slice(tracked);
    git(&add);
    directory
}

#[test]
fn env_file_tracked_by_git_is_critical() {
    let bad = git_project("env-file-tracked/bad", &[".env", ".gitignore"]);
    assert_eq!(locations(bad.path(), "SHA002"), [".env"]);
    let good = git_project("env-file-tracked/good", &[".env.example", ".gitignore"]);
    assert!(locations(good.path(), "SHA002").is_empty());
}

#[test]
fn env_file_tracked_in_a_version_4_index() {
    let bad = git_project("env-file-tracked/bad", &[]);
    let status = Command::new("git")
        .args([
            "update-index",
            "--index-version",
            "4",
            "--add",
            ".env",
            ".gitignore",
        ])
        .current_dir(bad.path())
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    assert_eq!(locations(bad.path(), "SHA002"), [".env"]);
}

#[test]
fn env_file_not_ignored() {
    assert_rule(
        "env-file-not-ignored",
        "SHA003",
        &[".env.production", ".gitignore"],
    );
}

#[test]
fn seed_credentials_in_sql_and_json() {
    assert_rule(
        "seed-credentials",
        "SHA004",
        &[
            "db/seeds/001_users.sql:3",
            "fixtures/users.json:2",
            "fixtures/users.json:3",
        ],
    );
}

#[test]
fn datastores_published_in_every_ports_syntax() {
    assert_rule(
        "compose-datastore-published",
        "SHA010",
        &[
            "docker-compose.yml:6",
            "docker-compose.yml:10",
            "docker-compose.yml:17",
            "docker-compose.yml:21",
            "docker-compose.yml:25",
            "docker-compose.yml:29",
            "docker-compose.yml:33",
            "compose.override.yaml:5",
            "compose.dev.yaml:6",
        ],
    );
}

#[test]
fn api_published_on_all_interfaces_in_prod_overlay() {
    assert_rule(
        "compose-api-public-in-prod",
        "SHA011",
        &["compose.prod.yaml:4", "compose.prod.yaml:5"],
    );
}

#[test]
fn privileged_containers() {
    assert_rule("compose-privileged", "SHA012", &["compose.yaml:4"]);
}

#[test]
fn docker_socket_mounts_short_and_long() {
    assert_rule(
        "compose-docker-socket",
        "SHA013",
        &["compose.yaml:5", "compose.yaml:9"],
    );
}

#[test]
fn prod_services_without_hardening() {
    assert_rule(
        "compose-prod-hardening-missing",
        "SHA014",
        &["compose.prod.yaml:2", "compose.prod.yaml:4"],
    );
}

#[test]
fn final_stage_running_as_root() {
    assert_rule(
        "dockerfile-runs-as-root",
        "SHA020",
        &["Dockerfile:1", "web/Dockerfile:9"],
    );
}

#[test]
fn unpinned_base_images() {
    assert_rule(
        "dockerfile-unpinned-base",
        "SHA021",
        &["Dockerfile:2", "Dockerfile:5"],
    );
}

#[test]
fn add_from_url_without_checksum() {
    assert_rule("dockerfile-add-from-url", "SHA022", &["Dockerfile:2"]);
}

#[test]
fn secrets_baked_into_images() {
    assert_rule(
        "dockerfile-secret-in-image",
        "SHA023",
        &[
            "Dockerfile:2",
            "Dockerfile:3",
            "Dockerfile:3",
            "Dockerfile:5",
        ],
    );
}

#[test]
fn missing_healthcheck_unless_compose_declares_one() {
    assert_rule("dockerfile-no-healthcheck", "SHA024", &["Dockerfile:3"]);
}

#[test]
fn cors_any_origin_with_credentials_in_code_and_config() {
    assert_rule(
        "cors-any-origin-with-credentials",
        "SHA030",
        &["config/default.toml:2", "src/http.rs:7", "src/http.rs:12"],
    );
}

#[test]
fn cookies_same_site_none_without_secure() {
    assert_rule(
        "cookie-samesite-none-insecure",
        "SHA031",
        &["nginx/site.conf:2", "src/session.rs:6", "src/session.rs:11"],
    );
}

#[test]
fn api_docs_mounted_without_condition() {
    assert_rule("api-docs-unconditional", "SHA032", &["src/startup.rs:6"]);
}

#[test]
fn production_guard_missing_from_a_generated_project() {
    assert_rule("production-guard-missing", "SHA033", &[".shaapi.toml"]);
}

#[test]
fn geoip_lookups() {
    assert_rule(
        "geoip-lookup-enabled",
        "SHA034",
        &[".env:1", "app/geo.py:4", "src/geo.rs:2"],
    );
}

#[test]
fn unrendered_template_syntax() {
    assert_rule(
        "template-leftover",
        "SHA040",
        &["Cargo.toml:2", "deploy/provision.sh:3"],
    );
}

#[test]
fn broken_files_are_info_findings_and_the_audit_goes_on() {
    assert_rule(
        "parse-error",
        "SHA090",
        &[
            ".env:2",
            "Dockerfile:2",
            "compose.yaml:7",
            "config/app.toml:3",
        ],
    );
    let report = audit::run(&fixture("parse-error/bad"), &options()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .filter(|f| f.rule == "SHA090")
            .all(|f| f.severity == Severity::Info)
    );
    // The valid parts of the broken project were still audited.
    assert!(report.findings.iter().any(|f| f.rule == "SHA003"));
}

#[test]
fn expired_and_invalid_suppressions_are_reported_and_do_not_suppress() {
    assert_rule("suppression", "SHA091", &[".shasec.toml:1"]);
    assert_rule(
        "suppression",
        "SHA092",
        &[".shasec.toml:11", ".shasec.toml:7"],
    );
    assert_eq!(
        locations(&fixture("suppression/bad"), "SHA012"),
        ["compose.yaml:4"]
    );
    assert_eq!(
        locations(&fixture("suppression/bad"), "SHA013"),
        ["compose.yaml:6"]
    );
    assert!(locations(&fixture("suppression/good"), "SHA013").is_empty());
}

#[test]
fn suppression_expires_on_the_day_after_its_date() {
    let on_the_day = AuditOptions {
        respect_gitignore: true,
        today: jiff::civil::date(2999, 12, 31),
    };
    let report = audit::run(&fixture("suppression/good"), &on_the_day).unwrap();
    assert!(!report.findings.iter().any(|f| f.rule == "SHA012"));
    let after = AuditOptions {
        respect_gitignore: true,
        today: jiff::civil::date(3000, 1, 1),
    };
    let report = audit::run(&fixture("suppression/good"), &after).unwrap();
    assert!(report.findings.iter().any(|f| f.rule == "SHA012"));
    assert!(report.findings.iter().any(|f| f.rule == "SHA091"));
}

#[test]
fn every_audit_rule_has_fixtures() {
    for rule in shasec::rules::AUDIT_RULES {
        let name = match rule.name {
            "suppression-expired" | "suppression-invalid" => "suppression",
            other => other,
        };
        assert!(
            fixture(&format!("{name}/bad")).is_dir() && fixture(&format!("{name}/good")).is_dir(),
            "fixtures for {} ({name})",
            rule.id
        );
    }
}

#[test]
fn gitignored_files_are_skipped_unless_no_ignore() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join(".gitignore"), "secrets/\n").unwrap();
    std::fs::create_dir(directory.path().join("secrets")).unwrap();
    std::fs::write(
        directory.path().join("secrets/app.toml"),
        "jwt_secret = \"changeme\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(directory.path().join("node_modules/pkg")).unwrap();
    std::fs::write(
        directory.path().join("node_modules/pkg/.env"),
        "API_KEY=changeme\n",
    )
    .unwrap();
    assert!(locations(directory.path(), "SHA001").is_empty());
    let everything = AuditOptions {
        respect_gitignore: false,
        ..options()
    };
    let report = audit::run(directory.path(), &everything).unwrap();
    let found: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "SHA001")
        .map(|f| f.location.to_string())
        .collect();
    assert_eq!(found, ["secrets/app.toml:1"], "node_modules stays skipped");
}

#[test]
fn k8s_privileged_containers_and_init_containers() {
    assert_rule(
        "k8s-privileged",
        "SHA050",
        &["daemonset.yaml:14", "daemonset.yaml:18"],
    );
}

#[test]
fn k8s_host_network_pid_and_ipc() {
    assert_rule(
        "k8s-host-namespace",
        "SHA051",
        &["pod.yaml:6", "pod.yaml:7", "pod.yaml:8"],
    );
}

#[test]
fn k8s_run_as_root_when_nothing_says_non_root_or_user_zero_is_asked_for() {
    assert_rule(
        "k8s-run-as-root-allowed",
        "SHA052",
        &["statefulset.yaml:14", "statefulset.yaml:17"],
    );
}

#[test]
fn k8s_writable_root_filesystem_unset_or_false() {
    assert_rule(
        "k8s-writable-root-filesystem",
        "SHA053",
        &["deployment.yaml:14", "deployment.yaml:16"],
    );
}

#[test]
fn k8s_missing_memory_or_cpu_limits() {
    assert_rule(
        "k8s-no-resource-limits",
        "SHA054",
        &["deployment.yaml:14", "deployment.yaml:19"],
    );
}

#[test]
fn k8s_literal_secrets_in_env_but_not_placeholders_empties_or_references() {
    assert_rule(
        "k8s-secret-in-env",
        "SHA055",
        &[
            "deployment.yaml:19",
            "deployment.yaml:21",
            "deployment.yaml:23",
        ],
    );
}

#[test]
fn k8s_images_without_tag_or_latest_unless_a_digest_or_kustomization_pins_them() {
    assert_rule(
        "k8s-image-unpinned",
        "SHA056",
        &[
            "deployment.yaml:15",
            "deployment.yaml:19",
            "deployment.yaml:22",
        ],
    );
}

#[test]
fn k8s_long_running_containers_without_readiness_or_liveness_probe() {
    assert_rule(
        "k8s-no-probes",
        "SHA057",
        &["deployment.yaml:14", "deployment.yaml:20"],
    );
}

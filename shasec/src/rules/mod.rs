//! The rule registry. Every rule is declared once, as a `static Rule` beside the code that checks
//! it; listings, the rules document and SARIF rule metadata are all generated from here.
//!
//! Id ranges: `SHA0xx` static audit rules (this module), `SHA1xx` live probe rules
//! (declared in `crate::probe`).

pub mod code;
pub mod code_secrets;
pub mod compose;
pub mod dockerfile;
pub mod hygiene;
pub mod kubernetes;
pub mod meta;
pub mod secrets;

use crate::finding::Severity;

/// A check, declared once with everything a user needs to understand and fix what it reports.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, never reused: `SHA001`.
    pub id: &'static str,
    /// Short kebab-case name: `weak-secret`.
    pub name: &'static str,
    /// Default severity; a check may lower it (e.g. in `*.example` files) and says so in `summary`.
    pub severity: Severity,
    /// One line, used as the finding title.
    pub title: &'static str,
    /// What the rule looks for and why it matters (a paragraph, plain text).
    pub summary: &'static str,
    /// How to fix it (plain text).
    pub remediation: &'static str,
    /// Equivalent identifiers elsewhere: `CWE-798`, `OWASP A05:2021`, `hadolint DL3002`, `KICS …`, `Trivy …`.
    pub references: &'static [&'static str],
}

/// Which command reports a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSet {
    Audit,
    Probe,
}

impl RuleSet {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleSet::Audit => "audit",
            RuleSet::Probe => "probe",
        }
    }

    pub fn rules(self) -> &'static [&'static Rule] {
        match self {
            RuleSet::Audit => AUDIT_RULES,
            RuleSet::Probe => crate::probe::RULES,
        }
    }
}

/// Every `shasec audit` rule, in id order.
pub static AUDIT_RULES: &[&Rule] = &[
    &secrets::WEAK_SECRET,
    &secrets::ENV_FILE_TRACKED,
    &secrets::ENV_FILE_NOT_IGNORED,
    &secrets::SEED_CREDENTIALS,
    &secrets::SECRET_IN_SOURCE,
    &compose::DATASTORE_PUBLISHED,
    &compose::API_PUBLIC_IN_PROD,
    &compose::PRIVILEGED,
    &compose::DOCKER_SOCKET,
    &compose::PROD_HARDENING_MISSING,
    &compose::ADMIN_UI_PUBLISHED,
    &compose::GRAFANA_ANONYMOUS_ADMIN,
    &compose::IMAGE_UNPINNED,
    &compose::HOST_NAMESPACE,
    &compose::ISOLATION_WEAKENED,
    &dockerfile::RUNS_AS_ROOT,
    &dockerfile::UNPINNED_BASE,
    &dockerfile::ADD_FROM_URL,
    &dockerfile::SECRET_IN_IMAGE,
    &dockerfile::NO_HEALTHCHECK,
    &code::CORS_ANY_ORIGIN_WITH_CREDENTIALS,
    &code::COOKIE_SAMESITE_NONE_INSECURE,
    &code::DOCS_UNCONDITIONAL,
    &code::PRODUCTION_GUARD_MISSING,
    &code::GEOIP_LOOKUP,
    &code::COOKIE_NOT_SECURE,
    &hygiene::TEMPLATE_LEFTOVER,
    &kubernetes::PRIVILEGED,
    &kubernetes::HOST_NAMESPACE,
    &kubernetes::RUN_AS_ROOT_ALLOWED,
    &kubernetes::WRITABLE_ROOT_FILESYSTEM,
    &kubernetes::NO_RESOURCE_LIMITS,
    &kubernetes::SECRET_IN_ENV,
    &kubernetes::IMAGE_UNPINNED,
    &kubernetes::NO_PROBES,
    &meta::PARSE_ERROR,
    &meta::SUPPRESSION_EXPIRED,
    &meta::SUPPRESSION_INVALID,
    &meta::FILE_OVER_BUDGET,
];

/// Every rule of both commands, audit first.
pub fn all_rules() -> impl Iterator<Item = (RuleSet, &'static Rule)> {
    [RuleSet::Audit, RuleSet::Probe]
        .into_iter()
        .flat_map(|set| set.rules().iter().map(move |rule| (set, *rule)))
}

/// Looks a rule up by id (`SHA001`) or name (`weak-secret`), case-insensitively.
pub fn find(id_or_name: &str) -> Option<&'static Rule> {
    all_rules().map(|(_, rule)| rule).find(|rule| {
        rule.id.eq_ignore_ascii_case(id_or_name) || rule.name.eq_ignore_ascii_case(id_or_name)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn rule_ids_and_names_are_unique() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for (_, rule) in all_rules() {
            assert!(ids.insert(rule.id), "duplicate rule id {}", rule.id);
            assert!(names.insert(rule.name), "duplicate rule name {}", rule.name);
        }
    }

    #[test]
    fn rule_ids_follow_the_range_of_their_command() {
        for (set, rule) in all_rules() {
            let prefix = match set {
                RuleSet::Audit => "SHA0",
                RuleSet::Probe => "SHA1",
            };
            assert!(
                rule.id.starts_with(prefix) && rule.id.len() == 6,
                "{} in {}",
                rule.id,
                set.as_str()
            );
            assert!(
                rule.id[3..].chars().all(|c| c.is_ascii_digit()),
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn every_rule_is_documented() {
        for (_, rule) in all_rules() {
            assert!(
                !rule.title.is_empty() && !rule.summary.is_empty(),
                "{}",
                rule.id
            );
            assert!(!rule.remediation.is_empty(), "{}", rule.id);
            assert!(
                rule.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} name must be kebab-case",
                rule.id
            );
        }
    }
}

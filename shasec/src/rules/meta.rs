//! Findings about the audit itself: unparsable files and the suppression file.

use crate::finding::Severity;
use crate::rules::Rule;

pub static PARSE_ERROR: Rule = Rule {
    id: "SHA090",
    name: "parse-error",
    severity: Severity::Info,
    title: "File could not be parsed",
    summary: "A file the audit reads (compose, Dockerfile, dotenv, TOML, YAML, Rust, `.shasec.toml`) is \
              malformed or unreadable, so the rules that need it could not check it. The audit carries \
              on with the other files.",
    remediation: "Fix the syntax error at the reported line (the tool that deploys this file would \
                  refuse it too), or exclude the file from the audit if it is not meant to be valid.",
    references: &[],
};

pub static SUPPRESSION_EXPIRED: Rule = Rule {
    id: "SHA091",
    name: "suppression-expired",
    severity: Severity::Low,
    title: "Suppression in `.shasec.toml` has expired",
    summary: "An `[[ignore]]` entry's `expires` date has passed. It no longer suppresses anything, so \
              the findings it hid are reported again; this finding points at the entry itself.",
    remediation: "Fix what the entry was hiding and delete it, or, if the exception still holds, \
                  update its reason and set a new `expires` date.",
    references: &[],
};

pub static SUPPRESSION_INVALID: Rule = Rule {
    id: "SHA092",
    name: "suppression-invalid",
    severity: Severity::Low,
    title: "Invalid suppression in `.shasec.toml`",
    summary: "An `[[ignore]]` entry lacks a `reason`, names an unknown rule, has an invalid path glob \
              or an invalid `expires` date. It is not applied: an exception must say why it exists.",
    remediation: "Give the entry a known `rule` id, a valid `path` glob, a non-empty `reason` and, \
                  optionally, an `expires = 2026-12-31` date.",
    references: &[],
};

pub static FILE_OVER_BUDGET: Rule = Rule {
    id: "SHA093",
    name: "file-over-budget",
    severity: Severity::Info,
    title: "File too large to audit",
    summary: "A file over the audit's size budget (2 MiB) is not read, and this finding names it so \
              the skip is never silent. Dotenv files are the exception: whatever their size, they \
              are read line by line and their settings judged like any other.",
    remediation: "Keep large data (dumps, generated bundles, datasets) out of the project or in \
                  `.gitignore`d paths; if it is meant to be there, suppress this finding for its \
                  path in `.shasec.toml` with a reason.",
    references: &[],
};

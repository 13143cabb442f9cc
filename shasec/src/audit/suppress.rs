//! `.shasec.toml`: reviewed exceptions. Each `[[ignore]]` entry names a rule, a path glob, the
//! reason it is acceptable (required) and optionally an expiry date, after which it stops
//! suppressing and is reported itself.
//!
//! ```toml
//! [[ignore]]
//! rule = "SHA010"                 # id or name
//! path = "compose.yaml"           # glob relative to the project root; default "**"
//! reason = "dev-only datastore ports, never deployed (prod uses compose.prod.yaml)"
//! expires = 2026-12-31            # optional
//! ```

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use jiff::civil::Date;
use toml_edit::{Item, Table};

use crate::finding::{Finding, Location};
use crate::parse::config::LineIndex;
use crate::rules::meta::{PARSE_ERROR, SUPPRESSION_EXPIRED, SUPPRESSION_INVALID};
use crate::rules::{self, Rule};

pub const FILE_NAME: &str = ".shasec.toml";

struct Suppression {
    rule: &'static Rule,
    path: GlobMatcher,
}

fn string_field<'t>(table: &'t Table, key: &str) -> Option<&'t str> {
    table.get(key).and_then(Item::as_str)
}

fn parse_date(item: &Item) -> Result<Option<Date>, String> {
    let text = match item {
        Item::None => return Ok(None),
        Item::Value(value) => match (value.as_str(), value.as_datetime()) {
            (Some(text), _) => text.to_owned(),
            (None, Some(datetime)) => datetime.to_string(),
            _ => return Err("`expires` must be a date such as 2026-12-31".to_owned()),
        },
        _ => return Err("`expires` must be a date such as 2026-12-31".to_owned()),
    };
    text.trim()
        .parse::<Date>()
        .map(Some)
        .map_err(|error| format!("invalid `expires` date `{text}`: {error}"))
}

/// Reads the entries that apply; invalid and expired ones become findings instead.
fn load(root: &Path, today: Date, findings: &mut Vec<Finding>) -> Vec<Suppression> {
    let text = match std::fs::read_to_string(root.join(FILE_NAME)) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            findings.push(Finding::new(
                &PARSE_ERROR,
                Location::file(FILE_NAME),
                format!("cannot read: {error}; nothing is suppressed"),
            ));
            return Vec::new();
        }
    };
    let lines = LineIndex::new(&text);
    let document = match toml_edit::Document::parse(text.as_str()) {
        Ok(document) => document,
        Err(error) => {
            let line = error.span().map_or(1, |span| lines.line(span.start));
            let message = format!("TOML: {}; nothing is suppressed", error.message().trim());
            findings.push(Finding::new(
                &PARSE_ERROR,
                Location::line(FILE_NAME, line),
                message,
            ));
            return Vec::new();
        }
    };
    let Some(entries) = document.get("ignore").and_then(Item::as_array_of_tables) else {
        if document.get("ignore").is_some() {
            findings.push(Finding::new(
                &SUPPRESSION_INVALID,
                Location::file(FILE_NAME),
                "`ignore` must be written as [[ignore]] tables",
            ));
        }
        return Vec::new();
    };
    let mut suppressions = Vec::new();
    for entry in entries.iter() {
        let line = entry.span().map_or(1, |span| lines.line(span.start));
        let location = Location::line(FILE_NAME, line);
        let invalid =
            |message: String| Finding::new(&SUPPRESSION_INVALID, location.clone(), message);
        let Some(rule_id) = string_field(entry, "rule") else {
            findings.push(invalid("entry has no `rule`".to_owned()));
            continue;
        };
        let Some(rule) = rules::find(rule_id) else {
            findings.push(invalid(format!("unknown rule `{rule_id}`")));
            continue;
        };
        if [SUPPRESSION_EXPIRED.id, SUPPRESSION_INVALID.id].contains(&rule.id) {
            findings.push(invalid(format!("{} cannot be suppressed", rule.id)));
            continue;
        }
        if string_field(entry, "reason").is_none_or(|reason| reason.trim().is_empty()) {
            findings.push(invalid(format!(
                "entry for {} has no `reason`: every exception must say why",
                rule.id
            )));
            continue;
        }
        let pattern = string_field(entry, "path").unwrap_or("**");
        let path = match GlobBuilder::new(pattern).literal_separator(true).build() {
            Ok(glob) => glob.compile_matcher(),
            Err(error) => {
                findings.push(invalid(format!("invalid path glob `{pattern}`: {error}")));
                continue;
            }
        };
        match parse_date(entry.get("expires").unwrap_or(&Item::None)) {
            Err(message) => findings.push(invalid(message)),
            Ok(Some(expires)) if expires < today => findings.push(Finding::new(
                &SUPPRESSION_EXPIRED,
                location,
                format!("suppression of {} for `{pattern}` expired on {expires}; its findings are reported again", rule.id),
            )),
            Ok(_) => suppressions.push(Suppression { rule, path }),
        }
    }
    suppressions
}

/// Removes the findings that a valid, unexpired entry covers.
pub fn apply(root: &Path, mut findings: Vec<Finding>, today: Date) -> Vec<Finding> {
    let suppressions = load(root, today, &mut findings);
    findings.retain(|finding| {
        !suppressions
            .iter()
            .any(|s| s.rule.id == finding.rule && s.path.is_match(&finding.location.path))
    });
    findings
}

//! Generated-project hygiene: files the template engine never rendered.

use crate::finding::Severity;
use crate::rules::Rule;

pub static TEMPLATE_LEFTOVER: Rule = Rule {
    id: "SHA040",
    name: "template-leftover",
    severity: Severity::High,
    title: "Unrendered template syntax",
    summary: "A file contains Liquid/Jinja syntax (`{{ name }}`, `{% if … %}`) outside places where it \
              is legitimate (GitHub Actions `${{ … }}` expressions, Go/Helm templates, `*.liquid`, \
              `*.j2`, `*.jinja`, `*.tera`, `*.hbs`, `*.tmpl` files, templates/ folders). A template \
              engine that fails on an expression can leave the whole file unrendered without an \
              error, so the file is not what was meant to ship: a config with a placeholder for its \
              secret, a workflow that does nothing.",
    remediation: "Fix the template expression and regenerate, or render the value by hand. If the \
                  braces are meant literally, write them differently (e.g. `{ {`) or suppress this \
                  finding for that path in `.shasec.toml` with a reason.",
    references: &["CWE-1188"],
};

// ---------------------------------------------------------------------------------------------
// Checks

use std::sync::LazyLock;

use regex::Regex;

use crate::audit::{Parsed, Project, SourceFile};
use crate::finding::{Finding, Location};

/// `{{ name }}`, `{{ name | filter }}` and Liquid/Jinja tags — not `${{ … }}` (GitHub Actions).
static LEFTOVER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^${\\])(\{\{-?\s*[A-Za-z_][\w.-]*\s*(?:\|[^}]*)?-?\}\}|\{%-?\s*(?:if|endif|elsif|else|unless|endunless|for|endfor|raw|endraw|assign|capture|endcapture|case|when|endcase|comment|endcomment|include|set|block|endblock|extends|macro|endmacro)\b[^%]*-?%\})",
    )
    .ok()
});

/// Extensions and folders where template syntax is the file's purpose.
fn is_template_source(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let extensions = [
        ".liquid",
        ".j2",
        ".jinja",
        ".jinja2",
        ".tera",
        ".hbs",
        ".handlebars",
        ".mustache",
        ".tmpl",
        ".tpl",
        ".gotmpl",
        ".njk",
        ".twig",
        ".html",
        ".htm",
        ".vue",
        ".svelte",
        ".jsx",
        ".tsx",
        ".md",
        ".markdown",
        ".rhai",
    ];
    extensions.iter().any(|ext| lower.ends_with(ext))
        || lower.split('/').rev().skip(1).any(|dir| {
            matches!(
                dir,
                "templates" | "template" | "views" | "layouts" | "partials" | "charts"
            )
        })
}

pub fn check(project: &Project, _parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    let Some(pattern) = LEFTOVER.as_ref() else {
        return;
    };
    // The project is a cargo-generate template (or a sub-template of one): its files are meant
    // to hold the syntax.
    let template_root = |dir: &std::path::Path| dir.join("cargo-generate.toml").is_file();
    if template_root(&project.root) || project.root.parent().is_some_and(template_root) {
        return;
    }
    for file in &project.files {
        if is_template_source(&file.path) {
            continue;
        }
        scan(pattern, file, findings);
    }
}

fn scan(pattern: &Regex, file: &SourceFile, findings: &mut Vec<Finding>) {
    let mut hits = file.text.lines().enumerate().filter_map(|(index, line)| {
        pattern
            .captures(line)
            .and_then(|captures| captures.get(1))
            .map(|found| (index, found.as_str().to_owned()))
    });
    let Some((first_index, first)) = hits.next() else {
        return;
    };
    let more = hits.count();
    let line = u32::try_from(first_index + 1).unwrap_or(u32::MAX);
    let others = if more > 0 {
        format!(" and {more} more line(s)")
    } else {
        String::new()
    };
    let shown: String = first.chars().take(60).collect();
    findings.push(Finding::new(
        &TEMPLATE_LEFTOVER,
        Location::line(&file.path, line),
        format!("`{shown}`{others}: the file was not rendered"),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(text: &str) -> bool {
        let file = SourceFile {
            path: "Cargo.toml".into(),
            kind: crate::audit::FileKind::Toml,
            text: text.into(),
        };
        let mut findings = Vec::new();
        scan(LEFTOVER.as_ref().unwrap(), &file, &mut findings);
        !findings.is_empty()
    }

    #[test]
    fn liquid_leftovers_are_found_but_actions_expressions_are_not() {
        assert!(hits("name = \"{{project-name}}\""));
        assert!(hits("{% if prod %}\nx\n{% endif %}"));
        assert!(hits("x = \"{{ crate_name | upcase }}\""));
        assert!(!hits("run: echo ${{ secrets.TOKEN }}"));
        assert!(!hits("println!(\"{{}}\", x);"));
        assert!(!hits("let s = format!(\"{{{x}}}\");"));
    }
}

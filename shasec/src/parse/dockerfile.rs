//! Dockerfiles: parser directives (`# escape=`), continuation lines, comments inside them,
//! heredocs, multi-stage builds, and the shell-like words of `ENV`/`ARG`.
//!
//! Hand-written: the Rust crates for Dockerfiles either wrap BuildKit through FFI or drop line
//! numbers; this is the documented grammar, no more.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-cased: `FROM`, `RUN` …
    pub keyword: String,
    /// Everything after the keyword, continuation lines joined with a space.
    pub arguments: String,
    /// 1-based line of the keyword.
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub line: u32,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerfile {
    pub instructions: Vec<Instruction>,
    pub issues: Vec<Issue>,
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone)]
pub struct Stage<'a> {
    pub from: &'a Instruction,
    /// Image reference as written (variables unresolved).
    pub image: String,
    pub alias: Option<String>,
    pub body: Vec<&'a Instruction>,
}

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn heredoc_delimiters(arguments: &str) -> Vec<(String, bool)> {
    let mut delimiters = Vec::new();
    let mut rest = arguments;
    while let Some(start) = rest.find("<<") {
        let mut word = &rest[start + 2..];
        let strip_tabs = word.starts_with('-');
        if strip_tabs {
            word = &word[1..];
        }
        let word = word.trim_start_matches(['"', '\'']);
        let end = word
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(word.len());
        if end > 0
            && word[..end]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            delimiters.push((word[..end].to_owned(), strip_tabs));
        }
        rest = &rest[start + 2..];
    }
    delimiters
}

pub fn parse(text: &str) -> Dockerfile {
    let mut file = Dockerfile::default();
    let mut escape = '\\';
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;

    // Parser directives: only before any other line, comment or instruction.
    while let Some(line) = lines.get(index) {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((name, value)) = directive.split_once('=') else {
            break;
        };
        let name = name.trim().to_ascii_lowercase();
        if name.contains(char::is_whitespace) || name.is_empty() {
            break;
        }
        if name == "escape" {
            match value.trim() {
                "`" => escape = '`',
                "\\" => escape = '\\',
                other => file.issues.push(Issue {
                    line: to_line(index),
                    message: format!("invalid escape directive `{other}`"),
                }),
            }
        }
        index += 1;
    }

    while index < lines.len() {
        let start = index;
        let first = lines[index].trim_start_matches('\u{feff}').trim();
        index += 1;
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let mut logical = String::new();
        let mut current = first.to_owned();
        loop {
            let trimmed = current.trim_end();
            if let Some(body) = trimmed.strip_suffix(escape) {
                logical.push_str(body);
                logical.push(' ');
                // Comment and empty lines inside a continuation are dropped, as BuildKit does.
                while index < lines.len() && {
                    let next = lines[index].trim();
                    next.is_empty() || next.starts_with('#')
                } {
                    index += 1;
                }
                match lines.get(index) {
                    Some(next) => {
                        current = next.trim().to_owned();
                        index += 1;
                    }
                    None => break,
                }
            } else {
                logical.push_str(trimmed);
                break;
            }
        }
        let (keyword, arguments) = match logical.split_once(char::is_whitespace) {
            Some((keyword, arguments)) => {
                (keyword.to_ascii_uppercase(), arguments.trim().to_owned())
            }
            None => (logical.to_ascii_uppercase(), String::new()),
        };
        if !KEYWORDS.contains(&keyword.as_str()) {
            file.issues.push(Issue {
                line: to_line(start),
                message: format!("unknown instruction `{}`", short(&keyword)),
            });
            continue;
        }
        for (delimiter, strip_tabs) in heredoc_delimiters(&arguments) {
            while let Some(line) = lines.get(index) {
                index += 1;
                let candidate = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if candidate.trim_end() == delimiter {
                    break;
                }
            }
        }
        file.instructions.push(Instruction {
            keyword,
            arguments,
            line: to_line(start),
        });
    }
    file
}

fn to_line(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Splits shell-like words: quotes group, backslash escapes, quotes removed.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                in_word = true;
            }
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// `ENV`/`ARG`/`LABEL` pairs: `K=V K2="v 2"`, or the legacy `ENV K value with spaces`.
/// An `ARG NAME` without default yields `(NAME, None)`.
pub fn assignments(instruction: &Instruction) -> Vec<(String, Option<String>)> {
    let words = words(&instruction.arguments);
    let legacy = instruction.keyword == "ENV" && words.first().is_some_and(|w| !w.contains('='));
    if legacy {
        let mut rest = words.into_iter();
        let key = rest.next().unwrap_or_default();
        let value = rest.collect::<Vec<_>>().join(" ");
        return vec![(key, Some(value))];
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (word, None),
        })
        .collect()
}

/// Flags (`--platform=…`, `--chown …`) removed from an instruction's words.
pub fn without_flags(words: &[String]) -> Vec<&str> {
    words
        .iter()
        .map(String::as_str)
        .filter(|word| !word.starts_with("--"))
        .collect()
}

impl Dockerfile {
    pub fn stages(&self) -> Vec<Stage<'_>> {
        let mut stages: Vec<Stage<'_>> = Vec::new();
        for instruction in &self.instructions {
            if instruction.keyword == "FROM" {
                let words = words(&instruction.arguments);
                let plain = without_flags(&words);
                let image = plain.first().map(|s| (*s).to_owned()).unwrap_or_default();
                let alias = match plain.as_slice() {
                    [_, keyword, name, ..] if keyword.eq_ignore_ascii_case("as") => {
                        Some((*name).to_owned())
                    }
                    _ => None,
                };
                stages.push(Stage {
                    from: instruction,
                    image,
                    alias,
                    body: Vec::new(),
                });
            } else if let Some(stage) = stages.last_mut() {
                stage.body.push(instruction);
            }
        }
        stages
    }

    /// Defaults of `ARG`s declared before the first `FROM` (the only ones `FROM` can use).
    pub fn global_args(&self) -> HashMap<String, String> {
        let mut args = HashMap::new();
        for instruction in self.instructions.iter().take_while(|i| i.keyword != "FROM") {
            if instruction.keyword == "ARG" {
                for (key, value) in assignments(instruction) {
                    args.insert(key, value.unwrap_or_default());
                }
            }
        }
        args
    }
}

/// Substitutes `$VAR`, `${VAR}`, `${VAR:-default}` from `args`; unknown variables become empty.
pub fn substitute(text: &str, args: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(position) = rest.find('$') {
        out.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                out.push_str(&rest[position..]);
                return out;
            };
            let inner = &braced[..end];
            let (name, default) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            match args.get(name).filter(|value| !value.is_empty()) {
                Some(value) => out.push_str(value),
                None => out.push_str(default.unwrap_or("")),
            }
            rest = &braced[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else if let Some(value) = args.get(&after[..end]) {
                out.push_str(value);
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_join_and_keep_the_first_line() {
        let file = parse(
            "FROM alpine:3.20\n\nRUN apk add \\\n  # a comment\n  curl \\\n  git\nUSER app\n",
        );
        let run = &file.instructions[1];
        assert_eq!((run.keyword.as_str(), run.line), ("RUN", 3));
        assert!(run.arguments.contains("curl") && run.arguments.contains("git"));
        assert_eq!(file.instructions[2].line, 7);
    }

    #[test]
    fn escape_directive_changes_the_continuation_character() {
        let file = parse(
            "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir `\n  c:\\\nUSER ContainerUser\n",
        );
        assert_eq!(file.instructions.len(), 3, "{file:?}");
        assert_eq!(file.instructions[2].keyword, "USER");
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let file = parse("FROM debian:12\nRUN <<EOF\nUSER root\nFROM evil\nEOF\nUSER app\n");
        let keywords: Vec<_> = file
            .instructions
            .iter()
            .map(|i| i.keyword.as_str())
            .collect();
        assert_eq!(keywords, ["FROM", "RUN", "USER"]);
    }

    #[test]
    fn stages_have_images_and_aliases() {
        let file = parse(
            "ARG BASE=rust:1.95\nFROM --platform=$BUILDPLATFORM ${BASE} AS build\nRUN cargo build\nFROM gcr.io/distroless/cc\nCOPY --from=build /a /a\n",
        );
        let stages = file.stages();
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].alias.as_deref(), Some("build"));
        assert_eq!(
            substitute(&stages[0].image, &file.global_args()),
            "rust:1.95"
        );
        assert_eq!(stages[1].body.len(), 1);
    }

    #[test]
    fn env_and_arg_assignments_in_both_syntaxes() {
        let file = parse(
            "FROM x:1\nENV A=1 B=\"two words\"\nENV LEGACY some value\nARG TOKEN\nARG PASS=secret\n",
        );
        let all: Vec<_> = file.instructions[1..]
            .iter()
            .flat_map(assignments)
            .collect();
        assert_eq!(
            all,
            [
                ("A".into(), Some("1".into())),
                ("B".into(), Some("two words".into())),
                ("LEGACY".into(), Some("some value".into())),
                ("TOKEN".into(), None),
                ("PASS".into(), Some("secret".into()))
            ]
        );
    }

    #[test]
    fn unknown_instructions_are_issues_not_failures() {
        let file = parse("FROM x:1\nFORM y\nUSER app\n");
        assert_eq!(file.issues.len(), 1);
        assert_eq!(file.instructions.len(), 2);
    }
}

//! Dotenv files as docker compose, python-dotenv and dotenvy read them: `export`, comments,
//! single/double/backtick quotes (multi-line), escapes in double quotes, inline ` #` comments.
//!
//! Hand-written because the dotenv crates load into the process environment or stop at the
//! first error; we need every entry with its line, and every bad line reported, not fatal.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    pub key: String,
    pub value: String,
    /// 1-based line of the key.
    pub line: u32,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvIssue {
    pub line: u32,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    pub entries: Vec<EnvEntry>,
    pub issues: Vec<EnvIssue>,
}

impl EnvFile {
    /// Last value of `key` (later lines win, as in every loader).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.key == key)
            .map(|entry| entry.value.as_str())
    }
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Reads a quoted value starting after the opening `quote`; returns the value and the rest of the
/// line after the closing quote, consuming further lines when the value spans them.
fn read_quoted<'a>(
    first: &'a str,
    quote: char,
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
) -> Option<(String, &'a str)> {
    let mut value = String::new();
    let mut current = first;
    loop {
        let mut chars = current.char_indices();
        while let Some((index, c)) = chars.next() {
            if c == quote {
                return Some((value, &current[index + c.len_utf8()..]));
            }
            if c == '\\' && quote == '"' {
                match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, other)) => value.push(other),
                    None => value.push('\\'),
                }
            } else {
                value.push(c);
            }
        }
        let (_, next) = lines.next()?;
        value.push('\n');
        current = next;
    }
}

pub fn parse(text: &str) -> EnvFile {
    let mut file = EnvFile::default();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let trimmed = raw.trim_start_matches('\u{feff}').trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed
            .strip_prefix("export")
            .filter(|rest| rest.starts_with(char::is_whitespace))
            .map_or(trimmed, str::trim_start);
        let Some((key, rest)) = body.split_once('=') else {
            file.issues.push(EnvIssue {
                line,
                message: format!("expected KEY=VALUE, found `{}`", truncate(trimmed)),
            });
            continue;
        };
        let key = key.trim();
        if !valid_key(key) {
            file.issues.push(EnvIssue {
                line,
                message: format!("invalid variable name `{}`", truncate(key)),
            });
            continue;
        }
        let rest = rest.trim_start();
        let (value, quoted) = match rest.chars().next() {
            Some(quote @ ('"' | '\'' | '`')) => match read_quoted(&rest[1..], quote, &mut lines) {
                Some((value, after)) => {
                    let after = after.trim();
                    if !after.is_empty() && !after.starts_with('#') {
                        file.issues.push(EnvIssue {
                            line,
                            message: format!("unexpected text after the closing quote of {key}"),
                        });
                    }
                    (value, true)
                }
                None => {
                    file.issues.push(EnvIssue {
                        line,
                        message: format!("unterminated {quote}-quoted value for {key}"),
                    });
                    continue;
                }
            },
            _ => {
                // An unquoted value ends at ` #` (a `#` directly after text is part of the value).
                let end = rest
                    .find(" #")
                    .or_else(|| rest.find("\t#"))
                    .unwrap_or(rest.len());
                (rest[..end].trim().to_owned(), false)
            }
        };
        file.entries.push(EnvEntry {
            key: key.to_owned(),
            value,
            line,
            quoted,
        });
    }
    file
}

fn truncate(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_export_quotes_and_comments_with_lines() {
        let file = parse(
            "# comment\nexport A=1\nB = \"two words\" # note\nC='single # not a comment'\nD=x#y # c\nE=\"multi\nline\"\nF=after\n",
        );
        let got: Vec<_> = file
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "1", 2),
                ("B", "two words", 3),
                ("C", "single # not a comment", 4),
                ("D", "x#y", 5),
                ("E", "multi\nline", 6),
                ("F", "after", 8)
            ]
        );
        assert!(file.issues.is_empty(), "{:?}", file.issues);
    }

    #[test]
    fn bad_lines_are_reported_and_parsing_goes_on() {
        let file = parse("not a pair\n1BAD=x\nOK=\"unterminated\n");
        assert_eq!(
            file.issues.iter().map(|i| i.line).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(file.entries.is_empty());
        let file = parse("A=1\ngarbage\nB=2\n");
        assert_eq!(file.get("B"), Some("2"));
    }

    #[test]
    fn escapes_only_in_double_quotes() {
        let file = parse("A=\"a\\nb\"\nB='a\\nb'\nEMPTY=\n");
        assert_eq!(file.get("A"), Some("a\nb"));
        assert_eq!(file.get("B"), Some("a\\nb"));
        assert_eq!(file.get("EMPTY"), Some(""));
    }
}

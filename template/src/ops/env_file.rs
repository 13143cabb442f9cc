//! Line-preserving edits of a dotenv file (`.env`).
//!
//! `ops secrets --write` must change the secret assignments and nothing else: comments, blank
//! lines, unrelated settings, their order, `export` prefixes, line endings and even lines it
//! cannot parse stay byte for byte. dotenvy parses such files but cannot write them back, so the
//! small editor below keeps the original text and only swaps the lines of the keys it sets.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Permission bits of an env file written by this module: it holds secrets.
pub const ENV_FILE_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("cannot write {path}: directory {directory} does not exist")]
    MissingDirectory { path: PathBuf, directory: PathBuf },
    #[error("cannot write {path}: it is not a regular file")]
    NotAFile { path: PathBuf },
    #[error(
        "cannot write {path}: the file is read-only (mode {mode:04o}); \
         make it writable (chmod u+w) if it should be changed"
    )]
    ReadOnly { path: PathBuf, mode: u32 },
    #[error("cannot read {path}: it is not UTF-8 text, so it was left untouched")]
    NotUtf8 { path: PathBuf },
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl EnvFileError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EnvFileError + use<> {
        let path = path.to_path_buf();
        move |source| EnvFileError::Io {
            action,
            path,
            source,
        }
    }
}

/// One line of the file, with its line ending, classified.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    kind: LineKind,
}

#[derive(Debug, Clone, PartialEq)]
enum LineKind {
    Blank,
    Comment,
    /// First line of `KEY=value` (a quoted value may continue on following lines).
    Assignment {
        key: String,
        exported: bool,
    },
    /// Continuation of a multi-line quoted value.
    Continuation,
    /// Anything else; kept verbatim and reported.
    Malformed,
}

/// A parsed env file that can be written back unchanged except for the keys set on it.
#[derive(Debug, Clone, Default)]
pub struct EnvFile {
    lines: Vec<Line>,
}

/// What [`EnvFile::upsert`] did with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Replaced,
    Appended,
}

impl EnvFile {
    pub fn parse(content: &str) -> EnvFile {
        let mut lines = Vec::new();
        // Quote character of a value still open from an earlier line.
        let mut open_quote: Option<char> = None;
        for text in content.split_inclusive('\n') {
            let kind = match open_quote {
                Some(quote) => {
                    if closes_quote(text, quote) {
                        open_quote = None;
                    }
                    LineKind::Continuation
                }
                None => {
                    let (kind, still_open) = classify(text);
                    open_quote = still_open;
                    kind
                }
            };
            lines.push(Line {
                text: text.to_owned(),
                kind,
            });
        }
        EnvFile { lines }
    }

    /// 1-based numbers of the lines that are neither assignments, comments nor blank.
    pub fn malformed_lines(&self) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, line)| line.kind == LineKind::Malformed)
            .map(|(index, _)| index + 1)
            .collect()
    }

    /// The value of the last assignment of `key` (dotenv semantics: quotes removed).
    pub fn get(&self, key: &str) -> Option<String> {
        let mut found = None;
        for (index, line) in self.lines.iter().enumerate() {
            if let LineKind::Assignment { key: k, .. } = &line.kind
                && k == key
            {
                found = Some(self.assignment_value(index));
            }
        }
        found
    }

    /// Sets `key` to `value`: every existing assignment of the key is replaced in place (all of
    /// them, so the file cannot disagree with itself); a missing key is appended at the end.
    /// `value` must not need quoting (the generated secrets are URL-safe base64).
    pub fn upsert(&mut self, key: &str, value: &str) -> Upsert {
        let newline = self.newline();
        let mut replaced = false;
        let mut kept = Vec::with_capacity(self.lines.len() + 1);
        let mut skipping_continuation = false;
        for line in self.lines.drain(..) {
            match &line.kind {
                LineKind::Assignment { key: k, exported } if k == key => {
                    let prefix = if *exported { "export " } else { "" };
                    kept.push(Line {
                        text: format!("{prefix}{key}={value}{newline}"),
                        kind: line.kind.clone(),
                    });
                    replaced = true;
                    skipping_continuation = true;
                }
                LineKind::Continuation if skipping_continuation => {}
                _ => {
                    skipping_continuation = false;
                    kept.push(line);
                }
            }
        }
        self.lines = kept;
        if replaced {
            return Upsert::Replaced;
        }
        if let Some(last) = self.lines.last_mut()
            && !last.text.ends_with('\n')
        {
            last.text.push_str(newline);
        }
        self.lines.push(Line {
            text: format!("{key}={value}{newline}"),
            kind: LineKind::Assignment {
                key: key.to_owned(),
                exported: false,
            },
        });
        Upsert::Appended
    }

    /// Appends a comment line (used to label the block of appended secrets).
    pub fn append_comment(&mut self, comment: &str) {
        let newline = self.newline();
        if let Some(last) = self.lines.last_mut()
            && !last.text.ends_with('\n')
        {
            last.text.push_str(newline);
        }
        self.lines.push(Line {
            text: format!("# {comment}{newline}"),
            kind: LineKind::Comment,
        });
    }

    pub fn contains(&self, key: &str) -> bool {
        self.lines
            .iter()
            .any(|line| matches!(&line.kind, LineKind::Assignment { key: k, .. } if k == key))
    }

    pub fn render(&self) -> String {
        self.lines.iter().map(|line| line.text.as_str()).collect()
    }

    /// Keys assigned in the file, in order, each once.
    pub fn keys(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.lines
            .iter()
            .filter_map(|line| match &line.kind {
                LineKind::Assignment { key, .. } if seen.insert(key.clone()) => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    /// The file's own line ending, so a CRLF file stays CRLF.
    fn newline(&self) -> &'static str {
        let crlf = self
            .lines
            .iter()
            .filter(|line| line.text.ends_with("\r\n"))
            .count();
        if crlf * 2 > self.lines.len() {
            "\r\n"
        } else {
            "\n"
        }
    }

    fn assignment_value(&self, index: usize) -> String {
        let mut raw = self.lines[index].text.clone();
        for line in &self.lines[index + 1..] {
            if line.kind != LineKind::Continuation {
                break;
            }
            raw.push_str(&line.text);
        }
        let after_equals = raw.split_once('=').map(|(_, v)| v).unwrap_or_default();
        unquote(after_equals.trim_start())
    }
}

/// Classifies a line that starts outside any quoted value; also returns the quote left open
/// when a quoted value continues on the next line.
fn classify(text: &str) -> (LineKind, Option<char>) {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return (LineKind::Blank, None);
    }
    if trimmed.starts_with('#') {
        return (LineKind::Comment, None);
    }
    let (exported, rest) = match trimmed.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => (true, rest.trim_start()),
        _ => (false, trimmed),
    };
    let Some((key, value)) = rest.split_once('=') else {
        return (LineKind::Malformed, None);
    };
    let key = key.trim_end();
    if !is_valid_key(key) {
        return (LineKind::Malformed, None);
    }
    let value = value.trim_start();
    let open_quote = match value.chars().next() {
        Some(quote @ ('"' | '\'')) if !closes_quote(&value[1..], quote) => Some(quote),
        _ => None,
    };
    (
        LineKind::Assignment {
            key: key.to_owned(),
            exported,
        },
        open_quote,
    )
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Whether `text` holds the closing `quote` (an unescaped one for double quotes).
fn closes_quote(text: &str, quote: char) -> bool {
    let mut escaped = false;
    for c in text.chars() {
        if quote == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == quote && !escaped {
            return true;
        }
        escaped = false;
    }
    false
}

fn unquote(raw: &str) -> String {
    let raw = raw.trim_end_matches(['\n', '\r']);
    for quote in ['"', '\''] {
        if let Some(inner) = raw.strip_prefix(quote)
            && let Some(end) = inner.rfind(quote)
        {
            return inner[..end].to_owned();
        }
    }
    // Unquoted: an inline comment starts at " #".
    let value = match raw.find(" #") {
        Some(position) => &raw[..position],
        None => raw,
    };
    value.trim().to_owned()
}

/// Reads `path` for editing. A missing file is an empty one; its directory must exist.
pub fn read_for_update(path: &Path) -> Result<(PathBuf, EnvFile), EnvFileError> {
    match fs::symlink_metadata(path) {
        Ok(_) => {
            // Edit what a symlink points to, so the link itself survives.
            let target = fs::canonicalize(path).map_err(EnvFileError::io("resolve", path))?;
            let metadata = fs::metadata(&target).map_err(EnvFileError::io("inspect", path))?;
            if !metadata.is_file() {
                return Err(EnvFileError::NotAFile {
                    path: path.to_path_buf(),
                });
            }
            // Root ignores permission bits; a file its owner made read-only is still respected.
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o200 == 0 {
                return Err(EnvFileError::ReadOnly {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            fs::OpenOptions::new()
                .append(true)
                .open(&target)
                .map_err(EnvFileError::io("open for writing", path))?;
            let bytes = fs::read(&target).map_err(EnvFileError::io("read", path))?;
            let content = String::from_utf8(bytes).map_err(|_| EnvFileError::NotUtf8 {
                path: path.to_path_buf(),
            })?;
            Ok((target, EnvFile::parse(&content)))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let directory = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !directory.is_dir() {
                return Err(EnvFileError::MissingDirectory {
                    path: path.to_path_buf(),
                    directory,
                });
            }
            Ok((path.to_path_buf(), EnvFile::default()))
        }
        Err(error) => Err(EnvFileError::io("inspect", path)(error)),
    }
}

/// Replaces `target` with `content` atomically (a temporary file in the same directory, then a
/// rename), mode 0600 and the previous owner: an interrupted write never leaves half a file.
pub fn write_atomically(target: &Path, content: &str) -> Result<(), EnvFileError> {
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let previous_owner = fs::metadata(target)
        .ok()
        .map(|metadata| (metadata.uid(), metadata.gid()));
    let mut temporary = tempfile::Builder::new()
        .prefix(".env.")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(ENV_FILE_MODE))
        .tempfile_in(directory)
        .map_err(EnvFileError::io("create a temporary file beside", target))?;
    temporary
        .write_all(content.as_bytes())
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(EnvFileError::io("write", target))?;
    // tempfile honours the umask; set the mode explicitly so it is exactly 0600.
    fs::set_permissions(temporary.path(), fs::Permissions::from_mode(ENV_FILE_MODE))
        .map_err(EnvFileError::io("set the mode of", target))?;
    if let Some((uid, gid)) = previous_owner {
        let current = temporary
            .as_file()
            .metadata()
            .map_err(EnvFileError::io("inspect", target))?;
        if (current.uid(), current.gid()) != (uid, gid) {
            std::os::unix::fs::fchown(temporary.as_file(), Some(uid), Some(gid))
                .map_err(EnvFileError::io("keep the owner of", target))?;
        }
    }
    temporary
        .persist(target)
        .map_err(|error| EnvFileError::io("replace", target)(error.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Settings for the API\n\
        ENVIRONMENT=prod\n\
        \n\
        export JWT_SECRET=CHANGE_ME_jwt # set by ops secrets\n\
        this line is not an assignment\n\
        MULTI=\"first\n\
        second\"\n\
        9BAD=value\n\
        JWT_SECRET='old duplicate'\n\
        LAST=1";

    #[test]
    fn parse_then_render_is_byte_identical() {
        for content in [SAMPLE, "", "\n\n", "A=1\r\nB=2\r\n", "no newline at end"] {
            assert_eq!(EnvFile::parse(content).render(), content);
        }
    }

    #[test]
    fn malformed_lines_are_reported_and_kept() {
        let file = EnvFile::parse(SAMPLE);
        assert_eq!(file.malformed_lines(), vec![5, 8]);
        let mut edited = file.clone();
        edited.upsert("JWT_SECRET", "new");
        let rendered = edited.render();
        assert!(rendered.contains("this line is not an assignment\n"));
        assert!(rendered.contains("9BAD=value\n"));
    }

    #[test]
    fn upsert_replaces_every_assignment_and_keeps_the_rest_in_order() {
        let mut file = EnvFile::parse(SAMPLE);
        assert_eq!(file.upsert("JWT_SECRET", "fresh"), Upsert::Replaced);
        let expected = "# Settings for the API\n\
            ENVIRONMENT=prod\n\
            \n\
            export JWT_SECRET=fresh\n\
            this line is not an assignment\n\
            MULTI=\"first\n\
            second\"\n\
            9BAD=value\n\
            JWT_SECRET=fresh\n\
            LAST=1";
        assert_eq!(file.render(), expected);
        assert_eq!(file.get("JWT_SECRET").as_deref(), Some("fresh"));
    }

    #[test]
    fn upsert_appends_a_missing_key_after_a_final_line_without_newline() {
        let mut file = EnvFile::parse("A=1");
        assert_eq!(file.upsert("B", "2"), Upsert::Appended);
        assert_eq!(file.render(), "A=1\nB=2\n");
    }

    #[test]
    fn a_replaced_multiline_value_takes_its_continuation_lines_with_it() {
        let mut file = EnvFile::parse("KEY=\"one\ntwo\nthree\"\nAFTER=1\n");
        file.upsert("KEY", "single");
        assert_eq!(file.render(), "KEY=single\nAFTER=1\n");
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let mut file = EnvFile::parse("A=1\r\nB=2\r\n");
        file.upsert("B", "3");
        file.upsert("C", "4");
        assert_eq!(file.render(), "A=1\r\nB=3\r\nC=4\r\n");
    }

    #[test]
    fn values_are_read_with_dotenv_quoting_rules() {
        let file = EnvFile::parse(SAMPLE);
        assert_eq!(file.get("MULTI").as_deref(), Some("first\nsecond"));
        assert_eq!(file.get("JWT_SECRET").as_deref(), Some("old duplicate"));
        assert_eq!(file.get("ENVIRONMENT").as_deref(), Some("prod"));
        assert_eq!(file.get("MISSING"), None);
        let exported = EnvFile::parse("export JWT_SECRET=CHANGE_ME_jwt # comment\n");
        assert_eq!(exported.get("JWT_SECRET").as_deref(), Some("CHANGE_ME_jwt"));
    }

    #[test]
    fn keys_lists_each_assigned_key_once_in_order() {
        let file = EnvFile::parse(SAMPLE);
        assert_eq!(
            file.keys(),
            vec!["ENVIRONMENT", "JWT_SECRET", "MULTI", "LAST"]
        );
    }
}

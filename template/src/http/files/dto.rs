//! Request and response shapes of the files API, and the file name rules.

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::entities::stored_files;

/// Longest stored file name, in bytes.
pub const FILENAME_MAX: usize = 255;

/// The multipart form of an upload: one part named `file`, with a file name.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the request body; the handler reads the parts as a stream
pub struct UploadForm {
    /// The file. Its type is sniffed from its bytes (the part's `Content-Type` is ignored) and
    /// must be one of `FILES_ALLOWED_TYPES`; its size at most `FILES_MAX_BYTES`.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// The bytes of a download (the schema of `GET files/{id}/content`).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documents the response body; the handler streams it
pub struct FileContent(pub Vec<u8>);

#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: Uuid,
    pub owner_id: Uuid,
    /// The sanitised name the file is served under.
    pub filename: String,
    /// Detected from the content at upload.
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

impl From<stored_files::Model> for FileView {
    fn from(file: stored_files::Model) -> Self {
        FileView {
            id: file.id,
            owner_id: file.owner_id,
            filename: file.filename,
            content_type: file.content_type,
            size_bytes: file.size_bytes,
            sha256: file.sha256,
            created_at: file.created_at,
        }
    }
}

/// Page of `GET /files`; any other parameter is refused.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListFilesQuery {
    /// Page number, from 1.
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    pub per_page: Option<u64>,
}

/// The client's file name made harmless: the last path segment only, no control characters,
/// quotes, backslashes or leading dots, whitespace collapsed, at most [`FILENAME_MAX`] bytes;
/// `file` when nothing is left.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut cleaned = String::new();
    for character in last.chars() {
        let character = if character.is_control() || matches!(character, '"' | '\\' | ';') {
            ' '
        } else {
            character
        };
        if character.is_whitespace() {
            if !cleaned.is_empty() && !cleaned.ends_with(' ') {
                cleaned.push(' ');
            }
            continue;
        }
        if cleaned.len() + character.len_utf8() > FILENAME_MAX {
            break;
        }
        cleaned.push(character);
    }
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// RFC 8187 `attr-char`s stay as they are; everything else is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266, RFC 8187).
pub fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|character| {
            if character.is_ascii_graphic() && character != '"' && character != '\\'
                || character == ' '
            {
                character
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(filename, ATTR_CHAR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_controls_and_quotes() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(sanitize_filename("a\"b;\r\nc.png"), "a b c.png");
        assert_eq!(sanitize_filename(".htaccess"), "htaccess");
        assert_eq!(sanitize_filename("   "), "file");
        assert_eq!(sanitize_filename(""), "file");
        assert_eq!(sanitize_filename(&"é".repeat(300)).len(), 254);
    }

    #[test]
    fn content_disposition_carries_an_ascii_fallback_and_the_utf8_name() {
        assert_eq!(
            content_disposition("naïve plan.pdf"),
            "attachment; filename=\"na_ve plan.pdf\"; filename*=UTF-8''na%C3%AFve%20plan.pdf"
        );
    }
}

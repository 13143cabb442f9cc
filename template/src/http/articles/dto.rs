//! Request and response bodies of the articles API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::entities::{articles, comments};

pub const TITLE_MAX: u64 = 200;
pub const BODY_MAX: u64 = 100_000;
pub const COMMENT_MAX: u64 = 10_000;

/// Text fields: a character that is neither white space nor NUL, and no NUL anywhere (the
/// schemas state it as a pattern that spells out the whitespace `str::trim` removes — Unicode
/// White_Space, not the ECMAScript `\s`, which leaves out U+0085 and adds U+FEFF).
fn not_blank(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new("blank").with_message("must not be blank".into()));
    }
    // Postgres text cannot hold NUL: refused here as a 422, not by the database as a 500.
    if value.contains('\0') {
        return Err(
            ValidationError::new("nul").with_message("must not contain NUL characters".into())
        );
    }
    Ok(())
}

/// A new article. The author is the caller; a body naming one is refused (unknown field).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArticle {
    #[validate(length(min = 1, max = TITLE_MAX), custom(function = "not_blank"))]
    #[schema(
        example = "Shipping on day one",
        min_length = 1,
        max_length = 200,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000][^\u0000]*$"
    )]
    pub title: String,
    #[validate(length(min = 1, max = BODY_MAX), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 100000,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000][^\u0000]*$"
    )]
    pub body: String,
    /// Drafts (the default) are visible to their author and admins only.
    #[serde(default)]
    pub published: bool,
}

/// The fields to change; absent fields keep their value.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleChanges {
    #[validate(length(min = 1, max = TITLE_MAX), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000][^\u0000]*$"
    )]
    pub title: Option<String>,
    #[validate(length(min = 1, max = BODY_MAX), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 100000,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000][^\u0000]*$"
    )]
    pub body: Option<String>,
    pub published: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleView {
    pub id: Uuid,
    pub author_id: Uuid,
    pub title: String,
    pub body: String,
    pub published: bool,
    /// Also the `ETag` (quoted) to send back in `If-Match`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only on the admin listing of deleted articles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<articles::Model> for ArticleView {
    fn from(article: articles::Model) -> Self {
        ArticleView {
            id: article.id,
            author_id: article.author_id,
            title: article.title,
            body: article.body,
            published: article.published,
            version: article.version,
            created_at: article.created_at,
            updated_at: article.updated_at,
            deleted_at: article.deleted_at,
        }
    }
}

/// Sort orders a list accepts (a leading `-` is descending); nothing else can be sorted on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub enum ArticleSort {
    #[serde(rename = "created_at")]
    CreatedAt,
    #[default]
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDesc,
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "-title")]
    TitleDesc,
}

/// Filters, sort and page of `GET /articles`; any other parameter is refused.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListArticlesQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000_000)]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    /// Sort order (default `-created_at`, newest first); ties are broken by id.
    #[param(inline)]
    pub sort: Option<ArticleSort>,
    /// Only published articles (`true`) or only drafts (`false`: yours, or all for an admin).
    pub published: Option<bool>,
    /// Only articles by this author.
    pub author_id: Option<Uuid>,
}

/// Page of a plain list (deleted articles, comments).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000_000)]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    #[validate(length(min = 1, max = COMMENT_MAX), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000][^\u0000]*$"
    )]
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub article_id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<comments::Model> for CommentView {
    fn from(comment: comments::Model) -> Self {
        CommentView {
            id: comment.id,
            article_id: comment.article_id,
            author_id: comment.author_id,
            body: comment.body,
            created_at: comment.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::not_blank;

    #[test]
    fn text_fields_refuse_blank_and_nul() {
        assert!(not_blank("a title").is_ok());
        assert!(not_blank("  ").is_err());
        assert!(not_blank("a\0b").is_err());
    }
}

//! `stored_files`: one row per uploaded file (see `http::files` and `crate::files`). The bytes
//! are in object storage, encrypted; the row holds what is needed to serve and check them.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stored_files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The uploader (from the access token, never from the request body).
    pub owner_id: Uuid,
    /// Sanitised client file name, used only for `Content-Disposition`.
    pub filename: String,
    /// Sniffed from the content at upload, one of `FILES_ALLOWED_TYPES`.
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the plaintext.
    pub sha256: String,
    /// Id of the master key that wraps `wrapped_key`.
    pub key_id: String,
    /// The file's data key, wrapped (base64url); `storage rotate-key` replaces it.
    #[sea_orm(column_type = "Text")]
    pub wrapped_key: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

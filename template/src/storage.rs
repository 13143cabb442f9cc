//! Object storage through the `object_store` crate: a local folder (the dev default, under
//! `DATA_DIR`), an in-memory store (tests), or an S3 bucket (AWS, MinIO and other
//! S3-compatible services). Handlers get an `Arc<dyn ObjectStore>` from [`Storage::store`];
//! `STORAGE_URL` picks the backend.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use reqwest::Method;
use url::Url;

use crate::config::Settings;

/// Objects the application writes for its own bookkeeping live under this prefix.
pub const INTERNAL_PREFIX: &str = ".shaapi";

/// Where objects are kept, as parsed from `STORAGE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageTarget {
    /// A folder on the local filesystem (`file:///abs/path`, or `DATA_DIR/storage` when unset).
    Local(PathBuf),
    /// Process memory: lost on exit, not shared between instances (dev and tests only).
    Memory,
    /// An S3 bucket, optionally under a key prefix (`s3://bucket/prefix`). Credentials, region
    /// and endpoint come from the usual `AWS_*` environment variables.
    S3 { bucket: String, prefix: String },
}

impl StorageTarget {
    /// Parses `STORAGE_URL`; `None` is the local default under `data_dir`.
    pub fn parse(url: Option<&str>, data_dir: &Path) -> Result<StorageTarget, String> {
        let Some(raw) = url else {
            return Ok(StorageTarget::Local(data_dir.join("storage")));
        };
        let url = Url::parse(raw).map_err(|error| {
            format!(
                "STORAGE_URL `{raw}` is not a URL ({error}): use file:///absolute/path, \
                 memory:// or s3://bucket"
            )
        })?;
        match url.scheme() {
            "file" => {
                if url.host_str().is_some_and(|host| !host.is_empty()) {
                    return Err(format!(
                        "STORAGE_URL `{raw}` names a host; a file URL needs an absolute path \
                         (file:///srv/storage)"
                    ));
                }
                let path = url
                    .to_file_path()
                    .map_err(|()| format!("STORAGE_URL `{raw}` is not an absolute local path"))?;
                if path == Path::new("/") {
                    return Err(format!(
                        "STORAGE_URL `{raw}` is the filesystem root: name a folder"
                    ));
                }
                Ok(StorageTarget::Local(path))
            }
            "memory" => Ok(StorageTarget::Memory),
            "s3" | "s3a" => {
                let bucket = url.host_str().unwrap_or_default().to_owned();
                if bucket.is_empty() {
                    return Err(format!(
                        "STORAGE_URL `{raw}` names no bucket: use s3://bucket[/prefix]"
                    ));
                }
                let prefix = url.path().trim_matches('/').to_owned();
                Ok(StorageTarget::S3 { bucket, prefix })
            }
            other => Err(format!(
                "STORAGE_URL scheme `{other}` is not supported: use file://, memory:// or s3://"
            )),
        }
    }
}

impl fmt::Display for StorageTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageTarget::Local(path) => write!(f, "local folder {}", path.display()),
            StorageTarget::Memory => f.write_str("in-memory store"),
            StorageTarget::S3 { bucket, prefix } if prefix.is_empty() => {
                write!(f, "S3 bucket {bucket}")
            }
            StorageTarget::S3 { bucket, prefix } => {
                write!(f, "S3 bucket {bucket}, prefix {prefix}/")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("storage folder {path} does not exist: run `{app} storage init`", app = env!("CARGO_PKG_NAME"))]
    MissingFolder { path: PathBuf },
    #[error("cannot create the storage folder {path}")]
    CreateFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} exists but is not a folder")]
    NotAFolder { path: PathBuf },
    #[error("cannot open {target}")]
    Open {
        target: String,
        source: Box<object_store::Error>,
    },
    #[error("{target}: {step} failed{hint}")]
    Unreachable {
        target: String,
        step: &'static str,
        source: Box<object_store::Error>,
        hint: &'static str,
    },
    #[error("{target}: the marker object read back differs from what was written")]
    Corrupted { target: String },
    #[error("{target}: {step} failed: {detail}")]
    Bucket {
        target: String,
        step: &'static str,
        detail: String,
    },
}

/// The configured object store and where it points.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    target: StorageTarget,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// What [`Storage::check`] did, for the commands that report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The marker object written, read back and deleted.
    pub marker: String,
    pub bytes: usize,
}

const S3_BUCKET_HINT: &str = " (does the bucket exist? `storage init` creates it)";

/// What [`Storage::create_bucket_if_missing`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketState {
    Created,
    Existed,
}

/// How long the signed bucket requests of `storage init` stay valid.
const BUCKET_REQUEST_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl Storage {
    /// Opens the configured store. A local folder must already exist (`storage init` or
    /// [`Storage::open_creating`] creates it); nothing is written.
    pub fn open(settings: &Settings) -> Result<Storage, StorageError> {
        let target = settings
            .storage_target()
            .map_err(StorageError::InvalidUrl)?;
        if let StorageTarget::Local(path) = &target {
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(StorageError::NotAFolder { path: path.clone() }),
                Err(_) => return Err(StorageError::MissingFolder { path: path.clone() }),
            }
        }
        Storage::from_target(target)
    }

    /// Opens the configured store, creating the local folder first when needed.
    pub fn open_creating(settings: &Settings) -> Result<(Storage, bool), StorageError> {
        let target = settings
            .storage_target()
            .map_err(StorageError::InvalidUrl)?;
        let created = match &target {
            StorageTarget::Local(path) => create_folder(path)?,
            _ => false,
        };
        Ok((Storage::from_target(target)?, created))
    }

    fn from_target(target: StorageTarget) -> Result<Storage, StorageError> {
        let open_error = |source| StorageError::Open {
            target: target.to_string(),
            source: Box::new(source),
        };
        let store: Arc<dyn ObjectStore> = match &target {
            StorageTarget::Local(path) => {
                Arc::new(LocalFileSystem::new_with_prefix(path).map_err(open_error)?)
            }
            StorageTarget::Memory => Arc::new(InMemory::new()),
            StorageTarget::S3 { bucket, prefix } => {
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(open_error)?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                }
            }
        };
        Ok(Storage { store, target })
    }

    /// The store, for handlers and services.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    pub fn target(&self) -> &StorageTarget {
        &self.target
    }

    /// For an S3 target: creates the bucket unless it exists (`HeadBucket`, then
    /// `CreateBucket`). object_store has no bucket API, but it signs any request with the
    /// configured credentials: the bucket's own URL is the object path "".
    pub async fn create_bucket_if_missing(&self) -> Result<BucketState, StorageError> {
        let StorageTarget::S3 { bucket, .. } = &self.target else {
            return Ok(BucketState::Existed);
        };
        let target = self.target.to_string();
        let failed = |step: &'static str, detail: String| StorageError::Bucket {
            target: target.clone(),
            step,
            detail,
        };
        let builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let region = builder
            .get_config_value(&AmazonS3ConfigKey::Region)
            .unwrap_or_else(|| "us-east-1".to_owned());
        let s3 = builder.build().map_err(|source| StorageError::Open {
            target: target.clone(),
            source: Box::new(source),
        })?;
        let bucket_path = ObjectPath::from("");
        let client = reqwest::Client::new();
        let head_url = s3
            .signed_url(Method::HEAD, &bucket_path, BUCKET_REQUEST_TTL)
            .await
            .map_err(|error| failed("signing HeadBucket", error.to_string()))?;
        let head = client
            .head(head_url.as_str())
            .send()
            .await
            .map_err(|error| failed("HeadBucket", crate::error_chain::Chain(&error).to_string()))?;
        match head.status().as_u16() {
            200 => return Ok(BucketState::Existed),
            404 => {}
            status => {
                return Err(failed(
                    "HeadBucket",
                    format!("answered HTTP {status} (credentials or permissions?)"),
                ));
            }
        }
        let create_url = s3
            .signed_url(Method::PUT, &bucket_path, BUCKET_REQUEST_TTL)
            .await
            .map_err(|error| failed("signing CreateBucket", error.to_string()))?;
        // us-east-1 is the default location and must not be named; an empty body still
        // needs its `Content-Length: 0` (S3 answers 411 without it).
        let body = if region == "us-east-1" {
            String::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            )
        };
        let created = client
            .put(create_url.as_str())
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(body)
            .send()
            .await
            .map_err(|error| {
                failed(
                    "CreateBucket",
                    crate::error_chain::Chain(&error).to_string(),
                )
            })?;
        let status = created.status();
        if status.is_success() {
            return Ok(BucketState::Created);
        }
        let body = created.text().await.unwrap_or_default();
        let code = body
            .split("<Code>")
            .nth(1)
            .and_then(|rest| rest.split("</Code>").next())
            .unwrap_or("no error code");
        Err(failed(
            "CreateBucket",
            format!("answered HTTP {} ({code})", status.as_u16()),
        ))
    }

    /// Name of the backend, for the readiness report.
    pub fn backend_name(&self) -> &'static str {
        match self.target {
            StorageTarget::Local(_) => "local",
            StorageTarget::Memory => "memory",
            StorageTarget::S3 { .. } => "s3",
        }
    }

    /// A cheap readiness probe: the store answers a metadata request (a missing marker is
    /// the expected answer), and a local folder still exists. Nothing is written.
    pub async fn ping(&self) -> Result<(), StorageError> {
        if let StorageTarget::Local(path) = &self.target
            && !path.is_dir()
        {
            return Err(StorageError::MissingFolder { path: path.clone() });
        }
        let probe = ObjectPath::from(format!("{INTERNAL_PREFIX}/readiness-probe"));
        match self.store.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StorageError::Unreachable {
                target: self.target.to_string(),
                step: "a metadata request",
                source: Box::new(source),
                hint: "",
            }),
        }
    }

    /// Proves the store is reachable and writable: writes a small marker object under
    /// `.shaapi/`, reads it back, compares, and deletes it.
    pub async fn check(&self) -> Result<CheckReport, StorageError> {
        let marker = format!(
            "{INTERNAL_PREFIX}/reachability-{}",
            uuid::Uuid::new_v4().simple()
        );
        let location = ObjectPath::from(marker.as_str());
        let content = format!("{} storage check\n", env!("CARGO_PKG_NAME")).into_bytes();
        let hint = match self.target {
            StorageTarget::S3 { .. } => S3_BUCKET_HINT,
            _ => "",
        };
        let failed = |step: &'static str| {
            let target = self.target.to_string();
            move |source| StorageError::Unreachable {
                target,
                step,
                source: Box::new(source),
                hint,
            }
        };
        self.store
            .put(&location, PutPayload::from(content.clone()))
            .await
            .map_err(failed("writing a marker object"))?;
        let read = async {
            let result = self.store.get(&location).await?;
            result.bytes().await
        }
        .await;
        // Delete before judging the read, so a failed comparison leaves nothing behind.
        let deleted = self.store.delete(&location).await;
        let read = read.map_err(failed("reading the marker object back"))?;
        deleted.map_err(failed("deleting the marker object"))?;
        if read.as_ref() != content.as_slice() {
            return Err(StorageError::Corrupted {
                target: self.target.to_string(),
            });
        }
        Ok(CheckReport {
            marker,
            bytes: content.len(),
        })
    }
}

/// Creates the folder (and its parents); `Ok(true)` when it did not exist.
pub fn create_folder(path: &Path) -> Result<bool, StorageError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(false),
        Ok(_) => {
            return Err(StorageError::NotAFolder {
                path: path.to_path_buf(),
            });
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(path).map_err(|source| StorageError::CreateFolder {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<StorageTarget, String> {
        StorageTarget::parse(Some(url), Path::new("data"))
    }

    #[test]
    fn each_supported_url_is_understood() {
        assert_eq!(
            StorageTarget::parse(None, Path::new("var")).unwrap(),
            StorageTarget::Local(PathBuf::from("var/storage"))
        );
        assert_eq!(
            parse("file:///srv/objects").unwrap(),
            StorageTarget::Local(PathBuf::from("/srv/objects"))
        );
        assert_eq!(parse("memory://").unwrap(), StorageTarget::Memory);
        assert_eq!(
            parse("s3://uploads/app/v1/").unwrap(),
            StorageTarget::S3 {
                bucket: "uploads".to_owned(),
                prefix: "app/v1".to_owned()
            }
        );
    }

    #[test]
    fn malformed_urls_are_refused_naming_the_setting() {
        for bad in [
            "not a url",
            "ftp://example.org/x",
            "s3://",
            "file://somehost/srv",
            "file:///",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains("STORAGE_URL"), "{bad}: {error}");
        }
    }

    #[tokio::test]
    async fn the_check_leaves_no_marker_behind() {
        let storage = Storage::from_target(StorageTarget::Memory).unwrap();
        let report = storage.check().await.unwrap();
        assert!(report.marker.starts_with(".shaapi/"), "{}", report.marker);
        let listed = storage.store().list_with_delimiter(None).await.unwrap();
        assert!(listed.objects.is_empty() && listed.common_prefixes.is_empty());
    }
}

//! Files kept safe at rest: what `http::files` stores and serves.
//!
//! An upload is streamed through [`Vault::store`]: its type is sniffed from the first bytes
//! (never taken from the client), its size counted against `FILES_MAX_BYTES`, its SHA-256
//! computed, each piece sent to clamd when `CLAMD_ADDRESS` is set, and sealed ([`chunks`])
//! under a fresh data key ([`keys`]) into a multipart upload of the object store. Nothing is
//! kept whole in memory: at most one store part (5 MiB) per upload in flight, twice. The upload
//! is completed only when the file is whole, allowed and clean; otherwise it is aborted and no
//! object remains.

pub mod antivirus;
pub mod chunks;
pub mod keys;

use std::sync::Arc;

use axum::http::StatusCode;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Settings;

use self::antivirus::{ClamdAddress, ScanError, Scanner, Verdict};
use self::chunks::{ChunkError, ChunkOpener, ChunkSealer};
use self::keys::{DataKey, KeyError, MasterKeys, WrappedKey};

/// Objects of uploaded files live under this prefix of the store.
pub const OBJECT_PREFIX: &str = "files";
/// Bytes read before the type is sniffed (every signature `infer` knows fits in them).
const SNIFF_LEN: usize = 8192;
/// Part size of the multipart upload (S3's minimum for every part but the last).
const PART_LEN: usize = 5 * 1024 * 1024;
/// Parts uploaded concurrently per file.
const PARTS_IN_FLIGHT: usize = 2;

/// The object key of file `id`.
pub fn object_path(id: Uuid) -> ObjectPath {
    ObjectPath::from(format!("{OBJECT_PREFIX}/{id}"))
}

/// An error reading the request body, with the status it deserves (413 past the body limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub status: StatusCode,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{}", .0.detail)]
    Body(BodyError),
    #[error("the file is larger than FILES_MAX_BYTES ({limit} bytes)")]
    TooLarge { limit: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("the file's type is not recognised from its content; allowed: {allowed}")]
    UnknownType { allowed: String },
    #[error("the file's content is {detected}, which is not allowed; allowed: {allowed}")]
    TypeNotAllowed { detected: String, allowed: String },
    #[error("the antivirus found {0}")]
    Infected(String),
    #[error("the antivirus scan failed")]
    Scanner(#[source] ScanError),
    #[error("object storage refused the file")]
    Storage(#[source] object_store::Error),
    #[error("cannot encrypt the file")]
    Encryption(#[source] ChunkError),
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("object storage cannot read the file")]
    Storage(#[source] object_store::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Integrity(#[from] ChunkError),
    #[error("the stored file decrypts to {actual} bytes where its row says {expected}")]
    Length { expected: u64, actual: u64 },
}

/// What [`Vault::store`] wrote: the facts of the file's row.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub id: Uuid,
    pub size_bytes: u64,
    /// Hex SHA-256 of the plaintext.
    pub sha256: String,
    pub content_type: String,
    pub key: WrappedKey,
}

/// Keys, antivirus and limits of file storage.
#[derive(Debug)]
pub struct Vault {
    pub keys: MasterKeys,
    scanner: Option<Scanner>,
    max_bytes: u64,
    allowed_types: Vec<String>,
}

impl Vault {
    /// From validated settings.
    pub fn from_settings(settings: &Settings) -> Result<Vault, String> {
        let scanner = match settings.clamd_address.as_deref() {
            Some(address) => Some(Scanner::new(ClamdAddress::parse(address)?)),
            None => None,
        };
        Ok(Vault {
            keys: MasterKeys::from_settings(settings)?,
            scanner,
            max_bytes: settings.files_max_bytes,
            allowed_types: settings.files_allowed_types.clone(),
        })
    }

    fn allowed(&self) -> String {
        self.allowed_types.join(", ")
    }

    /// Streams `body` into the store as a new, encrypted object (see the module docs).
    pub async fn store<S>(
        &self,
        store: &Arc<dyn ObjectStore>,
        body: S,
    ) -> Result<StoredObject, UploadError>
    where
        S: Stream<Item = Result<Bytes, BodyError>> + Unpin,
    {
        let mut body = body;
        let mut size: u64 = 0;
        let mut count = |piece: &Bytes| {
            size += piece.len() as u64;
            if size > self.max_bytes {
                Err(UploadError::TooLarge {
                    limit: self.max_bytes,
                })
            } else {
                Ok(())
            }
        };

        // Sniff before anything is written or scanned.
        let mut head = Vec::with_capacity(SNIFF_LEN);
        let mut ended = false;
        while head.len() < SNIFF_LEN {
            match body.try_next().await.map_err(UploadError::Body)? {
                Some(piece) => {
                    count(&piece)?;
                    head.extend_from_slice(&piece);
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if head.is_empty() {
            return Err(UploadError::Empty);
        }
        let content_type = self.sniff(&head)?;

        let mut scan = match &self.scanner {
            Some(scanner) => Some(scanner.start().await.map_err(UploadError::Scanner)?),
            None => None,
        };
        let id = Uuid::new_v4();
        let data_key = DataKey::generate();
        let key = self
            .keys
            .wrap(id, &data_key)
            .map_err(|error| UploadError::Encryption(error.into()))?;
        let mut sealer = ChunkSealer::new(&data_key).map_err(UploadError::Encryption)?;
        let location = object_path(id);
        let upload = store
            .put_multipart(&location)
            .await
            .map_err(UploadError::Storage)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_LEN);
        let mut hasher = Sha256::new();
        let mut sealed = Vec::with_capacity(2 * chunks::SEALED_CHUNK_LEN);

        let written = async {
            let mut next = Some(Bytes::from(head));
            loop {
                let piece = match next.take() {
                    Some(piece) => piece,
                    None if ended => break,
                    None => match body.try_next().await.map_err(UploadError::Body)? {
                        Some(piece) => {
                            count(&piece)?;
                            piece
                        }
                        None => break,
                    },
                };
                hasher.update(&piece);
                if let Some(scan) = scan.as_mut() {
                    scan.send(&piece).await.map_err(UploadError::Scanner)?;
                }
                sealer
                    .push(&piece, &mut sealed)
                    .map_err(UploadError::Encryption)?;
                if !sealed.is_empty() {
                    writer
                        .wait_for_capacity(PARTS_IN_FLIGHT)
                        .await
                        .map_err(UploadError::Storage)?;
                    writer.write(&sealed);
                    sealed.clear();
                }
            }
            sealer
                .finish(&mut sealed)
                .map_err(UploadError::Encryption)?;
            writer.write(&sealed);
            if let Some(scan) = scan.take() {
                match scan.finish().await.map_err(UploadError::Scanner)? {
                    Verdict::Clean => {}
                    Verdict::Infected(signature) => return Err(UploadError::Infected(signature)),
                }
            }
            Ok(())
        }
        .await;
        if let Err(error) = written {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, %location, "aborting a refused upload failed");
            }
            return Err(error);
        }
        writer.finish().await.map_err(UploadError::Storage)?;
        Ok(StoredObject {
            id,
            size_bytes: size,
            sha256: hex::encode(hasher.finalize()),
            content_type,
            key,
        })
    }

    fn sniff(&self, head: &[u8]) -> Result<String, UploadError> {
        let Some(kind) = infer::get(head) else {
            return Err(UploadError::UnknownType {
                allowed: self.allowed(),
            });
        };
        let detected = kind.mime_type();
        if self.allowed_types.iter().any(|allowed| allowed == detected) {
            Ok(detected.to_owned())
        } else {
            Err(UploadError::TypeNotAllowed {
                detected: detected.to_owned(),
                allowed: self.allowed(),
            })
        }
    }

    /// The plaintext of file `id`, decrypted chunk by chunk as it is read. The first chunk is
    /// opened before this returns, so a file altered there fails before any byte is sent; a
    /// later bad chunk ends the stream with an error instead of yielding unauthenticated bytes.
    pub async fn open(
        &self,
        store: &Arc<dyn ObjectStore>,
        id: Uuid,
        key: &WrappedKey,
        size_bytes: u64,
    ) -> Result<impl Stream<Item = Result<Bytes, DownloadError>> + Send + use<>, DownloadError>
    {
        let data_key = self.keys.unwrap(id, key)?;
        let mut opener = ChunkOpener::new(&data_key)?;
        let mut sealed = store
            .get(&object_path(id))
            .await
            .map_err(DownloadError::Storage)?
            .into_stream();
        let mut produced: u64 = 0;
        // Read until the first plaintext (or the end), to fail early on a bad first chunk.
        let mut first = Vec::new();
        let mut finished = false;
        while first.is_empty() && !finished {
            match sealed.next().await {
                Some(piece) => first = opener.push(&piece.map_err(DownloadError::Storage)?)?,
                None => finished = true,
            }
        }
        let mut opener = Some(opener);
        if finished && let Some(last) = opener.take() {
            first.extend(last.finish()?);
        }
        produced += first.len() as u64;
        if finished && produced != size_bytes {
            return Err(DownloadError::Length {
                expected: size_bytes,
                actual: produced,
            });
        }
        let rest = futures::stream::try_unfold(
            (sealed, opener, produced),
            move |(mut sealed, mut opener, mut produced)| async move {
                if opener.is_none() {
                    return Ok(None);
                }
                loop {
                    let plaintext = match sealed.next().await {
                        Some(piece) => {
                            let piece = piece.map_err(DownloadError::Storage)?;
                            match opener.as_mut() {
                                Some(active) => active.push(&piece)?,
                                None => return Ok(None),
                            }
                        }
                        None => match opener.take() {
                            Some(last) => last.finish()?,
                            None => return Ok(None),
                        },
                    };
                    produced += plaintext.len() as u64;
                    if opener.is_none() && produced != size_bytes {
                        return Err(DownloadError::Length {
                            expected: size_bytes,
                            actual: produced,
                        });
                    }
                    if !plaintext.is_empty() || opener.is_none() {
                        return Ok(Some((Bytes::from(plaintext), (sealed, opener, produced))));
                    }
                }
            },
        );
        Ok(futures::stream::once(async move { Ok(Bytes::from(first)) })
            .chain(rest)
            .try_filter(|piece| std::future::ready(!piece.is_empty())))
    }
}

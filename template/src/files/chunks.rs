//! The stored form of a file: its plaintext cut into 64 KiB chunks, each sealed with
//! AES-256-GCM under the file's data key. The nonce of chunk `i` is `i` (big-endian) followed by
//! a last-chunk flag — the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár), so a
//! reordered, dropped or truncated chunk fails to open like a modified one does. The data key
//! is unique to the file, so counter nonces never repeat under one key.
//!
//! Written here rather than taken from a crate: ring (already the AEAD of the MFA secrets and in
//! the tree through rustls) has no streaming mode, and the construction is the nonce layout
//! below; a second AEAD stack for it would double the crypto code in the build.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce};

use crate::files::keys::{DataKey, KeyError};

/// Plaintext bytes per chunk.
pub const CHUNK_LEN: usize = 64 * 1024;
pub const TAG_LEN: usize = 16;
/// A sealed chunk: every chunk but the last has exactly this length.
pub const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk {0} of the stored file failed authentication (altered, reordered or truncated)")]
    Tampered(u64),
    #[error("the stored file ends before its last chunk (truncated)")]
    Truncated,
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn nonce(index: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[NONCE_LEN - 1] = u8::from(last);
    Nonce::assume_unique_for_key(nonce)
}

/// Seals plaintext as it arrives.
pub struct ChunkSealer {
    key: LessSafeKey,
    index: u64,
    pending: Vec<u8>,
}

impl ChunkSealer {
    pub fn new(data_key: &DataKey) -> Result<ChunkSealer, ChunkError> {
        debug_assert_eq!(AES_256_GCM.tag_len(), TAG_LEN);
        Ok(ChunkSealer {
            key: data_key.aead()?,
            index: 0,
            pending: Vec::with_capacity(CHUNK_LEN),
        })
    }

    /// Adds plaintext; every chunk it completes is appended, sealed, to `out`.
    pub fn push(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        while !plaintext.is_empty() {
            let take = plaintext.len().min(CHUNK_LEN - self.pending.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            if self.pending.len() == CHUNK_LEN {
                self.seal_pending(false, out)?;
            }
        }
        Ok(())
    }

    /// Seals what is left as the last chunk (possibly empty, always shorter than a full one).
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        self.seal_pending(true, out)
    }

    fn seal_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        let mut chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK_LEN));
        self.key
            .seal_in_place_append_tag(nonce(self.index, last), Aad::empty(), &mut chunk)
            .map_err(|_| ChunkError::Key(KeyError::Crypto))?;
        out.extend_from_slice(&chunk);
        self.index += 1;
        Ok(())
    }
}

/// Opens sealed bytes as they are read back; only authenticated plaintext ever comes out.
pub struct ChunkOpener {
    key: LessSafeKey,
    index: u64,
    pending: Vec<u8>,
}

impl ChunkOpener {
    pub fn new(data_key: &DataKey) -> Result<ChunkOpener, ChunkError> {
        Ok(ChunkOpener {
            key: data_key.aead()?,
            index: 0,
            pending: Vec::with_capacity(2 * SEALED_CHUNK_LEN),
        })
    }

    /// Adds sealed bytes; returns the plaintext of every chunk known not to be the last (a
    /// full chunk is opened only once more bytes follow it).
    pub fn push(&mut self, mut sealed: &[u8]) -> Result<Vec<u8>, ChunkError> {
        let mut plaintext = Vec::new();
        while !sealed.is_empty() {
            if self.pending.len() == SEALED_CHUNK_LEN {
                plaintext.extend_from_slice(&self.open_pending(false)?);
            }
            let take = sealed.len().min(SEALED_CHUNK_LEN - self.pending.len());
            self.pending.extend_from_slice(&sealed[..take]);
            sealed = &sealed[take..];
        }
        Ok(plaintext)
    }

    /// At the end of the stored bytes: opens the last chunk.
    pub fn finish(mut self) -> Result<Vec<u8>, ChunkError> {
        if self.pending.len() < TAG_LEN {
            return Err(ChunkError::Truncated);
        }
        self.open_pending(true)
    }

    fn open_pending(&mut self, last: bool) -> Result<Vec<u8>, ChunkError> {
        let mut chunk =
            std::mem::replace(&mut self.pending, Vec::with_capacity(2 * SEALED_CHUNK_LEN));
        let opened = self
            .key
            .open_in_place(nonce(self.index, last), Aad::empty(), &mut chunk)
            .map_err(|_| ChunkError::Tampered(self.index))?
            .len();
        chunk.truncate(opened);
        self.index += 1;
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(key: &DataKey, plaintext: &[u8], piece: usize) -> Vec<u8> {
        let mut sealer = ChunkSealer::new(key).unwrap();
        let mut out = Vec::new();
        for part in plaintext.chunks(piece.max(1)) {
            sealer.push(part, &mut out).unwrap();
        }
        sealer.finish(&mut out).unwrap();
        out
    }

    fn open(key: &DataKey, sealed: &[u8], piece: usize) -> Result<Vec<u8>, ChunkError> {
        let mut opener = ChunkOpener::new(key)?;
        let mut out = Vec::new();
        for part in sealed.chunks(piece.max(1)) {
            out.extend(opener.push(part)?);
        }
        out.extend(opener.finish()?);
        Ok(out)
    }

    #[test]
    fn round_trips_whatever_the_sizes_and_read_pieces() {
        let key = DataKey::generate();
        for len in [
            0,
            1,
            CHUNK_LEN - 1,
            CHUNK_LEN,
            CHUNK_LEN + 1,
            3 * CHUNK_LEN + 7,
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for piece in [1000, CHUNK_LEN, SEALED_CHUNK_LEN + 3] {
                let sealed = seal(&key, &plaintext, piece);
                assert_eq!(
                    open(&key, &sealed, piece).unwrap(),
                    plaintext,
                    "{len} {piece}"
                );
            }
        }
    }

    #[test]
    fn altered_truncated_or_reordered_chunks_fail() {
        let key = DataKey::generate();
        let plaintext = vec![7u8; 3 * CHUNK_LEN];
        let sealed = seal(&key, &plaintext, CHUNK_LEN);

        let mut flipped = sealed.clone();
        flipped[CHUNK_LEN + 100] ^= 1;
        assert_eq!(open(&key, &flipped, 4096), Err(ChunkError::Tampered(1)));

        // Dropping the last (empty) chunk leaves a full chunk at the end: not a last chunk.
        let cut = &sealed[..3 * SEALED_CHUNK_LEN];
        assert_eq!(open(&key, cut, 4096), Err(ChunkError::Tampered(2)));
        assert_eq!(open(&key, &sealed[..5], 4096), Err(ChunkError::Truncated));

        let mut swapped = sealed[SEALED_CHUNK_LEN..2 * SEALED_CHUNK_LEN].to_vec();
        swapped.extend_from_slice(&sealed[..SEALED_CHUNK_LEN]);
        swapped.extend_from_slice(&sealed[2 * SEALED_CHUNK_LEN..]);
        assert_eq!(open(&key, &swapped, 4096), Err(ChunkError::Tampered(0)));

        let other = DataKey::generate();
        assert_eq!(open(&other, &sealed, 4096), Err(ChunkError::Tampered(0)));
    }
}

//! Envelope encryption keys. Every stored file has its own random 256-bit data key; the data
//! key is kept in the file's row, wrapped (AES-256-GCM) by a master key named by its key id.
//!
//! - `STORAGE_ENCRYPTION_KEY` with `STORAGE_ENCRYPTION_KEY_ID`: the current master key; new
//!   uploads are wrapped with it.
//! - `STORAGE_ENCRYPTION_PREVIOUS_KEYS`: retired keys (`id:key,id:key`), still able to unwrap
//!   the files wrapped before a rotation, until `storage rotate-key` re-wraps them.
//!
//! Master keys are the SHA-256 of the setting, as for `MFA_ENCRYPTION_KEY`: any length works,
//! the production guard judges the strength. The wrapping binds the file id and the key id
//! (associated data), so a wrapped key copied onto another row does not open.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::ExposeSecret as _;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Settings;

/// Longest key id (it is stored in every file row).
pub const KEY_ID_MAX: usize = 64;
pub const DATA_KEY_LEN: usize = 32;

/// A file's own key. Never logged, never stored unwrapped.
pub struct DataKey(pub(crate) [u8; DATA_KEY_LEN]);

impl DataKey {
    pub fn generate() -> DataKey {
        let mut key = [0u8; DATA_KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        DataKey(key)
    }

    pub(crate) fn aead(&self) -> Result<LessSafeKey, KeyError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| KeyError::Crypto)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the file was wrapped with key id `{0}`, which is neither STORAGE_ENCRYPTION_KEY_ID nor in STORAGE_ENCRYPTION_PREVIOUS_KEYS"
    )]
    UnknownKeyId(String),
    #[error(
        "the wrapped data key does not open with key `{0}` (wrong key, or the row was altered)"
    )]
    Unwrap(String),
    #[error("the encryption library refused the key")]
    Crypto,
}

/// Checks a key id: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= KEY_ID_MAX
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Parses `STORAGE_ENCRYPTION_PREVIOUS_KEYS` (`id:key,id:key`; blank: none).
pub fn parse_previous_keys(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut keys = Vec::new();
    for entry in raw
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let Some((id, key)) = entry.split_once(':') else {
            return Err(
                "STORAGE_ENCRYPTION_PREVIOUS_KEYS must list `id:key` pairs separated by commas"
                    .to_owned(),
            );
        };
        let id = id.trim();
        if !valid_key_id(id) {
            return Err(format!(
                "STORAGE_ENCRYPTION_PREVIOUS_KEYS: key id `{id}` must be 1 to {KEY_ID_MAX} of \
                 A-Z a-z 0-9 . _ -"
            ));
        }
        if key.trim().is_empty() {
            return Err(format!(
                "STORAGE_ENCRYPTION_PREVIOUS_KEYS: key id `{id}` has an empty key"
            ));
        }
        if keys.iter().any(|(known, _)| known == id) {
            return Err(format!(
                "STORAGE_ENCRYPTION_PREVIOUS_KEYS names key id `{id}` twice"
            ));
        }
        keys.push((id.to_owned(), key.trim().to_owned()));
    }
    Ok(keys)
}

fn master_key(material: &str) -> Result<LessSafeKey, KeyError> {
    let digest = Sha256::digest(material.as_bytes());
    UnboundKey::new(&AES_256_GCM, &digest)
        .map(LessSafeKey::new)
        .map_err(|_| KeyError::Crypto)
}

/// The master keys: the current one and the retired ones still accepted for reading.
pub struct MasterKeys {
    current_id: String,
    keys: HashMap<String, LessSafeKey>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current_id", &self.current_id)
            .finish_non_exhaustive()
    }
}

/// A data key as kept in a file row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub key_id: String,
    /// base64url(nonce ‖ ciphertext ‖ tag)
    pub wrapped: String,
}

impl MasterKeys {
    /// The keys of validated settings (`Settings::load` checked the ids and the list).
    pub fn from_settings(settings: &Settings) -> Result<MasterKeys, String> {
        let current_id = settings.storage_encryption_key_id.clone();
        let mut keys = HashMap::new();
        keys.insert(
            current_id.clone(),
            master_key(settings.storage_encryption_key.expose_secret())
                .map_err(|error| error.to_string())?,
        );
        for (id, material) in
            parse_previous_keys(settings.storage_encryption_previous_keys.expose_secret())?
        {
            if id == current_id {
                return Err(format!(
                    "STORAGE_ENCRYPTION_PREVIOUS_KEYS names the current key id `{id}`"
                ));
            }
            keys.insert(
                id,
                master_key(&material).map_err(|error| error.to_string())?,
            );
        }
        Ok(MasterKeys { current_id, keys })
    }

    pub fn current_id(&self) -> &str {
        &self.current_id
    }

    /// Wraps `data_key` for file `file_id` with the current master key.
    pub fn wrap(&self, file_id: Uuid, data_key: &DataKey) -> Result<WrappedKey, KeyError> {
        let key = self.keys.get(&self.current_id).ok_or(KeyError::Crypto)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = data_key.0.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated_data(file_id, &self.current_id)),
            &mut sealed,
        )
        .map_err(|_| KeyError::Crypto)?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(WrappedKey {
            key_id: self.current_id.clone(),
            wrapped: URL_SAFE_NO_PAD.encode(stored),
        })
    }

    /// Opens the data key of file `file_id` wrapped with master key `key_id`.
    pub fn unwrap(&self, file_id: Uuid, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let key = self
            .keys
            .get(&wrapped.key_id)
            .ok_or_else(|| KeyError::UnknownKeyId(wrapped.key_id.clone()))?;
        let unwrap_error = || KeyError::Unwrap(wrapped.key_id.clone());
        let stored = URL_SAFE_NO_PAD
            .decode(&wrapped.wrapped)
            .map_err(|_| unwrap_error())?;
        if stored.len() != NONCE_LEN + DATA_KEY_LEN + AES_256_GCM.tag_len() {
            return Err(unwrap_error());
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unwrap_error())?;
        let mut sealed = sealed.to_vec();
        let opened = key
            .open_in_place(
                nonce,
                Aad::from(associated_data(file_id, &wrapped.key_id)),
                &mut sealed,
            )
            .map_err(|_| unwrap_error())?;
        let mut data_key = [0u8; DATA_KEY_LEN];
        data_key.copy_from_slice(opened);
        Ok(DataKey(data_key))
    }

    /// Re-wraps a data key with the current master key; `None` when it already is.
    pub fn rewrap(
        &self,
        file_id: Uuid,
        wrapped: &WrappedKey,
    ) -> Result<Option<WrappedKey>, KeyError> {
        if wrapped.key_id == self.current_id {
            return Ok(None);
        }
        let data_key = self.unwrap(file_id, wrapped)?;
        self.wrap(file_id, &data_key).map(Some)
    }
}

fn associated_data(file_id: Uuid, key_id: &str) -> Vec<u8> {
    format!("file:{file_id}:key:{key_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn keys(current_id: &str, current: &str, previous: &str) -> MasterKeys {
        MasterKeys::from_settings(&Settings {
            storage_encryption_key_id: current_id.to_owned(),
            storage_encryption_key: SecretString::from(current),
            storage_encryption_previous_keys: SecretString::from(previous),
            ..Settings::default()
        })
        .unwrap()
    }

    #[test]
    fn a_wrapped_key_opens_for_its_file_only() {
        let keys = keys("k1", "first master key material", "");
        let file = Uuid::new_v4();
        let data_key = DataKey::generate();
        let wrapped = keys.wrap(file, &data_key).unwrap();
        assert_eq!(wrapped.key_id, "k1");
        assert_eq!(keys.unwrap(file, &wrapped).unwrap().0, data_key.0);
        assert_eq!(
            keys.unwrap(Uuid::new_v4(), &wrapped).err(),
            Some(KeyError::Unwrap("k1".to_owned()))
        );
    }

    #[test]
    fn after_a_rotation_old_keys_open_and_rewrap_to_the_new_id() {
        let old = keys("k1", "first master key material", "");
        let file = Uuid::new_v4();
        let data_key = DataKey::generate();
        let wrapped = old.wrap(file, &data_key).unwrap();

        let rotated = keys("k2", "second master key", "k1:first master key material");
        assert_eq!(rotated.unwrap(file, &wrapped).unwrap().0, data_key.0);
        let rewrapped = rotated.rewrap(file, &wrapped).unwrap().unwrap();
        assert_eq!(rewrapped.key_id, "k2");
        assert_eq!(rotated.unwrap(file, &rewrapped).unwrap().0, data_key.0);
        assert!(rotated.rewrap(file, &rewrapped).unwrap().is_none());

        let forgot = keys("k2", "second master key", "");
        assert_eq!(
            forgot.unwrap(file, &wrapped).err(),
            Some(KeyError::UnknownKeyId("k1".to_owned()))
        );
    }

    #[test]
    fn malformed_previous_key_lists_are_refused() {
        for bad in ["nocolon", "bad id!:x", "k1:", "k1:a,k1:b"] {
            let error = parse_previous_keys(bad).unwrap_err();
            assert!(
                error.contains("STORAGE_ENCRYPTION_PREVIOUS_KEYS"),
                "{bad}: {error}"
            );
        }
        assert_eq!(
            parse_previous_keys(" a:x:y , b:z ").unwrap(),
            vec![
                ("a".to_owned(), "x:y".to_owned()),
                ("b".to_owned(), "z".to_owned())
            ]
        );
        assert!(parse_previous_keys("").unwrap().is_empty());
    }
}

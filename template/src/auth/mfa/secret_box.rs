//! TOTP secrets at rest: AES-256-GCM (ring) under a key derived from `MFA_ENCRYPTION_KEY`,
//! with the account id as associated data, so a ciphertext copied to another account's row
//! does not decrypt. Stored as base64url(nonce ‖ ciphertext ‖ tag).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {0} a TOTP secret")]
pub struct SecretBoxError(&'static str);

impl SecretBox {
    /// The key is the SHA-256 of the setting: any length works; the guard judges its strength.
    pub fn new(key_material: &str) -> Result<Self, SecretBoxError> {
        let digest = Sha256::digest(key_material.as_bytes());
        let key = UnboundKey::new(&AES_256_GCM, &digest)
            .map_err(|_| SecretBoxError("set up the key for"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    pub fn seal(&self, user_id: Uuid, secret: &[u8]) -> Result<String, SecretBoxError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = secret.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(user_id.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| SecretBoxError("encrypt"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(stored))
    }

    /// None when the value was not sealed for this account with this key.
    pub fn open(&self, user_id: Uuid, stored: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(stored).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(user_id.as_bytes()), &mut sealed)
            .ok()?;
        Some(opened.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_account_and_key() {
        let sealer = SecretBox::new("k1").unwrap();
        let user = Uuid::new_v4();
        let stored = sealer.seal(user, b"twenty-byte-secret!!").unwrap();
        assert!(!stored.contains("twenty"));
        assert_eq!(sealer.open(user, &stored).unwrap(), b"twenty-byte-secret!!");
        assert_eq!(sealer.open(Uuid::new_v4(), &stored), None);
        assert_eq!(SecretBox::new("k2").unwrap().open(user, &stored), None);
        assert_eq!(sealer.open(user, "not base64 !"), None);
    }
}

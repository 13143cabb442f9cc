//! Single-use tokens carried by mail links (email verification, password reset).
//!
//! A token is 256 random bits; the store keeps only its SHA-256 (a copy of Redis hands out no
//! usable link), with the account and a *binding* — the email being verified, or a fingerprint
//! of the password hash being replaced — so a link dies when what it was issued for changes.
//! Spending it is an atomic take: of two concurrent uses exactly one succeeds.
//!
//! Key: `auth:mail-token:{purpose}:{sha256}` → `{user} {binding}`, expiring after the TTL.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{KeyValueStore, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify-email",
            Purpose::PasswordReset => "password-reset",
        }
    }
}

/// What a token was issued for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGrant {
    pub user_id: Uuid,
    pub binding: String,
}

pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Only what [`crate::auth::random_token`] produces can be a token: anything else is refused
/// without a store round trip.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn key(purpose: Purpose, token: &str) -> String {
    format!("auth:mail-token:{}:{}", purpose.as_str(), sha256_hex(token))
}

#[derive(Clone)]
pub struct MailTokens {
    kv: Arc<dyn KeyValueStore>,
}

impl std::fmt::Debug for MailTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailTokens").finish_non_exhaustive()
    }
}

impl MailTokens {
    pub fn new(kv: Arc<dyn KeyValueStore>) -> Self {
        Self { kv }
    }

    /// A new token for `user_id`, valid for `ttl`; the only time it exists in clear.
    pub async fn issue(
        &self,
        purpose: Purpose,
        user_id: Uuid,
        binding: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let token = crate::auth::random_token();
        self.kv
            .set_with_ttl(&key(purpose, &token), &format!("{user_id} {binding}"), ttl)
            .await?;
        Ok(token)
    }

    /// What the token grants, without spending it (to check a request before consuming).
    pub async fn peek(
        &self,
        purpose: Purpose,
        token: &str,
    ) -> Result<Option<TokenGrant>, StoreError> {
        if !well_formed(token) {
            return Ok(None);
        }
        Ok(self.kv.get(&key(purpose, token)).await?.and_then(decode))
    }

    /// Spends the token: returns what it granted once, then never again.
    pub async fn consume(
        &self,
        purpose: Purpose,
        token: &str,
    ) -> Result<Option<TokenGrant>, StoreError> {
        if !well_formed(token) {
            return Ok(None);
        }
        Ok(self.kv.take(&key(purpose, token)).await?.and_then(decode))
    }
}

fn decode(value: String) -> Option<TokenGrant> {
    let (user, binding) = value.split_once(' ')?;
    Some(TokenGrant {
        user_id: user.parse().ok()?,
        binding: binding.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_token_is_spent_once_for_its_purpose_only() {
        let tokens = MailTokens::new(Arc::new(MemoryStore::new()));
        let user = Uuid::new_v4();
        let token = tokens
            .issue(
                Purpose::VerifyEmail,
                user,
                "ana@example.com",
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert_eq!(
            tokens
                .consume(Purpose::PasswordReset, &token)
                .await
                .unwrap(),
            None
        );
        let grant = tokens
            .peek(Purpose::VerifyEmail, &token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(grant.user_id, user);
        assert_eq!(
            tokens.consume(Purpose::VerifyEmail, &token).await.unwrap(),
            Some(grant)
        );
        assert_eq!(
            tokens.consume(Purpose::VerifyEmail, &token).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn malformed_tokens_are_refused() {
        let tokens = MailTokens::new(Arc::new(MemoryStore::new()));
        for token in ["", "short", &"a".repeat(44), &"é".repeat(43)] {
            assert_eq!(
                tokens.consume(Purpose::VerifyEmail, token).await.unwrap(),
                None
            );
        }
    }
}

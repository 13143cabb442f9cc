//! Sessions in the key-value store (Redis in production): which access tokens are active and
//! which refresh tokens may still be used.
//!
//! A *session* is one login: a refresh-token family. Revoking it (logout, replay, password
//! change, deactivation) deletes one key, and both token kinds check that key, so every token
//! of the family dies at once.
//!
//! Keys (the store adds `REDIS_KEY_PREFIX`):
//! - `auth:session:{session}` → user id; lifetime of the refresh token, renewed on rotation.
//! - `auth:access:{jti}` → `{user} {session}`; lifetime of the access token.
//! - `auth:refresh:{sha256}` → `{user} {session}`; taken (GETDEL) on use: single use is atomic.
//! - `auth:refresh-used:{sha256}` → `rotating|spent {user} {session}`; remembers consumed
//!   tokens to tell a concurrent duplicate (refused) from a replay (revokes the session).
//! - `auth:user-sessions:{user}` → set of the user's sessions (logout-all, password change).

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{KeyValueStore, StoreError};

/// One login's session, shared by the access and refresh tokens it produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl Session {
    fn encode(&self) -> String {
        format!("{} {}", self.user_id, self.session_id)
    }

    fn decode(value: &str) -> Option<Self> {
        let (user, session) = value.split_once(' ')?;
        Some(Session {
            user_id: user.parse().ok()?,
            session_id: session.parse().ok()?,
        })
    }
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was valid and is now spent: issue the next pair for this session.
    Rotated(Session),
    /// The token had already been used: its whole session has just been revoked.
    Replayed,
    /// Unknown, expired, or its session was revoked.
    Invalid,
}

#[derive(Clone)]
pub struct TokenStore {
    kv: Arc<dyn KeyValueStore>,
    refresh_lifetime: Duration,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("backend", &self.kv.backend().as_str())
            .field("refresh_lifetime", &self.refresh_lifetime)
            .finish()
    }
}

/// States of a consumed refresh token (see [`TokenStore::consume_refresh_token`]).
const ROTATING: &str = "rotating";
const SPENT: &str = "spent";
/// How long a rotation may take before its token counts as spent anyway.
const ROTATION_WINDOW: Duration = Duration::from_secs(10);

fn session_key(session_id: Uuid) -> String {
    format!("auth:session:{session_id}")
}

fn access_key(jti: Uuid) -> String {
    format!("auth:access:{jti}")
}

fn refresh_key(digest: &str) -> String {
    format!("auth:refresh:{digest}")
}

fn used_refresh_key(digest: &str) -> String {
    format!("auth:refresh-used:{digest}")
}

fn user_sessions_key(user_id: Uuid) -> String {
    format!("auth:user-sessions:{user_id}")
}

/// Refresh tokens carry 256 random bits, so a fast hash is enough: the point is that a copy
/// of the store does not hand out usable tokens.
fn digest(refresh_token: &str) -> String {
    let hash = Sha256::digest(refresh_token.as_bytes());
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl TokenStore {
    pub fn new(kv: Arc<dyn KeyValueStore>, refresh_lifetime: Duration) -> Self {
        Self {
            kv,
            refresh_lifetime,
        }
    }

    pub fn refresh_lifetime(&self) -> Duration {
        self.refresh_lifetime
    }

    /// Opens a session for a fresh login.
    pub async fn start_session(&self, user_id: Uuid) -> Result<Session, StoreError> {
        let session = Session {
            user_id,
            session_id: Uuid::new_v4(),
        };
        self.prune_dead_sessions(user_id).await?;
        self.keep_session_alive(session).await?;
        Ok(session)
    }

    /// (Re)records the session and its place in the user's session index for another
    /// refresh lifetime: a session lives as long as it is used.
    async fn keep_session_alive(&self, session: Session) -> Result<(), StoreError> {
        self.kv
            .set_with_ttl(
                &session_key(session.session_id),
                &session.user_id.to_string(),
                self.refresh_lifetime,
            )
            .await?;
        self.kv
            .set_add(
                &user_sessions_key(session.user_id),
                &session.session_id.to_string(),
                self.refresh_lifetime,
            )
            .await
    }

    /// Records an issued access token; only recorded tokens are accepted.
    pub async fn record_access_token(
        &self,
        jti: Uuid,
        session: Session,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        self.kv
            .set_with_ttl(&access_key(jti), &session.encode(), lifetime)
            .await
    }

    /// The session of an active access token: recorded, not revoked, session alive, and
    /// issued to `user_id`.
    pub async fn active_access_token(
        &self,
        jti: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Session>, StoreError> {
        let Some(value) = self.kv.get(&access_key(jti)).await? else {
            return Ok(None);
        };
        let Some(session) = Session::decode(&value).filter(|s| s.user_id == user_id) else {
            return Ok(None);
        };
        if self.session_alive(session).await? {
            Ok(Some(session))
        } else {
            Ok(None)
        }
    }

    async fn session_alive(&self, session: Session) -> Result<bool, StoreError> {
        let owner = self.kv.get(&session_key(session.session_id)).await?;
        Ok(owner.is_some_and(|owner| owner == session.user_id.to_string()))
    }

    /// Creates the session's next refresh token and returns it (the only time it exists in
    /// clear). Also renews the session's lifetime: a session lives as long as it is used.
    pub async fn issue_refresh_token(&self, session: Session) -> Result<String, StoreError> {
        let token = crate::auth::random_token();
        self.kv
            .set_with_ttl(
                &refresh_key(&digest(&token)),
                &session.encode(),
                self.refresh_lifetime,
            )
            .await?;
        self.keep_session_alive(session).await?;
        Ok(token)
    }

    /// Spends a refresh token. `take` is an atomic read-and-delete, so of two concurrent
    /// requests with the same token exactly one sees it. The spent token is remembered: while
    /// its rotation is in progress a second presentation is a concurrent duplicate (refused,
    /// nothing else happens); once [`TokenStore::complete_rotation`] ran, presenting it again
    /// is a replay (the token leaked) and revokes its whole session.
    pub async fn consume_refresh_token(
        &self,
        refresh_token: &str,
    ) -> Result<RefreshOutcome, StoreError> {
        let digest = digest(refresh_token);
        match self.kv.take(&refresh_key(&digest)).await? {
            Some(value) => {
                let Some(session) = Session::decode(&value) else {
                    return Ok(RefreshOutcome::Invalid);
                };
                self.kv
                    .set_with_ttl(
                        &used_refresh_key(&digest),
                        &format!("{ROTATING} {}", session.encode()),
                        ROTATION_WINDOW,
                    )
                    .await?;
                if self.session_alive(session).await? {
                    Ok(RefreshOutcome::Rotated(session))
                } else {
                    Ok(RefreshOutcome::Invalid)
                }
            }
            None => {
                let marker = self.kv.get(&used_refresh_key(&digest)).await?;
                let Some((state, session)) = marker.as_deref().and_then(|m| m.split_once(' '))
                else {
                    return Ok(RefreshOutcome::Invalid);
                };
                let Some(session) = Session::decode(session) else {
                    return Ok(RefreshOutcome::Invalid);
                };
                if state == ROTATING {
                    return Ok(RefreshOutcome::Invalid);
                }
                self.revoke_session(session).await?;
                tracing::warn!(
                    user_id = %session.user_id,
                    session_id = %session.session_id,
                    "refresh token replayed: session revoked"
                );
                Ok(RefreshOutcome::Replayed)
            }
        }
    }

    /// Marks a consumed refresh token as spent once its successor was issued: from now on,
    /// presenting it is a replay.
    pub async fn complete_rotation(
        &self,
        refresh_token: &str,
        session: Session,
    ) -> Result<(), StoreError> {
        self.kv
            .set_with_ttl(
                &used_refresh_key(&digest(refresh_token)),
                &format!("{SPENT} {}", session.encode()),
                self.refresh_lifetime,
            )
            .await
    }

    /// Ends one session: its access and refresh tokens stop working at once.
    pub async fn revoke_session(&self, session: Session) -> Result<(), StoreError> {
        self.kv.delete(&session_key(session.session_id)).await?;
        self.kv
            .set_remove(
                &user_sessions_key(session.user_id),
                &session.session_id.to_string(),
            )
            .await?;
        Ok(())
    }

    /// Ends one access token (logout also revokes its session).
    pub async fn revoke_access_token(&self, jti: Uuid) -> Result<(), StoreError> {
        self.kv.delete(&access_key(jti)).await?;
        Ok(())
    }

    /// Ends every session of the user except `keep` (None: all of them).
    pub async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<usize, StoreError> {
        let mut revoked = 0;
        for member in self.kv.set_members(&user_sessions_key(user_id)).await? {
            let Ok(session_id) = member.parse::<Uuid>() else {
                self.kv
                    .set_remove(&user_sessions_key(user_id), &member)
                    .await?;
                continue;
            };
            if Some(session_id) == keep {
                continue;
            }
            self.revoke_session(Session {
                user_id,
                session_id,
            })
            .await?;
            revoked += 1;
        }
        Ok(revoked)
    }

    /// Number of live sessions of the user.
    pub async fn active_sessions(&self, user_id: Uuid) -> Result<usize, StoreError> {
        self.prune_dead_sessions(user_id).await?;
        Ok(self
            .kv
            .set_members(&user_sessions_key(user_id))
            .await?
            .len())
    }

    /// Drops expired sessions from the user's index so it does not grow without bound.
    async fn prune_dead_sessions(&self, user_id: Uuid) -> Result<(), StoreError> {
        let key = user_sessions_key(user_id);
        for member in self.kv.set_members(&key).await? {
            let alive = match member.parse::<Uuid>() {
                Ok(session_id) => self.kv.get(&session_key(session_id)).await?.is_some(),
                Err(_) => false,
            };
            if !alive {
                self.kv.set_remove(&key, &member).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn store() -> TokenStore {
        TokenStore::new(Arc::new(MemoryStore::new()), Duration::from_secs(600))
    }

    #[tokio::test]
    async fn a_refresh_token_works_once_and_its_replay_revokes_the_session() {
        let tokens = store();
        let session = tokens.start_session(Uuid::new_v4()).await.unwrap();
        let jti = Uuid::new_v4();
        tokens
            .record_access_token(jti, session, Duration::from_secs(60))
            .await
            .unwrap();
        let refresh = tokens.issue_refresh_token(session).await.unwrap();
        assert_eq!(
            tokens.consume_refresh_token(&refresh).await.unwrap(),
            RefreshOutcome::Rotated(session)
        );
        // While the rotation runs, a second presentation is a concurrent duplicate.
        assert_eq!(
            tokens.consume_refresh_token(&refresh).await.unwrap(),
            RefreshOutcome::Invalid
        );
        assert!(tokens.session_alive(session).await.unwrap());
        tokens.complete_rotation(&refresh, session).await.unwrap();
        assert_eq!(
            tokens.consume_refresh_token(&refresh).await.unwrap(),
            RefreshOutcome::Replayed
        );
        assert_eq!(
            tokens
                .active_access_token(jti, session.user_id)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn unknown_refresh_tokens_are_invalid() {
        assert_eq!(
            store().consume_refresh_token("made-up").await.unwrap(),
            RefreshOutcome::Invalid
        );
    }

    #[tokio::test]
    async fn access_tokens_are_bound_to_their_user() {
        let tokens = store();
        let session = tokens.start_session(Uuid::new_v4()).await.unwrap();
        let jti = Uuid::new_v4();
        tokens
            .record_access_token(jti, session, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            tokens
                .active_access_token(jti, session.user_id)
                .await
                .unwrap(),
            Some(session)
        );
        assert_eq!(
            tokens
                .active_access_token(jti, Uuid::new_v4())
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn revoking_all_but_one_session_keeps_that_one() {
        let tokens = store();
        let user = Uuid::new_v4();
        let kept = tokens.start_session(user).await.unwrap();
        let other = tokens.start_session(user).await.unwrap();
        assert_eq!(tokens.active_sessions(user).await.unwrap(), 2);
        let revoked = tokens
            .revoke_user_sessions(user, Some(kept.session_id))
            .await
            .unwrap();
        assert_eq!(revoked, 1);
        assert!(tokens.session_alive(kept).await.unwrap());
        assert!(!tokens.session_alive(other).await.unwrap());
    }
}

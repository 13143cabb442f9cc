//! Sessions in the key-value store (Redis in production): which access tokens are active and
//! which refresh tokens may still be used.
//!
//! A *session* is one login: a refresh-token family. Revoking it (logout, replay) deletes its
//! record; revoking all of a user's sessions (logout-all, password change, deactivation)
//! moves the user's *session epoch* on. Both token kinds check the record and the epoch, so
//! every token of a session dies at once, and revoking any number of sessions is one atomic
//! step whatever their count. The gate reads everything it needs in one round trip.
//!
//! Keys (the store adds `REDIS_KEY_PREFIX`):
//! - `auth:session:{session}` → `{user} {epoch}`; alive while `epoch` is the user's epoch;
//!   lifetime of the refresh token, renewed on rotation.
//! - `auth:user-epoch:{user}` → the user's session epoch (starts at a random value).
//! - `auth:user-version:{user}` → bumped whenever the user's roles or status change: the
//!   in-process user caches of every instance compare it on each request.
//! - `auth:user-session-index:{user}` → the user's sessions by last use, for the per-user cap
//!   (`MAX_SESSIONS_PER_USER`; the least recently used session is evicted).
//! - `auth:access:{jti}` → `{user} {session}`; lifetime of the access token.
//! - `auth:refresh:{sha256}` → `{user} {session}`; taken (GETDEL) on use: single use is atomic.
//! - `auth:refresh-used:{sha256}` → `rotating|spent {user} {session}`; remembers consumed
//!   tokens to tell a concurrent duplicate (refused) from a replay (revokes the session).

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{FreshCounters, KeyValueStore, StoreError, UserSessionKeys};

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

/// What the gate learnt about an access token that is still active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveAccess {
    pub session: Session,
    /// The user's cache version (see the module documentation); None when unknown.
    pub cache_version: Option<String>,
}

#[derive(Clone)]
pub struct TokenStore {
    kv: Arc<dyn KeyValueStore>,
    refresh_lifetime: Duration,
    max_sessions_per_user: usize,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("backend", &self.kv.backend().as_str())
            .field("refresh_lifetime", &self.refresh_lifetime)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .finish()
    }
}

/// States of a consumed refresh token (see [`TokenStore::consume_refresh_token`]).
const ROTATING: &str = "rotating";
const SPENT: &str = "spent";
/// How long a rotation may take before its token counts as spent anyway.
const ROTATION_WINDOW: Duration = Duration::from_secs(10);

const SESSION_RECORD_PREFIX: &str = "auth:session:";

fn session_key(session_id: Uuid) -> String {
    format!("{SESSION_RECORD_PREFIX}{session_id}")
}

/// The names of one user's session bookkeeping keys.
struct UserKeys {
    epoch: String,
    version: String,
    index: String,
    owner: String,
}

impl UserKeys {
    fn of(user_id: Uuid) -> Self {
        UserKeys {
            epoch: format!("auth:user-epoch:{user_id}"),
            version: format!("auth:user-version:{user_id}"),
            index: format!("auth:user-session-index:{user_id}"),
            owner: user_id.to_string(),
        }
    }

    fn as_store_keys(&self) -> UserSessionKeys<'_> {
        UserSessionKeys {
            epoch: &self.epoch,
            version: &self.version,
            index: &self.index,
            record_prefix: SESSION_RECORD_PREFIX,
            owner: &self.owner,
        }
    }
}

/// A session record is alive when it names its user at the user's current epoch.
fn record_alive(record: Option<&str>, epoch: Option<&str>, user_id: Uuid) -> bool {
    let (Some(record), Some(epoch)) = (record, epoch) else {
        return false;
    };
    record
        .split_once(' ')
        .is_some_and(|(owner, recorded)| recorded == epoch && owner == user_id.to_string())
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

/// Refresh tokens carry 256 random bits, so a fast hash is enough: the point is that a copy
/// of the store does not hand out usable tokens.
fn digest(refresh_token: &str) -> String {
    let hash = Sha256::digest(refresh_token.as_bytes());
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl TokenStore {
    pub fn new(
        kv: Arc<dyn KeyValueStore>,
        refresh_lifetime: Duration,
        max_sessions_per_user: usize,
    ) -> Self {
        Self {
            kv,
            refresh_lifetime,
            max_sessions_per_user: max_sessions_per_user.max(1),
        }
    }

    pub fn refresh_lifetime(&self) -> Duration {
        self.refresh_lifetime
    }

    /// Opens a session for a fresh login; beyond the per-user cap, the user's least recently
    /// used sessions are revoked.
    pub async fn start_session(&self, user_id: Uuid) -> Result<Session, StoreError> {
        let session = Session {
            user_id,
            session_id: Uuid::new_v4(),
        };
        let keys = UserKeys::of(user_id);
        let evicted = self
            .kv
            .open_session(
                &keys.as_store_keys(),
                &session.session_id.to_string(),
                FreshCounters::random(),
                self.refresh_lifetime,
                self.max_sessions_per_user,
            )
            .await?;
        if !evicted.is_empty() {
            tracing::info!(
                %user_id,
                evicted = evicted.len(),
                "session cap reached: least recently used sessions revoked"
            );
        }
        Ok(session)
    }

    /// Extends the session and the user's bookkeeping for another refresh lifetime: a session
    /// lives as long as it is used. A revoked session stays revoked.
    async fn keep_session_alive(&self, session: Session) -> Result<(), StoreError> {
        let keys = UserKeys::of(session.user_id);
        self.kv
            .renew_session(
                &keys.as_store_keys(),
                &session.session_id.to_string(),
                self.refresh_lifetime,
            )
            .await?;
        Ok(())
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

    /// The session of an active access token — recorded, issued to `user_id` for
    /// `session_id`, session alive at the user's current epoch — and the user's cache version,
    /// all read in one round trip.
    pub async fn active_access_token(
        &self,
        jti: Uuid,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<ActiveAccess>, StoreError> {
        let session = Session {
            user_id,
            session_id,
        };
        let keys = UserKeys::of(user_id);
        let values = self
            .kv
            .get_many(&[
                &access_key(jti),
                &session_key(session_id),
                &keys.epoch,
                &keys.version,
            ])
            .await?;
        let [access, record, epoch, version] =
            <[Option<String>; 4]>::try_from(values).map_err(|_| {
                StoreError::Command("MGET answered the wrong number of values".to_owned())
            })?;
        let issued_for_this_session = access.is_some_and(|access| access == session.encode());
        if issued_for_this_session && record_alive(record.as_deref(), epoch.as_deref(), user_id) {
            Ok(Some(ActiveAccess {
                session,
                cache_version: version,
            }))
        } else {
            Ok(None)
        }
    }

    async fn session_alive(&self, session: Session) -> Result<bool, StoreError> {
        let keys = UserKeys::of(session.user_id);
        let values = self
            .kv
            .get_many(&[&session_key(session.session_id), &keys.epoch])
            .await?;
        Ok(record_alive(
            values.first().and_then(Option::as_deref),
            values.get(1).and_then(Option::as_deref),
            session.user_id,
        ))
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
        let keys = UserKeys::of(session.user_id);
        self.kv
            .close_session(&keys.as_store_keys(), &session.session_id.to_string())
            .await
    }

    /// Ends one access token (logout also revokes its session).
    pub async fn revoke_access_token(&self, jti: Uuid) -> Result<(), StoreError> {
        self.kv.delete(&access_key(jti)).await?;
        Ok(())
    }

    /// Ends every session of the user except `keep` (None: all of them) in one step, whatever
    /// their number, and invalidates the user's cached roles and status on every instance.
    pub async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<(), StoreError> {
        let keys = UserKeys::of(user_id);
        let keep = keep.map(|session_id| session_id.to_string());
        self.kv
            .advance_epoch(
                &keys.as_store_keys(),
                keep.as_deref(),
                self.refresh_lifetime,
            )
            .await?;
        Ok(())
    }

    /// Tells every instance that the user's roles or status changed: their cached copies stop
    /// matching the user's cache version and are read again from the database.
    pub async fn invalidate_cached_user(&self, user_id: Uuid) -> Result<(), StoreError> {
        let keys = UserKeys::of(user_id);
        self.kv
            .increment_with_ttl(&keys.version, self.refresh_lifetime)
            .await?;
        Ok(())
    }

    /// Number of the user's sessions used within the refresh lifetime and not revoked.
    pub async fn active_sessions(&self, user_id: Uuid) -> Result<usize, StoreError> {
        let keys = UserKeys::of(user_id);
        self.kv
            .count_sessions(&keys.as_store_keys(), self.refresh_lifetime)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn store() -> TokenStore {
        TokenStore::new(Arc::new(MemoryStore::new()), Duration::from_secs(600), 3)
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
                .active_access_token(jti, session.user_id, session.session_id)
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
        let active = tokens
            .active_access_token(jti, session.user_id, session.session_id)
            .await
            .unwrap()
            .expect("the token is active");
        assert_eq!(active.session, session);
        assert!(active.cache_version.is_some());
        assert_eq!(
            tokens
                .active_access_token(jti, Uuid::new_v4(), session.session_id)
                .await
                .unwrap(),
            None
        );
        // Bound to its session too: another session of the same user does not make it valid.
        let other = tokens.start_session(session.user_id).await.unwrap();
        assert_eq!(
            tokens
                .active_access_token(jti, session.user_id, other.session_id)
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
        tokens
            .revoke_user_sessions(user, Some(kept.session_id))
            .await
            .unwrap();
        assert!(tokens.session_alive(kept).await.unwrap());
        assert!(!tokens.session_alive(other).await.unwrap());
        assert_eq!(tokens.active_sessions(user).await.unwrap(), 1);
        tokens.revoke_user_sessions(user, None).await.unwrap();
        assert!(!tokens.session_alive(kept).await.unwrap());
        assert_eq!(tokens.active_sessions(user).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn beyond_the_cap_the_least_recently_used_session_is_evicted() {
        let tokens = store();
        let user = Uuid::new_v4();
        let mut sessions = Vec::new();
        for _ in 0..3 {
            sessions.push(tokens.start_session(user).await.unwrap());
            // Distinct last-use times (the index has millisecond resolution).
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        // Using the oldest makes the second the least recently used.
        tokens.keep_session_alive(sessions[0]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
        let newest = tokens.start_session(user).await.unwrap();
        assert!(tokens.session_alive(sessions[0]).await.unwrap());
        assert!(!tokens.session_alive(sessions[1]).await.unwrap());
        assert!(tokens.session_alive(sessions[2]).await.unwrap());
        assert!(tokens.session_alive(newest).await.unwrap());
        assert_eq!(tokens.active_sessions(user).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_revoked_session_is_not_brought_back_by_renewal_or_a_later_revocation() {
        let tokens = store();
        let user = Uuid::new_v4();
        let session = tokens.start_session(user).await.unwrap();
        tokens.revoke_user_sessions(user, None).await.unwrap();
        tokens.keep_session_alive(session).await.unwrap();
        assert!(!tokens.session_alive(session).await.unwrap());
        // Keeping a session that is already dead does not resurrect it.
        tokens
            .revoke_user_sessions(user, Some(session.session_id))
            .await
            .unwrap();
        assert!(!tokens.session_alive(session).await.unwrap());
        let closed = tokens.start_session(user).await.unwrap();
        tokens.revoke_session(closed).await.unwrap();
        tokens.keep_session_alive(closed).await.unwrap();
        assert!(!tokens.session_alive(closed).await.unwrap());
    }
}

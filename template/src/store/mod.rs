//! Ephemeral key-value storage: issued tokens, refresh-token families, brute-force counters,
//! per-user session indexes. One trait, two implementations with the same behaviour (one test
//! suite runs against both, `tests/key_value_store.rs`):
//!
//! - [`RedisStore`]: Redis over multiplexed connections, every key under `REDIS_KEY_PREFIX`; shared by
//!   every instance of the app; the production choice.
//! - [`MemoryStore`]: in-process, for the embedded dev default (the guard refuses it outside
//!   dev: it is neither shared between instances nor kept across restarts).
//!
//! Every write takes a TTL: nothing ephemeral lives forever by accident.

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store command failed: {0}")]
    Command(String),
    /// The key holds another kind of value (e.g. `get` on a set).
    #[error("key `{0}` holds a value of another type")]
    WrongType(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Which implementation is behind a store (reported by readiness and `doctor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    Redis,
    InProcess,
}

impl StoreBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreBackend::Redis => "redis",
            StoreBackend::InProcess => "in-process",
        }
    }
}

/// Ephemeral key-value storage with expiry. Keys are given without the prefix; the Redis
/// implementation adds it. All operations on one key are atomic.
#[async_trait]
pub trait KeyValueStore: Send + Sync + 'static {
    fn backend(&self) -> StoreBackend;

    /// Fails when the store cannot be reached.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets `key` to `value`, replacing any value, expiring after `ttl`.
    async fn set_with_ttl(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Sets `key` only if it does not exist; true when this call set it.
    async fn set_if_absent_with_ttl(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Atomically reads and deletes `key` (Redis `GETDEL`): of two concurrent callers exactly
    /// one gets the value. What single-use tokens are built on.
    async fn take(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// True when the key existed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;

    /// Remaining lifetime of `key`; None when it does not exist.
    async fn time_to_live(&self, key: &str) -> Result<Option<Duration>, StoreError>;

    /// Atomically adds one to the counter at `key` and returns the new value. The first
    /// increment starts a window of `window`; the counter disappears when it ends (fixed-window
    /// rate limiting, e.g. failed logins per account).
    async fn increment_with_ttl(&self, key: &str, window: Duration) -> Result<u64, StoreError>;

    /// Adds `member` to the set at `key`, extending the set's lifetime to at least `ttl`.
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Members of the set at `key` (empty when it does not exist), in no particular order.
    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError>;

    /// Removes `member`; true when it was there.
    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError>;

    /// Values of several keys in one round trip (Redis `MGET`), in order; a key that does not
    /// hold text (a set, an index) reads as absent, as in Redis.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError>;

    // --- Session bookkeeping (`auth::token_store`). Each call is one atomic step and one
    // round trip (a Lua script in Redis), whatever the number of sessions the user has.

    /// Records session `session_id` of `user.owner` at the user's current epoch (creating the
    /// epoch at `fresh_epoch` and the cache version at `fresh_version` when absent), adds it
    /// to the user's index, drops index entries unused for `ttl`, and evicts the least
    /// recently used sessions beyond `cap` (never the new one). Returns the evicted ids.
    async fn open_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
        fresh: FreshCounters,
        ttl: Duration,
        cap: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Extends the session's record and the user's bookkeeping by `ttl` and marks the session
    /// used now; does nothing (false) when the record no longer exists.
    async fn renew_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Deletes the session's record and its index entry.
    async fn close_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
    ) -> Result<(), StoreError>;

    /// Moves the user to the next epoch, which ends every session recorded at an earlier one,
    /// and clears the index. `keep`, if it was alive at the previous epoch, is carried over to
    /// the new one. Returns the new epoch.
    async fn advance_epoch(
        &self,
        user: &UserSessionKeys<'_>,
        keep: Option<&str>,
        ttl: Duration,
    ) -> Result<u64, StoreError>;

    /// Index entries used within the last `ttl`.
    async fn count_sessions(
        &self,
        user: &UserSessionKeys<'_>,
        ttl: Duration,
    ) -> Result<usize, StoreError>;
}

/// The keys of one user's session bookkeeping, named by the caller.
#[derive(Debug, Clone, Copy)]
pub struct UserSessionKeys<'a> {
    /// Counter: the user's session epoch. A session is alive only while the epoch in its
    /// record equals it; moving the epoch on ends every session at once.
    pub epoch: &'a str,
    /// Counter bumped whenever cached facts about the user (roles, status) change.
    pub version: &'a str,
    /// Index of the user's sessions by last use (a sorted set in Redis).
    pub index: &'a str,
    /// A session's record is `{record_prefix}{session id}` → `{owner} {epoch}`.
    pub record_prefix: &'a str,
    pub owner: &'a str,
}

/// Starting values of a user's counters when none exist (random, so a counter that vanished
/// and was re-created never repeats a value an old record or cache entry holds).
#[derive(Debug, Clone, Copy)]
pub struct FreshCounters {
    pub epoch: u64,
    pub version: u64,
}

impl FreshCounters {
    pub fn random() -> Self {
        use rand::Rng as _;
        let mut rng = rand::rng();
        // At most 12 digits: Lua (Redis scripts) prints numbers with 14 significant digits,
        // so the counters stay exact integers there, with room to increment.
        FreshCounters {
            epoch: rng.random_range(1..1_000_000_000_000),
            version: rng.random_range(1..1_000_000_000_000),
        }
    }
}

/// Milliseconds since the Unix epoch: the score of a session's last use in the index.
fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Builds the store the settings ask for: Redis when `REDIS_URL` is set, in-process otherwise.
/// Redis connections are made lazily, so the app starts (and reports "not ready") while Redis
/// is down.
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn KeyValueStore>, StoreError> {
    match &settings.redis_url {
        Some(url) => Ok(Arc::new(RedisStore::connect(
            url,
            &settings.redis_key_prefix,
            settings.redis_pool_size,
        )?)),
        None => Ok(Arc::new(MemoryStore::new())),
    }
}

/// Rejects a TTL Redis would refuse (zero) before it reaches either implementation.
fn checked_ttl_millis(ttl: Duration) -> Result<u64, StoreError> {
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return Err(StoreError::InvalidArgument(
            "a TTL must be at least one millisecond".to_owned(),
        ));
    }
    Ok(millis)
}

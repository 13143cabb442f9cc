//! Ephemeral key-value storage: issued tokens, refresh-token families, brute-force counters,
//! per-user session indexes. One trait, two implementations with the same behaviour (one test
//! suite runs against both, `tests/key_value_store.rs`):
//!
//! - [`RedisStore`]: Redis through deadpool-redis, every key under `REDIS_KEY_PREFIX`; shared by
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

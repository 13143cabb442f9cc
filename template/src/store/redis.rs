//! Redis implementation of [`KeyValueStore`] over a deadpool-redis pool. Multi-step operations
//! run as Lua scripts so they stay atomic across every instance sharing the Redis.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, AsyncCommands, Script};
use deadpool_redis::{Connection, Pool, PoolConfig, Runtime, Timeouts};

use super::{KeyValueStore, StoreBackend, StoreError, checked_ttl_millis};

/// How long a command may wait for a pooled connection or for a new one to be made. Short:
/// a request should fail fast (503) rather than hang while Redis is unreachable.
const POOL_TIMEOUT: Duration = Duration::from_secs(2);

/// INCR, and start the window on the first increment (or if the key somehow lost its TTL).
const INCREMENT_WITH_TTL: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
";

/// SADD, and extend (never shorten) the set's lifetime to the given TTL.
const SET_ADD_WITH_TTL: &str = r"
redis.call('SADD', KEYS[1], ARGV[1])
local remaining = redis.call('PTTL', KEYS[1])
if remaining < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

pub struct RedisStore {
    pool: Pool,
    prefix: String,
    increment_script: Script,
    set_add_script: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print the pool's configuration.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Creates the pool; no connection is made until the first command.
    pub fn connect(url: &str, prefix: &str, pool_size: usize) -> Result<Self, StoreError> {
        let mut config = deadpool_redis::Config::from_url(url);
        config.pool = Some(PoolConfig {
            max_size: pool_size,
            timeouts: Timeouts {
                wait: Some(POOL_TIMEOUT),
                create: Some(POOL_TIMEOUT),
                recycle: Some(POOL_TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StoreError::Unavailable(format!("invalid REDIS_URL: {e}")))?;
        Ok(RedisStore {
            pool,
            prefix: prefix.to_owned(),
            increment_script: Script::new(INCREMENT_WITH_TTL),
            set_add_script: Script::new(SET_ADD_WITH_TTL),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn connection(&self) -> Result<Connection, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

fn command_error(key: &str, error: redis::RedisError) -> StoreError {
    if error.code() == Some("WRONGTYPE") {
        StoreError::WrongType(key.to_owned())
    } else if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Command(error.to_string())
    }
}

#[async_trait]
impl KeyValueStore for RedisStore {
    fn backend(&self) -> StoreBackend {
        StoreBackend::Redis
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| command_error("", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut connection = self.connection().await?;
        connection
            .get(self.key(key))
            .await
            .map_err(|e| command_error(key, e))
    }

    async fn set_with_ttl(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let millis = checked_ttl_millis(ttl)?;
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis)
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| command_error(key, e))
    }

    async fn set_if_absent_with_ttl(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let millis = checked_ttl_millis(ttl)?;
        let mut connection = self.connection().await?;
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis)
            .query_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))?;
        Ok(reply.is_some())
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut connection = self.connection().await?;
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let removed: u64 = connection
            .del(self.key(key))
            .await
            .map_err(|e| command_error(key, e))?;
        Ok(removed > 0)
    }

    async fn time_to_live(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let mut connection = self.connection().await?;
        let millis: i64 = redis::cmd("PTTL")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))?;
        // -2: no such key; -1: no expiry (never written by this store, reported as unknown).
        Ok(u64::try_from(millis).ok().map(Duration::from_millis))
    }

    async fn increment_with_ttl(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let millis = checked_ttl_millis(window)?;
        let mut connection = self.connection().await?;
        self.increment_script
            .key(self.key(key))
            .arg(millis)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let millis = checked_ttl_millis(ttl)?;
        let mut connection = self.connection().await?;
        let _: i64 = self
            .set_add_script
            .key(self.key(key))
            .arg(member)
            .arg(millis)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))?;
        Ok(())
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let mut connection = self.connection().await?;
        connection
            .smembers(self.key(key))
            .await
            .map_err(|e| command_error(key, e))
    }

    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let removed: u64 = connection
            .srem(self.key(key), member)
            .await
            .map_err(|e| command_error(key, e))?;
        Ok(removed > 0)
    }
}

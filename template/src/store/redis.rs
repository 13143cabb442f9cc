//! Redis implementation of [`KeyValueStore`] over multiplexed, auto-reconnecting connections
//! (redis-rs `ConnectionManager`). Multi-step operations run as Lua scripts so they stay atomic
//! across every instance sharing the Redis.
//!
//! Why not a pool (deadpool-redis): a pooled connection is recycled on every checkout with an
//! `UNWATCH` + `PING` round trip, which doubled the Redis traffic of an authenticated request.
//! A multiplexed connection needs no checkout: concurrent commands share it and are pipelined,
//! and the manager reconnects on its own after a failure (commands fail fast meanwhile).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::observability::names;

use super::{
    FreshCounters, KeyValueStore, StoreBackend, StoreError, UserSessionKeys, checked_ttl_millis,
};

/// How long connecting, or a command, may take before the store counts as unavailable.
/// Short: a request should fail fast (503) rather than hang while Redis is unreachable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

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

/// Shared by the session scripts: extend (never shorten) a key's lifetime; Redis' clock in ms.
const SESSION_HELPERS: &str = r"
local function extend(key, ttl)
  if redis.call('PTTL', key) < tonumber(ttl) then redis.call('PEXPIRE', key, ttl) end
end
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
";

/// KEYS: epoch, version, index. ARGV: record prefix, session id, owner, fresh epoch, fresh
/// version, ttl ms, cap. Returns the evicted session ids.
const OPEN_SESSION: &str = r"
local ttl = tonumber(ARGV[6])
redis.call('SET', KEYS[1], ARGV[4], 'NX', 'PX', ttl)
redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ttl)
extend(KEYS[1], ttl)
extend(KEYS[2], ttl)
local epoch = redis.call('GET', KEYS[1])
redis.call('SET', ARGV[1] .. ARGV[2], ARGV[3] .. ' ' .. epoch, 'PX', ttl)
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ttl)
redis.call('ZADD', KEYS[3], now, ARGV[2])
extend(KEYS[3], ttl)
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[7])
local evicted = {}
if excess > 0 then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, excess)) do
    if #evicted < excess and member ~= ARGV[2] then
      redis.call('ZREM', KEYS[3], member)
      redis.call('DEL', ARGV[1] .. member)
      evicted[#evicted + 1] = member
    end
  end
end
return evicted
";

/// KEYS: epoch, version, index. ARGV: record prefix, session id, ttl ms.
const RENEW_SESSION: &str = r"
if redis.call('PEXPIRE', ARGV[1] .. ARGV[2], ARGV[3]) == 0 then return 0 end
redis.call('ZADD', KEYS[3], 'XX', now_ms(), ARGV[2])
extend(KEYS[1], ARGV[3])
extend(KEYS[2], ARGV[3])
extend(KEYS[3], ARGV[3])
return 1
";

/// KEYS: epoch, version, index. ARGV: record prefix, session id.
const CLOSE_SESSION: &str = r"
redis.call('DEL', ARGV[1] .. ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
";

/// KEYS: epoch, version, index. ARGV: record prefix, kept session id or '', owner, ttl ms.
const ADVANCE_EPOCH: &str = r"
local epoch = redis.call('INCR', KEYS[1])
extend(KEYS[1], ARGV[4])
redis.call('INCR', KEYS[2])
extend(KEYS[2], ARGV[4])
redis.call('UNLINK', KEYS[3])
if ARGV[2] ~= '' then
  local record = ARGV[1] .. ARGV[2]
  if redis.call('GET', record) == ARGV[3] .. ' ' .. tostring(epoch - 1) then
    redis.call('SET', record, ARGV[3] .. ' ' .. tostring(epoch), 'KEEPTTL')
    redis.call('ZADD', KEYS[3], now_ms(), ARGV[2])
    redis.call('PEXPIRE', KEYS[3], ARGV[4])
  end
end
return epoch
";

/// KEYS: epoch, version, index. ARGV: record prefix (unused), ttl ms.
const COUNT_SESSIONS: &str = r"
return redis.call('ZCOUNT', KEYS[3], '(' .. (now_ms() - tonumber(ARGV[2])), '+inf')
";

fn session_script(body: &str) -> Script {
    Script::new(&format!("{SESSION_HELPERS}{body}"))
}

struct Scripts {
    increment: Script,
    set_add: Script,
    open_session: Script,
    renew_session: Script,
    close_session: Script,
    advance_epoch: Script,
    count_sessions: Script,
}

pub struct RedisStore {
    /// Commands are spread round-robin over these (`REDIS_POOL_SIZE` of them).
    connections: Vec<ConnectionManager>,
    next: AtomicUsize,
    prefix: String,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print the connection's configuration.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Prepares `connections` multiplexed connections (at least one); none is made until the
    /// first command, so the app starts (and reports "not ready") while Redis is down.
    /// Must be called inside the Tokio runtime.
    pub fn connect(url: &str, prefix: &str, connections: usize) -> Result<Self, StoreError> {
        let invalid =
            |e: redis::RedisError| StoreError::Unavailable(format!("invalid REDIS_URL: {e}"));
        let client = redis::Client::open(url).map_err(invalid)?;
        // One attempt per command while Redis is down: the request fails fast (503) and the
        // next command tries again.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(0);
        let connections = (0..connections.max(1))
            .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        Ok(RedisStore {
            connections,
            next: AtomicUsize::new(0),
            prefix: prefix.to_owned(),
            scripts: Scripts {
                increment: Script::new(INCREMENT_WITH_TTL),
                set_add: Script::new(SET_ADD_WITH_TTL),
                open_session: session_script(OPEN_SESSION),
                renew_session: session_script(RENEW_SESSION),
                close_session: session_script(CLOSE_SESSION),
                advance_epoch: session_script(ADVANCE_EPOCH),
                count_sessions: session_script(COUNT_SESSIONS),
            },
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        Ok(self.connections[index].clone())
    }

    /// Invokes a session script with the user's epoch, version and index keys.
    async fn session_call<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        user: &UserSessionKeys<'_>,
        args: &[&str],
    ) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.key(user.epoch))
            .key(self.key(user.version))
            .key(self.key(user.index))
            .arg(self.key(user.record_prefix));
        for arg in args {
            invocation.arg(*arg);
        }
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|e| command_error(user.index, e))
    }
}

/// Classifies a failed command, counting it under `redis_errors_total{kind}`.
fn command_error(key: &str, error: redis::RedisError) -> StoreError {
    let failure = if error.code() == Some("WRONGTYPE") {
        StoreError::WrongType(key.to_owned())
    } else if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Command(error.to_string())
    };
    names::count_redis_error(match failure {
        StoreError::WrongType(_) => "wrong_type",
        StoreError::Unavailable(_) => "unavailable",
        _ => "command",
    });
    failure
}

#[async_trait]
impl KeyValueStore for RedisStore {
    fn backend(&self) -> StoreBackend {
        StoreBackend::Redis
    }

    #[tracing::instrument(name = "redis PING", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| command_error("", e))?;
        Ok(())
    }

    #[tracing::instrument(name = "redis GET", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut connection = self.connection().await?;
        connection
            .get(self.key(key))
            .await
            .map_err(|e| command_error(key, e))
    }

    #[tracing::instrument(name = "redis SET", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
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

    #[tracing::instrument(name = "redis SET NX", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
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

    #[tracing::instrument(name = "redis GETDEL", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut connection = self.connection().await?;
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))
    }

    #[tracing::instrument(name = "redis DEL", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let removed: u64 = connection
            .del(self.key(key))
            .await
            .map_err(|e| command_error(key, e))?;
        Ok(removed > 0)
    }

    #[tracing::instrument(name = "redis PTTL", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
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

    #[tracing::instrument(name = "redis EVALSHA increment", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn increment_with_ttl(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let millis = checked_ttl_millis(window)?;
        let mut connection = self.connection().await?;
        self.scripts
            .increment
            .key(self.key(key))
            .arg(millis)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))
    }

    #[tracing::instrument(name = "redis EVALSHA set_add", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let millis = checked_ttl_millis(ttl)?;
        let mut connection = self.connection().await?;
        let _: i64 = self
            .scripts
            .set_add
            .key(self.key(key))
            .arg(member)
            .arg(millis)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| command_error(key, e))?;
        Ok(())
    }

    #[tracing::instrument(name = "redis SMEMBERS", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let mut connection = self.connection().await?;
        connection
            .smembers(self.key(key))
            .await
            .map_err(|e| command_error(key, e))
    }

    #[tracing::instrument(name = "redis SREM", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let removed: u64 = connection
            .srem(self.key(key), member)
            .await
            .map_err(|e| command_error(key, e))?;
        Ok(removed > 0)
    }

    #[tracing::instrument(name = "redis MGET", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        let mut connection = self.connection().await?;
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(self.key(key));
        }
        command
            .query_async(&mut connection)
            .await
            .map_err(|e| command_error(keys.first().copied().unwrap_or_default(), e))
    }

    #[tracing::instrument(name = "redis EVALSHA open_session", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn open_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
        fresh: FreshCounters,
        ttl: Duration,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        let millis = checked_ttl_millis(ttl)?.to_string();
        self.session_call(
            &self.scripts.open_session,
            user,
            &[
                session_id,
                user.owner,
                &fresh.epoch.to_string(),
                &fresh.version.to_string(),
                &millis,
                &cap.max(1).to_string(),
            ],
        )
        .await
    }

    #[tracing::instrument(name = "redis EVALSHA renew_session", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn renew_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let millis = checked_ttl_millis(ttl)?.to_string();
        let renewed: i64 = self
            .session_call(&self.scripts.renew_session, user, &[session_id, &millis])
            .await?;
        Ok(renewed == 1)
    }

    #[tracing::instrument(name = "redis EVALSHA close_session", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn close_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
    ) -> Result<(), StoreError> {
        let _: i64 = self
            .session_call(&self.scripts.close_session, user, &[session_id])
            .await?;
        Ok(())
    }

    #[tracing::instrument(name = "redis EVALSHA advance_epoch", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn advance_epoch(
        &self,
        user: &UserSessionKeys<'_>,
        keep: Option<&str>,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        let millis = checked_ttl_millis(ttl)?.to_string();
        self.session_call(
            &self.scripts.advance_epoch,
            user,
            &[keep.unwrap_or_default(), user.owner, &millis],
        )
        .await
    }

    #[tracing::instrument(name = "redis EVALSHA count_sessions", target = "redis", level = "debug", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn count_sessions(
        &self,
        user: &UserSessionKeys<'_>,
        ttl: Duration,
    ) -> Result<usize, StoreError> {
        let millis = checked_ttl_millis(ttl)?.to_string();
        self.session_call(&self.scripts.count_sessions, user, &[&millis])
            .await
    }
}

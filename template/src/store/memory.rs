//! In-process implementation of [`KeyValueStore`] for the embedded dev default. Mirrors Redis
//! semantics (types, expiry, atomicity) closely enough that code tested against it behaves the
//! same against Redis; the shared test suite checks that.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{KeyValueStore, StoreBackend, StoreError, checked_ttl_millis};

/// Expired entries are dropped when touched, and the whole map is swept every this many
/// writes, so keys nobody reads again cannot grow memory without bound (no background task:
/// the store must work outside a runtime too).
const SWEEP_EVERY_WRITES: u64 = 1024;

#[derive(Debug)]
enum Value {
    Text(String),
    Set(HashSet<String>),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires_at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    writes: u64,
}

impl Inner {
    /// The live entry at `key`, removing it first if it has expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| e.expires_at <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn count_write(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes.is_multiple_of(SWEEP_EVERY_WRITES) {
            self.entries.retain(|_, entry| entry.expires_at > now);
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Every operation holds the lock for a few map operations and never across an await;
    /// a poisoned lock (a panic mid-operation) leaves a consistent map, so it is reused.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn ttl_to_deadline(now: Instant, ttl: Duration) -> Result<Instant, StoreError> {
    checked_ttl_millis(ttl)?;
    now.checked_add(ttl)
        .ok_or_else(|| StoreError::InvalidArgument("TTL too large".to_owned()))
}

#[async_trait]
impl KeyValueStore for MemoryStore {
    fn backend(&self) -> StoreBackend {
        StoreBackend::InProcess
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.live(key, now) {
            None => Ok(None),
            Some(Entry {
                value: Value::Text(text),
                ..
            }) => Ok(Some(text.clone())),
            Some(_) => Err(StoreError::WrongType(key.to_owned())),
        }
    }

    async fn set_with_ttl(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let expires_at = ttl_to_deadline(now, ttl)?;
        let mut inner = self.lock();
        inner.entries.insert(
            key.to_owned(),
            Entry {
                value: Value::Text(value.to_owned()),
                expires_at,
            },
        );
        inner.count_write(now);
        Ok(())
    }

    async fn set_if_absent_with_ttl(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let expires_at = ttl_to_deadline(now, ttl)?;
        let mut inner = self.lock();
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.entries.insert(
            key.to_owned(),
            Entry {
                value: Value::Text(value.to_owned()),
                expires_at,
            },
        );
        inner.count_write(now);
        Ok(true)
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.live(key, now) {
            None => Ok(None),
            Some(Entry {
                value: Value::Set(_),
                ..
            }) => Err(StoreError::WrongType(key.to_owned())),
            Some(_) => match inner.entries.remove(key) {
                Some(Entry {
                    value: Value::Text(text),
                    ..
                }) => Ok(Some(text)),
                _ => Ok(None),
            },
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let existed = inner.live(key, now).is_some();
        inner.entries.remove(key);
        Ok(existed)
    }

    async fn time_to_live(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        Ok(inner
            .live(key, now)
            .map(|entry| entry.expires_at.saturating_duration_since(now)))
    }

    async fn increment_with_ttl(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let now = Instant::now();
        let expires_at = ttl_to_deadline(now, window)?;
        let mut inner = self.lock();
        let count = match inner.live(key, now) {
            None => {
                inner.entries.insert(
                    key.to_owned(),
                    Entry {
                        value: Value::Text("1".to_owned()),
                        expires_at,
                    },
                );
                1
            }
            Some(Entry {
                value: Value::Text(text),
                ..
            }) => {
                let next = text
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or_else(|| {
                        StoreError::Command(format!("value at `{key}` is not a counter"))
                    })?;
                *text = next.to_string();
                next
            }
            Some(_) => return Err(StoreError::WrongType(key.to_owned())),
        };
        inner.count_write(now);
        Ok(count)
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let expires_at = ttl_to_deadline(now, ttl)?;
        let mut inner = self.lock();
        match inner.live(key, now) {
            None => {
                inner.entries.insert(
                    key.to_owned(),
                    Entry {
                        value: Value::Set(HashSet::from([member.to_owned()])),
                        expires_at,
                    },
                );
            }
            Some(Entry {
                value: Value::Set(members),
                expires_at: current,
            }) => {
                members.insert(member.to_owned());
                if *current < expires_at {
                    *current = expires_at;
                }
            }
            Some(_) => return Err(StoreError::WrongType(key.to_owned())),
        }
        inner.count_write(now);
        Ok(())
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.live(key, now) {
            None => Ok(Vec::new()),
            Some(Entry {
                value: Value::Set(members),
                ..
            }) => Ok(members.iter().cloned().collect()),
            Some(_) => Err(StoreError::WrongType(key.to_owned())),
        }
    }

    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let (removed, now_empty) = match inner.live(key, now) {
            None => (false, false),
            Some(Entry {
                value: Value::Set(members),
                ..
            }) => {
                let removed = members.remove(member);
                (removed, members.is_empty())
            }
            Some(_) => return Err(StoreError::WrongType(key.to_owned())),
        };
        // Like Redis: a set left empty no longer exists.
        if now_empty {
            inner.entries.remove(key);
        }
        Ok(removed)
    }
}

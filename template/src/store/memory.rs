//! In-process implementation of [`KeyValueStore`] for the embedded dev default. Mirrors Redis
//! semantics (types, expiry, atomicity) closely enough that code tested against it behaves the
//! same against Redis; the shared test suite checks that.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    FreshCounters, KeyValueStore, StoreBackend, StoreError, UserSessionKeys, checked_ttl_millis,
    unix_millis,
};

/// Expired entries are dropped when touched, and the whole map is swept every this many
/// writes, so keys nobody reads again cannot grow memory without bound (no background task:
/// the store must work outside a runtime too).
const SWEEP_EVERY_WRITES: u64 = 1024;

#[derive(Debug)]
enum Value {
    Text(String),
    Set(HashSet<String>),
    /// Members by score, as a Redis sorted set (a user's sessions by last use).
    Index(SessionIndex),
}

#[derive(Debug, Default)]
struct SessionIndex {
    scores: HashMap<String, u64>,
    ordered: BTreeSet<(u64, String)>,
}

impl SessionIndex {
    fn insert(&mut self, member: &str, score: u64) {
        if let Some(old) = self.scores.insert(member.to_owned(), score) {
            self.ordered.remove(&(old, member.to_owned()));
        }
        self.ordered.insert((score, member.to_owned()));
    }

    fn remove(&mut self, member: &str) -> bool {
        match self.scores.remove(member) {
            Some(score) => self.ordered.remove(&(score, member.to_owned())),
            None => false,
        }
    }

    /// Drops members scored at or below `score`.
    fn remove_up_to(&mut self, score: u64) {
        while let Some((lowest, member)) = self.ordered.first().cloned() {
            if lowest > score {
                break;
            }
            self.ordered.pop_first();
            self.scores.remove(&member);
        }
    }
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

    /// The text at `key` (None when absent or not text).
    fn text(&mut self, key: &str, now: Instant) -> Option<String> {
        match self.live(key, now) {
            Some(Entry {
                value: Value::Text(text),
                ..
            }) => Some(text.clone()),
            _ => None,
        }
    }

    /// Extends (never shortens) the lifetime of `key`, if it exists.
    fn extend(&mut self, key: &str, now: Instant, expires_at: Instant) {
        if let Some(entry) = self.live(key, now)
            && entry.expires_at < expires_at
        {
            entry.expires_at = expires_at;
        }
    }

    fn set_text(&mut self, key: &str, value: String, expires_at: Instant) {
        self.entries.insert(
            key.to_owned(),
            Entry {
                value: Value::Text(value),
                expires_at,
            },
        );
    }

    /// The index at `key`, created (expiring at `expires_at`) when absent.
    fn index(
        &mut self,
        key: &str,
        now: Instant,
        expires_at: Instant,
    ) -> Result<&mut SessionIndex, StoreError> {
        if self.live(key, now).is_none() {
            self.entries.insert(
                key.to_owned(),
                Entry {
                    value: Value::Index(SessionIndex::default()),
                    expires_at,
                },
            );
        }
        match self.entries.get_mut(key) {
            Some(Entry {
                value: Value::Index(index),
                ..
            }) => Ok(index),
            _ => Err(StoreError::WrongType(key.to_owned())),
        }
    }

    /// Adds one to the counter at `key` (created at 1), extending its lifetime.
    fn increment(
        &mut self,
        key: &str,
        now: Instant,
        expires_at: Instant,
    ) -> Result<u64, StoreError> {
        let next = match self.text(key, now) {
            None if self.live(key, now).is_some() => {
                return Err(StoreError::WrongType(key.to_owned()));
            }
            None => 1,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_add(1))
                .ok_or_else(|| StoreError::Command(format!("value at `{key}` is not a counter")))?,
        };
        let expires_at = self
            .live(key, now)
            .map_or(expires_at, |entry| entry.expires_at.max(expires_at));
        self.set_text(key, next.to_string(), expires_at);
        Ok(next)
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
                value: Value::Set(_) | Value::Index(_),
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

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        Ok(keys.iter().map(|key| inner.text(key, now)).collect())
    }

    async fn open_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
        fresh: FreshCounters,
        ttl: Duration,
        cap: usize,
    ) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let expires_at = ttl_to_deadline(now, ttl)?;
        let now_ms = unix_millis();
        let mut inner = self.lock();
        for (key, fresh) in [(user.epoch, fresh.epoch), (user.version, fresh.version)] {
            if inner.live(key, now).is_none() {
                inner.set_text(key, fresh.to_string(), expires_at);
            }
            inner.extend(key, now, expires_at);
        }
        let epoch = inner
            .text(user.epoch, now)
            .ok_or_else(|| StoreError::WrongType(user.epoch.to_owned()))?;
        inner.set_text(
            &format!("{}{session_id}", user.record_prefix),
            format!("{} {epoch}", user.owner),
            expires_at,
        );
        inner.extend(user.index, now, expires_at);
        let index = inner.index(user.index, now, expires_at)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        index.remove_up_to(now_ms.saturating_sub(ttl_ms));
        index.insert(session_id, now_ms);
        let excess = index.scores.len().saturating_sub(cap.max(1));
        let evicted: Vec<String> = index
            .ordered
            .iter()
            .map(|(_, member)| member.clone())
            .filter(|member| member != session_id)
            .take(excess)
            .collect();
        for member in &evicted {
            index.remove(member);
        }
        for member in &evicted {
            inner
                .entries
                .remove(&format!("{}{member}", user.record_prefix));
        }
        inner.count_write(now);
        Ok(evicted)
    }

    async fn renew_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let expires_at = ttl_to_deadline(now, ttl)?;
        let mut inner = self.lock();
        let record = format!("{}{session_id}", user.record_prefix);
        match inner.live(&record, now) {
            Some(entry) => entry.expires_at = expires_at,
            None => return Ok(false),
        }
        for key in [user.epoch, user.version, user.index] {
            inner.extend(key, now, expires_at);
        }
        if let Some(Entry {
            value: Value::Index(index),
            ..
        }) = inner.live(user.index, now)
            && index.scores.contains_key(session_id)
        {
            index.insert(session_id, unix_millis());
        }
        Ok(true)
    }

    async fn close_session(
        &self,
        user: &UserSessionKeys<'_>,
        session_id: &str,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner
            .entries
            .remove(&format!("{}{session_id}", user.record_prefix));
        if let Some(Entry {
            value: Value::Index(index),
            ..
        }) = inner.live(user.index, now)
        {
            index.remove(session_id);
        }
        Ok(())
    }

    async fn advance_epoch(
        &self,
        user: &UserSessionKeys<'_>,
        keep: Option<&str>,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        let now = Instant::now();
        let expires_at = ttl_to_deadline(now, ttl)?;
        let mut inner = self.lock();
        let epoch = inner.increment(user.epoch, now, expires_at)?;
        inner.increment(user.version, now, expires_at)?;
        inner.entries.remove(user.index);
        if let Some(kept) = keep {
            let record = format!("{}{kept}", user.record_prefix);
            let was_alive = inner.text(&record, now).as_deref()
                == Some(format!("{} {}", user.owner, epoch - 1).as_str());
            if was_alive {
                if let Some(Entry {
                    value: Value::Text(text),
                    ..
                }) = inner.live(&record, now)
                {
                    *text = format!("{} {epoch}", user.owner);
                }
                inner
                    .index(user.index, now, expires_at)?
                    .insert(kept, unix_millis());
            }
        }
        inner.count_write(now);
        Ok(epoch)
    }

    async fn count_sessions(
        &self,
        user: &UserSessionKeys<'_>,
        ttl: Duration,
    ) -> Result<usize, StoreError> {
        let now = Instant::now();
        let since =
            unix_millis().saturating_sub(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let mut inner = self.lock();
        match inner.live(user.index, now) {
            None => Ok(0),
            Some(Entry {
                value: Value::Index(index),
                ..
            }) => Ok(index
                .ordered
                .iter()
                .filter(|(score, _)| *score > since)
                .count()),
            Some(_) => Err(StoreError::WrongType(user.index.to_owned())),
        }
    }
}

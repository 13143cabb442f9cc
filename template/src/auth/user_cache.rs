//! The authenticated user's account and roles, kept in memory between requests so the gate
//! does not query the database on every call. On by default; with `USER_CACHE_CAPACITY=0` a
//! role granted or revoked straight in SQL counts on the very next request.
//!
//! Never stale across instances: an entry is stored with the user's *cache version* read from
//! the key-value store, and the gate reads the current version in the same round trip as the
//! token check. Every change that matters — role granted or revoked, deactivation, password
//! change, logout-all — bumps the version (see `TokenStore::invalidate_cached_user` and
//! `TokenStore::revoke_user_sessions`), so every instance reloads on its next request. Entries
//! also expire after `USER_CACHE_MAX_AGE_SECS`, a backstop for edits made directly in SQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashlink::LruCache;
use uuid::Uuid;

/// What the gates need to know about an active user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedUser {
    pub email: String,
    pub roles: Vec<String>,
}

struct Entry {
    version: String,
    loaded_at: Instant,
    user: Arc<CachedUser>,
}

pub struct UserCache {
    /// None: caching disabled (capacity 0).
    entries: Option<Mutex<LruCache<Uuid, Entry>>>,
    max_age: Duration,
}

impl std::fmt::Debug for UserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCache")
            .field("enabled", &self.entries.is_some())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl UserCache {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        UserCache {
            entries: (capacity > 0).then(|| Mutex::new(LruCache::new(capacity))),
            max_age,
        }
    }

    /// Held for a few map operations, never across an await; a poisoned lock (a panic in
    /// another request) leaves a consistent map, so it is reused.
    fn lock(
        entries: &Mutex<LruCache<Uuid, Entry>>,
    ) -> std::sync::MutexGuard<'_, LruCache<Uuid, Entry>> {
        entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached user, if it was loaded at `version` and is not older than the max age.
    pub fn get(&self, user_id: Uuid, version: &str) -> Option<Arc<CachedUser>> {
        let entries = self.entries.as_ref()?;
        let mut entries = Self::lock(entries);
        let entry = entries.get(&user_id)?;
        if entry.version == version && entry.loaded_at.elapsed() < self.max_age {
            Some(entry.user.clone())
        } else {
            entries.remove(&user_id);
            None
        }
    }

    /// Stores `user` as read from the database after `version` was read from the store.
    pub fn insert(&self, user_id: Uuid, version: String, user: Arc<CachedUser>) {
        if let Some(entries) = &self.entries {
            Self::lock(entries).insert(
                user_id,
                Entry {
                    version,
                    loaded_at: Instant::now(),
                    user,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Arc<CachedUser> {
        Arc::new(CachedUser {
            email: "ana@example.com".to_owned(),
            roles: vec!["user".to_owned()],
        })
    }

    #[test]
    fn an_entry_answers_only_at_its_version() {
        let cache = UserCache::new(8, Duration::from_secs(60));
        let id = Uuid::new_v4();
        cache.insert(id, "7".to_owned(), user());
        assert_eq!(cache.get(id, "7"), Some(user()));
        assert_eq!(cache.get(id, "8"), None);
        // A mismatch drops the entry: the next reader reloads it.
        assert_eq!(cache.get(id, "7"), None);
    }

    #[test]
    fn entries_expire_and_a_zero_capacity_disables_the_cache() {
        let cache = UserCache::new(8, Duration::ZERO);
        let id = Uuid::new_v4();
        cache.insert(id, "1".to_owned(), user());
        assert_eq!(cache.get(id, "1"), None);
        let disabled = UserCache::new(0, Duration::from_secs(60));
        disabled.insert(id, "1".to_owned(), user());
        assert_eq!(disabled.get(id, "1"), None);
    }

    #[test]
    fn the_least_recently_used_entry_makes_room() {
        let cache = UserCache::new(2, Duration::from_secs(60));
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.insert(a, "1".to_owned(), user());
        cache.insert(b, "1".to_owned(), user());
        assert!(cache.get(a, "1").is_some());
        cache.insert(c, "1".to_owned(), user());
        assert!(cache.get(b, "1").is_none());
        assert!(cache.get(a, "1").is_some());
        assert!(cache.get(c, "1").is_some());
    }
}

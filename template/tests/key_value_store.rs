//! One behaviour suite for both `KeyValueStore` implementations: what passes against the
//! in-process store in dev must pass against Redis in production. The Redis runs use the local
//! server under a unique key prefix each.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use {{crate_name}}::store::FreshCounters;
use {{crate_name}}::store::KeyValueStore;
use {{crate_name}}::store::MemoryStore;
use {{crate_name}}::store::RedisStore;
use {{crate_name}}::store::StoreError;
use {{crate_name}}::store::UserSessionKeys;

const LONG: Duration = Duration::from_secs(60);

struct Harness {
    store: Arc<dyn KeyValueStore>,
    _cleanup: Option<common::RedisPrefix>,
}

fn memory() -> Harness {
    Harness {
        store: Arc::new(MemoryStore::new()),
        _cleanup: None,
    }
}

fn redis() -> Harness {
    let prefix = common::unique_redis_prefix();
    let store = RedisStore::connect(&common::redis_url(), &prefix, 8).unwrap();
    Harness {
        store: Arc::new(store),
        _cleanup: Some(common::RedisPrefix { prefix }),
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test]
                async fn $name() {
                    let harness = super::memory();
                    super::$name(harness.store.as_ref()).await;
                }
            )*
        }
        mod redis_store {
            $(
                #[tokio::test]
                async fn $name() {
                    let harness = super::redis();
                    super::$name(harness.store.as_ref()).await;
                }
            )*
        }
    };
}

contract!(
    ping_succeeds,
    set_then_get_returns_the_value,
    get_of_a_missing_key_is_none,
    values_expire_after_their_ttl,
    set_if_absent_only_sets_once,
    take_returns_the_value_exactly_once,
    concurrent_takes_yield_the_value_to_exactly_one_caller,
    delete_reports_whether_the_key_existed,
    time_to_live_reports_the_remaining_lifetime,
    increment_counts_within_a_window_then_restarts,
    concurrent_increments_are_never_lost,
    increment_of_a_non_counter_is_an_error,
    sets_add_list_and_remove_members,
    set_lifetime_is_extended_never_shortened,
    wrong_type_access_is_an_error,
    zero_ttl_is_rejected,
    get_many_reads_several_keys_in_order,
    a_session_is_recorded_at_the_users_epoch,
    the_session_cap_evicts_the_least_recently_used,
    advancing_the_epoch_ends_every_session_but_the_kept_one,
    a_closed_session_is_not_renewed,
);

async fn ping_succeeds(store: &dyn KeyValueStore) {
    store.ping().await.unwrap();
}

async fn set_then_get_returns_the_value(store: &dyn KeyValueStore) {
    store.set_with_ttl("k", "v1", LONG).await.unwrap();
    assert_eq!(store.get("k").await.unwrap().as_deref(), Some("v1"));
    store.set_with_ttl("k", "v2", LONG).await.unwrap();
    assert_eq!(store.get("k").await.unwrap().as_deref(), Some("v2"));
}

async fn get_of_a_missing_key_is_none(store: &dyn KeyValueStore) {
    assert_eq!(store.get("absent").await.unwrap(), None);
}

async fn values_expire_after_their_ttl(store: &dyn KeyValueStore) {
    store
        .set_with_ttl("short", "v", Duration::from_millis(150))
        .await
        .unwrap();
    assert!(store.get("short").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.get("short").await.unwrap(), None);
    assert_eq!(store.take("short").await.unwrap(), None);
}

async fn set_if_absent_only_sets_once(store: &dyn KeyValueStore) {
    assert!(
        store
            .set_if_absent_with_ttl("once", "first", LONG)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_if_absent_with_ttl("once", "second", LONG)
            .await
            .unwrap()
    );
    assert_eq!(store.get("once").await.unwrap().as_deref(), Some("first"));
}

async fn take_returns_the_value_exactly_once(store: &dyn KeyValueStore) {
    store.set_with_ttl("token", "family-1", LONG).await.unwrap();
    assert_eq!(
        store.take("token").await.unwrap().as_deref(),
        Some("family-1")
    );
    assert_eq!(store.take("token").await.unwrap(), None);
    assert_eq!(store.get("token").await.unwrap(), None);
}

async fn concurrent_takes_yield_the_value_to_exactly_one_caller(store: &dyn KeyValueStore) {
    store.set_with_ttl("contested", "v", LONG).await.unwrap();
    let takes = (0..16).map(|_| store.take("contested"));
    let results = join_all(takes).await;
    let winners = results
        .into_iter()
        .filter(|r| matches!(r, Ok(Some(_))))
        .count();
    assert_eq!(winners, 1);
}

async fn delete_reports_whether_the_key_existed(store: &dyn KeyValueStore) {
    store.set_with_ttl("gone", "v", LONG).await.unwrap();
    assert!(store.delete("gone").await.unwrap());
    assert!(!store.delete("gone").await.unwrap());
}

async fn time_to_live_reports_the_remaining_lifetime(store: &dyn KeyValueStore) {
    assert_eq!(store.time_to_live("nothing").await.unwrap(), None);
    store
        .set_with_ttl("ttl", "v", Duration::from_secs(30))
        .await
        .unwrap();
    let remaining = store.time_to_live("ttl").await.unwrap().unwrap();
    assert!(remaining <= Duration::from_secs(30) && remaining > Duration::from_secs(25));
}

async fn increment_counts_within_a_window_then_restarts(store: &dyn KeyValueStore) {
    let window = Duration::from_millis(300);
    assert_eq!(store.increment_with_ttl("hits", window).await.unwrap(), 1);
    assert_eq!(store.increment_with_ttl("hits", window).await.unwrap(), 2);
    assert_eq!(store.increment_with_ttl("hits", window).await.unwrap(), 3);
    // Later increments do not push the window back.
    let remaining = store.time_to_live("hits").await.unwrap().unwrap();
    assert!(remaining <= window);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.increment_with_ttl("hits", window).await.unwrap(), 1);
}

async fn concurrent_increments_are_never_lost(store: &dyn KeyValueStore) {
    let increments = (0..50).map(|_| store.increment_with_ttl("burst", LONG));
    let results = join_all(increments).await;
    let mut counts: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<u64>>());
}

async fn increment_of_a_non_counter_is_an_error(store: &dyn KeyValueStore) {
    store.set_with_ttl("word", "hello", LONG).await.unwrap();
    assert!(store.increment_with_ttl("word", LONG).await.is_err());
}

async fn sets_add_list_and_remove_members(store: &dyn KeyValueStore) {
    assert!(store.set_members("sessions").await.unwrap().is_empty());
    store.set_add("sessions", "a", LONG).await.unwrap();
    store.set_add("sessions", "b", LONG).await.unwrap();
    store.set_add("sessions", "a", LONG).await.unwrap();
    let mut members = store.set_members("sessions").await.unwrap();
    members.sort();
    assert_eq!(members, vec!["a", "b"]);
    assert!(store.set_remove("sessions", "a").await.unwrap());
    assert!(!store.set_remove("sessions", "a").await.unwrap());
    assert_eq!(store.set_members("sessions").await.unwrap(), vec!["b"]);
    assert!(store.set_remove("sessions", "b").await.unwrap());
    // An emptied set no longer exists.
    assert_eq!(store.time_to_live("sessions").await.unwrap(), None);
}

async fn set_lifetime_is_extended_never_shortened(store: &dyn KeyValueStore) {
    store
        .set_add("family", "x", Duration::from_secs(60))
        .await
        .unwrap();
    store
        .set_add("family", "y", Duration::from_secs(5))
        .await
        .unwrap();
    let remaining = store.time_to_live("family").await.unwrap().unwrap();
    assert!(remaining > Duration::from_secs(50), "{remaining:?}");
    store
        .set_add("family", "z", Duration::from_secs(120))
        .await
        .unwrap();
    let remaining = store.time_to_live("family").await.unwrap().unwrap();
    assert!(remaining > Duration::from_secs(110), "{remaining:?}");
}

async fn wrong_type_access_is_an_error(store: &dyn KeyValueStore) {
    store.set_add("a-set", "m", LONG).await.unwrap();
    assert!(matches!(
        store.get("a-set").await,
        Err(StoreError::WrongType(_))
    ));
    assert!(matches!(
        store.take("a-set").await,
        Err(StoreError::WrongType(_))
    ));
    store.set_with_ttl("a-string", "v", LONG).await.unwrap();
    assert!(matches!(
        store.set_add("a-string", "m", LONG).await,
        Err(StoreError::WrongType(_))
    ));
    assert!(matches!(
        store.set_members("a-string").await,
        Err(StoreError::WrongType(_))
    ));
}

async fn zero_ttl_is_rejected(store: &dyn KeyValueStore) {
    assert!(matches!(
        store.set_with_ttl("zero", "v", Duration::ZERO).await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert_eq!(store.get("zero").await.unwrap(), None);
}

async fn get_many_reads_several_keys_in_order(store: &dyn KeyValueStore) {
    store.set_with_ttl("a", "1", LONG).await.unwrap();
    store.set_with_ttl("c", "3", LONG).await.unwrap();
    store.set_add("a-set", "m", LONG).await.unwrap();
    let values = store
        .get_many(&["c", "missing", "a", "a-set"])
        .await
        .unwrap();
    assert_eq!(
        values,
        vec![Some("3".to_owned()), None, Some("1".to_owned()), None]
    );
}

const USER: UserSessionKeys<'static> = UserSessionKeys {
    epoch: "epoch",
    version: "version",
    index: "index",
    record_prefix: "record:",
    owner: "ana",
};

const FRESH: FreshCounters = FreshCounters {
    epoch: 41,
    version: 7,
};

async fn record(store: &dyn KeyValueStore, session: &str) -> Option<String> {
    store.get(&format!("record:{session}")).await.unwrap()
}

async fn a_session_is_recorded_at_the_users_epoch(store: &dyn KeyValueStore) {
    let evicted = store
        .open_session(&USER, "s1", FRESH, LONG, 10)
        .await
        .unwrap();
    assert!(evicted.is_empty());
    assert_eq!(record(store, "s1").await.as_deref(), Some("ana 41"));
    assert_eq!(store.get("epoch").await.unwrap().as_deref(), Some("41"));
    assert_eq!(store.get("version").await.unwrap().as_deref(), Some("7"));
    // Existing counters are kept, whatever fresh values the next login brings.
    let other = FreshCounters {
        epoch: 99,
        version: 99,
    };
    store
        .open_session(&USER, "s2", other, LONG, 10)
        .await
        .unwrap();
    assert_eq!(record(store, "s2").await.as_deref(), Some("ana 41"));
    assert_eq!(store.count_sessions(&USER, LONG).await.unwrap(), 2);
    assert!(store.time_to_live("record:s2").await.unwrap().is_some());
}

async fn the_session_cap_evicts_the_least_recently_used(store: &dyn KeyValueStore) {
    for session in ["s1", "s2", "s3"] {
        store
            .open_session(&USER, session, FRESH, LONG, 3)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert!(store.renew_session(&USER, "s1", LONG).await.unwrap());
    tokio::time::sleep(Duration::from_millis(3)).await;
    let evicted = store
        .open_session(&USER, "s4", FRESH, LONG, 3)
        .await
        .unwrap();
    assert_eq!(evicted, vec!["s2".to_owned()]);
    assert_eq!(record(store, "s2").await, None);
    assert!(record(store, "s1").await.is_some());
    assert_eq!(store.count_sessions(&USER, LONG).await.unwrap(), 3);
}

async fn advancing_the_epoch_ends_every_session_but_the_kept_one(store: &dyn KeyValueStore) {
    store
        .open_session(&USER, "s1", FRESH, LONG, 10)
        .await
        .unwrap();
    store
        .open_session(&USER, "s2", FRESH, LONG, 10)
        .await
        .unwrap();
    let epoch = store.advance_epoch(&USER, Some("s1"), LONG).await.unwrap();
    assert_eq!(epoch, 42);
    assert_eq!(record(store, "s1").await.as_deref(), Some("ana 42"));
    // Left as it was: its epoch is now a past one.
    assert_eq!(record(store, "s2").await.as_deref(), Some("ana 41"));
    assert_eq!(store.get("version").await.unwrap().as_deref(), Some("8"));
    assert_eq!(store.count_sessions(&USER, LONG).await.unwrap(), 1);
    // A session that was not alive at the previous epoch is not carried over.
    store.advance_epoch(&USER, Some("s2"), LONG).await.unwrap();
    assert_eq!(record(store, "s2").await.as_deref(), Some("ana 41"));
    assert_eq!(store.count_sessions(&USER, LONG).await.unwrap(), 0);
    // A new login records the current epoch.
    store
        .open_session(&USER, "s3", FRESH, LONG, 10)
        .await
        .unwrap();
    assert_eq!(record(store, "s3").await.as_deref(), Some("ana 43"));
}

async fn a_closed_session_is_not_renewed(store: &dyn KeyValueStore) {
    store
        .open_session(&USER, "s1", FRESH, LONG, 10)
        .await
        .unwrap();
    store.close_session(&USER, "s1").await.unwrap();
    assert!(!store.renew_session(&USER, "s1", LONG).await.unwrap());
    assert_eq!(record(store, "s1").await, None);
    assert_eq!(store.count_sessions(&USER, LONG).await.unwrap(), 0);
}

#[tokio::test]
async fn redis_keys_live_under_the_configured_prefix() {
    let harness = redis();
    let prefix = harness._cleanup.as_ref().unwrap().prefix.clone();
    harness
        .store
        .set_with_ttl("visible", "v", LONG)
        .await
        .unwrap();
    let client = deadpool_redis::redis::Client::open(common::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let value: Option<String> = deadpool_redis::redis::cmd("GET")
        .arg(format!("{prefix}visible"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("v"));
}

#[tokio::test]
async fn an_unreachable_redis_reports_unavailable_quickly() {
    let url = format!("redis://127.0.0.1:{}", common::closed_port());
    let store = RedisStore::connect(&url, "unreachable:", 2).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.get("k").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

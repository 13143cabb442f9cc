//! Brute-force limits on password checks, kept in the key-value store so every instance behind
//! a load balancer counts together. Only **failures** count, and a stranger cannot lock the
//! owner out:
//!
//! - per client IP (any account): a hard limit, so one address cannot spray many accounts;
//! - per (account, client IP): a hard limit, so one address cannot hammer one account — the
//!   owner, from another address, is not affected;
//! - per account (any IP): past a number of failures, a **progressive delay** (doubling up to a
//!   ceiling) between password checks, which slows a guesser rotating addresses. Addresses the
//!   account logged in from recently skip the delay, so the owner keeps getting in.
//!
//! A successful check clears the (account, IP) counter it owns and remembers the address.
//! The (account, IP) counter is taken *before* the password is checked (an atomic increment,
//! undone by success): a burst of parallel guesses from one address cannot slip past it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::store::{KeyValueStore, StoreError};

/// At most `max_attempts` failures within `window` (fixed window, from the first failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptLimit {
    pub max_attempts: u64,
    pub window: Duration,
}

/// After `after_failures` failures on one account within `window`, each further password
/// check on it waits `initial`, doubled at every failure, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgressiveDelay {
    pub after_failures: u64,
    pub window: Duration,
    pub initial: Duration,
    pub max: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_ip: AttemptLimit,
    pub per_account_and_ip: AttemptLimit,
    pub account_delay: ProgressiveDelay,
    /// How long a successful login exempts its address from the account's delay.
    pub known_address_lifetime: Duration,
}

/// The attempt was refused; try again after `retry_after`.
#[derive(Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

#[derive(Clone)]
pub struct LoginThrottle {
    kv: Arc<dyn KeyValueStore>,
    limits: LoginLimits,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Accounts are keyed by a hash of the normalised email: the store never holds addresses.
fn account_hash(email: &str) -> String {
    let hash = Sha256::digest(email.as_bytes());
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn ip_key(ip: IpAddr) -> String {
    format!("auth:login-failures:ip:{ip}")
}

fn account_ip_key(account: &str, ip: IpAddr) -> String {
    format!("auth:login-failures:account-ip:{account}:{ip}")
}

fn account_key(account: &str) -> String {
    format!("auth:login-failures:account:{account}")
}

fn delay_key(account: &str) -> String {
    format!("auth:login-delay:{account}")
}

fn known_address_key(account: &str, ip: IpAddr) -> String {
    format!("auth:login-known:{account}:{ip}")
}

impl LoginThrottle {
    pub fn new(kv: Arc<dyn KeyValueStore>, limits: LoginLimits) -> Self {
        Self { kv, limits }
    }

    pub fn limits(&self) -> &LoginLimits {
        &self.limits
    }

    /// Asks to check a password of `email` from `ip`; refused while a limit or the account's
    /// delay holds. Follow with [`LoginThrottle::record_failure`] or
    /// [`LoginThrottle::record_success`].
    pub async fn register_attempt(
        &self,
        ip: IpAddr,
        email: &str,
    ) -> Result<Result<(), Throttled>, StoreError> {
        let account = account_hash(email);
        let ip_failures = self.count(&ip_key(ip)).await?;
        if ip_failures >= self.limits.per_ip.max_attempts {
            return self.refused(&ip_key(ip), self.limits.per_ip.window).await;
        }
        if self.kv.get(&delay_key(&account)).await?.is_some()
            && self
                .kv
                .get(&known_address_key(&account, ip))
                .await?
                .is_none()
        {
            return self
                .refused(&delay_key(&account), self.limits.account_delay.initial)
                .await;
        }
        let limit = self.limits.per_account_and_ip;
        let key = account_ip_key(&account, ip);
        if self.kv.increment_with_ttl(&key, limit.window).await? > limit.max_attempts {
            return self.refused(&key, limit.window).await;
        }
        Ok(Ok(()))
    }

    /// The password was wrong (or the account unknown): counts against the address and the
    /// account, and starts or lengthens the account's delay once it is over its threshold.
    pub async fn record_failure(&self, ip: IpAddr, email: &str) -> Result<(), StoreError> {
        let account = account_hash(email);
        self.kv
            .increment_with_ttl(&ip_key(ip), self.limits.per_ip.window)
            .await?;
        let delay = self.limits.account_delay;
        let failures = self
            .kv
            .increment_with_ttl(&account_key(&account), delay.window)
            .await?;
        if failures >= delay.after_failures {
            let doublings = u32::try_from(failures - delay.after_failures)
                .unwrap_or(u32::MAX)
                .min(20);
            let wait = delay.initial.saturating_mul(1 << doublings).min(delay.max);
            if !wait.is_zero() {
                self.kv
                    .set_with_ttl(&delay_key(&account), "1", wait)
                    .await?;
            }
        }
        Ok(())
    }

    /// The password was right: clears the (account, IP) counter and remembers the address, so
    /// the account's delay does not apply to it. Failures from other addresses are kept.
    pub async fn record_success(&self, ip: IpAddr, email: &str) -> Result<(), StoreError> {
        let account = account_hash(email);
        self.kv.delete(&account_ip_key(&account, ip)).await?;
        self.kv
            .set_with_ttl(
                &known_address_key(&account, ip),
                "1",
                self.limits.known_address_lifetime,
            )
            .await
    }

    async fn count(&self, key: &str) -> Result<u64, StoreError> {
        Ok(self
            .kv
            .get(key)
            .await?
            .and_then(|value| value.parse().ok())
            .unwrap_or(0))
    }

    async fn refused(
        &self,
        key: &str,
        fallback: Duration,
    ) -> Result<Result<(), Throttled>, StoreError> {
        let remaining = self.kv.time_to_live(key).await?.unwrap_or(fallback);
        // Whole seconds, rounded up: a client that waits `Retry-After` is not refused again.
        let retry_after =
            Duration::from_secs(remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0));
        Ok(Err(Throttled { retry_after }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn limits(per_ip: u64, per_account_and_ip: u64, delay_after: u64) -> LoginLimits {
        let window = Duration::from_secs(60);
        LoginLimits {
            per_ip: AttemptLimit {
                max_attempts: per_ip,
                window,
            },
            per_account_and_ip: AttemptLimit {
                max_attempts: per_account_and_ip,
                window,
            },
            account_delay: ProgressiveDelay {
                after_failures: delay_after,
                window,
                initial: Duration::from_secs(1),
                max: Duration::from_secs(8),
            },
            known_address_lifetime: Duration::from_secs(3600),
        }
    }

    fn throttle(limits: LoginLimits) -> LoginThrottle {
        LoginThrottle::new(Arc::new(MemoryStore::new()), limits)
    }

    async fn fail(throttle: &LoginThrottle, ip: IpAddr, email: &str) -> Result<(), Throttled> {
        throttle.register_attempt(ip, email).await.unwrap()?;
        throttle.record_failure(ip, email).await.unwrap();
        Ok(())
    }

    #[tokio::test]
    async fn the_failure_after_the_ip_limit_is_refused_with_a_delay() {
        let throttle = throttle(limits(5, 100, 100));
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for attempt in 0..5 {
            assert_eq!(
                fail(&throttle, ip, &format!("u{attempt}@example.com")).await,
                Ok(())
            );
        }
        let refused = fail(&throttle, ip, "other@example.com").await.unwrap_err();
        assert!(refused.retry_after > Duration::ZERO);
        assert!(refused.retry_after <= Duration::from_secs(60));
        let other_ip: IpAddr = "198.51.100.8".parse().unwrap();
        assert_eq!(fail(&throttle, other_ip, "x@example.com").await, Ok(()));
    }

    #[tokio::test]
    async fn successes_never_count() {
        let throttle = throttle(limits(2, 2, 2));
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        for _ in 0..20 {
            throttle
                .register_attempt(ip, "ana@example.com")
                .await
                .unwrap()
                .unwrap();
            throttle
                .record_success(ip, "ana@example.com")
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn one_address_hammering_an_account_does_not_lock_out_another_address() {
        let throttle = throttle(limits(100, 3, 10));
        let attacker = IpAddr::from([203, 0, 113, 1]);
        for _ in 0..3 {
            assert_eq!(fail(&throttle, attacker, "ana@example.com").await, Ok(()));
        }
        assert!(fail(&throttle, attacker, "ana@example.com").await.is_err());
        let owner = IpAddr::from([198, 51, 100, 2]);
        assert_eq!(
            throttle
                .register_attempt(owner, "ana@example.com")
                .await
                .unwrap(),
            Ok(())
        );
    }

    #[tokio::test]
    async fn rotating_addresses_meets_a_growing_delay_that_known_addresses_skip() {
        let throttle = throttle(limits(100, 100, 3));
        let owner = IpAddr::from([198, 51, 100, 2]);
        throttle
            .register_attempt(owner, "ana@example.com")
            .await
            .unwrap()
            .unwrap();
        throttle
            .record_success(owner, "ana@example.com")
            .await
            .unwrap();
        for host in 1..=3u8 {
            let ip = IpAddr::from([203, 0, 113, host]);
            assert_eq!(fail(&throttle, ip, "ana@example.com").await, Ok(()));
        }
        let refused = fail(
            &throttle,
            IpAddr::from([203, 0, 113, 99]),
            "ana@example.com",
        )
        .await
        .unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(1));
        assert_eq!(
            throttle
                .register_attempt(owner, "ana@example.com")
                .await
                .unwrap(),
            Ok(())
        );
    }
}

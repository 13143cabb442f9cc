//! Brute-force limits on password checks, per client IP and per account, kept in the
//! key-value store so every instance behind a load balancer counts together.
//!
//! Every attempt is counted *before* the password is checked (an atomic increment): a burst of
//! parallel guesses cannot slip through between a check and an update.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::store::{KeyValueStore, StoreError};

/// At most `max_attempts` within `window` (fixed window, starting at the first attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptLimit {
    pub max_attempts: u64,
    pub window: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_ip: AttemptLimit,
    pub per_account: AttemptLimit,
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

/// The account key is a hash of the normalised email: the store never holds addresses.
fn account_key(email: &str) -> String {
    let hash = Sha256::digest(email.as_bytes());
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("auth:login-attempts:account:{hex}")
}

fn ip_key(ip: IpAddr) -> String {
    format!("auth:login-attempts:ip:{ip}")
}

impl LoginThrottle {
    pub fn new(kv: Arc<dyn KeyValueStore>, limits: LoginLimits) -> Self {
        Self { kv, limits }
    }

    /// Counts one password check for `ip` and `email`; refused when either is over its limit.
    pub async fn register_attempt(
        &self,
        ip: IpAddr,
        email: &str,
    ) -> Result<Result<(), Throttled>, StoreError> {
        let checks = [
            (ip_key(ip), self.limits.per_ip),
            (account_key(email), self.limits.per_account),
        ];
        let mut retry_after: Option<Duration> = None;
        for (key, limit) in checks {
            let attempts = self.kv.increment_with_ttl(&key, limit.window).await?;
            if attempts > limit.max_attempts {
                let remaining = self.kv.time_to_live(&key).await?.unwrap_or(limit.window);
                retry_after = Some(retry_after.map_or(remaining, |r| r.max(remaining)));
            }
        }
        Ok(match retry_after {
            Some(retry_after) => Err(Throttled { retry_after }),
            None => Ok(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn throttle(per_ip: u64, per_account: u64) -> LoginThrottle {
        let window = Duration::from_secs(60);
        LoginThrottle::new(
            Arc::new(MemoryStore::new()),
            LoginLimits {
                per_ip: AttemptLimit {
                    max_attempts: per_ip,
                    window,
                },
                per_account: AttemptLimit {
                    max_attempts: per_account,
                    window,
                },
            },
        )
    }

    #[tokio::test]
    async fn the_attempt_after_the_ip_limit_is_refused_with_a_delay() {
        let throttle = throttle(5, 100);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for attempt in 0..5 {
            let email = format!("user{attempt}@example.com");
            assert_eq!(throttle.register_attempt(ip, &email).await.unwrap(), Ok(()));
        }
        let refused = throttle
            .register_attempt(ip, "other@example.com")
            .await
            .unwrap()
            .unwrap_err();
        assert!(refused.retry_after > Duration::ZERO);
        assert!(refused.retry_after <= Duration::from_secs(60));
        let other_ip: IpAddr = "198.51.100.8".parse().unwrap();
        assert_eq!(
            throttle
                .register_attempt(other_ip, "x@example.com")
                .await
                .unwrap(),
            Ok(())
        );
    }

    #[tokio::test]
    async fn the_account_limit_holds_across_addresses() {
        let throttle = throttle(100, 3);
        for host in 1..=3u8 {
            let ip = IpAddr::from([198, 51, 100, host]);
            assert_eq!(
                throttle
                    .register_attempt(ip, "ana@example.com")
                    .await
                    .unwrap(),
                Ok(())
            );
        }
        let ip = IpAddr::from([198, 51, 100, 99]);
        assert!(
            throttle
                .register_attempt(ip, "ana@example.com")
                .await
                .unwrap()
                .is_err()
        );
    }
}

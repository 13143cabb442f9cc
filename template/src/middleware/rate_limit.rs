//! Per-client-IP request rate limits (tower_governor, token bucket): one for the whole API,
//! a stricter one for `auth/*`. Over the limit: 429 problem with `Retry-After`.
//!
//! These buckets live in each instance's memory and absorb floods cheaply; the limits that must
//! hold across instances (failed logins) are in `auth::login_throttle`, in Redis.

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use crate::error::AppError;
use crate::middleware::client_ip::{TrustedProxies, client_ip};
use crate::observability::names;
use crate::state::AppState;

/// How often idle buckets are dropped, so memory does not grow with every address seen.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

/// tower_governor key: the client IP, resolved exactly as the login throttle resolves it.
#[derive(Clone, Debug)]
pub struct ClientIpKeyExtractor {
    trusted: TrustedProxies,
}

impl KeyExtractor for ClientIpKeyExtractor {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<Self::Key, GovernorError> {
        Ok(client_ip(request, &self.trusted))
    }
}

pub type RateLimitLayer = GovernorLayer<ClientIpKeyExtractor, NoOpMiddleware, Body>;

/// A bucket of `burst` requests refilled by one every `period`; refusals are counted under
/// `rate_limit_rejections_total{limiter}`.
fn layer(
    trusted: TrustedProxies,
    period: Duration,
    burst: u32,
    limiter: &'static str,
) -> RateLimitLayer {
    let period = period.max(Duration::from_nanos(1));
    let burst = burst.max(1);
    let config = GovernorConfigBuilder::default()
        .key_extractor(ClientIpKeyExtractor { trusted })
        .period(period)
        .burst_size(burst)
        .finish();
    let Some(config) = config else {
        // `finish` only refuses a zero period or burst, both excluded above.
        unreachable!("rate limit period and burst are positive");
    };
    let config = Arc::new(config);
    spawn_cleanup(Arc::downgrade(&config));
    GovernorLayer::new(config).error_handler(move |error| {
        if matches!(error, GovernorError::TooManyRequests { .. }) {
            names::count_rate_limit_rejection(limiter);
        }
        too_many_requests(error)
    })
}

fn spawn_cleanup(
    config: Weak<tower_governor::governor::GovernorConfig<ClientIpKeyExtractor, NoOpMiddleware>>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(CLEANUP_INTERVAL);
        interval.tick().await;
        loop {
            interval.tick().await;
            // The application was dropped (tests build many): stop.
            let Some(config) = config.upgrade() else {
                break;
            };
            config.limiter().retain_recent();
        }
    });
}

fn too_many_requests(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => AppError::TooManyRequests {
            // tower_governor rounds down; never tell a client to retry after 0 s.
            retry_after_secs: Some(wait_time.max(1)),
        }
        .into_response(),
        other => AppError::Internal(format!("rate limiter: {other}")).into_response(),
    }
}

/// Limit for every route under the API prefix.
pub fn api_layer(state: &AppState) -> RateLimitLayer {
    let settings = &state.settings;
    layer(
        state.auth.trusted_proxies.clone(),
        Duration::from_secs(1) / settings.rate_limit_per_second.max(1),
        settings.rate_limit_burst,
        "api",
    )
}

/// Stricter limit for `auth/*` (applied in addition to the API-wide one).
pub fn auth_layer(state: &AppState) -> RateLimitLayer {
    let settings = &state.settings;
    layer(
        state.auth.trusted_proxies.clone(),
        Duration::from_secs(60) / settings.auth_rate_limit_per_minute.max(1),
        settings.auth_rate_limit_burst,
        "auth",
    )
}

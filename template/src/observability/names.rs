//! Every metric the application exports: names, label keys and their bounded label values.
//! Dashboards and alert rules use these names; keep them stable.

/// Counter, labels `method`, `route`, `status_class`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Histogram (seconds), labels `method`, `route`, `status_class`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Gauge: requests being served.
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "http_requests_in_flight";
/// Gauge, label `state` (`idle`, `in_use`).
pub const DB_POOL_CONNECTIONS: &str = "db_pool_connections";
/// Gauge: `DATABASE_MAX_CONNECTIONS`.
pub const DB_POOL_MAX_CONNECTIONS: &str = "db_pool_max_connections";
/// Counter: requests that gave up waiting for a pool connection.
pub const DB_POOL_ACQUIRE_TIMEOUTS_TOTAL: &str = "db_pool_acquire_timeouts_total";
/// Counter, label `kind` (`unavailable`, `command`, `wrong_type`).
pub const REDIS_ERRORS_TOTAL: &str = "redis_errors_total";
/// Counter, label `outcome` (`ok`, `failed`, `limited`, `mfa_required`).
pub const AUTH_LOGINS_TOTAL: &str = "auth_logins_total";
/// Counter, label `gate` (`missing`, `signature`, `session`, `user`, `permission`).
pub const AUTH_TOKENS_REFUSED_TOTAL: &str = "auth_tokens_refused_total";
/// Counter, label `limiter` (`api`, `auth`).
pub const RATE_LIMIT_REJECTIONS_TOTAL: &str = "rate_limit_rejections_total";
/// Gauge set to 1, labels `name`, `version`.
pub const APP_BUILD_INFO: &str = "app_build_info";

/// `route` of the requests no route matched (the 404 fallback): one series, whatever the path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the latency histogram's buckets, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The gate that refused an access token (`auth_tokens_refused_total{gate}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusingGate {
    /// A protected route without a bearer token.
    Missing,
    /// Malformed, badly signed, expired, wrong issuer or audience.
    Signature,
    /// Signed by us, but its session is logged out, revoked or unknown.
    Session,
    /// The account is gone or deactivated.
    User,
    /// The casbin policy allows none of the user's roles (403).
    Permission,
}

impl RefusingGate {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusingGate::Missing => "missing",
            RefusingGate::Signature => "signature",
            RefusingGate::Session => "session",
            RefusingGate::User => "user",
            RefusingGate::Permission => "permission",
        }
    }
}

pub fn count_refused_token(gate: RefusingGate) {
    metrics::counter!(AUTH_TOKENS_REFUSED_TOTAL, "gate" => gate.as_str()).increment(1);
}

/// How a password login ended (`auth_logins_total{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Ok,
    Failed,
    Limited,
    MfaRequired,
}

impl LoginOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Ok => "ok",
            LoginOutcome::Failed => "failed",
            LoginOutcome::Limited => "limited",
            LoginOutcome::MfaRequired => "mfa_required",
        }
    }
}

pub fn count_login(outcome: LoginOutcome) {
    metrics::counter!(AUTH_LOGINS_TOTAL, "outcome" => outcome.as_str()).increment(1);
}

/// `limiter`: `api` or `auth`.
pub fn count_rate_limit_rejection(limiter: &'static str) {
    metrics::counter!(RATE_LIMIT_REJECTIONS_TOTAL, "limiter" => limiter).increment(1);
}

/// `kind`: `unavailable`, `command` or `wrong_type`.
pub fn count_redis_error(kind: &'static str) {
    metrics::counter!(REDIS_ERRORS_TOTAL, "kind" => kind).increment(1);
}

pub fn count_pool_acquire_timeout() {
    metrics::counter!(DB_POOL_ACQUIRE_TIMEOUTS_TOTAL).increment(1);
}

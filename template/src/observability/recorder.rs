//! The process-wide Prometheus recorder behind the `metrics` facade, and the rendering of
//! `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseConnection, DbBackend};

use super::names;

/// How often histogram samples are folded into their buckets between scrapes, so memory does
/// not grow with the request rate when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first call (later calls, e.g. tests building several apps, get the
/// same one). `None` when another recorder was installed first: metrics then go there.
pub fn install() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(names::HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                    names::LATENCY_BUCKETS,
                )
                .ok()?;
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder not installed: /metrics stays empty");
                    return None;
                }
            };
            describe();
            zero_counters();
            metrics::gauge!(
                names::APP_BUILD_INFO,
                "name" => env!("CARGO_PKG_NAME"),
                "version" => env!("CARGO_PKG_VERSION"),
            )
            .set(1.0);
            spawn_upkeep(handle.clone());
            Some(handle)
        })
        .as_ref()
}

/// A thread rather than a task: tests run many Tokio runtimes, the recorder outlives them all.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "metrics upkeep thread not started: histograms fold at scrape only");
    }
}

/// `# HELP` and units of every series.
/// Every counter with a fixed label set starts at 0, so a scrape (and every dashboard panel or
/// alert rule built on it) sees the series before the first event, not "no data".
fn zero_counters() {
    use names::{LoginOutcome, RefusingGate};
    for gate in [
        RefusingGate::Missing,
        RefusingGate::Signature,
        RefusingGate::Session,
        RefusingGate::User,
        RefusingGate::Permission,
    ] {
        metrics::counter!(names::AUTH_TOKENS_REFUSED_TOTAL, "gate" => gate.as_str()).absolute(0);
    }
    for outcome in [
        LoginOutcome::Ok,
        LoginOutcome::Failed,
        LoginOutcome::Limited,
        LoginOutcome::MfaRequired,
    ] {
        metrics::counter!(names::AUTH_LOGINS_TOTAL, "outcome" => outcome.as_str()).absolute(0);
    }
    for limiter in ["api", "auth"] {
        metrics::counter!(names::RATE_LIMIT_REJECTIONS_TOTAL, "limiter" => limiter).absolute(0);
    }
    for kind in ["unavailable", "command", "wrong_type"] {
        metrics::counter!(names::REDIS_ERRORS_TOTAL, "kind" => kind).absolute(0);
    }
    metrics::counter!(names::DB_POOL_ACQUIRE_TIMEOUTS_TOTAL).absolute(0);
}

fn describe() {
    metrics::describe_counter!(
        names::HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by method, route template and status class"
    );
    metrics::describe_histogram!(
        names::HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request (until the response head), by method, route template and status class"
    );
    metrics::describe_gauge!(names::HTTP_REQUESTS_IN_FLIGHT, "HTTP requests being served");
    metrics::describe_gauge!(
        names::DB_POOL_CONNECTIONS,
        "Database pool connections, idle or in use"
    );
    metrics::describe_gauge!(
        names::DB_POOL_MAX_CONNECTIONS,
        "Most connections the database pool opens"
    );
    metrics::describe_counter!(
        names::DB_POOL_ACQUIRE_TIMEOUTS_TOTAL,
        "Requests that waited longer than DATABASE_ACQUIRE_TIMEOUT_MS for a database connection"
    );
    metrics::describe_counter!(names::REDIS_ERRORS_TOTAL, "Failed Redis commands, by kind");
    metrics::describe_counter!(names::AUTH_LOGINS_TOTAL, "Password logins, by outcome");
    metrics::describe_counter!(
        names::AUTH_TOKENS_REFUSED_TOTAL,
        "Access tokens refused, by the gate that refused them"
    );
    metrics::describe_counter!(
        names::RATE_LIMIT_REJECTIONS_TOTAL,
        "Requests refused with 429 by a per-IP rate limiter"
    );
    metrics::describe_gauge!(
        names::APP_BUILD_INFO,
        "Name and version of the running build"
    );
}

/// The Prometheus text exposition, with the pool gauges sampled now.
pub fn render(handle: &PrometheusHandle, db: &DatabaseConnection) -> String {
    record_pool(db);
    handle.render()
}

fn record_pool(db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    metrics::gauge!(names::DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    metrics::gauge!(names::DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(size - idle));
    metrics::gauge!(names::DB_POOL_MAX_CONNECTIONS).set(f64::from(max));
}

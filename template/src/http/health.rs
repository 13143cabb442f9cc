//! Liveness and readiness probes.
//!
//! - `GET /health/live`: the process answers. Checks nothing else, so an orchestrator never
//!   restarts the app because a dependency is down.
//! - `GET /health/ready`: the database, the key-value store{% if storage %} and object storage{% endif %} answer within
//!   `READINESS_TIMEOUT_MS` each; otherwise 503 naming each one that is down.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::access::{Access, DeclaredRoutes};
use crate::db;
use crate::error::Problem;
use crate::state::AppState;

/// Probes answer anyone: orchestrators call them without credentials.
pub fn routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .route(Access::Public, routes!(live))
        .route(Access::Public, routes!(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    pub status: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Up,
    Down,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DependencyCheck {
    pub status: CheckStatus,
    /// Implementation behind the dependency (`postgres`, `sqlite`, `redis`, `in-process`).
    pub backend: &'static str,
    /// Round-trip time of the check, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Why it is down (`timeout` or `error`; details go to the log, not to the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub database: DependencyCheck,
    pub redis: DependencyCheck,
{%- if storage %}
    /// Object storage (`STORAGE_URL`): `local`, `memory` or `s3`.
    pub storage: DependencyCheck,
{%- endif %}
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    pub checks: ReadinessChecks,
}

#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses((status = 200, description = "The process is up", body = Liveness))
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Every dependency answers", body = Readiness),
        (status = 503, description = "A dependency is down; `checks` names it",
            body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    let timeout = state.settings.readiness_timeout();
{%- if storage %}
    let (database, redis, storage) = tokio::join!(
{%- else %}
    let (database, redis) = tokio::join!(
{%- endif %}
        check(
            "database",
            db::backend_name(&state.db),
            timeout,
            state.db.ping()
        ),
        check(
            "redis",
            state.kv.backend().as_str(),
            timeout,
            state.kv.ping()
        ),
{%- if storage %}
        check(
            "storage",
            state.storage.backend_name(),
            timeout,
            state.storage.ping()
        ),
    );
    let checks = ReadinessChecks {
        database,
        redis,
        storage,
    };
{%- else %}
    );
    let checks = ReadinessChecks { database, redis };
{%- endif %}

    let mut down = Vec::new();
    if checks.database.status == CheckStatus::Down {
        down.push("database");
    }
    if checks.redis.status == CheckStatus::Down {
        down.push("redis");
    }
{%- if storage %}
    if checks.storage.status == CheckStatus::Down {
        down.push("storage");
    }
{%- endif %}
    if down.is_empty() {
        return Json(Readiness {
            status: "ready",
            checks,
        })
        .into_response();
    }
    let checks_json = serde_json::to_value(&checks).unwrap_or(serde_json::Value::Null);
    Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .with_detail(format!("not ready: {} down", down.join(" and ")))
        .with_extension("checks", checks_json)
        .into_response()
}

async fn check<E: std::fmt::Display>(
    name: &'static str,
    backend: &'static str,
    timeout: Duration,
    probe: impl Future<Output = Result<(), E>>,
) -> DependencyCheck {
    let started = Instant::now();
    let (status, reason) = match tokio::time::timeout(timeout, probe).await {
        Ok(Ok(())) => (CheckStatus::Up, None),
        Ok(Err(error)) => {
            tracing::warn!(dependency = name, %error, "readiness check failed");
            (CheckStatus::Down, Some("error"))
        }
        Err(_) => {
            tracing::warn!(dependency = name, ?timeout, "readiness check timed out");
            (CheckStatus::Down, Some("timeout"))
        }
    };
    DependencyCheck {
        status,
        backend,
        latency_ms: (status == CheckStatus::Up)
            .then(|| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        reason,
    }
}

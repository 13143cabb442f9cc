//! Builds the application — state, router, middleware — and binds its listener. `main` (via
//! `serve`) and the integration tests use this same code path.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{Response, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::util::option_layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, OnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{AuthServices, AuthSetupError};
use crate::config::{ConfigError, Settings};
use crate::connections::{self, ConnectionLimits};
use crate::db::{self, DatabaseError};
use crate::error::Problem;
use crate::guard::{self, Violation};
use crate::http::{self, openapi};
use crate::middleware::cors::{self, InvalidOrigin};
use crate::middleware::problem::{normalize_error_responses, panic_response};
use crate::middleware::request_id::{RequestId, assign_request_id};
use crate::middleware::security_headers::{SecurityHeadersConfig, set_security_headers};
use crate::observability::request_metrics::RequestMetricsLayer;
use crate::observability::{names, recorder, scrape_listener, traces};
use crate::schema_version::{self, SchemaError};
use crate::state::AppState;
{% if storage -%}
use crate::storage::{Storage, StorageError};
{% endif -%}
use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{}", describe_refusal(.environment, .violations))]
    Refused {
        environment: String,
        violations: Vec<Violation>,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Cors(#[from] InvalidOrigin),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("cannot set up the key-value store")]
    Store(#[from] StoreError),
{%- if storage %}
    #[error("cannot set up object storage")]
    Storage(#[from] StorageError),
    #[error("cannot set up file encryption or the antivirus: {0}")]
    Files(String),
{%- endif %}
    #[error("cannot set up authentication")]
    Auth(#[from] AuthSetupError),
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

fn describe_refusal(environment: &str, violations: &[Violation]) -> String {
    let mut text = format!(
        "refusing to start in {environment}: {} setting(s) are unsafe for production",
        violations.len()
    );
    for violation in violations {
        text.push_str(&format!("\n  - {violation}"));
    }
    text.push_str("\n(run `doctor` to re-check without starting; ENVIRONMENT=dev skips the guard)");
    text
}

/// A built application, listeners bound, ready to run.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    state: AppState,
    /// `/metrics` (`METRICS_ADDRESS`), unless `off`.
    metrics: Option<MetricsListener>,
}

struct MetricsListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl Application {
    /// Checks the production guard, connects the stores (migrating in dev), builds the router
    /// and binds `HOST:PORT` (port 0 picks a free port: see [`Application::local_addr`]).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_routes(settings, Router::new()).await
    }

    /// Like [`Application::build`], with extra routes merged in under the same middleware.
    /// The integration tests use it for routes that exercise the error model (a handler that
    /// panics, for instance) without shipping them in the application.
    pub async fn build_with_routes(
        settings: Settings,
        extra_routes: Router<AppState>,
    ) -> Result<Self, StartupError> {
        let violations = guard::production_violations(&settings);
        if !violations.is_empty() {
            return Err(StartupError::Refused {
                environment: settings.environment.to_string(),
                violations,
            });
        }
        if settings.environment.is_dev() {
            for violation in guard::rules_for_production(&settings) {
                tracing::debug!(%violation, "would be refused outside dev");
            }
        }
        let address = settings.listen_address()?;
        let metrics_address = settings.metrics_listen_address()?;
        let recorder = recorder::install();

        let db = db::connect(&settings).await?;
        // Before anything reads a table. Outside dev, schema changes are a deliberate step:
        // `db migrate`.
        schema_version::ensure_current(&db, settings.environment.is_dev()).await?;
        let kv = store::from_settings(&settings)?;
{%- if storage %}
        // A missing local folder is created, as `storage init` would.
        let (storage, _created) = Storage::open_creating(&settings)?;
        let vault =
            Arc::new(crate::files::Vault::from_settings(&settings).map_err(StartupError::Files)?);
{%- endif %}
        let auth = AuthServices::new(&settings, db.clone(), kv.clone()).await?;
{%- if storage %}
        let state = AppState::new(settings, db, kv, auth, storage, vault);
{%- else %}
        let state = AppState::new(settings, db, kv, auth);
{%- endif %}
        let router = build_router(state.clone(), extra_routes)?;

        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?;
        let metrics = match (metrics_address, recorder) {
            (Some(address), Some(handle)) => {
                let listener = TcpListener::bind(address)
                    .await
                    .map_err(|source| StartupError::Bind { address, source })?;
                let local_addr = listener
                    .local_addr()
                    .map_err(|source| StartupError::Bind { address, source })?;
                let router = scrape_listener::router(
                    handle.clone(),
                    state.db.clone(),
                    state.settings.metrics_token.as_ref(),
                );
                Some(MetricsListener {
                    listener,
                    local_addr,
                    router,
                })
            }
            _ => None,
        };
        Ok(Application {
            listener,
            local_addr,
            router,
            state,
            metrics,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served (`None`: `METRICS_ADDRESS=off`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|metrics| metrics.local_addr)
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then stops accepting connections and gives in-flight
    /// requests `SHUTDOWN_GRACE_SECS` to finish.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = self.state.settings.shutdown_grace();
        let draining = Arc::new(Notify::new());
        let draining_started = draining.clone();
        let settings = &self.state.settings;
        let limits = ConnectionLimits {
            header_read_timeout: settings.http_header_read_timeout(),
            keep_alive_timeout: settings.http_keep_alive_timeout(),
            max_connections: u32::try_from(settings.http_max_connections).unwrap_or(u32::MAX),
        };
        // Scrapes are few: a handful of connections is plenty, and bounds what a flood costs.
        let metrics_server = self.metrics.map(|metrics| {
            let limits = ConnectionLimits {
                max_connections: METRICS_MAX_CONNECTIONS,
                ..limits
            };
            tokio::spawn(connections::serve(
                metrics.listener,
                metrics.router,
                limits,
                std::future::pending(),
            ))
        });
        let server = connections::serve(self.listener, self.router, limits, async move {
            signal.await;
            tracing::info!(
                grace_secs = grace.as_secs(),
                "shutting down: draining in-flight requests"
            );
            draining_started.notify_one();
        });
        let result = tokio::select! {
            result = server => result,
            () = async {
                draining.notified().await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("grace period over: closing the remaining connections");
                Ok(())
            }
        };
        if let Some(metrics_server) = metrics_server {
            metrics_server.abort();
        }
        if let Err(error) = self.state.db.close_by_ref().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
        result
    }
}

/// Connections the `/metrics` listener keeps open at once.
const METRICS_MAX_CONNECTIONS: u32 = 8;

/// The full router: health at the root, the API (and its docs, when on) under the prefix, and
/// every layer of the middleware baseline. Outermost first:
/// request metrics → request id → trace → security headers → CORS → problem normaliser → panic catcher →
/// timeout → body limit → routes.
pub fn build_router(
    state: AppState,
    extra_routes: Router<AppState>,
) -> Result<Router, StartupError> {
    let settings = state.settings.clone();
    let (routes, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(http::root_routes().into_router(&state))
        .nest(&settings.api_prefix, http::api_routes().into_router(&state))
        .split_for_parts();

    let mut router = routes.merge(extra_routes);
    if settings.api_docs_enabled() {
        router = router.merge(openapi::docs_routes(&settings, document));
    }

    let cors = cors::layer(&settings)?;
    let trace = TraceLayer::new_for_http()
        .make_span_with(request_span)
        .on_response(record_response)
        .on_failure(DefaultOnFailure::new().level(Level::ERROR));

    let router = router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
        .layer(RequestBodyLimitLayer::new(outer_body_limit(&settings)))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout(),
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn(normalize_error_responses))
        .layer(option_layer(cors))
        .layer(from_fn_with_state(
            SecurityHeadersConfig {
                strict_transport_security: !settings.environment.is_dev(),
            },
            set_security_headers,
        ))
        .layer(trace)
        .layer(from_fn(assign_request_id))
        .layer(RequestMetricsLayer::new())
        .with_state(state);
    Ok(router)
}

/// The span every log line of a request carries. With traces exported it is also the
/// request's server span, named `METHOD /route/{template}`.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.as_str())
        .unwrap_or("-");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(names::UNMATCHED_ROUTE, MatchedPath::as_str);
    let method = request.method().as_str();
    if !traces::enabled() {
        // The path only: query strings may carry tokens.
        return tracing::info_span!(
            "request",
            method,
            path = %request.uri().path(),
            route,
            request_id,
        );
    }
    let span = tracing::info_span!(
        "request",
        method,
        path = %request.uri().path(),
        route,
        request_id,
        trace_id = tracing::field::Empty,
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = tracing::field::Empty,
    );
    traces::link_request_span(&span, request.headers());
    span
}

/// Logs the response and, for the trace, records its status (5xx marks the span failed).
fn record_response<B>(response: &Response<B>, latency: Duration, span: &tracing::Span) {
    DefaultOnResponse::new()
        .level(Level::INFO)
        .on_response(response, latency, span);
    if traces::enabled() {
        let status = response.status();
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// The limit every request body passes first. Extractors then hold each route to its own limit
/// (`BODY_LIMIT_BYTES`, set just above{% if storage %}; the upload route raises it to
/// `FILES_MAX_BYTES` plus the multipart framing{% endif %}).
fn outer_body_limit(settings: &Settings) -> usize {
{%- if storage %}
    let uploads = usize::try_from(settings.files_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(http::files::MULTIPART_OVERHEAD_BYTES);
    settings.body_limit_bytes.max(uploads)
{%- else %}
    settings.body_limit_bytes
{%- endif %}
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND).with_detail("no route matches this path")
}

/// Completes on Ctrl-C or SIGTERM (what `docker stop` and orchestrators send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

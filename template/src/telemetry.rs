//! Logging: human-readable in dev, one JSON object per line elsewhere. Every line written
//! while serving a request carries that request's span (method, path, route, request id, and
//! the trace id when traces are exported). Traces go to an OTLP collector when one is
//! configured (`observability::traces`).

use std::sync::Once;

use tracing::Metadata;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, Targets, filter_fn};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, Settings};
use crate::observability::traces;

static INIT: Once = Once::new();

/// Installs the global subscriber once; later calls (tests spawning several apps) are no-ops.
/// `RUST_LOG` wins over `LOG_LEVEL` when set.
pub fn init(settings: &Settings) {
    INIT.call_once(|| install(settings));
}

fn install(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let format = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let logs = match settings.log_format() {
        LogFormat::Json => format
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => format.compact().boxed(),
    }
    // Query spans are for the traces: in the logs they would only hide the request's span.
    .with_filter(filter.and(filter_fn(|metadata| !is_query_span(metadata))));

    let exported = match traces::tracer(settings) {
        Ok(tracer) => tracer,
        Err(error) => {
            // Logging is not up yet: say it on stderr, serve without traces.
            eprintln!("warning: {}", crate::error_chain::Chain(&error));
            None
        }
    };
    let traces = exported.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(
                Targets::new()
                    .with_default(LevelFilter::INFO)
                    .with_target(traces::REDIS_SPAN_TARGET, LevelFilter::DEBUG),
            )
    });
    let _already_installed = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init();
}

/// sea-orm's per-query spans (`sea_orm.query_one`, `sea_orm.execute`…).
fn is_query_span(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.target().starts_with("sea_orm")
}

//! OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set: a server span per request (named after its route template), client spans for each
//! database query (sea-orm's `tracing-spans`) and Redis command. Unset, no tracer exists and
//! those spans are never even created (their callsites are disabled).

use std::sync::OnceLock;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::Settings;

/// Target of the Redis command spans (`#[instrument(target = "redis", …)]`, debug level: off
/// for the logs unless `LOG_LEVEL` asks for debug, on for the exporter).
pub const REDIS_SPAN_TARGET: &str = "redis";

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the OTLP trace exporter")]
pub struct TraceSetupError(#[from] opentelemetry_otlp::ExporterBuildError);

/// Whether traces are being exported (a collector is configured).
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// The tracer of the OTLP pipeline, when a collector is configured. Called once per process,
/// by `telemetry::init`.
pub(crate) fn tracer(settings: &Settings) -> Result<Option<Tracer>, TraceSetupError> {
    let Some(endpoint) = settings.otlp_traces_endpoint() else {
        return Ok(None);
    };
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(settings.otel_service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer(env!("CARGO_PKG_NAME"));
    if PROVIDER.set(provider).is_err() {
        return Ok(None);
    }
    Ok(Some(tracer))
}

/// Joins the caller's trace when the request carries a W3C `traceparent`, and records the
/// trace id on the request span, so that every log line of the request carries it.
pub fn link_request_span(span: &tracing::Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        // Fails only for a span the OpenTelemetry layer does not know: nothing to link.
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}

/// The trace id of the request being served, when traces are exported.
pub fn current_trace_id() -> Option<String> {
    if !enabled() {
        return None;
    }
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Sends the spans still buffered (tests, and before a graceful exit).
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.force_flush()
    {
        tracing::warn!(%error, "flushing the trace exporter failed");
    }
}

/// Flushes and stops the exporter. Blocks: call it outside the async runtime's workers.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        tracing::warn!(%error, "stopping the trace exporter failed");
    }
}

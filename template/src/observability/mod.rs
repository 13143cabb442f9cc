//! What an operator watches: Prometheus metrics (always on, served on a listener of their own)
//! and OpenTelemetry traces (exported over OTLP/HTTP only when a collector is configured).
//! The metric names are in [`names`] and the README's "Metrics and traces".

pub mod names;
pub mod recorder;
pub mod request_metrics;
pub mod scrape_listener;
pub mod traces;

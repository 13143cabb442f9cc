//! OpenTelemetry traces against a real OTLP/HTTP receiver started here: it decodes each
//! `ExportTraceServiceRequest` (protobuf) the application sends, and the test looks for the
//! request's server span, its database query span and its Redis command span in one trace.
//!
//! The tracer is process-wide: this binary's in-process test is its only one, the other runs
//! the binary.

mod auth_support;
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use auth_support::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use {{crate_name}}::observability::traces;

/// A collector's OTLP/HTTP traces endpoint: decodes every export and hands its spans over.
/// Anything that is not a valid protobuf export is refused with 400, as a collector would.
async fn start_receiver() -> (SocketAddr, mpsc::UnboundedReceiver<Span>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let router = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (address, receiver)
}

async fn receive(
    State(spans): State<mpsc::UnboundedSender<Span>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-protobuf") {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
    }
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    for resource in export.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                let _ = spans.send(span);
            }
        }
    }
    (
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

fn string_attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attribute(span, key) {
        Some(AnyValue::StringValue(value)) => Some(value),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Collects spans of `trace_id` until `done` holds for them, flushing the exporter meanwhile.
async fn spans_of_trace(
    received: &mut mpsc::UnboundedReceiver<Span>,
    trace_id: &str,
    done: impl Fn(&[Span]) -> bool,
) -> Vec<Span> {
    let mut spans = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&spans) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trace never arrived complete: {:#?}",
            spans.iter().map(|s: &Span| &s.name).collect::<Vec<_>>()
        );
        tokio::task::spawn_blocking(traces::flush).await.unwrap();
        while let Ok(span) = received.try_recv() {
            if hex(&span.trace_id) == trace_id {
                spans.push(span);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    spans
}

/// Whether `span` descends from `ancestor` through the spans at hand.
fn descends_from(span: &Span, ancestor: &Span, spans: &[Span]) -> bool {
    let mut parent = span.parent_span_id.clone();
    while !parent.is_empty() {
        if parent == ancestor.span_id {
            return true;
        }
        parent = spans
            .iter()
            .find(|candidate| candidate.span_id == parent)
            .map(|candidate| candidate.parent_span_id.clone())
            .unwrap_or_default();
    }
    false
}

#[tokio::test]
async fn a_request_is_one_trace_with_its_database_and_redis_spans() {
    let (receiver_address, mut received) = start_receiver().await;
    let app = spawn_auth_app_with(|settings| {
        settings.otel_exporter_otlp_endpoint = Some(format!("http://{receiver_address}/"));
        settings.otel_service_name = "traced-api".to_owned();
    })
    .await;
    assert!(traces::enabled());
    let (_, tokens) = signed_up(&app).await;

    // The caller's trace context is honoured: the request joins trace `trace_id`.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&tokens.access)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap();

    let is_request = |span: &Span| span.name == "GET /api/v1/auth/me";
    let is_query = |span: &Span| {
        span.name.starts_with("sea_orm.")
            && string_attribute(span, "db.system") == Some("postgresql")
    };
    let is_redis = |span: &Span| {
        span.name.starts_with("redis ") && string_attribute(span, "db.system") == Some("redis")
    };
    let spans = spans_of_trace(&mut received, trace_id, |spans| {
        spans.iter().any(is_request) && spans.iter().any(is_query) && spans.iter().any(is_redis)
    })
    .await;
    let request = spans.iter().find(|span| is_request(span)).unwrap();
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(hex(&request.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(
        string_attribute(request, "http.route"),
        Some("/api/v1/auth/me")
    );
    assert_eq!(
        attribute(request, "http.response.status_code"),
        Some(&AnyValue::IntValue(200))
    );
    for span in spans.iter().filter(|span| is_query(span) || is_redis(span)) {
        assert_eq!(span.kind, SpanKind::Client as i32, "{}", span.name);
        assert!(
            descends_from(span, request, &spans),
            "{} is not inside the request span",
            span.name
        );
    }

    // A refused request: its problem body names its trace.
    let other_trace = "0af7651916cd43dd8448eb211c80319c";
    let response = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth("not-a-token")
        .header(
            "traceparent",
            format!("00-{other_trace}-b7ad6b7169203331-01"),
        )
        .send()
        .await
        .unwrap();
    let body = common::problem(response).await;
    assert_eq!(body["trace_id"], other_trace);
    let spans = spans_of_trace(&mut received, other_trace, |spans| !spans.is_empty()).await;
    assert_eq!(
        attribute(&spans[0], "http.response.status_code"),
        Some(&AnyValue::IntValue(401))
    );
}

#[tokio::test]
async fn every_log_line_of_a_traced_request_carries_its_trace_id() {
    let (receiver_address, _received) = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::from(common::app_command(dir.path()))
        .arg("serve")
        .envs([
            ("PORT", "0"),
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "info"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &format!("http://{receiver_address}"),
            ),
        ])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if event["fields"]["message"] == "listening" {
                return event["fields"]["address"].as_str().unwrap().to_owned();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server did not start");

    let trace_id = "5b8aa5a2d2c872e8321cf37308d69df2";
    let response = reqwest::Client::new()
        .get(format!("http://{address}/no-such-page"))
        .header("traceparent", format!("00-{trace_id}-051581bf3cb55c13-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["trace_id"], trace_id);

    let line = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if event["span"]["path"] == "/no-such-page" {
                return event;
            }
        }
        panic!("the server exited");
    })
    .await
    .expect("no log line for the request");
    assert_eq!(line["span"]["trace_id"], trace_id, "{line}");
    assert_eq!(line["span"]["route"], "unmatched", "{line}");
    child.kill().await.unwrap();
}

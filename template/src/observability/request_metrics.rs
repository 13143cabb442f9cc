//! Request count, latency and in-flight gauge, by method, route template and status class.
//!
//! Labels never come from the raw path: the route is axum's [`MatchedPath`] (the template,
//! `/api/v1/admin/users/{id}`), or [`names::UNMATCHED_ROUTE`], so the number of series is
//! bounded by the router, whatever clients send. Each series' handles are looked up once and kept:
//! a request costs a read-locked map lookup and a few atomic operations, no allocation.
//!
//! Installed with `Router::layer`, which wraps every route after routing: that is what makes
//! `MatchedPath` visible here.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response};
use metrics::{Counter, Gauge, Histogram, Label};
use tower::{Layer, Service};

use super::names;

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
];
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

fn status_class_index(status: u16) -> usize {
    match status / 100 {
        1 => 0,
        2 => 1,
        3 => 2,
        4 => 3,
        _ => 4,
    }
}

struct Series {
    requests: Counter,
    duration: Histogram,
}

/// The series of one route, registered on first use.
struct RouteSeries {
    route: String,
    series: [[OnceLock<Series>; STATUS_CLASSES.len()]; METHODS.len()],
}

impl RouteSeries {
    fn new(route: &str) -> Self {
        RouteSeries {
            route: route.to_owned(),
            series: Default::default(),
        }
    }

    fn record(&self, method: usize, status: u16, seconds: f64) {
        let class = status_class_index(status);
        let series = self.series[method][class].get_or_init(|| {
            let labels = vec![
                Label::new("method", METHODS[method]),
                Label::new("route", self.route.clone()),
                Label::new("status_class", STATUS_CLASSES[class]),
            ];
            Series {
                requests: metrics::counter!(names::HTTP_REQUESTS_TOTAL, labels.clone()),
                duration: metrics::histogram!(names::HTTP_REQUEST_DURATION_SECONDS, labels),
            }
        });
        series.requests.increment(1);
        series.duration.record(seconds);
    }
}

/// Every route seen so far; the router bounds its size.
struct SeriesCache {
    routes: RwLock<HashMap<Box<str>, Arc<RouteSeries>>>,
    unmatched: Arc<RouteSeries>,
    in_flight: Gauge,
}

impl SeriesCache {
    fn route(&self, matched: Option<&MatchedPath>) -> Arc<RouteSeries> {
        let Some(route) = matched.map(MatchedPath::as_str) else {
            return self.unmatched.clone();
        };
        // A poisoned lock only means a panic elsewhere while inserting: the map is still sound.
        if let Some(series) = self
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(route)
        {
            return series.clone();
        }
        self.routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(Box::from(route))
            .or_insert_with(|| Arc::new(RouteSeries::new(route)))
            .clone()
    }
}

/// `Router::layer(RequestMetricsLayer::new())`.
#[derive(Clone)]
pub struct RequestMetricsLayer {
    cache: Arc<SeriesCache>,
}

impl RequestMetricsLayer {
    pub fn new() -> Self {
        RequestMetricsLayer {
            cache: Arc::new(SeriesCache {
                routes: RwLock::new(HashMap::new()),
                unmatched: Arc::new(RouteSeries::new(names::UNMATCHED_ROUTE)),
                in_flight: metrics::gauge!(names::HTTP_REQUESTS_IN_FLIGHT),
            }),
        }
    }
}

impl Default for RequestMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics {
            inner,
            cache: self.cache.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequestMetrics<S> {
    inner: S,
    cache: Arc<SeriesCache>,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for RequestMetrics<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let route = self.cache.route(request.extensions().get::<MatchedPath>());
        let method = method_index(request.method());
        self.cache.in_flight.increment(1.0);
        ResponseFuture {
            inner: self.inner.call(request),
            tracker: Some(Tracker {
                route,
                method,
                started: Instant::now(),
                in_flight: self.cache.in_flight.clone(),
            }),
        }
    }
}

/// Leaves the in-flight gauge when the request ends, answered or dropped (client gone).
struct Tracker {
    route: Arc<RouteSeries>,
    method: usize,
    started: Instant,
    in_flight: Gauge,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.in_flight.decrement(1.0);
    }
}

pin_project_lite::pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<Tracker>,
    }
}

impl<F, ResponseBody, Error> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let Some(tracker) = this.tracker.take() {
            // An error here never reaches the client as such (axum's services are
            // infallible): count it as a 500.
            let status = output
                .as_ref()
                .map_or(500, |response| response.status().as_u16());
            tracker.route.record(
                tracker.method,
                status,
                tracker.started.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_and_statuses_fall_into_fixed_labels() {
        assert_eq!(METHODS[method_index(&Method::GET)], "GET");
        let custom = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(METHODS[method_index(&custom)], "OTHER");
        assert_eq!(STATUS_CLASSES[status_class_index(204)], "2xx");
        assert_eq!(STATUS_CLASSES[status_class_index(404)], "4xx");
        assert_eq!(STATUS_CLASSES[status_class_index(999)], "5xx");
        assert_eq!(STATUS_CLASSES[status_class_index(101)], "1xx");
    }
}

//! The one HTTP client every probe family goes through: pinned to the checked addresses, no proxy,
//! no redirects, and bounded in requests (`--max-requests`) and time (`--timeout`, `--max-time`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use tokio::time::Instant;
use url::Url;

use super::target::Target;

/// Responses bodies are read up to this size: the probes judge status and headers, and a few
/// small JSON bodies; a hostile server must not make the probe buffer gigabytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: Method,
    /// The URL path (and query) probed, as reported in findings.
    pub path: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect()
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// `METHOD /path -> 401`, the evidence format used in messages.
    pub fn summary(&self) -> String {
        format!("{} {} -> {}", self.method, self.path, self.status.as_u16())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the request budget ({0}, --max-requests) is spent")]
    Budget(u32),
    #[error("the time limit (--max-time) is reached")]
    Deadline,
    #[error("{method} {url}: {detail}")]
    Transport {
        method: Method,
        url: String,
        detail: String,
        connect: bool,
    },
}

impl SendError {
    /// True when the run as a whole must stop (no family can send anything more).
    pub fn is_exhaustion(&self) -> bool {
        matches!(self, SendError::Budget(_) | SendError::Deadline)
    }
}

pub struct ProbeClient {
    http: reqwest::Client,
    base: Url,
    max_requests: u32,
    sent: AtomicU32,
    rate_limited: AtomicU32,
    deadline: Instant,
    progress: ProgressBar,
}

impl ProbeClient {
    pub fn new(
        target: &Target,
        max_requests: u32,
        request_timeout: Duration,
        max_time: Duration,
    ) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            // A system proxy would carry attack traffic somewhere the safety check never saw.
            .no_proxy()
            // A redirect could point anywhere, public hosts included; redirects are judged, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(request_timeout)
            .timeout(request_timeout)
            .user_agent(concat!("shasec-probe/", env!("CARGO_PKG_VERSION")));
        if target.host.parse::<std::net::IpAddr>().is_err() {
            builder = builder.resolve_to_addrs(&target.host, &target.socket_addresses());
        }
        let progress = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} probe {prefix}: {pos} requests {msg} [{elapsed}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Ok(ProbeClient {
            http: builder.build()?,
            base: target.base.clone(),
            max_requests,
            sent: AtomicU32::new(0),
            rate_limited: AtomicU32::new(0),
            deadline: Instant::now() + max_time,
            progress,
        })
    }

    /// The URL of `path` under the base URL (whose own path, if any, is kept as a prefix).
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let (path_part, query) = match path.split_once('?') {
            Some((path_part, query)) => (path_part, Some(query)),
            None => (path, None),
        };
        let prefix = self.base.path().trim_end_matches('/');
        let joined = format!("{prefix}/{}", path_part.trim_start_matches('/'));
        url.set_path(&joined);
        url.set_query(query);
        url
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub fn rate_limited_responses(&self) -> u32 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn set_family(&self, family: &'static str) {
        self.progress.set_prefix(family);
    }

    pub fn finish(&self) {
        self.progress.finish_and_clear();
    }

    /// Sends one request, counted against the budget and cut at the deadline.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        request: RequestBuilder,
    ) -> Result<Exchange, SendError> {
        if Instant::now() >= self.deadline {
            return Err(SendError::Deadline);
        }
        let previous = self.sent.fetch_add(1, Ordering::Relaxed);
        if previous >= self.max_requests {
            self.sent.fetch_sub(1, Ordering::Relaxed);
            return Err(SendError::Budget(self.max_requests));
        }
        self.progress.inc(1);
        let url = self.url(path).to_string();
        let transport = |error: reqwest::Error| SendError::Transport {
            method: method.clone(),
            url: url.clone(),
            detail: describe(&error),
            connect: error.is_connect(),
        };
        let exchange = async {
            let mut response = request.send().await.map_err(transport)?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                let room = MAX_BODY_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY_BYTES {
                    break;
                }
            }
            Ok::<_, SendError>(Exchange {
                method: method.clone(),
                path: path.to_owned(),
                status,
                headers,
                body,
            })
        };
        let exchange = tokio::time::timeout_at(self.deadline, exchange)
            .await
            .map_err(|_| SendError::Deadline)??;
        if exchange.status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        Ok(exchange)
    }

    /// Like [`send`](Self::send), but a 429 with a short `Retry-After` (≤ 5 s) is waited out and
    /// the request sent once more: a token probe must not read "rate limited" as "refused".
    pub async fn send_patiently(
        &self,
        method: Method,
        path: &str,
        request: RequestBuilder,
    ) -> Result<Exchange, SendError> {
        let retry = request.try_clone();
        let first = self.send(method.clone(), path, request).await?;
        if first.status != StatusCode::TOO_MANY_REQUESTS {
            return Ok(first);
        }
        let wait = first
            .header(RETRY_AFTER.as_str())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match (wait, retry) {
            (Some(wait), Some(retry))
                if wait <= Duration::from_secs(5) && wait < self.time_left() =>
            {
                tokio::time::sleep(wait + Duration::from_millis(100)).await;
                self.send(method, path, retry).await
            }
            _ => Ok(first),
        }
    }
}

/// reqwest's top-level message ("error sending request") hides the cause; walk the chain.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    // reqwest's own message is replaced by the kind above; its causes follow, each once.
    if let Some(cause) = std::error::Error::source(error) {
        text.push_str(": ");
        text.push_str(&crate::error_chain::one_line(cause));
    }
    text
}

//! `health`: probe a running server's liveness endpoint — the container HEALTHCHECK, which
//! must work in an image without curl. A single HTTP/1.1 GET over hyper (already in the tree
//! through axum) rather than a full HTTP client.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use axum::body::Bytes;
use axum::http::{Request, Uri, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cli::{CommandError, HealthArgs};
use crate::config::Settings;

pub async fn run(settings: &Settings, args: HealthArgs) -> Result<(), CommandError> {
    let url = match args.url {
        Some(url) => url,
        None => default_url(settings)?,
    };
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let status = tokio::time::timeout(timeout, probe(&url))
        .await
        .map_err(|_| anyhow!("no answer from {url} within {}s", timeout.as_secs()))??;
    if status != 200 {
        return Err(anyhow!("{url} answered {status}").into());
    }
    println!("ok: {url} answered 200");
    Ok(())
}

/// `http://HOST:PORT/health/live`, with a wildcard bind address replaced by loopback.
fn default_url(settings: &Settings) -> Result<String, CommandError> {
    let address = settings.listen_address()?;
    let ip = match address.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    Ok(format!("http://{ip}:{}/health/live", address.port()))
}

async fn probe(url: &str) -> Result<u16, anyhow::Error> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("`{url}` is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("only http:// URLs can be probed (the app itself never terminates TLS)");
    }
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow!("`{url}` has no host"))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let stream = TcpStream::connect((host, port))
        .await
        .with_context(|| format!("cannot connect to {authority}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake failed")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "health probe connection closed with an error");
        }
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::get(path)
        .header(header::HOST, authority.as_str())
        .header(
            header::USER_AGENT,
            concat!(env!("CARGO_PKG_NAME"), "-health"),
        )
        .body(Empty::<Bytes>::new())
        .context("cannot build the request")?;
    let response = sender
        .send_request(request)
        .await
        .context("the server closed the connection")?;
    Ok(response.status().as_u16())
}

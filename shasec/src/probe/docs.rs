//! API documentation reachable: the OpenAPI document (found while loading it) and the usual
//! documentation pages, recognised by their content so a catch-all 200 is not mistaken for docs.

use reqwest::Method;
use reqwest::header::LOCATION;

use super::client::Exchange;
use super::rules::API_DOCS_EXPOSED;
use super::{Context, Family};
use crate::finding::{Finding, Location, Severity};

const PAGE_PATHS: &[&str] = &[
    "/docs",
    "/api/v1/docs",
    "/api/docs",
    "/swagger-ui",
    "/swagger-ui/index.html",
    "/swagger",
    "/redoc",
    "/scalar",
    "/rapidoc",
    "/api-docs",
];

/// Words only a documentation page (or document) carries.
const PAGE_MARKERS: &[&str] = &[
    "swagger-ui",
    "swaggerui",
    "redoc",
    "@scalar",
    "api-reference",
    "rapi-doc",
    "openapi",
];

fn looks_like_docs(exchange: &Exchange) -> bool {
    if !exchange.is_success() {
        return false;
    }
    let head: String =
        String::from_utf8_lossy(&exchange.body[..exchange.body.len().min(64 * 1024)])
            .to_ascii_lowercase();
    if let Some(json) = exchange.json() {
        return json.get("openapi").is_some() || json.get("swagger").is_some();
    }
    PAGE_MARKERS.iter().any(|marker| head.contains(marker))
}

pub async fn probe(context: &mut Context) {
    let mut exposed: Vec<Exchange> = Vec::new();
    if let Some(served) = context
        .openapi
        .as_ref()
        .and_then(|document| document.served.clone())
    {
        exposed.push(served);
    }
    // A document given as a file says nothing about what the target serves: look at the usual
    // document paths too (a document loaded from the target is already in `exposed`).
    let document_paths: &[&str] = if exposed.is_empty() {
        super::openapi::DISCOVERY_PATHS
    } else {
        &[]
    };
    for path in document_paths.iter().chain(PAGE_PATHS) {
        let request = context.client.request(Method::GET, path);
        let mut exchange = match context.client.send(Method::GET, path, request).await {
            Ok(exchange) => exchange,
            Err(error) => {
                context.send_failed(Family::Docs, path, &error);
                break;
            }
        };
        // `/docs` often redirects to `/docs/`; follow one same-origin hop by path.
        if exchange.status.is_redirection() {
            if let Some(next) = exchange
                .header(LOCATION.as_str())
                .filter(|next| next.starts_with('/'))
            {
                let next = next.to_owned();
                let request = context.client.request(Method::GET, &next);
                match context.client.send(Method::GET, &next, request).await {
                    Ok(followed) => exchange = followed,
                    Err(error) => {
                        context.send_failed(Family::Docs, &next, &error);
                        break;
                    }
                }
            }
        }
        if looks_like_docs(&exchange) && !exposed.iter().any(|seen| seen.path == exchange.path) {
            exposed.push(exchange);
        }
    }
    let severity = if context.plan.args.expect_prod {
        Severity::Medium
    } else {
        Severity::Info
    };
    for exchange in exposed {
        context.add(
            Finding::new(
                &API_DOCS_EXPOSED,
                Location::file(&exchange.path),
                format!(
                    "{} serves API documentation{}",
                    exchange.summary(),
                    if context.plan.args.expect_prod {
                        " to anyone (--expect-prod)"
                    } else {
                        " (expected in development; must be off in production)"
                    }
                ),
            )
            .with_severity(severity),
        );
    }
}

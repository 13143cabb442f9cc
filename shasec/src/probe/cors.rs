//! CORS: the origins ZAP's rule 40040 sends (a random domain, `null`, the API's host as a prefix
//! and as a suffix of a foreign domain, a backtick trick against loose regexes, HTTP for an HTTPS
//! API) on a simple GET and on a credentialed preflight of the oracle and refresh routes.

use reqwest::Method;
use reqwest::header::ORIGIN;

use super::client::Exchange;
use super::rules::{CORS_REFLECTED, CORS_REFLECTED_WITH_CREDENTIALS, CORS_WILDCARD};
use super::{Context, Family};
use crate::finding::{Finding, Location};

/// The hostile origins for a target, each with why it is hostile.
pub fn hostile_origins(scheme: &str, authority: &str, random: &str) -> Vec<(String, &'static str)> {
    let mut origins = vec![
        (
            format!("{scheme}://{random}.com"),
            "a random foreign domain",
        ),
        (
            "null".to_owned(),
            "the `null` origin (sandboxed frames, file: pages)",
        ),
        (
            format!("{scheme}://{random}.{authority}"),
            "the API's host as a suffix (a look-alike subdomain)",
        ),
        (
            format!("{scheme}://{authority}.{random}.com"),
            "the API's host as a prefix of a foreign domain",
        ),
        (
            format!("{scheme}://{authority}%60{random}.com"),
            "a backtick trick against loose origin regexes",
        ),
    ];
    if scheme == "https" {
        origins.push((
            format!("http://{authority}"),
            "the API's own host over plain HTTP (scheme downgrade)",
        ));
    }
    origins
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Trust {
    Wildcard,
    Reflected,
    ReflectedWithCredentials,
}

fn judge(exchange: &Exchange, origin: &str) -> Option<Trust> {
    let allowed = exchange.header("access-control-allow-origin")?.trim();
    let credentials = exchange
        .header("access-control-allow-credentials")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    if allowed == "*" {
        // Browsers refuse credentials with `*`; the wildcard itself is the finding.
        return Some(Trust::Wildcard);
    }
    if allowed.eq_ignore_ascii_case(origin) {
        return Some(if credentials {
            Trust::ReflectedWithCredentials
        } else {
            Trust::Reflected
        });
    }
    None
}

pub async fn probe(context: &mut Context) {
    let random = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let scheme = context.target.base.scheme().to_owned();
    let origins = hostile_origins(&scheme, &context.target.authority(), &random);
    let me_path = context.endpoints.me.clone();
    let refresh_path = context.endpoints.refresh.clone();
    // (path, trust, origin, why, evidence)
    let mut hits: Vec<(String, Trust, String, &'static str, String)> = Vec::new();
    let mut checks: Vec<(Method, String, String, &'static str)> = Vec::new();
    for (origin, why) in &origins {
        checks.push((Method::GET, me_path.clone(), origin.clone(), why));
    }
    for (origin, why) in origins.iter().take(2) {
        checks.push((Method::OPTIONS, me_path.clone(), origin.clone(), why));
        checks.push((Method::OPTIONS, refresh_path.clone(), origin.clone(), why));
    }
    for (method, path, origin, why) in checks {
        let mut request = context
            .client
            .request(method.clone(), &path)
            .header(ORIGIN, &origin);
        if method == Method::OPTIONS {
            let preflight_method = if path == refresh_path { "POST" } else { "GET" };
            request = request
                .header("access-control-request-method", preflight_method)
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                );
        }
        let exchange = match context.client.send(method.clone(), &path, request).await {
            Ok(exchange) => exchange,
            Err(error) => {
                context.send_failed(Family::Cors, &path, &error);
                break;
            }
        };
        if let Some(trust) = judge(&exchange, &origin) {
            let evidence = format!(
                "{} with Origin `{origin}` -> Access-Control-Allow-Origin `{}`{}",
                exchange.summary(),
                exchange
                    .header("access-control-allow-origin")
                    .unwrap_or_default(),
                exchange
                    .header("access-control-allow-credentials")
                    .map(|value| format!(", Access-Control-Allow-Credentials `{value}`"))
                    .unwrap_or_default()
            );
            hits.push((path, trust, origin, why, evidence));
        }
    }
    // One finding per route and trust level, naming every origin that got through.
    hits.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut reported: Vec<(String, Trust)> = Vec::new();
    for (path, trust, _, _, _) in &hits {
        if reported.contains(&(path.clone(), *trust)) {
            continue;
        }
        reported.push((path.clone(), *trust));
        let same: Vec<String> = hits
            .iter()
            .filter(|hit| hit.0 == *path && hit.1 == *trust)
            .map(|hit| format!("{} [{}]", hit.4, hit.3))
            .collect();
        let rule = match trust {
            Trust::ReflectedWithCredentials => &CORS_REFLECTED_WITH_CREDENTIALS,
            Trust::Reflected => &CORS_REFLECTED,
            Trust::Wildcard => &CORS_WILDCARD,
        };
        context.add(Finding::new(rule, Location::file(path), same.join("; ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_follow_zap_40040() {
        let http = hostile_origins("http", "api.local:8080", "abc");
        let values: Vec<&str> = http.iter().map(|(origin, _)| origin.as_str()).collect();
        assert_eq!(
            values,
            [
                "http://abc.com",
                "null",
                "http://abc.api.local:8080",
                "http://api.local:8080.abc.com",
                "http://api.local:8080%60abc.com",
            ]
        );
        let https = hostile_origins("https", "api.local", "abc");
        assert!(https.iter().any(|(origin, _)| origin == "http://api.local"));
    }
}

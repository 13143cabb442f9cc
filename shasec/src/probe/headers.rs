//! Security headers on API responses (the OWASP REST Security Cheat Sheet baseline) and
//! version banners. Judged on responses the other families already received — the login answer,
//! the authenticated and unauthenticated oracle answers — plus the authenticated one if missing.
//! The README's probe section states which header is required where; keep both in step.

use reqwest::Method;

use super::client::Exchange;
use super::rules::{SECURITY_HEADER_MISSING, SENSITIVE_RESPONSE_CACHEABLE, SERVER_BANNER};
use super::{Context, Family};
use crate::finding::{Finding, Location, Severity};

/// Headers whose presence alone discloses the stack.
const BANNER_HEADERS: &[&str] = &[
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-runtime",
    "x-generator",
    "x-version",
];

pub async fn probe(context: &mut Context) {
    let me_path = context.endpoints.me.clone();
    let has_authenticated_sample = context
        .samples
        .iter()
        .any(|exchange| exchange.path == me_path && exchange.is_success());
    if !has_authenticated_sample {
        if let Some(session) = context.session.clone() {
            let request = session.present(
                context.client.request(Method::GET, &me_path),
                &session.token,
            );
            match context
                .client
                .send_patiently(Method::GET, &me_path, request)
                .await
            {
                Ok(exchange) => context.sample(&exchange),
                Err(error) => context.send_failed(Family::Headers, &me_path, &error),
            }
        }
    }
    let mut samples: Vec<Exchange> = Vec::new();
    for exchange in &context.samples {
        let seen = samples.iter().any(|kept| {
            kept.method == exchange.method
                && kept.path == exchange.path
                && kept.status == exchange.status
        });
        if !seen && exchange.status.as_u16() != 429 {
            samples.push(exchange.clone());
        }
    }
    let sensitive_paths = [
        context.endpoints.login.clone(),
        context.endpoints.refresh.clone(),
        me_path,
    ];
    let findings = judge(&samples, &sensitive_paths, context.target.https);
    for finding in findings {
        context.add(finding);
    }
}

/// One missing header over the responses that lack it.
struct Missing {
    header: &'static str,
    severity: Severity,
    why: &'static str,
    responses: Vec<String>,
    first_path: Option<String>,
}

impl Missing {
    fn new(header: &'static str, severity: Severity, why: &'static str) -> Self {
        Missing {
            header,
            severity,
            why,
            responses: Vec::new(),
            first_path: None,
        }
    }

    fn record(&mut self, exchange: &Exchange) {
        self.first_path.get_or_insert_with(|| exchange.path.clone());
        self.responses.push(exchange.summary());
    }
}

/// The pure judgement, separated from the traffic so it is unit-tested.
pub fn judge(samples: &[Exchange], sensitive_paths: &[String], https: bool) -> Vec<Finding> {
    let mut nosniff = Missing::new(
        "X-Content-Type-Options: nosniff",
        Severity::Medium,
        "browsers may sniff a JSON body as HTML or script",
    );
    let mut framing = Missing::new(
        "X-Frame-Options: DENY (or CSP frame-ancestors)",
        Severity::Low,
        "the response can be framed (clickjacking)",
    );
    let mut csp = Missing::new(
        "Content-Security-Policy",
        Severity::Low,
        "an API response should forbid everything: default-src 'none'; frame-ancestors 'none'",
    );
    let mut referrer = Missing::new(
        "Referrer-Policy",
        Severity::Info,
        "URLs may leak in the Referer header",
    );
    let mut permissions = Missing::new(
        "Permissions-Policy",
        Severity::Info,
        "browser features are not switched off for API responses",
    );
    let mut hsts = Missing::new(
        "Strict-Transport-Security",
        Severity::Medium,
        "the first plain-HTTP request can be intercepted and downgraded",
    );
    let mut cacheable = Vec::new();
    let mut banners = Vec::new();
    for exchange in samples {
        if !exchange
            .header("x-content-type-options")
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("nosniff"))
        {
            nosniff.record(exchange);
        }
        let policy = exchange.header("content-security-policy");
        let frame_ancestors =
            policy.is_some_and(|value| value.to_ascii_lowercase().contains("frame-ancestors"));
        let frame_options = exchange.header("x-frame-options").is_some_and(|value| {
            let value = value.trim();
            value.eq_ignore_ascii_case("deny") || value.eq_ignore_ascii_case("sameorigin")
        });
        if !frame_options && !frame_ancestors {
            framing.record(exchange);
        }
        if policy.is_none() {
            csp.record(exchange);
        }
        if exchange.header("referrer-policy").is_none() {
            referrer.record(exchange);
        }
        if exchange.header("permissions-policy").is_none() {
            permissions.record(exchange);
        }
        if https && exchange.header("strict-transport-security").is_none() {
            hsts.record(exchange);
        }
        let sensitive = exchange.is_success() && sensitive_paths.contains(&exchange.path);
        let no_store = exchange
            .header_values("cache-control")
            .iter()
            .any(|value| value.to_ascii_lowercase().contains("no-store"));
        if sensitive && !no_store {
            cacheable.push(exchange.clone());
        }
        if let Some(server) = exchange.header("server") {
            if server.chars().any(|c| c.is_ascii_digit()) {
                banners.push((exchange.path.clone(), format!("Server: {server}")));
            }
        }
        for name in BANNER_HEADERS {
            if let Some(value) = exchange.header(name) {
                banners.push((exchange.path.clone(), format!("{name}: {value}")));
            }
        }
    }
    let mut findings = Vec::new();
    for missing in [nosniff, framing, csp, referrer, permissions, hsts] {
        let Some(path) = missing.first_path else {
            continue;
        };
        findings.push(
            Finding::new(
                &SECURITY_HEADER_MISSING,
                Location::file(path),
                format!(
                    "`{}` missing ({}) on {}",
                    missing.header,
                    missing.why,
                    missing.responses.join("; ")
                ),
            )
            .with_severity(missing.severity),
        );
    }
    for exchange in cacheable {
        let seen = exchange.header_values("cache-control").join(", ");
        let message = if seen.is_empty() {
            format!(
                "{}: Cache-Control is absent (needs `no-store`)",
                exchange.summary()
            )
        } else {
            format!(
                "{} has Cache-Control `{seen}`, not `no-store`",
                exchange.summary()
            )
        };
        findings.push(Finding::new(
            &SENSITIVE_RESPONSE_CACHEABLE,
            Location::file(&exchange.path),
            message,
        ));
    }
    // One finding per banner, at the first path that showed it.
    banners.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    banners.dedup_by(|later, earlier| later.1 == earlier.1);
    for (path, banner) in banners {
        findings.push(Finding::new(
            &SERVER_BANNER,
            Location::file(&path),
            format!("`{banner}` discloses the server software"),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    fn exchange(path: &str, status: u16, headers: &[(&str, &str)]) -> Exchange {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::try_from(*name), HeaderValue::from_str(value))
            {
                map.append(name, value);
            }
        }
        Exchange {
            method: Method::GET,
            path: path.to_owned(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            headers: map,
            body: Vec::new(),
        }
    }

    const HARDENED: &[(&str, &str)] = &[
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("referrer-policy", "no-referrer"),
        ("permissions-policy", "camera=()"),
        ("cache-control", "no-store"),
        ("strict-transport-security", "max-age=63072000"),
        ("server", "axum"),
    ];

    #[test]
    fn hardened_responses_have_no_header_findings() {
        let samples = [
            exchange("/me", 200, HARDENED),
            exchange("/me", 401, HARDENED),
        ];
        assert!(judge(&samples, &["/me".to_owned()], true).is_empty());
    }

    #[test]
    fn bare_responses_miss_every_header_and_leak_banners() {
        let samples = [exchange(
            "/me",
            200,
            &[("server", "nginx/1.25.3"), ("x-powered-by", "Express")],
        )];
        let findings = judge(&samples, &["/me".to_owned()], true);
        let count = |rule: &str| {
            findings
                .iter()
                .filter(|finding| finding.rule == rule)
                .count()
        };
        assert_eq!(count("SHA140"), 6);
        assert_eq!(count("SHA141"), 1);
        assert_eq!(count("SHA142"), 2);
        let nosniff = findings
            .iter()
            .find(|finding| finding.message.contains("nosniff"));
        assert_eq!(
            nosniff.map(|finding| finding.severity),
            Some(Severity::Medium)
        );
    }

    #[test]
    fn a_missing_cache_control_is_called_absent_and_a_weak_one_is_quoted() {
        let absent = judge(
            &[exchange("/me", 200, &HARDENED[..5])],
            &["/me".to_owned()],
            false,
        );
        let message = absent
            .iter()
            .find(|finding| finding.rule == "SHA141")
            .map(|finding| finding.message.clone())
            .unwrap_or_default();
        assert!(message.contains("Cache-Control is absent"), "{message}");
        assert!(!message.contains("`none`"), "{message}");
        let mut weak = HARDENED[..5].to_vec();
        weak.push(("cache-control", "private, max-age=60"));
        let quoted = judge(&[exchange("/me", 200, &weak)], &["/me".to_owned()], false);
        let message = quoted
            .iter()
            .find(|finding| finding.rule == "SHA141")
            .map(|finding| finding.message.clone())
            .unwrap_or_default();
        assert!(
            message.contains("`private, max-age=60`, not `no-store`"),
            "{message}"
        );
        let good = judge(
            &[exchange("/me", 200, HARDENED)],
            &["/me".to_owned()],
            false,
        );
        assert!(good.iter().all(|finding| finding.rule != "SHA141"));
    }

    #[test]
    fn hsts_is_only_judged_over_https() {
        let samples = [exchange("/me", 200, &HARDENED[..6])];
        assert!(judge(&samples, &["/me".to_owned()], false).is_empty());
        assert_eq!(judge(&samples, &["/me".to_owned()], true).len(), 1);
    }
}

//! Cookie flags on every `Set-Cookie` of the login response and of one refresh made with the
//! login's cookies (the refresh rotates the session; the access token stays valid).

use cookie::{Cookie, SameSite};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, COOKIE};

use super::client::Exchange;
use super::rules::{
    COOKIE_NOT_HTTPONLY, COOKIE_NOT_SECURE, COOKIE_SAMESITE_WEAK, COOKIE_SCOPE_BROAD,
};
use super::{Context, Family};
use crate::finding::{Finding, Location, Severity};

pub async fn probe(context: &mut Context) {
    let login_path = context.endpoints.login.clone();
    let Some(login) = context
        .session
        .as_ref()
        .and_then(|session| session.login.clone())
    else {
        let reason = if context.session.is_some() {
            "a --token was given, so there is no login response whose cookies could be judged"
        } else {
            "no login: give --credentials or --register"
        };
        context.incomplete(Family::Cookies, &login_path, format!("skipped: {reason}"));
        return;
    };
    let mut responses = vec![login.clone()];
    let pairs: Vec<String> = set_cookies(&login)
        .iter()
        .filter(|cookie| !is_removal(cookie))
        .map(|cookie| format!("{}={}", cookie.name(), cookie.value()))
        .collect();
    if !pairs.is_empty() {
        let refresh_path = context.endpoints.refresh.clone();
        let request = context
            .client
            .request(Method::POST, &refresh_path)
            .header(COOKIE, pairs.join("; "))
            .header(CONTENT_TYPE, "application/json")
            .body("{}");
        match context
            .client
            .send_patiently(Method::POST, &refresh_path, request)
            .await
        {
            Ok(exchange) if exchange.is_success() => {
                context.sample(&exchange);
                responses.push(exchange);
            }
            Ok(_) => {}
            Err(error) => context.send_failed(Family::Cookies, &refresh_path, &error),
        }
    }
    let strict = context.target.https || context.plan.args.expect_prod;
    let session_cookie = context
        .session
        .as_ref()
        .and_then(|session| session.cookie_name().map(str::to_owned));
    for exchange in &responses {
        for finding in judge(exchange, strict, session_cookie.as_deref()) {
            context.add(finding);
        }
    }
}

fn set_cookies(exchange: &Exchange) -> Vec<Cookie<'static>> {
    exchange
        .header_values("set-cookie")
        .into_iter()
        .filter_map(|value| Cookie::parse(value.to_owned()).ok())
        .collect()
}

/// A cookie being deleted (logout-style `Max-Age=0` or empty value) carries nothing to protect.
fn is_removal(cookie: &Cookie<'_>) -> bool {
    cookie.value().is_empty() || cookie.max_age().is_some_and(|age| age.whole_seconds() <= 0)
}

/// Judges every cookie a response sets. `strict`: HTTPS target or `--expect-prod`.
/// `session_cookie`: the cookie a cookie session lives in, which every route needs (so `Path=/`
/// is right for it).
pub fn judge(exchange: &Exchange, strict: bool, session_cookie: Option<&str>) -> Vec<Finding> {
    let baseline_path = &exchange.path;
    let mut findings = Vec::new();
    for cookie in set_cookies(exchange) {
        if is_removal(&cookie) {
            continue;
        }
        let name = cookie.name().to_owned();
        let location = || Location::file(baseline_path);
        let seen = format!("{} sets cookie `{name}`", exchange.summary());
        if cookie.http_only() != Some(true) {
            findings.push(Finding::new(
                &COOKIE_NOT_HTTPONLY,
                location(),
                format!("{seen} without HttpOnly"),
            ));
        }
        let secure = cookie.secure() == Some(true);
        if !secure {
            let finding = Finding::new(
                &COOKIE_NOT_SECURE,
                location(),
                format!("{seen} without Secure"),
            );
            findings.push(if strict {
                finding
            } else {
                Finding {
                    message: format!(
                        "{seen} without Secure (acceptable only on a plain-HTTP development server)"
                    ),
                    ..finding.with_severity(Severity::Info)
                }
            });
        }
        match cookie.same_site() {
            Some(SameSite::Lax | SameSite::Strict) => {}
            Some(SameSite::None) => {
                let finding = Finding::new(
                    &COOKIE_SAMESITE_WEAK,
                    location(),
                    format!(
                        "{seen} with SameSite=None{}",
                        if secure { "" } else { " and without Secure" }
                    ),
                );
                findings.push(if secure {
                    finding
                } else {
                    finding.with_severity(Severity::Medium)
                });
            }
            None => findings.push(Finding::new(
                &COOKIE_SAMESITE_WEAK,
                location(),
                format!("{seen} without SameSite"),
            )),
        }
        let site_wide = cookie
            .path()
            .is_none_or(|path| path.trim() == "/" || path.trim().is_empty());
        if site_wide && session_cookie != Some(name.as_str()) {
            findings.push(Finding::new(
                &COOKIE_SCOPE_BROAD,
                location(),
                format!(
                    "{seen} with {}",
                    cookie
                        .path()
                        .map_or("no Path".to_owned(), |path| format!("Path={path}"))
                ),
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn response(cookies: &[&str]) -> Exchange {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                headers.append("set-cookie", value);
            }
        }
        Exchange {
            method: Method::POST,
            path: "/api/v1/auth/login".to_owned(),
            status: StatusCode::OK,
            headers,
            body: Vec::new(),
        }
    }

    #[test]
    fn a_hardened_refresh_cookie_passes() {
        let exchange = response(&[
            "refresh=abc; HttpOnly; Secure; SameSite=Lax; Path=/api/v1/auth; Max-Age=600",
        ]);
        assert!(judge(&exchange, true, None).is_empty());
    }

    #[test]
    fn a_bare_cookie_fails_every_check() {
        let exchange = response(&["session=abc"]);
        let rules: Vec<String> = judge(&exchange, true, None)
            .into_iter()
            .map(|finding| finding.rule)
            .collect();
        assert_eq!(rules, ["SHA160", "SHA161", "SHA162", "SHA163"]);
        let as_session = judge(&exchange, true, Some("session"));
        assert!(as_session.iter().all(|finding| finding.rule != "SHA163"));
    }

    #[test]
    fn missing_secure_is_info_on_plain_http_dev() {
        let exchange = response(&["refresh=abc; HttpOnly; SameSite=Strict; Path=/auth"]);
        let findings = judge(&exchange, false, None);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Info);
        assert_eq!(judge(&exchange, true, None)[0].severity, Severity::Medium);
    }

    #[test]
    fn samesite_none_without_secure_is_medium_and_removals_are_ignored() {
        let exchange = response(&["a=1; HttpOnly; SameSite=None; Path=/x", "b=; Max-Age=0"]);
        let findings = judge(&exchange, false, None);
        let samesite = findings.iter().find(|finding| finding.rule == "SHA162");
        assert_eq!(
            samesite.map(|finding| finding.severity),
            Some(Severity::Medium)
        );
        assert!(
            findings
                .iter()
                .all(|finding| !finding.message.contains("`b`"))
        );
    }
}

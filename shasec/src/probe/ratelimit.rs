//! Login rate limiting: a bounded burst of failed logins must end in 429 (or announce a limit with
//! `Retry-After` / `RateLimit` headers); once limited, requests claiming another client IP through
//! `X-Forwarded-For`, `X-Real-IP` or `Forwarded` must stay limited — the original tool's limiter
//! trusted XFF, so rotating it evaded the limit. Runs last among the HTTP families: it locks the
//! probe's address out of the login route for the limiter's window.

use reqwest::{Method, StatusCode};

use super::baseline::login_request;
use super::client::Exchange;
use super::discover::takes_email;
use super::rules::{LOGIN_NOT_RATE_LIMITED, RATE_LIMIT_BYPASS};
use super::{Context, Family};
use crate::finding::{Finding, Location};

const LIMIT_HEADERS: &[&str] = &[
    "retry-after",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-policy",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
];

fn announces_limit(exchange: &Exchange) -> bool {
    LIMIT_HEADERS
        .iter()
        .any(|name| exchange.headers.contains_key(*name))
}

/// Spoofed client addresses from the documentation ranges (RFC 5737): never real hosts.
fn spoofed_headers(round: u8) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let ip = |n: u8| format!("203.0.113.{}", 10 + n);
    vec![
        ("X-Forwarded-For", vec![("x-forwarded-for", ip(round))]),
        ("X-Real-IP", vec![("x-real-ip", ip(round + 1))]),
        (
            "Forwarded",
            vec![("forwarded", format!("for={}", ip(round + 2)))],
        ),
        (
            "X-Forwarded-For, X-Real-IP, Forwarded, True-Client-IP and CF-Connecting-IP together",
            vec![
                ("x-forwarded-for", format!("198.51.100.{}", 20 + round)),
                ("x-real-ip", format!("198.51.100.{}", 20 + round)),
                ("forwarded", format!("for=198.51.100.{}", 20 + round)),
                ("true-client-ip", format!("198.51.100.{}", 20 + round)),
                ("cf-connecting-ip", format!("198.51.100.{}", 20 + round)),
            ],
        ),
    ]
}

async fn bad_login(
    context: &mut Context,
    email: &str,
    extra_headers: &[(&'static str, String)],
) -> Option<Exchange> {
    let path = context.endpoints.login.clone();
    // The user's shape follows the login's: an email for an email field, a bare name otherwise.
    let user = if takes_email(&context.endpoints.login_body) {
        email
    } else {
        email.split('@').next().unwrap_or(email)
    };
    let mut request = login_request(context, user, "shasec-wrong-password-0000");
    for (name, value) in extra_headers {
        request = request.header(*name, value);
    }
    match context.client.send(Method::POST, &path, request).await {
        Ok(exchange) => Some(exchange),
        Err(error) => {
            context.send_failed(Family::Ratelimit, &path, &error);
            None
        }
    }
}

pub async fn probe(context: &mut Context) {
    let login_path = context.endpoints.login.clone();
    // A throwaway address: the account the probe logged in with is not locked out.
    let email = format!(
        "shasec-ratelimit-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let attempts = context.plan.args.login_attempts;
    let mut limited: Option<Exchange> = None;
    let mut announced: Option<Exchange> = None;
    let mut statuses: Vec<u16> = Vec::new();
    for _ in 0..attempts {
        let Some(exchange) = bad_login(context, &email, &[]).await else {
            return;
        };
        statuses.push(exchange.status.as_u16());
        if exchange.status == StatusCode::NOT_FOUND
            || exchange.status == StatusCode::METHOD_NOT_ALLOWED
        {
            context.incomplete(
                Family::Ratelimit,
                &login_path,
                format!(
                    "{}: no login route there; give --login-path",
                    exchange.summary()
                ),
            );
            return;
        }
        if exchange.status.is_success() {
            context.incomplete(
                Family::Ratelimit,
                &login_path,
                format!(
                    "{}: a login with a wrong password succeeded?",
                    exchange.summary()
                ),
            );
            return;
        }
        if exchange.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(exchange);
            break;
        }
        if announced.is_none() && announces_limit(&exchange) {
            announced = Some(exchange);
        }
    }
    let Some(limited) = limited else {
        if announced.is_none() {
            context.add(Finding::new(
                &LOGIN_NOT_RATE_LIMITED,
                Location::file(&login_path),
                format!(
                    "{attempts} failed logins in a row got {:?}, never 429 and no Retry-After/RateLimit header",
                    statuses
                ),
            ));
        } else {
            context.incomplete(
                Family::Ratelimit,
                &login_path,
                format!(
                    "the login announces a limit (headers) but {attempts} failures did not reach it; \
                     header-rotation bypass not tested (raise --login-attempts)"
                ),
            );
        }
        return;
    };
    // Each spoofed request and the control use a fresh account name, so that only the client
    // address can explain a difference (a per-account limit would answer 429 whatever the header).
    let fresh_email = || {
        format!(
            "shasec-ratelimit-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        )
    };
    let mut bypasses = Vec::new();
    for (label, headers) in spoofed_headers(0) {
        let Some(exchange) = bad_login(context, &fresh_email(), &headers).await else {
            return;
        };
        if exchange.status != StatusCode::TOO_MANY_REQUESTS {
            bypasses.push(format!("{label} -> {}", exchange.status.as_u16()));
        }
    }
    // Control: without spoofed headers the limit must still hold for this address.
    let Some(control) = bad_login(context, &fresh_email(), &[]).await else {
        return;
    };
    if bypasses.is_empty() {
        return;
    }
    if control.status == StatusCode::TOO_MANY_REQUESTS {
        context.add(Finding::new(
            &RATE_LIMIT_BYPASS,
            Location::file(&login_path),
            format!(
                "after {} ({} failed logins), requests with invented client addresses got through: {}; \
                 the same request without them is still 429",
                limited.summary(),
                statuses.len(),
                bypasses.join(", ")
            ),
        ));
    } else {
        context.incomplete(
            Family::Ratelimit,
            &login_path,
            format!(
                "a new account from the same address is not limited (control request -> {}): the \
                 limit is per account only, or its window expired; header rotation could not be judged",
                control.status.as_u16()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoofed_addresses_are_documentation_addresses() {
        for (_, headers) in spoofed_headers(3) {
            for (_, value) in headers {
                assert!(
                    value.contains("203.0.113.") || value.contains("198.51.100."),
                    "{value}"
                );
            }
        }
    }
}

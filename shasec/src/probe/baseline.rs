//! The authenticated baseline: get a valid token (login, --token or --register), then learn what
//! "accepted" and "refused" look like before any attack is judged — valid token, no token, broken
//! signature, valid again (the sequence jwt_tool uses). The original tool skipped this and could
//! not tell "unknown token" from "bad signature"; here every token attack is judged against it.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use super::client::{Exchange, SendError};
use super::discover::{Origin, takes_email};
use super::login::{Carrier, TokenField, find_token};
use super::rules::{JWT_SIGNATURE_NOT_VERIFIED, PROBE_INCOMPLETE, PROBE_SESSION};
use super::{Context, Family, ProbeError};
use crate::finding::{Finding, Location};

/// How the probe is logged in.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    /// Bearer header or session cookie.
    pub carrier: Carrier,
    /// The login response (its Set-Cookie headers are judged by the cookies family).
    pub login: Option<Exchange>,
    /// How the session was obtained, for the report's note (SHA101).
    pub described: String,
}

impl Session {
    /// `request` carrying `token` the way this session carries its own.
    pub fn present(&self, request: RequestBuilder, token: &str) -> RequestBuilder {
        self.carrier.present(request, token)
    }

    /// The name of the session cookie, when the session is a cookie.
    pub fn cookie_name(&self) -> Option<&str> {
        match &self.carrier {
            Carrier::Cookie { name, .. } => Some(name),
            Carrier::Bearer => None,
        }
    }
}

/// What the oracle route answered to the four baseline requests.
#[derive(Debug, Clone)]
pub struct Oracle {
    pub valid: Exchange,
    pub no_token: Exchange,
    pub broken: Exchange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answered like the valid token (2xx).
    Accepted,
    /// Answered like no token or a broken signature (or 401/403).
    Refused,
    RateLimited,
    /// Neither: a 5xx, a redirect… — judged as not accepted, and said so.
    Unclear(StatusCode),
}

impl Oracle {
    pub fn judge(&self, exchange: &Exchange) -> Verdict {
        let status = exchange.status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            Verdict::RateLimited
        } else if status.is_success() {
            Verdict::Accepted
        } else if status == self.no_token.status
            || status == self.broken.status
            || status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN
        {
            Verdict::Refused
        } else {
            Verdict::Unclear(status)
        }
    }

    /// The identity the valid token's response names (`id`, `sub` or `email`), to spot a token
    /// that was accepted as somebody else.
    pub fn identity(exchange: &Exchange) -> Option<Value> {
        let body = exchange.json()?;
        ["id", "sub", "user_id", "email", "username"]
            .iter()
            .find_map(|key| {
                body.get(key)
                    .or_else(|| body.get("user").and_then(|user| user.get(key)))
            })
            .cloned()
    }
}

/// One request to the oracle route without credentials: fails the run (exit 2) when the API cannot
/// be reached at all, since a report of nothing would read as a pass.
pub async fn check_reachable(context: &mut Context) -> Result<(), ProbeError> {
    let http_family = context
        .plan
        .families
        .iter()
        .any(|family| *family != Family::Ports);
    if !http_family {
        return Ok(());
    }
    let path = context.endpoints.me.clone();
    let request = context.client.request(Method::GET, &path);
    match context.client.send(Method::GET, &path, request).await {
        Ok(exchange) => {
            context.sample(&exchange);
            Ok(())
        }
        Err(error) => Err(ProbeError::Unreachable(error.to_string())),
    }
}

/// Gets the token the token probes start from. No credentials is not an error: the families that
/// need a session say they were skipped.
pub async fn establish(context: &mut Context) -> Result<(), ProbeError> {
    let args = &context.plan.args;
    if let Some(token) = &args.token {
        context.session = Some(Session {
            token: token.trim().to_owned(),
            carrier: Carrier::Bearer,
            login: None,
            described: "token given with --token, sent as `Authorization: Bearer`".to_owned(),
        });
        return Ok(());
    }
    let (user, password) = if args.register {
        let account = throwaway_account();
        register(context, &account.0, &account.1).await?;
        account
    } else if let Some(credentials) = &args.credentials {
        (credentials.user.clone(), credentials.password.clone())
    } else {
        return Ok(());
    };
    let session = login(context, &user, &password).await?;
    if let Some(exchange) = &session.login {
        context.sample(exchange);
    }
    context.session = Some(session);
    Ok(())
}

/// Adds the login body for `user` to a POST of the login route (the rate-limit family sends
/// failed logins in the same shape).
pub fn login_request(context: &Context, user: &str, password: &str) -> RequestBuilder {
    let request = context
        .client
        .request(Method::POST, &context.endpoints.login);
    context.endpoints.login_body.apply(request, user, password)
}

/// A random email and a password no policy refuses (long, mixed, unrelated to the email).
fn throwaway_account() -> (String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let secret = uuid::Uuid::new_v4().simple().to_string();
    (
        format!("shasec-probe-{}@example.com", &id[..12]),
        format!("Pr0be!{secret}-{}", &id[12..20]),
    )
}

async fn register(context: &mut Context, email: &str, password: &str) -> Result<(), ProbeError> {
    let path = context.endpoints.register.clone();
    // A user-name login gets a user name too (the part of the email before `@`).
    let mut body = json!({ "email": email, "password": password });
    if !takes_email(&context.endpoints.login_body) {
        let name = email.split('@').next().unwrap_or(email);
        body["username"] = json!(name);
    }
    let request = context.client.request(Method::POST, &path).json(&body);
    let exchange = context
        .client
        .send_patiently(Method::POST, &path, request)
        .await
        .map_err(|error| ProbeError::Authentication(format!("--register failed: {error}")))?;
    if !exchange.is_success() {
        return Err(ProbeError::Authentication(format!(
            "--register failed: {} {}; check --register-path, or log in with --credentials",
            exchange.summary(),
            excerpt(&exchange.body)
        )));
    }
    Ok(())
}

async fn login(context: &mut Context, user: &str, password: &str) -> Result<Session, ProbeError> {
    let path = context.endpoints.login.clone();
    let shape = context.endpoints.login_body.describe(user);
    let how = format!(
        "POST {path} ({}) with {shape} ({})",
        context.endpoints.login_origin.describe(),
        context.endpoints.body_origin.describe()
    );
    let request = login_request(context, user, password);
    let exchange = context
        .client
        .send_patiently(Method::POST, &path, request)
        .await
        .map_err(|error| ProbeError::Authentication(format!("login failed: {error}")))?;
    if !exchange.is_success() {
        let hint = match (
            context.endpoints.login_origin,
            context.endpoints.body_origin,
        ) {
            (Origin::Default, _) => {
                "the OpenAPI document names no login operation: give --login-path (and \
                 --login-body if it does not take {\"email\",\"password\"})"
            }
            (_, Origin::Default) => "give --login-body if the login takes other fields",
            _ => "check --credentials",
        };
        return Err(ProbeError::Authentication(format!(
            "login failed: {} {}; sent {how}; {hint}",
            exchange.summary(),
            excerpt(&exchange.body)
        )));
    }
    let field = context
        .plan
        .args
        .token_field
        .clone()
        .unwrap_or(TokenField::Auto);
    let found = find_token(&exchange, &field).map_err(|reason| {
        ProbeError::Authentication(format!(
            "login answered {}, but {reason}",
            exchange.summary()
        ))
    })?;
    Ok(Session {
        described: format!(
            "logged in with {how}; token from {}, {}",
            found.source,
            found.carrier.describe()
        ),
        token: found.token,
        carrier: found.carrier,
        login: Some(exchange),
    })
}

/// A short, printable excerpt of a response body for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().filter(|c| !c.is_control()).take(160).collect();
    if text.is_empty() {
        String::new()
    } else {
        format!("({text})")
    }
}

/// The same token with its signature's first byte flipped (or, for an opaque token, its last character changed).
pub fn break_signature(token: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if let Some((signing_input, signature)) = token.rsplit_once('.') {
        if let Ok(mut bytes) = URL_SAFE_NO_PAD.decode(signature) {
            if let Some(first) = bytes.first_mut() {
                *first ^= 0x5a;
                return format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(bytes));
            }
        }
    }
    let mut broken: String = token
        .chars()
        .take(token.chars().count().saturating_sub(1))
        .collect();
    broken.push(if token.ends_with('A') { 'B' } else { 'A' });
    broken
}

/// Sends `token` (or nothing) to the oracle route, the way the session carries its token.
pub async fn call_oracle(context: &Context, token: Option<&str>) -> Result<Exchange, SendError> {
    let path = &context.endpoints.me;
    let mut request = context.client.request(Method::GET, path);
    if let Some(token) = token {
        request = match &context.session {
            Some(session) => session.present(request, token),
            None => Carrier::Bearer.present(request, token),
        };
    }
    context
        .client
        .send_patiently(Method::GET, path, request)
        .await
}

/// Runs the four baseline requests. `None` means the oracle cannot tell accepted from refused:
/// the reason is reported (SHA100) and the token probes are skipped rather than guessed.
pub async fn build_oracle(
    context: &mut Context,
    session: &Session,
) -> Result<Option<Oracle>, SendError> {
    let me_path = context.endpoints.me.clone();
    let valid = call_oracle(context, Some(&session.token)).await?;
    context.sample(&valid);
    if !valid.is_success() {
        context.incomplete(
            Family::Jwt,
            &me_path,
            format!(
                "the baseline token is not accepted ({}): the oracle cannot tell accepted from refused, \
                 so the token probes were skipped; check --token/--credentials and --me-path",
                valid.summary()
            ),
        );
        return Ok(None);
    }
    let no_token = call_oracle(context, None).await?;
    if no_token.is_success() {
        context.incomplete(
            Family::Jwt,
            &me_path,
            format!(
                "{} answers 2xx without any token, so it cannot tell accepted from refused; the token \
                 probes were skipped: give a --me-path that requires authentication",
                no_token.summary()
            ),
        );
        return Ok(None);
    }
    let broken = call_oracle(context, Some(&break_signature(&session.token))).await?;
    let valid_again = call_oracle(context, Some(&session.token)).await?;
    if !valid_again.is_success() {
        context.incomplete(
            Family::Jwt,
            &me_path,
            format!(
                "the valid token was refused after the broken-signature request ({}): the server may \
                 revoke a session on tampering, or the token expired; the token probes were skipped",
                valid_again.summary()
            ),
        );
        return Ok(None);
    }
    if broken.is_success() {
        context.add(Finding::new(
            &JWT_SIGNATURE_NOT_VERIFIED,
            Location::file(&me_path),
            format!(
                "the valid token with its signature altered was accepted ({}), while no token was \
                 refused ({})",
                broken.summary(),
                no_token.status.as_u16()
            ),
        ));
    }
    Ok(Some(Oracle {
        valid,
        no_token,
        broken,
    }))
}

/// The SHA101 note: which login, token carrier and oracle the run used, and what the baseline
/// requests answered, so a reader knows what every token verdict was judged against.
pub fn session_note(context: &Context) -> Finding {
    let login = context.session.as_ref().map_or_else(
        || "no login".to_owned(),
        |session| session.described.clone(),
    );
    let endpoints = &context.endpoints;
    let baseline = context.oracle.as_ref().map_or_else(
        || "the token baseline did not run".to_owned(),
        |oracle| {
            format!(
                "baseline: valid token -> {}, no token -> {}, broken signature -> {}",
                oracle.valid.status.as_u16(),
                oracle.no_token.status.as_u16(),
                oracle.broken.status.as_u16()
            )
        },
    );
    let document = context.openapi.as_ref().map_or_else(
        || "no OpenAPI document".to_owned(),
        |document| format!("OpenAPI document {}", document.origin),
    );
    Finding::new(
        &PROBE_SESSION,
        Location::file(&endpoints.me),
        format!(
            "{login}; oracle GET {} ({}); {baseline}; {document}",
            endpoints.me,
            endpoints.me_origin.describe()
        ),
    )
}

/// A SHA100 note for families that need a session when none was given.
pub fn no_session_note(family: Family, path: &str) -> Finding {
    Finding::new(
        &PROBE_INCOMPLETE,
        Location::file(path),
        format!(
            "{}: no authenticated baseline (give --credentials, --token or --register), so this \
             family was skipped",
            family.as_str()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_signature_differs_but_keeps_the_signing_input() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        let broken = break_signature(token);
        assert_ne!(broken, token);
        assert!(broken.starts_with("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0."));
        assert_ne!(break_signature("opaqueA"), "opaqueA");
    }

    #[test]
    fn throwaway_password_does_not_contain_the_email_local_part() {
        let (email, password) = throwaway_account();
        let local = email.split('@').next().unwrap_or_default();
        assert!(!password.contains(local));
        assert!(password.len() >= 32);
    }
}

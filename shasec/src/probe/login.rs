//! How the probe logs into an API it has never seen: the request body (field names found in the
//! OpenAPI document, or a `--login-body` template), where the answer carries the token (the usual
//! fields, `--token-field`, a response header, or a session cookie), and how the token is then
//! presented (bearer header or that cookie).

use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap};
use serde_json::{Map, Value};

use super::client::Exchange;

/// Placeholders of a `--login-body` template.
pub const USERNAME_PLACEHOLDER: &str = "{username}";
pub const PASSWORD_PLACEHOLDER: &str = "{password}";

/// How a login request body is built from the user and password of `--credentials`.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginBody {
    /// A JSON object. `identities` are the candidate user fields (`email`, `username`, …): the
    /// first email-like one takes a user containing `@`, the first other one takes the rest.
    Json {
        identities: Vec<String>,
        password: String,
        extra: Map<String, Value>,
    },
    /// `application/x-www-form-urlencoded` (the OAuth2 password flow, e.g. FastAPI's
    /// `OAuth2PasswordRequestForm`), with the same choice of user field.
    Form {
        identities: Vec<String>,
        password: String,
        extra: Vec<(String, String)>,
    },
    /// `--login-body`: a JSON document whose strings hold `{username}` and `{password}`.
    Template(Value),
}

impl Default for LoginBody {
    /// What a shaapi app takes: `{"email","password"}`.
    fn default() -> Self {
        LoginBody::Json {
            identities: vec!["email".to_owned()],
            password: "password".to_owned(),
            extra: Map::new(),
        }
    }
}

pub fn is_email_field(name: &str) -> bool {
    normalise(name).contains("email") || normalise(name) == "mail"
}

/// Lower case without `_`/`-`, so `user_name`, `userName` and `user-name` compare equal.
pub fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn pick_identity<'a>(identities: &'a [String], user: &str) -> &'a str {
    let wanted_email = user.contains('@');
    identities
        .iter()
        .find(|field| is_email_field(field) == wanted_email)
        .or_else(|| identities.first())
        .map_or("email", String::as_str)
}

impl LoginBody {
    /// Adds the body (and its content type) for `user` / `password` to `request`.
    pub fn apply(&self, request: RequestBuilder, user: &str, password: &str) -> RequestBuilder {
        match self {
            LoginBody::Json {
                identities,
                password: password_field,
                extra,
            } => {
                let mut body = extra.clone();
                body.insert(
                    pick_identity(identities, user).to_owned(),
                    Value::from(user),
                );
                body.insert(password_field.clone(), Value::from(password));
                request.json(&Value::Object(body))
            }
            LoginBody::Form {
                identities,
                password: password_field,
                extra,
            } => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair(pick_identity(identities, user), user);
                form.append_pair(password_field, password);
                for (name, value) in extra {
                    form.append_pair(name, value);
                }
                request
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.finish())
            }
            LoginBody::Template(template) => request.json(&substitute(template, user, password)),
        }
    }

    /// `JSON {"username", "password"}`, for messages and the report's login note.
    pub fn describe(&self, user: &str) -> String {
        match self {
            LoginBody::Json {
                identities,
                password,
                extra,
            } => {
                let mut fields = vec![pick_identity(identities, user).to_owned(), password.clone()];
                fields.extend(extra.keys().cloned());
                format!(
                    "JSON {{{}}}",
                    fields
                        .iter()
                        .map(|field| format!("\"{field}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            LoginBody::Form {
                identities,
                password,
                extra,
            } => {
                let mut fields = vec![pick_identity(identities, user).to_owned(), password.clone()];
                fields.extend(extra.iter().map(|(name, _)| name.clone()));
                format!("form fields {}", fields.join(", "))
            }
            LoginBody::Template(_) => "the --login-body template".to_owned(),
        }
    }
}

/// `--login-body`: must be a JSON object holding both placeholders in its string values.
pub fn parse_login_body(text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text).map_err(|error| {
        format!(
            "not JSON ({error}); e.g. '{{\"user\":\"{{username}}\",\"pass\":\"{{password}}\"}}'"
        )
    })?;
    if !value.is_object() {
        return Err("must be a JSON object".to_owned());
    }
    for placeholder in [USERNAME_PLACEHOLDER, PASSWORD_PLACEHOLDER] {
        if !mentions(&value, placeholder) {
            return Err(format!("no string value holds {placeholder}"));
        }
    }
    Ok(value)
}

fn mentions(value: &Value, placeholder: &str) -> bool {
    match value {
        Value::String(text) => text.contains(placeholder),
        Value::Array(items) => items.iter().any(|item| mentions(item, placeholder)),
        Value::Object(map) => map.values().any(|item| mentions(item, placeholder)),
        _ => false,
    }
}

/// Fills the placeholders inside string values (so the user and password need no escaping).
fn substitute(value: &Value, user: &str, password: &str) -> Value {
    match value {
        Value::String(text) => Value::String(
            text.replace(USERNAME_PLACEHOLDER, user)
                .replace(PASSWORD_PLACEHOLDER, password),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute(item, user, password))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), substitute(item, user, password)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where the login answer carries the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenField {
    /// The usual fields, a response header, then a session cookie.
    Auto,
    /// `--token-field data.session.jwt` (dots) or `/data/session/jwt` (a JSON pointer).
    Path(String),
    /// `--token-field cookie:NAME`: the session is that cookie.
    Cookie(String),
}

pub fn parse_token_field(text: &str) -> Result<TokenField, String> {
    let text = text.trim();
    if let Some(name) = text.strip_prefix("cookie:") {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c));
        return if valid {
            Ok(TokenField::Cookie(name.to_owned()))
        } else {
            Err(format!("`{name}` is not a cookie name"))
        };
    }
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err(
            "expected a field path such as `data.token`, `/data/token` or `cookie:NAME`".to_owned(),
        );
    }
    Ok(TokenField::Path(text.to_owned()))
}

/// Token fields in the order they are looked for, at each depth.
const TOKEN_KEYS: &[&str] = &[
    "access_token",
    "accessToken",
    "auth_token",
    "authToken",
    "token",
    "jwt",
    "id_token",
    "idToken",
    "access",
    "bearer",
];

/// Objects a token is commonly nested in (`{"data": {"token": …}}`).
const TOKEN_CONTAINERS: &[&str] = &[
    "data", "result", "tokens", "token", "session", "auth", "payload",
];

/// Response headers some APIs return the token in.
const TOKEN_HEADERS: &[&str] = &["x-auth-token", "x-access-token", "access-token"];

/// Cookie names that usually carry a session, when several are set.
const SESSION_COOKIE_WORDS: &[&str] = &["session", "sid", "auth", "token", "jwt", "access"];

/// How the probe presents the token on later requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier {
    /// `Authorization: Bearer …`.
    Bearer,
    /// A cookie session: `name` holds the token; `jar` is every cookie the login set, sent along.
    Cookie {
        name: String,
        jar: Vec<(String, String)>,
    },
}

impl Carrier {
    pub fn present(&self, request: RequestBuilder, token: &str) -> RequestBuilder {
        match self {
            Carrier::Bearer => request.header(AUTHORIZATION, format!("Bearer {token}")),
            Carrier::Cookie { name, jar } => {
                let mut pairs: Vec<String> = jar
                    .iter()
                    .map(|(cookie, value)| {
                        if cookie == name {
                            format!("{cookie}={token}")
                        } else {
                            format!("{cookie}={value}")
                        }
                    })
                    .collect();
                if !jar.iter().any(|(cookie, _)| cookie == name) {
                    pairs.push(format!("{name}={token}"));
                }
                request.header(COOKIE, pairs.join("; "))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Carrier::Bearer => "sent as `Authorization: Bearer`".to_owned(),
            Carrier::Cookie { name, .. } => format!("sent as the cookie `{name}`"),
        }
    }
}

/// The token found in a login answer, where it was, and how to present it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundToken {
    pub token: String,
    pub source: String,
    pub carrier: Carrier,
}

/// Finds the token in a successful login answer; the error says what was looked for.
pub fn find_token(exchange: &Exchange, field: &TokenField) -> Result<FoundToken, String> {
    let body = exchange.json();
    let bearer = |token: String, source: String| FoundToken {
        token,
        source,
        carrier: Carrier::Bearer,
    };
    match field {
        TokenField::Path(path) => {
            let value = body.as_ref().and_then(|body| lookup(body, path));
            match value
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
            {
                Some(token) => Ok(bearer(
                    token.to_owned(),
                    format!("`{path}` of the JSON body"),
                )),
                None => Err(format!(
                    "no string at --token-field `{path}` in the login answer (top-level fields: {})",
                    top_level_keys(body.as_ref())
                )),
            }
        }
        TokenField::Cookie(name) => session_cookie(exchange, Some(name)).ok_or_else(|| {
            format!("the login answer sets no cookie `{name}` (--token-field cookie:{name})")
        }),
        TokenField::Auto => {
            if let Some((token, path)) = body.as_ref().and_then(usual_field) {
                return Ok(bearer(token, format!("`{path}` of the JSON body")));
            }
            if let Some((token, header)) = token_header(&exchange.headers) {
                return Ok(bearer(token, format!("the `{header}` response header")));
            }
            session_cookie(exchange, None).ok_or_else(|| {
                format!(
                    "the login answer carries no token: no {} field (also under {}), no token \
                     header, no session cookie (top-level fields: {}); give --token-field",
                    TOKEN_KEYS.join("/"),
                    TOKEN_CONTAINERS.join("/"),
                    top_level_keys(body.as_ref())
                )
            })
        }
    }
}

fn top_level_keys(body: Option<&Value>) -> String {
    match body.and_then(Value::as_object) {
        Some(map) if !map.is_empty() => map.keys().cloned().collect::<Vec<_>>().join(", "),
        Some(_) => "none".to_owned(),
        None => "the body is not a JSON object".to_owned(),
    }
}

/// `a.b.c` or the JSON pointer `/a/b/c`; a numeric segment indexes an array.
fn lookup<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    if path.starts_with('/') {
        return body.pointer(path);
    }
    path.split('.')
        .try_fold(body, |value, segment| match value {
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
            _ => value.get(segment),
        })
}

/// Breadth first, at most three objects deep, through the usual containers.
fn usual_field(body: &Value) -> Option<(String, String)> {
    let mut level: Vec<(String, &Value)> = vec![(String::new(), body)];
    for _ in 0..3 {
        for (prefix, object) in &level {
            for key in TOKEN_KEYS {
                if let Some(token) = object.get(key).and_then(Value::as_str) {
                    if !token.trim().is_empty() {
                        return Some((token.trim().to_owned(), format!("{prefix}{key}")));
                    }
                }
            }
        }
        level = level
            .iter()
            .flat_map(|(prefix, object)| {
                TOKEN_CONTAINERS.iter().filter_map(move |key| {
                    let child = object.get(key)?;
                    child
                        .is_object()
                        .then(|| (format!("{prefix}{key}."), child))
                })
            })
            .collect();
    }
    None
}

fn token_header(headers: &HeaderMap) -> Option<(String, &'static str)> {
    if let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("Bearer "))
    {
        return Some((token.trim().to_owned(), "Authorization"));
    }
    TOKEN_HEADERS.iter().find_map(|name| {
        let token = headers.get(*name)?.to_str().ok()?.trim();
        (!token.is_empty()).then(|| (token.to_owned(), *name))
    })
}

fn looks_like_jwt(value: &str) -> bool {
    value.split('.').count() == 3 && value.starts_with("eyJ")
}

/// The session cookie of a login answer: `wanted` by name, else a JWT-valued cookie, else one
/// with a session-like name, else the only one.
fn session_cookie(exchange: &Exchange, wanted: Option<&str>) -> Option<FoundToken> {
    let jar: Vec<(String, String)> = exchange
        .header_values("set-cookie")
        .into_iter()
        .filter_map(|value| cookie::Cookie::parse(value.to_owned()).ok())
        .filter(|cookie| {
            !cookie.value().is_empty() && cookie.max_age().is_none_or(|age| age.whole_seconds() > 0)
        })
        .map(|cookie| (cookie.name().to_owned(), cookie.value().to_owned()))
        .collect();
    let chosen = match wanted {
        Some(name) => jar.iter().find(|(cookie, _)| cookie == name),
        None => jar
            .iter()
            .find(|(_, value)| looks_like_jwt(value))
            .or_else(|| {
                jar.iter().find(|(cookie, _)| {
                    let name = cookie.to_ascii_lowercase();
                    SESSION_COOKIE_WORDS.iter().any(|word| name.contains(word))
                        && !name.contains("csrf")
                        && !name.contains("xsrf")
                })
            })
            .or_else(|| if jar.len() == 1 { jar.first() } else { None }),
    }?
    .clone();
    Some(FoundToken {
        token: chosen.1.clone(),
        source: format!("the `{}` cookie the login set", chosen.0),
        carrier: Carrier::Cookie {
            name: chosen.0,
            jar,
        },
    })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use reqwest::{Method, StatusCode};
    use serde_json::json;

    use super::*;

    fn answer(body: Value, cookies: &[&str]) -> Exchange {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                headers.append("set-cookie", value);
            }
        }
        Exchange {
            method: Method::POST,
            path: "/login".to_owned(),
            status: StatusCode::OK,
            headers,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    fn found(body: Value) -> Option<(String, String)> {
        find_token(&answer(body, &[]), &TokenField::Auto)
            .ok()
            .map(|found| (found.token, found.source))
    }

    #[test]
    fn usual_token_fields_are_found_top_level_and_nested() {
        for key in ["access_token", "token", "auth_token", "jwt", "id_token"] {
            assert_eq!(
                found(json!({ key: "t" })).map(|f| f.0).as_deref(),
                Some("t")
            );
        }
        let nested = found(json!({"data": {"token": "n"}}));
        assert_eq!(
            nested,
            Some(("n".to_owned(), "`data.token` of the JSON body".to_owned()))
        );
        let deeper = found(json!({"data": {"tokens": {"access": "d"}}}));
        assert_eq!(deeper.map(|f| f.0).as_deref(), Some("d"));
        assert_eq!(found(json!({"user": {"name": "x"}})), None);
    }

    #[test]
    fn an_explicit_token_field_is_followed_and_a_wrong_one_is_explained() {
        let exchange = answer(json!({"result": {"session": {"bearer_value": "p"}}}), &[]);
        let field = TokenField::Path("result.session.bearer_value".to_owned());
        assert_eq!(
            find_token(&exchange, &field).map(|f| f.token),
            Ok("p".to_owned())
        );
        let pointer = TokenField::Path("/result/session/bearer_value".to_owned());
        assert_eq!(
            find_token(&exchange, &pointer).map(|f| f.token),
            Ok("p".to_owned())
        );
        let wrong = find_token(&exchange, &TokenField::Path("result.nope".to_owned()));
        assert!(wrong.is_err_and(|error| error.contains("top-level fields: result")));
    }

    #[test]
    fn a_cookie_session_is_recognised_and_presented_as_that_cookie() {
        let exchange = answer(
            json!({"ok": true}),
            &["csrftoken=c1; Path=/", "sessionid=s3cr3t; HttpOnly; Path=/"],
        );
        let found = find_token(&exchange, &TokenField::Auto);
        let Ok(found) = found else {
            panic!("cookie session expected: {found:?}");
        };
        assert_eq!(found.token, "s3cr3t");
        assert!(matches!(&found.carrier, Carrier::Cookie { name, .. } if name == "sessionid"));
        let none = find_token(&answer(json!({"ok": true}), &[]), &TokenField::Auto);
        assert!(none.is_err_and(|error| error.contains("no session cookie")));
    }

    #[test]
    fn login_body_template_needs_both_placeholders_and_substitutes_safely() {
        assert!(parse_login_body("{\"u\":\"{username}\"}").is_err());
        assert!(parse_login_body("not json").is_err());
        assert!(parse_login_body("[\"{username}\",\"{password}\"]").is_err());
        let template = parse_login_body(
            "{\"auth\":{\"login\":\"{username}\",\"secret\":\"{password}\"},\"remember\":true}",
        );
        let Ok(template) = template else {
            panic!("valid template refused");
        };
        let body = substitute(&template, "bob\"x", "p\\w");
        assert_eq!(
            body,
            json!({"auth": {"login": "bob\"x", "secret": "p\\w"}, "remember": true})
        );
    }

    #[test]
    fn the_user_field_follows_the_shape_of_the_user() {
        let fields = vec!["username".to_owned(), "email".to_owned()];
        assert_eq!(pick_identity(&fields, "a@b.c"), "email");
        assert_eq!(pick_identity(&fields, "alice"), "username");
        assert_eq!(pick_identity(&fields[..1], "a@b.c"), "username");
    }

    #[test]
    fn token_field_flag_is_validated() {
        assert_eq!(
            parse_token_field("cookie:sid"),
            Ok(TokenField::Cookie("sid".to_owned()))
        );
        assert!(parse_token_field("cookie:").is_err());
        assert!(parse_token_field("a b").is_err());
        assert_eq!(
            parse_token_field("data.jwt"),
            Ok(TokenField::Path("data.jwt".to_owned()))
        );
    }
}

//! Every route driven with hostile values — NUL and control characters, huge strings, numbers
//! past every integer type, broken encodings, wrong JSON types, deep nesting — against real
//! Postgres and Redis. Each answer must be a 4xx problem document, never a 5xx; and since the
//! panic catcher would turn a panic into a tidy 500, a panic hook counts panics too: one is a
//! failure even if its answer looked fine.

mod auth_support;
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use auth_support::*;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::TestApp;

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
}

/// Strings that have broken servers: NUL (Postgres refuses it), control and bidi characters,
/// CR/LF, SQL and path fragments, very long and multi-byte input.
fn hostile_strings() -> Vec<String> {
    vec![
        "\u{0}".to_owned(),
        "ana\u{0}@example.com".to_owned(),
        "ana@example.com\u{0}".to_owned(),
        "\u{1b}[31mred\u{1b}[0m@example.com".to_owned(),
        "ana@exa\u{7}mple.com".to_owned(),
        "\r\nSet-Cookie: injected=1".to_owned(),
        "\u{202e}moc.elpmaxe@ana".to_owned(),
        "' OR '1'='1' --@example.com".to_owned(),
        "../../../../etc/passwd".to_owned(),
        "%00%0d%0a".to_owned(),
        "\u{feff}ana@example.com".to_owned(),
        "\u{d7ff}\u{e000}\u{10ffff}".to_owned(),
        "@".to_owned(),
        String::new(),
        " ".repeat(300),
        "a".repeat(100_000),
        format!("{}@example.com", "a".repeat(70_000)),
        "😀".repeat(5_000),
    ]
}

/// JSON values of every type but the expected one.
fn wrong_types() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(18_446_744_073_709_551_615u64),
        json!([]),
        json!({}),
        json!(["a", ["b", ["c"]]]),
    ]
}

/// Raw bodies that are not what any route expects.
fn hostile_bodies() -> Vec<Vec<u8>> {
    vec![
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"string\"".to_vec(),
        b"{".to_vec(),
        b"{\"email\": \"\\u0000\"}".to_vec(),
        b"{\"email\": \"a\xff\xfe@example.com\", \"password\": \"x\"}".to_vec(),
        b"{\"email\": \"\\ud800@example.com\", \"password\": \"violet-harbour\"}".to_vec(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        ["{\"a\":".repeat(5_000), "1".to_owned(), "}".repeat(5_000)]
            .concat()
            .into_bytes(),
        vec![0u8; 4096],
    ]
}

/// Values of `page` / `per_page` past every integer bound, and not numbers at all.
fn hostile_numbers() -> Vec<&'static str> {
    vec![
        "0",
        "-1",
        "9223372036854775807",
        "9223372036854775808",
        "9223372036854775810",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999",
        "1e3",
        "1.5",
        "NaN",
        "",
        "%00",
        "1%00",
        "0x10",
        "1;DROP TABLE users",
    ]
}

/// Authorization header values: malformed schemes, garbage tokens, obs-text bytes.
fn hostile_authorizations() -> Vec<HeaderValue> {
    let mut values: Vec<HeaderValue> = [
        "Bearer",
        "Bearer ",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
        "Basic YWRtaW46YWRtaW4=",
        "bearer \t ",
        "Bearer ../../etc",
    ]
    .into_iter()
    .map(HeaderValue::from_static)
    .collect();
    values.push(HeaderValue::from_str(&format!("Bearer {}", "A".repeat(16_000))).unwrap());
    values.push(HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd").unwrap());
    values
}

struct Probe<'a> {
    app: &'a TestApp,
    checked: usize,
}

impl Probe<'_> {
    /// Sends one request and checks the answer: never a 5xx, errors as problem documents.
    async fn check(&mut self, request: reqwest::RequestBuilder, what: &str) {
        let response = request.send().await.unwrap_or_else(|error| {
            panic!("{what}: the server did not answer: {error}");
        });
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "{what}: answered {status}: {body}"
        );
        if status.is_client_error() {
            assert_eq!(
                content_type, "application/problem+json",
                "{what}: {status} is not a problem document: {body}"
            );
        }
        self.checked += 1;
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.client.request(method, self.app.url(path))
    }
}

#[tokio::test]
async fn hostile_values_on_every_route_get_4xx_problems_and_never_panic() {
    count_panics();
    let app = spawn_auth_app().await;
    let (_, user) = signed_up(&app).await;
    let (_, admin) = signed_up_admin(&app).await;
    let mut probe = Probe {
        app: &app,
        checked: 0,
    };

    // Bodies of the JSON routes: hostile strings in every field, wrong types, raw garbage.
    let body_routes: [(&str, &[&str], Option<&str>); 5] = [
        ("/api/v1/auth/register", &["email", "password"], None),
        ("/api/v1/auth/login", &["email", "password"], None),
        ("/api/v1/auth/refresh", &["refresh_token"], None),
        (
            "/api/v1/auth/password",
            &["current_password", "new_password"],
            Some(user.access.as_str()),
        ),
        (
            "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/roles",
            &["roles"],
            Some(admin.access.as_str()),
        ),
    ];
    for (path, fields, token) in body_routes {
        let method = if path.ends_with("/roles") {
            Method::PUT
        } else {
            Method::POST
        };
        let authorized = |request: reqwest::RequestBuilder| match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        for field in fields {
            let mut values: Vec<Value> = hostile_strings().into_iter().map(Value::from).collect();
            values.extend(wrong_types());
            values.push(json!(hostile_strings()));
            for value in values {
                let mut body = json!({
                    "email": "ana@example.com",
                    "password": PASSWORD,
                    "current_password": PASSWORD,
                    "new_password": OTHER_PASSWORD,
                    "refresh_token": "x",
                    "roles": ["user"],
                });
                body[*field] = value;
                let request = authorized(probe.request(method.clone(), path)).json(&body);
                probe
                    .check(request, &format!("{method} {path} with {field}"))
                    .await;
            }
        }
        for raw in hostile_bodies() {
            let request = authorized(probe.request(method.clone(), path))
                .header(CONTENT_TYPE, "application/json")
                .body(raw);
            probe
                .check(request, &format!("{method} {path} with a raw body"))
                .await;
        }
        for content_type in [
            "text/plain",
            "application/json; charset=\u{7f}",
            "application/",
        ] {
            let Ok(content_type) = HeaderValue::from_str(content_type) else {
                continue;
            };
            let request = authorized(probe.request(method.clone(), path))
                .header(CONTENT_TYPE, content_type)
                .body("{}");
            probe
                .check(request, &format!("{method} {path} with a bad content type"))
                .await;
        }
    }
    let many_roles: Vec<String> = (0..20_000).map(|i| format!("role-{i}")).collect();
    let request = probe
        .request(
            Method::PUT,
            "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/roles",
        )
        .bearer_auth(&admin.access)
        .json(&json!({ "roles": many_roles }));
    probe.check(request, "PUT roles with 20 000 roles").await;

    // Pagination past every integer bound.
    for page in hostile_numbers() {
        for query in [
            format!("page={page}"),
            format!("per_page={page}"),
            format!("page={page}&per_page=100"),
        ] {
            let path = format!("/api/v1/admin/users?{query}");
            let request = probe.request(Method::GET, &path).bearer_auth(&admin.access);
            probe.check(request, &format!("GET {path}")).await;
        }
    }
    let response = app
        .client
        .get(app.url("/api/v1/admin/users?page=9223372036854775810"))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Path ids that are not UUIDs.
    let hostile_ids = [
        "%00",
        "..",
        "%2e%2e%2f",
        "'%20OR%201=1",
        "00000000-0000-0000-0000-00000000000g",
        "%F0%9F%98%80",
        "%FF%FE",
    ];
    let long_id = "a".repeat(5_000);
    for id in hostile_ids.iter().copied().chain([long_id.as_str()]) {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::POST, "/deactivate"),
            (Method::POST, "/activate"),
        ] {
            let path = format!("/api/v1/admin/users/{id}{suffix}");
            let request = probe
                .request(method.clone(), &path)
                .bearer_auth(&admin.access);
            probe.check(request, &format!("{method} {path}")).await;
        }
    }

    // Hostile credentials on every protected route, and in the refresh cookie.
    let protected = [
        (Method::GET, "/api/v1/auth/me"),
        (Method::POST, "/api/v1/auth/logout"),
        (Method::POST, "/api/v1/auth/logout-all"),
        (Method::GET, "/api/v1/admin/users"),
        (Method::GET, "/api/v1/admin/stats"),
    ];
    for (method, path) in protected {
        for authorization in hostile_authorizations() {
            let request = probe
                .request(method.clone(), path)
                .header(AUTHORIZATION, authorization);
            probe
                .check(request, &format!("{method} {path} with a hostile token"))
                .await;
        }
    }
    for cookie in [
        HeaderValue::from_static("refresh_token="),
        HeaderValue::from_static("refresh_token=%00"),
        HeaderValue::from_bytes(b"refresh_token=\xff\xfe").unwrap(),
        HeaderValue::from_str(&format!("refresh_token={}", "A".repeat(16_000))).unwrap(),
    ] {
        let request = probe
            .request(Method::POST, "/api/v1/auth/refresh")
            .header(COOKIE, cookie);
        probe
            .check(request, "POST refresh with a hostile cookie")
            .await;
    }

    // Health probes and unknown routes with hostile query strings and paths.
    for path in [
        "/health/live?%00=%00",
        "/health/ready?x=%FF%FE",
        "/api/v1/%00",
        "/api/v1/auth/%2e%2e/admin/users",
    ] {
        let request = probe.request(Method::GET, path);
        probe.check(request, &format!("GET {path}")).await;
    }

    // The account, MFA{% if example_resource %} and article{% endif %} routes: hostile values in each
    // field of an otherwise valid body.
    let link_token = "A".repeat(43);
{%- if example_resource %}
    let created = app
        .client
        .post(app.url("/api/v1/articles"))
        .bearer_auth(&user.access)
        .json(&json!({"title": "Hostile", "body": "input", "published": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let article: Value = created.json().await.unwrap();
    let article = article["id"].as_str().unwrap().to_owned();
{%- endif %}
    let user_token = Some(user.access.as_str());
    let field_routes: Vec<(Method, String, Value, Option<&str>)> = vec![
        (
            Method::POST,
            "/api/v1/auth/verify-email".to_owned(),
            json!({"token": link_token}),
            None,
        ),
        (
            Method::POST,
            "/api/v1/auth/verify-email/resend".to_owned(),
            json!({"email": "ana@example.com"}),
            None,
        ),
        (
            Method::POST,
            "/api/v1/auth/password-reset".to_owned(),
            json!({"email": "ana@example.com"}),
            None,
        ),
        (
            Method::POST,
            "/api/v1/auth/password-reset/confirm".to_owned(),
            json!({"token": link_token, "new_password": OTHER_PASSWORD}),
            None,
        ),
        (
            Method::POST,
            "/api/v1/auth/mfa/verify".to_owned(),
            json!({"ticket": link_token, "code": "123456"}),
            None,
        ),
        (
            Method::POST,
            "/api/v1/auth/mfa/verify".to_owned(),
            json!({"ticket": link_token, "recovery_code": "abcd-efgh-ijkl-mnop"}),
            None,
        ),
        (
            Method::POST,
            "/api/v1/auth/mfa/totp/confirm".to_owned(),
            json!({"code": "123456"}),
            user_token,
        ),
        (
            Method::POST,
            "/api/v1/auth/mfa/recovery-codes".to_owned(),
            json!({"code": "123456"}),
            user_token,
        ),
        (
            Method::POST,
            "/api/v1/auth/mfa/totp/disable".to_owned(),
            json!({"password": PASSWORD, "code": "123456"}),
            user_token,
        ),
{%- if example_resource %}
        (
            Method::POST,
            "/api/v1/articles".to_owned(),
            json!({"title": "t", "body": "b", "published": false}),
            user_token,
        ),
        (
            Method::PATCH,
            format!("/api/v1/articles/{article}"),
            json!({"title": "t", "body": "b"}),
            user_token,
        ),
        (
            Method::POST,
            format!("/api/v1/articles/{article}/comments"),
            json!({"body": "b"}),
            user_token,
        ),
{%- endif %}
    ];
    for (method, path, valid, token) in &field_routes {
        let send = |body: reqwest::RequestBuilder| {
            let request = body.header("If-Match", "*");
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        };
        let fields: Vec<String> = valid.as_object().unwrap().keys().cloned().collect();
        for field in &fields {
            let mut values: Vec<Value> = hostile_strings().into_iter().map(Value::from).collect();
            values.extend(wrong_types());
            for value in values {
                let mut body = valid.clone();
                body[field.as_str()] = value;
                let request = send(probe.request(method.clone(), path)).json(&body);
                probe
                    .check(request, &format!("{method} {path} with {field}"))
                    .await;
            }
        }
        for raw in hostile_bodies() {
            let request = send(probe.request(method.clone(), path))
                .header(CONTENT_TYPE, "application/json")
                .body(raw);
            probe
                .check(request, &format!("{method} {path} with a raw body"))
                .await;
        }
    }

    // The other lists: pagination past every bound, and hostile audit filters.
    let lists = ["/api/v1/admin/audit-events".to_owned()];
{%- if example_resource %}
    let lists: Vec<String> = lists
        .into_iter()
        .chain([
            "/api/v1/articles".to_owned(),
            format!("/api/v1/articles/{article}/comments"),
            "/api/v1/admin/articles/deleted".to_owned(),
        ])
        .collect();
{%- endif %}
    for list in &lists {
        for number in hostile_numbers() {
            for query in [format!("page={number}"), format!("per_page={number}")] {
                let path = format!("{list}?{query}");
                let request = probe.request(Method::GET, &path).bearer_auth(&admin.access);
                probe.check(request, &format!("GET {path}")).await;
            }
        }
        let path = format!("{list}?page=18446744073709551615&per_page=100");
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}"
        );
    }
    for filter in [
        "actor_id",
        "entity_type",
        "entity_id",
        "action",
        "since",
        "until",
    ] {
        // Longer ones cannot be sent in a URI at all (the client refuses past 64 KiB).
        for value in hostile_strings()
            .into_iter()
            .filter(|value| value.len() <= 10_000)
        {
            let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            let path = format!("/api/v1/admin/audit-events?entity_type=user&{filter}={value}");
            let request = probe.request(Method::GET, &path).bearer_auth(&admin.access);
            probe
                .check(request, &format!("GET audit-events with {filter}"))
                .await;
        }
    }

    // Path ids that are not UUIDs on the routes that take one.
    let id_routes = [(Method::DELETE, "/api/v1/admin/users/{id}/mfa")];
{%- if example_resource %}
    let id_routes: Vec<(Method, &str)> = id_routes
        .into_iter()
        .chain([
            (Method::GET, "/api/v1/articles/{id}"),
            (Method::PATCH, "/api/v1/articles/{id}"),
            (Method::DELETE, "/api/v1/articles/{id}"),
            (Method::GET, "/api/v1/articles/{id}/comments"),
            (Method::DELETE, "/api/v1/articles/{id}/comments/{id}"),
            (Method::POST, "/api/v1/admin/articles/{id}/restore"),
            (Method::DELETE, "/api/v1/admin/articles/{id}"),
        ])
        .collect();
{%- endif %}
    for (method, template) in id_routes {
        for id in hostile_ids.iter().copied().chain([long_id.as_str()]) {
            let path = template.replace("{id}", id);
            let request = probe
                .request(method.clone(), &path)
                .bearer_auth(&admin.access)
                .header("If-Match", "*")
                .json(&json!({"title": "t"}));
            probe
                .check(request, &format!("{method} {template} with {id}"))
                .await;
        }
    }

    // The walk itself must have happened: about 980 requests with every toggle off.
    assert!(
        probe.checked > 900,
        "only {} requests checked",
        probe.checked
    );
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a handler panicked (see the panic message above)"
    );
}

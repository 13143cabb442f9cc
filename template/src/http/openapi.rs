//! The OpenAPI document (`{API_PREFIX}/openapi.json`) and a docs page (`{API_PREFIX}/docs`),
//! served only when `API_DOCS` is on (dev by default; the production guard refuses it).
//!
//! The page is Scalar's HTML, embedded in the binary by utoipa-scalar (nothing is downloaded
//! at build time); the browser loads Scalar's script from its CDN, which the page's own CSP
//! allows — and only this page's.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_scalar::Scalar;

use serde_json::{Map, Value, json};

use crate::auth::MAX_EMAIL_LENGTH;
use crate::auth::access::ACCESS_EXTENSION;
use crate::config::Settings;
use crate::error::{FieldError, PROBLEM_CONTENT_TYPE, Problem};
use crate::state::AppState;

const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
    script-src https://cdn.jsdelivr.net; \
    style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; \
    font-src data: https://cdn.jsdelivr.net https://fonts.gstatic.com; \
    img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'";

#[derive(OpenApi)]
#[openapi(
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "admin", description = "User administration (casbin policy: role `admin`)"),
        // shaapi:openapi-tags (`generate resource` adds its tag above this line)
    )
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme routes refer to with `security(("bearer" = []))`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // utoipa copies Cargo.toml's `license`, which a new project has not chosen yet; an
        // empty license object is invalid OpenAPI.
        if openapi
            .info
            .license
            .as_ref()
            .is_some_and(|license| license.name.is_empty())
        {
            openapi.info.license = None;
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Routes serving `document` (every route registered) under the API prefix, completed by
/// [`complete_contract`].
pub fn docs_routes(settings: &Settings, document: utoipa::openapi::OpenApi) -> Router<AppState> {
    let api_prefix = settings.api_prefix.as_str();
    let document = match serde_json::to_value(&document) {
        Ok(mut document) => {
            complete_contract(&mut document, settings);
            document
        }
        Err(error) => {
            tracing::error!(%error, "cannot serialise the OpenAPI document");
            Value::Object(Map::new())
        }
    };
    let json = serde_json::to_string_pretty(&document).unwrap_or_else(|_| String::from("{}"));
    let page = Scalar::new(document).to_html();
    Router::new()
        .route(
            &format!("{api_prefix}/openapi.json"),
            get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], json).into_response()
            }),
        )
        .route(
            &format!("{api_prefix}/docs"),
            get(move || async move {
                (
                    [(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
                    )],
                    Html(page),
                )
                    .into_response()
            }),
        )
}

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Makes the document say what the server really answers, which the per-handler annotations
/// cannot: the error answers of the layers every route passes (body extractor, access gate,
/// rate limits, timeouts and outages), with their real media type, and the request constraints
/// that come from the settings (password policy) or from code the derive cannot see.
pub fn complete_contract(document: &mut Value, settings: &Settings) {
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let rate_limited = path.starts_with(&settings.api_prefix);
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for method in HTTP_METHODS {
                if let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) {
                    complete_operation(operation, rate_limited);
                }
            }
        }
    }
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        constrain_request_schemas(schemas, settings);
    }
}

fn complete_operation(operation: &mut Map<String, Value>, rate_limited: bool) {
    let access = operation
        .get(ACCESS_EXTENSION)
        .and_then(Value::as_str)
        .unwrap_or("public")
        .to_owned();
    let has_body = match operation.get_mut("requestBody") {
        Some(body) => {
            optional_body_is_absent_not_null(body);
            true
        }
        None => false,
    };
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|parameters| !parameters.is_empty());
    let responses = operation
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for response in responses.values_mut() {
        serve_problems_as_problem_json(response);
    }
    let mut add = |status: &str, description: &str, retry_after: bool| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(description, retry_after));
    };
    if has_body {
        add("400", "Malformed JSON", false);
        add("413", "Request body too large", false);
        add("415", "Not `Content-Type: application/json`", false);
        add("422", "A field is missing or invalid", false);
    }
    if has_parameters {
        add("422", "A path or query parameter is invalid", false);
    }
    if access != "public" {
        add("401", "No valid access token", false);
    }
    if access == "policy" {
        add("403", "Not allowed by the policy", false);
    }
    if rate_limited {
        add("429", "Too many requests; see `Retry-After`", true);
    }
    add(
        "503",
        "A dependency (named in `dependency`) is unavailable, the server is saturated, or the \
         request timed out; see `Retry-After`",
        true,
    );
}

/// utoipa renders `Option<T>` bodies as "`T` or `null`"; the server reads an optional body as
/// absent (no body), and a JSON `null` is refused like any other non-object.
fn optional_body_is_absent_not_null(body: &mut Value) {
    if body.get("required").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    for media in content.values_mut() {
        let Some(schema) = media.get_mut("schema") else {
            continue;
        };
        let non_null = schema
            .get("oneOf")
            .and_then(Value::as_array)
            .and_then(|variants| {
                let mut others = variants
                    .iter()
                    .filter(|variant| variant.get("type").and_then(Value::as_str) != Some("null"));
                match (others.next(), others.next()) {
                    (Some(only), None) => Some(only.clone()),
                    _ => None,
                }
            });
        if let Some(non_null) = non_null {
            *schema = non_null;
        }
    }
}

/// Handlers declare `body = Problem`, which utoipa files under `application/json`.
fn serve_problems_as_problem_json(response: &mut Value) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    let is_problem = content
        .get("application/json")
        .and_then(|media| media.pointer("/schema/$ref"))
        .and_then(Value::as_str)
        .is_some_and(|reference| reference.ends_with("/Problem"));
    if is_problem && let Some(media) = content.remove("application/json") {
        content.insert(PROBLEM_CONTENT_TYPE.to_owned(), media);
    }
}

fn problem_response(description: &str, retry_after: bool) -> Value {
    let mut response = json!({
        "description": description,
        "content": {
            PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    });
    if retry_after {
        response["headers"] = json!({
            "Retry-After": {
                "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 0}
            }
        });
    }
    response
}

/// The constraints the handlers enforce on request fields, in the schemas.
fn constrain_request_schemas(schemas: &mut Map<String, Value>, settings: &Settings) {
    let password = json!({
        "minLength": settings.password_min_length,
        "maxLength": settings.password_max_length,
    });
    let email = json!({"format": "email", "maxLength": MAX_EMAIL_LENGTH});
    constrain(schemas, "Credentials", "email", &email);
    constrain(schemas, "Credentials", "password", &password);
    constrain(schemas, "ChangePasswordRequest", "new_password", &password);
    constrain(schemas, "ResetConfirmation", "new_password", &password);
    // The MFA steps take a code from the app or a recovery code, never both.
    for schema in ["VerifyRequest", "DisableRequest"] {
        exactly_one_of(schemas, schema, ["code", "recovery_code"]);
    }
}

/// Requires exactly one of two optional properties (serde cannot say it, JSON Schema can).
fn exactly_one_of(schemas: &mut Map<String, Value>, schema: &str, properties: [&str; 2]) {
    let Some(target) = schemas.get_mut(schema).and_then(Value::as_object_mut) else {
        tracing::warn!(schema, "OpenAPI schema to constrain not found");
        return;
    };
    let [first, second] = properties;
    target.insert(
        "oneOf".to_owned(),
        json!([{"required": [first]}, {"required": [second]}]),
    );
}

fn constrain(schemas: &mut Map<String, Value>, schema: &str, property: &str, rules: &Value) {
    let target = schemas
        .get_mut(schema)
        .and_then(|schema| schema.pointer_mut(&format!("/properties/{property}")))
        .and_then(Value::as_object_mut);
    let (Some(target), Some(rules)) = (target, rules.as_object()) else {
        tracing::warn!(schema, property, "OpenAPI schema to constrain not found");
        return;
    };
    for (key, value) in rules {
        target.insert(key.clone(), value.clone());
    }
}

//! The API's map: the OpenAPI document (given with --openapi or discovered at the usual paths) or
//! a `--routes` file, turned into concrete operations the routes probe can call.

use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use super::client::Exchange;
use super::{Context, Family, ProbeError};

/// Where OpenAPI documents are usually served, most specific first.
pub const DISCOVERY_PATHS: &[&str] = &[
    "/api/v1/openapi.json",
    "/openapi.json",
    "/api-docs/openapi.json",
    "/api/openapi.json",
    "/v3/api-docs",
    "/swagger.json",
    "/docs/openapi.json",
];

/// What the document says about an operation's authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// `security: []`, or a requirement list with an empty alternative (auth optional).
    Public,
    /// At least one security requirement, on the operation or document-wide.
    Protected,
    /// Nothing anywhere: public by the OpenAPI rules, but the document may simply say nothing.
    Silent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: Method,
    /// The path as documented (`/users/{id}`).
    pub template: String,
    /// The path with parameters filled in (`/users/00000000-0000-0000-0000-000000000000`).
    pub concrete: String,
    pub declared: Declared,
}

#[derive(Debug, Clone)]
pub struct Document {
    /// Where it came from (URL path on the target or file), for messages.
    pub origin: String,
    /// Set when it was served by the target (the docs family reports it).
    pub served: Option<Exchange>,
    pub operations: Vec<Operation>,
    /// True when any operation or the document itself names a security requirement.
    pub declares_security: bool,
    /// The document itself, for discovery of the login and "me" routes.
    pub value: Value,
}

/// `--openapi` takes an absolute http(s) URL on the target; anything else is a file path.
pub fn is_url_like(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// Reads and parses an OpenAPI file (JSON only) before any traffic: bad input fails fast.
pub fn read_file(path: &str) -> Result<(String, Value), ProbeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProbeError::ReadFile {
        what: "OpenAPI file",
        path: path.into(),
        source,
    })?;
    let value = parse_document(path, text.as_bytes())?;
    Ok((path.to_owned(), value))
}

fn parse_document(origin: &str, bytes: &[u8]) -> Result<Value, ProbeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| ProbeError::OpenApi {
        origin: origin.to_owned(),
        reason: format!("not JSON ({error}); only JSON OpenAPI documents are read"),
    })?;
    if value.get("paths").and_then(Value::as_object).is_none() {
        return Err(ProbeError::OpenApi {
            origin: origin.to_owned(),
            reason: "no `paths` object: not an OpenAPI/Swagger document".to_owned(),
        });
    }
    Ok(value)
}

/// Loads the document the families share: the file given, a URL given, or the first one found at
/// [`DISCOVERY_PATHS`]. A discovered document that fails to parse is just not used; a given one
/// that fails is an error (exit 2).
pub async fn load(context: &mut Context) -> Result<(), ProbeError> {
    if let Some((origin, value)) = context.plan.openapi_file.clone() {
        context.openapi = Some(Document::from_value(origin, None, &value));
        return Ok(());
    }
    if let Some(source) = context.plan.args.openapi.clone() {
        let path = same_origin_path(&context.target.base, &source)?;
        let request = context.client.request(Method::GET, &path);
        let exchange = context
            .client
            .send(Method::GET, &path, request)
            .await
            .map_err(|error| ProbeError::OpenApi {
                origin: source.clone(),
                reason: error.to_string(),
            })?;
        if !exchange.is_success() {
            return Err(ProbeError::OpenApi {
                origin: source,
                reason: format!("{} (expected 2xx)", exchange.summary()),
            });
        }
        let value = parse_document(&source, &exchange.body)?;
        context.openapi = Some(Document::from_value(path, Some(exchange), &value));
        return Ok(());
    }
    for path in DISCOVERY_PATHS {
        let request = context.client.request(Method::GET, path);
        let exchange = match context.client.send(Method::GET, path, request).await {
            Ok(exchange) => exchange,
            Err(error) => {
                context.send_failed(Family::Routes, path, &error);
                return Ok(());
            }
        };
        if exchange.is_success() {
            if let Ok(value) = parse_document(path, &exchange.body) {
                context.openapi = Some(Document::from_value(
                    (*path).to_owned(),
                    Some(exchange),
                    &value,
                ));
                return Ok(());
            }
        }
    }
    Ok(())
}

/// `--openapi` as a URL must point at the probed origin: the safety check covered only that host.
pub fn same_origin_path(base: &url::Url, source: &str) -> Result<String, ProbeError> {
    let url = url::Url::parse(source).map_err(|error| ProbeError::OpenApi {
        origin: source.to_owned(),
        reason: error.to_string(),
    })?;
    if url.origin() != base.origin() {
        return Err(ProbeError::OpenApi {
            origin: source.to_owned(),
            reason: format!(
                "the URL is not on the probed origin {}; download it and pass the file instead",
                base.origin().ascii_serialization()
            ),
        });
    }
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Ok(path)
}

impl Document {
    pub fn from_value(origin: String, served: Option<Exchange>, value: &Value) -> Self {
        let global = value.get("security").and_then(Value::as_array);
        let mut declares_security = global.is_some_and(|requirements| !requirements.is_empty());
        let prefix = server_prefix(value);
        let mut operations = Vec::new();
        if let Some(paths) = value.get("paths").and_then(Value::as_object) {
            for (template, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                let shared_parameters = item.get("parameters");
                for (method_name, operation) in item {
                    let Ok(method) = method_name.to_ascii_uppercase().parse::<Method>() else {
                        continue;
                    };
                    if !matches!(
                        method_name.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                    ) {
                        continue;
                    }
                    let own = operation.get("security").and_then(Value::as_array);
                    if own.is_some_and(|requirements| !requirements.is_empty()) {
                        declares_security = true;
                    }
                    let declared = match own.or(global) {
                        Some(requirements) if requirements.is_empty() => Declared::Public,
                        Some(requirements)
                            if requirements.iter().any(|requirement| {
                                requirement.as_object().is_some_and(|map| map.is_empty())
                            }) =>
                        {
                            Declared::Public
                        }
                        Some(_) => Declared::Protected,
                        None => Declared::Silent,
                    };
                    let full_template = join_prefix(&prefix, template);
                    let concrete = fill_parameters(
                        &full_template,
                        operation.get("parameters"),
                        shared_parameters,
                    );
                    operations.push(Operation {
                        method,
                        template: full_template,
                        concrete,
                        declared,
                    });
                }
            }
        }
        Document {
            origin,
            served,
            operations,
            declares_security,
            value: value.clone(),
        }
    }

    /// Every operation as `(full path template, lower-case method, operation object)`.
    pub fn raw_operations(&self) -> Vec<(String, String, &Value)> {
        let prefix = server_prefix(&self.value);
        let Some(paths) = self.value.get("paths").and_then(Value::as_object) else {
            return Vec::new();
        };
        paths
            .iter()
            .filter_map(|(template, item)| Some((template, item.as_object()?)))
            .flat_map(|(template, item)| {
                let full = join_prefix(&prefix, template);
                item.iter()
                    .filter(|(method, operation)| {
                        operation.is_object()
                            && matches!(
                                method.as_str(),
                                "get" | "put" | "post" | "delete" | "patch"
                            )
                    })
                    .map(move |(method, operation)| (full.clone(), method.clone(), operation))
            })
            .collect()
    }
}

/// A relative `servers[0].url` (`/api/v1`) prefixes every path; an absolute one contributes its path.
fn server_prefix(value: &Value) -> String {
    let Some(url) = value
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|servers| servers.first())
        .and_then(|server| server.get("url"))
        .and_then(Value::as_str)
    else {
        // Swagger 2.0 says it with basePath.
        return value
            .get("basePath")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
    };
    let path = if url.starts_with('/') {
        url.to_owned()
    } else {
        url::Url::parse(url)
            .map(|parsed| parsed.path().to_owned())
            .unwrap_or_default()
    };
    path.trim_end_matches('/').to_owned()
}

fn join_prefix(prefix: &str, template: &str) -> String {
    if prefix.is_empty() || template.starts_with(&format!("{prefix}/")) {
        template.to_owned()
    } else {
        format!("{prefix}{template}")
    }
}

/// Fills `{name}` with a value of the parameter's type that is unlikely to name a real record, so
/// an unprotected mutating route called by the probe most likely touches nothing.
fn fill_parameters(template: &str, own: Option<&Value>, shared: Option<&Value>) -> String {
    let parameters: Vec<&Value> = [own, shared]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .collect();
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + length];
        out.push_str(&rest[..start]);
        let schema = parameters
            .iter()
            .find(|parameter| parameter.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|parameter| parameter.get("schema").or(Some(parameter)));
        let kind = schema
            .and_then(|schema| schema.get("type"))
            .and_then(Value::as_str);
        let format = schema
            .and_then(|schema| schema.get("format"))
            .and_then(Value::as_str);
        out.push_str(match (kind, format) {
            (_, Some("uuid")) => "00000000-0000-0000-0000-000000000000",
            (Some("integer" | "number"), _) => "999999999",
            _ => "shasec-probe",
        });
        rest = &rest[start + length + 1..];
    }
    out.push_str(rest);
    out
}

/// Reads `--routes`: one `METHOD /path [public]` per line; `#` starts a comment.
pub fn read_routes_file(path: &Path) -> Result<Vec<Operation>, ProbeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProbeError::ReadFile {
        what: "routes file",
        path: path.to_path_buf(),
        source,
    })?;
    let mut operations = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let error = |reason: String| ProbeError::RoutesFile {
            path: path.to_path_buf(),
            line: index + 1,
            reason,
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let (method, route, public) = match words.as_slice() {
            [method, route] => (*method, *route, false),
            [method, route, "public"] => (*method, *route, true),
            _ => {
                return Err(error(format!(
                    "expected `METHOD /path [public]`, got `{line}`"
                )));
            }
        };
        let known = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
        let upper = method.to_ascii_uppercase();
        if !known.contains(&upper.as_str()) {
            return Err(error(format!("unknown method `{method}`")));
        }
        if !route.starts_with('/') {
            return Err(error(format!("the path `{route}` must start with `/`")));
        }
        let method = upper
            .parse::<Method>()
            .map_err(|parse_error| error(parse_error.to_string()))?;
        operations.push(Operation {
            method,
            template: route.to_owned(),
            concrete: fill_parameters(route, None, None),
            declared: if public {
                Declared::Public
            } else {
                Declared::Protected
            },
        });
    }
    if operations.is_empty() {
        return Err(ProbeError::RoutesFile {
            path: path.to_path_buf(),
            line: 0,
            reason: "no routes in the file".to_owned(),
        });
    }
    Ok(operations)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn security_is_read_per_operation_with_document_default() {
        let document = json!({
            "openapi": "3.1.0",
            "security": [{"bearer": []}],
            "paths": {
                "/api/v1/auth/login": {"post": {"security": []}},
                "/api/v1/health": {"get": {"security": [{}]}},
                "/api/v1/users/{id}": {"get": {
                    "parameters": [{"name": "id", "in": "path", "schema": {"type": "string", "format": "uuid"}}]
                }},
                "/api/v1/items/{n}": {"delete": {
                    "parameters": [{"name": "n", "in": "path", "schema": {"type": "integer"}}]
                }}
            }
        });
        let parsed = Document::from_value("test".into(), None, &document);
        let find = |template: &str| {
            parsed
                .operations
                .iter()
                .find(|op| op.template == template)
                .cloned()
        };
        assert_eq!(
            find("/api/v1/auth/login").map(|op| op.declared),
            Some(Declared::Public)
        );
        assert_eq!(
            find("/api/v1/health").map(|op| op.declared),
            Some(Declared::Public)
        );
        let user = find("/api/v1/users/{id}");
        assert_eq!(
            user.as_ref().map(|op| op.declared),
            Some(Declared::Protected)
        );
        assert_eq!(
            user.map(|op| op.concrete).as_deref(),
            Some("/api/v1/users/00000000-0000-0000-0000-000000000000")
        );
        assert_eq!(
            find("/api/v1/items/{n}").map(|op| op.concrete).as_deref(),
            Some("/api/v1/items/999999999")
        );
        assert!(parsed.declares_security);
    }

    #[test]
    fn relative_server_url_prefixes_paths_once() {
        let document = json!({
            "servers": [{"url": "/api/v1"}],
            "paths": {"/me": {"get": {}}, "/api/v1/other": {"get": {}}}
        });
        let parsed = Document::from_value("test".into(), None, &document);
        let templates: Vec<_> = parsed
            .operations
            .iter()
            .map(|op| op.template.as_str())
            .collect();
        assert!(templates.contains(&"/api/v1/me"));
        assert!(templates.contains(&"/api/v1/other"));
        assert!(!parsed.declares_security);
        assert!(
            parsed
                .operations
                .iter()
                .all(|op| op.declared == Declared::Silent)
        );
    }

    #[test]
    fn non_json_and_non_openapi_documents_are_refused() {
        assert!(parse_document("x", b"openapi: 3.0.0").is_err());
        assert!(parse_document("x", b"{\"hello\": 1}").is_err());
        assert!(parse_document("x", b"{\"paths\": {}}").is_ok());
    }
}

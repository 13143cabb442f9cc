//! Reading the API's own description for the routes the probe needs: the login operation and its
//! field names (a request schema with a user field and a password field), the "me" route the
//! oracle calls, and the refresh and registration routes. A flag always wins over discovery;
//! discovery wins over the shaapi defaults.

use serde_json::{Map, Value};

use super::login::{LoginBody, is_email_field, normalise};
use super::openapi::{Declared, Document};

/// Normalised names (see [`normalise`]) of fields that take the user.
const IDENTITY_FIELDS: &[&str] = &[
    "username",
    "email",
    "login",
    "user",
    "emailaddress",
    "useremail",
    "identifier",
    "account",
    "loginname",
    "usernameoremail",
];

const PASSWORD_FIELDS: &[&str] = &["password", "pass", "passwd", "pwd", "passphrase"];

/// A second password field means a registration or a password change, not a login.
const SECOND_PASSWORD_FIELDS: &[&str] = &[
    "password2",
    "passwordconfirm",
    "passwordconfirmation",
    "confirmpassword",
    "repeatpassword",
    "newpassword",
    "oldpassword",
    "currentpassword",
];

/// A login operation found in the document.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginOperation {
    pub path: String,
    pub body: LoginBody,
}

/// The request body schema of an operation (JSON or form), resolved through `$ref` and `allOf`.
struct BodySchema {
    form: bool,
    properties: Map<String, Value>,
    required: Vec<String>,
}

fn resolve<'a>(root: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..8 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => match reference
                .strip_prefix('#')
                .and_then(|pointer| root.pointer(pointer))
            {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

/// Properties and required names of a schema, `allOf` parts merged.
fn flatten(root: &Value, schema: &Value, depth: usize, out: &mut BodySchema) {
    let schema = resolve(root, schema);
    if depth > 6 {
        return;
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            out.properties
                .insert(name.clone(), resolve(root, property).clone());
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        out.required
            .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    for part in ["allOf"] {
        for item in schema
            .get(part)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            flatten(root, item, depth + 1, out);
        }
    }
}

fn body_schema(root: &Value, operation: &Value) -> Option<BodySchema> {
    let mut out = BodySchema {
        form: false,
        properties: Map::new(),
        required: Vec::new(),
    };
    if let Some(body) = operation.get("requestBody") {
        let content = resolve(root, body).get("content")?.as_object()?;
        let (media, entry) = content
            .iter()
            .find(|(media, _)| media.contains("json"))
            .or_else(|| {
                content.iter().find(|(media, _)| {
                    media.contains("form-urlencoded") || media.contains("form-data")
                })
            })?;
        out.form = !media.contains("json");
        flatten(root, entry.get("schema")?, 0, &mut out);
        return Some(out);
    }
    // Swagger 2.0: a `body` parameter with a schema, or `formData` parameters.
    let parameters = operation.get("parameters").and_then(Value::as_array)?;
    for parameter in parameters.iter().map(|parameter| resolve(root, parameter)) {
        match parameter.get("in").and_then(Value::as_str) {
            Some("body") => flatten(root, parameter.get("schema")?, 0, &mut out),
            Some("formData") => {
                let name = parameter.get("name").and_then(Value::as_str)?;
                out.form = true;
                out.properties.insert(name.to_owned(), parameter.clone());
                if parameter.get("required").and_then(Value::as_bool) == Some(true) {
                    out.required.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    (!out.properties.is_empty()).then_some(out)
}

fn words(path: &str) -> Vec<String> {
    path.split(['/', '.'])
        .filter(|segment| !segment.is_empty() && !segment.starts_with('{'))
        .map(normalise)
        .collect()
}

/// A value for a required field that is neither the user nor the password.
fn filler(name: &str, property: &Value) -> Value {
    if normalise(name) == "granttype" {
        return Value::from("password");
    }
    for key in ["const", "default", "example"] {
        if let Some(value) = property.get(key) {
            return value.clone();
        }
    }
    if let Some(first) = property
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.first())
    {
        return first.clone();
    }
    match property.get("type").and_then(Value::as_str) {
        Some("boolean") => Value::Bool(false),
        Some("integer" | "number") => Value::from(0),
        _ => Value::from("shasec-probe"),
    }
}

/// The best login operation of the document, if any scores as one.
pub fn login_operation(document: &Document) -> Option<LoginOperation> {
    let root = &document.value;
    let mut best: Option<(i32, LoginOperation)> = None;
    for (path, method, operation) in document.raw_operations() {
        if method != "post" {
            continue;
        }
        let Some(schema) = body_schema(root, operation) else {
            continue;
        };
        let names: Vec<(String, String)> = schema
            .properties
            .keys()
            .map(|name| (name.clone(), normalise(name)))
            .collect();
        let Some(password) = names
            .iter()
            .find(|(_, normal)| PASSWORD_FIELDS.contains(&normal.as_str()))
            .map(|(name, _)| name.clone())
        else {
            continue;
        };
        let mut identities: Vec<String> = names
            .iter()
            .filter(|(_, normal)| IDENTITY_FIELDS.contains(&normal.as_str()))
            .map(|(name, _)| name.clone())
            .collect();
        if identities.is_empty() {
            continue;
        }
        // Username-like fields first: an email goes to an email field whatever the order.
        identities.sort_by_key(|name| {
            IDENTITY_FIELDS
                .iter()
                .position(|known| *known == normalise(name))
        });
        let text = format!(
            "{} {} {}",
            words(&path).join(" "),
            operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(normalise)
                .unwrap_or_default(),
            operation
                .get("summary")
                .and_then(Value::as_str)
                .map(|summary| summary.to_ascii_lowercase().replace(' ', ""))
                .unwrap_or_default()
        );
        let has = |word: &str| text.contains(word);
        let mut score = 0;
        if has("login") || has("signin") || has("logon") || has("authenticate") {
            score += 10;
        }
        if has("token") || has("session") || has("jwt") {
            score += 6;
        }
        if has("auth") {
            score += 2;
        }
        if [
            "register", "signup", "reset", "forgot", "change", "invite", "verify",
        ]
        .iter()
        .any(|word| has(word))
        {
            score -= 20;
        }
        if names
            .iter()
            .any(|(_, normal)| SECOND_PASSWORD_FIELDS.contains(&normal.as_str()))
        {
            score -= 20;
        }
        let others_required = schema
            .required
            .iter()
            .filter(|name| **name != password && !identities.contains(name))
            .filter(|name| normalise(name) != "granttype")
            .count();
        score -= i32::try_from(others_required)
            .unwrap_or(i32::MAX)
            .saturating_mul(3);
        if score <= 0 {
            continue;
        }
        let mut extra: Vec<(String, Value)> = schema
            .properties
            .iter()
            .filter(|(name, _)| {
                **name != password
                    && !identities.contains(name)
                    && (schema.required.contains(name) || normalise(name) == "granttype")
            })
            .map(|(name, property)| (name.clone(), filler(name, property)))
            .collect();
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        let body = if schema.form {
            LoginBody::Form {
                identities,
                password,
                extra: extra
                    .into_iter()
                    .map(|(name, value)| {
                        let text = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned);
                        (name, text)
                    })
                    .collect(),
            }
        } else {
            LoginBody::Json {
                identities,
                password,
                extra: extra.into_iter().collect(),
            }
        };
        if best.as_ref().is_none_or(|(top, _)| score > *top) {
            best = Some((score, LoginOperation { path, body }));
        }
    }
    best.map(|(_, operation)| operation)
}

/// The route that answers "who am I": a GET without path parameters named like `me`.
pub fn me_route(document: &Document) -> Option<String> {
    let mut best: Option<(i32, String)> = None;
    for operation in &document.operations {
        if operation.method != reqwest::Method::GET || operation.template.contains('{') {
            continue;
        }
        let segments = words(&operation.template);
        let Some(last) = segments.last() else {
            continue;
        };
        let mut score = match last.as_str() {
            "me" | "whoami" => 12,
            "self" | "current" | "currentuser" | "userinfo" | "profile" | "account" => 10,
            "user" | "session" => 6,
            _ => continue,
        };
        match operation.declared {
            Declared::Protected => score += 3,
            Declared::Public => score -= 20,
            Declared::Silent => {}
        }
        if segments
            .iter()
            .any(|segment| segment == "auth" || segment == "users")
        {
            score += 1;
        }
        if score > 0 && best.as_ref().is_none_or(|(top, _)| score > *top) {
            best = Some((score, operation.concrete.clone()));
        }
    }
    best.map(|(_, path)| path)
}

/// A POST route whose last segment is one of `names` (refresh, register).
pub fn post_route(document: &Document, names: &[&str]) -> Option<String> {
    document
        .operations
        .iter()
        .filter(|operation| operation.method == reqwest::Method::POST)
        .find(|operation| {
            words(&operation.template)
                .last()
                .is_some_and(|last| names.iter().any(|name| last.contains(name)))
        })
        .map(|operation| operation.concrete.clone())
}

/// Whether a discovered login takes an email (so `--register` knows which field it fills).
pub fn takes_email(body: &LoginBody) -> bool {
    match body {
        LoginBody::Json { identities, .. } | LoginBody::Form { identities, .. } => {
            identities.iter().any(|field| is_email_field(field))
        }
        LoginBody::Template(_) => true,
    }
}

/// The shaapi defaults, used when neither a flag nor the document names a route.
pub const DEFAULT_LOGIN_PATH: &str = "/api/v1/auth/login";
pub const DEFAULT_ME_PATH: &str = "/api/v1/auth/me";
pub const DEFAULT_REGISTER_PATH: &str = "/api/v1/auth/register";
pub const DEFAULT_REFRESH_PATH: &str = "/api/v1/auth/refresh";

/// Where a route or a body shape came from, for the report's login note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    OpenApi,
    Default,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "given",
            Origin::OpenApi => "found in the OpenAPI document",
            Origin::Default => "shaapi default",
        }
    }
}

/// The routes and login shape the families use, resolved once.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub login: String,
    pub login_origin: Origin,
    pub login_body: LoginBody,
    pub body_origin: Origin,
    pub me: String,
    pub me_origin: Origin,
    pub register: String,
    pub refresh: String,
}

impl Endpoints {
    /// From the flags alone (before the document is loaded).
    pub fn from_flags(args: &super::ProbeArgs, template: Option<&Value>) -> Self {
        let pick = |given: &Option<String>, default: &str| match given {
            Some(path) => (path.clone(), Origin::Flag),
            None => (default.to_owned(), Origin::Default),
        };
        let (login, login_origin) = pick(&args.login_path, DEFAULT_LOGIN_PATH);
        let (me, me_origin) = pick(&args.me_path, DEFAULT_ME_PATH);
        let (body_origin, login_body) = match template {
            Some(template) => (Origin::Flag, LoginBody::Template(template.clone())),
            None => (Origin::Default, LoginBody::default()),
        };
        Endpoints {
            login,
            login_origin,
            login_body,
            body_origin,
            me,
            me_origin,
            register: pick(&args.register_path, DEFAULT_REGISTER_PATH).0,
            refresh: pick(&args.refresh_path, DEFAULT_REFRESH_PATH).0,
        }
    }

    /// Fills what no flag fixed from the document. A discovered login brings its body shape
    /// unless `--login-body` was given; with `--login-path` only, the body is still read from
    /// that operation when the document describes it.
    pub fn discover(&mut self, args: &super::ProbeArgs, document: &Document) {
        let login = login_operation(document);
        match (&args.login_path, login) {
            (None, Some(found)) => {
                self.login = found.path;
                self.login_origin = Origin::OpenApi;
                if self.body_origin != Origin::Flag {
                    self.login_body = found.body;
                    self.body_origin = Origin::OpenApi;
                }
            }
            (Some(_), _) if self.body_origin != Origin::Flag => {
                if let Some(body) = login_body_at(document, &self.login) {
                    self.login_body = body;
                    self.body_origin = Origin::OpenApi;
                }
            }
            _ => {}
        }
        if args.me_path.is_none() {
            if let Some(me) = me_route(document) {
                self.me = me;
                self.me_origin = Origin::OpenApi;
            }
        }
        if args.refresh_path.is_none() {
            if let Some(refresh) = post_route(document, &["refresh"]) {
                self.refresh = refresh;
            }
        }
        if args.register_path.is_none() {
            if let Some(register) = post_route(document, &["register", "signup"]) {
                self.register = register;
            }
        }
    }
}

/// The body shape of the operation at `path` (named with `--login-path`), if the document
/// describes a user and a password field there.
fn login_body_at(document: &Document, path: &str) -> Option<LoginBody> {
    let root = &document.value;
    document
        .raw_operations()
        .into_iter()
        .filter(|(candidate, method, _)| method == "post" && candidate == path)
        .find_map(|(_, _, operation)| {
            let schema = body_schema(root, operation)?;
            let names: Vec<&String> = schema.properties.keys().collect();
            let password = names
                .iter()
                .find(|name| PASSWORD_FIELDS.contains(&normalise(name).as_str()))?;
            let identities: Vec<String> = names
                .iter()
                .filter(|name| IDENTITY_FIELDS.contains(&normalise(name).as_str()))
                .map(|name| (*name).clone())
                .collect();
            if identities.is_empty() {
                return None;
            }
            Some(if schema.form {
                LoginBody::Form {
                    identities,
                    password: (*password).clone(),
                    extra: Vec::new(),
                }
            } else {
                LoginBody::Json {
                    identities,
                    password: (*password).clone(),
                    extra: Map::new(),
                }
            })
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document(value: Value) -> Document {
        Document::from_value("test".to_owned(), None, &value)
    }

    fn login_of(value: Value) -> Option<LoginOperation> {
        login_operation(&document(value))
    }

    #[test]
    fn a_username_login_is_found_through_refs_and_a_register_route_is_not_taken_for_it() {
        let spec = json!({
            "openapi": "3.0.3",
            "servers": [{"url": "/api"}],
            "paths": {
                "/users": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["username", "email", "password"],
                    "properties": {"username": {"type": "string"}, "email": {"type": "string"},
                                   "password": {"type": "string"}}}}}}}},
                "/auth/register": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/SignIn"}}}}}},
                "/auth/signin": {"post": {"requestBody": {"$ref": "#/components/requestBodies/SignIn"}}},
                "/users/me": {"get": {"security": [{"bearer": []}]}},
                "/users/{id}": {"get": {}}
            },
            "components": {
                "requestBodies": {"SignIn": {"content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/SignIn"}}}}},
                "schemas": {"SignIn": {"allOf": [
                    {"type": "object", "properties": {"username": {"type": "string"}}},
                    {"properties": {"password": {"type": "string"}}, "required": ["password"]}
                ]}}
            }
        });
        let found = login_of(spec.clone());
        assert_eq!(
            found,
            Some(LoginOperation {
                path: "/api/auth/signin".to_owned(),
                body: LoginBody::Json {
                    identities: vec!["username".to_owned()],
                    password: "password".to_owned(),
                    extra: Map::new(),
                },
            })
        );
        assert_eq!(me_route(&document(spec)).as_deref(), Some("/api/users/me"));
    }

    #[test]
    fn an_oauth2_password_form_is_a_form_login_with_grant_type() {
        let spec = json!({"openapi": "3.1.0", "paths": {"/token": {"post": {"requestBody": {
            "content": {"application/x-www-form-urlencoded": {"schema": {
                "properties": {"grant_type": {"type": "string", "pattern": "^password$"},
                               "username": {"type": "string"}, "password": {"type": "string"},
                               "scope": {"type": "string", "default": ""}},
                "required": ["username", "password"]}}}}}}}});
        let Some(found) = login_of(spec) else {
            panic!("form login expected");
        };
        assert_eq!(found.path, "/token");
        assert_eq!(
            found.body,
            LoginBody::Form {
                identities: vec!["username".to_owned()],
                password: "password".to_owned(),
                extra: vec![("grant_type".to_owned(), "password".to_owned())],
            }
        );
    }

    #[test]
    fn swagger_2_body_parameters_are_read() {
        let spec = json!({"swagger": "2.0", "basePath": "/v1", "paths": {"/login": {"post": {
            "parameters": [{"in": "body", "name": "body", "schema": {"properties": {
                "email": {"type": "string"}, "password": {"type": "string"}}}}]}}}});
        let found = login_of(spec);
        assert_eq!(found.map(|login| login.path).as_deref(), Some("/v1/login"));
    }

    #[test]
    fn a_document_without_a_login_or_me_route_gives_nothing() {
        let spec = json!({"openapi": "3.0.0", "paths": {
            "/password/change": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "properties": {"email": {}, "password": {}, "new_password": {}}}}}}}},
            "/items": {"get": {}},
            "/health/me": {"get": {"security": []}}
        }});
        assert_eq!(login_of(spec.clone()), None);
        assert_eq!(me_route(&document(spec)), None);
    }
}

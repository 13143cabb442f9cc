//! `tests/PLURAL.rs`: the resource driven over HTTP against real Postgres (and once against
//! the embedded SQLite database): CRUD, each field's validation, the policy, ownership and
//! soft delete when asked for, and the audit trail.

use super::Resource;
use super::fields::{Field, FieldType};

const HEAD: &str = r#"//! The %words% resource against real Postgres (and once on the embedded SQLite database), over
//! HTTP: create, read, list, change and delete, each field's validation, the policy%options_doc%,
//! and the audit trail. Written by `generate resource`; extend it as the resource grows.

mod auth_support;
mod common;

use auth_support::*;
use reqwest::{Method, Response, StatusCode};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use common::{TestApp, problem};

use %crate%::entities::%plural%::Entity as Rows;

const PATH: &str = "/api/v1/%plural%";
%admin_path%/// Entity type of the audit events.
const ENTITY: &str = "%singular%";

/// Someone calling the API with an access token.
struct Caller<'a> {
    app: &'a TestApp,
    email: String,
    token: String,
}

impl Caller<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, Some(body)).await
    }
%post_empty%
    async fn delete(&self, path: &str) -> Response {
        self.send(Method::DELETE, path, None).await
    }

    async fn patch(&self, path: &str, if_match: Option<&str>, body: &Value) -> Response {
        let mut request = self
            .app
            .client
            .patch(self.app.url(path))
            .bearer_auth(&self.token)
            .json(body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.unwrap()
    }
}

/// A new account with the `user` role.
async fn member(app: &TestApp) -> Caller<'_> {
    let (email, tokens) = signed_up(app).await;
    Caller {
        app,
        email,
        token: tokens.access,
    }
}

/// A new account with the `admin` role.
async fn admin(app: &TestApp) -> Caller<'_> {
    let (email, tokens) = signed_up_admin(app).await;
    Caller {
        app,
        email,
        token: tokens.access,
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A body every rule accepts, distinct for each `n`.
fn valid_body(%n%: i32) -> Value {
    json!({
%valid_body%    })
}

/// A change of every field.
fn changes_body() -> Value {
    json!({
%changes_body%    })
}

/// Creates the `n`th sample %words% and answers its id and ETag.
async fn create(caller: &Caller<'_>, n: i32) -> (String, String) {
    let response = caller.post(PATH, &valid_body(n)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let etag = header(&response, "etag");
    let view: Value = response.json().await.unwrap();
    (view["id"].as_str().unwrap().to_owned(), etag)
}

/// One page of the list with `query`, which must be accepted.
async fn list(caller: &Caller<'_>, query: &str) -> Value {
    let response = caller.get(&format!("{PATH}?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The actions of the audit events about `id`, newest first.
async fn audit_actions(admin: &Caller<'_>, id: &str) -> Vec<String> {
    let query = format!("entity_type={ENTITY}&entity_id={id}");
    let response = admin
        .get(&format!("/api/v1/admin/audit-events?{query}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let events: Value = response.json().await.unwrap();
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap().to_owned())
        .collect()
}

/// A create with `field` set to `value` is refused with a 422 naming the field.
async fn refused(caller: &Caller<'_>, field: &str, value: Value) {
    let mut body = valid_body(1);
    body[field] = value;
    let response = caller.post(PATH, &body).await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field}"
    );
    let problem = problem(response).await;
    assert!(problem.to_string().contains(field), "{field}: {problem}");
}

/// A create without `field` is refused with a 422 naming the field.
async fn missing(caller: &Caller<'_>, field: &str) {
    let mut body = valid_body(1);
    body.as_object_mut().unwrap().remove(field);
    let response = caller.post(PATH, &body).await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field}"
    );
    let problem = problem(response).await;
    assert!(problem.to_string().contains(field), "{field}: {problem}");
}

/// A list query that is refused with a 422.
async fn refused_query(caller: &Caller<'_>, query: &str) {
    let response = caller.get(&format!("{PATH}?{query}")).await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{query}"
    );
    problem(response).await;
}

#[tokio::test]
async fn anonymous_callers_are_refused() {
    let app = spawn_auth_app().await;
    let response = app.client.get(app.url(PATH)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    problem(response).await;
    let response = app
        .client
        .post(app.url(PATH))
        .json(&valid_body(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(Rows::find().count(&app.state.db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_%singular%_is_created_read_listed_changed_and_deleted() {
    let app = spawn_auth_app().await;
    let owner = member(&app).await;
    let body = valid_body(1);
    let response = owner.post(PATH, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let etag = header(&response, "etag");
    let location = header(&response, "location");
    let view: Value = response.json().await.unwrap();
    let id = view["id"].as_str().unwrap().to_owned();
    let path = format!("{PATH}/{id}");
    assert_eq!(location, path);
%echo_created%
    let response = owner.get(&path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "etag"), etag);
    let page = list(&owner, "").await;
    assert_eq!(page["total"], 1);
    assert_eq!(ids_of(&page), std::slice::from_ref(&id));

    // A change needs the current ETag.
    let changes = changes_body();
    let response = owner.patch(&path, None, &changes).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_REQUIRED);
    problem(response).await;
    let response = owner.patch(&path, Some("\"999\""), &changes).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let response = owner.patch(&path, Some(&etag), &changes).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(header(&response, "etag"), etag);
    let view: Value = response.json().await.unwrap();
%echo_changed%
    let response = owner.patch(&path, Some(&etag), &changes).await;
    assert_eq!(
        response.status(),
        StatusCode::PRECONDITION_FAILED,
        "stale ETag"
    );

    let response = owner.delete(&path).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(owner.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(list(&owner, "").await["total"], 0);
%after_delete%
    let admin = admin(&app).await;
    let actions = audit_actions(&admin, &id).await;
    assert_eq!(actions, ["%delete_action%", "update", "create"]);
}

#[tokio::test]
async fn bodies_are_validated_field_by_field() {
    let app = spawn_auth_app().await;
    let owner = member(&app).await;
%refusals%    refused(&owner, "id", json!(uuid::Uuid::new_v4())).await;
    refused(&owner, "nonsense", json!(1)).await;
    assert_eq!(Rows::find().count(&app.state.db).await.unwrap(), 0);

    // Changes follow the same rules.
    let (id, etag) = create(&owner, 1).await;
    let path = format!("{PATH}/{id}");
    let mut changes = changes_body();
    changes["nonsense"] = json!(1);
    let response = owner.patch(&path, Some(&etag), &changes).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    problem(response).await;
%change_refusal%    let view: Value = owner.get(&path).await.json().await.unwrap();
    assert_eq!(view["version"], 1, "a refused change changed the row");
}

#[tokio::test]
async fn lists_page_sort_filter_and_refuse_unknown_parameters() {
    let app = spawn_auth_app().await;
    let owner = member(&app).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(create(&owner, n).await.0);
    }
    let page = list(&owner, "per_page=2&sort=created_at").await;
    assert_eq!(
        (page["total"].as_u64(), page["per_page"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(ids_of(&page), ids[..2]);
    let page = list(&owner, "per_page=2&page=2&sort=created_at").await;
    assert_eq!(ids_of(&page), ids[2..]);
    let page = list(&owner, "sort=-created_at").await;
    assert_eq!(ids_of(&page)[0], ids[2]);
%list_checks%
    for query in [
        "per_page=0",
        "per_page=101",
        "page=0",
        "page=x",
        "sort=nonsense",
        "sort=id",
        "nonsense=1",
        "deleted_at=2020-01-01",
    ] {
        refused_query(&owner, query).await;
    }
%filter_refusals%}

#[tokio::test]
async fn a_role_without_the_policy_lines_is_refused() {
    // The roles go straight in SQL, which the user cache sees only after its max age.
    let app = spawn_auth_app_with(|settings| settings.user_cache_capacity = 0).await;
    let caller = member(&app).await;
    let (id, _) = create(&caller, 1).await;
    strip_roles(&app, &caller.email).await;
    let path = format!("{PATH}/{id}");
    let responses = [
        caller.get(PATH).await,
        caller.post(PATH, &valid_body(2)).await,
        caller.get(&path).await,
        caller.delete(&path).await,
    ];
    for response in responses {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
}
%owned_test%%soft_test%
#[tokio::test]
async fn every_field_round_trips_on_the_embedded_sqlite_database_too() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_path_buf();
    let app = spawn_auth_app_with(move |settings| {
        settings.database_url = None;
        settings.data_dir = data_dir;
    })
    .await;
    assert!(std::fs::read_dir(data.path()).unwrap().next().is_some());
    let owner = member(&app).await;
    let body = valid_body(1);
    let response = owner.post(PATH, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let etag = header(&response, "etag");
    let view: Value = response.json().await.unwrap();
    let path = format!("{PATH}/{}", view["id"].as_str().unwrap());
    let view: Value = owner.get(&path).await.json().await.unwrap();
%echo_created%
    let changes = changes_body();
    let response = owner.patch(&path, Some(&etag), &changes).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = owner.get(&path).await.json().await.unwrap();
%echo_changed%}
"#;

const POST_EMPTY: &str = r#"
    async fn post_empty(&self, path: &str) -> Response {
        self.send(Method::POST, path, None).await
    }
"#;

const OWNED_TEST: &str = r#"
#[tokio::test]
async fn only_the_owner_or_an_admin_changes_a_%singular%() {
    let app = spawn_auth_app().await;
    let owner = member(&app).await;
    let intruder = member(&app).await;
    let admin = admin(&app).await;
    let (id, etag) = create(&owner, 1).await;
    let path = format!("{PATH}/{id}");
    let view: Value = owner.get(&path).await.json().await.unwrap();
    let owner_id = user_id(&app, &owner.email).await.to_string();
    assert_eq!(view["owner_id"], owner_id.as_str());

    // Anyone with the policy reads it; only the owner or an admin changes it.
    assert_eq!(intruder.get(&path).await.status(), StatusCode::OK);
    let changes = changes_body();
    let response = intruder.patch(&path, Some(&etag), &changes).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    problem(response).await;
    let response = intruder.delete(&path).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let unchanged: Value = owner.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged["version"], 1);
    let mine = list(&intruder, &format!("owner_id={owner_id}")).await;
    assert_eq!(mine["total"], 1);

    let response = admin.patch(&path, Some(&etag), &changes).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = admin.delete(&path).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}
"#;

const SOFT_TEST: &str = r#"
#[tokio::test]
async fn a_deleted_%singular%_disappears_and_an_admin_restores_it() {
    let app = spawn_auth_app().await;
    let owner = member(&app).await;
    let admin = admin(&app).await;
    let (id, _) = create(&owner, 1).await;
    let path = format!("{PATH}/{id}");
    assert_eq!(owner.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(owner.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(admin.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(owner.delete(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(list(&admin, "").await["total"], 0);

    // Only admins see and restore deleted rows.
    let deleted = format!("{ADMIN_PATH}/deleted");
    assert_eq!(owner.get(&deleted).await.status(), StatusCode::FORBIDDEN);
    let page: Value = admin.get(&deleted).await.json().await.unwrap();
    assert_eq!(ids_of(&page), std::slice::from_ref(&id));
    assert!(page["items"][0]["deleted_at"].is_string());
    let restore = format!("{ADMIN_PATH}/{id}/restore");
    let response = owner.post_empty(&restore).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = admin.post_empty(&restore).await;
    assert_eq!(response.status(), StatusCode::OK);
    header(&response, "etag");
    assert_eq!(owner.get(&path).await.status(), StatusCode::OK);
    let response = admin.post_empty(&restore).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "restored twice");

    // Removing for good takes a deleted row.
    let purge = format!("{ADMIN_PATH}/{id}");
    assert_eq!(admin.delete(&purge).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(owner.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(admin.delete(&purge).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(Rows::find().count(&app.state.db).await.unwrap(), 0);
    let actions = audit_actions(&admin, &id).await;
    assert_eq!(actions, ["purge", "delete", "restore", "delete", "create"]);
}
"#;

/// The sample value of the `n`th body.
fn sample(field: &Field) -> &'static str {
    match field.kind {
        FieldType::String => "format!(\"Sample {n}\")",
        FieldType::Text => "format!(\"Line one of {n}\\nline two\")",
        FieldType::Int => "100 + n",
        FieldType::Bool => "true",
        FieldType::Uuid => "uuid::Uuid::new_v4()",
        FieldType::Datetime => "\"2024-05-01T12:00:00Z\"",
        FieldType::Decimal => "format!(\"{n}.50\")",
    }
}

/// The changed value, and what the response must then hold (`None`: the value sent).
fn change(field: &Field) -> (&'static str, Option<&'static str>) {
    match field.kind {
        FieldType::String => ("\"  Changed  \"", Some("\"Changed\"")),
        FieldType::Text => ("\"Changed\\ntext\"", None),
        FieldType::Int => ("-7", None),
        FieldType::Bool => ("false", None),
        FieldType::Uuid => ("uuid::Uuid::new_v4()", None),
        FieldType::Datetime => ("\"2025-01-02T03:04:05Z\"", None),
        FieldType::Decimal => ("\"1234567890123.99\"", None),
    }
}

/// Values each type refuses, as `json!` arguments.
fn refusals(kind: FieldType) -> &'static [&'static str] {
    match kind {
        FieldType::String => &[
            "\"\"",
            "\"   \"",
            "\"x\".repeat(201)",
            "\"a\\u{0}b\"",
            "\"a\\nb\"",
            "5",
            "null",
        ],
        FieldType::Text => &[
            "\"\"",
            "\" \\n \"",
            "\"x\".repeat(100_001)",
            "\"a\\u{0}b\"",
            "\"a\\u{7}b\"",
            "5",
            "null",
        ],
        FieldType::Int => &["\"12\"", "1.5", "2_147_483_648_i64", "null"],
        FieldType::Bool => &["\"yes\"", "1", "null"],
        FieldType::Uuid => &["\"not-a-uuid\"", "5", "null"],
        FieldType::Datetime => &["\"yesterday\"", "\"2024-13-01T00:00:00Z\"", "0", "null"],
        FieldType::Decimal => &[
            "\"1.234\"",
            "\"12345678901234\"",
            "\"1e5\"",
            "\"1_000\"",
            "\"abc\"",
            "12.5",
            "null",
        ],
    }
}

pub fn render(resource: &Resource) -> String {
    let fields = &resource.fields;
    let mut valid_body = String::new();
    let mut changes_body = String::new();
    let mut echo_created = String::new();
    let mut echo_changed = String::new();
    let mut refusal_lines = String::new();
    for field in fields {
        let name = &field.name;
        valid_body.push_str(&format!("        \"{name}\": {},\n", sample(field)));
        let (sent, expected) = change(field);
        changes_body.push_str(&format!("        \"{name}\": {sent},\n"));
        echo_created.push_str(&format!(
            "    assert_eq!(view[\"{name}\"], body[\"{name}\"]);\n"
        ));
        echo_changed.push_str(&match expected {
            Some(expected) => format!("    assert_eq!(view[\"{name}\"], {expected});\n"),
            // rustfmt gives the arguments their own lines past 60 characters.
            None if 2 * name.len() + 21 > 60 => format!(
                "    assert_eq!(\n        view[\"{name}\"],\n        changes[\"{name}\"]\n    );\n"
            ),
            None => format!("    assert_eq!(view[\"{name}\"], changes[\"{name}\"]);\n"),
        });
        refusal_lines.push_str(&format!("    missing(&owner, \"{name}\").await;\n"));
        for value in refusals(field.kind) {
            let arguments = format!("&owner, \"{name}\", json!({value})");
            refusal_lines.push_str(&if arguments.len() > 60 {
                format!(
                    "    refused(\n        &owner,\n        \"{name}\",\n        json!({value}),\n    )\n    .await;\n"
                )
            } else {
                format!("    refused({arguments}).await;\n")
            });
        }
    }
    if resource.owned {
        refusal_lines
            .push_str("    refused(&owner, \"owner_id\", json!(uuid::Uuid::new_v4())).await;\n");
    }
    let first = &fields[0];
    let change_refusal = format!(
        "    let mut changes = changes_body();\n    changes[\"{name}\"] = json!({value});\n    \
         let response = owner.patch(&path, Some(&etag), &changes).await;\n    \
         assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);\n",
        name = first.name,
        value = refusals(first.kind)[0],
    );

    let mut list_checks = String::new();
    for field in fields.iter().filter(|field| field.kind.sortable()) {
        let name = &field.name;
        list_checks.push_str(&format!(
            "    list(&owner, \"sort={name}\").await;\n    list(&owner, \"sort=-{name}\").await;\n"
        ));
    }
    let mut filter_refusals = String::new();
    for field in fields.iter().filter(|field| field.kind.filterable()) {
        let name = &field.name;
        let (good, matching, bad) = match field.kind {
            FieldType::Int => ("101", 1, "x"),
            FieldType::Bool => ("true", 3, "maybe"),
            _ => ("{nobody}", 0, "x"),
        };
        if field.kind == FieldType::Uuid {
            list_checks.push_str(&format!(
                "    let nobody = uuid::Uuid::new_v4();\n    \
                 let page = list(&owner, &format!(\"{name}={good}\")).await;\n"
            ));
        } else {
            list_checks.push_str(&format!(
                "    let page = list(&owner, \"{name}={good}\").await;\n"
            ));
        }
        list_checks.push_str(&format!("    assert_eq!(page[\"total\"], {matching});\n"));
        filter_refusals.push_str(&format!(
            "    refused_query(&owner, \"{name}={bad}\").await;\n"
        ));
    }
    if resource.owned {
        list_checks.push_str(
            "    let owner_id = user_id(&app, &owner.email).await;\n    \
             let page = list(&owner, &format!(\"owner_id={owner_id}\")).await;\n    \
             assert_eq!(page[\"total\"], 3);\n",
        );
        filter_refusals.push_str("    refused_query(&owner, \"owner_id=me\").await;\n");
    }

    let after_delete = if resource.soft_delete {
        "    let row = Rows::find().one(&app.state.db).await.unwrap().unwrap();\n    \
         assert!(row.deleted_at.is_some(), \"a soft delete keeps the row\");\n"
    } else {
        "    assert_eq!(Rows::find().count(&app.state.db).await.unwrap(), 0);\n"
    };
    let options_doc = match (resource.owned, resource.soft_delete) {
        (true, true) => ", ownership, soft delete",
        (true, false) => ", ownership",
        (false, true) => ", soft delete",
        (false, false) => "",
    };
    let uses_n = fields
        .iter()
        .any(|field| sample(field).contains("{n}") || sample(field).contains(" n"));
    let text = HEAD
        .replace("%n%", if uses_n { "n" } else { "_n" })
        .replace("%options_doc%", options_doc)
        .replace("%crate%", env!("CARGO_CRATE_NAME"))
        .replace(
            "%admin_path%",
            if resource.soft_delete {
                "const ADMIN_PATH: &str = \"/api/v1/admin/%plural%\";\n"
            } else {
                ""
            },
        )
        .replace(
            "%post_empty%",
            if resource.soft_delete { POST_EMPTY } else { "" },
        )
        .replace("%valid_body%", &valid_body)
        .replace("%changes_body%", &changes_body)
        .replace("%echo_created%", &echo_created)
        .replace("%echo_changed%", &echo_changed)
        .replace("%after_delete%", after_delete)
        .replace(
            "%delete_action%",
            if resource.soft_delete {
                "delete"
            } else {
                "purge"
            },
        )
        .replace("%refusals%", &refusal_lines)
        .replace("%change_refusal%", &change_refusal)
        .replace("%list_checks%", &list_checks)
        .replace("%filter_refusals%", &filter_refusals)
        .replace("%owned_test%", if resource.owned { OWNED_TEST } else { "" })
        .replace(
            "%soft_test%",
            if resource.soft_delete { SOFT_TEST } else { "" },
        );
    resource.fill(&text)
}

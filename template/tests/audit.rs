//! The audit trail against real Postgres: every security event is recorded with its actor,
//! entity, request id and client IP; the admin listing pages and filters; no secret is stored.

mod auth_support;
mod common;

use auth_support::*;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use common::problem;

use {{crate_name}}::auth::init::InitOutcome;
use {{crate_name}}::auth::init::create_admin;
use {{crate_name}}::auth::init::promote;
use {{crate_name}}::entities::audit_events;
use {{crate_name}}::entities::users;

async fn events(app: &common::TestApp, admin: &str, query: &str) -> Value {
    let response = get_with(app, &format!("/api/v1/admin/audit-events?{query}"), admin).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

/// The actions of a page, newest first.
fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn logins_are_recorded_succeeded_failed_and_limited() {
    let app = spawn_auth_app_with(|settings| settings.login_max_attempts_per_account = 3).await;
    let (admin_email, admin) = signed_up_admin(&app).await;
    let admin_id = user_id(&app, &admin_email).await;
    let (email, _) = signed_up(&app).await;
    let id = user_id(&app, &email).await;

    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-request-id", "audit-login-1")
        .json(&json!({"email": email, "password": OTHER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let page = events(
        &app,
        &admin.access,
        &format!("entity_type=user&entity_id={id}"),
    )
    .await;
    let failed = &page["items"][0];
    assert_eq!(failed["action"], "login_failed");
    assert_eq!(failed["actor_id"], Value::Null);
    assert_eq!(failed["request_id"], "audit-login-1");
    assert_eq!(failed["client_ip"], "127.0.0.1");
    // signed_up logged in once before the failure.
    assert_eq!(actions(&page), ["login_failed", "login_succeeded"]);
    assert_eq!(page["items"][1]["actor_id"], id.to_string());

    // An unknown email is recorded too, on no entity.
    login(&app, "nobody@example.com", PASSWORD).await;
    let page = events(&app, &admin.access, "action=login_failed").await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"][0]["entity_id"], Value::Null);

    for _ in 0..3 {
        login(&app, &email, OTHER_PASSWORD).await;
    }
    let page = events(&app, &admin.access, "action=login_limited").await;
    assert!(page["total"].as_u64().unwrap() >= 1, "{page}");

    // The admin's own login is the only event it acted in so far.
    let page = events(&app, &admin.access, &format!("actor_id={admin_id}")).await;
    assert_eq!(actions(&page), ["login_succeeded"]);
}

#[tokio::test]
async fn account_changes_are_recorded_with_field_names_only() {
    let app = spawn_auth_app().await;
    let (admin_email, admin) = signed_up_admin(&app).await;
    let admin_id = user_id(&app, &admin_email).await;
    let (email, user) = signed_up(&app).await;
    let id = user_id(&app, &email).await;

    let response = app
        .client
        .post(app.url("/api/v1/auth/password"))
        .bearer_auth(&user.access)
        .json(&json!({"current_password": PASSWORD, "new_password": OTHER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = post_with(&app, "/api/v1/auth/logout-all", &user.access).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{id}/roles")))
        .bearer_auth(&admin.access)
        .json(&json!({"roles": ["user", "admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for action in ["deactivate", "activate"] {
        let path = format!("/api/v1/admin/users/{id}/{action}");
        assert_eq!(
            post_with(&app, &path, &admin.access).await.status(),
            StatusCode::OK
        );
    }

    let page = events(
        &app,
        &admin.access,
        &format!("entity_type=user&entity_id={id}"),
    )
    .await;
    assert_eq!(
        actions(&page),
        [
            "activated",
            "deactivated",
            "roles_changed",
            "logout_all",
            "password_changed",
            "login_succeeded"
        ]
    );
    let items = page["items"].as_array().unwrap();
    for event in &items[..3] {
        assert_eq!(event["actor_id"], admin_id.to_string(), "{event}");
    }
    assert_eq!(items[4]["actor_id"], id.to_string());
    assert_eq!(items[4]["changed_fields"], json!(["password_hash"]));
    assert_eq!(items[2]["changed_fields"], json!(["roles"]));
    assert_eq!(items[1]["changed_fields"], json!(["is_active"]));

    // Only names are stored: no password or hash appears anywhere in the table.
    let hash = users::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    let rows = audit_events::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let dump = format!("{rows:?}");
    for secret in [PASSWORD, OTHER_PASSWORD, hash.as_str()] {
        assert!(!dump.contains(secret), "the audit table holds a secret");
    }
}

#[tokio::test]
async fn auth_init_is_recorded_when_it_creates_or_promotes() {
    let app = spawn_auth_app().await;
    let (_, admin) = signed_up_admin(&app).await;
    let created = create_admin(&app.state.db, "first@example.com", "hash".to_owned())
        .await
        .unwrap();
    let (email, _) = signed_up(&app).await;
    let account = users::Entity::find_by_id(user_id(&app, &email).await)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    promote(&app.state.db, account.clone()).await.unwrap();

    let page = events(&app, &admin.access, "action=auth_init").await;
    assert_eq!(page["total"], 2);
    let promoted = &page["items"][0];
    assert_eq!(promoted["entity_id"], account.id.to_string());
    assert_eq!(promoted["changed_fields"], json!(["roles"]));
    assert_eq!(promoted["request_id"], Value::Null);
    let InitOutcome::Created { id } = created else {
        panic!("expected a new administrator");
    };
    assert_eq!(page["items"][1]["entity_id"], id.to_string());
    assert_eq!(
        page["items"][1]["changed_fields"],
        json!(["email", "password_hash", "roles"])
    );
}

#[tokio::test]
async fn a_failed_audit_write_rolls_the_change_back() {
    let app = spawn_auth_app().await;
    let (email, user) = signed_up(&app).await;
    let id = user_id(&app, &email).await;
    let before = users::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    // From now on every audit insert fails, as a full disk or a revoked grant would.
    app.state
        .db
        .execute_unprepared(
            "ALTER TABLE audit_events ADD CONSTRAINT refuse_all CHECK (false) NOT VALID",
        )
        .await
        .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/auth/password"))
        .bearer_auth(&user.access)
        .json(&json!({"current_password": PASSWORD, "new_password": OTHER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let after = users::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.password_hash, before.password_hash,
        "the change was kept"
    );
    let count = audit_events::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        count.iter().all(|event| event.action != "password_changed"),
        "the event was kept"
    );
    // The old password still works once the audit table accepts writes again.
    app.state
        .db
        .execute_unprepared("ALTER TABLE audit_events DROP CONSTRAINT refuse_all")
        .await
        .unwrap();
    assert_eq!(login(&app, &email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_listing_pages_filters_and_refuses_bad_queries() {
    let app = spawn_auth_app().await;
    let (_, admin) = signed_up_admin(&app).await;
    for _ in 0..3 {
        signed_up(&app).await;
    }
    let all = events(&app, &admin.access, "").await;
    assert_eq!(all["total"], 4);
    let first = events(&app, &admin.access, "per_page=3").await;
    let second = events(&app, &admin.access, "per_page=3&page=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["id"], all["items"][3]["id"]);

    let since = all["items"][1]["occurred_at"].as_str().unwrap().to_owned();
    let recent = events(
        &app,
        &admin.access,
        &format!("since={}", since.replace('+', "%2B")),
    )
    .await;
    assert_eq!(recent["total"], 2);
    let older = events(
        &app,
        &admin.access,
        &format!("until={}", since.replace('+', "%2B")),
    )
    .await;
    assert_eq!(older["total"], 2);

    for (query, field) in [
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=0", "page"),
        ("action=dance", "query"),
        ("actor_id=nope", "query"),
        ("since=yesterday", "query"),
        ("colour=blue", "query"),
        ("entity_id=1", "entity_id"),
        (
            "since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z",
            "until",
        ),
    ] {
        let response = get_with(
            &app,
            &format!("/api/v1/admin/audit-events?{query}"),
            &admin.access,
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        let body = problem(response).await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }

    let (_, user) = signed_up(&app).await;
    let response = get_with(&app, "/api/v1/admin/audit-events", &user.access).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

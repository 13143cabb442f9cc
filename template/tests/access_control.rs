//! Authorization against real Postgres: casbin decisions from roles loaded from the database,
//! the admin API, deactivation, and the route-declaration sweep.

mod auth_support;
mod common;

use auth_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use common::problem;

use {{crate_name}}::auth::access::Access;
use {{crate_name}}::auth::rbac;
use {{crate_name}}::entities::users;
use {{crate_name}}::startup::Application;

#[tokio::test]
async fn a_plain_user_gets_403_on_every_admin_route() {
    let app = spawn_auth_app().await;
    let (_, user) = signed_up(&app).await;
    let (admin_email, _) = signed_up_admin(&app).await;
    let target = user_id(&app, &admin_email).await;
    let routes = [
        (Method::GET, "/api/v1/admin/users".to_owned()),
        (Method::GET, format!("/api/v1/admin/users/{target}")),
        (Method::PUT, format!("/api/v1/admin/users/{target}/roles")),
        (
            Method::POST,
            format!("/api/v1/admin/users/{target}/deactivate"),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/users/{target}/activate"),
        ),
        (Method::GET, "/api/v1/admin/stats".to_owned()),
    ];
    for (method, path) in routes {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&user.access)
            .json(&json!({"roles": ["admin"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        problem(response).await;
    }
    // The attempt above to make itself admin did nothing.
    let me: Value = get_with(&app, "/api/v1/auth/me", &user.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["user"]));
}

#[tokio::test]
async fn a_role_granted_at_runtime_applies_to_existing_tokens_and_so_does_its_removal() {
    let app = spawn_auth_app().await;
    let (_, admin) = signed_up_admin(&app).await;
    let (email, user) = signed_up(&app).await;
    let id = user_id(&app, &email).await;
    assert_eq!(
        get_with(&app, "/api/v1/admin/stats", &user.access)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let granted = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{id}/roles")))
        .bearer_auth(&admin.access)
        .json(&json!({"roles": ["user", "admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let body: Value = granted.json().await.unwrap();
    assert_eq!(body["roles"], json!(["admin", "user"]));
    // Same token, no restart, no new login: the role counts at once.
    assert_eq!(
        get_with(&app, "/api/v1/admin/stats", &user.access)
            .await
            .status(),
        StatusCode::OK
    );

    let revoked = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{id}/roles")))
        .bearer_auth(&admin.access)
        .json(&json!({"roles": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        get_with(&app, "/api/v1/admin/stats", &user.access)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // Without the `user` role the self-service routes are closed too, but logout stays open.
    assert_eq!(me(&app, &user.access).await, StatusCode::FORBIDDEN);
    assert_eq!(
        post_with(&app, "/api/v1/auth/logout", &user.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_role_granted_on_one_instance_applies_on_another() {
    // The grant is made straight in SQL, which no instance hears of: without the user cache
    // it counts on the next request. (With the cache, the default, it counts after
    // USER_CACHE_MAX_AGE_SECS: tests/session_invalidation.rs.)
    let first = spawn_auth_app_with(|settings| settings.user_cache_capacity = 0).await;
    let (email, user) = signed_up(&first).await;
    // A second instance on the same database and Redis.
    let mut settings = (*first.state.settings).clone();
    settings.port = 0;
    let second = Application::build(settings).await.expect("second instance");
    let second_url = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(async move {
        let _ = second.run_until(std::future::pending()).await;
    });
    let stats = |base: String, token: String| async move {
        reqwest::Client::new()
            .get(format!("{base}/api/v1/admin/stats"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        stats(second_url.clone(), user.access.clone()).await,
        StatusCode::FORBIDDEN
    );
    let id = user_id(&first, &email).await;
    rbac::grant_role(&first.state.db, id, "admin")
        .await
        .unwrap();
    assert_eq!(stats(second_url, user.access.clone()).await, StatusCode::OK);
}

#[tokio::test]
async fn a_deactivated_users_tokens_are_refused_and_it_cannot_log_in() {
    let app = spawn_auth_app().await;
    let (_, admin) = signed_up_admin(&app).await;
    let (email, user) = signed_up(&app).await;
    let other_session = tokens_of(login(&app, &email, PASSWORD).await).await;
    let id = user_id(&app, &email).await;

    let response = post_with(
        &app,
        &format!("/api/v1/admin/users/{id}/deactivate"),
        &admin.access,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["is_active"], false);

    for tokens in [&user, &other_session] {
        assert_eq!(me(&app, &tokens.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refresh_with_body(&app, &tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&app, &email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let response = post_with(
        &app,
        &format!("/api/v1/admin/users/{id}/activate"),
        &admin.access,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(login(&app, &email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_inactive_flag_alone_refuses_a_live_token() {
    // Deactivation straight in the database (no session revocation): the extractor's
    // database check must still refuse the token.
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = spawn_auth_app().await;
    let (email, user) = signed_up(&app).await;
    let id = user_id(&app, &email).await;
    let account = users::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut account: users::ActiveModel = account.into();
    account.is_active = Set(false);
    account.update(&app.state.db).await.unwrap();
    assert_eq!(me(&app, &user.access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_admin_api_lists_pages_and_guards_against_lockout() {
    let app = spawn_auth_app().await;
    let (admin_email, admin) = signed_up_admin(&app).await;
    let admin_id = user_id(&app, &admin_email).await;
    for _ in 0..3 {
        register(&app, &unique_email(), PASSWORD).await;
    }
    let page: Value = get_with(&app, "/api/v1/admin/users?page=1&per_page=2", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 4);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["items"][0].get("password_hash").is_none());
    let last: Value = get_with(&app, "/api/v1/admin/users?page=2&per_page=2", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["items"].as_array().unwrap().len(), 2);

    for query in ["per_page=0", "per_page=101", "page=0", "page=abc"] {
        let response = get_with(&app, &format!("/api/v1/admin/users?{query}"), &admin.access).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        problem(response).await;
    }
    let response = get_with(&app, "/api/v1/admin/users/not-a-uuid", &admin.access).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    problem(response).await;
    let response = get_with(
        &app,
        &format!("/api/v1/admin/users/{}", Uuid::new_v4()),
        &admin.access,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "unknown user");
    problem(response).await;

    let stats: Value = get_with(&app, "/api/v1/admin/stats", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["users_total"], 4);
    assert_eq!(stats["users_active"], 4);
    assert_eq!(stats["users_per_role"]["admin"], 1);
    assert_eq!(stats["users_per_role"]["user"], 4);

    let unknown_role = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{admin_id}/roles")))
        .bearer_auth(&admin.access)
        .json(&json!({"roles": ["admin", "superuser"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_role.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(unknown_role).await["errors"][0]["field"], "roles");
    let demote_self = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{admin_id}/roles")))
        .bearer_auth(&admin.access)
        .json(&json!({"roles": ["user"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(demote_self.status(), StatusCode::CONFLICT);
    let deactivate_self = post_with(
        &app,
        &format!("/api/v1/admin/users/{admin_id}/deactivate"),
        &admin.access,
    )
    .await;
    assert_eq!(deactivate_self.status(), StatusCode::CONFLICT);
    assert_eq!(me(&app, &admin.access).await, StatusCode::OK);
}

/// Every operation of the served OpenAPI document, with its declared access.
async fn declared_operations(app: &common::TestApp) -> Vec<(Method, String, Option<String>)> {
    let document: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths object") {
        for (method, operation) in item.as_object().expect("path item object") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !operation.is_object() || method == Method::from_bytes(b"PARAMETERS").unwrap() {
                continue;
            }
            let access = operation["x-access"].as_str().map(str::to_owned);
            operations.push((method, path.clone(), access));
        }
    }
    operations
}

/// The route-declaration test: walks every route the router serves (its OpenAPI document),
/// fails on any that declares nothing, then checks each gate does what it declares.
#[tokio::test]
async fn every_route_declares_its_access_and_the_gate_enforces_it() {
    let app = spawn_auth_app().await;
    let operations = declared_operations(&app).await;
    assert!(
        operations.len() >= 15,
        "expected the whole API, got {operations:?}"
    );
    let undeclared: Vec<String> = operations
        .iter()
        .filter(|(_, _, access)| access.as_deref().and_then(Access::parse).is_none())
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    assert!(
        undeclared.is_empty(),
        "routes without an access declaration: {undeclared:?}"
    );

    let (email, plain) = signed_up(&app).await;
    let (roleless_email, _) = signed_up(&app).await;
    strip_roles(&app, &roleless_email).await;
    let some_id = user_id(&app, &email).await;

    for (method, template, access) in operations {
        let path = template.replace("{id}", &some_id.to_string());
        let request = |token: Option<String>| {
            let mut builder = app.client.request(method.clone(), app.url(&path));
            if let Some(token) = token {
                builder = builder.bearer_auth(token);
            }
            builder.send()
        };
        // A fresh session per route: some routes (logout) end the session they are called with.
        let roleless = tokens_of(login(&app, &roleless_email, PASSWORD).await)
            .await
            .access;
        let anonymous = request(None).await.unwrap();
        let status = anonymous.status();
        match access.as_deref() {
            Some("public") => {
                // A public route may answer 401 for its own reasons (refresh without a refresh
                // token) but never the gate's "this route needs an access token".
                if status == StatusCode::UNAUTHORIZED {
                    let body = problem(anonymous).await;
                    assert!(
                        !body["detail"]
                            .as_str()
                            .unwrap_or_default()
                            .contains("needs an access token"),
                        "{method} {template} is public but asked for a token"
                    );
                }
            }
            Some("authenticated") => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {template}");
                let with_token = request(Some(roleless)).await.unwrap().status();
                assert!(
                    with_token != StatusCode::UNAUTHORIZED && with_token != StatusCode::FORBIDDEN,
                    "{method} {template}: any authenticated user may call it, got {with_token}"
                );
            }
            Some("policy") => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {template}");
                let without_roles = request(Some(roleless)).await.unwrap().status();
                assert_eq!(
                    without_roles,
                    StatusCode::FORBIDDEN,
                    "{method} {template}: a user without roles must be refused"
                );
            }
            other => panic!("{method} {template}: unexpected access {other:?}"),
        }
    }
    // The calls above (logout-all among them) touched only the roleless user's sessions.
    assert_eq!(me(&app, &plain.access).await, StatusCode::OK);
}

#[tokio::test]
async fn protected_operations_advertise_the_bearer_scheme() {
    let app = spawn_auth_app().await;
    let document: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = &document["paths"]["/api/v1/auth/me"]["get"];
    assert_eq!(me["x-access"], "policy");
    assert_eq!(me["security"], json!([{"bearer": []}]));
    let login = &document["paths"]["/api/v1/auth/login"]["post"];
    assert_eq!(login["x-access"], "public");
    assert!(login.get("security").is_none());
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        "/api/v1/auth/password",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{id}",
        "/api/v1/admin/users/{id}/roles",
        "/api/v1/admin/users/{id}/deactivate",
        "/api/v1/admin/stats",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} missing from the document"
        );
    }
}

//! The casbin adapter over sea-orm (against a fresh Postgres database), the seeded default
//! policy, and the `auth init` command.

mod common;

use std::collections::BTreeSet;

use casbin::{Adapter, CoreApi, DefaultModel, Enforcer, Filter, MgmtApi, Model};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use tempfile::TempDir;
use uuid::Uuid;

use common::{TestDatabase, run_binary, test_settings};

use {{crate_name}}::auth::init::create_admin;
use {{crate_name}}::auth::rbac;
use {{crate_name}}::auth::rbac::Authorizer;
use {{crate_name}}::auth::rbac::MODEL;
use {{crate_name}}::auth::rbac::SeaOrmAdapter;
use {{crate_name}}::db;
use {{crate_name}}::entities::casbin_rule;
use {{crate_name}}::entities::users;
use {{crate_name}}::startup::Application;

async fn migrated_database() -> (TestDatabase, sea_orm::DatabaseConnection) {
    let database = TestDatabase::create().await;
    let settings = test_settings(&database.url);
    let connection = db::connect(&settings).await.unwrap();
    db::migrate_up(&connection).await.unwrap();
    (database, connection)
}

fn rule(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

async fn model() -> DefaultModel {
    DefaultModel::from_str(MODEL)
        .await
        .expect("the model parses")
}

#[tokio::test]
async fn the_migration_seeds_the_default_policy() {
    let (_database, db) = migrated_database().await;
    let authorizer = Authorizer::new(db).await.unwrap();
    let admin = rule(&["admin"]);
    let user = rule(&["user"]);
    assert!(
        authorizer
            .is_allowed(&admin, "/admin/users/{id}", "DELETE")
            .await
            .unwrap()
    );
    assert!(
        authorizer
            .is_allowed(&admin, "/admin/stats", "GET")
            .await
            .unwrap()
    );
    assert!(
        authorizer
            .is_allowed(&admin, "/auth/me", "GET")
            .await
            .unwrap(),
        "admin inherits user"
    );
    assert!(
        authorizer
            .is_allowed(&user, "/auth/me", "GET")
            .await
            .unwrap()
    );
    assert!(
        authorizer
            .is_allowed(&user, "/auth/password", "POST")
            .await
            .unwrap()
    );
    assert!(
        !authorizer
            .is_allowed(&user, "/auth/me", "DELETE")
            .await
            .unwrap()
    );
    assert!(
        !authorizer
            .is_allowed(&user, "/admin/stats", "GET")
            .await
            .unwrap()
    );
    assert!(!authorizer.is_allowed(&user, "/admin", "GET").await.unwrap());
    assert!(!authorizer.is_allowed(&[], "/auth/me", "GET").await.unwrap());
    // A method regex must match the whole method.
    assert!(
        !authorizer
            .is_allowed(&user, "/auth/me", "GETX")
            .await
            .unwrap()
    );
    let known = authorizer.known_roles().await;
    assert_eq!(
        known,
        BTreeSet::from(["admin".to_owned(), "user".to_owned()])
    );
}

#[tokio::test]
async fn the_adapter_round_trips_every_operation() {
    let (_database, db) = migrated_database().await;
    let mut adapter = SeaOrmAdapter::new(db.clone());
    adapter.clear_policy().await.unwrap();

    assert!(
        adapter
            .add_policy("p", "p", rule(&["editor", "/posts/*", "^GET$"]))
            .await
            .unwrap()
    );
    assert!(
        !adapter
            .add_policy("p", "p", rule(&["editor", "/posts/*", "^GET$"]))
            .await
            .unwrap(),
        "a duplicate is not added"
    );
    assert!(
        adapter
            .add_policies(
                "p",
                "p",
                vec![
                    rule(&["viewer", "/posts/*", "^GET$"]),
                    rule(&["viewer", "/tags/*", "^GET$"])
                ]
            )
            .await
            .unwrap()
    );
    assert!(
        !adapter
            .add_policies(
                "p",
                "p",
                vec![
                    rule(&["auditor", "/logs/*", "^GET$"]),
                    rule(&["viewer", "/tags/*", "^GET$"])
                ]
            )
            .await
            .unwrap(),
        "all or nothing: one duplicate adds none"
    );
    assert!(
        adapter
            .add_policy("g", "g2", rule(&["editor", "viewer"]))
            .await
            .unwrap()
    );
    let user = Uuid::new_v4().to_string();
    assert!(
        adapter
            .add_policy("g", "g", rule(&[&user, "editor"]))
            .await
            .unwrap()
    );
    assert_eq!(casbin_rule::Entity::find().count(&db).await.unwrap(), 5);

    let mut loaded = model().await;
    adapter.load_policy(&mut loaded).await.unwrap();
    assert_eq!(loaded.get_policy("p", "p").len(), 3);
    assert!(loaded.has_policy("g", "g", rule(&[&user, "editor"])));
    assert!(loaded.has_policy("g", "g2", rule(&["editor", "viewer"])));

    let mut filtered = model().await;
    adapter
        .load_filtered_policy(
            &mut filtered,
            Filter {
                p: vec!["viewer"],
                g: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        filtered.get_policy("p", "p").len(),
        2,
        "only viewer's policies"
    );
    assert!(adapter.is_filtered());

    assert!(
        !adapter
            .remove_policies(
                "p",
                "p",
                vec![
                    rule(&["viewer", "/posts/*", "^GET$"]),
                    rule(&["nobody", "/x", "^GET$"])
                ]
            )
            .await
            .unwrap(),
        "all or nothing: one missing removes none"
    );
    assert_eq!(casbin_rule::Entity::find().count(&db).await.unwrap(), 5);
    assert!(
        adapter
            .remove_policy("p", "p", rule(&["editor", "/posts/*", "^GET$"]))
            .await
            .unwrap()
    );
    assert!(
        !adapter
            .remove_policy("p", "p", rule(&["editor", "/posts/*", "^GET$"]))
            .await
            .unwrap()
    );
    assert!(
        adapter
            .remove_filtered_policy("p", "p", 0, rule(&["viewer"]))
            .await
            .unwrap()
    );
    assert!(
        adapter
            .remove_filtered_policy("g", "g", 1, rule(&["editor"]))
            .await
            .unwrap()
    );
    assert_eq!(casbin_rule::Entity::find().count(&db).await.unwrap(), 1);
}

#[tokio::test]
async fn an_enforcer_saves_and_reloads_through_the_adapter() {
    let (_database, db) = migrated_database().await;
    let mut enforcer = Enforcer::new(model().await, SeaOrmAdapter::new(db.clone()))
        .await
        .unwrap();
    assert!(enforcer.enforce(("admin", "/admin/stats", "GET")).unwrap());
    enforcer
        .add_policy(rule(&["support", "/admin/users", "^GET$"]))
        .await
        .unwrap();
    enforcer.save_policy().await.unwrap();

    let reloaded = Enforcer::new(model().await, SeaOrmAdapter::new(db.clone()))
        .await
        .unwrap();
    assert!(
        reloaded
            .enforce(("support", "/admin/users", "GET"))
            .unwrap()
    );
    assert!(
        !reloaded
            .enforce(("support", "/admin/users", "POST"))
            .unwrap()
    );
    assert!(
        reloaded.enforce(("admin", "/auth/me", "GET")).unwrap(),
        "g2 survived the save"
    );

    // The application's authorizer sees rows written by anyone once it reloads.
    let authorizer = Authorizer::new(db.clone()).await.unwrap();
    assert!(
        authorizer
            .is_allowed(&rule(&["support"]), "/admin/users", "GET")
            .await
            .unwrap()
    );
    db.execute_unprepared("DELETE FROM casbin_rule WHERE v0 = 'support'")
        .await
        .unwrap();
    authorizer.reload_policy().await.unwrap();
    assert!(
        !authorizer
            .is_allowed(&rule(&["support"]), "/admin/users", "GET")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn user_roles_are_read_from_the_database() {
    let (_database, db) = migrated_database().await;
    let user = Uuid::new_v4();
    assert!(rbac::roles_of(&db, user).await.unwrap().is_empty());
    rbac::grant_role(&db, user, "user").await.unwrap();
    rbac::grant_role(&db, user, "user").await.unwrap();
    rbac::grant_role(&db, user, "admin").await.unwrap();
    assert_eq!(
        rbac::roles_of(&db, user).await.unwrap(),
        rule(&["admin", "user"])
    );
    rbac::set_roles(&db, user, &BTreeSet::from(["user".to_owned()]))
        .await
        .unwrap();
    assert_eq!(rbac::roles_of(&db, user).await.unwrap(), rule(&["user"]));
}

/// Environment for running the binary against the test database.
fn cli_env(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ENVIRONMENT", "dev".to_owned()),
        ("DATABASE_URL", database_url.to_owned()),
        ("REDIS_URL", common::redis_url()),
        ("LOG_LEVEL", "debug".to_owned()),
    ]
}

async fn auth_init(
    dir: &TempDir,
    env: &[(&'static str, String)],
    email: &str,
    stdin: &str,
) -> std::process::Output {
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    let args = ["auth", "init", "--email", email, "--password-stdin"];
    common::run_binary_with_stdin(dir.path(), &args, &env, stdin).await
}

#[tokio::test]
async fn auth_init_creates_the_admin_once_and_never_shows_the_password() {
    let (database, db) = migrated_database().await;
    let dir = TempDir::new().unwrap();
    let env = cli_env(&database.url);
    let password = "granite-orchard-falcon-63";

    let weak = auth_init(&dir, &env, "root@example.com", "password1234\n").await;
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(stderr.contains("weak_password"), "{stderr}");
    assert!(
        !stderr.contains("password1234"),
        "the refused password is echoed: {stderr}"
    );

    let created = auth_init(&dir, &env, "Root@Example.com", &format!("{password}\n")).await;
    let stdout = String::from_utf8_lossy(&created.stdout);
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("created administrator root@example.com"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(password) && !stderr.contains(password),
        "password leaked"
    );

    let again = auth_init(&dir, &env, "root@example.com", &format!("{password}\n")).await;
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
    assert_eq!(
        users::Entity::find().count(&db).await.unwrap(),
        1,
        "idempotent"
    );
    let id = common_user_id(&db, "root@example.com").await;
    assert_eq!(
        rbac::roles_of(&db, id).await.unwrap(),
        rule(&["admin", "user"])
    );

    // The new administrator can log in and reach the admin API.
    let mut settings = test_settings(&database.url);
    settings.port = 0;
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(async move {
        let _ = app.run_until(std::future::pending()).await;
    });
    let client = reqwest::Client::new();
    let tokens: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "root@example.com", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stats = client
        .get(format!("{base}/api/v1/admin/stats"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn auth_init_promotes_an_existing_account_without_touching_its_password() {
    let (database, db) = migrated_database().await;
    let dir = TempDir::new().unwrap();
    let env = cli_env(&database.url);
    let first = auth_init(
        &dir,
        &env,
        "first@example.com",
        "granite-orchard-falcon-63\n",
    )
    .await;
    assert!(first.status.success());
    let existing = create_admin(&db, "second@example.com", "x".to_owned()).await;
    assert!(existing.is_ok());
    let id = common_user_id(&db, "second@example.com").await;
    rbac::set_roles(&db, id, &BTreeSet::from(["user".to_owned()]))
        .await
        .unwrap();
    let promoted = auth_init(&dir, &env, "second@example.com", "").await;
    assert!(
        promoted.status.success(),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    assert!(String::from_utf8_lossy(&promoted.stdout).contains("password is unchanged"));
    assert_eq!(
        rbac::roles_of(&db, id).await.unwrap(),
        rule(&["admin", "user"])
    );
}

async fn common_user_id(db: &sea_orm::DatabaseConnection, email: &str) -> Uuid {
    use sea_orm::{ColumnTrait, QueryFilter};
    users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn auth_init_without_email_or_terminal_explains_what_to_pass() {
    let (database, _db) = migrated_database().await;
    let dir = TempDir::new().unwrap();
    let env: Vec<(&str, String)> = cli_env(&database.url);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = run_binary(dir.path(), &["auth", "init", "--password-stdin"], &env_refs).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--email"));
}

//! The example resource against real Postgres: who reads and changes articles, lists with
//! their bounds and allow-lists, soft delete and restore, ETags, comments and their cascade,
//! and the audit events each change writes in its own transaction.

mod auth_support;
mod common;

use auth_support::*;
use reqwest::{Response, StatusCode};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use common::{TestApp, problem};

use {{crate_name}}::entities::articles;
use {{crate_name}}::entities::audit_events;
use {{crate_name}}::entities::comments;

const ARTICLES: &str = "/api/v1/articles";

async fn create(app: &TestApp, token: &str, body: Value) -> Response {
    app.client
        .post(app.url(ARTICLES))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Creates an article and answers its id and ETag.
async fn article(app: &TestApp, token: &str, title: &str, published: bool) -> (String, String) {
    let response = create(
        app,
        token,
        json!({"title": title, "body": "Some text.", "published": published}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let etag = header(&response, "etag");
    let body: Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), etag)
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

async fn patch(
    app: &TestApp,
    id: &str,
    token: &str,
    if_match: Option<&str>,
    body: Value,
) -> Response {
    let mut request = app
        .client
        .patch(app.url(&format!("{ARTICLES}/{id}")))
        .bearer_auth(token)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    request.send().await.unwrap()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn get_anonymous(app: &TestApp, path: &str) -> Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn anonymous_callers_see_published_articles_only() {
    let app = spawn_auth_app().await;
    let (_, author) = signed_up(&app).await;
    let (published, _) = article(&app, &author.access, "Out now", true).await;
    let (draft, _) = article(&app, &author.access, "Not yet", false).await;

    let page: Value = get_anonymous(&app, ARTICLES).await.json().await.unwrap();
    assert_eq!(titles(&page), ["Out now"]);
    assert_eq!(page["total"], 1);
    let response = get_anonymous(&app, &format!("{ARTICLES}/{published}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = get_anonymous(&app, &format!("{ARTICLES}/{draft}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    problem(response).await;

    // The author sees the draft; another user does not.
    let mine: Value = get_with(&app, ARTICLES, &author.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["total"], 2);
    let (_, other) = signed_up(&app).await;
    let theirs: Value = get_with(&app, ARTICLES, &other.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&theirs), ["Out now"]);
    let response = get_with(&app, &format!("{ARTICLES}/{draft}"), &other.access).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Creating needs an account; a bad token on a public read is refused, not read as anonymous.
    let response = app
        .client
        .post(app.url(ARTICLES))
        .json(&json!({"title": "x", "body": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = get_with(&app, ARTICLES, "not-a-token").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_author_comes_from_the_token_and_bodies_are_validated() {
    let app = spawn_auth_app().await;
    let (email, author) = signed_up(&app).await;
    let author_id = user_id(&app, &email).await;
    let response = create(
        &app,
        &author.access,
        json!({"title": "  Trimmed  ", "body": "Text", "published": true}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, "location");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["author_id"], author_id.to_string());
    assert_eq!(body["title"], "Trimmed");
    assert_eq!(
        location,
        format!("{ARTICLES}/{}", body["id"].as_str().unwrap())
    );

    let someone = Uuid::new_v4().to_string();
    for (body, field) in [
        (
            json!({"title": "x", "body": "y", "author_id": someone}),
            "author_id",
        ),
        (json!({"title": "", "body": "y"}), "title"),
        (json!({"title": "   ", "body": "y"}), "title"),
        (json!({"title": "x".repeat(201), "body": "y"}), "title"),
        (json!({"title": "x"}), "body"),
        (
            json!({"title": "x", "body": "y", "published": "yes"}),
            "published",
        ),
    ] {
        let response = create(&app, &author.access, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem = problem(response).await;
        let text = problem.to_string();
        assert!(text.contains(field), "{body}: {problem}");
    }
    assert_eq!(
        articles::Entity::find().count(&app.state.db).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn only_the_author_or_an_admin_changes_an_article() {
    let app = spawn_auth_app().await;
    let (_, author) = signed_up(&app).await;
    let (_, intruder) = signed_up(&app).await;
    let (_, admin) = signed_up_admin(&app).await;
    let (published, etag) = article(&app, &author.access, "Public", true).await;
    let (draft, draft_etag) = article(&app, &author.access, "Private", false).await;

    // Someone else: 403 where the article is public anyway, 404 where it is a draft.
    let response = patch(
        &app,
        &published,
        &intruder.access,
        Some(&etag),
        json!({"title": "Mine"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = delete(&app, &format!("{ARTICLES}/{published}"), &intruder.access).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = patch(
        &app,
        &draft,
        &intruder.access,
        Some(&draft_etag),
        json!({"title": "Mine"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = delete(&app, &format!("{ARTICLES}/{draft}"), &intruder.access).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let unchanged: Value = get_anonymous(&app, &format!("{ARTICLES}/{published}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["title"], "Public");

    // The author, then an admin.
    let response = patch(
        &app,
        &published,
        &author.access,
        Some(&etag),
        json!({"title": "Edited"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = header(&response, "etag");
    let response = patch(
        &app,
        &published,
        &admin.access,
        Some(&etag),
        json!({"body": "Moderated"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["title"].as_str(), body["body"].as_str()),
        (Some("Edited"), Some("Moderated"))
    );
    let response = delete(&app, &format!("{ARTICLES}/{draft}"), &admin.access).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn etags_guard_against_lost_updates() {
    let app = spawn_auth_app().await;
    let (_, author) = signed_up(&app).await;
    let (id, first) = article(&app, &author.access, "v1", true).await;
    let response = get_anonymous(&app, &format!("{ARTICLES}/{id}")).await;
    assert_eq!(header(&response, "etag"), first);

    // If-Match is required on PATCH.
    let response = patch(&app, &id, &author.access, None, json!({"title": "v2"})).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_REQUIRED);
    problem(response).await;

    let response = patch(
        &app,
        &id,
        &author.access,
        Some(&first),
        json!({"title": "v2"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = header(&response, "etag");
    assert_ne!(second, first);

    // A client still holding the first version is refused, and nothing changes.
    for tag in [first.as_str(), "W/\"2\"", "\"999\""] {
        let response = patch(
            &app,
            &id,
            &author.access,
            Some(tag),
            json!({"title": "stale"}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED, "{tag}");
        problem(response).await;
    }
    let response = app
        .client
        .delete(app.url(&format!("{ARTICLES}/{id}")))
        .bearer_auth(&author.access)
        .header("if-match", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let current: Value = get_anonymous(&app, &format!("{ARTICLES}/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["title"], "v2");

    // Two writers holding the same version: exactly one wins.
    let (a, b) = tokio::join!(
        patch(
            &app,
            &id,
            &author.access,
            Some(&second),
            json!({"title": "a"})
        ),
        patch(
            &app,
            &id,
            &author.access,
            Some(&second),
            json!({"title": "b"})
        ),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
}

#[tokio::test]
async fn lists_page_filter_and_sort_on_allowed_fields_only() {
    let app = spawn_auth_app().await;
    let (email, author) = signed_up(&app).await;
    let author_id = user_id(&app, &email).await;
    let (_, other) = signed_up(&app).await;
    for title in ["b", "d", "a", "c", "e"] {
        article(&app, &author.access, title, true).await;
    }
    article(&app, &other.access, "z", true).await;
    article(&app, &author.access, "draft", false).await;

    let page: Value = get_anonymous(&app, &format!("{ARTICLES}?sort=title&per_page=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&page), ["a", "b"]);
    assert_eq!(
        (page["total"].as_u64(), page["per_page"].as_u64()),
        (Some(6), Some(2))
    );
    let page: Value = get_anonymous(&app, &format!("{ARTICLES}?sort=title&per_page=2&page=3"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&page), ["e", "z"]);
    let page: Value = get_anonymous(
        &app,
        &format!("{ARTICLES}?sort=-title&author_id={author_id}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(titles(&page), ["e", "d", "c", "b", "a"]);
    // Default order: newest first.
    let page: Value = get_anonymous(&app, ARTICLES).await.json().await.unwrap();
    assert_eq!(titles(&page)[0], "z");
    let drafts: Value = get_with(&app, &format!("{ARTICLES}?published=false"), &author.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&drafts), ["draft"]);

    for query in [
        "per_page=0",
        "per_page=101",
        "page=0",
        "page=x",
        "sort=body",
        "sort=password_hash",
        "author_id=me",
        "published=maybe",
        "deleted_at=2020-01-01",
    ] {
        let response = get_anonymous(&app, &format!("{ARTICLES}?{query}")).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        problem(response).await;
    }
}

#[tokio::test]
async fn a_deleted_article_disappears_and_an_admin_restores_it() {
    let app = spawn_auth_app().await;
    let (_, author) = signed_up(&app).await;
    let (_, admin) = signed_up_admin(&app).await;
    let (id, _) = article(&app, &author.access, "Gone soon", true).await;
    let path = format!("{ARTICLES}/{id}");

    assert_eq!(
        delete(&app, &path, &author.access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get_anonymous(&app, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_with(&app, &path, &author.access).await.status(),
        StatusCode::NOT_FOUND
    );
    let page: Value = get_with(&app, ARTICLES, &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 0);
    assert_eq!(
        delete(&app, &path, &author.access).await.status(),
        StatusCode::NOT_FOUND
    );

    // Only admins see and restore deleted articles.
    let response = get_with(&app, "/api/v1/admin/articles/deleted", &author.access).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let deleted: Value = get_with(&app, "/api/v1/admin/articles/deleted", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&deleted), ["Gone soon"]);
    assert!(deleted["items"][0]["deleted_at"].is_string());
    let restore = format!("/api/v1/admin/articles/{id}/restore");
    assert_eq!(
        post_with(&app, &restore, &author.access).await.status(),
        StatusCode::FORBIDDEN
    );
    let response = post_with(&app, &restore, &admin.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    header(&response, "etag");
    assert_eq!(get_anonymous(&app, &path).await.status(), StatusCode::OK);
    // A live article cannot be restored again.
    assert_eq!(
        post_with(&app, &restore, &admin.access).await.status(),
        StatusCode::NOT_FOUND
    );

    let events: Value = get_with(
        &app,
        &format!("/api/v1/admin/audit-events?entity_type=article&entity_id={id}"),
        &admin.access,
    )
    .await
    .json()
    .await
    .unwrap();
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["restore", "delete", "create"]);
}

#[tokio::test]
async fn comments_follow_their_article_and_go_with_it() {
    let app = spawn_auth_app().await;
    let (_, author) = signed_up(&app).await;
    let (_, reader) = signed_up(&app).await;
    let (_, admin) = signed_up_admin(&app).await;
    let (id, _) = article(&app, &author.access, "Discuss", true).await;
    let (draft, _) = article(&app, &author.access, "Hidden", false).await;
    let comments_path = format!("{ARTICLES}/{id}/comments");

    let response = app
        .client
        .post(app.url(&comments_path))
        .bearer_auth(&reader.access)
        .json(&json!({"body": "First!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let comment: Value = response.json().await.unwrap();
    let comment_id = comment["id"].as_str().unwrap().to_owned();
    let response = app
        .client
        .post(app.url(&format!("{ARTICLES}/{draft}/comments")))
        .bearer_auth(&reader.access)
        .json(&json!({"body": "Sneaky"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let listed: Value = get_anonymous(&app, &comments_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["body"], "First!");

    // Not the comment's author: 403; its author: removed.
    let one = format!("{comments_path}/{comment_id}");
    assert_eq!(
        delete(&app, &one, &author.access).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &one, &reader.access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&app, &one, &reader.access).await.status(),
        StatusCode::NOT_FOUND
    );

    // Removing the article for good removes its comments (the foreign key cascades).
    for body in ["one", "two"] {
        let response = app
            .client
            .post(app.url(&comments_path))
            .bearer_auth(&reader.access)
            .json(&json!({"body": body}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let purge = format!("/api/v1/admin/articles/{id}");
    // Only a deleted article can be purged.
    assert_eq!(
        delete(&app, &purge, &admin.access).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &format!("{ARTICLES}/{id}"), &author.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&app, &purge, &admin.access).await.status(),
        StatusCode::NO_CONTENT
    );
    let article_id: Uuid = id.parse().unwrap();
    let left = comments::Entity::find()
        .filter(comments::Column::ArticleId.eq(article_id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(
        articles::Entity::find_by_id(article_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_audit_write_leaves_neither_the_change_nor_the_event() {
    let app = spawn_auth_app().await;
    let (_, author) = signed_up(&app).await;
    let (id, etag) = article(&app, &author.access, "Before", true).await;
    let events_before = audit_events::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    app.state
        .db
        .execute_unprepared(
            "ALTER TABLE audit_events ADD CONSTRAINT refuse_all CHECK (false) NOT VALID",
        )
        .await
        .unwrap();

    let response = patch(
        &app,
        &id,
        &author.access,
        Some(&etag),
        json!({"title": "After"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = delete(&app, &format!("{ARTICLES}/{id}"), &author.access).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = create(&app, &author.access, json!({"title": "New", "body": "x"})).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let stored = articles::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(stored.len(), 1, "the create was kept");
    assert_eq!(stored[0].title, "Before");
    assert_eq!(stored[0].version, 1);
    assert!(stored[0].deleted_at.is_none());
    let events_after = audit_events::Entity::find()
        .filter(audit_events::Column::EntityType.eq("article"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events_after, 1, "only the first create was recorded");
    assert!(events_before >= 1);
}

//! Files against real Postgres and a real storage folder: upload, sniffing and limits, who may
//! read and delete, the raw objects (never the plaintext), tampered objects, key rotation with
//! `storage rotate-key`, and the audit events of upload and delete.

mod auth_support;
mod common;
mod files_support;

use auth_support::*;
use files_support::*;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use common::{problem, run_binary};

use {{crate_name}}::config::Settings;
use {{crate_name}}::entities::audit_events;
use {{crate_name}}::entities::stored_files;
use {{crate_name}}::files::BodyError;
use {{crate_name}}::files::Vault;
use {{crate_name}}::files::chunks::SEALED_CHUNK_LEN;
use {{crate_name}}::files::keys::WrappedKey;
use {{crate_name}}::startup::Application;

const FIRST_KEY: &str = "Gc7Vn2Kq9Xw4Lr8Tz1Bm6Hs3Pd0Yf5Ja2Ue7Oi4Nk9Rt6W";
const SECOND_KEY: &str = "Mv3Qp8Zl1Wc6Rb9Xh4Tn7Ks2Yd5Gf0Ej3Ua8Io1Lm6Pq9C";

async fn audit_actions(app: &common::TestApp, id: Uuid) -> Vec<String> {
    audit_events::Entity::find()
        .filter(audit_events::Column::EntityType.eq("file"))
        .filter(audit_events::Column::EntityId.eq(id.to_string()))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect()
}

#[tokio::test]
async fn an_upload_is_sniffed_encrypted_at_rest_and_downloads_as_an_attachment() {
    let (app, folder) = spawn_files_app(|_| {}).await;
    let (_, tokens) = signed_up(&app).await;
    let plaintext = png(200_000);

    // The part claims HTML; the bytes are a PNG, and that is what is recorded and served.
    let response = upload(
        &app,
        &tokens.access,
        "../../naïve;  plan.png",
        "text/html",
        &plaintext,
    )
    .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(location, format!("{FILES}/{id}"));
    assert_eq!(body["content_type"], "image/png");
    assert_eq!(body["filename"], "naïve plan.png");
    assert_eq!(body["size_bytes"], plaintext.len());
    assert_eq!(body["sha256"], hex::encode(Sha256::digest(&plaintext)));

    let raw = std::fs::read(object_file(folder.path(), id)).unwrap();
    assert!(
        !contains(&raw, b"quick plaintext phrase"),
        "plaintext on disk"
    );
    assert!(
        !contains(&raw, &plaintext[..8]),
        "the PNG signature is on disk"
    );
    let chunks = plaintext.len().div_ceil(64 * 1024);
    assert_eq!(raw.len(), plaintext.len() + chunks * 16);

    let row = stored_files::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.key_id, "1");
    assert!(!row.wrapped_key.is_empty());

    let response = download(&app, &tokens.access, id).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"na_ve plan.png\"; filename*=UTF-8''na%C3%AFve%20plan.png"
    );
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        plaintext.as_slice()
    );
    assert_eq!(audit_actions(&app, id).await, vec!["create"]);

    let listed: Value = get_with(&app, FILES, &tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], id.to_string());
}

#[tokio::test]
async fn only_the_owner_or_an_admin_reads_or_deletes_a_file_others_get_404() {
    let (app, folder) = spawn_files_app(|_| {}).await;
    let (_, owner) = signed_up(&app).await;
    let (_, stranger) = signed_up(&app).await;
    let (_, admin) = signed_up_admin(&app).await;
    let plaintext = png(5_000);
    let id = uploaded(&app, &owner.access, &plaintext).await;

    for path in [format!("{FILES}/{id}"), format!("{FILES}/{id}/content")] {
        let response = get_with(&app, &path, &stranger.access).await;
        assert_eq!(response.status(), 404, "{path}");
        problem(response).await;
        let anonymous = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
    }
    let missing = get_with(&app, &format!("{FILES}/{}", Uuid::new_v4()), &owner.access).await;
    assert_eq!(missing.status(), 404);
    let listed: Value = get_with(&app, FILES, &stranger.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 0);

    let delete = |token: String| {
        let request = app
            .client
            .delete(app.url(&format!("{FILES}/{id}")))
            .bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(delete(stranger.access.clone()).await.status(), 404);
    let by_admin = download(&app, &admin.access, id).await;
    assert_eq!(by_admin.status(), 200);
    assert_eq!(
        by_admin.bytes().await.unwrap().as_ref(),
        plaintext.as_slice()
    );

    assert_eq!(delete(owner.access.clone()).await.status(), 204);
    assert!(
        !object_file(folder.path(), id).exists(),
        "object left behind"
    );
    assert_eq!(
        stored_files::Entity::find_by_id(id)
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(audit_actions(&app, id).await, vec!["create", "purge"]);
    assert_eq!(delete(owner.access.clone()).await.status(), 404);
    assert_eq!(download(&app, &owner.access, id).await.status(), 404);
}

#[tokio::test]
async fn refused_uploads_answer_a_clear_problem_and_leave_nothing_behind() {
    let (app, folder) = spawn_files_app(|settings| settings.files_max_bytes = 100_000).await;
    let (_, tokens) = signed_up(&app).await;

    let words = b"plain words carry no signature a sniffer knows\n".repeat(10);
    let cases: Vec<(&str, reqwest::Response, u16, &str)> = vec![
        (
            "over FILES_MAX_BYTES",
            upload(&app, &tokens.access, "big.png", "image/png", &png(150_000)).await,
            413,
            "FILES_MAX_BYTES",
        ),
        (
            "a type the sniffer does not know",
            upload(&app, &tokens.access, "words.png", "image/png", &words).await,
            415,
            "not recognised",
        ),
        (
            "HTML, sniffed and not in the allow-list",
            upload(
                &app,
                &tokens.access,
                "page.png",
                "image/png",
                b"<html><script>alert(1)</script></html>",
            )
            .await,
            415,
            "text/html",
        ),
        (
            "a known type not in the allow-list",
            upload(
                &app,
                &tokens.access,
                "a.zip",
                "image/png",
                b"PK\x03\x04rest-of-a-zip-archive",
            )
            .await,
            415,
            "application/zip",
        ),
        (
            "an empty file",
            upload(&app, &tokens.access, "empty.png", "image/png", b"").await,
            422,
            "",
        ),
        (
            "no file part",
            post_multipart(
                &app,
                &tokens.access,
                multipart(&[Part {
                    name: "note",
                    filename: None,
                    content_type: "text/plain",
                    data: b"hello",
                }]),
            )
            .await,
            422,
            "",
        ),
        (
            "a second part",
            post_multipart(
                &app,
                &tokens.access,
                multipart(&[
                    Part {
                        name: "file",
                        filename: Some("a.png"),
                        content_type: "image/png",
                        data: &png(1000),
                    },
                    Part {
                        name: "file",
                        filename: Some("b.png"),
                        content_type: "image/png",
                        data: &png(1000),
                    },
                ]),
            )
            .await,
            422,
            "",
        ),
        (
            "JSON instead of a form",
            app.client
                .post(app.url(FILES))
                .bearer_auth(&tokens.access)
                .json(&serde_json::json!({"file": "x"}))
                .send()
                .await
                .unwrap(),
            415,
            "multipart/form-data",
        ),
        (
            "a body cut in the middle of the part",
            post_multipart(&app, &tokens.access, {
                let mut body = multipart(&[Part {
                    name: "file",
                    filename: Some("cut.png"),
                    content_type: "image/png",
                    data: &png(20_000),
                }]);
                body.truncate(15_000);
                body
            })
            .await,
            400,
            "",
        ),
    ];
    for (case, response, status, detail) in cases {
        assert_eq!(response.status(), status, "{case}");
        let body = problem(response).await;
        let text = body["detail"].as_str().unwrap_or_default().to_owned();
        assert!(text.contains(detail), "{case}: {text}");
    }
    assert!(files_under(folder.path()).is_empty(), "an object remains");
    assert_eq!(
        stored_files::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_tampered_object_never_downloads_as_bytes() {
    let (app, folder) = spawn_files_app(|_| {}).await;
    let (_, tokens) = signed_up(&app).await;
    let plaintext = png(300_000);

    // Altered in the first chunk: refused before anything is sent.
    let first = uploaded(&app, &tokens.access, &plaintext).await;
    let path = object_file(folder.path(), first);
    let mut raw = std::fs::read(&path).unwrap();
    raw[100] ^= 0x01;
    std::fs::write(&path, &raw).unwrap();
    let response = download(&app, &tokens.access, first).await;
    assert_eq!(response.status(), 500);
    let body = problem(response).await;
    assert_eq!(body["detail"], "the stored file failed its integrity check");

    // Altered in the third chunk: the transfer starts, then breaks before the altered bytes.
    let later = uploaded(&app, &tokens.access, &plaintext).await;
    let path = object_file(folder.path(), later);
    let mut raw = std::fs::read(&path).unwrap();
    raw[2 * SEALED_CHUNK_LEN + 10] ^= 0x01;
    std::fs::write(&path, &raw).unwrap();
    let response = download(&app, &tokens.access, later).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "a broken transfer must fail"
    );

    // Truncated (last chunk dropped): broken too.
    let cut = uploaded(&app, &tokens.access, &plaintext).await;
    let path = object_file(folder.path(), cut);
    let raw = std::fs::read(&path).unwrap();
    std::fs::write(&path, &raw[..4 * SEALED_CHUNK_LEN]).unwrap();
    let response = download(&app, &tokens.access, cut).await;
    assert!(
        response.status() == 500 || response.bytes().await.is_err(),
        "a truncated object must fail"
    );
}

#[tokio::test]
async fn a_new_key_encrypts_new_uploads_old_files_stay_readable_and_rotate_key_rewraps_them() {
    let first_key = |settings: &mut Settings| {
        settings.storage_encryption_key_id = "2024".to_owned();
        settings.storage_encryption_key = SecretString::from(FIRST_KEY);
    };
    let (app, folder) = spawn_files_app(first_key).await;
    let (_, tokens) = signed_up(&app).await;
    let old_plaintext = png(70_000);
    let old = uploaded(&app, &tokens.access, &old_plaintext).await;
    let old_row = stored_files::Entity::find_by_id(old)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old_row.key_id, "2024");
    let raw_before = std::fs::read(object_file(folder.path(), old)).unwrap();

    // The same database and folder, served with the new key and the old one retired.
    let database_url = app.database.url.clone();
    let storage_url = format!("file://{}", folder.path().display());
    let rotated = |settings: &mut Settings| {
        relaxed_limits(settings);
        settings.storage_url = Some(storage_url.clone());
        settings.storage_encryption_key_id = "2025".to_owned();
        settings.storage_encryption_key = SecretString::from(SECOND_KEY);
        settings.storage_encryption_previous_keys = SecretString::from(format!("2024:{FIRST_KEY}"));
    };
    let mut settings = common::test_settings(&database_url);
    rotated(&mut settings);
    // The same sessions too.
    settings.redis_key_prefix = app.redis.prefix.clone();
    let second = Application::build(settings).await.unwrap();
    let address = format!("http://{}", second.local_addr());
    let server = tokio::spawn(async move {
        let _ = second.run_until(std::future::pending()).await;
    });
    let get = |path: String| {
        let request = app
            .client
            .get(format!("{address}{path}"))
            .bearer_auth(tokens.access.clone());
        async move { request.send().await.unwrap() }
    };
    let response = get(format!("{FILES}/{old}/content")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        old_plaintext.as_slice()
    );
    server.abort();

    // New uploads through the first app's state would use its key; check the rotated vault.
    let new_plaintext = png(10_000);
    let mut rotated_settings = common::test_settings(&database_url);
    rotated(&mut rotated_settings);
    let vault = Vault::from_settings(&rotated_settings).unwrap();
    assert_eq!(vault.keys.current_id(), "2025");
    let store = app.state.storage.store();
    let stored = vault
        .store(
            &store,
            futures::stream::iter([Ok::<_, BodyError>(bytes::Bytes::from(
                new_plaintext.clone(),
            ))]),
        )
        .await
        .unwrap();
    assert_eq!(stored.key.key_id, "2025");

    let dir = tempfile::tempdir().unwrap();
    let previous = format!("2024:{FIRST_KEY}");
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("STORAGE_URL", storage_url.as_str()),
        ("STORAGE_ENCRYPTION_KEY_ID", "2025"),
        ("STORAGE_ENCRYPTION_KEY", SECOND_KEY),
        ("STORAGE_ENCRYPTION_PREVIOUS_KEYS", previous.as_str()),
    ];
    let output = run_binary(dir.path(), &["storage", "rotate-key"], &env).await;
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains("re-wrapped 1 file key(s) with key id `2025`"),
        "{report}"
    );
    let again = run_binary(dir.path(), &["storage", "rotate-key"], &env).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("re-wrapped 0 file key(s)"));

    let row = stored_files::Entity::find_by_id(old)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.key_id, "2025");
    assert_ne!(row.wrapped_key, old_row.wrapped_key);
    assert_eq!(
        std::fs::read(object_file(folder.path(), old)).unwrap(),
        raw_before,
        "rotation must not rewrite the object"
    );
    assert_eq!(audit_actions(&app, old).await, vec!["create", "update"]);

    // Without the old key at all, the rotated file still opens.
    let mut settings = common::test_settings(&database_url);
    settings.storage_url = Some(storage_url.clone());
    settings.storage_encryption_key_id = "2025".to_owned();
    settings.storage_encryption_key = SecretString::from(SECOND_KEY);
    let vault = Vault::from_settings(&settings).unwrap();
    let key = WrappedKey {
        key_id: row.key_id,
        wrapped: row.wrapped_key,
    };
    let opened: Vec<bytes::Bytes> = futures::TryStreamExt::try_collect(
        vault
            .open(&store, old, &key, old_plaintext.len() as u64)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(opened.concat(), old_plaintext);
}

#[tokio::test]
async fn the_list_is_paginated_with_bounds() {
    let (app, _folder) = spawn_files_app(|_| {}).await;
    let (_, tokens) = signed_up(&app).await;
    for _ in 0..3 {
        uploaded(&app, &tokens.access, &png(1000)).await;
    }
    let page: Value = get_with(&app, &format!("{FILES}?per_page=2&page=2"), &tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    for bad in ["per_page=0", "per_page=101", "page=0", "sort=size"] {
        let response = get_with(&app, &format!("{FILES}?{bad}"), &tokens.access).await;
        assert_eq!(response.status(), 422, "{bad}");
    }
}

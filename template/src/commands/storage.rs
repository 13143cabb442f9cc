//! `storage init`: create the local folder or the S3 bucket when missing, then prove the
//! configured object store is reachable by writing, reading back and deleting a marker object.
//! `storage rotate-key`: re-wrap every file's data key with the current master key.

use anyhow::{Context as _, anyhow};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::cli::{CommandError, StorageCommand};
use crate::config::Settings;
use crate::entities::stored_files;
use crate::files::keys::{MasterKeys, WrappedKey};
use crate::storage::{BucketState, Storage, StorageTarget};
use crate::{db, schema_version};

/// Rows re-wrapped per query.
const ROTATION_BATCH: u64 = 200;

pub async fn run(settings: Settings, command: StorageCommand) -> Result<(), CommandError> {
    match command {
        StorageCommand::Init => init(&settings).await,
        StorageCommand::RotateKey => rotate_key(&settings).await,
    }
}

async fn init(settings: &Settings) -> Result<(), CommandError> {
    let (storage, created) = Storage::open_creating(settings).map_err(|e| anyhow!(e))?;
    println!("storage: {}", storage.target());
    match storage.target() {
        StorageTarget::Local(path) if created => println!("created folder {}", path.display()),
        StorageTarget::Local(path) => println!("folder {} already exists", path.display()),
        StorageTarget::Memory => {
            println!("nothing to create: the in-memory store lives as long as the process")
        }
        StorageTarget::S3 { bucket, .. } => {
            match storage
                .create_bucket_if_missing()
                .await
                .map_err(|e| anyhow!(e))?
            {
                BucketState::Created => println!("created bucket {bucket}"),
                BucketState::Existed => println!("bucket {bucket} already exists"),
            }
        }
    }
    let report = storage.check().await.map_err(|e| anyhow!(e))?;
    println!(
        "reachable: wrote, read back and deleted {} ({} bytes)",
        report.marker, report.bytes
    );
    Ok(())
}

async fn rotate_key(settings: &Settings) -> Result<(), CommandError> {
    let keys = MasterKeys::from_settings(settings).map_err(CommandError::Refused)?;
    let db = db::connect(settings).await.map_err(|e| anyhow!(e))?;
    schema_version::ensure_current(&db, settings.environment.is_dev())
        .await
        .map_err(|e| anyhow!(e))?;
    let current = keys.current_id().to_owned();
    let mut rewrapped = 0u64;
    let mut failed = Vec::new();
    loop {
        // Rows that fail stay on their old key; skip past them rather than retry forever.
        let batch = stored_files::Entity::find()
            .filter(stored_files::Column::KeyId.ne(current.as_str()))
            .filter(stored_files::Column::Id.is_not_in(failed.iter().map(|(id, _)| *id)))
            .order_by_asc(stored_files::Column::Id)
            .limit(ROTATION_BATCH)
            .all(&db)
            .await
            .context("cannot read the file rows")?;
        if batch.is_empty() {
            break;
        }
        for file in batch {
            let old = WrappedKey {
                key_id: file.key_id.clone(),
                wrapped: file.wrapped_key.clone(),
            };
            let new = match keys.rewrap(file.id, &old) {
                Ok(Some(new)) => new,
                Ok(None) => continue,
                Err(error) => {
                    failed.push((file.id, error.to_string()));
                    continue;
                }
            };
            let transaction = db.begin().await.context("cannot start a transaction")?;
            // Only if the row still has the key read above (a concurrent rotation may not).
            let updated = stored_files::Entity::update_many()
                .set(stored_files::ActiveModel {
                    key_id: Set(new.key_id),
                    wrapped_key: Set(new.wrapped),
                    ..Default::default()
                })
                .filter(stored_files::Column::Id.eq(file.id))
                .filter(stored_files::Column::KeyId.eq(old.key_id.as_str()))
                .filter(stored_files::Column::WrappedKey.eq(old.wrapped.as_str()))
                .exec(&transaction)
                .await
                .context("cannot update a file row")?;
            if updated.rows_affected == 1 {
                AuditContext::command_line()
                    .record(
                        &transaction,
                        AuditEvent::new(AuditAction::Update)
                            .on(crate::http::files::ENTITY, file.id)
                            .fields(&["key_id", "wrapped_key"]),
                    )
                    .await
                    .context("cannot write the audit event")?;
                rewrapped += 1;
            }
            transaction.commit().await.context("cannot commit")?;
        }
    }
    let _ = db.close().await;
    println!("re-wrapped {rewrapped} file key(s) with key id `{current}`");
    if failed.is_empty() {
        println!(
            "every file now uses key id `{current}`: STORAGE_ENCRYPTION_PREVIOUS_KEYS can be emptied"
        );
        return Ok(());
    }
    for (id, reason) in &failed {
        eprintln!("file {id}: {reason}");
    }
    Err(CommandError::Failed(anyhow!(
        "{} file key(s) could not be re-wrapped (listed above); they keep their old key",
        failed.len()
    )))
}

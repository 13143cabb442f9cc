//! `storage init`: create the local storage folder when needed and prove the configured
//! object store is reachable by writing, reading back and deleting a marker object.

use anyhow::anyhow;

use crate::cli::{CommandError, StorageCommand};
use crate::config::Settings;
use crate::storage::{Storage, StorageTarget};

pub async fn run(settings: Settings, command: StorageCommand) -> Result<(), CommandError> {
    match command {
        StorageCommand::Init => init(&settings).await,
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
        StorageTarget::S3 { bucket, .. } => println!(
            "bucket {bucket} is used as is: object_store cannot create buckets (create it with \
             your provider's console, `aws s3 mb s3://{bucket}` or MinIO's `mc mb`)"
        ),
    }
    let report = storage.check().await.map_err(|e| anyhow!(e))?;
    println!(
        "reachable: wrote, read back and deleted {} ({} bytes)",
        report.marker, report.bytes
    );
    Ok(())
}

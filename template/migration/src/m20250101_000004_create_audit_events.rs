//! `audit_events`: who changed what, written in the same transaction as the change it records
//! (see `src/audit`). Never holds secrets: only the names of the fields that changed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    ActorId,
    Action,
    EntityType,
    EntityId,
    RequestId,
    ClientIp,
    ChangedFields,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    // A sequence, so events list in the order they were committed.
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::ActorId).uuid().null())
                    .col(
                        ColumnDef::new(AuditEvents::Action)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::EntityType)
                            .string_len(64)
                            .null(),
                    )
                    .col(ColumnDef::new(AuditEvents::EntityId).string_len(64).null())
                    .col(
                        ColumnDef::new(AuditEvents::RequestId)
                            .string_len(128)
                            .null(),
                    )
                    .col(ColumnDef::new(AuditEvents::ClientIp).string_len(45).null())
                    .col(ColumnDef::new(AuditEvents::ChangedFields).json().not_null())
                    .to_owned(),
            )
            .await?;
        // The admin listing filters by actor, by entity and by time.
        for (name, columns) in [
            ("idx_audit_events_actor", vec![AuditEvents::ActorId]),
            (
                "idx_audit_events_entity",
                vec![AuditEvents::EntityType, AuditEvents::EntityId],
            ),
            (
                "idx_audit_events_occurred_at",
                vec![AuditEvents::OccurredAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

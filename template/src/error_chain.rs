//! One error, one line: how every error that reaches a person (the CLI's `error:` line, logs)
//! is printed.
//!
//! The convention for this crate's error types: a message describes its own layer only and a
//! wrapped error is reachable through `source()`, never formatted into the message as well
//! (`#[error("cannot open {path}")] Open { path, source }`, not `"…: {source}"`). [`Chain`]
//! then prints the layers joined with `: `. Some dependencies' errors (sea-orm's `DbErr`, for
//! one) both print and return their cause; a cause whose message the previous layer already
//! contains is skipped, so it still appears once.

use std::error::Error;
use std::fmt;

/// Displays an error and its causes on one line: `outer: cause: root cause`.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        formatter.write_str(&previous)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let message = error.to_string();
            if !message.is_empty() && !previous.contains(&message) {
                write!(formatter, ": {message}")?;
            }
            previous = message;
            cause = error.source();
        }
        Ok(())
    }
}

/// The messages of `error` and each of its sources, outermost first.
pub fn messages(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(error) = cause {
        messages.push(error.to_string());
        cause = error.source();
    }
    messages
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use sea_orm::DbErr;

    use super::*;
    use crate::auth::AuthSetupError;
    use crate::auth::jwt::SigningError;
    use crate::auth::password::PasswordHashError;
    use crate::auth::rbac::RbacError;
    use crate::cli::CommandError;
    use crate::db::DatabaseError;
    use crate::error::AppError;
    use crate::ops::env_file::EnvFileError;
    use crate::schema_version::SchemaError;
    use crate::startup::StartupError;
{%- if storage %}
    use crate::storage::StorageError;
{%- endif %}
    use crate::store::StoreError;

    fn io_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            "permission denied (os error 13)",
        )
    }

    fn db_error() -> DbErr {
        DbErr::Custom(r#"relation "casbin_rule" does not exist"#.to_owned())
    }

{%- if storage %}

    // Leaf errors that do not wrap another (many of object_store's print their source).
    fn object_store_error() -> Box<object_store::Error> {
        Box::new(object_store::Error::UnknownConfigurationKey {
            store: "S3",
            key: "aws_region".to_owned(),
        })
    }
{%- endif %}

    /// One error of each kind that wraps another, as the application builds them.
    fn representative_errors() -> Vec<Box<dyn Error + 'static>> {
        let address: SocketAddr = ([127, 0, 0, 1], 8000).into();
        let signing =
            jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat);
        vec![
            Box::new(DatabaseError::DataDir {
                path: "data".to_owned(),
                source: io_error(),
            }),
            Box::new(DatabaseError::Connect {
                target: "postgres://db/app".to_owned(),
                source: db_error(),
            }),
            Box::new(DatabaseError::Migration(db_error())),
            Box::new(SchemaError::Read(db_error())),
            Box::new(SchemaError::Migrate(db_error())),
            Box::new(StartupError::Store(StoreError::Unavailable(
                "connection refused".to_owned(),
            ))),
{%- if storage %}
            Box::new(StartupError::Storage(StorageError::CreateFolder {
                path: PathBuf::from("/srv/files"),
                source: io_error(),
            })),
{%- endif %}
            Box::new(StartupError::Auth(AuthSetupError::Policy(
                RbacError::Database(db_error()),
            ))),
            Box::new(StartupError::Auth(AuthSetupError::Password(
                PasswordHashError::Parameters("m_cost too small".to_owned()),
            ))),
            Box::new(StartupError::Bind {
                address,
                source: io_error(),
            }),
            Box::new(StartupError::Database(DatabaseError::Connect {
                target: "postgres://db/app".to_owned(),
                source: db_error(),
            })),
{%- if storage %}
            Box::new(StorageError::Open {
                target: "s3://bucket".to_owned(),
                source: object_store_error(),
            }),
            Box::new(StorageError::Unreachable {
                target: "s3://bucket".to_owned(),
                step: "write",
                source: object_store_error(),
                hint: " (does the bucket exist?)",
            }),
{%- endif %}
            Box::new(SigningError::from(signing)),
            Box::new(EnvFileError::Io {
                action: "write",
                path: PathBuf::from(".env"),
                source: io_error(),
            }),
            Box::new(AppError::Database(db_error())),
            Box::new(AppError::Store(StoreError::Command("READONLY".to_owned()))),
            Box::new(CommandError::from(StartupError::Auth(
                AuthSetupError::Policy(RbacError::Database(db_error())),
            ))),
            Box::new(CommandError::Failed(
                anyhow::Error::new(io_error()).context("cannot write .env"),
            )),
        ]
    }

    #[test]
    fn no_error_message_repeats_its_source() {
        for error in representative_errors() {
            let chain = messages(error.as_ref());
            assert!(
                chain.len() >= 2,
                "{chain:?} has no source: it cannot be checked"
            );
            for pair in chain.windows(2) {
                assert!(
                    !pair[0].contains(&pair[1]),
                    "`{}` repeats its source `{}`",
                    pair[0],
                    pair[1]
                );
            }
        }
    }

    #[test]
    fn the_printed_line_holds_each_cause_once() {
        for error in representative_errors() {
            let line = Chain(error.as_ref()).to_string();
            assert!(!line.contains('\n'), "{line}");
            for message in messages(error.as_ref()) {
                assert!(line.contains(&message), "`{line}` lost `{message}`");
            }
            let root = messages(error.as_ref()).pop().unwrap_or_default();
            assert_eq!(line.matches(&root).count(), 1, "`{line}` repeats `{root}`");
        }
    }

    #[test]
    fn a_dependency_that_repeats_its_cause_is_printed_once() {
        // sea-orm's query errors print and return their cause; sqlx's do the same one level down.
        #[derive(Debug, thiserror::Error)]
        #[error("Query Error: {0}")]
        struct Repeating(#[source] io::Error);
        #[derive(Debug, thiserror::Error)]
        #[error("cannot load the policy")]
        struct Ours(#[source] Repeating);

        let line = Chain(&Ours(Repeating(io_error()))).to_string();
        assert_eq!(
            line,
            "cannot load the policy: Query Error: permission denied (os error 13)"
        );
    }
}

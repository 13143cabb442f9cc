//! `auth init`: create the first administrator, or promote an existing account. Idempotent.
//!
//! The password comes from an interactive prompt (not echoed, asked twice) or, for scripts,
//! from the first line of standard input with `--password-stdin` — never from the command
//! line, where it would land in shell history and `ps`. It is never printed or logged.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, anyhow};
use chrono::Utc;
use clap::{Args, Subcommand};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use uuid::Uuid;

use crate::audit::{AuditAction, AuditContext, AuditEvent};
use crate::auth::password::PasswordHasher;
use crate::auth::token_store::TokenStore;
use crate::auth::{ADMIN_ROLE, USER_ROLE, normalize_email, rbac};
use crate::cli::CommandError;
use crate::config::Settings;
use crate::db;
use crate::entities::users;

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Create the first administrator, or give the admin role to an existing account
    /// (safe to run again: an existing admin is left as is)
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Email of the administrator (asked interactively when omitted)
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from the first line of standard input instead of prompting
    #[arg(long)]
    pub password_stdin: bool,
}

/// What `auth init` did.
#[derive(Debug, PartialEq, Eq)]
pub enum InitOutcome {
    Created { id: Uuid },
    Promoted { id: Uuid, reactivated: bool },
    AlreadyAdmin { id: Uuid },
}

pub async fn run(settings: Settings, command: AuthCommand) -> Result<(), CommandError> {
    match command {
        AuthCommand::Init(args) => init(settings, args).await,
    }
}

async fn init(settings: Settings, args: InitArgs) -> Result<(), CommandError> {
    let raw_email = match args.email {
        Some(email) => email,
        None if args.password_stdin => {
            return Err(CommandError::Failed(anyhow!(
                "--password-stdin needs --email (standard input carries the password)"
            )));
        }
        None => prompt_line("Administrator email: ")?,
    };
    let email =
        normalize_email(&raw_email).map_err(|reason| anyhow!("the email address {reason}"))?;

    let db = db::connect(&settings).await.map_err(anyhow::Error::new)?;
    if settings.environment.is_dev() {
        db::migrate_up(&db).await.map_err(anyhow::Error::new)?;
    }
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&db)
        .await
        .context("cannot read the users table (run `db migrate` first?)")?;

    let outcome = match existing {
        Some(user) => promote(&db, user).await?,
        None => {
            let password = if args.password_stdin {
                read_password_from_stdin()?
            } else {
                prompt_new_password()?
            };
            settings
                .password_policy()
                .check(&password, &email)
                .map_err(|violation| {
                    anyhow!(
                        "password refused ({}): {}",
                        violation.rule,
                        violation.message
                    )
                })?;
            let hasher = PasswordHasher::new(&settings.argon2_settings())
                .await
                .map_err(anyhow::Error::new)?;
            let password_hash = hasher.hash(password).await.map_err(anyhow::Error::new)?;
            create_admin(&db, &email, password_hash).await?
        }
    };
    if let InitOutcome::Promoted { id, .. } = outcome {
        announce_role_change(&settings, id).await;
    }
    match outcome {
        InitOutcome::Created { id } => println!("created administrator {email} (id {id})"),
        InitOutcome::Promoted { id, reactivated } => {
            println!(
                "gave the admin role to the existing account {email} (id {id}); its password is unchanged"
            );
            if reactivated {
                println!("the account was deactivated and has been reactivated");
            }
        }
        InitOutcome::AlreadyAdmin { id } => {
            println!("{email} (id {id}) is already an active administrator: nothing to do");
        }
    }
    Ok(())
}

/// Tells running instances that the account's roles changed, so none keeps deciding on its
/// cached copy. Best effort: without Redis the change still applies within
/// `USER_CACHE_MAX_AGE_SECS` (the cache's backstop), which the warning says.
async fn announce_role_change(settings: &Settings, id: Uuid) {
    let announced = match crate::store::from_settings(settings) {
        Ok(kv) => {
            TokenStore::new(
                kv,
                settings.refresh_token_ttl(),
                settings.max_sessions_per_user,
            )
            .invalidate_cached_user(id)
            .await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = announced {
        eprintln!(
            "warning: running instances could not be told about the new role ({error}); \
             it applies to them within {}s",
            settings.user_cache_max_age_secs
        );
    }
}

/// Creates an active account with the `admin` and `user` roles.
pub async fn create_admin(
    db: &DatabaseConnection,
    email: &str,
    password_hash: String,
) -> Result<InitOutcome, CommandError> {
    let now = Utc::now();
    let id = Uuid::new_v4();
    let transaction = db.begin().await.context("cannot start a transaction")?;
    users::ActiveModel {
        id: Set(id),
        email: Set(email.to_owned()),
        password_hash: Set(password_hash),
        is_active: Set(true),
        // Chosen by whoever runs the server console: nothing to prove by mail.
        email_verified_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&transaction)
    .await
    .context("cannot create the account")?;
    for role in [ADMIN_ROLE, USER_ROLE] {
        rbac::grant_role(&transaction, id, role)
            .await
            .context("cannot grant the roles")?;
    }
    record_init(&transaction, id, &["email", "password_hash", "roles"]).await?;
    transaction.commit().await.context("cannot commit")?;
    tracing::info!(user_id = %id, "administrator created");
    Ok(InitOutcome::Created { id })
}

/// Gives `admin` (and `user`) to an existing account and makes sure it is active.
pub async fn promote(
    db: &DatabaseConnection,
    user: users::Model,
) -> Result<InitOutcome, CommandError> {
    let id = user.id;
    let roles = rbac::roles_of(db, id)
        .await
        .context("cannot read the account's roles")?;
    let is_admin = roles.iter().any(|role| role == ADMIN_ROLE);
    if is_admin && user.is_active {
        return Ok(InitOutcome::AlreadyAdmin { id });
    }
    let reactivated = !user.is_active;
    let transaction = db.begin().await.context("cannot start a transaction")?;
    for role in [ADMIN_ROLE, USER_ROLE] {
        rbac::grant_role(&transaction, id, role)
            .await
            .context("cannot grant the roles")?;
    }
    if reactivated {
        let mut model: users::ActiveModel = user.into();
        model.is_active = Set(true);
        model.updated_at = Set(Utc::now());
        model
            .update(&transaction)
            .await
            .context("cannot reactivate the account")?;
    }
    let changed: &[&'static str] = if reactivated {
        &["roles", "is_active"]
    } else {
        &["roles"]
    };
    record_init(&transaction, id, changed).await?;
    transaction.commit().await.context("cannot commit")?;
    tracing::info!(user_id = %id, "account promoted to administrator");
    Ok(InitOutcome::Promoted { id, reactivated })
}

/// The `auth_init` audit event, in the transaction that made the change.
async fn record_init(
    transaction: &impl sea_orm::ConnectionTrait,
    id: Uuid,
    changed: &[&'static str],
) -> Result<(), CommandError> {
    AuditContext::command_line()
        .record(
            transaction,
            AuditEvent::new(AuditAction::AuthInit)
                .by(id)
                .on("user", id)
                .fields(changed),
        )
        .await
        .context("cannot write the audit event")?;
    Ok(())
}

fn prompt_line(prompt: &str) -> Result<String, CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Failed(anyhow!(
            "no terminal to ask on: pass --email (and --password-stdin)"
        )));
    }
    let mut stdout = std::io::stdout();
    write!(stdout, "{prompt}")
        .and_then(|()| stdout.flush())
        .context("cannot write the prompt")?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read standard input")?;
    Ok(line.trim().to_owned())
}

fn prompt_new_password() -> Result<String, CommandError> {
    let first = rpassword::prompt_password("Password (not shown): ")
        .context("cannot read the password from the terminal (use --password-stdin in scripts)")?;
    let second = rpassword::prompt_password("Repeat the password: ")
        .context("cannot read the password from the terminal")?;
    if first != second {
        return Err(CommandError::Failed(anyhow!(
            "the two passwords differ: nothing was changed"
        )));
    }
    Ok(first)
}

/// The first line of standard input, without its line ending.
fn read_password_from_stdin() -> Result<String, CommandError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(CommandError::Failed(anyhow!(
            "standard input did not contain a password"
        )));
    }
    Ok(password.to_owned())
}

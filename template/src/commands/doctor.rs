//! `doctor`: print what the production guard would refuse, and why, without serving.

use crate::cli::{CommandError, DoctorArgs};
use crate::config::Settings;
use crate::{db, guard};

pub fn run(mut settings: Settings, args: DoctorArgs) -> Result<(), CommandError> {
    let origin = if let Some(environment) = args.environment {
        settings.environment = environment;
        "--env"
    } else {
        "ENVIRONMENT"
    };
    println!("environment: {} (from {origin})", settings.environment);
    println!("listen:      {}:{}", settings.host, settings.port);
    println!("database:    {}", db::target(&settings).display);
    println!(
        "redis:       {}",
        settings
            .redis_url
            .as_deref()
            .map(db::redact_url)
            .unwrap_or_else(|| "in-process store".to_owned())
    );
{%- if storage %}
    match settings.storage_target() {
        Ok(target) => println!("storage:     {target}"),
        Err(error) => println!("storage:     {error}"),
    }
    println!(
        "antivirus:   {}",
        settings
            .clamd_address
            .as_deref()
            .map_or("off (CLAMD_ADDRESS unset)".to_owned(), |address| {
                format!("clamd at {address}")
            })
    );
{%- endif %}
    println!(
        "api docs:    {}",
        if settings.api_docs_enabled() {
            "on"
        } else {
            "off"
        }
    );

    let mut violations = guard::rules_for_production(&settings);
    // What the guard cannot see: the datastore passwords and the env file holding the secrets.
    violations.extend(crate::ops::production_checks::deployment_violations(
        &crate::config::ConfigSources::from_process(None)?,
        std::path::Path::new(crate::ops::DEFAULT_ENV_FILE),
    ));
    if settings.environment.is_dev() {
        if violations.is_empty() {
            println!("ok: these settings would also pass in production");
        } else {
            println!(
                "ok for dev; in production these {} setting(s) would be refused:",
                violations.len()
            );
            for violation in &violations {
                println!("  - {violation}");
            }
        }
        return Ok(());
    }
    if violations.is_empty() {
        println!("ok: the production guard passes");
        return Ok(());
    }
    let mut message = format!(
        "{} setting(s) would be refused in {}:",
        violations.len(),
        settings.environment
    );
    for violation in &violations {
        message.push_str(&format!("\n  - {violation}"));
    }
    Err(CommandError::Refused(message))
}

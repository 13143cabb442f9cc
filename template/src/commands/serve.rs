use anyhow::Context;

use crate::cli::CommandError;
use crate::config::Settings;
use crate::db;
use crate::startup::Application;

pub async fn run(settings: Settings) -> Result<(), CommandError> {
    let environment = settings.environment;
    let database = db::target(&settings).display;
    let docs = settings
        .api_docs_enabled()
        .then(|| format!("{}/docs", settings.api_prefix));
    let application = Application::build(settings).await?;
    let metrics = application.metrics_addr().map_or_else(
        || "off".to_owned(),
        |address| format!("http://{address}/metrics"),
    );
    tracing::info!(
        address = %application.local_addr(),
        %metrics,
        %environment,
        %database,
        kv = application.state().kv.backend().as_str(),
        docs = docs.as_deref().unwrap_or("off"),
        "listening"
    );
    application
        .run_until_stopped()
        .await
        .context("the HTTP server stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}

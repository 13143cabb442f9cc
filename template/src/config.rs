//! Typed settings, loaded in layers: built-in defaults → optional TOML file → `.env` (dev
//! only) → process environment. Every setting is one flat key whose environment variable is
//! the upper-case key (`port` ↔ `PORT`), so the README table, the config file and the env stay
//! in step.
//!
//! To add a setting: add a field (with its default in `Settings::default`), document it in the
//! README table and `.env.example`, and, if production needs a particular value, add a rule to
//! `guard.rs`.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// Where the file layer is read from when neither `--config` nor `CONFIG_FILE` names one.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// The JWT signing secret used when none is configured. Convenient in dev, refused everywhere
/// else by the production guard.
pub const DEV_JWT_SECRET: &str = "dev-insecure-jwt-secret-do-not-use-outside-dev";

/// The TOTP-secret encryption key used when none is configured: dev only, like the JWT one.
pub const DEV_MFA_ENCRYPTION_KEY: &str = "dev-insecure-mfa-key-do-not-use-outside-dev";
{%- if storage %}

/// The master key of uploaded files used when none is configured: dev only, like the JWT one.
pub const DEV_STORAGE_ENCRYPTION_KEY: &str = "dev-insecure-storage-key-do-not-use-outside-dev";

/// Types uploads may have by default (as sniffed from their bytes).
pub const DEFAULT_FILES_ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
];
{%- endif %}

/// Where `/metrics` is served by default: loopback only, on the port OpenTelemetry's
/// Prometheus exporters use.
pub const DEFAULT_METRICS_ADDRESS: &str = "127.0.0.1:9464";

/// Most clock skew tolerated on access-token expiry.
pub const MAX_JWT_LEEWAY_SECS: u64 = 30;

/// NIST SP 800-63B's floor for memorised secrets.
pub const MIN_PASSWORD_LENGTH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    Dev,
    Staging,
    Prod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Staging => "staging",
            Environment::Prod => "prod",
        }
    }

    pub fn is_dev(self) -> bool {
        self == Environment::Dev
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "dev" | "development" | "local" => Ok(Environment::Dev),
            "staging" | "stage" => Ok(Environment::Staging),
            "prod" | "production" => Ok(Environment::Prod),
            other => Err(format!(
                "unknown environment `{other}`: expected dev, staging or prod"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, the dev default.
    Text,
    /// One JSON object per line, the default everywhere else (log shippers parse it).
    Json,
}

/// Every runtime setting of the application. Field `foo_bar` is set by `FOO_BAR`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `dev`, `staging` or `prod`. Everything but `dev` runs the production guard.
    pub environment: Environment,
    /// Address the HTTP server binds to.
    pub host: String,
    /// Port the HTTP server binds to (0 picks a free one).
    pub port: u16,
    /// Postgres URL. Unset: an embedded SQLite file under `data_dir` (dev only).
    pub database_url: Option<String>,
    /// Upper bound of the database connection pool.
    pub database_max_connections: u32,
    /// Folder for local state (the embedded SQLite database).
    pub data_dir: PathBuf,
    /// Redis URL. Unset: an in-process store (dev only, not shared between instances).
    pub redis_url: Option<String>,
    /// Prepended to every Redis key, so several apps (or test runs) can share one Redis.
    pub redis_key_prefix: String,
    /// Multiplexed Redis connections commands are spread over (each carries many concurrent
    /// commands; one or two saturate a Redis).
    pub redis_pool_size: usize,
{%- if storage %}
    /// Object storage: `file:///abs/path`, `memory://` (dev and tests) or `s3://bucket[/prefix]`
    /// (credentials and endpoint from `AWS_*`). Unset: the folder `storage` under `data_dir`.
    pub storage_url: Option<String>,
    /// Largest accepted upload, in bytes (413 beyond).
    pub files_max_bytes: u64,
    /// MIME types an upload may have, as sniffed from its content (comma-separated).
    #[serde(deserialize_with = "comma_separated_list")]
    pub files_allowed_types: Vec<String>,
    /// Master key wrapping the data key of each new upload (any length; hashed to 256 bits).
    pub storage_encryption_key: SecretString,
    /// Id of `storage_encryption_key`, recorded with every file it wraps.
    pub storage_encryption_key_id: String,
    /// Retired master keys still accepted for reading, `id:key,id:key`.
    pub storage_encryption_previous_keys: SecretString,
    /// clamd to scan uploads with (`host:port` or `unix:/path`). Unset: no scan.
    pub clamd_address: Option<String>,
{%- endif %}
    /// Path prefix of the versioned API (the health routes stay at the root).
    pub api_prefix: String,
    /// Serve the OpenAPI document and the docs page. Unset: on in dev, off elsewhere.
    pub api_docs: Option<bool>,
    /// Origins allowed by CORS (comma-separated in the environment). Empty: no CORS headers.
    #[serde(deserialize_with = "comma_separated_list")]
    pub cors_allowed_origins: Vec<String>,
    /// Let browsers send cookies on cross-origin requests (needs explicit origins, never `*`).
    pub cors_allow_credentials: bool,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// A request still running after this many seconds is answered with 503.
    pub request_timeout_secs: u64,
    /// Each readiness check (database, Redis) gives up after this many milliseconds.
    pub readiness_timeout_ms: u64,
    /// On SIGTERM / Ctrl-C, in-flight requests get this many seconds to finish.
    pub shutdown_grace_secs: u64,
    /// HMAC key that signs access tokens.
    pub jwt_secret: SecretString,
    /// Default log filter (`RUST_LOG`, when set, wins).
    pub log_level: String,
    /// `text` or `json`. Unset: text in dev, JSON elsewhere.
    pub log_format: Option<LogFormat>,
    /// `iss` of issued access tokens, and the only issuer accepted.
    pub jwt_issuer: String,
    /// `aud` of issued access tokens, and the only audience accepted.
    pub jwt_audience: String,
    /// Lifetime of an access token, in seconds (production refuses more than 900).
    pub access_token_ttl_secs: u64,
    /// Clock skew tolerated on `exp`, in seconds (at most 30).
    pub jwt_leeway_secs: u64,
    /// Lifetime of a session's refresh token, in seconds, renewed on each rotation
    /// (production refuses more than 30 days).
    pub refresh_token_ttl_secs: u64,
    /// `Secure` flag of the refresh-token cookie. Unset: on outside dev (production refuses off).
    pub refresh_cookie_secure: Option<bool>,
    /// `SameSite` of the refresh-token cookie: `lax` or `strict`.
    pub refresh_cookie_same_site: SameSitePolicy,
    /// Reverse proxies (IPs or CIDR ranges, comma-separated) whose `Forwarded` /
    /// `X-Forwarded-For` headers are believed. Empty: the socket peer is the client.
    #[serde(deserialize_with = "comma_separated_list")]
    pub trusted_proxies: Vec<String>,
    /// Requests per second a client IP may make on the API (refill rate of its bucket).
    pub rate_limit_per_second: u32,
    /// Requests a client IP may make at once on the API.
    pub rate_limit_burst: u32,
    /// Requests per minute a client IP may make on `auth/*`.
    pub auth_rate_limit_per_minute: u32,
    /// Requests a client IP may make at once on `auth/*`.
    pub auth_rate_limit_burst: u32,
    /// Failed password checks (login, password change) per client IP per window, any account.
    pub login_max_attempts_per_ip: u64,
    pub login_ip_window_secs: u64,
    /// Failed password checks on one account from one client IP per window, counted across
    /// every instance (Redis). Another address is not affected: no stranger locks the owner out.
    pub login_max_attempts_per_account: u64,
    /// Window of the per-(account, IP) limit and of the account's failure count.
    pub login_account_window_secs: u64,
    /// Failures on one account (any IP) after which each further check waits a delay.
    pub login_delay_after_failures: u64,
    /// First delay, in seconds, doubled at each further failure…
    pub login_delay_initial_secs: u64,
    /// …up to this many seconds.
    pub login_delay_max_secs: u64,
    /// Addresses an account logged in from skip its delay for this many seconds.
    pub login_known_address_ttl_secs: u64,
    /// Shortest accepted password, in characters (at least 8).
    pub password_min_length: usize,
    /// Longest accepted password, in characters (refused before it is hashed).
    pub password_max_length: usize,
    /// Lowest accepted zxcvbn strength score, 0 (anything) to 4 (very hard to guess).
    pub password_min_score: u8,
    /// Argon2id memory cost in KiB (OWASP minimum 19456; production refuses less).
    pub argon2_memory_kib: u32,
    /// Argon2id passes (OWASP minimum 2).
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    // --- Sessions and the authenticated path's caches.
    /// Sessions (logins) a user may hold at once; a new login beyond it revokes the user's
    /// least recently used session.
    pub max_sessions_per_user: usize,
    /// Users whose account and roles each instance keeps in memory between requests (0: none,
    /// every request reads them from the database). Changes made through the API or the CLI
    /// reach every instance's cache at once (a version in Redis, read with the token check);
    /// changes made directly in SQL only after `user_cache_max_age_secs`.
    pub user_cache_capacity: usize,
    /// A cached user is read again from the database after this many seconds even if nothing
    /// announced a change (a backstop for edits made directly in SQL).
    pub user_cache_max_age_secs: u64,
    // --- Load and fault limits -------------------------------------------------------------
    /// Password hashes/verifications running at once (each holds ARGON2_MEMORY_KIB of RAM);
    /// 0: one per CPU core.
    pub password_hash_max_concurrent: usize,
    /// How long a login waits for a hashing slot before it is answered 503 + `Retry-After`.
    pub password_hash_queue_timeout_ms: u64,
    /// How long a request waits for a database connection (pool full or database down)
    /// before it is answered 503 + `Retry-After`.
    pub database_acquire_timeout_ms: u64,
    /// A client must send a complete request head within this many seconds of starting it
    /// (and a new connection must start one within this time).
    pub http_header_read_timeout_secs: u64,
    /// An idle keep-alive connection (no request in flight) is closed after this many seconds;
    /// keep it above the idle timeout of a reverse proxy that pools connections to the app.
    pub http_keep_alive_timeout_secs: u64,
    /// Most client connections open at once; more wait in the listen backlog. Keep it below
    /// the process's open-file limit (`ulimit -n`) minus the pools.
    pub http_max_connections: usize,
    // --- Accounts: mail, email verification, password reset (README "Accounts") ---
    /// SMTP relay host. Unset: mail is written to `DATA_DIR/mail/*.eml` (dev only).
    pub smtp_host: Option<String>,
    /// SMTP port. Unset: 587 (starttls), 465 (tls) or 25 (none).
    pub smtp_port: Option<u16>,
    /// `starttls`, `tls` (implicit, SMTPS) or `none` (a relay on the same host only).
    pub smtp_tls: crate::mail::SmtpTls,
    /// SMTP AUTH user name; unset: no AUTH.
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// Connection and command timeout of SMTP, in seconds.
    pub smtp_timeout_secs: u64,
    /// Extra PEM root certificate for the relay (a private CA).
    pub smtp_ca_file: Option<PathBuf>,
    /// `From:` of every message.
    pub mail_from: String,
    /// Base URL of the front-end pages mail links point at (`/verify-email`, `/reset-password`).
    pub public_url: String,
    /// Send a verification link on registration.
    pub email_verification: bool,
    /// Refuse login until the email is verified. Unset: on outside dev.
    pub require_verified_email: Option<bool>,
    /// Lifetime of a verification link, in seconds.
    pub email_verification_ttl_secs: u64,
    /// Verification mails one account may ask for per hour.
    pub email_verification_resend_per_hour: u64,
    /// `auth/password-reset` sends reset links.
    pub password_reset: bool,
    /// Lifetime of a reset link, in seconds (at most 3600).
    pub password_reset_ttl_secs: u64,
    /// Key that encrypts the TOTP secrets at rest (any length; hashed to 256 bits).
    pub mfa_encryption_key: SecretString,
    /// Lifetime of the ticket a password login gets when MFA is on, in seconds.
    pub mfa_ticket_ttl_secs: u64,
    // --- Metrics and traces (README "Metrics and traces") ---
    /// `IP:PORT` of the listener that serves Prometheus `/metrics`, apart from the API so a
    /// proxy in front of the API never exposes it; `off` serves no metrics.
    pub metrics_address: String,
    /// Bearer token `/metrics` requires. Unset: none, acceptable on a loopback listener only.
    pub metrics_token: Option<SecretString>,
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`): traces are sent to
    /// `…/v1/traces`. Unset: no trace is recorded or exported.
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// `service.name` of the exported traces.
    pub otel_service_name: String,
}

/// `SameSite` attribute of the refresh-token cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSitePolicy {
    /// Sent on top-level navigations from other sites, never on their POSTs.
    Lax,
    /// Never sent from other sites.
    Strict,
}

impl<'de> Deserialize<'de> for SameSitePolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        match raw.trim().to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSitePolicy::Lax),
            "strict" => Ok(SameSitePolicy::Strict),
            other => Err(serde::de::Error::custom(format!(
                "REFRESH_COOKIE_SAME_SITE must be lax or strict (got `{other}`)"
            ))),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            environment: Environment::Dev,
            host: "127.0.0.1".to_owned(),
            port: 8000,
            database_url: None,
            database_max_connections: 10,
            data_dir: PathBuf::from("data"),
            redis_url: None,
            redis_key_prefix: concat!(env!("CARGO_PKG_NAME"), ":").to_owned(),
            redis_pool_size: 2,
{%- if storage %}
            storage_url: None,
            files_max_bytes: 25 * 1024 * 1024,
            files_allowed_types: DEFAULT_FILES_ALLOWED_TYPES
                .iter()
                .map(|mime| (*mime).to_owned())
                .collect(),
            storage_encryption_key: SecretString::from(DEV_STORAGE_ENCRYPTION_KEY),
            storage_encryption_key_id: "1".to_owned(),
            storage_encryption_previous_keys: SecretString::from(""),
            clamd_address: None,
{%- endif %}
            api_prefix: "/api/v1".to_owned(),
            api_docs: None,
            cors_allowed_origins: Vec::new(),
            cors_allow_credentials: false,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            readiness_timeout_ms: 2_000,
            shutdown_grace_secs: 20,
            jwt_secret: SecretString::from(DEV_JWT_SECRET),
            log_level: "info".to_owned(),
            log_format: None,
            jwt_issuer: env!("CARGO_PKG_NAME").to_owned(),
            jwt_audience: format!("{}-api", env!("CARGO_PKG_NAME")),
            access_token_ttl_secs: 900,
            jwt_leeway_secs: 5,
            refresh_token_ttl_secs: 14 * 24 * 3600,
            refresh_cookie_secure: None,
            refresh_cookie_same_site: SameSitePolicy::Lax,
            trusted_proxies: Vec::new(),
            rate_limit_per_second: 50,
            rate_limit_burst: 100,
            auth_rate_limit_per_minute: 30,
            auth_rate_limit_burst: 10,
            login_max_attempts_per_ip: 5,
            login_ip_window_secs: 60,
            login_max_attempts_per_account: 10,
            login_account_window_secs: 15 * 60,
            login_delay_after_failures: 20,
            login_delay_initial_secs: 1,
            login_delay_max_secs: 60,
            login_known_address_ttl_secs: 30 * 24 * 3600,
            password_min_length: 12,
            password_max_length: 128,
            password_min_score: 3,
            argon2_memory_kib: crate::auth::password::OWASP_MIN_MEMORY_KIB,
            argon2_iterations: crate::auth::password::OWASP_MIN_ITERATIONS,
            argon2_parallelism: 1,
            max_sessions_per_user: 20,
            // About 2 MB when full; the gate's database query only on a miss.
            user_cache_capacity: 10_000,
            user_cache_max_age_secs: 30,
            password_hash_max_concurrent: 0,
            password_hash_queue_timeout_ms: 2_000,
            database_acquire_timeout_ms: 3_000,
            http_header_read_timeout_secs: 10,
            http_keep_alive_timeout_secs: 75,
            http_max_connections: 768,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: crate::mail::SmtpTls::StartTls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_secs: 10,
            smtp_ca_file: None,
            mail_from: concat!(env!("CARGO_PKG_NAME"), " <no-reply@localhost>").to_owned(),
            public_url: "http://127.0.0.1:8000".to_owned(),
            email_verification: true,
            require_verified_email: None,
            email_verification_ttl_secs: 24 * 3600,
            email_verification_resend_per_hour: 3,
            password_reset: true,
            password_reset_ttl_secs: 3600,
            mfa_encryption_key: SecretString::from(DEV_MFA_ENCRYPTION_KEY),
            mfa_ticket_ttl_secs: 300,
            metrics_address: DEFAULT_METRICS_ADDRESS.to_owned(),
            metrics_token: None,
            otel_exporter_otlp_endpoint: None,
            otel_service_name: env!("CARGO_PKG_NAME").to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    MissingConfigFile { path: PathBuf },
    #[error("cannot read {path}: {reason}")]
    UnreadableDotenv { path: PathBuf, reason: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("{variable}: cannot read {path}: {reason}")]
    UnreadableSettingFile {
        variable: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{variable}: {path} is empty")]
    EmptySettingFile { variable: String, path: PathBuf },
}

// --- Settings read from files (`<NAME>_FILE`) -----------------------------------------------
// Docker and Swarm secrets are files (/run/secrets/…), never environment variables: each of
// these settings may instead name a file whose content is the value. The content then goes
// through the same parsing and production guard as a value set directly.

/// The settings that accept a `<NAME>_FILE` variable.
pub const FILE_SETTINGS: [&str; 3] = ["JWT_SECRET", "DATABASE_URL", "REDIS_URL"];

/// Replaces each `<NAME>_FILE` of one layer (`.env` or the environment) by `<NAME>` set to the
/// file's content, trailing line breaks removed (`echo secret > file` adds one). A blank
/// `<NAME>_FILE` means unset; setting both forms in one layer is refused as ambiguous.
fn read_setting_files(layer: &mut HashMap<String, String>) -> Result<(), ConfigError> {
    for name in FILE_SETTINGS {
        let variable = format!("{name}_FILE");
        let Some(path) = layer.remove(&variable) else {
            continue;
        };
        let path = PathBuf::from(path.trim());
        if path.as_os_str().is_empty() {
            continue;
        }
        if layer
            .get(name)
            .is_some_and(|value| !value.trim().is_empty())
        {
            return Err(ConfigError::Invalid(format!(
                "set {name} or {variable}, not both"
            )));
        }
        let content =
            std::fs::read_to_string(&path).map_err(|error| ConfigError::UnreadableSettingFile {
                variable: variable.clone(),
                path: path.clone(),
                reason: error.to_string(),
            })?;
        let value = content.trim_end_matches(['\n', '\r']);
        if value.trim().is_empty() {
            return Err(ConfigError::EmptySettingFile { variable, path });
        }
        layer.insert(name.to_owned(), value.to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod setting_files_tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn sources_with(pairs: &[(&str, String)]) -> ConfigSources {
        ConfigSources {
            environment: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..ConfigSources::default()
        }
    }

    fn secret_file(directory: &tempfile::TempDir, name: &str, content: &str) -> String {
        let path = directory.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    #[test]
    fn each_file_setting_takes_the_files_content_without_the_trailing_newline() {
        let directory = tempfile::tempdir().unwrap();
        let settings = Settings::from_sources(sources_with(&[
            (
                "JWT_SECRET_FILE",
                secret_file(&directory, "jwt", "s3cr3t with spaces \n"),
            ),
            (
                "DATABASE_URL_FILE",
                secret_file(&directory, "db", "postgres://u:p@db:5432/app\r\n"),
            ),
            (
                "REDIS_URL_FILE",
                secret_file(&directory, "redis", "redis://:p@redis:6379/0"),
            ),
        ]))
        .unwrap();
        assert_eq!(settings.jwt_secret.expose_secret(), "s3cr3t with spaces ");
        assert_eq!(
            settings.database_url.as_deref(),
            Some("postgres://u:p@db:5432/app")
        );
        assert_eq!(
            settings.redis_url.as_deref(),
            Some("redis://:p@redis:6379/0")
        );
    }

    #[test]
    fn the_files_content_is_validated_like_a_direct_value() {
        let directory = tempfile::tempdir().unwrap();
        let error = Settings::from_sources(sources_with(&[(
            "DATABASE_URL_FILE",
            secret_file(&directory, "db", "mysql://localhost/app\n"),
        )]))
        .unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn a_missing_file_is_one_line_naming_the_variable_and_the_path() {
        let error = Settings::from_sources(sources_with(&[(
            "JWT_SECRET_FILE",
            "/nonexistent/run/secrets/jwt".to_owned(),
        )]))
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("JWT_SECRET_FILE: cannot read /nonexistent/run/secrets/jwt: "),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn an_unreadable_file_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file, whoever runs the test (root reads any mode).
        let error = Settings::from_sources(sources_with(&[(
            "REDIS_URL_FILE",
            directory.path().display().to_string(),
        )]))
        .unwrap_err();
        assert!(
            matches!(error, ConfigError::UnreadableSettingFile { ref variable, .. } if variable == "REDIS_URL_FILE"),
            "{error}"
        );
    }

    #[test]
    fn an_empty_or_blank_file_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        for (name, content) in [("empty", ""), ("blank", " \n\n")] {
            let path = secret_file(&directory, name, content);
            let error = Settings::from_sources(sources_with(&[("JWT_SECRET_FILE", path.clone())]))
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("JWT_SECRET_FILE: {path} is empty")
            );
        }
    }

    #[test]
    fn both_forms_at_once_are_refused_and_a_blank_file_variable_is_unset() {
        let directory = tempfile::tempdir().unwrap();
        let error = Settings::from_sources(sources_with(&[
            ("JWT_SECRET", "direct".to_owned()),
            ("JWT_SECRET_FILE", secret_file(&directory, "jwt", "file")),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("JWT_SECRET or JWT_SECRET_FILE"),
            "{error}"
        );
        let settings = Settings::from_sources(sources_with(&[
            ("JWT_SECRET", "direct".to_owned()),
            ("JWT_SECRET_FILE", " ".to_owned()),
        ]))
        .unwrap();
        assert_eq!(settings.jwt_secret.expose_secret(), "direct");
    }
}
// --- end of settings read from files ---------------------------------------------------------

/// Where the layers come from. Tests build one by hand so they never touch the process
/// environment (which is shared by every test thread).
#[derive(Debug, Default, Clone)]
pub struct ConfigSources {
    /// TOML file; `required` makes a missing file an error (it was asked for explicitly).
    pub file: Option<(PathBuf, bool)>,
    /// Variables read from `.env` (already filtered: only loaded in dev).
    pub dotenv: HashMap<String, String>,
    /// Variables of the process environment (or a test's stand-in).
    pub environment: HashMap<String, String>,
}

impl ConfigSources {
    /// The sources of a real run: the config file named on the command line or by
    /// `CONFIG_FILE` (else `config.toml` if present), the process environment, and `.env` in
    /// the working directory unless the process environment already says we are not in dev.
    pub fn from_process(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let environment: HashMap<String, String> = std::env::vars().collect();
        let file = match config_file {
            Some(path) => Some((path.to_path_buf(), true)),
            None => match environment.get("CONFIG_FILE").filter(|p| !p.is_empty()) {
                Some(path) => Some((PathBuf::from(path), true)),
                None => Some((PathBuf::from(DEFAULT_CONFIG_FILE), false)),
            },
        };
        let dev_by_environment = environment
            .get("ENVIRONMENT")
            .map(|value| value.parse::<Environment>().is_ok_and(Environment::is_dev))
            .unwrap_or(true);
        let dotenv = if dev_by_environment {
            read_dotenv(Path::new(".env"))?
        } else {
            HashMap::new()
        };
        Ok(ConfigSources {
            file,
            dotenv,
            environment,
        })
    }
}

/// Reads a dotenv file without touching the process environment (mutating it is unsound once
/// threads run). A missing file is simply no layer.
fn read_dotenv(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let unreadable = |reason: String| ConfigError::UnreadableDotenv {
        path: path.to_path_buf(),
        reason,
    };
    let entries = dotenvy::from_path_iter(path).map_err(|e| unreadable(e.to_string()))?;
    entries
        .map(|entry| entry.map_err(|e| unreadable(e.to_string())))
        .collect()
}

impl Settings {
    /// Loads the settings of a real run (see [`ConfigSources::from_process`]).
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::from_sources(ConfigSources::from_process(config_file)?)
    }

    /// Merges the layers, later ones winning: defaults, file, `.env`, environment.
    pub fn from_sources(sources: ConfigSources) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some((path, required)) = &sources.file {
            if *required && !path.exists() {
                return Err(ConfigError::MissingConfigFile { path: path.clone() });
            }
            builder = builder.add_source(
                config::File::from(path.as_path())
                    .format(config::FileFormat::Toml)
                    .required(*required),
            );
        }
        for mut layer in [sources.dotenv, sources.environment] {
            read_setting_files(&mut layer)?;
            // Values stay strings (no `try_parsing`): a numeric secret keeps its leading
            // zeros, and serde converts only the fields that are numbers or booleans.
            // Unrelated variables (PATH, HOME…) are ignored by deserialization.
            let layer = layer.into_iter().collect();
            builder = builder.add_source(config::Environment::default().source(Some(layer)));
        }
        let merged = builder
            .build()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let settings: Settings = merged
            .try_deserialize()
            .map_err(|e| ConfigError::Invalid(name_env_variable(e.to_string())))?;
        settings.normalized()
    }

    /// Trims values, turns empty optional values into "unset" and rejects values that can
    /// never work, whatever the environment.
    fn normalized(mut self) -> Result<Settings, ConfigError> {
        let blank_to_none =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        self.database_url = blank_to_none(self.database_url);
        self.redis_url = blank_to_none(self.redis_url);
{%- if storage %}
        self.storage_url = blank_to_none(self.storage_url);
        self.clamd_address = blank_to_none(self.clamd_address);
{%- endif %}
        self.host = self.host.trim().to_owned();
        self.api_prefix = normalize_prefix(&self.api_prefix)?;
        if self.body_limit_bytes == 0 {
            return Err(ConfigError::Invalid(
                "BODY_LIMIT_BYTES must be greater than 0".to_owned(),
            ));
        }
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "REQUEST_TIMEOUT_SECS must be greater than 0".to_owned(),
            ));
        }
        if self.max_sessions_per_user == 0 {
            return Err(ConfigError::Invalid(
                "MAX_SESSIONS_PER_USER must be greater than 0".to_owned(),
            ));
        }
        if self.database_max_connections == 0 || self.redis_pool_size == 0 {
            return Err(ConfigError::Invalid(
                "DATABASE_MAX_CONNECTIONS and REDIS_POOL_SIZE must be greater than 0".to_owned(),
            ));
        }
        if self.cors_allow_credentials && self.cors_allowed_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::Invalid(
                "CORS_ALLOW_CREDENTIALS=true cannot be combined with CORS_ALLOWED_ORIGINS=*: \
                 list the origins explicitly"
                    .to_owned(),
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            return Err(ConfigError::Invalid(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".to_owned(),
            ));
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("unix://")
                || url.starts_with("redis+unix://"))
        {
            return Err(ConfigError::Invalid(
                "REDIS_URL must start with redis://, rediss:// or unix://".to_owned(),
            ));
        }
{%- if storage %}
        self.validate_files()?;
{%- endif %}
        self.validate_auth()?;
        self.validate_limits()?;
        self.validate_accounts()?;
        self.validate_observability()?;
        Ok(self)
    }

    /// The metrics listener and the trace collector: refused when they can never work.
    fn validate_observability(&mut self) -> Result<(), ConfigError> {
        self.metrics_address = match self.metrics_address.trim() {
            "" => DEFAULT_METRICS_ADDRESS.to_owned(),
            address => address.to_owned(),
        };
        self.metrics_listen_address()?;
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|token| token.expose_secret().trim().is_empty())
        {
            self.metrics_token = None;
        }
        self.otel_exporter_otlp_endpoint = self
            .otel_exporter_otlp_endpoint
            .take()
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        if let Some(url) = &self.otel_exporter_otlp_endpoint
            && !url::Url::parse(url).is_ok_and(|parsed| {
                matches!(parsed.scheme(), "http" | "https") && parsed.has_host()
            })
        {
            return Err(ConfigError::Invalid(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL (got `{url}`)"
            )));
        }
        self.otel_service_name = self.otel_service_name.trim().to_owned();
        if self.otel_service_name.is_empty() {
            return Err(ConfigError::Invalid(
                "OTEL_SERVICE_NAME must not be empty".to_owned(),
            ));
        }
        Ok(())
    }

    /// The `/metrics` listener's address; `None` when `METRICS_ADDRESS` is `off`.
    pub fn metrics_listen_address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let value = self.metrics_address.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        value.parse().map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "METRICS_ADDRESS must be IP:PORT such as 127.0.0.1:9464, or `off` (got `{value}`)"
            ))
        })
    }

    /// Where exported spans go: the OTLP/HTTP traces path under the collector's base URL.
    pub fn otlp_traces_endpoint(&self) -> Option<String> {
        self.otel_exporter_otlp_endpoint
            .as_ref()
            .map(|base| format!("{}/v1/traces", base.trim().trim_end_matches('/')))
    }

{%- if storage %}
    /// Where object storage points (`STORAGE_URL`, else `DATA_DIR/storage`).
    pub fn storage_target(&self) -> Result<crate::storage::StorageTarget, String> {
        crate::storage::StorageTarget::parse(self.storage_url.as_deref(), &self.data_dir)
    }

    /// Object storage, upload limits, file keys and the antivirus address.
    fn validate_files(&mut self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret as _;
        self.storage_target().map_err(ConfigError::Invalid)?;
        if self.files_max_bytes == 0 {
            return Err(ConfigError::Invalid(
                "FILES_MAX_BYTES must be greater than 0".to_owned(),
            ));
        }
        self.files_allowed_types = self
            .files_allowed_types
            .iter()
            .map(|mime| mime.trim().to_ascii_lowercase())
            .filter(|mime| !mime.is_empty())
            .collect();
        if self.files_allowed_types.is_empty() {
            return Err(ConfigError::Invalid(
                "FILES_ALLOWED_TYPES must list at least one MIME type (e.g. application/pdf)"
                    .to_owned(),
            ));
        }
        self.storage_encryption_key_id = self.storage_encryption_key_id.trim().to_owned();
        if !crate::files::keys::valid_key_id(&self.storage_encryption_key_id) {
            return Err(ConfigError::Invalid(format!(
                "STORAGE_ENCRYPTION_KEY_ID must be 1 to {} of A-Z a-z 0-9 . _ -",
                crate::files::keys::KEY_ID_MAX
            )));
        }
        if self
            .storage_encryption_key
            .expose_secret()
            .trim()
            .is_empty()
        {
            return Err(ConfigError::Invalid(
                "STORAGE_ENCRYPTION_KEY must not be empty".to_owned(),
            ));
        }
        let previous = crate::files::keys::parse_previous_keys(
            self.storage_encryption_previous_keys.expose_secret(),
        )
        .map_err(ConfigError::Invalid)?;
        if previous
            .iter()
            .any(|(id, _)| *id == self.storage_encryption_key_id)
        {
            return Err(ConfigError::Invalid(format!(
                "STORAGE_ENCRYPTION_PREVIOUS_KEYS names `{}`, the current STORAGE_ENCRYPTION_KEY_ID",
                self.storage_encryption_key_id
            )));
        }
        if let Some(address) = &self.clamd_address {
            crate::files::antivirus::ClamdAddress::parse(address).map_err(ConfigError::Invalid)?;
        }
        Ok(())
    }
{%- endif %}

    /// The load and fault limits: a zero would refuse every request or disable a limit.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_owned()));
        if self.password_hash_queue_timeout_ms == 0 || self.database_acquire_timeout_ms == 0 {
            return invalid(
                "PASSWORD_HASH_QUEUE_TIMEOUT_MS and DATABASE_ACQUIRE_TIMEOUT_MS must be greater \
                 than 0",
            );
        }
        if self.http_header_read_timeout_secs == 0
            || self.http_keep_alive_timeout_secs == 0
            || self.http_max_connections == 0
        {
            return invalid(
                "HTTP_HEADER_READ_TIMEOUT_SECS, HTTP_KEEP_ALIVE_TIMEOUT_SECS and \
                 HTTP_MAX_CONNECTIONS must be greater than 0",
            );
        }
        Ok(())
    }

    /// The auth settings that can never work, whatever the environment.
    fn validate_auth(&mut self) -> Result<(), ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_owned()));
        self.jwt_issuer = self.jwt_issuer.trim().to_owned();
        self.jwt_audience = self.jwt_audience.trim().to_owned();
        if self.jwt_issuer.is_empty() || self.jwt_audience.is_empty() {
            return invalid("JWT_ISSUER and JWT_AUDIENCE must not be empty");
        }
        if self.access_token_ttl_secs == 0 || self.refresh_token_ttl_secs == 0 {
            return invalid(
                "ACCESS_TOKEN_TTL_SECS and REFRESH_TOKEN_TTL_SECS must be greater than 0",
            );
        }
        if self.refresh_token_ttl_secs <= self.access_token_ttl_secs {
            return invalid("REFRESH_TOKEN_TTL_SECS must be longer than ACCESS_TOKEN_TTL_SECS");
        }
        if self.jwt_leeway_secs > MAX_JWT_LEEWAY_SECS {
            return invalid("JWT_LEEWAY_SECS must be at most 30");
        }
        if self.rate_limit_per_second == 0
            || self.rate_limit_burst == 0
            || self.auth_rate_limit_per_minute == 0
            || self.auth_rate_limit_burst == 0
        {
            return invalid(
                "RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST, AUTH_RATE_LIMIT_PER_MINUTE and \
                 AUTH_RATE_LIMIT_BURST must be greater than 0",
            );
        }
        if self.login_max_attempts_per_ip == 0
            || self.login_max_attempts_per_account == 0
            || self.login_ip_window_secs == 0
            || self.login_account_window_secs == 0
        {
            return invalid("the LOGIN_* limits and windows must be greater than 0");
        }
        if self.login_delay_after_failures == 0
            || self.login_delay_max_secs < self.login_delay_initial_secs
            || self.login_known_address_ttl_secs == 0
        {
            return invalid(
                "LOGIN_DELAY_AFTER_FAILURES and LOGIN_KNOWN_ADDRESS_TTL_SECS must be greater \
                 than 0, LOGIN_DELAY_MAX_SECS at least LOGIN_DELAY_INITIAL_SECS",
            );
        }
        if self.password_min_score > 4 {
            return invalid("PASSWORD_MIN_SCORE must be between 0 and 4 (zxcvbn scores)");
        }
        if self.password_min_length < MIN_PASSWORD_LENGTH {
            return invalid("PASSWORD_MIN_LENGTH must be at least 8 (NIST SP 800-63B)");
        }
        if self.password_max_length < self.password_min_length || self.password_max_length > 4096 {
            return invalid("PASSWORD_MAX_LENGTH must be between PASSWORD_MIN_LENGTH and 4096");
        }
        if let Err(error) = argon2::Params::new(
            self.argon2_memory_kib,
            self.argon2_iterations,
            self.argon2_parallelism,
            None,
        ) {
            return Err(ConfigError::Invalid(format!(
                "ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM: {error}"
            )));
        }
        if let Err(error) =
            crate::middleware::client_ip::TrustedProxies::parse(&self.trusted_proxies)
        {
            return Err(ConfigError::Invalid(format!("TRUSTED_PROXIES: {error}")));
        }
        Ok(())
    }

    /// The account settings that can never work, whatever the environment.
    fn validate_accounts(&mut self) -> Result<(), ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_owned()));
        self.smtp_host = self
            .smtp_host
            .take()
            .map(|host| host.trim().to_owned())
            .filter(|host| !host.is_empty());
        self.smtp_username = self.smtp_username.take().filter(|user| !user.is_empty());
        self.smtp_ca_file = self
            .smtp_ca_file
            .take()
            .filter(|path| !path.as_os_str().is_empty());
        self.public_url = self.public_url.trim().trim_end_matches('/').to_owned();
        if self.public_url.is_empty() {
            self.public_url = Settings::default().public_url;
        }
        if !(self.public_url.starts_with("https://") || self.public_url.starts_with("http://")) {
            return invalid("PUBLIC_URL must start with https:// (or http:// in dev)");
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return invalid("MAIL_FROM must be an address such as `App <no-reply@example.com>`");
        }
        if self.smtp_timeout_secs == 0 {
            return invalid("SMTP_TIMEOUT_SECS must be greater than 0");
        }
        if self.email_verification_ttl_secs == 0 || self.email_verification_resend_per_hour == 0 {
            return invalid(
                "EMAIL_VERIFICATION_TTL_SECS and EMAIL_VERIFICATION_RESEND_PER_HOUR must be \
                 greater than 0",
            );
        }
        if self.password_reset_ttl_secs == 0 || self.password_reset_ttl_secs > 3600 {
            return invalid("PASSWORD_RESET_TTL_SECS must be between 1 and 3600 (one hour)");
        }
        if self.mfa_ticket_ttl_secs == 0 || self.mfa_ticket_ttl_secs > 900 {
            return invalid("MFA_TICKET_TTL_SECS must be between 1 and 900");
        }
        if self.require_verified_email() && !self.email_verification {
            return invalid(
                "REQUIRE_VERIFIED_EMAIL needs EMAIL_VERIFICATION on (nobody could ever log in)",
            );
        }
        Ok(())
    }

    pub fn require_verified_email(&self) -> bool {
        self.require_verified_email
            .unwrap_or(!self.environment.is_dev())
    }

    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    pub fn jwt_leeway(&self) -> Duration {
        Duration::from_secs(self.jwt_leeway_secs)
    }

    pub fn refresh_token_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl_secs)
    }

    pub fn refresh_cookie_secure(&self) -> bool {
        self.refresh_cookie_secure
            .unwrap_or(!self.environment.is_dev())
    }

    pub fn refresh_cookie_same_site_strict(&self) -> bool {
        self.refresh_cookie_same_site == SameSitePolicy::Strict
    }

    pub fn password_policy(&self) -> crate::auth::password::PasswordPolicySettings {
        crate::auth::password::PasswordPolicySettings {
            min_length: self.password_min_length,
            max_length: self.password_max_length,
            min_score: self.password_min_score,
            ..Default::default()
        }
    }

    pub fn argon2_settings(&self) -> crate::auth::password::Argon2Settings {
        crate::auth::password::Argon2Settings {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
            max_concurrent: self.password_hash_max_concurrent,
            queue_timeout: Duration::from_millis(self.password_hash_queue_timeout_ms),
        }
    }

    pub fn database_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms)
    }

    pub fn http_header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.http_header_read_timeout_secs)
    }

    pub fn http_keep_alive_timeout(&self) -> Duration {
        Duration::from_secs(self.http_keep_alive_timeout_secs)
    }

    pub fn login_limits(&self) -> crate::auth::login_throttle::LoginLimits {
        use crate::auth::login_throttle::{AttemptLimit, LoginLimits, ProgressiveDelay};
        let account_window = Duration::from_secs(self.login_account_window_secs);
        LoginLimits {
            per_ip: AttemptLimit {
                max_attempts: self.login_max_attempts_per_ip,
                window: Duration::from_secs(self.login_ip_window_secs),
            },
            per_account_and_ip: AttemptLimit {
                max_attempts: self.login_max_attempts_per_account,
                window: account_window,
            },
            account_delay: ProgressiveDelay {
                after_failures: self.login_delay_after_failures,
                window: account_window,
                initial: Duration::from_secs(self.login_delay_initial_secs),
                max: Duration::from_secs(self.login_delay_max_secs),
            },
            known_address_lifetime: Duration::from_secs(self.login_known_address_ttl_secs),
        }
    }

    /// Socket address to bind, validated.
    pub fn listen_address(&self) -> Result<SocketAddr, ConfigError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let ip = host.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "HOST must be an IP address such as 127.0.0.1 or 0.0.0.0 (got `{}`)",
                self.host
            ))
        })?;
        Ok(SocketAddr::new(ip, self.port))
    }

    pub fn api_docs_enabled(&self) -> bool {
        self.api_docs.unwrap_or(self.environment.is_dev())
    }

    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(if self.environment.is_dev() {
            LogFormat::Text
        } else {
            LogFormat::Json
        })
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn readiness_timeout(&self) -> Duration {
        Duration::from_millis(self.readiness_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// Path of the embedded SQLite database used when `DATABASE_URL` is unset.
    pub fn embedded_database_path(&self) -> PathBuf {
        self.data_dir
            .join(concat!(env!("CARGO_CRATE_NAME"), ".sqlite3"))
    }
}

fn normalize_prefix(raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(ConfigError::Invalid(
            "API_PREFIX must not be empty or `/`: use a path such as /api/v1".to_owned(),
        ));
    }
    let prefixed = if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    };
    let valid = prefixed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
        && !prefixed.contains("//");
    if !valid {
        return Err(ConfigError::Invalid(format!(
            "API_PREFIX `{raw}` may only contain letters, digits, `/`, `-`, `_` and `.`"
        )));
    }
    Ok(prefixed)
}

/// The `config` crate reports lower-case keys (`port`); users set upper-case variables.
fn name_env_variable(message: String) -> String {
    match message.find("for key `") {
        Some(start) => {
            let key_start = start + "for key `".len();
            match message[key_start..].find('`') {
                Some(len) => {
                    let key = &message[key_start..key_start + len];
                    format!(
                        "{} (setting {})",
                        message,
                        key.to_ascii_uppercase().replace('.', "_")
                    )
                }
                None => message,
            }
        }
        None => message,
    }
}

/// Accepts `"a, b"` (environment) or `["a", "b"]` (config file).
fn comma_separated_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Joined(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Joined(joined) => joined.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(many) => many,
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> ConfigSources {
        ConfigSources {
            environment: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ConfigSources::default()
        }
    }

    #[test]
    fn defaults_listen_on_loopback_port_8000_in_dev() {
        let settings = Settings::from_sources(env(&[])).unwrap();
        assert_eq!(settings.environment, Environment::Dev);
        assert_eq!(
            settings.listen_address().unwrap().to_string(),
            "127.0.0.1:8000"
        );
        assert_eq!(settings.api_prefix, "/api/v1");
        assert!(settings.api_docs_enabled());
        assert!(settings.database_url.is_none() && settings.redis_url.is_none());
    }

    #[test]
    fn environment_variables_override_defaults() {
        let settings = Settings::from_sources(env(&[
            ("PORT", "9001"),
            ("ENVIRONMENT", "production"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://a.example, https://b.example,",
            ),
            ("API_PREFIX", "api/v2/"),
            ("JWT_SECRET", "0012345"),
        ]))
        .unwrap();
        assert_eq!(settings.port, 9001);
        assert_eq!(settings.environment, Environment::Prod);
        assert_eq!(
            settings.cors_allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert_eq!(settings.api_prefix, "/api/v2");
        assert!(!settings.api_docs_enabled(), "docs default off outside dev");
        // Digits stay a string, leading zeros included.
        assert_eq!(settings.jwt_secret.expose_secret(), "0012345");
    }

    #[test]
    fn dotenv_is_below_the_environment_and_above_the_file() {
        let dir = std::env::temp_dir().join(format!("config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("layers.toml");
        std::fs::write(
            &file,
            "port = 7000\nlog_level = \"debug\"\nhost = \"0.0.0.0\"\n",
        )
        .unwrap();
        let sources = ConfigSources {
            file: Some((file.clone(), true)),
            dotenv: [
                ("PORT".to_string(), "7001".to_string()),
                ("LOG_LEVEL".into(), "warn".into()),
            ]
            .into(),
            environment: [("PORT".to_string(), "7002".to_string())].into(),
        };
        let settings = Settings::from_sources(sources).unwrap();
        assert_eq!(settings.port, 7002);
        assert_eq!(settings.log_level, "warn");
        assert_eq!(settings.host, "0.0.0.0");
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn an_invalid_value_names_the_variable() {
        let error = Settings::from_sources(env(&[("PORT", "eighty")])).unwrap_err();
        assert!(error.to_string().contains("PORT"), "{error}");
    }

    #[test]
    fn an_unknown_environment_is_refused() {
        let error = Settings::from_sources(env(&[("ENVIRONMENT", "prodution")])).unwrap_err();
        assert!(error.to_string().contains("prodution"), "{error}");
    }

    #[test]
    fn an_explicit_missing_config_file_is_an_error() {
        let sources = ConfigSources {
            file: Some((PathBuf::from("/nonexistent/app.toml"), true)),
            ..ConfigSources::default()
        };
        assert!(matches!(
            Settings::from_sources(sources),
            Err(ConfigError::MissingConfigFile { .. })
        ));
    }

    #[test]
    fn blank_urls_mean_unset() {
        let settings =
            Settings::from_sources(env(&[("DATABASE_URL", " "), ("REDIS_URL", "")])).unwrap();
        assert!(settings.database_url.is_none());
        assert!(settings.redis_url.is_none());
    }

    #[test]
    fn credentials_with_wildcard_origin_are_refused_in_any_environment() {
        let error = Settings::from_sources(env(&[
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOW_CREDENTIALS", "true"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("CORS_ALLOW_CREDENTIALS"),
            "{error}"
        );
    }

    #[test]
    fn unsupported_database_scheme_is_refused() {
        let error =
            Settings::from_sources(env(&[("DATABASE_URL", "mysql://localhost/app")])).unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn host_must_be_an_ip_address() {
        let settings = Settings::from_sources(env(&[("HOST", "localhost")])).unwrap();
        assert!(settings.listen_address().is_err());
        let settings = Settings::from_sources(env(&[("HOST", "::1")])).unwrap();
        assert_eq!(settings.listen_address().unwrap().to_string(), "[::1]:8000");
    }

    #[test]
    fn auth_settings_are_read_from_the_environment() {
        let settings = Settings::from_sources(env(&[
            ("ACCESS_TOKEN_TTL_SECS", "300"),
            ("REFRESH_COOKIE_SAME_SITE", "Strict"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 172.18.0.2"),
            ("LOGIN_MAX_ATTEMPTS_PER_IP", "7"),
        ]))
        .unwrap();
        assert_eq!(settings.access_token_ttl(), Duration::from_secs(300));
        assert!(settings.refresh_cookie_same_site_strict());
        assert_eq!(settings.trusted_proxies, vec!["10.0.0.0/8", "172.18.0.2"]);
        assert_eq!(settings.login_limits().per_ip.max_attempts, 7);
        // Dev defaults: cookie not Secure (plain-HTTP localhost), OWASP argon2 cost.
        assert!(!settings.refresh_cookie_secure());
        assert_eq!(settings.argon2_settings().memory_kib, 19_456);
    }

    #[test]
    fn auth_settings_that_can_never_work_are_refused_naming_the_variable() {
        for (name, value) in [
            ("JWT_LEEWAY_SECS", "31"),
            ("ACCESS_TOKEN_TTL_SECS", "0"),
            ("REFRESH_COOKIE_SAME_SITE", "none"),
            ("TRUSTED_PROXIES", "proxy.internal"),
            ("PASSWORD_MIN_LENGTH", "6"),
            ("ARGON2_PARALLELISM", "0"),
            ("RATE_LIMIT_BURST", "0"),
        ] {
            let error = Settings::from_sources(env(&[(name, value)])).unwrap_err();
            let prefix = name.split('_').next().unwrap_or(name);
            assert!(
                error.to_string().contains(prefix),
                "{name}={value}: {error}"
            );
        }
    }
}

#[cfg(test)]
mod observability_tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_sources(ConfigSources {
            environment: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ConfigSources::default()
        })
    }

    #[test]
    fn metrics_address_is_an_ip_and_port_or_off() {
        assert_eq!(
            with(&[]).unwrap().metrics_listen_address().unwrap(),
            Some(DEFAULT_METRICS_ADDRESS.parse().unwrap())
        );
        let off = with(&[("METRICS_ADDRESS", " OFF ")]).unwrap();
        assert_eq!(off.metrics_listen_address().unwrap(), None);
        let blank = with(&[("METRICS_ADDRESS", "")]).unwrap();
        assert_eq!(blank.metrics_address, DEFAULT_METRICS_ADDRESS);
        for bad in ["localhost:9464", "9464", "0.0.0.0"] {
            let message = with(&[("METRICS_ADDRESS", bad)]).unwrap_err().to_string();
            assert!(
                message.contains("METRICS_ADDRESS must be IP:PORT"),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn the_otlp_endpoint_is_an_http_url_and_traces_go_to_its_v1_traces() {
        let settings =
            with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " http://collector:4318/ ")]).unwrap();
        assert_eq!(
            settings.otlp_traces_endpoint().as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(with(&[]).unwrap().otlp_traces_endpoint(), None);
        let blank = with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")]).unwrap();
        assert_eq!(blank.otlp_traces_endpoint(), None);
        for bad in ["collector:4318", "grpc://collector:4317", "http://"] {
            let message = with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", bad)])
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("OTEL_EXPORTER_OTLP_ENDPOINT must be"),
                "{message}"
            );
        }
        let message = with(&[("OTEL_SERVICE_NAME", " ")]).unwrap_err().to_string();
        assert!(message.contains("OTEL_SERVICE_NAME"), "{message}");
    }
}

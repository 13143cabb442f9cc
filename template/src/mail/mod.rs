//! Outgoing mail behind one trait, [`Mailer`]:
//!
//! - [`SmtpMailer`]: SMTP through `lettre` — STARTTLS (default), implicit TLS or, for a relay
//!   on the same host, plain; optional AUTH; connection and command timeouts.
//! - [`FileMailer`]: the dev default when `SMTP_HOST` is unset: each message becomes an `.eml`
//!   file under `DATA_DIR/mail` and its link is logged, so the embedded setup needs no mail
//!   server. The production guard refuses it while a feature that sends mail is on.
//!
//! Messages are plain text + HTML, rendered from the templates in `src/mail/templates/`
//! (first line of the `.txt` file: the subject; `{link}` and `{minutes}` are replaced).

pub mod templates;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Deserializer};

use crate::config::Settings;
use crate::guard::Violation;

/// How the SMTP connection is secured (`SMTP_TLS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS; refused (nothing sent) if the upgrade fails.
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// No encryption: only for a relay on the same host (the guard refuses it elsewhere).
    None,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }
    }
}

impl<'de> Deserialize<'de> for SmtpTls {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        match raw.trim().to_ascii_lowercase().as_str() {
            "starttls" => Ok(SmtpTls::StartTls),
            "tls" | "implicit" | "smtps" => Ok(SmtpTls::Implicit),
            "none" | "plain" => Ok(SmtpTls::None),
            other => Err(serde::de::Error::custom(format!(
                "SMTP_TLS must be starttls, tls or none (got `{other}`)"
            ))),
        }
    }
}

/// One message, rendered.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The action link the message carries (logged by the dev mailer only).
    pub link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("cannot write the message file: {0}")]
    File(#[from] std::io::Error),
    #[error("SMTP_CA_FILE: {0}")]
    CaFile(String),
    #[error("cannot start the mail outbox thread: {0}")]
    Outbox(std::io::Error),
}

#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug + 'static {
    /// `smtp` or `file`, for logs and `doctor`.
    fn kind(&self) -> &'static str;

    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

fn message(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|error: lettre::address::AddressError| MailError::Address(error.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|error| MailError::Build(error.to_string()))
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(settings: &Settings, host: &str) -> Result<Self, MailError> {
        let from = parse_from(&settings.mail_from)?;
        let tls = settings.smtp_tls;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.smtp_port.unwrap_or(tls.default_port()))
            .timeout(Some(Duration::from_secs(settings.smtp_timeout_secs)));
        if tls != SmtpTls::None {
            let mut parameters = TlsParameters::builder(host.to_owned());
            if let Some(path) = &settings.smtp_ca_file {
                let pem = std::fs::read(path)
                    .map_err(|error| MailError::CaFile(format!("{}: {error}", path.display())))?;
                let certificate = Certificate::from_pem(&pem)
                    .map_err(|error| MailError::CaFile(format!("{}: {error}", path.display())))?;
                parameters = parameters.add_root_certificate(certificate);
            }
            let parameters = parameters
                .build_rustls()
                .map_err(|error| MailError::Smtp(error.to_string()))?;
            builder = builder.tls(match tls {
                SmtpTls::Implicit => Tls::Wrapper(parameters),
                _ => Tls::Required(parameters),
            });
        } else {
            builder = builder.tls(Tls::None);
        }
        if let Some(username) = settings.smtp_username.as_deref() {
            let password = settings
                .smtp_password
                .as_ref()
                .map(|password| password.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.to_owned(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn kind(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = message(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| MailError::Smtp(error.to_string()))
    }
}

/// Writes each message to `DATA_DIR/mail/*.eml` and logs its link (dev only).
#[derive(Debug)]
pub struct FileMailer {
    folder: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    pub fn new(settings: &Settings) -> Result<Self, MailError> {
        Ok(Self {
            folder: settings.data_dir.join("mail"),
            from: parse_from(&settings.mail_from)?,
        })
    }
}

#[async_trait]
impl Mailer for FileMailer {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = message(&self.from, mail)?;
        tokio::fs::create_dir_all(&self.folder).await?;
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            uuid::Uuid::new_v4().simple()
        );
        let path = self.folder.join(name);
        tokio::fs::write(&path, message.formatted()).await?;
        tracing::info!(
            path = %path.display(),
            link = mail.link.as_deref().unwrap_or("-"),
            subject = %mail.subject,
            "mail written to a file (dev mailer; set SMTP_HOST to send it)"
        );
        Ok(())
    }
}

fn parse_from(from: &str) -> Result<Mailbox, MailError> {
    from.parse()
        .map_err(|error: lettre::address::AddressError| {
            MailError::Address(format!("MAIL_FROM `{from}`: {error}"))
        })
}

/// The mailer the settings ask for: SMTP when `SMTP_HOST` is set, the dev file mailer otherwise.
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn Mailer>, MailError> {
    match settings.smtp_host.as_deref() {
        Some(host) => Ok(Arc::new(SmtpMailer::new(settings, host)?)),
        None => Ok(Arc::new(FileMailer::new(settings)?)),
    }
}

/// The outbox of the mailer the settings ask for.
pub fn outbox_from_settings(settings: &Settings) -> Result<MailOutbox, MailError> {
    MailOutbox::start(from_settings(settings)?)
}

/// Mail waiting to be sent, at most this many; beyond, new messages are dropped (and logged).
const OUTBOX_CAPACITY: usize = 1024;

/// The queue handlers put mail on. A dedicated thread with its own runtime sends it, so the
/// SMTP exchange never shares the request workers: an answer neither waits for it nor takes
/// longer because a message is on its way (password reset must not reveal known addresses).
#[derive(Clone, Debug)]
pub struct MailOutbox {
    queue: tokio::sync::mpsc::Sender<Mail>,
    kind: &'static str,
}

impl MailOutbox {
    pub fn start(mailer: Arc<dyn Mailer>) -> Result<Self, MailError> {
        let (queue, mut pending) = tokio::sync::mpsc::channel::<Mail>(OUTBOX_CAPACITY);
        let kind = mailer.kind();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(MailError::Outbox)?;
        std::thread::Builder::new()
            .name("mail-outbox".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    // Ends when every sender (the application state) is gone.
                    while let Some(mail) = pending.recv().await {
                        if let Err(error) = mailer.send(&mail).await {
                            tracing::error!(%error, subject = %mail.subject, "sending mail failed");
                        }
                    }
                });
            })
            .map_err(MailError::Outbox)?;
        Ok(Self { queue, kind })
    }

    /// `smtp` or `file`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Queues `mail`; never waits. Failures are logged without the link.
    pub fn send(&self, mail: Mail) {
        if let Err(error) = self.queue.try_send(mail) {
            tracing::error!(%error, "mail outbox full or closed: message dropped");
        }
    }
}

/// Whether any feature that sends mail is on.
pub fn sends_mail(settings: &Settings) -> bool {
    settings.email_verification || settings.password_reset
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The production guard's mail rules (called from `guard.rs`).
pub fn production_violations(settings: &Settings, violations: &mut Vec<Violation>) {
    if !sends_mail(settings) {
        return;
    }
    match settings.smtp_host.as_deref() {
        None => violations.push(Violation {
            setting: "SMTP_HOST",
            reason: "is not set while EMAIL_VERIFICATION or PASSWORD_RESET is on; the file \
                     mailer (DATA_DIR/mail) is for dev only: point it at your SMTP relay"
                .to_owned(),
        }),
        Some(host) if settings.smtp_tls == SmtpTls::None && !is_loopback_host(host) => violations
            .push(Violation {
                setting: "SMTP_TLS",
                reason: format!(
                    "is none for {host}: mail (and SMTP credentials) would cross the network \
                     in clear; use starttls or tls (none is for a relay on the same host)"
                ),
            }),
        Some(_) => {}
    }
    // Provider-issued SMTP passwords are often shorter than our own secrets: only the empty
    // and the placeholder ones are refused.
    if let Some(password) = &settings.smtp_password {
        let password = password.expose_secret();
        if password.trim().is_empty()
            || crate::guard::check_secret(password)
                .contains(&crate::guard::SecretWeakness::KnownOrPlaceholder)
        {
            violations.push(Violation {
                setting: "SMTP_PASSWORD",
                reason: "is empty or a placeholder: set the relay's password".to_owned(),
            });
        }
    }
    if !settings.public_url.starts_with("https://") {
        violations.push(Violation {
            setting: "PUBLIC_URL",
            reason: format!(
                "is `{}`; links in mails must be https:// (tokens would travel in clear)",
                settings.public_url
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod() -> Settings {
        Settings {
            environment: crate::config::Environment::Prod,
            public_url: "https://app.example.com".to_owned(),
            ..Settings::default()
        }
    }

    fn violated(settings: &Settings) -> Vec<&'static str> {
        let mut violations = Vec::new();
        production_violations(settings, &mut violations);
        violations.into_iter().map(|v| v.setting).collect()
    }

    #[test]
    fn production_needs_smtp_while_a_feature_sends_mail() {
        assert_eq!(violated(&prod()), vec!["SMTP_HOST"]);
        let quiet = Settings {
            email_verification: false,
            password_reset: false,
            require_verified_email: Some(false),
            ..prod()
        };
        assert!(violated(&quiet).is_empty());
    }

    #[test]
    fn plain_smtp_is_only_for_a_relay_on_the_same_host() {
        let remote = Settings {
            smtp_host: Some("smtp.example.com".to_owned()),
            smtp_tls: SmtpTls::None,
            ..prod()
        };
        assert_eq!(violated(&remote), vec!["SMTP_TLS"]);
        let local = Settings {
            smtp_host: Some("127.0.0.1".to_owned()),
            ..remote.clone()
        };
        assert!(violated(&local).is_empty());
        let tls = Settings {
            smtp_tls: SmtpTls::StartTls,
            ..remote
        };
        assert!(violated(&tls).is_empty());
    }

    #[test]
    fn links_must_be_https_and_passwords_not_placeholders() {
        let settings = Settings {
            smtp_host: Some("smtp.example.com".to_owned()),
            public_url: "http://app.example.com".to_owned(),
            smtp_password: Some("CHANGE_ME".into()),
            ..prod()
        };
        assert_eq!(violated(&settings), vec!["SMTP_PASSWORD", "PUBLIC_URL"]);
    }
}

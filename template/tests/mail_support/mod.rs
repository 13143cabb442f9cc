//! A real SMTP server for the tests that send mail: `aiosmtpd` (PyPI) running
//! `smtp_sink.py`, which stores each message it receives as JSON for the test to read.
//!
//! aiosmtpd is installed on first use into a virtualenv under `~/.cache/shaapi/venv-smtp`
//! (`SHAAPI_SMTP_VENV` overrides it), once per machine: a file lock keeps concurrent test
//! binaries from installing at the same time. Needs `python3` with `venv` and access to PyPI
//! the first time.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use {{crate_name}}::config::Settings;
use {{crate_name}}::mail::SmtpTls;

const AIOSMTPD: &str = "aiosmtpd==1.4.6";

/// One message as the server received it.
#[derive(Clone, Debug, Deserialize)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub authenticated: bool,
    pub tls: bool,
}

impl ReceivedMail {
    /// The token of the link the message carries (`…#token=TOKEN`), checked in both parts.
    pub fn link_token(&self) -> String {
        let token = token_after_marker(&self.text).expect("no link token in the text part");
        assert_eq!(
            token_after_marker(&self.html).as_deref(),
            Some(token.as_str()),
            "the HTML part carries another link"
        );
        token
    }
}

fn token_after_marker(body: &str) -> Option<String> {
    let start = body.find("#token=")? + "#token=".len();
    Some(
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHAAPI_SMTP_VENV") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/shaapi/venv-smtp")
}

fn has_aiosmtpd(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The virtualenv's python, with aiosmtpd installed (idempotent; blocking, run once).
fn ensure_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let venv = venv_dir();
            let python = venv.join("bin/python");
            if has_aiosmtpd(&python) {
                return python;
            }
            let parent = venv.parent().expect("the venv has a parent folder");
            std::fs::create_dir_all(parent).expect("cannot create the venv's parent folder");
            let lock = std::fs::File::create(parent.join("venv-smtp.lock"))
                .expect("cannot create the venv lock file");
            lock.lock().expect("cannot lock the venv");
            if !has_aiosmtpd(&python) {
                let created = std::process::Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .expect("python3 is needed for the mail tests");
                assert!(created.success(), "python3 -m venv failed");
                let installed = std::process::Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", AIOSMTPD])
                    .status()
                    .expect("cannot run pip");
                assert!(installed.success(), "pip install {AIOSMTPD} failed");
            }
            python
        })
        .clone()
}

/// A running SMTP server; stopped when dropped.
pub struct SmtpServer {
    pub port: u16,
    inbox: tempfile::TempDir,
    _process: Child,
}

impl SmtpServer {
    /// Plain SMTP, no AUTH.
    pub async fn start() -> SmtpServer {
        SmtpServer::start_with(&[]).await
    }

    /// With `smtp_sink.py` options (`--auth USER:PASSWORD`, `--cert`, `--key`, `--implicit-tls`).
    pub async fn start_with(options: &[&str]) -> SmtpServer {
        let python = tokio::task::spawn_blocking(ensure_python)
            .await
            .expect("installing aiosmtpd panicked");
        let inbox = tempfile::tempdir().expect("cannot create the inbox folder");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail_support/smtp_sink.py");
        let mut process = Command::new(python)
            .arg(script)
            .arg(inbox.path())
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start the SMTP server");
        let stdout = process.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP server did not start within 20 s")
            .expect("cannot read the SMTP server's output")
            .expect("the SMTP server exited before listening");
        let port = line
            .trim()
            .parse()
            .expect("the SMTP server printed no port");
        SmtpServer {
            port,
            inbox,
            _process: process,
        }
    }

    /// Points the app's mailer at this server (plain SMTP on loopback).
    pub fn configure(&self, settings: &mut Settings) {
        settings.smtp_host = Some("127.0.0.1".to_owned());
        settings.smtp_port = Some(self.port);
        settings.smtp_tls = SmtpTls::None;
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let mut mails = Vec::new();
        for entry in std::fs::read_dir(self.inbox.path()).expect("cannot read the inbox") {
            let path = entry.expect("cannot read the inbox").path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let text = std::fs::read_to_string(&path).expect("cannot read a message");
                mails.push(serde_json::from_str(&text).expect("a message is not JSON"));
            }
        }
        mails
    }

    /// The messages to `recipient` received so far.
    pub fn received_by(&self, recipient: &str) -> Vec<ReceivedMail> {
        self.received()
            .into_iter()
            .filter(|mail| mail.rcpt_tos.iter().any(|to| to == recipient))
            .collect()
    }

    /// Waits (up to 15 s) until `recipient` has received `count` messages; returns them all.
    pub async fn wait_for(&self, recipient: &str, count: usize) -> Vec<ReceivedMail> {
        let started = Instant::now();
        loop {
            let mails = self.received_by(recipient);
            if mails.len() >= count {
                return mails;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{recipient} received {} of {count} messages within 15 s",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

//! Identity, sessions and access control: the three gates every protected request passes —
//! **signature** (`jwt`), **token still active** (`token_store`), **permission** (`rbac`).
//!
//! - `password`: argon2id hashing off the async runtime, the password policy.
//! - `jwt`: access tokens (HS256 pinned, short-lived).
//! - `token_store`: sessions, access-token ids and single-use refresh tokens in the key-value
//!   store (Redis in production).
//! - `login_throttle`: fair brute-force limits (failures only; per IP, per account and IP, and a
//!   per-account progressive delay), shared by instances.
//! - `rbac`: casbin with its policy in the database (sea-orm adapter).
//! - `access`: every route declares who may call it; the declaration installs the gate.
//! - `extractor`: `CurrentUser`, `ClientIp`, and the gates themselves.
//! - `user_cache`: the gate's in-memory copy of users and roles, invalidated on every change.
//! - `routes` / `admin`: the HTTP endpoints. `init`: the `auth init` command.
//! - Accounts: `verification` (email), `reset` (password by mail), `mfa` (TOTP), with
//!   `mail_tokens` (single-use link tokens) and `account_error` (their problem types).

pub mod access;
pub mod account_error;
pub mod admin;
pub mod error;
pub mod extractor;
pub mod init;
pub mod jwt;
pub mod login_throttle;
pub mod mail_tokens;
pub mod mfa;
pub mod password;
pub mod rbac;
pub mod reset;
pub mod routes;
pub mod token_store;
pub mod user_cache;
pub mod verification;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret as _;

use crate::config::Settings;
use crate::middleware::client_ip::TrustedProxies;
use crate::store::KeyValueStore;

use self::jwt::JwtKeys;
use self::login_throttle::LoginThrottle;
use self::password::{PasswordHashError, PasswordHasher, PasswordPolicySettings};
use self::rbac::{Authorizer, RbacError};
use self::token_store::TokenStore;
use self::user_cache::UserCache;

/// Role every new account receives.
pub const USER_ROLE: &str = "user";
/// Role that administers the application (see the seeded policy).
pub const ADMIN_ROLE: &str = "admin";

/// 256 random bits from the OS-seeded CSPRNG, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How the refresh-token cookie is sent.
#[derive(Clone, Debug)]
pub struct RefreshCookie {
    pub name: &'static str,
    /// `{API_PREFIX}/auth`: the browser sends the cookie to the auth routes only.
    pub path: String,
    pub secure: bool,
    pub same_site_strict: bool,
}

/// Everything the auth endpoints and gates need, built once at startup.
#[derive(Clone, Debug)]
pub struct AuthServices {
    pub jwt: JwtKeys,
    pub tokens: TokenStore,
    pub passwords: PasswordHasher,
    pub password_policy: PasswordPolicySettings,
    pub authorizer: Authorizer,
    pub login_throttle: LoginThrottle,
    pub trusted_proxies: TrustedProxies,
    pub refresh_cookie: RefreshCookie,
    pub users: Arc<UserCache>,
    /// Outgoing mail and the single-use tokens of mail links (verification, reset).
    pub mail: crate::mail::MailOutbox,
    pub mail_tokens: self::mail_tokens::MailTokens,
    /// Encrypts TOTP secrets at rest (`MFA_ENCRYPTION_KEY`).
    pub mfa_secrets: Arc<self::mfa::secret_box::SecretBox>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("password hashing")]
    Password(#[from] PasswordHashError),
    #[error("authorization policy")]
    Policy(#[from] RbacError),
    #[error("invalid TRUSTED_PROXIES")]
    TrustedProxies(#[from] crate::middleware::client_ip::InvalidProxyRange),
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::MailError),
    #[error("MFA_ENCRYPTION_KEY: {0}")]
    Mfa(#[from] self::mfa::secret_box::SecretBoxError),
}

impl AuthServices {
    pub async fn new(
        settings: &Settings,
        db: DatabaseConnection,
        kv: Arc<dyn KeyValueStore>,
    ) -> Result<Arc<Self>, AuthSetupError> {
        let jwt = JwtKeys::new(
            settings.jwt_secret.expose_secret().as_bytes(),
            &settings.jwt_issuer,
            &settings.jwt_audience,
            settings.access_token_ttl(),
            settings.jwt_leeway(),
        );
        Ok(Arc::new(AuthServices {
            jwt,
            tokens: TokenStore::new(
                kv.clone(),
                settings.refresh_token_ttl(),
                settings.max_sessions_per_user,
            ),
            passwords: PasswordHasher::new(&settings.argon2_settings()).await?,
            password_policy: settings.password_policy(),
            authorizer: Authorizer::new(db).await?,
            login_throttle: LoginThrottle::new(kv.clone(), settings.login_limits()),
            mail: crate::mail::outbox_from_settings(settings)?,
            mail_tokens: self::mail_tokens::MailTokens::new(kv),
            mfa_secrets: Arc::new(self::mfa::secret_box::SecretBox::new(
                settings.mfa_encryption_key.expose_secret(),
            )?),
            trusted_proxies: TrustedProxies::parse(&settings.trusted_proxies)?,
            refresh_cookie: RefreshCookie {
                name: "refresh_token",
                path: format!("{}/auth", settings.api_prefix),
                secure: settings.refresh_cookie_secure(),
                same_site_strict: settings.refresh_cookie_same_site_strict(),
            },
            users: Arc::new(UserCache::new(
                settings.user_cache_capacity,
                std::time::Duration::from_secs(settings.user_cache_max_age_secs),
            )),
        }))
    }
}

/// Longest email address (RFC 5321's path limit minus the angle brackets), in bytes.
pub const MAX_EMAIL_LENGTH: usize = 254;

/// Trims and lower-cases an email address, or says why it is not one.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    use validator::ValidateEmail as _;
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("must not be empty");
    }
    if email.len() > MAX_EMAIL_LENGTH {
        return Err("must be at most 254 characters long");
    }
    if email.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    if !email.validate_email() {
        return Err("must be an email address");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_256_bits_and_distinct() {
        let first = random_token();
        let decoded = URL_SAFE_NO_PAD.decode(&first).expect("valid base64");
        assert_eq!(decoded.len(), 32);
        assert_ne!(first, random_token());
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Ana.Lopez@Example.COM "),
            Ok("ana.lopez@example.com".to_owned())
        );
        assert!(normalize_email("not-an-email").is_err());
        assert!(normalize_email("").is_err());
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
        assert!(normalize_email("ana\u{0}@example.com").is_err());
        assert!(normalize_email("ana@exa\u{7}mple.com").is_err());
    }
}

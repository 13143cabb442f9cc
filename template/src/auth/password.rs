//! Password hashing (argon2id) and the password policy (NIST SP 800-63B style).

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Deserialize;

/// Argon2id cost. The defaults are OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: OWASP_MIN_MEMORY_KIB,
            iterations: OWASP_MIN_ITERATIONS,
            parallelism: 1,
        }
    }
}

pub const OWASP_MIN_MEMORY_KIB: u32 = 19_456;
pub const OWASP_MIN_ITERATIONS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    #[error("invalid argon2 parameters: {0}")]
    Parameters(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("the password hashing task did not complete")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes and verifies passwords on the blocking pool: one argon2id run takes tens of
/// milliseconds of CPU, which would stall every other request sharing the async worker.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Hash of a random password with the same parameters, verified when the account does not
    /// exist so that an unknown email costs exactly what a wrong password costs.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    pub async fn new(settings: &Argon2Settings) -> Result<Self, PasswordHashError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|error| PasswordHashError::Parameters(error.to_string()))?;
        let dummy_password = crate::auth::random_token();
        let dummy_hash = {
            let params = params.clone();
            tokio::task::spawn_blocking(move || hash_blocking(&params, dummy_password.as_bytes()))
                .await??
        };
        Ok(Self {
            params,
            dummy_hash: dummy_hash.into(),
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Returns a PHC string (`$argon2id$v=19$m=…`) with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, PasswordHashError> {
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&params, password.as_bytes())).await?
    }

    /// Verifies `password` against `stored_hash`; with `None` (unknown account) it verifies
    /// against the dummy hash and returns `false`, at the same cost.
    pub async fn verify(
        &self,
        password: String,
        stored_hash: Option<String>,
    ) -> Result<bool, PasswordHashError> {
        let account_exists = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = tokio::task::spawn_blocking(move || {
            // The PHC string carries its own parameters; the instance's only matter for hashing.
            argon2_instance(&Params::DEFAULT)
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await?;
        Ok(matches && account_exists)
    }
}

fn argon2_instance(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, PasswordHashError> {
    argon2_instance(params)
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordHashError::Hashing(error.to_string()))
}

/// NIST SP 800-63B: length bounds and a blocklist, no composition rules.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PasswordPolicySettings {
    pub min_length: usize,
    pub max_length: usize,
    pub reject_common: bool,
    pub reject_email_local_part: bool,
}

impl Default for PasswordPolicySettings {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 128,
            reject_common: true,
            reject_email_local_part: true,
        }
    }
}

/// The rule a password broke; `rule` is a stable identifier clients can match on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicyViolation {
    pub rule: &'static str,
    pub message: String,
}

/// The shortest local part worth checking for: shorter ones ("jo") would reject most passwords.
const MIN_CHECKED_LOCAL_PART_CHARS: usize = 3;

/// Lower-case blocklist, generated by `ci/common-passwords.py` in the template repository.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

impl PasswordPolicySettings {
    /// Checks `password` for an account whose email is `email` (already normalised).
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordPolicyViolation> {
        // Length is counted in Unicode scalar values, as NIST asks (not bytes).
        let length = password.chars().count();
        if length < self.min_length {
            return Err(PasswordPolicyViolation {
                rule: "min_length",
                message: format!(
                    "the password must be at least {} characters long",
                    self.min_length
                ),
            });
        }
        if length > self.max_length {
            return Err(PasswordPolicyViolation {
                rule: "max_length",
                message: format!(
                    "the password must be at most {} characters long",
                    self.max_length
                ),
            });
        }
        let lowered = password.to_lowercase();
        if self.reject_common && is_common_password(&lowered) {
            return Err(PasswordPolicyViolation {
                rule: "common_password",
                message: "the password is in the list of commonly used passwords".to_owned(),
            });
        }
        if self.reject_email_local_part {
            let local_part = email
                .rsplit_once('@')
                .map_or(email, |(local, _)| local)
                .to_lowercase();
            if local_part.chars().count() >= MIN_CHECKED_LOCAL_PART_CHARS
                && lowered.contains(&local_part)
            {
                return Err(PasswordPolicyViolation {
                    rule: "contains_email",
                    message: "the password must not contain the email address's local part"
                        .to_owned(),
                });
            }
        }
        Ok(())
    }
}

fn is_common_password(lowered: &str) -> bool {
    COMMON_PASSWORDS.contains(lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicySettings {
        PasswordPolicySettings::default()
    }

    #[test]
    fn a_long_uncommon_password_passes() {
        assert_eq!(
            policy().check("violet-harbour-tractor-87", "ana@example.com"),
            Ok(())
        );
    }

    #[test]
    fn short_and_long_passwords_name_the_length_rule() {
        let short = policy().check("abc-def-gh1", "ana@example.com");
        assert_eq!(short.map_err(|v| v.rule), Err("min_length"));
        let long = policy().check(&"x7".repeat(65), "ana@example.com");
        assert_eq!(long.map_err(|v| v.rule), Err("max_length"));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 12 characters, 24 bytes.
        assert_eq!(policy().check("éàüöçñßøåæœð", "ana@example.com"), Ok(()));
    }

    #[test]
    fn common_passwords_are_rejected_case_insensitively() {
        for password in [
            "password1234",
            "Qwerty123456",
            "123456789012",
            "ILOVEYOU2024",
        ] {
            let result = policy().check(password, "ana@example.com");
            assert_eq!(
                result.map_err(|v| v.rule),
                Err("common_password"),
                "{password}"
            );
        }
    }

    #[test]
    fn the_blocklist_is_embedded_and_substantial() {
        assert!(COMMON_PASSWORDS.len() > 10_000);
        assert!(
            COMMON_PASSWORDS
                .iter()
                .all(|entry| entry.chars().count() >= 8)
        );
    }

    #[test]
    fn passwords_containing_the_email_local_part_are_rejected() {
        let result = policy().check("my-Marguerite-secret", "marguerite@example.com");
        assert_eq!(result.map_err(|v| v.rule), Err("contains_email"));
    }

    #[test]
    fn very_short_local_parts_are_not_checked() {
        assert_eq!(
            policy().check("violet-harbour-tractor-87", "vi@example.com"),
            Ok(())
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
        let hasher = PasswordHasher::new(&Argon2Settings::default())
            .await
            .expect("default parameters are valid");
        let hash = hasher
            .hash("violet-harbour-tractor-87".to_owned())
            .await
            .expect("hashing works");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hasher
                .verify("violet-harbour-tractor-87".to_owned(), Some(hash.clone()))
                .await
                .expect("verification runs")
        );
        assert!(
            !hasher
                .verify("violet-harbour-tractor-88".to_owned(), Some(hash))
                .await
                .expect("verification runs")
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let hasher = PasswordHasher::new(&Argon2Settings::default())
            .await
            .expect("default parameters are valid");
        assert!(
            !hasher
                .verify("anything-at-all-123".to_owned(), None)
                .await
                .expect("verification runs")
        );
    }
}

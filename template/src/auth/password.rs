//! Password hashing (argon2id) and the password policy (NIST SP 800-63B style).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use serde::Deserialize;
use tokio::sync::Semaphore;

/// Argon2id cost. The defaults are OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes and verifications running at once; 0 means one per CPU core.
    pub max_concurrent: usize,
    /// How long a request waits for a free slot before it is answered 503.
    pub queue_timeout: Duration,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: OWASP_MIN_MEMORY_KIB,
            iterations: OWASP_MIN_ITERATIONS,
            parallelism: 1,
            max_concurrent: 0,
            queue_timeout: Duration::from_secs(2),
        }
    }
}

impl Argon2Settings {
    /// The number of concurrent runs `max_concurrent` resolves to (at least 1).
    pub fn concurrency(&self) -> usize {
        match self.max_concurrent {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
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
    /// Every slot stayed taken for the whole queue timeout: the server is saturated.
    #[error("every password hashing slot is busy")]
    Busy,
}

/// Argon2 working memory (`memory_kib` per run), allocated the first time a slot needs it and
/// reused by every later run, so hashing holds at most `slots × memory_kib`, whatever the load.
///
/// Why not let argon2 allocate per run: each fresh 19 MiB block is served by the glibc arena of
/// whichever blocking thread runs the hash, and glibc keeps freed blocks that size cached in
/// that arena (its mmap threshold rises to the largest mapping freed). A burst of logins spread
/// over the blocking pool's threads left one such block resident per arena: 505 MiB after two
/// bursts of 128 logins, where the slots alone need 38 MiB.
struct WorkingMemory {
    blocks_per_run: usize,
    /// Buffers not in use; there are never more buffers than slots.
    idle: Mutex<Vec<Vec<Block>>>,
}

impl WorkingMemory {
    fn take(&self) -> Vec<Block> {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        reused.unwrap_or_else(|| vec![Block::new(); self.blocks_per_run])
    }

    fn give_back(&self, blocks: Vec<Block>) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(blocks);
    }
}

/// Hashes and verifies passwords on the blocking pool: one argon2id run takes tens of
/// milliseconds of CPU, which would stall every other request sharing the async worker.
///
/// Each run also holds `memory_kib` of RAM, so runs are bounded by a semaphore: a burst of
/// logins queues (for `queue_timeout` at most, then 503) instead of multiplying the memory, and
/// each slot's memory is allocated once ([`WorkingMemory`]).
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    slots: Arc<Semaphore>,
    memory: Arc<WorkingMemory>,
    queue_timeout: Duration,
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
        let memory = Arc::new(WorkingMemory {
            blocks_per_run: params.block_count(),
            idle: Mutex::new(Vec::new()),
        });
        let mut hasher = Self {
            params,
            slots: Arc::new(Semaphore::new(settings.concurrency())),
            memory,
            queue_timeout: settings.queue_timeout,
            dummy_hash: Arc::from(""),
        };
        hasher.dummy_hash = hasher.hash(crate::auth::random_token()).await?.into();
        Ok(hasher)
    }

    /// Runs `job` with a slot's working memory on the blocking pool once a slot is free. The
    /// slot is released when the job ends, even if the request that asked for it was dropped
    /// meanwhile.
    async fn run_bounded<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, PasswordHashError> {
        let slot = tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| PasswordHashError::Busy)?
            .map_err(|_| PasswordHashError::Busy)?;
        let memory = Arc::clone(&self.memory);
        let output = tokio::task::spawn_blocking(move || {
            let mut blocks = memory.take();
            let output = job(&mut blocks);
            memory.give_back(blocks);
            drop(slot);
            output
        })
        .await?;
        Ok(output)
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Returns a PHC string (`$argon2id$v=19$m=…`) with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, PasswordHashError> {
        let params = self.params.clone();
        self.run_bounded(move |blocks| hash_with_memory(&params, password.as_bytes(), blocks))
            .await?
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
        let matches = self
            .run_bounded(move |blocks| verify_with_memory(password.as_bytes(), &hash, blocks))
            .await?;
        Ok(matches && account_exists)
    }
}

fn hash_with_memory(
    params: &Params,
    password: &[u8],
    blocks: &mut [Block],
) -> Result<String, PasswordHashError> {
    let hashing = |error: &dyn std::fmt::Display| PasswordHashError::Hashing(error.to_string());
    let salt = argon2::password_hash::try_generate_salt().map_err(|error| hashing(&error))?;
    let salt = Salt::new(&salt).map_err(|error| hashing(&error))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut output, blocks)
        .map_err(|error| hashing(&error))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|error| hashing(&error))?,
        salt: Some(salt),
        hash: Some(Output::new(&output).map_err(|error| hashing(&error))?),
    };
    Ok(hash.to_string())
}

/// Recomputes the hash with the parameters, salt and output length the PHC string carries (they
/// may predate the current settings) and compares in constant time (`Output`'s `==`). A stored
/// hash needing more memory than a slot holds (its `m` was above today's) gets its own buffer.
fn verify_with_memory(password: &[u8], stored: &str, blocks: &mut [Block]) -> bool {
    let Ok(stored) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = stored
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&stored) else {
        return false;
    };
    let needed = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = [0u8; Output::MAX_LENGTH];
    let Some(output) = output.get_mut(..expected.len()) else {
        return false;
    };
    let computed = if needed <= blocks.len() {
        argon2.hash_password_into_with_memory(password, salt, output, blocks)
    } else {
        argon2.hash_password_into(password, salt, output)
    };
    computed.is_ok() && Output::new(output).is_ok_and(|output| output == *expected)
}

/// NIST SP 800-63B: length bounds and a strength estimate from real password data (zxcvbn's
/// frequency lists of leaked passwords, names and words), no composition rules.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PasswordPolicySettings {
    pub min_length: usize,
    pub max_length: usize,
    /// Lowest accepted zxcvbn score (0–4).
    pub min_score: u8,
    pub reject_email_local_part: bool,
}

impl Default for PasswordPolicySettings {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 128,
            min_score: 3,
            reject_email_local_part: true,
        }
    }
}

/// The rule a password broke; `rule` is a stable identifier clients can match on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicyViolation {
    pub rule: &'static str,
    pub message: String,
    /// zxcvbn's advice on a stronger password (for `weak_password`).
    pub suggestions: Vec<String>,
}

impl PasswordPolicyViolation {
    fn new(rule: &'static str, message: String) -> Self {
        Self {
            rule,
            message,
            suggestions: Vec::new(),
        }
    }
}

/// The shortest local part worth checking for: shorter ones ("jo") would reject most passwords.
const MIN_CHECKED_LOCAL_PART_CHARS: usize = 3;

impl PasswordPolicySettings {
    /// Checks `password` for an account whose email is `email` (already normalised).
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordPolicyViolation> {
        // Length is counted in Unicode scalar values, as NIST asks (not bytes). The maximum is
        // checked first: nothing longer reaches zxcvbn or argon2.
        let length = password.chars().count();
        if length > self.max_length {
            return Err(PasswordPolicyViolation::new(
                "max_length",
                format!(
                    "the password must be at most {} characters long",
                    self.max_length
                ),
            ));
        }
        if length < self.min_length {
            return Err(PasswordPolicyViolation::new(
                "min_length",
                format!(
                    "the password must be at least {} characters long",
                    self.min_length
                ),
            ));
        }
        let lowered = password.to_lowercase();
        let local_part = email
            .rsplit_once('@')
            .map_or(email, |(local, _)| local)
            .to_lowercase();
        if self.reject_email_local_part
            && local_part.chars().count() >= MIN_CHECKED_LOCAL_PART_CHARS
            && lowered.contains(&local_part)
        {
            return Err(PasswordPolicyViolation::new(
                "contains_email",
                "the password must not contain the email address's local part".to_owned(),
            ));
        }
        // The account's own words and the project's name are the first guesses of an attacker
        // who knows whose password it is.
        let user_inputs = [local_part.as_str(), env!("CARGO_PKG_NAME")];
        let estimate = zxcvbn::zxcvbn(password, &user_inputs);
        let score = u8::from(estimate.score());
        if score < self.min_score {
            let feedback = estimate.feedback();
            let warning = feedback
                .and_then(|feedback| feedback.warning())
                .map(|warning| format!(": {warning}"))
                .unwrap_or_default();
            let mut suggestions: Vec<String> = feedback
                .map(|feedback| {
                    feedback
                        .suggestions()
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if suggestions.is_empty() {
                suggestions.push("Add another word or two. Uncommon words are better.".to_owned());
            }
            return Err(PasswordPolicyViolation {
                rule: "weak_password",
                message: format!(
                    "the password is too easy to guess (strength {score} of 4, {} needed){warning}",
                    self.min_score
                ),
                suggestions,
            });
        }
        Ok(())
    }
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
    fn guessable_passwords_are_refused_by_zxcvbn_with_a_suggestion() {
        // `password123password`, and the top of published breach statistics at 12+ characters.
        for password in [
            "password123password",
            "password1234",
            "Qwerty123456",
            "123456789012",
            "qwertyuiop123",
            "iloveyou1234",
            "1q2w3e4r5t6y",
            "aaaaaaaaaaaa",
        ] {
            let violation = policy()
                .check(password, "ana@example.com")
                .expect_err(password);
            assert_eq!(violation.rule, "weak_password", "{password}");
            assert!(!violation.suggestions.is_empty(), "{password}");
        }
    }

    #[test]
    fn the_project_name_is_a_guess_of_its_own() {
        let name = env!("CARGO_PKG_NAME");
        let password = format!("{name}{name}{name}2024");
        if password.chars().count() >= 12 {
            let result = policy().check(&password, "ana@example.com");
            assert_eq!(result.map_err(|v| v.rule), Err("weak_password"));
        }
    }

    #[test]
    fn the_minimum_score_is_configurable() {
        let lenient = PasswordPolicySettings {
            min_score: 0,
            ..policy()
        };
        assert_eq!(lenient.check("password1234", "ana@example.com"), Ok(()));
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
    async fn hashes_interoperate_with_the_argon2_crate_whatever_their_memory_cost() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(&Argon2Settings::default())
            .await
            .expect("default parameters are valid");
        // Made by argon2's own allocating API, with twice a slot's memory (a costlier setting
        // of the past): verified with a buffer of its own.
        let costlier = Params::new(2 * OWASP_MIN_MEMORY_KIB, 1, 1, None).expect("valid");
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, costlier)
            .hash_password(b"violet-harbour-tractor-87")
            .expect("hashing works")
            .to_string();
        assert!(
            hasher
                .verify("violet-harbour-tractor-87".to_owned(), Some(theirs.clone()))
                .await
                .expect("verification runs")
        );
        assert!(
            !hasher
                .verify("violet-harbour-tractor-88".to_owned(), Some(theirs))
                .await
                .expect("verification runs")
        );
        let ours = hasher
            .hash("violet-harbour-tractor-87".to_owned())
            .await
            .expect("hashing works");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password(b"violet-harbour-tractor-87", &parsed)
                .is_ok()
        );
        assert!(
            !hasher
                .verify(
                    "violet-harbour-tractor-87".to_owned(),
                    Some("$argon2id$v=19$x".into())
                )
                .await
                .expect("verification runs")
        );
    }

    #[tokio::test]
    async fn working_memory_is_allocated_once_per_slot_and_reused() {
        let settings = Argon2Settings {
            max_concurrent: 2,
            ..Argon2Settings::default()
        };
        let hasher = PasswordHasher::new(&settings)
            .await
            .expect("default parameters are valid");
        let runs = (0..8).map(|i| hasher.hash(format!("violet-harbour-tractor-{i}")));
        for hash in futures::future::join_all(runs).await {
            hash.expect("hashing works");
        }
        let idle = hasher.memory.idle.lock().expect("not poisoned");
        assert!((1..=2).contains(&idle.len()), "{} buffers", idle.len());
        assert!(
            idle.iter()
                .all(|buffer| buffer.len() == hasher.params.block_count())
        );
    }

    #[tokio::test]
    async fn a_saturated_hasher_answers_busy_after_its_queue_timeout() {
        let settings = Argon2Settings {
            max_concurrent: 1,
            queue_timeout: Duration::from_millis(1),
            ..Argon2Settings::default()
        };
        let hasher = PasswordHasher::new(&settings)
            .await
            .expect("default parameters are valid");
        let held = hasher.slots.clone().acquire_owned().await.expect("open");
        let refused = hasher.hash("violet-harbour-tractor-87".to_owned()).await;
        assert!(
            matches!(refused, Err(PasswordHashError::Busy)),
            "{refused:?}"
        );
        drop(held);
        assert!(
            hasher
                .hash("violet-harbour-tractor-87".to_owned())
                .await
                .is_ok()
        );
    }

    #[test]
    fn zero_concurrency_means_one_slot_per_core() {
        let settings = Argon2Settings::default();
        assert!(settings.concurrency() >= 1);
        let fixed = Argon2Settings {
            max_concurrent: 3,
            ..Argon2Settings::default()
        };
        assert_eq!(fixed.concurrency(), 3);
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

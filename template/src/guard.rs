//! The production guard: outside `dev` the application refuses to start while any of these
//! rules is broken, and `doctor` prints the same list without serving.
//!
//! It is a pure function of the settings, so every rule has a unit test below. To add a rule,
//! push a [`Violation`] from [`production_violations`]; to judge a new secret, call
//! [`check_secret`].

use std::collections::HashSet;
use std::fmt;

use secrecy::ExposeSecret;

use crate::config::Settings;

/// Shortest accepted secret: 256 bits for an HMAC-SHA256 key.
pub const MIN_SECRET_BYTES: usize = 32;
/// Lowest accepted estimate of a secret's entropy, in bits.
pub const MIN_SECRET_ENTROPY_BITS: f64 = 128.0;

/// One setting that production refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The environment variable to change, e.g. `JWT_SECRET`.
    pub setting: &'static str,
    /// What is wrong and what to do instead.
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

/// Why a secret is unfit for production. A secret can have several weaknesses at once.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretWeakness {
    Empty,
    /// A value published somewhere (this template, docs, tutorials) or an obvious placeholder.
    KnownOrPlaceholder,
    TooShort {
        bytes: usize,
    },
    LowEntropy {
        estimated_bits: f64,
    },
}

impl fmt::Display for SecretWeakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretWeakness::Empty => f.write_str("is empty"),
            SecretWeakness::KnownOrPlaceholder => {
                f.write_str("is a known default or a placeholder value")
            }
            SecretWeakness::TooShort { bytes } => {
                write!(f, "is {bytes} bytes long, shorter than {MIN_SECRET_BYTES}")
            }
            SecretWeakness::LowEntropy { estimated_bits } => write!(
                f,
                "has low entropy (about {estimated_bits:.0} bits, {MIN_SECRET_ENTROPY_BITS:.0} needed)"
            ),
        }
    }
}

/// Values seen in templates, tutorials and `.env` examples. Compared case-insensitively after
/// removing separators, so `Change-Me` and `CHANGE_ME` are the same entry.
const KNOWN_WEAK_VALUES: &[&str] = &[
    "secret",
    "secretkey",
    "jwtsecret",
    "mysecret",
    "supersecret",
    "password",
    "changeme",
    "changethis",
    "default",
    "test",
    "dev",
    "development",
    "example",
    "replaceme",
    "yoursecret",
    "yoursecretkey",
    "insecure",
    "notsecret",
];

/// Fragments that mark a value as a placeholder wherever they appear in it.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "changeme",
    "changethis",
    "replaceme",
    "placeholder",
    "devinsecure",
    "insecure",
    "donotuse",
    "yoursecret",
    "example",
    "xxxxxxxx",
    "todo",
    "fixme",
];

/// Judges how guessable a secret is. Empty means fit for production.
///
/// Judged on strength, never on equality with one default: a placeholder such as
/// `CHANGE_ME_jwt` or a short random word is refused as surely as the template's own value.
pub fn check_secret(secret: &str) -> Vec<SecretWeakness> {
    if secret.trim().is_empty() {
        return vec![SecretWeakness::Empty];
    }
    let mut weaknesses = Vec::new();
    let folded: String = secret
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if KNOWN_WEAK_VALUES.contains(&folded.as_str())
        || PLACEHOLDER_MARKERS
            .iter()
            .any(|marker| folded.contains(marker))
    {
        weaknesses.push(SecretWeakness::KnownOrPlaceholder);
    }
    if secret.len() < MIN_SECRET_BYTES {
        weaknesses.push(SecretWeakness::TooShort {
            bytes: secret.len(),
        });
    }
    let estimated_bits = estimated_entropy_bits(secret);
    if estimated_bits < MIN_SECRET_ENTROPY_BITS || looks_sequential(secret) {
        weaknesses.push(SecretWeakness::LowEntropy { estimated_bits });
    }
    weaknesses
}

/// Shannon entropy of the character distribution times the length: a cheap upper-bound
/// estimate that catches repetition (`aaaa…`, `abcabc…`) without a dictionary.
pub fn estimated_entropy_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let total = chars.len() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.log2()
        })
        .sum();
    per_char * total
}

/// `abcdef…`, `123456…`: more than half of the neighbours are consecutive code points.
fn looks_sequential(secret: &str) -> bool {
    let chars: Vec<u32> = secret.chars().map(u32::from).collect();
    if chars.len() < 2 {
        return false;
    }
    let consecutive = chars
        .windows(2)
        .filter(|pair| pair[1] == pair[0] + 1 || pair[0] == pair[1] + 1)
        .count();
    consecutive * 2 > chars.len() - 1
}

/// Pushes one violation per weak secret, naming every weakness.
pub fn check_secret_setting(setting: &'static str, secret: &str, violations: &mut Vec<Violation>) {
    let weaknesses = check_secret(secret);
    if weaknesses.is_empty() {
        return;
    }
    let described: Vec<String> = weaknesses.iter().map(ToString::to_string).collect();
    violations.push(Violation {
        setting,
        reason: format!(
            "{}; `ops secrets --write` generates one (or `openssl rand -base64 48`)",
            described.join(", ")
        ),
    });
}

/// Every rule production refuses, for the environment the settings name. `dev` is exempt:
/// the embedded stores and the dev secret exist for it.
pub fn production_violations(settings: &Settings) -> Vec<Violation> {
    if settings.environment.is_dev() {
        return Vec::new();
    }
    rules_for_production(settings)
}

/// The rules themselves, regardless of the environment (used by `doctor --env`).
pub fn rules_for_production(settings: &Settings) -> Vec<Violation> {
    let mut violations = Vec::new();

    check_secret_setting(
        "JWT_SECRET",
        settings.jwt_secret.expose_secret(),
        &mut violations,
    );

    match settings.database_url.as_deref() {
        None => violations.push(Violation {
            setting: "DATABASE_URL",
            reason: "is not set; the embedded SQLite database is for dev only: \
                     point it at Postgres (postgres://user:password@host:5432/db)"
                .to_owned(),
        }),
        Some(url) if url.starts_with("sqlite:") => violations.push(Violation {
            setting: "DATABASE_URL",
            reason: "points at SQLite, which is for dev only: use Postgres".to_owned(),
        }),
        Some(_) => {}
    }

    if settings.redis_url.is_none() {
        violations.push(Violation {
            setting: "REDIS_URL",
            reason: "is not set; the in-process store is for dev only (not shared between \
                     instances, lost on restart): point it at Redis (redis://host:6379)"
                .to_owned(),
        });
    }

{%- if storage %}
    if matches!(
        settings.storage_target(),
        Ok(crate::storage::StorageTarget::Memory)
    ) {
        violations.push(Violation {
            setting: "STORAGE_URL",
            reason: "is memory://; objects would be lost on restart and not shared between \
                     instances: use s3://bucket or a file:/// folder on a volume"
                .to_owned(),
        });
    }
{%- endif %}

    if settings.api_docs_enabled() {
        violations.push(Violation {
            setting: "API_DOCS",
            reason: "is on; the OpenAPI document and docs page map the attack surface: \
                     set API_DOCS=false"
                .to_owned(),
        });
    }

    if settings
        .cors_allowed_origins
        .iter()
        .any(|origin| origin == "*")
    {
        violations.push(Violation {
            setting: "CORS_ALLOWED_ORIGINS",
            reason: "allows any origin (`*`): list the origins of your front-ends".to_owned(),
        });
    }

    let distinct: HashSet<&String> = settings.cors_allowed_origins.iter().collect();
    for origin in distinct {
        if origin != "*" && origin.starts_with("http://") && !is_loopback_origin(origin) {
            violations.push(Violation {
                setting: "CORS_ALLOWED_ORIGINS",
                reason: format!("allows `{origin}` over plain HTTP: use https://"),
            });
        }
    }

    auth_violations(settings, &mut violations);
    crate::mail::production_violations(settings, &mut violations);
    check_secret_setting(
        "MFA_ENCRYPTION_KEY",
        settings.mfa_encryption_key.expose_secret(),
        &mut violations,
    );
    metrics_violations(settings, &mut violations);
{%- if storage %}
    check_secret_setting(
        "STORAGE_ENCRYPTION_KEY",
        settings.storage_encryption_key.expose_secret(),
        &mut violations,
    );
    // Retired keys still open files: each must be as strong as a current one.
    if let Ok(previous) = crate::files::keys::parse_previous_keys(
        settings.storage_encryption_previous_keys.expose_secret(),
    ) {
        for (_, key) in previous {
            check_secret_setting("STORAGE_ENCRYPTION_PREVIOUS_KEYS", &key, &mut violations);
        }
    }
{%- endif %}
    violations
}

/// `/metrics` names every route, the pool's size and the auth failure rates: reachable
/// beyond this host, it must require a strong token.
fn metrics_violations(settings: &Settings, violations: &mut Vec<Violation>) {
    if let Some(token) = &settings.metrics_token {
        check_secret_setting("METRICS_TOKEN", token.expose_secret(), violations);
    }
    let Ok(Some(address)) = settings.metrics_listen_address() else {
        return;
    };
    if !address.ip().is_loopback() && settings.metrics_token.is_none() {
        violations.push(Violation {
            setting: "METRICS_TOKEN",
            reason: format!(
                "is not set while METRICS_ADDRESS={address} is reachable beyond this host: \
                 set a token (`ops secrets --write` generates one) or bind 127.0.0.1"
            ),
        });
    }
}

/// Longest access-token lifetime production accepts.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;
/// Longest refresh-token (session) lifetime production accepts.
pub const MAX_REFRESH_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;

/// Token lifetimes, cookie transport, password hashing cost and the trusted-proxy list.
fn auth_violations(settings: &Settings, violations: &mut Vec<Violation>) {
    if settings.access_token_ttl_secs > MAX_ACCESS_TOKEN_TTL_SECS {
        violations.push(Violation {
            setting: "ACCESS_TOKEN_TTL_SECS",
            reason: format!(
                "is {} s; access tokens must live at most {MAX_ACCESS_TOKEN_TTL_SECS} s \
                 (15 minutes): sessions last through refresh tokens instead",
                settings.access_token_ttl_secs
            ),
        });
    }
    if settings.refresh_token_ttl_secs > MAX_REFRESH_TOKEN_TTL_SECS {
        violations.push(Violation {
            setting: "REFRESH_TOKEN_TTL_SECS",
            reason: format!(
                "is {} s; a session must end after at most {MAX_REFRESH_TOKEN_TTL_SECS} s \
                 (30 days) without use",
                settings.refresh_token_ttl_secs
            ),
        });
    }
    if !settings.refresh_cookie_secure() {
        violations.push(Violation {
            setting: "REFRESH_COOKIE_SECURE",
            reason: "is off; the refresh-token cookie would travel over plain HTTP: \
                     remove the setting (on by default outside dev)"
                .to_owned(),
        });
    }
    if settings.argon2_memory_kib < crate::auth::password::OWASP_MIN_MEMORY_KIB
        || settings.argon2_iterations < crate::auth::password::OWASP_MIN_ITERATIONS
    {
        violations.push(Violation {
            setting: "ARGON2_MEMORY_KIB",
            reason: format!(
                "argon2id cost m={} KiB, t={} is below OWASP's minimum (m=19456, t=2)",
                settings.argon2_memory_kib, settings.argon2_iterations
            ),
        });
    }
    for range in &settings.trusted_proxies {
        let Ok(range) = crate::middleware::client_ip::parse_range(range) else {
            continue;
        };
        let too_broad = match range {
            ipnet::IpNet::V4(v4) => v4.prefix_len() < 8,
            ipnet::IpNet::V6(v6) => v6.prefix_len() < 16,
        };
        if too_broad {
            violations.push(Violation {
                setting: "TRUSTED_PROXIES",
                reason: format!(
                    "trusts `{range}`, which covers a large part of the internet: any \
                     client there could pick its own address with X-Forwarded-For; list \
                     the addresses of your reverse proxies only"
                ),
            });
        }
    }
}

fn is_loopback_origin(origin: &str) -> bool {
    let rest = origin.trim_start_matches("http://");
    rest.starts_with("localhost") || rest.starts_with("127.0.0.1") || rest.starts_with("[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEV_JWT_SECRET, Environment};
    use secrecy::SecretString;

    const STRONG_SECRET: &str = "p7Yq2LxV9sKd4TfB8mWz3RcN6hJe1GuA5oXi0QbZ";

    fn production_ready() -> Settings {
        Settings {
            environment: Environment::Prod,
            database_url: Some("postgres://app:pw@db:5432/app".to_owned()),
            redis_url: Some("redis://redis:6379".to_owned()),
            jwt_secret: SecretString::from(STRONG_SECRET),
            cors_allowed_origins: vec!["https://app.example.com".to_owned()],
            smtp_host: Some("smtp.example.com".to_owned()),
            public_url: "https://app.example.com".to_owned(),
            mfa_encryption_key: SecretString::from("Zr8uVq3Lm6Tn1Wc4Hy7Kd0Pf5Bx2Sg9JeAoXiNb"),
{%- if storage %}
            storage_encryption_key: SecretString::from("Pq4Ws8Ex1Rc5Tv9Yb3Un7Im2Ok6Lj0HgFdSaZxCv"),
{%- endif %}
            ..Settings::default()
        }
    }

    fn settings_named(violations: &[Violation]) -> Vec<&'static str> {
        violations.iter().map(|v| v.setting).collect()
    }

    #[test]
    fn production_ready_settings_pass() {
        assert_eq!(production_violations(&production_ready()), vec![]);
    }

    #[test]
    fn dev_is_exempt() {
        let settings = Settings::default();
        assert!(production_violations(&settings).is_empty());
        assert!(!rules_for_production(&settings).is_empty());
    }

    #[test]
    fn defaults_in_prod_name_every_offending_setting() {
        let settings = Settings {
            environment: Environment::Prod,
            ..Settings::default()
        };
        let named = settings_named(&production_violations(&settings));
        assert_eq!(
            named,
            vec![
                "JWT_SECRET",
                "DATABASE_URL",
                "REDIS_URL",
                "SMTP_HOST",
                "PUBLIC_URL",
                "MFA_ENCRYPTION_KEY",
{%- if storage %}
                "STORAGE_ENCRYPTION_KEY",
{%- endif %}
            ]
        );
    }

    #[test]
    fn staging_is_guarded_like_prod() {
        let settings = Settings {
            environment: Environment::Staging,
            ..production_ready()
        };
        assert!(production_violations(&settings).is_empty());
        let settings = Settings {
            environment: Environment::Staging,
            redis_url: None,
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["REDIS_URL"]
        );
    }

{%- if storage %}
    #[test]
    fn weak_storage_encryption_keys_are_refused_current_or_previous() {
        let settings = Settings {
            storage_encryption_key: SecretString::from(crate::config::DEV_STORAGE_ENCRYPTION_KEY),
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["STORAGE_ENCRYPTION_KEY"]
        );
        let settings = Settings {
            storage_encryption_previous_keys: SecretString::from("old:changeme"),
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["STORAGE_ENCRYPTION_PREVIOUS_KEYS"]
        );
        let settings = Settings {
            storage_encryption_previous_keys: SecretString::from(
                "old:Nh3Tg7Yk1Mb5Vc9Xz2Qa6Ws0Ed4Rf8Tg2Yh6Uj0Ik",
            ),
            ..production_ready()
        };
        assert!(production_violations(&settings).is_empty());
    }

    #[test]
    fn in_memory_storage_is_refused_outside_dev_only() {
        let settings = Settings {
            storage_url: Some("memory://".to_owned()),
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["STORAGE_URL"]
        );
        let dev = Settings {
            environment: Environment::Dev,
            ..settings.clone()
        };
        assert!(production_violations(&dev).is_empty());
        for durable in ["s3://uploads", "file:///srv/storage"] {
            let settings = Settings {
                storage_url: Some(durable.to_owned()),
                ..production_ready()
            };
            assert!(production_violations(&settings).is_empty(), "{durable}");
        }
    }
{%- endif %}

    #[test]
    fn the_template_dev_secret_is_refused() {
        assert!(check_secret(DEV_JWT_SECRET).contains(&SecretWeakness::KnownOrPlaceholder));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(check_secret(""), vec![SecretWeakness::Empty]);
        assert_eq!(check_secret("   "), vec![SecretWeakness::Empty]);
    }

    #[test]
    fn placeholders_are_refused_whatever_their_case_or_suffix() {
        for placeholder in [
            "CHANGE_ME_jwt_secret_0f3a9c1d7e5b2a8f6c4d0e9b7a3f1c5d",
            "change-me",
            "changeme",
            "secret",
            "Secret",
            "replace-me-with-a-long-random-value-of-48-characters",
            "your-secret-key-here-Zq8Lm3Vx9Tb2Nc7Hd4Kf6Wj1Rp5Ys0",
            "dev-insecure-anything",
        ] {
            assert!(
                check_secret(placeholder).contains(&SecretWeakness::KnownOrPlaceholder),
                "{placeholder} was not recognised as a placeholder"
            );
        }
    }

    #[test]
    fn short_secret_is_refused() {
        let weaknesses = check_secret("Zq8Lm3Vx9Tb2Nc7Hd4Kf");
        assert!(weaknesses.contains(&SecretWeakness::TooShort { bytes: 20 }));
    }

    #[test]
    fn long_but_repetitive_secret_is_refused_for_low_entropy() {
        for weak in [
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababababababababababab",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCD",
        ] {
            let weaknesses = check_secret(weak);
            assert!(
                weaknesses
                    .iter()
                    .any(|w| matches!(w, SecretWeakness::LowEntropy { .. })),
                "{weak} passed: {weaknesses:?}"
            );
        }
    }

    #[test]
    fn random_base64_secret_passes() {
        assert_eq!(check_secret(STRONG_SECRET), vec![]);
        assert_eq!(
            check_secret("uJ9cZr2q0Gm5hY8xWb3nT6vK1sLd4pQe7aFoXiRtBzMwNy+/"),
            vec![]
        );
    }

    #[test]
    fn weak_secret_in_prod_names_jwt_secret_with_every_reason() {
        let settings = Settings {
            jwt_secret: SecretString::from("changeme"),
            ..production_ready()
        };
        let violations = production_violations(&settings);
        assert_eq!(settings_named(&violations), vec!["JWT_SECRET"]);
        let reason = &violations[0].reason;
        assert!(reason.contains("known default"), "{reason}");
        assert!(reason.contains("shorter than 32"), "{reason}");
        assert!(reason.contains("low entropy"), "{reason}");
    }

    #[test]
    fn missing_database_is_refused() {
        let settings = Settings {
            database_url: None,
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["DATABASE_URL"]
        );
    }

    #[test]
    fn sqlite_database_is_refused() {
        let settings = Settings {
            database_url: Some("sqlite://data/app.sqlite3?mode=rwc".to_owned()),
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["DATABASE_URL"]
        );
    }

    #[test]
    fn missing_redis_is_refused() {
        let settings = Settings {
            redis_url: None,
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["REDIS_URL"]
        );
    }

    #[test]
    fn docs_turned_on_are_refused() {
        let settings = Settings {
            api_docs: Some(true),
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["API_DOCS"]
        );
    }

    #[test]
    fn wildcard_cors_is_refused() {
        let settings = Settings {
            cors_allowed_origins: vec!["https://app.example.com".to_owned(), "*".to_owned()],
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["CORS_ALLOWED_ORIGINS"]
        );
    }

    #[test]
    fn plain_http_cors_origin_is_refused_except_loopback() {
        let settings = Settings {
            cors_allowed_origins: vec![
                "http://app.example.com".to_owned(),
                "http://localhost:3000".to_owned(),
            ],
            ..production_ready()
        };
        let violations = production_violations(&settings);
        assert_eq!(settings_named(&violations), vec!["CORS_ALLOWED_ORIGINS"]);
        assert!(violations[0].reason.contains("http://app.example.com"));
    }

    #[test]
    fn access_tokens_longer_than_15_minutes_are_refused() {
        let settings = Settings {
            access_token_ttl_secs: 901,
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["ACCESS_TOKEN_TTL_SECS"]
        );
        let settings = Settings {
            access_token_ttl_secs: 900,
            ..production_ready()
        };
        assert!(production_violations(&settings).is_empty());
    }

    #[test]
    fn sessions_longer_than_30_days_are_refused() {
        let settings = Settings {
            refresh_token_ttl_secs: 31 * 24 * 3600,
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["REFRESH_TOKEN_TTL_SECS"]
        );
    }

    #[test]
    fn an_insecure_refresh_cookie_is_refused() {
        let settings = Settings {
            refresh_cookie_secure: Some(false),
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["REFRESH_COOKIE_SECURE"]
        );
        // Unset means secure outside dev.
        assert!(production_ready().refresh_cookie_secure());
    }

    #[test]
    fn argon2_below_owasp_cost_is_refused() {
        let settings = Settings {
            argon2_memory_kib: 4096,
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&settings)),
            vec!["ARGON2_MEMORY_KIB"]
        );
    }

    #[test]
    fn trusting_the_whole_internet_as_a_proxy_is_refused() {
        for range in ["0.0.0.0/0", "::/0", "10.0.0.0/4"] {
            let settings = Settings {
                trusted_proxies: vec!["172.18.0.2".to_owned(), range.to_owned()],
                ..production_ready()
            };
            assert_eq!(
                settings_named(&production_violations(&settings)),
                vec!["TRUSTED_PROXIES"],
                "{range}"
            );
        }
        let settings = Settings {
            trusted_proxies: vec!["10.0.0.0/8".to_owned(), "fd00::/16".to_owned()],
            ..production_ready()
        };
        assert!(production_violations(&settings).is_empty());
    }

    #[test]
    fn a_public_metrics_listener_needs_a_strong_token() {
        let public = Settings {
            metrics_address: "0.0.0.0:9464".to_owned(),
            ..production_ready()
        };
        assert_eq!(
            settings_named(&production_violations(&public)),
            vec!["METRICS_TOKEN"]
        );
        let weak = Settings {
            metrics_token: Some(SecretString::from("CHANGE_ME_metrics")),
            ..public.clone()
        };
        assert_eq!(
            settings_named(&production_violations(&weak)),
            vec!["METRICS_TOKEN"]
        );
        let protected = Settings {
            metrics_token: Some(SecretString::from(STRONG_SECRET)),
            ..public.clone()
        };
        assert!(production_violations(&protected).is_empty());
        for address in ["127.0.0.1:9464", "[::1]:9464", "off"] {
            let settings = Settings {
                metrics_address: address.to_owned(),
                ..production_ready()
            };
            assert!(production_violations(&settings).is_empty(), "{address}");
        }
        let dev = Settings {
            environment: Environment::Dev,
            ..public
        };
        assert!(production_violations(&dev).is_empty());
    }
}

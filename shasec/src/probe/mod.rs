//! `shasec probe BASE_URL`: attack a running API the way an intruder would and report what got
//! through. The families run in a fixed order — baseline, jwt, cookies, routes, headers, cors,
//! docs, ratelimit, ports — so that the login limiter is tripped only after every probe that needs
//! to log in or present a token has run.

mod baseline;
mod client;
mod cookies;
mod cors;
mod discover;
mod docs;
mod headers;
mod jwt;
mod login;
mod openapi;
mod ports;
mod project_secrets;
mod ratelimit;
mod routes;
mod rules;
mod target;
mod weak_secrets;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::finding::{Finding, Location};
use crate::report::Report;
use crate::rules::RuleSet;

pub use rules::RULES;

use client::{ProbeClient, SendError};
use target::Target;

/// A family of probes, selected with `--only` / `--skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Family {
    Jwt,
    Routes,
    Ratelimit,
    Headers,
    Cors,
    Cookies,
    Docs,
    Ports,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Jwt => "jwt",
            Family::Routes => "routes",
            Family::Ratelimit => "ratelimit",
            Family::Headers => "headers",
            Family::Cors => "cors",
            Family::Cookies => "cookies",
            Family::Docs => "docs",
            Family::Ports => "ports",
        }
    }
}

/// `USER:PASSWORD` (the user is an email or a user name), split at the first colon (a password
/// may contain colons).
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:***)", self.user)
    }
}

fn parse_credentials(text: &str) -> Result<Credentials, String> {
    match text.split_once(':') {
        Some((user, password)) if !user.trim().is_empty() && !password.is_empty() => {
            Ok(Credentials {
                user: user.trim().to_owned(),
                password: password.to_owned(),
            })
        }
        _ => Err("expected USER:PASSWORD (an email or user name), both non-empty".to_owned()),
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.05..=600.0).contains(&seconds) {
        return Err("must be between 0.05 and 600 seconds".to_owned());
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_path(text: &str) -> Result<String, String> {
    if text.starts_with('/') && !text.contains(char::is_whitespace) {
        Ok(text.to_owned())
    } else {
        Err("must be a URL path starting with `/`".to_owned())
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// Root URL of the running API, e.g. http://127.0.0.1:8080 (loopback and private addresses
    /// only, unless --allow-public).
    #[arg(value_name = "BASE_URL")]
    pub base_url: String,
    /// Run only these probe families (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FAMILIES")]
    pub only: Vec<Family>,
    /// Skip these probe families (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FAMILIES")]
    pub skip: Vec<Family>,
    /// Also attack addresses outside loopback and private ranges (only hosts you own).
    #[arg(long)]
    pub allow_public: bool,
    /// Also attack link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10), which
    /// --allow-public does not cover.
    #[arg(long)]
    pub allow_link_local: bool,
    /// Let a run cut short by --max-requests or --max-time pass the gate (by default it exits 1:
    /// families that did not run prove nothing).
    #[arg(long)]
    pub allow_partial: bool,
    /// Most HTTP requests the whole run may send (a run cut short fails the gate unless
    /// --allow-partial).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_requests: u32,
    /// Timeout of one request or TCP connect, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Time limit of the whole run, in seconds (what is left unprobed is reported as SHA100, and
    /// a run cut short fails the gate unless --allow-partial).
    #[arg(long, value_name = "SECONDS", default_value = "50", value_parser = parse_seconds)]
    pub max_time: Duration,
    /// Log in with these credentials for the authenticated baseline (or set SHASEC_CREDENTIALS).
    /// The login route and its field names are read from the OpenAPI document when it has them.
    #[arg(long, value_name = "USER:PASSWORD", env = "SHASEC_CREDENTIALS", hide_env_values = true,
          value_parser = parse_credentials)]
    pub credentials: Option<Credentials>,
    /// Use this access token for the authenticated baseline instead of logging in (or SHASEC_TOKEN).
    #[arg(long, value_name = "TOKEN", env = "SHASEC_TOKEN", hide_env_values = true,
          conflicts_with_all = ["credentials", "register"])]
    pub token: Option<String>,
    /// Register a throwaway user (random email and password) and log in with it.
    #[arg(long, conflicts_with = "credentials")]
    pub register: bool,
    /// Login route (POST). Default: the login operation of the OpenAPI document (a request body
    /// with a user field and a password field), else /api/v1/auth/login.
    #[arg(long, value_name = "PATH", value_parser = parse_path)]
    pub login_path: Option<String>,
    /// Login request body as a JSON template with {username} and {password} in its strings, for
    /// logins the OpenAPI document does not describe. Default: the document's field names, else
    /// {"email","password"}.
    #[arg(long, value_name = "JSON", value_parser = login::parse_login_body)]
    pub login_body: Option<serde_json::Value>,
    /// Where the login answer holds the token: `data.session.jwt` or `/data/session/jwt`, or
    /// `cookie:NAME` for a cookie session. Default: access_token, token, auth_token, jwt,
    /// id_token… (also nested under data, result, tokens…), a token header, a session cookie.
    #[arg(long, value_name = "FIELD", value_parser = login::parse_token_field)]
    pub token_field: Option<login::TokenField>,
    /// Route that answers 2xx to a valid token only: the oracle of the token probes. Default: the
    /// document's "me" route (GET …/me, /whoami, /userinfo, …), else /api/v1/auth/me.
    #[arg(long, value_name = "PATH", value_parser = parse_path)]
    pub me_path: Option<String>,
    /// Registration route used by --register (default: the document's …/register or …/signup,
    /// else /api/v1/auth/register).
    #[arg(long, value_name = "PATH", value_parser = parse_path)]
    pub register_path: Option<String>,
    /// Refresh route, called with the login's cookies to judge the cookies it sets (default: the
    /// document's …/refresh, else /api/v1/auth/refresh).
    #[arg(long, value_name = "PATH", value_parser = parse_path)]
    pub refresh_path: Option<String>,
    /// OpenAPI document (JSON): an http(s) URL on the target, or a file. Default: discovered at
    /// the usual paths (/api/v1/openapi.json, /openapi.json, …).
    #[arg(long, value_name = "URL|FILE")]
    pub openapi: Option<String>,
    /// Routes to call without credentials, one `METHOD /path [public]` per line, instead of OpenAPI.
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// Project directory: secrets `shasec audit` finds there join the JWT key candidates.
    #[arg(long, value_name = "PATH")]
    pub project: Option<PathBuf>,
    /// More JWT key candidates, one per line (read lazily; any size).
    #[arg(long, value_name = "FILE")]
    pub wordlist: Option<PathBuf>,
    /// Judge the target as a production deployment (docs exposed and insecure cookies are medium).
    #[arg(long)]
    pub expect_prod: bool,
    /// Failed logins sent to trip the login rate limit.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub login_attempts: u32,
    /// TCP ports for the ports family instead of the built-in datastore list (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PORTS")]
    pub ports: Vec<u16>,
}

/// Nothing (or not enough) could be probed: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid base URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot resolve `{host}`")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error(
        "refusing to attack {address} ({host}): it is not a loopback or private address; \
         pass --allow-public only for a host you own"
    )]
    PublicTarget {
        host: String,
        address: std::net::IpAddr,
    },
    #[error(
        "refusing to attack {address} ({host}): it is a link-local or cloud metadata address; \
         pass --allow-link-local only for a host you own"
    )]
    LinkLocalTarget {
        host: String,
        address: std::net::IpAddr,
    },
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error("cannot read {what} {path}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid OpenAPI document {origin}: {reason}")]
    OpenApi { origin: String, reason: String },
    #[error("invalid routes file {path}, line {line}: {reason}")]
    RoutesFile {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("cannot collect the project's secrets from {path}: {reason}")]
    Project { path: PathBuf, reason: String },
    #[error("the target is unreachable: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Authentication(String),
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// Settings the families read, validated before any traffic is sent.
pub(crate) struct Plan {
    pub families: BTreeSet<Family>,
    pub args: ProbeArgs,
    pub openapi_file: Option<(String, serde_json::Value)>,
    pub routes_file: Option<Vec<openapi::Operation>>,
    pub project_secrets: Vec<String>,
}

impl Plan {
    /// Validates every input that can be checked offline, so bad input fails before any request.
    fn new(args: &ProbeArgs) -> Result<Self, ProbeError> {
        let base = target::parse_base_url(&args.base_url)?;
        let mut families: BTreeSet<Family> = if args.only.is_empty() {
            Family::value_variants().iter().copied().collect()
        } else {
            args.only.iter().copied().collect()
        };
        for skipped in &args.skip {
            families.remove(skipped);
        }
        if families.is_empty() {
            return Err(ProbeError::InvalidOptions(
                "--only/--skip leave no probe family to run".to_owned(),
            ));
        }
        if let Some(path) = &args.wordlist {
            jwt::check_wordlist(path)?;
        }
        let openapi_file = match &args.openapi {
            Some(source) if !openapi::is_url_like(source) => Some(openapi::read_file(source)?),
            Some(source) => {
                openapi::same_origin_path(&base, source)?;
                None
            }
            None => None,
        };
        let routes_file = match &args.routes {
            Some(path) => Some(openapi::read_routes_file(path)?),
            None => None,
        };
        let project_secrets = match &args.project {
            Some(path) => project_secrets::collect(path)?,
            None => Vec::new(),
        };
        Ok(Plan {
            families,
            args: args.clone(),
            openapi_file,
            routes_file,
            project_secrets,
        })
    }

    pub fn runs(&self, family: Family) -> bool {
        self.families.contains(&family)
    }
}

/// Everything a family needs: the client, the target, the plan and what earlier steps learnt.
pub(crate) struct Context {
    pub client: ProbeClient,
    pub target: Target,
    pub plan: Plan,
    pub session: Option<baseline::Session>,
    pub oracle: Option<baseline::Oracle>,
    pub openapi: Option<openapi::Document>,
    /// The login, oracle, refresh and registration routes, from flags, the document or defaults.
    pub endpoints: discover::Endpoints,
    /// Exchanges worth judging for headers, collected as the other families run.
    pub samples: Vec<client::Exchange>,
    pub findings: Vec<Finding>,
    /// Set once the budget or the deadline is spent: later families are reported as not run.
    pub exhausted: Option<String>,
    /// 429s the rate-limit family provoked on purpose (not a sign of incomplete results).
    pub expected_rate_limited: u32,
}

impl Context {
    pub fn add(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Records why `family` could not finish (SHA100), once per family and reason.
    pub fn incomplete(&mut self, family: Family, path: &str, reason: impl Into<String>) {
        let message = format!("{}: {}", family.as_str(), reason.into());
        if self
            .findings
            .iter()
            .any(|f| f.rule == rules::PROBE_INCOMPLETE.id && f.message == message)
        {
            return;
        }
        self.findings.push(Finding::new(
            &rules::PROBE_INCOMPLETE,
            Location::file(path),
            message,
        ));
    }

    /// Records a send error: exhaustion stops the run, a transport error only this family.
    pub fn send_failed(&mut self, family: Family, path: &str, error: &SendError) {
        if error.is_exhaustion() && self.exhausted.is_none() {
            self.exhausted = Some(error.to_string());
        }
        self.incomplete(family, path, format!("stopped early: {error}"));
    }

    pub fn sample(&mut self, exchange: &client::Exchange) {
        self.samples.push(exchange.clone());
    }
}

/// Runs the probe from a synchronous caller (the CLI) on its own runtime.
pub fn run(args: &ProbeArgs) -> Result<Report, ProbeError> {
    let plan = Plan::new(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ProbeError::Runtime)?;
    runtime.block_on(probe(plan))
}

/// Runs the probe on the caller's runtime.
pub async fn run_async(args: &ProbeArgs) -> Result<Report, ProbeError> {
    probe(Plan::new(args)?).await
}

async fn probe(plan: Plan) -> Result<Report, ProbeError> {
    let base = target::parse_base_url(&plan.args.base_url)?;
    let allowed = target::Allowed {
        public: plan.args.allow_public,
        link_local: plan.args.allow_link_local,
    };
    let target = target::resolve(base, allowed).await?;
    let endpoints = discover::Endpoints::from_flags(&plan.args, plan.args.login_body.as_ref());
    let client = ProbeClient::new(
        &target,
        plan.args.max_requests,
        plan.args.timeout,
        plan.args.max_time,
    )
    .map_err(|error| ProbeError::Client(crate::error_chain::one_line(&error)))?;
    let mut context = Context {
        client,
        target,
        plan,
        session: None,
        oracle: None,
        openapi: None,
        endpoints,
        samples: Vec::new(),
        findings: Vec::new(),
        exhausted: None,
        expected_rate_limited: 0,
    };
    let outcome = probe_families(&mut context).await;
    context.client.finish();
    outcome?;
    let count = context
        .client
        .rate_limited_responses()
        .saturating_sub(context.expected_rate_limited);
    if count > 0 {
        let message = format!(
            "{count} response(s) were 429 Too Many Requests outside the rate-limit probe; results of \
             the families that got them may be incomplete (lower the API's limits for the probe's \
             address, or probe fewer families at a time)"
        );
        context.findings.push(Finding::new(
            &rules::PROBE_INCOMPLETE,
            Location::file("/"),
            message,
        ));
    }
    let target = context.target.base.to_string();
    let truncated = context.exhausted.clone();
    let allow_partial = context.plan.args.allow_partial;
    let mut report = Report::new(RuleSet::Probe, target, context.findings);
    if !allow_partial {
        report.truncated = truncated;
    }
    Ok(report)
}

async fn probe_families(context: &mut Context) -> Result<(), ProbeError> {
    // Fails with exit 2 when the API cannot be reached at all: a report of nothing would read as a pass.
    baseline::check_reachable(context).await?;
    // The document is read first: it tells where the login and "me" routes are and what the
    // login takes, which every family that logs in or presents a token needs.
    let http_family = context
        .plan
        .families
        .iter()
        .any(|family| *family != Family::Ports);
    if http_family {
        openapi::load(context).await?;
        if let Some(document) = &context.openapi {
            context.endpoints.discover(&context.plan.args, document);
        }
    }
    let needs_session = [Family::Jwt, Family::Cookies, Family::Headers]
        .iter()
        .any(|family| context.plan.runs(*family));
    if needs_session {
        baseline::establish(context).await?;
    }
    let order = [
        Family::Jwt,
        Family::Cookies,
        Family::Routes,
        Family::Headers,
        Family::Cors,
        Family::Docs,
        Family::Ratelimit,
        Family::Ports,
    ];
    for family in order {
        if !context.plan.runs(family) {
            continue;
        }
        if let Some(reason) = context.exhausted.clone() {
            if family != Family::Ports {
                context.incomplete(family, "/", format!("not run: {reason}"));
                continue;
            }
        }
        context.client.set_family(family.as_str());
        match family {
            Family::Jwt => jwt::probe(context).await,
            Family::Cookies => cookies::probe(context).await,
            Family::Routes => routes::probe(context).await,
            Family::Headers => headers::probe(context).await,
            Family::Cors => cors::probe(context).await,
            Family::Docs => docs::probe(context).await,
            Family::Ratelimit => {
                let before = context.client.rate_limited_responses();
                ratelimit::probe(context).await;
                context.expected_rate_limited += context.client.rate_limited_responses() - before;
            }
            Family::Ports => ports::probe(context).await,
        }
    }
    if context.session.is_some() {
        let note = baseline::session_note(context);
        context.add(note);
    }
    Ok(())
}

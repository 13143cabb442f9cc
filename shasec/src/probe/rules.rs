//! The probe rules (SHA1xx), each declared once. Ranges: 10x the probe itself, 11x JWT,
//! 12x routes, 13x rate limiting, 14x headers, 15x CORS, 16x cookies, 17x docs, 18x ports.

use crate::finding::Severity;
use crate::rules::Rule;

pub static PROBE_INCOMPLETE: Rule = Rule {
    id: "SHA100",
    name: "probe-incomplete",
    severity: Severity::Info,
    title: "A probe could not judge the target",
    summary: "A probe family was skipped or cut short: no authenticated baseline (no `--credentials`, \
              `--token` or `--register`), an oracle that cannot tell an accepted token from a refused \
              one, the request budget (`--max-requests`) or time limit (`--max-time`) reached, \
              responses rate-limited, or a request that failed. The probe says so rather than guess: \
              an absent finding from a skipped family proves nothing. A run cut short by the budget \
              or the time limit fails the gate (exit 1) unless `--allow-partial`.",
    remediation: "Read the message: give credentials, raise the budget, or fix what blocked the probe, \
                  then run it again.",
    references: &[],
};

pub static PROBE_SESSION: Rule = Rule {
    id: "SHA101",
    name: "probe-session",
    severity: Severity::Info,
    title: "How the probe logged in and what it judged tokens against",
    summary: "A note in every probe report (not a weakness): the login route and body the probe used \
              and where each came from (a flag, the OpenAPI document's login operation and field \
              names, or the shaapi defaults), where the answer carried the token (a JSON field, a \
              header or a session cookie) and how it was presented, the oracle route (`--me-path` or \
              the document's \"me\" route) and what it answered to a valid token, no token and a \
              broken signature. Every token verdict is relative to that baseline.",
    remediation: "Nothing to fix. If the probe logged in somewhere unintended, give --login-path, \
                  --login-body, --token-field or --me-path.",
    references: &[],
};

pub static JWT_SIGNATURE_NOT_VERIFIED: Rule = Rule {
    id: "SHA110",
    name: "jwt-signature-not-verified",
    severity: Severity::Critical,
    title: "Token with a broken or missing signature accepted",
    summary: "The server accepted the valid access token after its signature was altered, removed, or \
              after its claims were changed under the original signature. The signature is not being \
              verified, so anyone can mint tokens for any user.",
    remediation: "Decode tokens only through a verifying call with the key and one pinned algorithm \
                  (e.g. `jsonwebtoken::decode` with `Validation::new(Algorithm::HS256)`); never use an \
                  insecure or unverified decode for authentication.",
    references: &["CWE-347", "OWASP A02:2021", "OWASP API2:2023"],
};

pub static JWT_ALG_NONE_ACCEPTED: Rule = Rule {
    id: "SHA111",
    name: "jwt-alg-none-accepted",
    severity: Severity::Critical,
    title: "Unsigned token (`alg: none`) accepted",
    summary: "The server accepted the valid token's claims with the header algorithm set to `none` \
              (in one of its spellings) and no signature. Anyone can forge any token.",
    remediation: "Pin the accepted algorithm on the verifying side and reject every other value of \
                  `alg`, `none` included, whatever the token header says.",
    references: &["CWE-347", "CWE-327", "OWASP A02:2021"],
};

pub static JWT_KEY_GUESSABLE: Rule = Rule {
    id: "SHA112",
    name: "jwt-key-guessable",
    severity: Severity::Critical,
    title: "Token signing key is guessable",
    summary: "The signature of a token issued by the server was reproduced offline with a secret from \
              a list of framework and tutorial defaults, one of ~97 000 generated placeholder secrets \
              (`your-secret-key`, `JWT_SECRET_2024`, `changeme123`, a character repeated …), a secret \
              found in the project (`--project`: env, compose and config files, Rust constants, and \
              code/config of Python, JS/TS, Java/Spring, PHP and Go) or the given `--wordlist`. Whoever has the list can sign tokens the signature check \
              accepts; only a server-side record of issued tokens still stands in the way.",
    remediation: "Replace the signing secret with at least 32 random bytes kept out of the repository \
                  (e.g. `openssl rand -base64 48`), and restart so every token signed with the old \
                  key dies.",
    references: &["CWE-1391", "CWE-798", "CWE-321", "OWASP A02:2021"],
};

pub static JWT_FORGED_TOKEN_ACCEPTED: Rule = Rule {
    id: "SHA113",
    name: "jwt-forged-token-accepted",
    severity: Severity::Critical,
    title: "Forged token accepted",
    summary: "A token the server never issued — signed with a guessed key, an injected `kid`, or the \
              public key used as an HMAC secret (RS/HS confusion) — was accepted as a login. Anyone \
              can impersonate any user.",
    remediation: "Use a strong signing secret, pin the algorithm, ignore `kid`/`jku` headers that name \
                  files or URLs, and record every issued token (its `jti`) server-side so a token \
                  that was never issued is refused even with a valid signature.",
    references: &["CWE-287", "CWE-347", "OWASP A07:2021", "OWASP API2:2023"],
};

pub static JWT_FORGED_TOKEN_REFUSED: Rule = Rule {
    id: "SHA114",
    name: "jwt-forged-token-refused",
    severity: Severity::Info,
    title: "Forged token with the right key refused: the server tracks issued tokens (pass)",
    summary: "A token signed with the server's own (guessed) key but never issued by it was refused, \
              while the same key reproduced an issued token the server accepts. The token-store gate \
              works: the refusal is not about the signature, it is because the server does not know \
              that token. This is a pass note; the guessable key is still reported on its own.",
    remediation: "Nothing to fix for this gate; replace the guessable key all the same.",
    references: &["CWE-613"],
};

pub static JWT_EXPIRED_ACCEPTED: Rule = Rule {
    id: "SHA115",
    name: "jwt-expired-accepted",
    severity: Severity::High,
    title: "Expired token accepted",
    summary: "An issued token re-signed with the server's key and an `exp` one hour in the past was \
              accepted: expiry is not checked, so a stolen token never stops working.",
    remediation: "Validate `exp` (and `nbf`) with a small leeway (≤ 30 s) on every request.",
    references: &["CWE-613", "OWASP A07:2021"],
};

pub static JWT_CLAIMS_TRUSTED: Rule = Rule {
    id: "SHA116",
    name: "jwt-claims-trusted",
    severity: Severity::Critical,
    title: "Identity or role taken from token claims",
    summary: "With the server's key, an issued token was re-signed with another `sub` or with added \
              role claims (`role`, `roles`, `is_admin`, `scope`), and the server then answered as another \
              user or opened an admin route the real user is refused. Identity and permissions must \
              come from the server's own records of the session and the user.",
    remediation: "Bind each recorded token id (`jti`) to its user and check the match; load roles from \
                  the database for every decision, never from the token or the request body.",
    references: &["CWE-639", "CWE-285", "OWASP API1:2023", "OWASP API5:2023"],
};

pub static UNPROTECTED_ROUTE: Rule = Rule {
    id: "SHA120",
    name: "unprotected-route",
    severity: Severity::High,
    title: "Protected route answers without credentials",
    summary: "An operation that the OpenAPI document (or `--routes` file) declares as requiring \
              authentication answered 2xx to a request carrying no credentials.",
    remediation: "Put the route behind the authentication extractor or middleware (and its permission \
                  check); add a test that calls it without credentials and expects 401.",
    references: &["CWE-306", "CWE-862", "OWASP API5:2023"],
};

pub static OPENAPI_SECURITY_UNDECLARED: Rule = Rule {
    id: "SHA121",
    name: "openapi-security-undeclared",
    severity: Severity::Low,
    title: "OpenAPI document declares no security requirements",
    summary: "No operation of the OpenAPI document (and no document-wide `security`) names a security \
              scheme, so by the document's own account every route is public and the routes probe \
              cannot tell an intended public route from a forgotten one. Routes that answered 2xx \
              without credentials are listed.",
    remediation: "Declare the security scheme (e.g. bearer JWT) and a `security` requirement on every \
                  protected operation, with `security: []` on the public ones.",
    references: &["OWASP API9:2023"],
};

pub static LOGIN_NOT_RATE_LIMITED: Rule = Rule {
    id: "SHA130",
    name: "login-not-rate-limited",
    severity: Severity::High,
    title: "Login is not rate limited",
    summary: "A burst of failed logins (`--login-attempts`, default 10) neither ended in 429 nor carried \
              `Retry-After` or `RateLimit` headers: passwords can be brute-forced or sprayed.",
    remediation: "Limit failed logins per client IP and per account (e.g. 5/min/IP, 10/15 min/account), \
                  answered with 429 and `Retry-After`, and share the counters between instances.",
    references: &["CWE-307", "OWASP API4:2023", "OWASP A07:2021"],
};

pub static RATE_LIMIT_BYPASS: Rule = Rule {
    id: "SHA131",
    name: "rate-limit-bypass-forwarded-header",
    severity: Severity::High,
    title: "Login rate limit reset by a spoofed client-IP header",
    summary: "Once the login limiter answered 429, a request carrying an invented `X-Forwarded-For`, \
              `X-Real-IP` or `Forwarded` address got through again: the limiter keys on a header any \
              client sets, so rotating it defeats the limit.",
    remediation: "Take the client IP from the socket; honour forwarding headers only from configured \
                  trusted proxy addresses, and then only the hop the proxy appended.",
    references: &["CWE-290", "CWE-307", "OWASP API4:2023"],
};

pub static SECURITY_HEADER_MISSING: Rule = Rule {
    id: "SHA140",
    name: "security-header-missing",
    severity: Severity::Medium,
    title: "Security header missing from API responses",
    summary: "An API response lacks a header of the OWASP REST baseline (see the probe section of the \
              README for which header is required where): `X-Content-Type-Options: nosniff` (medium), \
              `Strict-Transport-Security` over HTTPS (medium), clickjacking protection by \
              `X-Frame-Options: DENY` or CSP `frame-ancestors` (low), `Content-Security-Policy` (low), \
              `Referrer-Policy` and `Permissions-Policy` (info).",
    remediation: "Add the headers in one middleware applied to every response (tower-http \
                  `SetResponseHeaderLayer`, or the framework's equivalent).",
    references: &["CWE-693", "CWE-1021", "OWASP A05:2021"],
};

pub static SENSITIVE_RESPONSE_CACHEABLE: Rule = Rule {
    id: "SHA141",
    name: "sensitive-response-cacheable",
    severity: Severity::Medium,
    title: "Response carrying tokens or user data may be cached",
    summary: "The login, refresh or authenticated `me` response has no `Cache-Control: no-store` (the \
              message quotes the header, or says it is absent), so a browser, proxy or CDN may keep \
              tokens or personal data.",
    remediation: "Send `Cache-Control: no-store` on every authentication and authenticated response.",
    references: &["CWE-524", "CWE-525", "OWASP API8:2023"],
};

pub static SERVER_BANNER: Rule = Rule {
    id: "SHA142",
    name: "server-banner",
    severity: Severity::Low,
    title: "Server or framework version disclosed",
    summary: "A response header (`Server` with a version, `X-Powered-By`, `X-AspNet-Version`, \
              `X-AspNetMvc-Version`, `X-Runtime`, `X-Generator`) names the software or its version, \
              which tells an attacker which known vulnerabilities to try.",
    remediation: "Remove the header (or strip the version) in the application or the reverse proxy.",
    references: &["CWE-200", "CWE-497", "OWASP A05:2021"],
};

pub static CORS_REFLECTED_WITH_CREDENTIALS: Rule = Rule {
    id: "SHA150",
    name: "cors-origin-reflected-with-credentials",
    severity: Severity::High,
    title: "CORS trusts an attacker's origin with credentials",
    summary: "A request from an untrusted origin (random, `null`, the API's host as a prefix or suffix \
              of another domain, a backtick trick, or HTTP for an HTTPS API — the origins ZAP rule 40040 \
              sends) was answered with that origin in `Access-Control-Allow-Origin` and \
              `Access-Control-Allow-Credentials: true`: any web page can make the victim's browser call \
              the API with their cookies and read the answer.",
    remediation: "Answer CORS only for an explicit allow-list of origins compared exactly (scheme, host \
                  and port); never echo the request's `Origin`, never allow `null`.",
    references: &["CWE-942", "CWE-346", "ZAP 40040", "OWASP A05:2021"],
};

pub static CORS_REFLECTED: Rule = Rule {
    id: "SHA151",
    name: "cors-origin-reflected",
    severity: Severity::Medium,
    title: "CORS trusts an attacker's origin",
    summary: "A request from an untrusted origin (see SHA150) got that origin back in \
              `Access-Control-Allow-Origin`, without credentials: any page can read the API's \
              responses from a victim's browser, including those of a server reachable only from the \
              victim's network.",
    remediation: "Answer CORS only for an explicit allow-list of origins compared exactly.",
    references: &["CWE-942", "ZAP 40040"],
};

pub static CORS_WILDCARD: Rule = Rule {
    id: "SHA152",
    name: "cors-wildcard",
    severity: Severity::Low,
    title: "CORS allows any origin (`*`)",
    summary: "`Access-Control-Allow-Origin: *` lets every site read the responses. Browsers never send \
              credentials with `*`, so this is only right for a truly public, read-only API. ZAP rates \
              it medium; shasec rates it low because the authenticated routes it probes also require \
              a bearer token that a foreign page does not have.",
    remediation: "List the origins of the front-ends that use the API instead of `*`.",
    references: &["CWE-942", "ZAP 40040"],
};

pub static COOKIE_NOT_HTTPONLY: Rule = Rule {
    id: "SHA160",
    name: "cookie-not-httponly",
    severity: Severity::Medium,
    title: "Session cookie readable by scripts (no `HttpOnly`)",
    summary: "A cookie set by the login or refresh response has no `HttpOnly` attribute, so any script \
              on the page — an XSS payload included — can read and exfiltrate it.",
    remediation: "Set `HttpOnly` on every cookie that carries a session or refresh token.",
    references: &["CWE-1004", "OWASP A05:2021"],
};

pub static COOKIE_NOT_SECURE: Rule = Rule {
    id: "SHA161",
    name: "cookie-not-secure",
    severity: Severity::Medium,
    title: "Session cookie may travel over plain HTTP (no `Secure`)",
    summary: "A cookie set by the login or refresh response has no `Secure` attribute, so the browser \
              also sends it over plain HTTP where anyone on the path can read it. Medium over HTTPS or \
              with `--expect-prod`; info for a plain-HTTP development server.",
    remediation: "Set `Secure` outside development (and serve the API over HTTPS).",
    references: &["CWE-614", "OWASP A05:2021"],
};

pub static COOKIE_SAMESITE_WEAK: Rule = Rule {
    id: "SHA162",
    name: "cookie-samesite-weak",
    severity: Severity::Low,
    title: "Session cookie without a protective `SameSite`",
    summary: "A cookie set by the login or refresh response has no `SameSite` attribute or \
              `SameSite=None`, so it rides along on cross-site requests (CSRF). `SameSite=None` without \
              `Secure` is medium: browsers drop it, and the configuration is wrong either way.",
    remediation: "Use `SameSite=Lax` or `Strict` for session and refresh cookies.",
    references: &["CWE-1275", "CWE-352"],
};

pub static COOKIE_SCOPE_BROAD: Rule = Rule {
    id: "SHA163",
    name: "cookie-scope-broad",
    severity: Severity::Low,
    title: "Refresh cookie sent to the whole site",
    summary: "The cookie set by login or refresh has `Path=/` (or no path), so the browser sends the \
              refresh credential with every request to the host instead of only to the authentication \
              routes that need it.",
    remediation: "Set the refresh cookie's `Path` to the authentication routes (e.g. `/api/v1/auth`).",
    references: &["CWE-200"],
};

pub static API_DOCS_EXPOSED: Rule = Rule {
    id: "SHA170",
    name: "api-docs-exposed",
    severity: Severity::Info,
    title: "API documentation reachable",
    summary: "An OpenAPI document or an interactive documentation page (Swagger UI, ReDoc, Scalar, \
              RapiDoc) is served. Expected in development; in production it hands an attacker the \
              complete map of the API. Info, or medium with `--expect-prod`.",
    remediation: "Serve the documentation only in development (or behind authentication).",
    references: &["CWE-200", "OWASP API9:2023"],
};

pub static DATASTORE_PORT_REACHABLE: Rule = Rule {
    id: "SHA180",
    name: "datastore-port-reachable",
    severity: Severity::High,
    title: "Datastore port reachable on the API's host",
    summary: "A TCP connection to a datastore or broker port (PostgreSQL, Redis, MinIO, MySQL, MongoDB, \
              RabbitMQ, Memcached, Elasticsearch, …) on the probed host succeeded. One finding lists \
              every open socket with the service that answered a harmless hello there (PostgreSQL's \
              SSL request, Redis `PING` — saying whether it wants a password —, Memcached `version`, \
              HTTP `GET /`, the AMQP header, an anonymous MQTT CONNECT, MySQL's and NATS's greetings), or the service the port usually belongs \
              to. High for a private address (reachable from the network); medium when probed \
              through loopback, where the service may be bound to loopback only — the probe cannot \
              tell that from an exposure, and it may be a host service unrelated to the API.",
    remediation: "Keep datastores on an internal network: publish no datastore port (compose base file), \
                  bind them to 127.0.0.1 or a private interface, and firewall them.",
    references: &["CWE-668", "CWE-200", "OWASP A05:2021"],
};

/// Every probe rule, in id order (registered in `crate::rules::RuleSet::Probe`).
pub static RULES: &[&Rule] = &[
    &PROBE_INCOMPLETE,
    &PROBE_SESSION,
    &JWT_SIGNATURE_NOT_VERIFIED,
    &JWT_ALG_NONE_ACCEPTED,
    &JWT_KEY_GUESSABLE,
    &JWT_FORGED_TOKEN_ACCEPTED,
    &JWT_FORGED_TOKEN_REFUSED,
    &JWT_EXPIRED_ACCEPTED,
    &JWT_CLAIMS_TRUSTED,
    &UNPROTECTED_ROUTE,
    &OPENAPI_SECURITY_UNDECLARED,
    &LOGIN_NOT_RATE_LIMITED,
    &RATE_LIMIT_BYPASS,
    &SECURITY_HEADER_MISSING,
    &SENSITIVE_RESPONSE_CACHEABLE,
    &SERVER_BANNER,
    &CORS_REFLECTED_WITH_CREDENTIALS,
    &CORS_REFLECTED,
    &CORS_WILDCARD,
    &COOKIE_NOT_HTTPONLY,
    &COOKIE_NOT_SECURE,
    &COOKIE_SAMESITE_WEAK,
    &COOKIE_SCOPE_BROAD,
    &API_DOCS_EXPOSED,
    &DATASTORE_PORT_REACHABLE,
];

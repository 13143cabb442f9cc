//! `shasec probe` end to end: the real binary against in-process test servers (tests/probe_servers).
//! Each finding must appear on the deliberately vulnerable server and not on the hardened one.

mod probe_servers;

use std::collections::BTreeSet;
use std::process::Command;

use probe_servers::{
    GUESSABLE_SECRET, Limiter, Posture, Signing, TestServer, USER_EMAIL, USER_PASSWORD, start,
};
use serde_json::Value;

struct Run {
    code: i32,
    report: Value,
    stderr: String,
}

impl Run {
    fn rules(&self) -> BTreeSet<String> {
        self.findings()
            .map(|finding| finding["rule"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn findings(&self) -> impl Iterator<Item = &Value> {
        self.report["findings"].as_array().into_iter().flatten()
    }

    fn has(&self, rule: &str) -> bool {
        self.rules().contains(rule)
    }

    fn messages(&self, rule: &str) -> Vec<String> {
        self.findings()
            .filter(|finding| finding["rule"] == rule)
            .map(|finding| finding["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn severities(&self, rule: &str) -> Vec<String> {
        self.findings()
            .filter(|finding| finding["rule"] == rule)
            .map(|finding| finding["severity"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

async fn shasec(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_shasec"))
            .args(&args)
            .env_remove("SHASEC_CREDENTIALS")
            .env_remove("SHASEC_TOKEN")
            .output()
            .expect("shasec runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("shasec run joins")
}

/// Probes `server` (JSON report, logged in as the test user, ports skipped unless asked).
async fn probe(server: &TestServer, extra: &[&str]) -> Run {
    let credentials = format!("{USER_EMAIL}:{USER_PASSWORD}");
    let mut args: Vec<String> = vec![
        "probe".into(),
        server.base_url.clone(),
        "--format".into(),
        "json".into(),
    ];
    if !extra.contains(&"--token")
        && !extra.contains(&"--register")
        && !extra.contains(&"--no-login")
    {
        args.extend(["--credentials".into(), credentials]);
    }
    if !extra.contains(&"--only") {
        args.extend(["--skip".into(), "ports".into()]);
    }
    args.extend(["--max-time".into(), "30".into()]);
    args.extend(
        extra
            .iter()
            .filter(|arg| **arg != "--no-login")
            .map(|arg| (*arg).to_owned()),
    );
    let (code, stdout, stderr) = shasec(args).await;
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!("JSON report expected ({error}); stdout: {stdout}\nstderr: {stderr}")
    });
    assert_eq!(report["command"], "probe");
    Run {
        code,
        report,
        stderr,
    }
}

fn openapi_file() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), probe_servers::openapi_document().to_string())
        .expect("write openapi");
    file
}

/// What the vulnerable server must show and the hardened one must not.
const FINDINGS_OF_THE_VULNERABLE_SERVER: &[(&str, &str)] = &[
    ("SHA111", "alg none accepted"),
    ("SHA112", "signing key guessable"),
    ("SHA113", "forged token accepted"),
    ("SHA115", "expired token accepted"),
    ("SHA116", "identity/role from claims"),
    ("SHA120", "unprotected route"),
    ("SHA131", "rate limit reset by X-Forwarded-For"),
    ("SHA140", "security headers missing"),
    ("SHA141", "token responses cacheable"),
    ("SHA142", "version banner"),
    ("SHA150", "CORS reflects origins with credentials"),
    ("SHA160", "cookie without HttpOnly"),
    ("SHA161", "cookie without Secure"),
    ("SHA162", "cookie without SameSite"),
    ("SHA163", "refresh cookie on Path=/"),
    ("SHA170", "docs exposed"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_finding_appears_on_the_vulnerable_server_and_not_on_the_hardened_one() {
    let vulnerable = start(Posture::vulnerable()).await;
    let hardened = start(Posture::hardened()).await;
    let spec = openapi_file();
    let spec_path = spec.path().to_string_lossy().into_owned();
    let hardened_args = ["--openapi", spec_path.as_str()];
    let (bad, good) = tokio::join!(probe(&vulnerable, &[]), probe(&hardened, &hardened_args));
    for (rule, what) in FINDINGS_OF_THE_VULNERABLE_SERVER {
        assert!(
            bad.has(rule),
            "vulnerable server: {rule} ({what}) missing; got {:?}\n{}",
            bad.rules(),
            bad.stderr
        );
        assert!(
            !good.has(rule),
            "hardened server: {rule} ({what}) reported: {:?}",
            good.messages(rule)
        );
    }
    assert_eq!(bad.code, 1, "critical findings fail the default gate");
    assert_eq!(good.code, 0, "hardened server passes: {}", good.report);
    let medium_or_worse = good
        .findings()
        .filter(|finding| {
            matches!(
                finding["severity"].as_str(),
                Some("medium" | "high" | "critical")
            )
        })
        .count();
    assert_eq!(medium_or_worse, 0, "{}", good.report);
    // The alg-none finding names every spelling that got through.
    let none = bad.messages("SHA111").join(" ");
    for spelling in ["`none`", "`None`", "`NONE`"] {
        assert!(none.contains(spelling), "{none}");
    }
    // Reflected origins include ZAP's `null` and prefix/suffix tricks.
    let cors = bad.messages("SHA150").join(" ");
    assert!(
        cors.contains("Origin `null`") && cors.contains("%60"),
        "{cors}"
    );
    // Plain-HTTP dev target: a cookie without Secure is info, not medium.
    assert_eq!(
        bad.severities("SHA161"),
        ["info", "info"],
        "login and refresh cookies"
    );
    assert_eq!(bad.severities("SHA170"), ["info", "info"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_guessed_but_refused_for_an_unknown_token_is_a_pass_note_not_a_forgery() {
    let server = start(Posture {
        signing: Signing::Hmac(GUESSABLE_SECRET),
        ..Posture::hardened()
    })
    .await;
    let run = probe(&server, &["--only", "jwt"]).await;
    assert!(run.has("SHA112"), "key guessable: {:?}", run.rules());
    assert!(
        run.has("SHA114"),
        "forged-but-refused pass note: {:?}",
        run.rules()
    );
    assert!(
        !run.has("SHA113") && !run.has("SHA115") && !run.has("SHA116"),
        "{}",
        run.report
    );
    assert_eq!(run.severities("SHA112"), ["critical"]);
    assert_eq!(run.severities("SHA114"), ["info"]);
    let note = run.messages("SHA114").join(" ");
    assert!(
        note.contains("accepted"),
        "the control request proves the key: {note}"
    );
    assert!(run.messages("SHA112").join(" ").contains(GUESSABLE_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_signatures_is_critical() {
    let server = start(Posture {
        verifies_signature: false,
        ..Posture::hardened()
    })
    .await;
    let hardened = start(Posture::hardened()).await;
    let (run, good) = tokio::join!(
        probe(&server, &["--only", "jwt"]),
        probe(&hardened, &["--only", "jwt"])
    );
    assert!(run.has("SHA110"), "{}", run.report);
    assert!(
        run.messages("SHA110")
            .join(" ")
            .contains("signature altered")
    );
    assert!(
        !good.has("SHA110") && !good.has("SHA111") && !good.has("SHA113"),
        "{}",
        good.report
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs_hs_confusion_through_the_published_jwks_is_found() {
    let server = start(Posture {
        signing: Signing::RsaConfusable,
        ..Posture::hardened()
    })
    .await;
    let run = probe(&server, &["--only", "jwt"]).await;
    let forged = run.messages("SHA113").join(" ");
    assert!(
        forged.contains("RS/HS algorithm confusion"),
        "{}",
        run.report
    );
    assert!(!run.has("SHA111") && !run.has("SHA112"), "{}", run.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordlist_and_project_secrets_are_cracked_offline() {
    let secret = "not-in-any-default-list-5f2c";
    let server = start(Posture {
        signing: Signing::Hmac(secret),
        ..Posture::hardened()
    })
    .await;
    let directory = tempfile::tempdir().expect("tempdir");
    let wordlist = directory.path().join("words.txt");
    std::fs::write(&wordlist, format!("first\n{secret}\nlast\n")).expect("write wordlist");
    let wordlist = wordlist.to_string_lossy().into_owned();
    let without = probe(&server, &["--only", "jwt"]).await;
    let with = probe(&server, &["--only", "jwt", "--wordlist", &wordlist]).await;
    assert!(!without.has("SHA112"), "{}", without.report);
    assert!(with.has("SHA112"), "{}", with.report);
    assert!(
        !with.messages("SHA112").join(" ").contains(secret),
        "wordlist secrets are masked"
    );

    // The same secret in a project's .env, found through the audit library (--project).
    let project = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        project.path().join(".env"),
        format!("JWT_SECRET={secret}\n"),
    )
    .expect("write .env");
    let project_path = project.path().to_string_lossy().into_owned();
    let from_project = probe(&server, &["--only", "jwt", "--project", &project_path]).await;
    assert!(
        from_project
            .messages("SHA112")
            .join(" ")
            .contains("the project (--project)"),
        "{}",
        from_project.report
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_without_a_limit_is_high_and_a_socket_limit_passes() {
    let unlimited = start(Posture {
        limiter: Limiter::Off,
        ..Posture::hardened()
    })
    .await;
    let limited = start(Posture::hardened()).await;
    let (bad, good) = tokio::join!(
        probe(&unlimited, &["--only", "ratelimit"]),
        probe(&limited, &["--only", "ratelimit"])
    );
    assert!(bad.has("SHA130"), "{}", bad.report);
    assert_eq!(bad.severities("SHA130"), ["high"]);
    assert!(
        !good.has("SHA130") && !good.has("SHA131"),
        "{}",
        good.report
    );
    assert!(
        good.report["findings"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{}",
        good.report
    );
}

/// A listener that answers each connection's first message with `reply(message)`.
async fn fake_service(reply: fn(&[u8]) -> Vec<u8>) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 256];
                if let Ok(count) = stream.read(&mut buffer).await {
                    let _ = stream.write_all(&reply(&buffer[..count])).await;
                }
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datastore_ports_make_one_finding_that_names_each_listening_service() {
    // A Redis that answers PING, a PostgreSQL that answers the SSL request, a silent service.
    let (redis, redis_task) = fake_service(|message| {
        if message.starts_with(b"PING") {
            b"+PONG\r\n".to_vec()
        } else {
            b"-ERR unknown command\r\n".to_vec()
        }
    })
    .await;
    let (postgres, postgres_task) = fake_service(|message| {
        if message == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
            b"N".to_vec()
        } else {
            Vec::new()
        }
    })
    .await;
    let listening = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent = listening.local_addr().expect("addr").port();
    let closed = {
        let probe_socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe_socket.local_addr().expect("addr").port()
    };
    let run_ports = |ports: String| async move {
        let (code, stdout, stderr) = shasec(vec![
            "probe".into(),
            "http://127.0.0.1:9".into(),
            "--only".into(),
            "ports".into(),
            "--ports".into(),
            ports,
            "--format".into(),
            "json".into(),
        ])
        .await;
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
        (code, report)
    };
    let (code, report) = run_ports(format!("{redis},{postgres},{silent},{closed}")).await;
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    assert_eq!(findings.len(), 1, "one grouped finding: {report}");
    assert_eq!(findings[0]["rule"], "SHA180");
    assert_eq!(
        findings[0]["severity"], "medium",
        "loopback: medium, not high"
    );
    let message = findings[0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("3 datastore port(s)"), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{redis} Redis without a password")),
        "{message}"
    );
    assert!(
        message.contains(&format!("127.0.0.1:{postgres} PostgreSQL")),
        "{message}"
    );
    assert!(
        message.contains(&format!("127.0.0.1:{silent} (an unidentified service)")),
        "{message}"
    );
    assert!(!message.contains(&format!(":{closed}")), "{message}");
    assert_eq!(code, 0, "medium does not fail the default gate");

    let (code, report) = run_ports(closed.to_string()).await;
    assert_eq!(
        report["findings"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert_eq!(code, 0);
    drop(listening);
    redis_task.abort();
    postgres_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_are_medium_when_production_is_expected() {
    let server = start(Posture::vulnerable()).await;
    let run = probe(&server, &["--only", "docs", "--expect-prod"]).await;
    assert_eq!(
        run.severities("SHA170"),
        ["medium", "medium"],
        "{}",
        run.report
    );
    let paths: Vec<&str> = run
        .findings()
        .filter_map(|f| f["location"]["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/docs") && paths.contains(&"/api/v1/openapi.json"),
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_served_by_the_target_are_found_when_the_document_is_given_as_a_file() {
    let exposed = start(Posture::vulnerable()).await;
    let hidden = start(Posture::hardened()).await;
    let spec = openapi_file();
    let spec_path = spec.path().to_string_lossy().into_owned();
    let args = ["--only", "docs,routes", "--openapi", spec_path.as_str()];
    let (bad, good) = tokio::join!(probe(&exposed, &args), probe(&hidden, &args));
    let paths: Vec<&str> = bad
        .findings()
        .filter(|finding| finding["rule"] == "SHA170")
        .filter_map(|finding| finding["location"]["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/api/v1/openapi.json") && paths.contains(&"/docs"),
        "{paths:?}"
    );
    assert!(!good.has("SHA170"), "{}", good.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_cache_control_is_reported_as_absent() {
    let server = start(Posture::vulnerable()).await;
    let run = probe(&server, &["--only", "headers"]).await;
    let messages = run.messages("SHA141").join(" ");
    assert!(messages.contains("Cache-Control is absent"), "{messages}");
    assert!(!messages.contains("`none`"), "{messages}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_the_token_probes_say_they_were_skipped() {
    let server = start(Posture::vulnerable()).await;
    let run = probe(&server, &["--no-login", "--only", "jwt,cookies"]).await;
    let notes = run.messages("SHA100").join(" ");
    assert!(notes.contains("no authenticated baseline"), "{notes}");
    assert!(
        !run.has("SHA111") && !run.has("SHA112"),
        "nothing is guessed without a baseline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oracle_that_cannot_tell_accepted_from_refused_skips_the_jwt_family() {
    let server = start(Posture::vulnerable()).await;
    let run = probe(&server, &["--only", "jwt", "--me-path", "/health"]).await;
    let notes = run.messages("SHA100").join(" ");
    assert!(
        notes.contains("cannot tell accepted from refused"),
        "{notes}"
    );
    assert!(!run.has("SHA111") && !run.has("SHA113"), "{}", run.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_budget_is_respected_and_reported() {
    let server = start(Posture::vulnerable()).await;
    let run = probe(&server, &["--max-requests", "8"]).await;
    let notes = run.messages("SHA100").join(" ");
    assert!(notes.contains("--max-requests"), "{notes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_creates_a_throwaway_user_and_a_token_can_be_given() {
    let server = start(Posture::hardened()).await;
    let spec = openapi_file();
    let spec_path = spec.path().to_string_lossy().into_owned();
    let run = probe(&server, &["--register", "--openapi", &spec_path]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.report, run.stderr);
    assert!(
        !run.messages("SHA100")
            .join(" ")
            .contains("no authenticated baseline")
    );

    let bad = start(Posture::vulnerable()).await;
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", bad.base_url))
        .json(&serde_json::json!({"email": USER_EMAIL, "password": USER_PASSWORD}))
        .send()
        .await
        .expect("login");
    let body: Value = login.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let run = probe(&bad, &["--token", &token, "--only", "jwt"]).await;
    assert!(run.has("SHA111") && run.has("SHA112"), "{}", run.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sarif_and_text_reports_carry_probe_findings() {
    let server = start(Posture::vulnerable()).await;
    let credentials = format!("{USER_EMAIL}:{USER_PASSWORD}");
    let base = server.base_url.clone();
    let common = |format: &str| {
        vec![
            "probe".to_owned(),
            base.clone(),
            "--only".into(),
            "jwt".into(),
            "--credentials".into(),
            credentials.clone(),
            "--format".into(),
            format.into(),
        ]
    };
    let (code, sarif, _) = shasec(common("sarif")).await;
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    assert!(sarif.to_string().contains("SHA111"));
    let (_, text, _) = shasec(common("text")).await;
    assert!(text.contains("SHA112"), "{text}");
}

/// Bad input: a clear message and exit 2, before any attack traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_with_exit_2() {
    let server = start(Posture::hardened()).await;
    let directory = tempfile::tempdir().expect("tempdir");
    let not_json = directory.path().join("openapi.yaml");
    std::fs::write(&not_json, "openapi: 3.0.0\npaths: {}\n").expect("write");
    let bad_routes = directory.path().join("routes.txt");
    std::fs::write(&bad_routes, "GET /ok\nFETCH /nope\n").expect("write");
    let missing = directory
        .path()
        .join("missing.txt")
        .to_string_lossy()
        .into_owned();
    let dir = directory.path().to_string_lossy().into_owned();
    let base = server.base_url.clone();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["ftp://127.0.0.1/".into()],
            "scheme must be http or https",
        ),
        (vec!["not a url".into()], "invalid base URL"),
        (
            vec!["http://8.8.8.8/".into()],
            "not a loopback or private address",
        ),
        (vec!["http://0.0.0.0:8000/".into()], "bind address"),
        (
            vec![base.clone(), "--wordlist".into(), missing.clone()],
            "cannot read wordlist",
        ),
        (
            vec![base.clone(), "--wordlist".into(), dir],
            "not a regular file",
        ),
        (
            vec![base.clone(), "--openapi".into(), missing.clone()],
            "cannot read OpenAPI file",
        ),
        (
            vec![base.clone(), "--project".into(), missing],
            "cannot read project",
        ),
        (
            vec![
                base.clone(),
                "--openapi".into(),
                not_json.to_string_lossy().into_owned(),
            ],
            "not JSON",
        ),
        (
            vec![
                base.clone(),
                "--openapi".into(),
                "http://10.0.0.1/openapi.json".into(),
            ],
            "not on the probed origin",
        ),
        (
            vec![
                base.clone(),
                "--routes".into(),
                bad_routes.to_string_lossy().into_owned(),
            ],
            "line 2",
        ),
        (
            vec![base.clone(), "--only".into(), "jwt,teleport".into()],
            "invalid value 'teleport'",
        ),
        (
            vec![
                base.clone(),
                "--only".into(),
                "jwt".into(),
                "--skip".into(),
                "jwt".into(),
            ],
            "no probe family",
        ),
        (
            vec![base.clone(), "--credentials".into(), "no-colon".into()],
            "USER:PASSWORD",
        ),
        (
            vec![
                base.clone(),
                "--credentials".into(),
                "a@b.c:x".into(),
                "--token".into(),
                "t".into(),
            ],
            "cannot be used with",
        ),
        (
            vec![base.clone(), "--timeout".into(), "0".into()],
            "seconds",
        ),
        (
            vec![base.clone(), "--login-path".into(), "auth/login".into()],
            "must be a URL path",
        ),
        (
            vec![
                base.clone(),
                "--credentials".into(),
                "alice@example.com:wrong-password".into(),
            ],
            "login failed",
        ),
        (vec!["http://127.0.0.1:9/".into()], "unreachable"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["probe".to_owned()];
        full.extend(args.clone());
        full.extend(["--max-time".to_owned(), "10".to_owned()]);
        let (code, stdout, stderr) = shasec(full).await;
        assert_eq!(
            code, 2,
            "{args:?} should exit 2; stdout {stdout} stderr {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{args:?}: expected `{expected}` in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

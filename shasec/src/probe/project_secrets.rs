//! `--project PATH`: the secret values the audit sees in a project become JWT key candidates.
//! The project is loaded and parsed by the audit library itself (same walker, same parsers, same
//! idea of a secret-like name), so the probe tries exactly the values `shasec audit` judges —
//! plus string constants with secret-like names in Rust sources (a compiled-in dev default such
//! as `const DEV_JWT_SECRET: &str = "…"` is the classic key a forgotten config ships with), and
//! secrets assigned in other stacks' code and config ([`code`]): Python settings and
//! `app.config[…]`, JS/TS config objects and `process.env.X || '…'` fallbacks, Java/Spring
//! `application.yml`/`.properties` and `${X:default}`, PHP config arrays and `env('X', '…')`,
//! Go `[]byte("…")` keys, and literals passed to `jwt.sign`/`jwt.encode`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::audit::{Project, parse_project};
use crate::parse::compose;
use crate::rules::secrets::{is_reference, is_secret_name};

use super::ProbeError;

pub fn collect(root: &Path) -> Result<Vec<String>, ProbeError> {
    let metadata = std::fs::metadata(root).map_err(|source| ProbeError::ReadFile {
        what: "project",
        path: root.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(ProbeError::Project {
            path: root.to_path_buf(),
            reason: "not a directory".to_owned(),
        });
    }
    // Parse problems are the audit's business; the probe only wants the values.
    let mut ignored = Vec::new();
    let project = Project::load(root, true, &mut ignored);
    let parsed = parse_project(&project, &mut ignored);
    let mut values = BTreeSet::new();
    let mut keep = |name: &str, value: &str| {
        let last = name.rsplit('.').next().unwrap_or(name);
        if is_secret_name(last) && !value.is_empty() && !is_reference(value) {
            values.insert(value.to_owned());
        }
    };
    for (_, env) in &parsed.dotenvs {
        for entry in &env.entries {
            keep(&entry.key, &entry.value);
        }
    }
    for (_, settings) in &parsed.configs {
        for setting in settings {
            keep(&setting.path.join("."), &setting.value);
        }
    }
    for document in &parsed.compose {
        for service in &document.compose.services {
            for setting in &service.environment {
                let Some(raw) = &setting.value else { continue };
                let (value, unset) =
                    compose::interpolate(raw, &|name| project.dotenv.get(name).cloned());
                if unset.is_empty() {
                    keep(&setting.key, &value);
                }
            }
        }
    }
    for (_, file) in &parsed.rust {
        for item in &file.items {
            let (name, expression) = match item {
                syn::Item::Const(constant) => (constant.ident.to_string(), constant.expr.as_ref()),
                syn::Item::Static(item) => (item.ident.to_string(), item.expr.as_ref()),
                _ => continue,
            };
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) = expression
            {
                keep(&name, &text.value());
            }
        }
    }
    for (_, settings) in &parsed.configs {
        for setting in settings {
            if let Some(default) = code::spring_default(&setting.value) {
                values.insert(default.to_owned());
            }
        }
    }
    values.extend(code::collect(root));
    Ok(values.into_iter().collect())
}

/// Secrets in application code and config of other stacks, found by pattern (no parser per
/// language: the probe only needs candidate values, and a wrong candidate costs one HMAC).
/// Self-contained so the audit's extractor can later share it.
pub mod code {
    use std::path::Path;
    use std::sync::LazyLock;

    use regex::{Captures, Regex};

    use crate::rules::secrets::{is_reference, is_secret_name};

    /// A quoted literal: double, single or backtick quotes, on one line, without escapes.
    const LITERAL: &str = r#"(?:b?"(?P<double>[^"\\\n]{1,256})"|b?'(?P<single>[^'\\\n]{1,256})'|`(?P<backtick>[^`\\\n$]{1,256})`)"#;

    const EXTENSIONS: &[&str] = &[
        "py",
        "js",
        "mjs",
        "cjs",
        "ts",
        "mts",
        "cts",
        "jsx",
        "tsx",
        "java",
        "kt",
        "kts",
        "groovy",
        "scala",
        "php",
        "go",
        "rb",
        "properties",
        "yml",
        "yaml",
        "cfg",
        "ini",
        "conf",
    ];

    const SKIPPED_DIRECTORIES: &[&str] = &[
        "node_modules",
        "vendor",
        "target",
        ".git",
        "dist",
        "build",
        ".venv",
        "venv",
        "__pycache__",
        ".next",
        "coverage",
    ];

    const MAX_FILE_BYTES: u64 = 1024 * 1024;
    const MAX_FILES: usize = 20_000;

    /// `None` only if a pattern of this module were invalid (its tests check they all compile).
    fn regex(pattern: &str) -> Option<Regex> {
        Regex::new(&pattern.replace("LIT", LITERAL)).ok()
    }

    /// `NAME = '…'`, `name: "…"`, `'name' => '…'`, `name := "…"`, `NAME: str = "…"`,
    /// `var key = []byte("…")`.
    static ASSIGNMENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        regex(
            r#"(?m)(?:^|[\s,{(;\[])(?P<name>[A-Za-z_$][\w$.\-]*|"[^"\n]{1,80}"|'[^'\n]{1,80}')\s*(?::\s*[\w\[\]<>|.]{1,40}\s*)?(?:=|:|=>|:=)\s*(?:\[\]byte\()?LIT"#,
        )
    });
    /// `app.config["JWT_SECRET_KEY"] = "…"`, `settings['secret'] = '…'`.
    static SUBSCRIPT: LazyLock<Option<Regex>> =
        LazyLock::new(|| regex(r#"\[\s*["'](?P<name>[^"'\]\n]{1,80})["']\s*\]\s*=\s*LIT"#));
    /// `os.getenv("X", "…")`, `os.environ.get("X", "…")`, `env('X', '…')`, `config("X", default="…")`.
    static ENV_DEFAULT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        regex(
            r#"(?:getenv|environ\.get|\benv|\bconfig|env\.str)\(\s*["'](?P<name>[\w.]{1,80})["']\s*,\s*(?:default\s*=\s*)?LIT"#,
        )
    });
    /// `process.env.X || '…'`, `process.env["X"] ?? "…"`.
    static JS_FALLBACK: LazyLock<Option<Regex>> = LazyLock::new(|| {
        regex(
            r#"process\.env(?:\.(?P<name>\w+)|\[\s*["'](?P<bracketed>\w+)["']\s*\])\s*(?:\|\||\?\?)\s*LIT"#,
        )
    });
    /// `jwt.sign(payload, '…')`, `jwt.encode(claims, "…", …)`, `jwt.verify(token, '…')`.
    static JWT_CALL: LazyLock<Option<Regex>> =
        LazyLock::new(|| regex(r#"\bjwt\.(?:sign|verify|encode|decode)\(\s*[^,()]{1,120},\s*LIT"#));
    /// Spring's `${NAME:default}`.
    static SPRING_DEFAULT: LazyLock<Option<Regex>> =
        LazyLock::new(|| regex(r#"\$\{(?P<name>[\w.\-]{1,80}):(?P<value>[^}\s]{1,256})\}"#));
    /// `.properties` and `.ini`-style lines: `jwt.secret=value`.
    static PROPERTY: LazyLock<Option<Regex>> = LazyLock::new(|| {
        regex(
            r#"(?m)^[ \t]*(?P<name>[\w.\-]+)[ \t]*[=:][ \t]*(?P<value>[^\s#!'"][^\r\n]*?)[ \t]*\r?$"#,
        )
    });

    fn literal<'t>(captures: &Captures<'t>) -> Option<&'t str> {
        ["double", "single", "backtick"]
            .iter()
            .find_map(|group| captures.name(group))
            .map(|value| value.as_str())
    }

    fn secret_named(name: &str) -> bool {
        let name = name.trim_matches(|c| c == '"' || c == '\'');
        let last = name.rsplit(['.', '-']).next().unwrap_or(name);
        is_secret_name(name.rsplit('.').next().unwrap_or(name)) || is_secret_name(last)
    }

    fn usable(value: &str) -> bool {
        let value = value.trim();
        !value.is_empty()
            && !is_reference(value)
            && !value.contains("${")
            && !value.contains("{{")
            && !value.contains("%(")
    }

    /// The default of a Spring placeholder `${NAME:default}` whose name is secret-like.
    pub fn spring_default(value: &str) -> Option<&str> {
        let captures = SPRING_DEFAULT.as_ref()?.captures(value)?;
        let name = captures.name("name")?.as_str();
        let default = captures.name("value")?.as_str();
        (secret_named(name) && usable(default)).then_some(default)
    }

    /// Candidate secrets of one file's text.
    pub fn from_text(text: &str, extension: &str, out: &mut Vec<String>) {
        let mut keep = |name: Option<&str>, value: Option<&str>| {
            if let (Some(name), Some(value)) = (name, value) {
                if secret_named(name) && usable(value) {
                    out.push(value.to_owned());
                }
            }
        };
        for captures in ASSIGNMENT
            .iter()
            .flat_map(|regex| regex.captures_iter(text))
        {
            keep(
                captures.name("name").map(|m| m.as_str()),
                literal(&captures),
            );
        }
        for captures in SUBSCRIPT.iter().flat_map(|regex| regex.captures_iter(text)) {
            keep(
                captures.name("name").map(|m| m.as_str()),
                literal(&captures),
            );
        }
        for captures in ENV_DEFAULT
            .iter()
            .flat_map(|regex| regex.captures_iter(text))
        {
            keep(
                captures.name("name").map(|m| m.as_str()),
                literal(&captures),
            );
        }
        for captures in JS_FALLBACK
            .iter()
            .flat_map(|regex| regex.captures_iter(text))
        {
            let name = captures.name("name").or_else(|| captures.name("bracketed"));
            keep(name.map(|m| m.as_str()), literal(&captures));
        }
        for captures in JWT_CALL.iter().flat_map(|regex| regex.captures_iter(text)) {
            keep(Some("secret"), literal(&captures));
        }
        for captures in SPRING_DEFAULT
            .iter()
            .flat_map(|regex| regex.captures_iter(text))
        {
            keep(
                captures.name("name").map(|m| m.as_str()),
                captures.name("value").map(|m| m.as_str()),
            );
        }
        if matches!(extension, "properties" | "ini" | "cfg" | "conf") {
            for captures in PROPERTY.iter().flat_map(|regex| regex.captures_iter(text)) {
                keep(
                    captures.name("name").map(|m| m.as_str()),
                    captures.name("value").map(|m| m.as_str()),
                );
            }
        }
    }

    /// Walks the project (honouring .gitignore, skipping dependency and build folders).
    pub fn collect(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .filter_entry(|entry| {
                !(entry.file_type().is_some_and(|kind| kind.is_dir())
                    && SKIPPED_DIRECTORIES
                        .iter()
                        .any(|skipped| entry.file_name() == *skipped))
            })
            .build();
        let mut files = 0;
        for entry in walker.flatten() {
            if !entry.file_type().is_some_and(|kind| kind.is_file()) {
                continue;
            }
            let path = entry.path();
            let Some(extension) = path.extension().and_then(|extension| extension.to_str()) else {
                continue;
            };
            let extension = extension.to_ascii_lowercase();
            if !EXTENSIONS.contains(&extension.as_str())
                || entry
                    .metadata()
                    .is_ok_and(|metadata| metadata.len() > MAX_FILE_BYTES)
            {
                continue;
            }
            files += 1;
            if files > MAX_FILES {
                break;
            }
            if let Ok(text) = std::fs::read_to_string(path) {
                from_text(&text, &extension, &mut out);
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn found(text: &str, extension: &str) -> Vec<String> {
            let mut out = Vec::new();
            from_text(text, extension, &mut out);
            out
        }

        #[test]
        fn every_pattern_compiles() {
            for pattern in [
                &ASSIGNMENT,
                &SUBSCRIPT,
                &ENV_DEFAULT,
                &JS_FALLBACK,
                &JWT_CALL,
                &SPRING_DEFAULT,
                &PROPERTY,
            ] {
                assert!(pattern.is_some());
            }
        }

        #[test]
        fn secrets_of_other_stacks_are_found() {
            let cases: &[(&str, &str, &str)] = &[
                (
                    "py",
                    "SECRET_KEY = 'django-insecure-abc123'\nDEBUG = True\n",
                    "django-insecure-abc123",
                ),
                (
                    "py",
                    "app.config[\"JWT_SECRET_KEY\"] = \"flask-jwt-key\"\n",
                    "flask-jwt-key",
                ),
                (
                    "py",
                    "class Settings(BaseSettings):\n    jwt_secret: str = \"pydantic-default\"\n",
                    "pydantic-default",
                ),
                (
                    "py",
                    "SECRET = os.getenv(\"JWT_SECRET\", \"getenv-fallback\")\n",
                    "getenv-fallback",
                ),
                (
                    "py",
                    "token = jwt.encode(payload, \"pyjwt-literal\", algorithm=\"HS256\")\n",
                    "pyjwt-literal",
                ),
                (
                    "ts",
                    "export default { jwtSecret: 'ts-config-secret', port: 3000 };\n",
                    "ts-config-secret",
                ),
                (
                    "js",
                    "const secret = process.env.JWT_SECRET || \"js-fallback\";\n",
                    "js-fallback",
                ),
                (
                    "js",
                    "jwt.sign({ id }, 'js-sign-literal', { expiresIn: '1h' })\n",
                    "js-sign-literal",
                ),
                (
                    "yml",
                    "security:\n  jwt:\n    secret: ${JWT_SECRET:spring-default}\n",
                    "spring-default",
                ),
                (
                    "properties",
                    "jwt.secret=properties-secret\nserver.port=8080\n",
                    "properties-secret",
                ),
                (
                    "php",
                    "'secret' => env('JWT_SECRET', 'laravel-fallback'),\n",
                    "laravel-fallback",
                ),
                (
                    "php",
                    "return ['jwt_key' => 'php-array-key'];\n",
                    "php-array-key",
                ),
                (
                    "go",
                    "var jwtKey = []byte(\"go-byte-key\")\n",
                    "go-byte-key",
                ),
            ];
            for (extension, text, expected) in cases {
                let values = found(text, extension);
                assert!(
                    values.iter().any(|value| value == expected),
                    "{expected} not in {values:?} ({text})"
                );
            }
        }

        #[test]
        fn non_secret_names_and_references_are_not_taken() {
            let text = "DEBUG = 'true'\nname: 'demo'\nSECRET_KEY = os.environ['SECRET_KEY']\n\
                        jwt_secret: str = \"${JWT_SECRET}\"\nserver.port=8080\n\
                        token_url = '/auth/token'\n";
            let values = found(text, "py");
            assert!(
                values
                    .iter()
                    .all(|value| value != "true" && value != "demo"),
                "{values:?}"
            );
            assert!(
                !values.iter().any(|value| value.contains("${")),
                "{values:?}"
            );
            assert!(found("server.port=8080\nlogging.level=info\n", "properties").is_empty());
            assert_eq!(spring_default("${JWT_SECRET:abc}"), Some("abc"));
            assert_eq!(spring_default("${SERVER_PORT:8080}"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_compose_config_and_rust_constants_are_collected() {
        let directory = tempfile::tempdir().ok();
        let Some(directory) = directory else {
            panic!("tempdir")
        };
        let root = directory.path();
        let write = |name: &str, text: &str| {
            if let Some(parent) = root.join(name).parent() {
                assert!(std::fs::create_dir_all(parent).is_ok());
            }
            assert!(std::fs::write(root.join(name), text).is_ok());
        };
        write(".env", "JWT_SECRET=from-dotenv-value\nLOG_LEVEL=debug\n");
        write(
            "compose.yaml",
            "services:\n  api:\n    image: app:1\n    environment:\n      SESSION_SECRET: ${SESSION_SECRET:-compose-default}\n",
        );
        write(
            "config/app.toml",
            "[auth]\njwt_secret = \"from-toml\"\nissuer = \"me\"\n",
        );
        write(
            "src/config.rs",
            "pub const DEV_JWT_SECRET: &str = \"from-rust-const\";\npub const APP_NAME: &str = \"demo\";\n",
        );
        let values = collect(root).unwrap_or_default();
        for expected in [
            "from-dotenv-value",
            "compose-default",
            "from-toml",
            "from-rust-const",
        ] {
            assert!(
                values.iter().any(|value| value == expected),
                "{expected} missing from {values:?}"
            );
        }
        assert!(
            !values
                .iter()
                .any(|value| value == "debug" || value == "demo" || value == "me")
        );
    }

    #[test]
    fn a_missing_project_is_an_error() {
        assert!(collect(Path::new("/nonexistent/shasec/project")).is_err());
    }
}

//! Secrets written into application code of other stacks (Python, JS/TS, Go, PHP, Java, Kotlin,
//! Ruby): a secret-named variable, key or argument given a string literal, directly
//! (`SECRET_KEY = '…'`, `app.config["JWT_SECRET_KEY"] = …`, `secret: '…'`, `'key' => '…'`) or as
//! the fallback of an environment lookup (`os.environ.get('SECRET_KEY') or '…'`,
//! `process.env.JWT_SECRET || '…'`, `env('APP_KEY', '…')`, `getenv("X", "…")`).
//!
//! Line-based patterns rather than one parser per language: the shapes are few and the same
//! across languages, and a file that does not parse is still read. `probe --project` uses
//! [`literal_secrets`] for its signing-secret candidates.

use std::sync::LazyLock;

use regex::Regex;

use crate::audit::SourceFile;
use crate::rules::secrets::{is_reference, is_secret_name, name_words};

/// A secret-named name given a literal in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralSecret {
    pub name: String,
    pub value: String,
    pub line: u32,
}

const CODE_EXTENSIONS: &[&str] = &[
    ".py", ".js", ".mjs", ".cjs", ".ts", ".go", ".php", ".java", ".kt", ".rb",
];
/// Generated, minified or declaration files hold no settings of their own.
const SKIPPED_SUFFIXES: &[&str] = &[".d.ts", ".min.js", ".gen.ts", ".gen.js", ".bundle.js"];
/// Tests, vendored code and built assets: their literals are not what a deployment runs.
const SKIPPED_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "spec",
    "specs",
    "e2e",
    "testdata",
    "fixtures",
    "mocks",
    "__mocks__",
    "vendor",
    "third_party",
    "static",
    "dist",
    "build",
    "public",
    "assets",
    "locales",
    "locale",
    "i18n",
    "lang",
    "translations",
    "factories",
    "seeders",
    "seeds",
];

/// Application source this module reads.
pub fn is_code_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let file_name = lower.rsplit('/').next().unwrap_or(&lower);
    CODE_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
        && !SKIPPED_SUFFIXES.iter().any(|ext| lower.ends_with(ext))
        && !file_name.starts_with("test_")
        && !file_name.contains("_test.")
        && !file_name.contains("_tests.")
        && !file_name.starts_with("tests.")
        && !file_name.contains(".test.")
        && !file_name.contains(".spec.")
        && !file_name.starts_with("conftest")
        && !lower
            .split('/')
            .rev()
            .skip(1)
            .any(|dir| SKIPPED_DIRS.contains(&dir))
}

const LITERAL: &str = r#"(?:"(?P<dq>[^"\\\n]*)"|'(?P<sq>[^'\\\n]*)'|`(?P<bq>[^`\\\n$]*)`)"#;

/// `name = "…"`, `name: type = "…"`, `"name": "…"`, `name := "…"`, `'name' => '…'`, with the
/// literal the whole value (followed by the end of the statement, not by `+ more`).
static ASSIGNED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?:^|[^\w$])(?P<name>[A-Za-z_$][\w$]*)["']?\]?\s*(?::\s*[A-Za-z_][\w\[\]|., ]*?\s*)?(?:=>|:=|=|:)\s*{LITERAL}\s*(?:[,;)}}\]]|$|//|#|\bor\b|\|\||\?\?)"#
    ))
    .ok()
});

/// Fallbacks of environment lookups: `NAME') or '…'`, `NAME || '…'`, `NAME', '…')`,
/// `NAME", default="…")`.
static FALLBACK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?P<name>[A-Za-z_][\w]*)["']?\]?\s*\)?\s*(?:\bor\b|\|\||\?\?)\s*{LITERAL}|(?P<argname>[A-Za-z_][\w]*)["']\s*,\s*(?:default\s*=\s*)?{LITERAL2}\s*\)"#,
        LITERAL2 = LITERAL
            .replace("?P<dq>", "?P<dq2>")
            .replace("?P<sq>", "?P<sq2>")
            .replace("?P<bq>", "?P<bq2>")
    ))
    .ok()
});

/// Type names and casts written where a secret-named key takes a descriptor (`'password' =>
/// 'hashed'`, `password: 'string'`), not a value.
const DESCRIPTOR_VALUES: &[&str] = &[
    "string",
    "str",
    "text",
    "hashed",
    "hash",
    "encrypted",
    "required",
    "nullable",
    "hidden",
    "boolean",
    "bool",
    "int",
    "integer",
    "number",
    "date",
    "datetime",
    "email",
    "none",
    "null",
    "undefined",
    "optional",
    "char",
    "varchar",
    "bytes",
];

fn is_descriptor(name: &str, value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    let normalised_name: String = name_words(name).concat();
    let normalised_value: String = lower.chars().filter(char::is_ascii_alphanumeric).collect();
    let words: Vec<&str> = value.split_whitespace().collect();
    let sentence = words.len() >= 3
        && value
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | ',' | '.' | '\'' | '!' | '?'));
    // Laravel/Joi-style validation rules: `required|string|min:8`.
    let rules = value.contains('|')
        && value.split('|').all(|rule| {
            rule.chars()
                .all(|c| c.is_ascii_alphanumeric() || ":_,".contains(c))
        });
    // A name rather than a value: `COOKIE_REFRESH_TOKEN_KEY = 'fba_refresh_token'`.
    let identifier = lower
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        && lower.contains(['_', '.', '-'])
        && name_words(name).iter().any(|word| {
            word.len() >= 5
                && !matches!(word.as_str(), "secret" | "password" | "passwd")
                && lower.contains(word.as_str())
        })
        && crate::rules::secrets::judge(value)
            != Some(crate::rules::secrets::Weakness::Placeholder);
    // A pattern quoted in a regular expression: `TOKEN_SECRET_KEY='[^']*'`.
    let pattern = value.starts_with('[') || value.contains("[^");
    DESCRIPTOR_VALUES.contains(&lower.as_str())
        || normalised_value == normalised_name
        || sentence
        || rules
        || identifier
        || pattern
}

fn is_comment(line: &str) -> bool {
    let line = line.trim_start();
    ["#", "//", "*", "/*", "<!--", "--"]
        .iter()
        .any(|start| line.starts_with(start))
}

/// Every secret-named literal in a code file (strong or weak; references and descriptors left
/// out). Empty for files that are not application code.
pub fn literal_secrets(file: &SourceFile) -> Vec<LiteralSecret> {
    let (Some(assigned), Some(fallback)) = (ASSIGNED.as_ref(), FALLBACK.as_ref()) else {
        return Vec::new();
    };
    if !is_code_file(&file.path) {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (index, line) in file.text.lines().enumerate() {
        if is_comment(line) || line.len() > 1000 {
            continue;
        }
        let line_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut candidates = Vec::new();
        for captures in assigned.captures_iter(line) {
            let value = ["dq", "sq", "bq"]
                .iter()
                .find_map(|group| captures.name(group));
            if let (Some(name), Some(value)) = (captures.name("name"), value) {
                // A quoted key must be the whole quoted text: in `'email or password' => …`
                // the key is a phrase, not a setting.
                let quoted_after = line[name.end()..].starts_with(['"', '\'']);
                let quoted_before = line[..name.start()].ends_with(['"', '\'']);
                if quoted_after && !quoted_before {
                    continue;
                }
                candidates.push((name.as_str(), value.as_str()));
            }
        }
        for captures in fallback.captures_iter(line) {
            let pairs = [
                ("name", ["dq", "sq", "bq"]),
                ("argname", ["dq2", "sq2", "bq2"]),
            ];
            for (name_group, value_groups) in pairs {
                let value = value_groups.iter().find_map(|group| captures.name(group));
                if let (Some(name), Some(value)) = (captures.name(name_group), value) {
                    candidates.push((name.as_str(), value.as_str()));
                }
            }
        }
        for (name, value) in candidates {
            let words = name_words(name);
            // A bare `key`/`token` is a map key or a loop variable as often as a setting.
            let generic =
                words.len() == 1 && matches!(words[0].as_str(), "key" | "keys" | "token" | "pass");
            if generic
                || !is_secret_name(name)
                || value.trim().is_empty()
                || is_reference(value)
                || is_descriptor(name, value)
            {
                continue;
            }
            let secret = LiteralSecret {
                name: name.to_owned(),
                value: value.to_owned(),
                line: line_number,
            };
            if !found.contains(&secret) {
                found.push(secret);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(path: &str, text: &str) -> Vec<(String, String)> {
        let file = SourceFile {
            path: path.into(),
            kind: crate::audit::FileKind::Text,
            text: text.into(),
        };
        literal_secrets(&file)
            .into_iter()
            .map(|secret| (secret.name, secret.value))
            .collect()
    }

    fn one(name: &str, value: &str) -> Vec<(String, String)> {
        vec![(name.to_owned(), value.to_owned())]
    }

    #[test]
    fn assignments_in_several_languages() {
        assert_eq!(
            secrets("app/config.py", "SECRET_KEY = 'random'\n"),
            one("SECRET_KEY", "random")
        );
        assert_eq!(
            secrets("app.py", "app.config[\"JWT_SECRET_KEY\"] = \"super\"\n"),
            one("JWT_SECRET_KEY", "super")
        );
        assert_eq!(
            secrets(
                "src/config.ts",
                "export default { jwtSecret: 'abc123', port: 3000 };\n"
            ),
            one("jwtSecret", "abc123")
        );
        assert_eq!(
            secrets("common/utils.go", "const NBSecretPassword = \"A String\"\n"),
            one("NBSecretPassword", "A String")
        );
        assert_eq!(
            secrets("config/jwt.php", "    'secret_key' => 'changeme',\n"),
            one("secret_key", "changeme")
        );
        assert_eq!(
            secrets("settings.py", "    SECRET_KEY: str = \"x\"\n"),
            one("SECRET_KEY", "x")
        );
    }

    #[test]
    fn fallbacks_of_environment_lookups() {
        assert_eq!(
            secrets(
                "config.py",
                "    SECRET_KEY = os.environ.get('SECRET_KEY') or 'you-will-never-guess'\n"
            ),
            one("SECRET_KEY", "you-will-never-guess")
        );
        assert_eq!(
            secrets(
                "src/config.js",
                "secret: process.env.JWT_SECRET || 'dev',\n"
            ),
            one("JWT_SECRET", "dev")
        );
        assert_eq!(
            secrets(
                "config/app.php",
                "'key' => env('APP_KEY', 'SomeRandomString'),\n"
            ),
            one("APP_KEY", "SomeRandomString")
        );
    }

    #[test]
    fn descriptors_references_tests_and_comments_are_not_secrets() {
        for (path, text) in [
            (
                "app/models/User.php",
                "protected $casts = ['password' => 'hashed'];\n",
            ),
            (
                "app/Http/Requests/Login.php",
                "'password' => 'required|string|min:8',\n",
            ),
            (
                "src/i18n.ts",
                "passwordError: 'Your password is too short',\n",
            ),
            ("src/form.ts", "password: 'Password',\n"),
            ("config.py", "SECRET_KEY = os.environ['SECRET_KEY']\n"),
            ("config.py", "# SECRET_KEY = 'old'\n"),
            ("tests/test_login.py", "password = 'hunter2'\n"),
            ("src/login.test.ts", "const password = 'hunter2';\n"),
            ("config.py", "SECRET_KEY = ''\n"),
            ("config.js", "const key = 'user-id';\n"),
            ("README.md", "SECRET_KEY = 'random'\n"),
            ("config.py", "SECRET_KEY = 'abc' + suffix\n"),
            ("api/errors.php", "'email or password' => 'is invalid',\n"),
            (
                "core/conf.py",
                "COOKIE_REFRESH_TOKEN_KEY: str = 'fba_refresh_token'\n",
            ),
            (
                "cli.py",
                "re.sub(r\"TOKEN_SECRET_KEY='[^']*'\", new, text)\n",
            ),
            (
                "database/factories/UserFactory.php",
                "'password' => 'secret',\n",
            ),
        ] {
            assert!(secrets(path, text).is_empty(), "{path}: {text}");
        }
    }
}

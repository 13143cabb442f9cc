//! `--project PATH`: the secret values the audit sees in a project become JWT key candidates.
//! The project is loaded and parsed by the audit library itself (same walker, same parsers, same
//! idea of a secret-like name), so the probe tries exactly the values `shasec audit` judges —
//! plus string constants with secret-like names in Rust sources (a compiled-in dev default such
//! as `const DEV_JWT_SECRET: &str = "…"` is the classic key a forgotten config ships with).

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
    Ok(values.into_iter().collect())
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

//! Guessable HMAC secrets generated from the words people put in them: placeholder phrases
//! (`change me`, `your secret key`), the names of the setting itself (`JWT_SECRET`,
//! `signing key`), environment and year tails, written in the usual separators and cases, plus
//! filler patterns (a character repeated, keyboard runs). The curated list of framework and
//! tutorial defaults stays in `weak_jwt_secrets.txt`; this covers the variations nobody lists.

use std::collections::HashSet;

/// Words before the core of a phrase (`my`-secret, `dev`-jwt-key).
const PREFIXES: &[&[&str]] = &[
    &[],
    &["my"],
    &["your"],
    &["the"],
    &["super"],
    &["very"],
    &["top"],
    &["app"],
    &["api"],
    &["dev"],
    &["test"],
    &["prod"],
    &["local"],
    &["default"],
];

/// What the secret is called.
const CORES: &[&[&str]] = &[
    &["secret"],
    &["jwt"],
    &["jwt", "secret"],
    &["jwt", "key"],
    &["jwt", "secret", "key"],
    &["jwt", "signing", "key"],
    &["secret", "key"],
    &["signing", "key"],
    &["signing", "secret"],
    &["token", "secret"],
    &["token", "key"],
    &["auth", "secret"],
    &["auth", "key"],
    &["session", "secret"],
    &["access", "token", "secret"],
    &["refresh", "token", "secret"],
    &["hmac", "secret"],
    &["hmac", "key"],
    &["private", "key"],
    &["app", "secret"],
    &["api", "secret"],
    &["api", "key"],
    &["encryption", "key"],
    &["change", "me"],
    &["replace", "me"],
    &["key"],
    &["password"],
    &["secret", "secret"],
];

/// Words after the core.
const TAILS: &[&[&str]] = &[
    &[],
    &["key"],
    &["here"],
    &["goes", "here"],
    &["change", "me"],
    &["please", "change"],
    &["change", "in", "production"],
    &["in", "production"],
    &["do", "not", "use"],
    &["not", "for", "production"],
    &["for", "jwt"],
    &["1"],
    &["123"],
    &["1234"],
    &["12345"],
    &["123456"],
    &["2023"],
    &["2024"],
    &["2025"],
    &["2026"],
    &["dev"],
    &["test"],
    &["prod"],
    &["local"],
    &["example"],
];

fn capitalise(word: &str) -> String {
    let mut characters = word.chars();
    characters.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(characters).collect()
    })
}

/// Every way a phrase is commonly written: `jwt-secret`, `jwt_secret`, `jwtsecret`, `jwt secret`,
/// `jwt.secret`, `JWT_SECRET`, `JWT-SECRET`, `JwtSecret`, `jwtSecret`, `Jwt Secret`.
fn spellings(words: &[&str], out: &mut Vec<String>) {
    for separator in ["-", "_", "", " ", "."] {
        out.push(words.join(separator));
    }
    out.push(words.join("_").to_uppercase());
    out.push(words.join("-").to_uppercase());
    let pascal: String = words.iter().map(|word| capitalise(word)).collect();
    let camel = match words.split_first() {
        Some((first, rest)) => {
            let mut camel = (*first).to_owned();
            camel.extend(rest.iter().map(|word| capitalise(word)));
            camel
        }
        None => String::new(),
    };
    out.push(pascal);
    out.push(camel);
    out.push(
        words
            .iter()
            .map(|word| capitalise(word))
            .collect::<Vec<_>>()
            .join(" "),
    );
}

/// Filler a hurried developer types to satisfy a length check.
fn fillers(out: &mut Vec<String>) {
    for character in ['a', 'x', '0', '1', '*', '-', 's'] {
        for length in [8, 16, 24, 32, 48, 64] {
            out.push(character.to_string().repeat(length));
        }
    }
    for run in [
        "0123456789",
        "1234567890",
        "abcdefghijklmnopqrstuvwxyz",
        "qwertyuiop",
        "qwertyuiopasdfghjklzxcvbnm",
        "abc123",
        "secret",
        "password",
    ] {
        for times in 1..=6 {
            out.push(run.repeat(times));
        }
    }
}

/// The generated candidates, each once, in a fixed order. `names` (the project's directory or
/// package name, with `--project`) join the prefixes: `shop-jwt-secret`, `SHOP_SECRET`.
pub fn generated(names: &[String]) -> Vec<String> {
    let name_prefixes: Vec<Vec<&str>> = names.iter().map(|name| vec![name.as_str()]).collect();
    let prefixes = PREFIXES
        .iter()
        .map(|prefix| prefix.to_vec())
        .chain(name_prefixes);
    let mut candidates = Vec::new();
    let mut words: Vec<&str> = Vec::with_capacity(8);
    for prefix in prefixes {
        for core in CORES {
            for tail in TAILS {
                words.clear();
                words.extend(prefix.iter().copied());
                words.extend(core.iter().copied());
                words.extend(tail.iter().copied());
                spellings(&words, &mut candidates);
            }
        }
    }
    fillers(&mut candidates);
    let mut seen = HashSet::with_capacity(candidates.len());
    candidates.retain(|candidate| !candidate.is_empty() && seen.insert(candidate.clone()));
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_placeholders_are_generated_once_each() {
        let all = generated(&[]);
        for expected in [
            "your-secret-key",
            "JWT_SECRET_KEY",
            "mySecretKey",
            "change-me-in-production",
            "jwt_secret_2024",
            "supersecret123",
            "dev-jwt-secret",
            "secretsecretsecret",
            "0123456789",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ] {
            assert!(
                all.iter().any(|candidate| candidate == expected),
                "{expected}"
            );
        }
        let unique: HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert!(all.len() > 20_000, "{}", all.len());
    }

    #[test]
    fn project_names_become_prefixes() {
        let all = generated(&["shop".to_owned()]);
        assert!(all.iter().any(|candidate| candidate == "SHOP_JWT_SECRET"));
        assert!(all.iter().any(|candidate| candidate == "shop-secret"));
        assert!(
            !generated(&[])
                .iter()
                .any(|candidate| candidate == "shop-secret")
        );
    }
}

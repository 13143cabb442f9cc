//! Parsers meet arbitrary input without panicking (they return what they understood and
//! errors). Kept brief for CI: raise PROPTEST_CASES to search longer.

use proptest::prelude::*;
use shasec::parse::{compose, config, dockerfile, dotenv, git_index, yaml};

/// Text biased towards the syntax each parser cares about, so cases reach deep paths.
fn syntax_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\n",
        " ",
        "  ",
        "\t",
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "`",
        "#",
        "=",
        "\\",
        "$",
        "${",
        "${A:-",
        "}}",
        "{{",
        "{%",
        "&a ",
        "*a",
        "<<: ",
        "!reset ",
        "services:",
        "ports:",
        "image: ",
        "FROM ",
        "USER ",
        "RUN ",
        "ENV ",
        "ARG ",
        "<<EOF",
        "EOF",
        "export ",
        "KEY",
        "value",
        "[x]",
        "[[y]]",
        "127.0.0.1:",
        "5432",
        "\u{feff}",
        "é",
        "\r\n",
    ]);
    prop::collection::vec(pieces, 0..64).prop_map(|parts| parts.concat())
}

fn check_all(text: &str) {
    let _ = yaml::parse(text).map(|documents| {
        let _ = config::from_yaml(&documents);
        documents.first().map(compose::from_yaml)
    });
    let _ = config::from_toml(text);
    let parsed = dockerfile::parse(text);
    let _ = parsed.stages();
    let _ = parsed.global_args();
    let _ = dotenv::parse(text);
    let _ = compose::parse_short_port(text);
    let _ = compose::interpolate(text, &|_| None);
    let _ = dockerfile::substitute(text, &Default::default());
    let _ = dockerfile::words(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic_on_syntax_soup(text in syntax_soup()) {
        check_all(&text);
    }

    #[test]
    fn parsers_never_panic_on_any_string(text in any::<String>()) {
        check_all(&text);
    }

    #[test]
    fn git_index_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), version in 2u32..=4) {
        let mut index = b"DIRC".to_vec();
        index.extend_from_slice(&version.to_be_bytes());
        index.extend_from_slice(&bytes);
        let _ = git_index::parse(&index, 20);
        let _ = git_index::parse(&bytes, 32);
    }
}

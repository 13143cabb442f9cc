//! One error, one line. shasec's error types describe their own layer and expose what they
//! wrap through `source()`, never formatting it into their message as well; [`one_line`]
//! joins the layers with `: `. A dependency's error that does both (its message already holds
//! its cause) is printed once: a cause the previous message contains is skipped.

use std::error::Error;

/// `outer: cause: root cause`, each message once.
pub fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut previous = line.clone();
    let mut cause = error.source();
    while let Some(error) = cause {
        let message = error.to_string();
        if !message.is_empty() && !previous.contains(&message) {
            line.push_str(": ");
            line.push_str(&message);
        }
        previous = message;
        cause = error.source();
    }
    line
}

/// The messages of `error` and each of its sources, outermost first.
pub fn messages(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(error) = cause {
        messages.push(error.to_string());
        cause = error.source();
    }
    messages
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::PathBuf;

    use super::*;
    use crate::audit::AuditError;
    use crate::probe::ProbeError;

    fn io_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        )
    }

    /// One error of each kind that wraps another, as shasec builds them.
    fn representative_errors() -> Vec<Box<dyn Error + 'static>> {
        vec![
            Box::new(ProbeError::Resolve {
                host: "api.internal".to_owned(),
                source: io_error(),
            }),
            Box::new(ProbeError::ReadFile {
                what: "OpenAPI document",
                path: PathBuf::from("openapi.json"),
                source: io_error(),
            }),
            Box::new(ProbeError::Runtime(io_error())),
            Box::new(AuditError::Unreadable {
                path: PathBuf::from("project"),
                source: io_error(),
            }),
            Box::from(anyhow::Error::new(io_error()).context("cannot write report.sarif")),
        ]
    }

    #[test]
    fn no_error_message_repeats_its_source() {
        for error in representative_errors() {
            let chain = messages(error.as_ref());
            assert!(
                chain.len() >= 2,
                "{chain:?} has no source: it cannot be checked"
            );
            for pair in chain.windows(2) {
                assert!(
                    !pair[0].contains(&pair[1]),
                    "`{}` repeats its source `{}`",
                    pair[0],
                    pair[1]
                );
            }
        }
    }

    #[test]
    fn the_printed_line_holds_each_cause_once() {
        for error in representative_errors() {
            let line = one_line(error.as_ref());
            let chain = messages(error.as_ref());
            for message in &chain {
                assert!(line.contains(message.as_str()), "`{line}` lost `{message}`");
            }
            let root = chain.last().cloned().unwrap_or_default();
            assert_eq!(line.matches(&root).count(), 1, "`{line}` repeats `{root}`");
        }
    }

    #[test]
    fn a_dependency_that_repeats_its_cause_is_printed_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect): {0}")]
        struct Repeating(#[source] io::Error);
        #[derive(Debug, thiserror::Error)]
        #[error("cannot reach the target")]
        struct Ours(#[source] Repeating);

        assert_eq!(
            one_line(&Ours(Repeating(io_error()))),
            "cannot reach the target: client error (Connect): No such file or directory (os error 2)"
        );
    }
}

//! Field rules the request bodies of every resource share (`#[validate(custom(function = …))]`).
//! Each rule has its OpenAPI `pattern` beside it, so a schema states what the handler refuses.
//!
//! Postgres text cannot hold NUL, and control characters in a name or title are never meant:
//! both are refused here as a 422 naming the field, not by the database as a 500.

use validator::ValidationError;

/// Digits a decimal field holds in all (`DECIMAL(15, 2)`): few enough that the embedded
/// SQLite database, which stores decimals as 64-bit floats, keeps every value exactly.
pub const DECIMAL_PRECISION: u32 = 15;
/// Digits after the point of a decimal field.
pub const DECIMAL_SCALE: u32 = 2;

/// `pattern` of a [`single_line`] field: no control character, at least one other than space.
pub const SINGLE_LINE_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";
/// `pattern` of a [`decimal_text`] field.
pub const DECIMAL_PATTERN: &str = r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$";

fn refuse(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

/// A name or title: not blank, no control character (line breaks and tabs included).
pub fn single_line(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(refuse("blank", "must not be blank"));
    }
    if value.chars().any(char::is_control) {
        return Err(refuse(
            "control",
            "must not contain control characters (NUL, line breaks, tabs…)",
        ));
    }
    Ok(())
}

/// A body of text: not blank; line breaks and tabs allowed, other control characters (NUL
/// first) refused.
pub fn multi_line(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(refuse("blank", "must not be blank"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(refuse(
            "control",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(())
}

/// A decimal number written as a string (JSON numbers are floats, which would lose cents):
/// an optional `-`, 1 to 13 digits, then optionally `.` and 1 or 2 digits — [`DECIMAL_PATTERN`].
pub fn decimal_text(value: &str) -> Result<(), ValidationError> {
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str, max: u32| {
        !part.is_empty() && part.len() <= max as usize && part.bytes().all(|b| b.is_ascii_digit())
    };
    let whole_ok = digits(whole, DECIMAL_PRECISION - DECIMAL_SCALE);
    let fraction_ok = fraction.is_none_or(|fraction| digits(fraction, DECIMAL_SCALE));
    if whole_ok && fraction_ok {
        Ok(())
    } else {
        Err(refuse(
            "decimal",
            "must be a decimal number as a string, at most 13 digits before the point and 2 after",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_refuses_blank_and_control_characters() {
        assert!(single_line("A title").is_ok());
        assert!(single_line("Ünïcode ✓").is_ok());
        for bad in ["", "   ", "a\0b", "a\nb", "a\tb", "a\u{7f}b", "a\u{85}b"] {
            assert!(single_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn multi_line_allows_line_breaks_but_not_nul() {
        assert!(multi_line("line one\nline two\r\n\tindented").is_ok());
        for bad in ["", " \n ", "a\0b", "a\u{7}b", "a\u{1b}[31m"] {
            assert!(multi_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decimal_text_takes_13_digits_and_2_decimals() {
        for good in ["0", "-1", "12.5", "12.50", "1234567890123.99", "-0.01"] {
            assert!(decimal_text(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-",
            ".5",
            "5.",
            "1.234",
            "12345678901234",
            "1e5",
            "+1",
            "1_000",
            " 1",
            "1,5",
            "０",
        ] {
            assert!(decimal_text(bad).is_err(), "{bad:?}");
        }
    }
}

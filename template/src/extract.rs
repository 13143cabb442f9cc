//! `ValidatedJson<T>`: the JSON body extractor handlers use instead of `axum::Json`. It answers
//! every bad body with a problem document: wrong content type → 415, malformed JSON → 400,
//! well-formed JSON of the wrong shape → 422 naming the field, rule violations from
//! `validator` → 422 naming each field, body over the limit → 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{AppError, FieldError};

#[derive(Debug, Clone, Copy, Default)]
pub struct ValidatedJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidatedJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(&request) {
            return Err(AppError::UnsupportedMediaType(
                "expected `Content-Type: application/json`".to_owned(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::MalformedBody(format!("cannot read the request body: {rejection}"))
                }
            })?;
        let value = parse_json::<T>(&bytes)?;
        value
            .validate()
            .map_err(|errors| AppError::Validation(field_errors(&errors)))?;
        Ok(ValidatedJson(value))
    }
}

fn has_json_content_type(request: &Request) -> bool {
    let Some(content_type) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Ok(mime) = content_type.parse::<mime::Mime>() else {
        return false;
    };
    mime.type_() == "application"
        && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
}

/// Syntax errors (400) and shape errors (422, with the path of the field) are told apart:
/// a client that sent broken JSON has a different bug from one that sent the wrong fields.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer);
    let value = match value {
        Ok(value) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            return Err(classify_json_error(path, inner));
        }
    };
    deserializer
        .end()
        .map_err(|e| AppError::MalformedBody(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn classify_json_error(path: String, error: serde_json::Error) -> AppError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => {
            let field = if path == "." {
                missing_field_name(&error).unwrap_or_else(|| "body".to_owned())
            } else {
                match missing_field_name(&error) {
                    Some(missing) => format!("{path}.{missing}"),
                    None => path,
                }
            };
            AppError::Validation(vec![FieldError {
                field,
                message: strip_position(&error.to_string()),
            }])
        }
        Category::Syntax | Category::Eof | Category::Io => {
            AppError::MalformedBody(format!("malformed JSON: {error}"))
        }
    }
}

/// serde reports a missing field at its parent's path; name the field itself.
fn missing_field_name(error: &serde_json::Error) -> Option<String> {
    let message = error.to_string();
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// "invalid type: … at line 1 column 12" → "invalid type: …" (positions mean little to an
/// API client once the field is named).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Flattens `validator`'s nested errors into `field` paths (`address.city`, `items[1].qty`).
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut collected = Vec::new();
    collect(errors, "", &mut collected);
    collected.sort_by(|a, b| a.field.cmp(&b.field));
    collected
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error
                        .message
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| format!("failed the `{}` rule", error.code));
                    out.push(FieldError {
                        field: path.clone(),
                        message,
                    });
                }
            }
            ValidationErrorsKind::Struct(nested) => collect(nested, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, nested) in items {
                    collect(nested, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate)]
    struct Signup {
        #[validate(email(message = "must be an email address"))]
        email: String,
        #[validate(range(min = 1, max = 10))]
        seats: u32,
    }

    #[test]
    fn syntax_error_is_malformed() {
        assert!(matches!(
            parse_json::<Signup>(br#"{"email": "#),
            Err(AppError::MalformedBody(_))
        ));
        assert!(matches!(
            parse_json::<Signup>(br#"{"email": "a@b.c", "seats": 1} trailing"#),
            Err(AppError::MalformedBody(_))
        ));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let Err(AppError::Validation(errors)) =
            parse_json::<Signup>(br#"{"email": "a@b.c", "seats": "many"}"#)
        else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "seats");
    }

    #[test]
    fn missing_field_is_named() {
        let Err(AppError::Validation(errors)) = parse_json::<Signup>(br#"{"seats": 2}"#) else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "email");
    }

    #[test]
    fn validator_rules_name_each_field() {
        let signup = parse_json::<Signup>(br#"{"email": "nope", "seats": 0}"#).unwrap();
        let errors = field_errors(&signup.validate().unwrap_err());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["email", "seats"]);
        assert_eq!(errors[0].message, "must be an email address");
    }
}

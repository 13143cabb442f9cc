//! Page-numbered lists: one envelope ([`Page`]), one set of bounds, one way to refuse a bad
//! query string (422 naming the parameter).

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, FieldError};

pub const DEFAULT_PER_PAGE: u64 = 20;
pub const MAX_PER_PAGE: u64 = 100;
/// Far beyond any real table, and small enough that `(page - 1) * per_page` always fits the
/// database's signed 64-bit OFFSET (sea-orm's paginator multiplies them unchecked).
pub const MAX_PAGE: u64 = 1_000_000_000;

/// One page of a list, with what a client needs to fetch the others.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: u64,
    pub per_page: u64,
    /// Items matching the filters, across every page.
    pub total: u64,
}

/// Checked page bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// `page` from 1 to [`MAX_PAGE`], `per_page` from 1 to [`MAX_PER_PAGE`]; absent values take
    /// the defaults.
    pub fn new(page: Option<u64>, per_page: Option<u64>) -> Result<PageRequest, AppError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 || page > MAX_PAGE {
            return Err(invalid("page", format!("must be between 1 and {MAX_PAGE}")));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(invalid(
                "per_page",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok(PageRequest { page, per_page })
    }

    /// The zero-based page index sea-orm's paginator takes.
    pub fn index(self) -> u64 {
        self.page - 1
    }

    pub fn envelope<T>(self, items: Vec<T>, total: u64) -> Page<T> {
        Page {
            items,
            page: self.page,
            per_page: self.per_page,
            total,
        }
    }
}

pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Validation(vec![FieldError {
        field: field.to_owned(),
        message: message.into(),
    }])
}

/// A query string that does not parse (unknown parameter, wrong type) is a 422 on `query`.
pub fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, AppError> {
    query
        .map(|Query(value)| value)
        .map_err(|rejection| invalid("query", rejection.body_text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced_and_defaults_apply() {
        assert_eq!(
            PageRequest::new(None, None).unwrap(),
            PageRequest {
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
        for (page, per_page) in [
            (Some(0), None),
            (None, Some(0)),
            (None, Some(MAX_PER_PAGE + 1)),
            (Some(MAX_PAGE + 1), None),
            (Some(u64::MAX), Some(MAX_PER_PAGE)),
        ] {
            assert!(
                PageRequest::new(page, per_page).is_err(),
                "{page:?} {per_page:?}"
            );
        }
        assert_eq!(PageRequest::new(Some(3), Some(7)).unwrap().index(), 2);
        let last = PageRequest::new(Some(MAX_PAGE), Some(MAX_PER_PAGE)).unwrap();
        assert!(i64::try_from(last.index() * last.per_page).is_ok());
    }
}

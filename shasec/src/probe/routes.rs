//! Unprotected routes: every documented operation called without credentials. A 2xx on one the
//! document declares protected is high. Only 2xx is conclusive: a 404/422 may come from a handler
//! that validates its input before it checks authentication.

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;

use super::openapi::{Declared, Operation};
use super::rules::{OPENAPI_SECURITY_UNDECLARED, UNPROTECTED_ROUTE};
use super::{Context, Family};
use crate::finding::{Finding, Location};

pub async fn probe(context: &mut Context) {
    let operations: Vec<Operation> = if let Some(routes) = &context.plan.routes_file {
        routes.clone()
    } else if let Some(document) = &context.openapi {
        document.operations.clone()
    } else {
        context.incomplete(
            Family::Routes,
            "/",
            format!(
                "no OpenAPI document found (tried {}) and no --routes file: give --openapi URL|FILE or --routes FILE",
                super::openapi::DISCOVERY_PATHS.join(", ")
            ),
        );
        return;
    };
    let silent_document = context.plan.routes_file.is_none()
        && context
            .openapi
            .as_ref()
            .is_some_and(|document| !document.declares_security);
    let mut answered_silently = Vec::new();
    for operation in operations {
        if operation.declared == Declared::Public || operation.method == Method::OPTIONS {
            continue;
        }
        let path = operation.concrete.clone();
        let mut request = context.client.request(operation.method.clone(), &path);
        if matches!(operation.method, Method::POST | Method::PUT | Method::PATCH) {
            request = request.header(CONTENT_TYPE, "application/json").body("{}");
        }
        let exchange = match context
            .client
            .send(operation.method.clone(), &path, request)
            .await
        {
            Ok(exchange) => exchange,
            Err(error) => {
                context.send_failed(Family::Routes, &path, &error);
                return;
            }
        };
        if !exchange.is_success() {
            continue;
        }
        match operation.declared {
            Declared::Protected => context.add(Finding::new(
                &UNPROTECTED_ROUTE,
                Location::file(&operation.template),
                format!(
                    "{} answered without credentials although the {} declares it protected",
                    exchange.summary(),
                    if context.plan.routes_file.is_some() {
                        "routes file"
                    } else {
                        "OpenAPI document"
                    }
                ),
            )),
            Declared::Silent => answered_silently.push(exchange.summary()),
            Declared::Public => {}
        }
    }
    if silent_document {
        let origin = context
            .openapi
            .as_ref()
            .map(|document| document.origin.clone())
            .unwrap_or_default();
        let listed = if answered_silently.is_empty() {
            "none answered 2xx without credentials".to_owned()
        } else {
            format!(
                "answered 2xx without credentials: {}",
                answered_silently.join("; ")
            )
        };
        context.add(Finding::new(
            &OPENAPI_SECURITY_UNDECLARED,
            Location::file(&origin),
            format!("{origin} names no security requirement anywhere; {listed}"),
        ));
    }
}

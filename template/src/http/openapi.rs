//! The OpenAPI document (`{API_PREFIX}/openapi.json`) and a docs page (`{API_PREFIX}/docs`),
//! served only when `API_DOCS` is on (dev by default; the production guard refuses it).
//!
//! The page is Scalar's HTML, embedded in the binary by utoipa-scalar (nothing is downloaded
//! at build time); the browser loads Scalar's script from its CDN, which the page's own CSP
//! allows — and only this page's.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_scalar::Scalar;

use crate::error::{FieldError, Problem};
use crate::state::AppState;

const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
    script-src https://cdn.jsdelivr.net; \
    style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; \
    font-src data: https://cdn.jsdelivr.net https://fonts.gstatic.com; \
    img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'";

#[derive(OpenApi)]
#[openapi(
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "admin", description = "User administration (casbin policy: role `admin`)")
    )
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme routes refer to with `security(("bearer" = []))`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // utoipa copies Cargo.toml's `license`, which a new project has not chosen yet; an
        // empty license object is invalid OpenAPI.
        if openapi
            .info
            .license
            .as_ref()
            .is_some_and(|license| license.name.is_empty())
        {
            openapi.info.license = None;
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Routes serving `document` (already complete: every route registered) under `api_prefix`.
pub fn docs_routes(api_prefix: &str, document: utoipa::openapi::OpenApi) -> Router<AppState> {
    let json = match document.to_pretty_json() {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(%error, "cannot serialise the OpenAPI document");
            String::from("{}")
        }
    };
    let page = Scalar::new(document).to_html();
    Router::new()
        .route(
            &format!("{api_prefix}/openapi.json"),
            get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], json).into_response()
            }),
        )
        .route(
            &format!("{api_prefix}/docs"),
            get(move || async move {
                (
                    [(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
                    )],
                    Html(page),
                )
                    .into_response()
            }),
        )
}

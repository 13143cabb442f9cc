//! HTTP routes. Each resource is a module exposing `routes() -> DeclaredRoutes`,
//! registered in [`api_routes`]; annotating handlers with `#[utoipa::path]` and registering
//! them with `routes!` is what puts them in the OpenAPI document.

{% if example_resource -%}
pub mod articles;
{% endif -%}
{% if storage -%}
pub mod files;
{% endif -%}
pub mod health;
pub mod openapi;
pub mod pagination;
pub mod resource;
pub mod validation;
// shaapi:resource-modules (`generate resource` adds `pub mod NAME;` above this line)

use crate::auth::access::DeclaredRoutes;

/// Routes served under the API prefix (`API_PREFIX`, default `/api/v1`). Every route is
/// declared with its access (`auth::access`): add each resource here, `.merge(NAME::routes())`
/// (`generate resource` does it for the resources it writes).
pub fn api_routes() -> DeclaredRoutes {
    DeclaredRoutes::new()
        .merge(crate::auth::routes::routes())
        .merge(crate::auth::admin::routes())
        .merge(crate::audit::routes::routes())
{%- if example_resource %}
        .merge(articles::routes())
{%- endif %}
{%- if storage %}
        .merge(files::routes())
{%- endif %}
        // shaapi:resource-routes (`generate resource` adds `.merge(NAME::routes())` above)
        .layer_with(|router, state| router.layer(crate::middleware::rate_limit::api_layer(state)))
}

/// Routes served at the root, outside the versioned API (probes for orchestrators).
pub fn root_routes() -> DeclaredRoutes {
    health::routes()
}

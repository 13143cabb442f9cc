//! Route declarations: every route states who may call it, and the declaration itself installs
//! the gate. Resources build a [`DeclaredRoutes`] — there is no way to add a route to it without
//! an [`Access`] — and `startup` turns it into the router.
//!
//! Each operation of the OpenAPI document carries its access as `x-access` (and the bearer
//! security requirement when it needs a token); `tests/route_access.rs` walks the served
//! document and fails on any operation without one, then checks each gate over HTTP.

use axum::http::Method;
use axum::middleware::from_fn_with_state;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::auth::extractor::{require_authenticated, require_permission};
use crate::state::AppState;

/// Name of the OpenAPI extension that records a route's access.
pub const ACCESS_EXTENSION: &str = "x-access";

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no token (health probes, login, register).
    Public,
    /// Any active user with a valid, still-active access token.
    Authenticated,
    /// An authenticated user whose roles (from the database) the casbin policy allows for this
    /// route and method.
    Policy,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Authenticated => "authenticated",
            Access::Policy => "policy",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "public" => Some(Access::Public),
            "authenticated" => Some(Access::Authenticated),
            "policy" => Some(Access::Policy),
            _ => None,
        }
    }
}

/// One route as declared: method, path (below any nesting prefix) and access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteDeclaration {
    pub method: Method,
    pub path: String,
    pub access: Access,
}

type Finisher =
    Box<dyn FnOnce(OpenApiRouter<AppState>, &AppState) -> OpenApiRouter<AppState> + Send>;

/// A set of routes, each with its declared access, plus layers for the whole group.
#[derive(Default)]
pub struct DeclaredRoutes {
    routes: Vec<(Access, UtoipaMethodRouter<AppState>)>,
    groups: Vec<(Option<String>, DeclaredRoutes)>,
    finishers: Vec<Finisher>,
}

impl std::fmt::Debug for DeclaredRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.declarations()).finish()
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::OPTIONS, item.options.as_mut()),
        (Method::HEAD, item.head.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::TRACE, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
    .collect()
}

fn operations(item: &PathItem) -> Vec<Method> {
    [
        (Method::GET, item.get.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::DELETE, item.delete.is_some()),
        (Method::OPTIONS, item.options.is_some()),
        (Method::HEAD, item.head.is_some()),
        (Method::PATCH, item.patch.is_some()),
        (Method::TRACE, item.trace.is_some()),
    ]
    .into_iter()
    .filter_map(|(method, present)| present.then_some(method))
    .collect()
}

impl DeclaredRoutes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the handlers of `routes!(…)` with their access. The OpenAPI operations are tagged
    /// with `x-access` and, unless public, the bearer security requirement.
    pub fn route(mut self, access: Access, routes: UtoipaMethodRouter<AppState>) -> Self {
        let (schemas, mut paths, method_router) = routes;
        for item in paths.paths.values_mut() {
            for (_, operation) in operations_mut(item) {
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert(ACCESS_EXTENSION.to_owned(), access.as_str().into());
                if access != Access::Public {
                    operation
                        .security
                        .get_or_insert_with(Vec::new)
                        .push(SecurityRequirement::new("bearer", Vec::<String>::new()));
                }
            }
        }
        self.routes.push((access, (schemas, paths, method_router)));
        self
    }

    /// Adds another group as is.
    pub fn merge(mut self, other: DeclaredRoutes) -> Self {
        self.groups.push((None, other));
        self
    }

    /// Adds another group under a path prefix.
    pub fn nest(mut self, prefix: &str, other: DeclaredRoutes) -> Self {
        self.groups.push((Some(prefix.to_owned()), other));
        self
    }

    /// Runs `finish` on this group's router when it is built (rate limits, headers…).
    pub fn layer_with(
        mut self,
        finish: impl FnOnce(OpenApiRouter<AppState>, &AppState) -> OpenApiRouter<AppState>
        + Send
        + 'static,
    ) -> Self {
        self.finishers.push(Box::new(finish));
        self
    }

    /// Every declared route, paths including nesting prefixes.
    pub fn declarations(&self) -> Vec<RouteDeclaration> {
        let mut declared = Vec::new();
        for (access, (_, paths, _)) in &self.routes {
            for (path, item) in &paths.paths {
                for method in operations(item) {
                    declared.push(RouteDeclaration {
                        method,
                        path: path.clone(),
                        access: *access,
                    });
                }
            }
        }
        for (prefix, group) in &self.groups {
            for mut declaration in group.declarations() {
                if let Some(prefix) = prefix {
                    declaration.path = format!("{prefix}{}", declaration.path);
                }
                declared.push(declaration);
            }
        }
        declared
    }

    /// Builds the router, installing each route's gate.
    pub fn into_router(self, state: &AppState) -> OpenApiRouter<AppState> {
        let mut router = OpenApiRouter::new();
        for (access, (schemas, paths, method_router)) in self.routes {
            let method_router = match access {
                Access::Public => method_router,
                Access::Authenticated => method_router
                    .route_layer(from_fn_with_state(state.clone(), require_authenticated)),
                Access::Policy => {
                    method_router.route_layer(from_fn_with_state(state.clone(), require_permission))
                }
            };
            router = router.routes((schemas, paths, method_router));
        }
        for (prefix, group) in self.groups {
            let group_router = group.into_router(state);
            router = match prefix {
                Some(prefix) => router.nest(&prefix, group_router),
                None => router.merge(group_router),
            };
        }
        for finish in self.finishers {
            router = finish(router, state);
        }
        router
    }
}

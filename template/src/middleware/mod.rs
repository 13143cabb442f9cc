//! Cross-cutting layers. `startup::build_router` applies them in a fixed order (outermost
//! first): request id → trace → problem normaliser → panic catcher → timeout → body limit →
//! CORS → security headers → routes.

pub mod client_ip;
pub mod cors;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;

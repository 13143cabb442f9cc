//! {{description}}
//!
//! The binary in `main.rs` only parses the command line; everything else lives here so the
//! integration tests drive exactly the code that runs in production.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connections;
pub mod db;
pub mod entities;
pub mod error;
pub mod error_chain;
pub mod extract;
{% if storage -%}
pub mod files;
{% endif -%}
pub mod guard;
pub mod http;
pub mod mail;
pub mod middleware;
pub mod observability;
pub mod ops;
pub mod schema_version;
pub mod startup;
pub mod state;
{% if storage -%}
pub mod storage;
{% endif -%}
pub mod store;
pub mod telemetry;

//! One module per CLI command; `cli.rs` parses and dispatches.

pub mod db;
pub mod doctor;
pub mod generate;
pub mod health;
pub mod serve;
{%- if storage %}
pub mod storage;
{%- endif %}

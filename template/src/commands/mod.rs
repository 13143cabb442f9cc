//! One module per CLI command; `cli.rs` parses and dispatches.

pub mod db;
pub mod doctor;
pub mod generate;
pub mod health;
pub mod serve;
pub mod storage;

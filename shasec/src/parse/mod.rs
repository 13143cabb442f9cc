//! Typed parsers with line numbers. Each returns what it understood plus the errors it met;
//! none panics on any input (property-tested in tests/parsers_never_panic.rs).

pub mod compose;
pub mod config;
pub mod dockerfile;
pub mod dotenv;
pub mod git_index;
pub mod yaml;

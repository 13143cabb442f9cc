//! shasec: a static security audit (`shasec audit`) and a live probe (`shasec probe`) for backend
//! projects, sharing one finding model, report formats and exit codes.

pub mod audit;
pub mod cli;
pub mod error_chain;
pub mod exit;
pub mod finding;
pub mod parse;
pub mod probe;
pub mod report;
pub mod rules;
pub mod rules_doc;

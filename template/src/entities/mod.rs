//! sea-orm entities, one file per table.

pub mod casbin_rule;
pub mod users;

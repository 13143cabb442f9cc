//! sea-orm entities, one file per table.

pub mod casbin_rule;
pub mod mfa_recovery_codes;
pub mod user_totp;
pub mod users;

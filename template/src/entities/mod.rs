//! sea-orm entities, one file per table.

{% if example_resource -%}
pub mod articles;
{% endif -%}
pub mod audit_events;
pub mod casbin_rule;
{% if example_resource -%}
pub mod comments;
{% endif -%}
pub mod mfa_recovery_codes;
{% if storage -%}
pub mod stored_files;
{% endif -%}
pub mod user_totp;
pub mod users;
// shaapi:entities (`generate resource` adds `pub mod NAME;` above this line)

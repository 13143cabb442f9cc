//! Shared application state, cloned (cheaply: everything is behind an `Arc` or a pool handle)
//! into every handler.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::AuthServices;
use crate::config::Settings;
{% if storage -%}
use crate::files::Vault;
use crate::storage::Storage;
{% endif -%}
use crate::store::KeyValueStore;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    /// Ephemeral key-value store (Redis, or in-process in the embedded dev default).
    pub kv: Arc<dyn KeyValueStore>,
    /// Token keys, session store, password hasher, policy enforcer, login throttle.
    pub auth: Arc<AuthServices>,
{%- if storage %}
    /// Object storage (`STORAGE_URL`): `storage.store()` is the `Arc<dyn ObjectStore>`.
    pub storage: Storage,
    /// Encryption keys, antivirus and limits of uploaded files.
    pub vault: Arc<Vault>,
{%- endif %}
}

impl AppState {
    pub fn new(
        settings: Settings,
        db: DatabaseConnection,
        kv: Arc<dyn KeyValueStore>,
        auth: Arc<AuthServices>,
{%- if storage %}
        storage: Storage,
        vault: Arc<Vault>,
{%- endif %}
    ) -> Self {
        AppState {
            settings: Arc::new(settings),
            db,
            kv,
            auth,
{%- if storage %}
            storage,
            vault,
{%- endif %}
        }
    }
}

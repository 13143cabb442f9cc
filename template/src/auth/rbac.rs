//! Authorization: casbin over policy rows stored in the database.
//!
//! casbin's published sea-orm and sqlx adapters target sea-orm 1 / sqlx 0.8, which would put a
//! second ORM and driver in the build, so the `Adapter` is implemented here over sea-orm 2.
//!
//! Decisions: the caller's roles (`g` rows) are read from the database on every request; casbin
//! then answers for each role with the policy (`p`) and role inheritance (`g2`) it holds in memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, CoreApi, DefaultModel, Enforcer, Filter, MgmtApi, Model};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::entities::casbin_rule;

/// The casbin model, compiled into the binary so a deployment cannot run without it.
pub const MODEL: &str = include_str!("../../config/rbac_model.conf");

/// Section of `casbin_rule.ptype` holding user → role links.
pub const USER_ROLE_PTYPE: &str = "g";
/// casbin stores at most six values per rule (v0..v5).
const MAX_RULE_VALUES: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    #[error("policy store")]
    Database(#[from] DbErr),
    #[error("casbin")]
    Casbin(#[from] casbin::Error),
}

fn adapter_error(error: impl std::error::Error + Send + Sync + 'static) -> casbin::Error {
    casbin::Error::AdapterError(AdapterError(Box::new(error)))
}

#[derive(Debug, thiserror::Error)]
#[error("a casbin rule has {0} values; the casbin_rule table holds at most 6")]
struct RuleTooLong(usize);

/// casbin `Adapter` over the `casbin_rule` table.
pub struct SeaOrmAdapter {
    db: DatabaseConnection,
    /// When set, only these ptypes are loaded into memory (see [`Authorizer`]).
    loaded_ptypes: Option<Vec<String>>,
    filtered: bool,
}

impl SeaOrmAdapter {
    /// A complete adapter: loads and saves every rule.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            loaded_ptypes: None,
            filtered: false,
        }
    }

    /// Loads only rules whose ptype is listed. The adapter then reports itself as filtered, so
    /// casbin refuses `save_policy`, which would otherwise delete the rules it never loaded.
    pub fn loading_only(db: DatabaseConnection, ptypes: &[&str]) -> Self {
        Self {
            db,
            loaded_ptypes: Some(ptypes.iter().map(|ptype| (*ptype).to_owned()).collect()),
            filtered: true,
        }
    }

    async fn load_rows(&self, condition: Condition) -> casbin::Result<Vec<casbin_rule::Model>> {
        let mut condition = condition;
        if let Some(ptypes) = &self.loaded_ptypes {
            condition = condition.add(casbin_rule::Column::Ptype.is_in(ptypes.clone()));
        }
        casbin_rule::Entity::find()
            .filter(condition)
            .order_by_asc(casbin_rule::Column::Id)
            .all(&self.db)
            .await
            .map_err(adapter_error)
    }
}

fn section_of(ptype: &str) -> &str {
    ptype.get(..1).unwrap_or_default()
}

/// The rule's values with casbin's trailing empty fields removed.
fn rule_values(row: &casbin_rule::Model) -> Vec<String> {
    let mut values = vec![
        row.v0.clone(),
        row.v1.clone(),
        row.v2.clone(),
        row.v3.clone(),
        row.v4.clone(),
        row.v5.clone(),
    ];
    while values.last().is_some_and(String::is_empty) {
        values.pop();
    }
    values
}

fn active_rule(ptype: &str, rule: &[String]) -> casbin::Result<casbin_rule::ActiveModel> {
    if rule.len() > MAX_RULE_VALUES {
        return Err(adapter_error(RuleTooLong(rule.len())));
    }
    let value = |index: usize| Set(rule.get(index).cloned().unwrap_or_default());
    Ok(casbin_rule::ActiveModel {
        ptype: Set(ptype.to_owned()),
        v0: value(0),
        v1: value(1),
        v2: value(2),
        v3: value(3),
        v4: value(4),
        v5: value(5),
        ..Default::default()
    })
}

/// Matches one exact rule (all six columns).
fn exact_rule(ptype: &str, rule: &[String]) -> casbin::Result<Condition> {
    if rule.len() > MAX_RULE_VALUES {
        return Err(adapter_error(RuleTooLong(rule.len())));
    }
    let value = |index: usize| rule.get(index).cloned().unwrap_or_default();
    Ok(Condition::all()
        .add(casbin_rule::Column::Ptype.eq(ptype))
        .add(casbin_rule::Column::V0.eq(value(0)))
        .add(casbin_rule::Column::V1.eq(value(1)))
        .add(casbin_rule::Column::V2.eq(value(2)))
        .add(casbin_rule::Column::V3.eq(value(3)))
        .add(casbin_rule::Column::V4.eq(value(4)))
        .add(casbin_rule::Column::V5.eq(value(5))))
}

const VALUE_COLUMNS: [casbin_rule::Column; MAX_RULE_VALUES] = [
    casbin_rule::Column::V0,
    casbin_rule::Column::V1,
    casbin_rule::Column::V2,
    casbin_rule::Column::V3,
    casbin_rule::Column::V4,
    casbin_rule::Column::V5,
];

/// Rules whose values starting at `first_field` equal `values` (empty values match anything),
/// the meaning casbin gives to filtered loads and removals.
fn field_filter(first_field: usize, values: &[String]) -> Condition {
    let mut condition = Condition::all();
    for (offset, value) in values.iter().enumerate() {
        if value.is_empty() {
            continue;
        }
        match VALUE_COLUMNS.get(first_field + offset) {
            Some(column) => condition = condition.add(column.eq(value.as_str())),
            // A filter on a column that does not exist matches nothing.
            None => condition = condition.add(casbin_rule::Column::Id.is_null()),
        }
    }
    condition
}

async fn rule_exists(
    connection: &impl ConnectionTrait,
    ptype: &str,
    rule: &[String],
) -> casbin::Result<bool> {
    let found = casbin_rule::Entity::find()
        .filter(exact_rule(ptype, rule)?)
        .one(connection)
        .await
        .map_err(adapter_error)?;
    Ok(found.is_some())
}

fn load_into(model: &mut dyn Model, rows: &[casbin_rule::Model]) {
    for row in rows {
        model.add_policy(section_of(&row.ptype), &row.ptype, rule_values(row));
    }
}

#[async_trait]
impl Adapter for SeaOrmAdapter {
    async fn load_policy(&mut self, model: &mut dyn Model) -> casbin::Result<()> {
        let rows = self.load_rows(Condition::all()).await?;
        load_into(model, &rows);
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        model: &mut dyn Model,
        filter: Filter<'a>,
    ) -> casbin::Result<()> {
        let owned = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
        let policies = Condition::all()
            .add(casbin_rule::Column::Ptype.like("p%"))
            .add(field_filter(0, &owned(&filter.p)));
        let groupings = Condition::all()
            .add(casbin_rule::Column::Ptype.like("g%"))
            .add(field_filter(0, &owned(&filter.g)));
        let rows = self
            .load_rows(Condition::any().add(policies).add(groupings))
            .await?;
        load_into(model, &rows);
        self.filtered = self.loaded_ptypes.is_some()
            || filter
                .p
                .iter()
                .chain(filter.g.iter())
                .any(|v| !v.is_empty());
        Ok(())
    }

    async fn save_policy(&mut self, model: &mut dyn Model) -> casbin::Result<()> {
        let mut rows = Vec::new();
        for section in ["p", "g"] {
            let Some(assertions) = model.get_model().get(section) else {
                continue;
            };
            for (ptype, assertion) in assertions {
                for rule in assertion.get_policy() {
                    rows.push(active_rule(ptype, rule)?);
                }
            }
        }
        let transaction = self.db.begin().await.map_err(adapter_error)?;
        casbin_rule::Entity::delete_many()
            .exec(&transaction)
            .await
            .map_err(adapter_error)?;
        if !rows.is_empty() {
            casbin_rule::Entity::insert_many(rows)
                .exec(&transaction)
                .await
                .map_err(adapter_error)?;
        }
        transaction.commit().await.map_err(adapter_error)
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        casbin_rule::Entity::delete_many()
            .exec(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        self.filtered
    }

    async fn add_policy(
        &mut self,
        _section: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        let transaction = self.db.begin().await.map_err(adapter_error)?;
        if rule_exists(&transaction, ptype, &rule).await? {
            return Ok(false);
        }
        casbin_rule::Entity::insert(active_rule(ptype, &rule)?)
            .exec(&transaction)
            .await
            .map_err(adapter_error)?;
        transaction.commit().await.map_err(adapter_error)?;
        Ok(true)
    }

    /// All or nothing: if any rule already exists, nothing is added.
    async fn add_policies(
        &mut self,
        _section: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let transaction = self.db.begin().await.map_err(adapter_error)?;
        let mut rows = Vec::with_capacity(rules.len());
        for rule in &rules {
            if rule_exists(&transaction, ptype, rule).await? {
                return Ok(false);
            }
            rows.push(active_rule(ptype, rule)?);
        }
        if !rows.is_empty() {
            casbin_rule::Entity::insert_many(rows)
                .exec(&transaction)
                .await
                .map_err(adapter_error)?;
        }
        transaction.commit().await.map_err(adapter_error)?;
        Ok(true)
    }

    async fn remove_policy(
        &mut self,
        _section: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        let result = casbin_rule::Entity::delete_many()
            .filter(exact_rule(ptype, &rule)?)
            .exec(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(result.rows_affected > 0)
    }

    /// All or nothing: if any rule is missing, nothing is removed.
    async fn remove_policies(
        &mut self,
        _section: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let transaction = self.db.begin().await.map_err(adapter_error)?;
        for rule in &rules {
            let result = casbin_rule::Entity::delete_many()
                .filter(exact_rule(ptype, rule)?)
                .exec(&transaction)
                .await
                .map_err(adapter_error)?;
            if result.rows_affected == 0 {
                // Dropping the transaction rolls the earlier deletions back.
                return Ok(false);
            }
        }
        transaction.commit().await.map_err(adapter_error)?;
        Ok(true)
    }

    async fn remove_filtered_policy(
        &mut self,
        _section: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        if field_values.iter().all(String::is_empty) {
            return Ok(false);
        }
        let result = casbin_rule::Entity::delete_many()
            .filter(
                Condition::all()
                    .add(casbin_rule::Column::Ptype.eq(ptype))
                    .add(field_filter(field_index, &field_values)),
            )
            .exec(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(result.rows_affected > 0)
    }
}

/// Decisions already taken, per (role, route template, method): casbin-rs builds a `Regex`
/// for its matcher functions on every evaluation (tens of µs each), and the answers only
/// change with the policy. A plain map rather than casbin's `CachedEnforcer`: the policy
/// changes in exactly one place here (`reload_policy`), which clears it.
type DecisionKey = (String, String, String);

/// Upper bound of remembered decisions (roles × routes × methods is small; this only guards
/// against a database holding unbounded role names).
const MAX_CACHED_DECISIONS: usize = 4096;

/// The application's access decisions.
#[derive(Clone)]
pub struct Authorizer {
    enforcer: Arc<RwLock<Enforcer>>,
    decisions: Arc<std::sync::RwLock<HashMap<DecisionKey, bool>>>,
    db: DatabaseConnection,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Loads the policy (`p`) and role inheritance (`g2`); user links (`g`) stay in the
    /// database and are read per request, so no instance ever decides on a stale role.
    pub async fn new(db: DatabaseConnection) -> Result<Self, RbacError> {
        let model = DefaultModel::from_str(MODEL).await?;
        let adapter = SeaOrmAdapter::loading_only(db.clone(), &["p", "g2"]);
        let mut enforcer = Enforcer::new(model, adapter).await?;
        // A filtered adapter is not loaded by `Enforcer::new`.
        enforcer
            .load_filtered_policy(Filter {
                p: Vec::new(),
                g: Vec::new(),
            })
            .await?;
        Ok(Self {
            enforcer: Arc::new(RwLock::new(enforcer)),
            decisions: Arc::default(),
            db,
        })
    }

    /// Re-reads the policy rows, e.g. after an operator edited them in SQL.
    pub async fn reload_policy(&self) -> Result<(), RbacError> {
        let mut enforcer = self.enforcer.write().await;
        let loaded = enforcer
            .load_filtered_policy(Filter {
                p: Vec::new(),
                g: Vec::new(),
            })
            .await;
        // Cleared under the enforcer's write lock, and decisions are only remembered under its
        // read lock: no decision of the old policy survives the reload.
        self.decisions_mut().clear();
        loaded?;
        Ok(())
    }

    fn decisions_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<DecisionKey, bool>> {
        // A poisoned lock only means a panic elsewhere; the map itself is always consistent.
        self.decisions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remembered(&self, role: &str, route: &str, method: &str) -> Option<bool> {
        let decisions = self
            .decisions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        decisions
            .get(&(role.to_owned(), route.to_owned(), method.to_owned()))
            .copied()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Whether any of `roles` may perform `method` on `route` (the route template below the
    /// API prefix, e.g. `/admin/users/{id}`).
    pub async fn is_allowed(
        &self,
        roles: &[String],
        route: &str,
        method: &str,
    ) -> Result<bool, RbacError> {
        let mut undecided = Vec::new();
        for role in roles {
            match self.remembered(role, route, method) {
                Some(true) => return Ok(true),
                Some(false) => {}
                None => undecided.push(role),
            }
        }
        if undecided.is_empty() {
            return Ok(false);
        }
        let enforcer = self.enforcer.read().await;
        let mut allowed = false;
        for role in undecided {
            let decision = enforcer.enforce((role.as_str(), route, method))?;
            let mut decisions = self.decisions_mut();
            if decisions.len() >= MAX_CACHED_DECISIONS {
                decisions.clear();
            }
            decisions.insert(
                (role.clone(), route.to_owned(), method.to_owned()),
                decision,
            );
            if decision {
                allowed = true;
                break;
            }
        }
        Ok(allowed)
    }

    /// Roles the policy knows: subjects of `p` rules and both ends of `g2` inheritance.
    pub async fn known_roles(&self) -> BTreeSet<String> {
        let enforcer = self.enforcer.read().await;
        let mut roles: BTreeSet<String> = enforcer.get_all_subjects().into_iter().collect();
        for link in enforcer.get_named_grouping_policy("g2") {
            roles.extend(link.into_iter().take(2));
        }
        roles
    }
}

/// The user's roles, straight from the database.
pub async fn roles_of(
    connection: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<String>, DbErr> {
    let rows = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq(USER_ROLE_PTYPE))
        .filter(casbin_rule::Column::V0.eq(user_id.to_string()))
        .order_by_asc(casbin_rule::Column::V1)
        .all(connection)
        .await?;
    Ok(rows.into_iter().map(|row| row.v1).collect())
}

/// Replaces the user's roles. Run it inside a transaction when combined with other writes.
pub async fn set_roles(
    connection: &impl ConnectionTrait,
    user_id: Uuid,
    roles: &BTreeSet<String>,
) -> Result<(), DbErr> {
    casbin_rule::Entity::delete_many()
        .filter(casbin_rule::Column::Ptype.eq(USER_ROLE_PTYPE))
        .filter(casbin_rule::Column::V0.eq(user_id.to_string()))
        .exec(connection)
        .await?;
    for role in roles {
        grant_role(connection, user_id, role).await?;
    }
    Ok(())
}

/// Adds one role to the user; granting a role twice is a no-op.
pub async fn grant_role(
    connection: &impl ConnectionTrait,
    user_id: Uuid,
    role: &str,
) -> Result<(), DbErr> {
    let existing = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq(USER_ROLE_PTYPE))
        .filter(casbin_rule::Column::V0.eq(user_id.to_string()))
        .filter(casbin_rule::Column::V1.eq(role))
        .one(connection)
        .await?;
    if existing.is_none() {
        casbin_rule::Entity::insert(casbin_rule::ActiveModel {
            ptype: Set(USER_ROLE_PTYPE.to_owned()),
            v0: Set(user_id.to_string()),
            v1: Set(role.to_owned()),
            v2: Set(String::new()),
            v3: Set(String::new()),
            v4: Set(String::new()),
            v5: Set(String::new()),
            ..Default::default()
        })
        .exec(connection)
        .await?;
    }
    Ok(())
}

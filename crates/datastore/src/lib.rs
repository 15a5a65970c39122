//! The datastore (StackStorm's key-value store, events.md §7): scopes and stored names, TTL,
//! secret values encrypted with StackStorm's key file and ciphertext format ([`crypto`]), who
//! may decrypt, the `core.st2.key_value_pair.*` triggers, and the `st2kv` / `decrypt_kv`
//! expression provider ([`KvProvider`]).
//!
//! It owns no storage: pairs live behind [`gale_store::KeyValueStore`], and it does not know how
//! triggers are dispatched: every change goes to a [`TriggerSink`]. It must not render templates
//! or run rules.
//!
//! Key choice: expressions are evaluated synchronously (`gale_expr::ContextProvider`), so the
//! datastore keeps an in-memory copy of every pair, loaded at [`Datastore::open`] and updated by
//! every write made through it; the store stays the authority for the API. A pair whose
//! `expire_timestamp` has passed is absent everywhere, before the periodic purge removes it.

pub mod crypto;
pub mod scope;

pub use crypto::{ensure_key_file, CryptoError, CryptoKey};
pub use scope::{Scope, ScopeFilter};

use async_trait::async_trait;
use gale_model::{format_ts, Timestamp};
use gale_store::{KeyValueRecord, KeyValueStore};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Trigger refs the datastore emits (events.md §7.8).
pub const TRIGGER_CREATE: &str = "core.st2.key_value_pair.create";
pub const TRIGGER_UPDATE: &str = "core.st2.key_value_pair.update";
pub const TRIGGER_VALUE_CHANGE: &str = "core.st2.key_value_pair.value_change";
pub const TRIGGER_DELETE: &str = "core.st2.key_value_pair.delete";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidScope(String),
    /// Validation of a request field; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Key with name: {name} and scope: {scope} not found!")]
    NotFound { name: String, scope: String },
    #[error("Crypto key not found in {path}. Unable to encrypt / decrypt value for key {name}.")]
    NoCryptoKey { path: String, name: String },
    #[error("Failed to verify the integrity of the provided value for key \"{name}\". Ensure that the value is encrypted with the correct key and not corrupted.")]
    NotEncryptedWithKey { name: String },
    /// A stored secret that does not decrypt with the configured key.
    #[error("Failed to decrypt the value of key \"{name}\": {source}")]
    Decrypt { name: String, source: CryptoError },
    #[error("the crypto key file {path} is invalid: {source}")]
    BadKeyFile { path: String, source: CryptoError },
    #[error(transparent)]
    Store(#[from] gale_store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where datastore changes go: `core.st2.key_value_pair.*` trigger dispatch. Called after the
/// change is stored, in write order; a failure is logged and does not undo the write.
#[async_trait]
pub trait TriggerSink: Send + Sync {
    async fn emit(&self, trigger: &str, payload: Value) -> Result<(), String>;
}

/// Drops every trigger (until the events service is wired in).
pub struct NoTriggers;

#[async_trait]
impl TriggerSink for NoTriggers {
    async fn emit(&self, _trigger: &str, _payload: Value) -> Result<(), String> {
        Ok(())
    }
}

/// Keeps every emitted trigger (tests).
#[derive(Default)]
pub struct MemorySink {
    pub emitted: std::sync::Mutex<Vec<(String, Value)>>,
}

impl MemorySink {
    pub fn take(&self) -> Vec<(String, Value)> {
        self.emitted
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}

#[async_trait]
impl TriggerSink for MemorySink {
    async fn emit(&self, trigger: &str, payload: Value) -> Result<(), String> {
        if let Ok(mut g) = self.emitted.lock() {
            g.push((trigger.to_string(), payload));
        }
        Ok(())
    }
}

/// The clock seam (TTL decisions): `Arc::new(gale_model::now)` in production, a manual clock's
/// `now` in tests.
pub type NowFn = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Options of the datastore, filled once by `gale server`.
#[derive(Clone, Debug, Default)]
pub struct DatastoreOptions {
    /// StackStorm's `keyvalue.encryption_key_path`; `None` = no key (secrets are refused).
    pub key_path: Option<PathBuf>,
}

/// Who is asking, and what RBAC would let them do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub role: Role,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// RBAC disabled (StackStorm's default): everyone may decrypt and pre-encrypt, but naming
    /// another user (`user=`) is still refused.
    NoRbac,
    /// RBAC admin: everything.
    Admin,
    /// RBAC user: own user-scope keys only for decryption; no pre-encrypted values.
    User,
}

impl Caller {
    pub fn no_rbac(user: impl Into<String>) -> Self {
        Caller {
            user: user.into(),
            role: Role::NoRbac,
        }
    }
    fn may_decrypt_system(&self) -> bool {
        self.role != Role::User
    }
    /// The owner a request acts for: `user=` when given (admins only), else the caller.
    fn owner(&self, requested: Option<&str>) -> Result<String> {
        match requested.filter(|u| !u.is_empty()) {
            None => Ok(self.user.clone()),
            Some(u) if u == self.user => Ok(u.to_string()),
            Some(u) => match self.role {
                Role::Admin => Ok(u.to_string()),
                _ => Err(Error::Forbidden(
                    "\"user\" attribute can only be provided by admins when RBAC is enabled".into(),
                )),
            },
        }
    }
}

/// `PUT /keys/{name}` as the datastore sees it (fields already type-checked by the caller).
#[derive(Clone, Debug, Default)]
pub struct SetRequest {
    /// The name without the user prefix.
    pub name: String,
    pub value: String,
    pub scope: Option<String>,
    pub user: Option<String>,
    /// Encrypt `value` with the key.
    pub secret: bool,
    /// `value` is already ciphertext (verified, stored as is, marked secret).
    pub encrypted: bool,
    /// Seconds; `None` removes any previous expiry.
    pub ttl: Option<i64>,
    pub description: Option<String>,
}

/// `GET /keys` as the datastore sees it.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub scope: Option<String>,
    pub user: Option<String>,
    pub prefix: Option<String>,
    /// Exact (unprefixed) name.
    pub name: Option<String>,
    pub decrypt: bool,
}

type CacheKey = (Scope, String);

pub struct Datastore {
    store: Arc<dyn KeyValueStore>,
    opts: DatastoreOptions,
    now: NowFn,
    sink: RwLock<Arc<dyn TriggerSink>>,
    cache: RwLock<HashMap<CacheKey, KeyValueRecord>>,
    /// Serializes writes so the cache, the store and the trigger order agree (StackStorm
    /// serializes writes per key with a lock).
    write_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Datastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datastore")
            .field("key_path", &self.opts.key_path)
            .finish()
    }
}

fn scope_of(record: &KeyValueRecord) -> Scope {
    if record.scope == scope::USER {
        Scope::User
    } else {
        Scope::System
    }
}

fn is_live(record: &KeyValueRecord, now: &Timestamp) -> bool {
    record.expire_timestamp.map(|e| e > *now).unwrap_or(true)
}

impl Datastore {
    /// Load every live pair into memory and start serving. Triggers go nowhere until
    /// [`Datastore::set_trigger_sink`].
    pub async fn open(
        store: Arc<dyn KeyValueStore>,
        opts: DatastoreOptions,
        now: NowFn,
    ) -> Result<Arc<Datastore>> {
        let all = store.list_kv(None, None, now()).await?;
        let cache = all
            .into_iter()
            .map(|r| ((scope_of(&r), r.name.clone()), r))
            .collect();
        tracing::debug!(key_path = ?opts.key_path, "datastore opened");
        Ok(Arc::new(Datastore {
            store,
            opts,
            now,
            sink: RwLock::new(Arc::new(NoTriggers)),
            cache: RwLock::new(cache),
            write_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// Where `core.st2.key_value_pair.*` triggers go from now on.
    pub fn set_trigger_sink(&self, sink: Arc<dyn TriggerSink>) {
        if let Ok(mut g) = self.sink.write() {
            *g = sink;
        }
    }

    fn sink(&self) -> Arc<dyn TriggerSink> {
        match self.sink.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The configured key, read from its file on every use (as StackStorm does), so a rotated
    /// key file takes effect without a restart.
    pub fn crypto_key(&self, key_name: &str) -> Result<CryptoKey> {
        let missing = || Error::NoCryptoKey {
            path: self
                .opts
                .key_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            name: key_name.to_string(),
        };
        let path = self.opts.key_path.as_ref().ok_or_else(missing)?;
        if !path.exists() {
            return Err(missing());
        }
        CryptoKey::load(path).map_err(|source| Error::BadKeyFile {
            path: path.display().to_string(),
            source,
        })
    }

    /// The API form (events.md §7.1): user-scope names without the owner plus `user`,
    /// `encrypted` when the value is ciphertext, null fields omitted. Decrypts when asked.
    pub fn to_api(&self, r: &KeyValueRecord, decrypt: bool) -> Result<Value> {
        let mut o = Map::new();
        o.insert("id".into(), json!(r.id));
        o.insert(
            "uid".into(),
            json!(format!("key_value_pair:{}:{}", r.scope, r.name)),
        );
        let (user, name) = match scope_of(r) {
            Scope::User => scope::split_user(&r.name),
            Scope::System => (None, r.name.as_str()),
        };
        o.insert("name".into(), json!(name));
        let (value, encrypted) = if r.secret && decrypt {
            let key = self.crypto_key(&r.name)?;
            let plain = key.decrypt(&r.value).map_err(|source| Error::Decrypt {
                name: r.name.clone(),
                source,
            })?;
            tracing::info!(key = %r.name, scope = %r.scope, "datastore value decrypted");
            (plain, false)
        } else {
            (r.value.clone(), r.secret)
        };
        o.insert("value".into(), json!(value));
        o.insert("secret".into(), json!(r.secret));
        o.insert("encrypted".into(), json!(encrypted));
        o.insert("scope".into(), json!(r.scope));
        if let Some(u) = user {
            o.insert("user".into(), json!(u));
        }
        if let Some(d) = &r.description {
            o.insert("description".into(), json!(d));
        }
        if let Some(e) = &r.expire_timestamp {
            o.insert("expire_timestamp".into(), json!(format_ts(e)));
        }
        Ok(Value::Object(o))
    }

    /// Create or replace a pair; returns its API form (value as stored). Emits `create`, or
    /// `update` then `value_change` when the stored value string changed.
    pub async fn set(&self, caller: &Caller, req: SetRequest) -> Result<Value> {
        let scope = Scope::parse_for_write(req.scope.as_deref())?;
        let owner = caller.owner(req.user.as_deref())?;
        if req.name.is_empty() {
            return Err(Error::Invalid("\"name\" must be a non-empty string".into()));
        }
        if let Some(ttl) = req.ttl {
            if ttl < 1 {
                return Err(Error::Invalid(format!(
                    "\"ttl\": {ttl} is less than the minimum of 1"
                )));
            }
        }
        let stored = scope::stored_name(scope, &req.name, &owner);
        let (value, secret) = if req.encrypted {
            if caller.role == Role::User {
                return Err(Error::Forbidden(
                    "Pre-encrypted option requires administrator access".into(),
                ));
            }
            let key = self.crypto_key(&stored)?;
            key.decrypt(&req.value)
                .map_err(|_| Error::NotEncryptedWithKey {
                    name: stored.clone(),
                })?;
            (req.value, true)
        } else if req.secret {
            let key = self.crypto_key(&stored)?;
            let ct = key
                .encrypt(&req.value)
                .map_err(|source| Error::BadKeyFile {
                    path: String::new(),
                    source,
                })?;
            (ct, true)
        } else {
            (req.value, false)
        };
        let _guard = self.write_lock.lock().await;
        let now = (self.now)();
        let record = KeyValueRecord {
            id: gale_model::new_id(),
            scope: scope.as_str().to_string(),
            name: stored,
            value,
            secret,
            expire_timestamp: req
                .ttl
                .map(|t| now + chrono::Duration::seconds(t.min(i64::from(i32::MAX)))),
            description: req.description,
        };
        let (stored, previous) = self.store.put_kv(record, now).await?;
        self.cache_put(stored.clone());
        let new_obj = self.to_api(&stored, false)?;
        match previous {
            None => {
                self.emit(TRIGGER_CREATE, json!({ "object": new_obj }))
                    .await
            }
            Some(old) => {
                self.emit(TRIGGER_UPDATE, json!({ "object": new_obj }))
                    .await;
                if old.value != stored.value {
                    let old_obj = self.to_api(&old, false)?;
                    self.emit(
                        TRIGGER_VALUE_CHANGE,
                        json!({"old_object": old_obj, "new_object": new_obj}),
                    )
                    .await;
                }
            }
        }
        tracing::info!(key = %stored.name, scope = %stored.scope, secret = stored.secret, "datastore pair set");
        Ok(new_obj)
    }

    /// One pair (`GET /keys/{name}`); `all` reads as system.
    pub async fn get(
        &self,
        caller: &Caller,
        name: &str,
        scope: Option<&str>,
        user: Option<&str>,
        decrypt: bool,
    ) -> Result<Value> {
        let mut filter = ScopeFilter::parse(scope)?;
        if user.is_some_and(|u| !u.is_empty()) {
            filter = ScopeFilter::User;
        }
        let owner = caller.owner(user)?;
        let scope = filter.single();
        if decrypt && scope == Scope::System && !caller.may_decrypt_system() {
            return Err(Error::Forbidden(
                "Decrypt option requires administrator access".into(),
            ));
        }
        let stored = scope::stored_name(scope, name, &owner);
        let record = self
            .store
            .get_kv(scope.as_str(), &stored, (self.now)())
            .await?
            .ok_or_else(|| Error::NotFound {
                name: name.to_string(),
                scope: scope.as_str().to_string(),
            })?;
        self.to_api(&record, decrypt)
    }

    /// Pairs (`GET /keys`): system by default, `user=` implies user scope, `all` = system then
    /// the owner's user keys; each ordered by name.
    pub async fn list(&self, caller: &Caller, q: &ListQuery) -> Result<Vec<Value>> {
        let mut filter = ScopeFilter::parse_for_list(q.scope.as_deref())?;
        if q.user.as_deref().is_some_and(|u| !u.is_empty()) && filter == ScopeFilter::System {
            filter = ScopeFilter::User;
        }
        let owner = caller.owner(q.user.as_deref())?;
        if q.decrypt && filter != ScopeFilter::User && !caller.may_decrypt_system() {
            return Err(Error::Forbidden(
                "Decrypt option requires administrator access".into(),
            ));
        }
        let prefix = q.prefix.clone().unwrap_or_default();
        let now = (self.now)();
        let mut records = Vec::new();
        if matches!(filter, ScopeFilter::System | ScopeFilter::All) {
            records.extend(
                self.store
                    .list_kv(Some(scope::SYSTEM), Some(&prefix), now)
                    .await?,
            );
        }
        if matches!(filter, ScopeFilter::User | ScopeFilter::All) {
            let p = scope::stored_name(Scope::User, &prefix, &owner);
            records.extend(self.store.list_kv(Some(scope::USER), Some(&p), now).await?);
        }
        let mut out = Vec::with_capacity(records.len());
        for r in &records {
            let v = self.to_api(r, q.decrypt)?;
            if let Some(n) = q.name.as_deref().filter(|n| !n.is_empty()) {
                if v.get("name").and_then(Value::as_str) != Some(n) {
                    continue;
                }
            }
            out.push(v);
        }
        Ok(out)
    }

    /// Delete a pair (`DELETE /keys/{name}`); emits `delete` with the removed pair.
    pub async fn delete(
        &self,
        caller: &Caller,
        name: &str,
        scope: Option<&str>,
        user: Option<&str>,
    ) -> Result<()> {
        let mut filter = ScopeFilter::parse(scope)?;
        if user.is_some_and(|u| !u.is_empty()) {
            filter = ScopeFilter::User;
        }
        let owner = caller.owner(user)?;
        let scope = filter.single();
        let stored = scope::stored_name(scope, name, &owner);
        let _guard = self.write_lock.lock().await;
        let removed = self
            .store
            .delete_kv(scope.as_str(), &stored, (self.now)())
            .await?
            .ok_or_else(|| Error::NotFound {
                name: name.to_string(),
                scope: scope.as_str().to_string(),
            })?;
        self.cache_remove(scope, &stored);
        let obj = self.to_api(&removed, false)?;
        self.emit(TRIGGER_DELETE, json!({ "object": obj })).await;
        tracing::info!(key = %stored, scope = %scope.as_str(), "datastore pair deleted");
        Ok(())
    }

    /// Remove expired pairs from the store and the memory copy. No trigger (as StackStorm's
    /// TTL index).
    pub async fn purge_expired(&self) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        let now = (self.now)();
        let n = self.store.purge_expired_kv(now).await?;
        if let Ok(mut c) = self.cache.write() {
            c.retain(|_, r| is_live(r, &now));
        }
        Ok(n)
    }

    /// Purge every `every` until `cancel` fires (owned by the server's supervisor).
    pub async fn run_purger(
        self: Arc<Self>,
        every: std::time::Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match self.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "expired datastore pairs removed"),
                Err(e) => tracing::warn!(error = %e, "datastore purge failed"),
            }
        }
    }

    /// The stored value of a live pair from the memory copy (ciphertext for secrets).
    pub fn lookup(&self, scope: Scope, stored_name: &str) -> Option<KeyValueRecord> {
        let now = (self.now)();
        let c = match self.cache.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        c.get(&(scope, stored_name.to_string()))
            .filter(|r| is_live(r, &now))
            .cloned()
    }

    /// The `st2kv` / `decrypt_kv` provider for templates rendered on behalf of `user` (the
    /// execution's user, or `stanley` for rule enforcement).
    pub fn provider(self: &Arc<Self>, user: impl Into<String>) -> KvProvider {
        KvProvider {
            ds: self.clone(),
            user: user.into(),
        }
    }

    fn cache_put(&self, r: KeyValueRecord) {
        if let Ok(mut c) = self.cache.write() {
            c.insert((scope_of(&r), r.name.clone()), r);
        }
    }

    fn cache_remove(&self, scope: Scope, stored: &str) {
        if let Ok(mut c) = self.cache.write() {
            c.remove(&(scope, stored.to_string()));
        }
    }

    async fn emit(&self, trigger: &str, payload: Value) {
        if let Err(e) = self.sink().emit(trigger, payload).await {
            tracing::warn!(trigger, error = %e, "datastore trigger not dispatched");
        }
    }
}

/// `gale_expr::ContextProvider` over the datastore's memory copy, for one user.
#[derive(Clone)]
pub struct KvProvider {
    ds: Arc<Datastore>,
    user: String,
}

impl gale_expr::ContextProvider for KvProvider {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        let (scope, stored) = scope::expression_key(key, &self.user);
        let Some(r) = self.ds.lookup(scope, &stored) else {
            return Ok(None);
        };
        if decrypt && r.secret {
            let plain = self.decrypt(&r.value)?;
            return Ok(Some(Value::String(plain)));
        }
        Ok(Some(Value::String(r.value)))
    }

    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        let key = self.ds.crypto_key("").map_err(|e| e.to_string())?;
        key.decrypt(ciphertext).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests;

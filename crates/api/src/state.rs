//! Shared state of the API: the engine facade (which carries the store), the API options and the
//! readiness flag that `/healthz` reports.

use gale_engine::Engine;
use gale_store::DynStore;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Options of the API service, filled once by `gale server`.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Holds `htpasswd` (users) and `st2admin.password` (first-start admin password).
    pub data_dir: PathBuf,
    /// Base directories that pack names given to `POST /packs/register` are resolved against.
    pub packs_dirs: Vec<PathBuf>,
    /// Default and maximum token TTL in seconds (StackStorm's `auth.token_ttl`).
    pub token_ttl: u64,
    /// StackStorm's `api.max_page_size`.
    pub max_page_size: i64,
    /// bcrypt cost for passwords written by Gale (tests use the minimum).
    pub bcrypt_cost: u32,
    /// Take `Authorization: Basic base64(<any>:<api key>)` as the API key on
    /// `POST /webhooks/siteengine` (site-engine.md §1.3; off unless the operator opts in).
    pub webhooks_accept_basic_api_key: bool,
}

impl ApiConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ApiConfig {
            data_dir: data_dir.into(),
            packs_dirs: Vec::new(),
            token_ttl: 86_400,
            max_page_size: 100,
            bcrypt_cost: 10,
            webhooks_accept_basic_api_key: false,
        }
    }

    /// The page-size cap for the requesting user: StackStorm caps non-admins only, and without
    /// RBAC every user is an admin, so there is no cap yet.
    pub fn page_cap(&self) -> Option<i64> {
        None
    }

    pub fn htpasswd_path(&self) -> PathBuf {
        self.data_dir.join("htpasswd")
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    config: ApiConfig,
    ready: AtomicBool,
    /// Cancelled when the server starts shutting down: open event streams end, so the
    /// graceful HTTP shutdown does not wait on them.
    shutdown: CancellationToken,
    /// The events service behind rules, triggers and webhooks, set once at start-up.
    events: std::sync::OnceLock<gale_events::Events>,
    /// The datastore behind `/keys`, set once at start-up (`gale server`).
    datastore: std::sync::OnceLock<Arc<gale_datastore::Datastore>>,
    /// Idempotency memory of `POST /webhooks/siteengine`.
    siteengine_hook: crate::routes::webhooks::SiteEngineHook,
}

impl AppState {
    /// A new state; not ready until [`AppState::set_ready`] is called.
    pub fn new(engine: Engine, config: ApiConfig) -> Self {
        AppState {
            inner: Arc::new(Inner {
                engine,
                config,
                ready: AtomicBool::new(false),
                shutdown: CancellationToken::new(),
                events: std::sync::OnceLock::new(),
                datastore: std::sync::OnceLock::new(),
                siteengine_hook: Default::default(),
            }),
        }
    }
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
    pub fn store(&self) -> &DynStore {
        self.inner.engine.store()
    }
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release)
    }
    /// Not ready any more, and long-lived responses (event streams) finish.
    pub fn begin_shutdown(&self) {
        self.set_ready(false);
        self.inner.shutdown.cancel();
    }
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
    /// Attach the events service (once; a second call is ignored).
    pub fn set_events(&self, events: gale_events::Events) {
        let _ = self.inner.events.set(events);
    }
    pub fn events(&self) -> Option<&gale_events::Events> {
        self.inner.events.get()
    }
    /// Attach the datastore (once; a second call is ignored).
    pub fn set_datastore(&self, ds: Arc<gale_datastore::Datastore>) {
        let _ = self.inner.datastore.set(ds);
    }
    pub fn datastore(&self) -> Option<&Arc<gale_datastore::Datastore>> {
        self.inner.datastore.get()
    }
    pub(crate) fn siteengine_hook(&self) -> &crate::routes::webhooks::SiteEngineHook {
        &self.inner.siteengine_hook
    }
}

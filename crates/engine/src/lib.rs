//! The engine owns the execution pipeline: an execution request is resolved, its parameters
//! rendered and validated ([`params`]), and the execution is persisted together with its durable
//! queue item in one store call; a bounded pool of worker tasks claims queue items with a lease,
//! schedules (honouring `delay`), renders final parameters, runs the runner and stores the result.
//!
//! It must not write SQL (everything goes through `gale_store` traits) nor run actions itself
//! (runners do). The key choice: every status write is a compare-and-set on the stored status,
//! so a cancel from the API and a worker finishing can never overwrite each other, and the queue
//! item is acked once the execution is `running` — a process that dies mid-run leaves a
//! `running` record that start-up recovery marks `abandoned`, as StackStorm does.
//!
//! Workflows (`orquesta`, `action-chain`, see the `workflow` module) use the same queue: an item for a
//! workflow execution means "advance it"; each step commits the workflow state, the workflow
//! execution and the children it starts in one transaction, and a child's final status is
//! written together with its parent's item, so workflows survive a restart.

mod cache;
mod cancel;
pub mod clock;
mod env;
mod output;
pub use gale_params as params;
mod recovery;
mod register;
mod request;
mod stage;
mod worker;
mod workflow;

pub mod bench;

use gale_model::{Execution, OutputRecord};
use gale_runners::{CancellationToken, Registry};
use gale_store::DynStore;
use serde_json::{Map, Value};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

pub use clock::{Clock, ManualClock, SystemClock};

/// Builds the datastore view (`st2kv`, `decrypt_kv`) that templates and workflow expressions
/// of a user's executions see; the binary attaches one with [`Engine::set_datastore`].
pub type DatastoreFactory = Arc<dyn Fn(&str) -> Box<dyn gale_expr::ContextProvider> + Send + Sync>;

/// Engine configuration, loaded once by the binary.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Bounded worker pool size (default: 4 × cores, at least 8).
    pub workers: usize,
    /// Worker identity for queue leases (`hostname:pid`).
    pub node_id: String,
    /// Public API URL for `ST2_ACTION_API_URL`, e.g. `http://127.0.0.1:9101/api/v1`.
    pub api_url: String,
    pub data_dir: PathBuf,
    /// Queue lease: how long a claimed item stays invisible to other workers.
    pub lease: Duration,
    /// Pack config files (`<dir>/<pack>.yaml`, StackStorm's `system.config_dir`), read into
    /// `config_context`; `None`: every pack's config is `{}`. `gale server`: `<data-dir>/configs`.
    pub config_dir: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            workers: (4 * cores).max(8),
            node_id: format!("{}:{}", env::hostname(), std::process::id()),
            api_url: "http://127.0.0.1:9101/api/v1".to_string(),
            data_dir: PathBuf::from("."),
            lease: Duration::from_secs(60),
            config_dir: None,
        }
    }
}

/// A request to run an action (API `POST /executions`, rules, workflows, re-run).
#[derive(Clone, Debug, Default)]
pub struct ExecutionRequest {
    pub action_ref: String,
    pub parameters: Map<String, Value>,
    pub user: String,
    /// Extra context (St2-Context header, rule, trigger_instance, parent, ...).
    pub context: Map<String, Value>,
    pub delay_ms: Option<u64>,
    /// Parent execution id (workflow children).
    pub parent: Option<String>,
}

/// What `cancel_execution` did.
#[derive(Clone, Debug)]
pub enum CancelOutcome {
    /// Now `canceled` or `canceling` (or it already was).
    Canceled(Execution),
    /// Completed before the cancel: DELETE answers 200
    /// `Action cannot be canceled. State = <status>.`
    AlreadyCompleted(Execution),
}

/// Execution updates for the SSE stream and for waiters.
#[derive(Clone, Debug)]
pub enum EngineEvent {
    ExecutionCreated(Execution),
    ExecutionUpdated(Execution),
    Output(OutputRecord),
}

/// Result of registering a pack directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegisterReport {
    pub runners: usize,
    pub actions: usize,
    /// Per-file messages (only non-empty with `fail_on_failure = false`).
    pub errors: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// HTTP 400.
    #[error("Action \"{0}\" cannot be found.")]
    ActionNotFound(String),
    /// HTTP 400.
    #[error("Unable to execute. Action \"{0}\" is disabled.")]
    ActionDisabled(String),
    /// HTTP 400 (or 500 for the variant the params module documents).
    #[error(transparent)]
    Params(#[from] params::Error),
    /// HTTP 404.
    #[error("{kind} \"{id}\" not found")]
    NotFound { kind: &'static str, id: String },
    /// HTTP 409.
    #[error("{0}")]
    Conflict(String),
    /// HTTP 400: other bad input.
    #[error("{0}")]
    Invalid(String),
    /// HTTP 400: registration failure with fail_on_failure.
    #[error("{0}")]
    Pack(String),
    /// HTTP 500.
    #[error(transparent)]
    Store(#[from] gale_store::Error),
}

/// The engine handle; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: DynStore,
    pub(crate) runners: Registry,
    pub(crate) opts: EngineOptions,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) events: broadcast::Sender<EngineEvent>,
    /// Wakes the dispatcher as soon as something is enqueued in this process.
    pub(crate) wake: Notify,
    /// Cancellation tokens of executions this node is running (never held across `.await`).
    pub(crate) running: Mutex<HashMap<String, CancellationToken>>,
    pub(crate) cache: cache::ActionCache,
    /// When released (delayed) items become due, earliest first, so the dispatcher sleeps just
    /// that long instead of a poll interval.
    pub(crate) due: Mutex<BinaryHeap<Reverse<gale_model::Timestamp>>>,
    pub(crate) hostname: String,
    pub(crate) workers: tokio::sync::Mutex<Option<worker::Pool>>,
    /// Set when shutdown begins: running executions that get cancelled become `abandoned`.
    pub(crate) shutting_down: CancellationToken,
    /// One slot per workflow execution being advanced, so its steps never interleave and
    /// work items that arrive during a step are folded into one more step.
    pub(crate) wf_locks: Mutex<HashMap<String, Arc<workflow::Slot>>>,
    /// The datastore behind `st2kv` (none: every key is missing).
    pub(crate) datastore: std::sync::RwLock<Option<DatastoreFactory>>,
    pub(crate) pack_configs: Arc<stage::PackConfigs>,
}

impl Engine {
    pub fn new(store: DynStore, runners: Registry, opts: EngineOptions) -> Self {
        Self::with_clock(store, runners, opts, Arc::new(SystemClock))
    }

    /// Like [`Engine::new`] with an injected clock (delay and lease decisions read it).
    pub fn with_clock(
        store: DynStore,
        runners: Registry,
        opts: EngineOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (events, _) = broadcast::channel(4096);
        let pack_configs = Arc::new(stage::PackConfigs::new(opts.config_dir.clone()));
        Self {
            inner: Arc::new(Inner {
                pack_configs,
                store,
                runners,
                opts,
                clock,
                events,
                wake: Notify::new(),
                running: Mutex::new(HashMap::new()),
                cache: cache::ActionCache::new(),
                due: Mutex::new(BinaryHeap::new()),
                hostname: env::hostname(),
                workers: tokio::sync::Mutex::new(None),
                shutting_down: CancellationToken::new(),
                wf_locks: Mutex::new(HashMap::new()),
                datastore: std::sync::RwLock::new(None),
            }),
        }
    }

    /// Register the registry's runner types, run start-up recovery (workflows in progress
    /// continue; other running/pausing/resuming → abandoned, canceling → canceled,
    /// requested/scheduled/delayed re-queued), then start the
    /// supervised worker tasks. Returns once they are started; calling it twice is a no-op.
    pub async fn start(&self) -> Result<(), Error> {
        let mut guard = self.inner.workers.lock().await;
        if guard.is_some() {
            return Ok(());
        }
        if self.inner.shutting_down.is_cancelled() {
            return Err(Error::Conflict(
                "the engine was shut down; create a new one".into(),
            ));
        }
        register::register_runner_types(&self.inner).await?;
        self.refresh_config_schemas().await?;
        recovery::recover(&self.inner).await?;
        *guard = Some(worker::Pool::start(self.inner.clone()));
        Ok(())
    }

    /// Stop claiming, cancel running executions (they end `abandoned`), wait for the workers.
    pub async fn shutdown(&self) {
        let pool = self.inner.workers.lock().await.take();
        if let Some(pool) = pool {
            pool.shutdown(&self.inner).await;
        }
    }

    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    pub fn runners(&self) -> &Registry {
        &self.inner.runners
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn options(&self) -> &EngineOptions {
        &self.inner.opts
    }

    /// The request pipeline of actions.md §2.1: resolve, context, live parameters, validate,
    /// immutable check, persist + enqueue, publish.
    pub async fn request_execution(&self, req: ExecutionRequest) -> Result<Execution, Error> {
        request::request_execution(&self.inner, req).await
    }

    /// Cancel per actions.md §3.7.
    pub async fn cancel_execution(
        &self,
        id: &str,
        requester: &str,
    ) -> Result<CancelOutcome, Error> {
        cancel::cancel_execution(&self.inner, id, requester).await
    }

    /// Attach the datastore that parameter templates, Orquesta expressions and action-chain
    /// templates read through `st2kv` (per user: user-scope keys and decrypt permissions).
    pub fn set_datastore(&self, factory: DatastoreFactory) {
        match self.inner.datastore.write() {
            Ok(mut g) => *g = Some(factory),
            Err(p) => *p.into_inner() = Some(factory),
        }
    }

    /// Pause a workflow execution (actions.md §3.7): `running` → `pausing`, cascading to child
    /// workflows; `paused` once no task is active. Errors carry st2's HTTP 400 messages.
    pub async fn pause_execution(&self, id: &str) -> Result<Execution, Error> {
        let id = self.get_execution(id).await?.id;
        workflow::pause_execution(&self.inner, &id).await
    }

    /// Resume a paused workflow execution: `paused` → `resuming` → `running`.
    pub async fn resume_execution(&self, id: &str) -> Result<Execution, Error> {
        let id = self.get_execution(id).await?.id;
        workflow::resume_execution(&self.inner, &id).await
    }

    /// By id; `last` is the newest execution.
    pub async fn get_execution(&self, id: &str) -> Result<Execution, Error> {
        let found = if id == "last" {
            self.inner.store.last_execution().await?
        } else {
            self.inner.store.get_execution(id).await?
        };
        found.ok_or_else(|| Error::NotFound {
            kind: "execution",
            id: id.to_string(),
        })
    }

    /// Execution updates (status changes, output chunks).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    /// Forget cached actions/runner types; call after changing them in the store directly
    /// (e.g. `PUT /actions/{id}`). Registration through the engine does this itself.
    pub fn invalidate_cache(&self) {
        self.inner.cache.clear();
    }

    /// Register the registry's runner types into the store (upsert by name).
    pub async fn register_runner_types(&self) -> Result<usize, Error> {
        register::register_runner_types(&self.inner).await
    }

    /// Register a pack directory (pack record, runner types, actions), packs.md §3.
    pub async fn register_pack_dir(
        &self,
        dir: &std::path::Path,
        fail_on_failure: bool,
    ) -> Result<RegisterReport, Error> {
        let report = register::register_pack_dir(&self.inner, dir, fail_on_failure).await?;
        self.refresh_config_schemas().await?;
        Ok(report)
    }

    /// `config_context` of `pack` for executions of `user` (`<config_dir>/<pack>.yaml`,
    /// validated, defaults filled, dynamic values rendered): for callers that render action
    /// parameters themselves, such as the rules engine.
    pub fn pack_config(&self, pack: &str, user: &str) -> Result<serde_json::Value, Error> {
        use stage::StageContext;
        Ok(self.inner.datastore_for(user).pack_config(pack)?)
    }

    /// Re-read the config schemas of the stored packs (for `config_context`).
    async fn refresh_config_schemas(&self) -> Result<(), Error> {
        for pack in self.inner.store.list_packs().await? {
            self.inner
                .pack_configs
                .set_schema(&pack.pack_ref, pack.config_schema);
        }
        Ok(())
    }
}

impl Inner {
    /// The datastore view for `user`'s executions.
    /// Also carries the pack configs, for `config_context` in parameter rendering.
    pub(crate) fn datastore_for(&self, user: &str) -> Box<stage::StageKv> {
        let factory = match self.datastore.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let kv = match factory {
            Some(f) => f(user),
            None => Box::new(stage::EmptyDatastore),
        };
        Box::new(stage::StageKv {
            kv,
            configs: self.pack_configs.clone(),
        })
    }

    pub(crate) fn publish(&self, ev: EngineEvent) {
        // No subscribers is normal (no SSE client connected).
        let _ = self.events.send(ev);
    }

    pub(crate) fn now(&self) -> gale_model::Timestamp {
        self.clock.now()
    }

    /// Tell the dispatcher a delayed item becomes due at `at`.
    pub(crate) fn note_due(&self, at: gale_model::Timestamp) {
        if let Ok(mut g) = self.due.lock() {
            // Bounded: beyond this the poll interval covers the rest.
            if g.len() < 100_000 {
                g.push(Reverse(at));
            }
        }
        self.wake.notify_one();
    }
}

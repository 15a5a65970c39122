//! Storage: one trait per aggregate (packs, runner types, actions, executions, output, auth, the
//! work queue), implemented by the SQLite backend (default, embedded) and later by PostgreSQL.
//!
//! Callers (engine, API) only see these traits; no SQL lives outside backend modules. Every
//! backend must pass the shared suite in [`suite`]. Storage failures are `Error::Backend` and map
//! to HTTP 5xx, never 4xx.
//!
//! Key choice: records are stored whole (JSON documents in SQLite) next to the few columns that
//! lookups and filters use, so adding a StackStorm field never needs a migration; and all writes
//! of a node go through one serialized writer that commits concurrent writes together, which is
//! what lets an embedded database keep up with the engine.

pub mod events;
pub mod sqlite;
pub mod suite;

use async_trait::async_trait;
use gale_model::{
    Action, ApiKey, ExecStatus, Execution, OutputRecord, Pack, RunnerType, Timestamp, Token,
};
use std::sync::Arc;

pub use events::{
    EnforcementFilter, InstanceCompletion, RuleStore, TraceFilter, TraceWrite,
    TriggerInstanceFilter, TriggerInstanceStore, TriggerStore,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind} \"{key}\" not found")]
    NotFound { kind: &'static str, key: String },
    #[error("{kind} \"{key}\" already exists")]
    Conflict {
        kind: &'static str,
        key: String,
        existing_id: String,
    },
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("stored record could not be decoded: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[async_trait]
pub trait PackStore: Send + Sync {
    /// Insert or update by ref, keeping the existing id. Returns the stored record.
    async fn upsert_pack(&self, pack: Pack) -> Result<Pack>;
    /// By ref or id.
    async fn get_pack(&self, ref_or_id: &str) -> Result<Option<Pack>>;
    async fn list_packs(&self) -> Result<Vec<Pack>>;
    /// Deletes the pack record (not its resources). Returns whether it existed.
    async fn delete_pack(&self, ref_or_id: &str) -> Result<bool>;
}

#[async_trait]
pub trait RunnerTypeStore: Send + Sync {
    async fn upsert_runner_type(&self, runner: RunnerType) -> Result<RunnerType>;
    /// By name or id.
    async fn get_runner_type(&self, name_or_id: &str) -> Result<Option<RunnerType>>;
    async fn list_runner_types(&self) -> Result<Vec<RunnerType>>;
}

#[async_trait]
pub trait ActionStore: Send + Sync {
    /// Insert or update by ref, keeping the existing id.
    async fn upsert_action(&self, action: Action) -> Result<Action>;
    /// Insert only; `Error::Conflict` if the ref exists (API create).
    async fn create_action(&self, action: Action) -> Result<Action>;
    /// By ref or id.
    async fn get_action(&self, ref_or_id: &str) -> Result<Option<Action>>;
    /// All actions, optionally only one pack's, ordered by ref.
    async fn list_actions(&self, pack: Option<&str>) -> Result<Vec<Action>>;
    async fn delete_action(&self, id: &str) -> Result<bool>;
}

/// Filters of `GET /executions` that the store evaluates.
#[derive(Clone, Debug, Default)]
pub struct ExecutionFilter {
    pub action: Option<String>,
    pub status: Option<ExecStatus>,
    /// `Some(None)` = top-level executions only (`parent=null`); `Some(Some(id))` = children of id.
    pub parent: Option<Option<String>>,
    pub runner: Option<String>,
    pub user: Option<String>,
    pub rule: Option<String>,
    pub trigger_instance: Option<String>,
    pub timestamp_gt: Option<Timestamp>,
    pub timestamp_lt: Option<Timestamp>,
    /// Oldest first when true; newest `start_timestamp` first otherwise.
    pub sort_asc: bool,
    pub offset: usize,
    /// `None` = no limit.
    pub limit: Option<usize>,
}

#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Store a new execution and, in the same transaction, the queue item that will run it.
    async fn create_execution(&self, exec: &Execution, enqueue: Option<QueueItem>) -> Result<()>;
    async fn get_execution(&self, id: &str) -> Result<Option<Execution>>;
    /// Newest execution (`GET /executions/last`).
    async fn last_execution(&self) -> Result<Option<Execution>>;
    /// Overwrite the record only if its stored status is still `expected` (compare-and-set, so
    /// a cancel from the API and a runner finishing cannot overwrite each other). Returns false
    /// when the stored status differed and nothing was written.
    async fn update_execution(&self, exec: &Execution, expected: ExecStatus) -> Result<bool>;
    /// Matching executions (page) and the total count before offset/limit.
    async fn list_executions(&self, filter: &ExecutionFilter) -> Result<(Vec<Execution>, u64)>;
    /// Executions whose status is one of `statuses` (used at start-up to abandon/requeue).
    async fn executions_with_status(&self, statuses: &[ExecStatus]) -> Result<Vec<Execution>>;
}

#[async_trait]
pub trait OutputStore: Send + Sync {
    async fn append_output(&self, records: &[OutputRecord]) -> Result<()>;
    /// In insertion order; `output_type` filters stdout/stderr.
    async fn list_output(
        &self,
        execution_id: &str,
        output_type: Option<&str>,
    ) -> Result<Vec<OutputRecord>>;
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    async fn create_token(&self, token: &Token) -> Result<()>;
    async fn get_token_by_hash(&self, token_hash: &str) -> Result<Option<Token>>;
    async fn delete_token(&self, id: &str) -> Result<bool>;
    async fn create_api_key(&self, key: &ApiKey) -> Result<()>;
    /// By id or key hash.
    async fn get_api_key(&self, id_or_hash: &str) -> Result<Option<ApiKey>>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
    async fn update_api_key(&self, key: &ApiKey) -> Result<()>;
    async fn delete_api_key(&self, id: &str) -> Result<bool>;
}

/// A unit of durable work: "run (or continue) execution X", available from `available_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueItem {
    pub id: String,
    pub execution_id: String,
    pub available_at: Timestamp,
    /// How many times it was claimed before (for retry/back-off decisions).
    pub attempts: u32,
}

/// A durable work queue with leases: claimed items are invisible until acked, nacked, or their
/// lease expires (then another worker may claim them again).
#[async_trait]
pub trait WorkQueue: Send + Sync {
    async fn enqueue(&self, item: QueueItem) -> Result<()>;
    /// Claim up to `max` items with `available_at <= now` whose lease is free, in order of
    /// `available_at` then insertion; sets their lease to `now + lease`.
    async fn claim(
        &self,
        worker: &str,
        now: Timestamp,
        lease: std::time::Duration,
        max: usize,
    ) -> Result<Vec<QueueItem>>;
    /// Done: remove the item.
    async fn ack(&self, item_id: &str) -> Result<()>;
    /// Release the item to be claimed again from `retry_at`.
    async fn nack(&self, item_id: &str, retry_at: Timestamp) -> Result<()>;
    /// Number of items (claimed or not).
    async fn queue_len(&self) -> Result<u64>;
    /// Wait until work may have become available — an item enqueued or nacked through this
    /// store (or a clone of it) — or until `max_wait` has passed, whichever is first. Spurious
    /// returns are allowed: callers simply claim again. Items that become available by the
    /// clock alone (`available_at` in the future) wake nobody, so keep `max_wait` short.
    /// The default polls (sleeps `max_wait`).
    async fn wait_for_work(&self, max_wait: std::time::Duration) {
        tokio::time::sleep(max_wait).await;
    }
}

/// A datastore key-value pair as stored (StackStorm's `KeyValuePairDB`). `name` is the stored
/// name: user-scope names carry the `<user>:` prefix. Secret values hold the ciphertext.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyValueRecord {
    pub id: String,
    /// `st2kv.system` or `st2kv.user`.
    pub scope: String,
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The datastore. A pair whose `expire_timestamp <= now` is absent for every call that takes
/// `now` (StackStorm only purges about once a minute; reading it as absent is strictly better).
#[async_trait]
pub trait KeyValueStore: Send + Sync {
    /// Insert or replace by `(scope, name)`, keeping the id of a live existing pair. Returns the
    /// stored pair and the live pair it replaced, in one transaction (so create vs update and
    /// value-change triggers are decided on what was really there).
    async fn put_kv(
        &self,
        kv: KeyValueRecord,
        now: Timestamp,
    ) -> Result<(KeyValueRecord, Option<KeyValueRecord>)>;
    async fn get_kv(
        &self,
        scope: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<KeyValueRecord>>;
    /// Live pairs of one scope (or all scopes), optionally only stored names starting with
    /// `prefix`, ordered by scope then name.
    async fn list_kv(
        &self,
        scope: Option<&str>,
        prefix: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<KeyValueRecord>>;
    /// Delete a live pair; returns it (an expired pair counts as absent).
    async fn delete_kv(
        &self,
        scope: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<KeyValueRecord>>;
    /// Remove expired pairs; returns how many.
    async fn purge_expired_kv(&self, now: Timestamp) -> Result<u64>;
}

/// The persisted state of a workflow execution (an orquesta conductor, action-chain progress):
/// an opaque JSON document the engine owns, versioned for compare-and-set.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowRecord {
    /// The workflow's execution id.
    pub execution_id: String,
    /// Bumped by every commit (1 after the first).
    pub version: u64,
    pub doc: String,
}

/// One workflow step, committed all or nothing: the new state (if the stored version is still
/// `expected_version`; `None` = no state stored yet), the workflow execution (if its stored
/// status is still the given one), the children it starts with their queue items, and other
/// queue items (e.g. the parent workflow's when this one completes).
#[derive(Clone, Debug)]
pub struct WorkflowCommit {
    pub record: WorkflowRecord,
    pub expected_version: Option<u64>,
    pub execution: Option<(Execution, ExecStatus)>,
    pub children: Vec<(Execution, Option<QueueItem>)>,
    pub enqueue: Vec<QueueItem>,
}

#[async_trait]
pub trait WorkflowStore: Send + Sync {
    async fn get_workflow(&self, execution_id: &str) -> Result<Option<WorkflowRecord>>;
    /// Returns false, writing nothing, when the version or the execution status differ.
    async fn commit_workflow(&self, commit: WorkflowCommit) -> Result<bool>;
    /// [`ExecutionStore::update_execution`] plus `item` in the same transaction: a workflow
    /// child's status write and its parent's work item are never separated by a crash.
    async fn update_execution_and_enqueue(
        &self,
        exec: &Execution,
        expected: ExecStatus,
        item: QueueItem,
    ) -> Result<bool>;
    async fn delete_workflow(&self, execution_id: &str) -> Result<bool>;
}

/// Everything a Gale node needs from storage.
pub trait Store:
    PackStore
    + RunnerTypeStore
    + ActionStore
    + ExecutionStore
    + OutputStore
    + AuthStore
    + WorkQueue
    + KeyValueStore
    + TriggerStore
    + RuleStore
    + TriggerInstanceStore
    + WorkflowStore
{
}
impl<T> Store for T where
    T: PackStore
        + RunnerTypeStore
        + ActionStore
        + ExecutionStore
        + OutputStore
        + AuthStore
        + WorkQueue
        + KeyValueStore
        + TriggerStore
        + RuleStore
        + TriggerInstanceStore
        + WorkflowStore
{
}

pub type DynStore = Arc<dyn Store>;

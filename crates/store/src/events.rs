//! Storage traits of the event side (events.md §2, §5, §9): trigger types and triggers, rules,
//! trigger instances with their enforcements and traces.
//!
//! The durability contract of trigger instances: [`TriggerInstanceStore::create_trigger_instance`]
//! returns only after the instance (and its trace) is committed, so a webhook is acknowledged
//! only for stored instances; [`TriggerInstanceStore::claim_trigger_instances`] moves
//! `pending` → `processing` atomically, so two processors never take the same instance; and
//! [`TriggerInstanceStore::complete_trigger_instance`] writes the final status together with the
//! enforcements and trace links, so a crash leaves either nothing or everything of one instance.

use crate::Result;
use async_trait::async_trait;
use gale_model::events::{
    RuleEnforcement, Trace, TraceComponent, Trigger, TriggerInstance, TriggerInstanceStatus,
    TriggerType,
};
use gale_model::Timestamp;
use serde_json::Value;

#[async_trait]
pub trait TriggerStore: Send + Sync {
    /// Insert or update by ref, keeping the existing id.
    async fn upsert_trigger_type(&self, tt: TriggerType) -> Result<TriggerType>;
    /// By ref or id.
    async fn get_trigger_type(&self, ref_or_id: &str) -> Result<Option<TriggerType>>;
    /// Ordered by ref; optionally one pack's.
    async fn list_trigger_types(&self, pack: Option<&str>) -> Result<Vec<TriggerType>>;
    async fn delete_trigger_type(&self, ref_or_id: &str) -> Result<bool>;
    /// Insert or update by ref, keeping the existing id.
    async fn upsert_trigger(&self, t: Trigger) -> Result<Trigger>;
    /// By ref, id or uid.
    async fn get_trigger(&self, key: &str) -> Result<Option<Trigger>>;
    /// Ordered by ref; optionally only triggers of one type.
    async fn list_triggers(&self, trigger_type: Option<&str>) -> Result<Vec<Trigger>>;
    async fn delete_trigger(&self, ref_or_id: &str) -> Result<bool>;
}

/// Rules are stored as their API documents (`gale_rules::Rule` serialized); the document
/// must carry `id`, `ref`, `pack`, `name` and `trigger.type` (`trigger.ref` when bound).
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Insert or update by ref, keeping the existing id (written into the returned document).
    async fn upsert_rule(&self, rule: Value) -> Result<Value>;
    /// Insert only; `Error::Conflict` when the ref exists.
    async fn create_rule(&self, rule: Value) -> Result<Value>;
    /// By ref or id.
    async fn get_rule(&self, ref_or_id: &str) -> Result<Option<Value>>;
    /// Ordered by pack, then name.
    async fn list_rules(&self) -> Result<Vec<Value>>;
    async fn delete_rule(&self, ref_or_id: &str) -> Result<bool>;
}

/// How a new trigger instance joins a trace.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceWrite {
    /// A new trace holding the instance.
    New(Trace),
    /// Append the instance component to an existing trace (a new one if it is gone).
    Append {
        trace_id: String,
        component: TraceComponent,
    },
}

/// `GET /triggerinstances` filters.
#[derive(Clone, Debug, Default)]
pub struct TriggerInstanceFilter {
    /// Any of these trigger refs (empty = all).
    pub trigger: Vec<String>,
    pub status: Option<TriggerInstanceStatus>,
    pub timestamp_gt: Option<Timestamp>,
    pub timestamp_lt: Option<Timestamp>,
    pub offset: usize,
    pub limit: Option<usize>,
}

/// `GET /ruleenforcements` filters.
#[derive(Clone, Debug, Default)]
pub struct EnforcementFilter {
    /// Rule ref or id.
    pub rule: Option<String>,
    pub trigger_instance: Option<String>,
    pub execution: Option<String>,
    pub enforced_at_gt: Option<Timestamp>,
    pub enforced_at_lt: Option<Timestamp>,
    pub offset: usize,
    pub limit: Option<usize>,
}

/// `GET /traces` filters (each matches a component's object id).
#[derive(Clone, Debug, Default)]
pub struct TraceFilter {
    pub trace_tag: Option<String>,
    pub execution: Option<String>,
    pub rule: Option<String>,
    pub trigger_instance: Option<String>,
    /// Oldest first when true; newest first otherwise (StackStorm's default).
    pub sort_asc: bool,
    pub offset: usize,
    pub limit: Option<usize>,
}

/// What finishing one trigger instance writes, all at once.
#[derive(Clone, Debug)]
pub struct InstanceCompletion {
    pub instance_id: String,
    pub status: TriggerInstanceStatus,
    pub enforcements: Vec<RuleEnforcement>,
    /// The instance's trace and the rule / execution components to append to it.
    pub trace_id: Option<String>,
    pub rules: Vec<TraceComponent>,
    pub executions: Vec<TraceComponent>,
}

#[async_trait]
pub trait TriggerInstanceStore: Send + Sync {
    /// Commit a new instance (normally `pending`) and its trace membership in one transaction.
    async fn create_trigger_instance(&self, ti: &TriggerInstance, trace: TraceWrite) -> Result<()>;
    /// Move up to `max` `pending` instances to `processing`, oldest first, and return them.
    async fn claim_trigger_instances(&self, max: usize) -> Result<Vec<TriggerInstance>>;
    /// Instances in `status`, oldest first (start-up recovery of `processing` ones).
    async fn trigger_instances_with_status(
        &self,
        status: TriggerInstanceStatus,
    ) -> Result<Vec<TriggerInstance>>;
    /// Final status, enforcements and trace components in one transaction.
    async fn complete_trigger_instance(&self, done: InstanceCompletion) -> Result<()>;
    async fn get_trigger_instance(&self, id: &str) -> Result<Option<TriggerInstance>>;
    /// Page (newest `occurrence_time` first) and the total before offset/limit.
    async fn list_trigger_instances(
        &self,
        filter: &TriggerInstanceFilter,
    ) -> Result<(Vec<TriggerInstance>, u64)>;
    async fn get_rule_enforcement(&self, id: &str) -> Result<Option<RuleEnforcement>>;
    /// Page (newest first) and the total.
    async fn list_rule_enforcements(
        &self,
        filter: &EnforcementFilter,
    ) -> Result<(Vec<RuleEnforcement>, u64)>;
    async fn get_trace(&self, id: &str) -> Result<Option<Trace>>;
    /// The trace holding this trigger instance.
    async fn trace_of_trigger_instance(&self, instance_id: &str) -> Result<Option<Trace>>;
    /// The trace holding this execution.
    async fn trace_of_execution(&self, execution_id: &str) -> Result<Option<Trace>>;
    async fn list_traces(&self, filter: &TraceFilter) -> Result<(Vec<Trace>, u64)>;
}

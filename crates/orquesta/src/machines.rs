//! The workflow and task state machines: which event moves which status where.
//!
//! The tables are Orquesta's (`orquesta/machines.py`) as data. Event names carry the context
//! that decides the outcome (`task_succeeded_workflow_dormant_completed`, ...); the conductor
//! builds those names from the workflow state, these tables only map them.
use crate::status::Status;
use std::collections::HashMap;
use std::sync::OnceLock;

type Table = HashMap<(Status, &'static str), Status>;

fn build(rows: &'static [(&'static str, &'static str, &'static str)]) -> Table {
    let mut t = HashMap::new();
    for (from, event, to) in rows {
        // The rows are static data checked by the unit tests, so unknown names cannot occur.
        if let (Some(f), Some(s)) = (Status::parse(from), Status::parse(to)) {
            t.insert((f, *event), s);
        }
    }
    t
}

fn workflow_table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| build(WORKFLOW_TRANSITIONS))
}

fn task_table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| build(TASK_TRANSITIONS))
}

/// The workflow status after `event`, or `None` when the event does not apply in `current`.
pub fn workflow_transition(current: Status, event: &str) -> Option<Status> {
    workflow_table().get(&(current, event)).copied()
}

/// The task status after `event`, or `None` when the event does not apply in `current`.
pub fn task_transition(current: Status, event: &str) -> Option<Status> {
    task_table().get(&(current, event)).copied()
}

/// Whether a workflow may move from `from` to `to` by any event (or stay).
pub fn workflow_transition_valid(from: Status, to: Status) -> bool {
    from == to
        || WORKFLOW_TRANSITIONS
            .iter()
            .any(|(f, _, t)| *f == from.as_str() && *t == to.as_str())
}

/// Whether a task may move from `from` to `to` by any event (or stay).
pub fn task_transition_valid(from: Status, to: Status) -> bool {
    from == to
        || TASK_TRANSITIONS
            .iter()
            .any(|(f, _, t)| *f == from.as_str() && *t == to.as_str())
}

pub(crate) const WORKFLOW_TRANSITIONS: &[(&str, &str, &str)] = &[
    ("null", "workflow_requested", "requested"),
    ("null", "workflow_scheduled", "scheduled"),
    ("null", "workflow_delayed", "delayed"),
    ("null", "workflow_running", "running"),
    ("null", "workflow_failed", "failed"),
    ("requested", "workflow_scheduled", "scheduled"),
    ("requested", "workflow_delayed", "delayed"),
    ("requested", "workflow_running", "running"),
    ("requested", "workflow_pausing_workflow_dormant", "paused"),
    ("requested", "workflow_paused_workflow_dormant", "paused"),
    (
        "requested",
        "workflow_canceling_workflow_dormant",
        "canceled",
    ),
    (
        "requested",
        "workflow_canceled_workflow_dormant",
        "canceled",
    ),
    ("requested", "workflow_failed", "failed"),
    ("scheduled", "workflow_delayed", "delayed"),
    ("scheduled", "workflow_running", "running"),
    ("scheduled", "workflow_pausing_workflow_dormant", "paused"),
    ("scheduled", "workflow_paused_workflow_dormant", "paused"),
    (
        "scheduled",
        "workflow_canceling_workflow_dormant",
        "canceled",
    ),
    (
        "scheduled",
        "workflow_canceled_workflow_dormant",
        "canceled",
    ),
    ("scheduled", "workflow_failed", "failed"),
    ("delayed", "workflow_scheduled", "scheduled"),
    ("delayed", "workflow_running", "running"),
    ("delayed", "workflow_pausing_workflow_dormant", "paused"),
    ("delayed", "workflow_paused_workflow_dormant", "paused"),
    ("delayed", "workflow_canceling_workflow_dormant", "canceled"),
    ("delayed", "workflow_canceled_workflow_dormant", "canceled"),
    ("delayed", "workflow_failed", "failed"),
    ("running", "workflow_pausing_workflow_active", "pausing"),
    ("running", "workflow_pausing_workflow_dormant", "paused"),
    ("running", "workflow_paused_workflow_active", "pausing"),
    ("running", "workflow_paused_workflow_dormant", "paused"),
    ("running", "workflow_canceling_workflow_active", "canceling"),
    ("running", "workflow_canceling_workflow_dormant", "canceled"),
    ("running", "workflow_canceled_workflow_active", "canceling"),
    ("running", "workflow_canceled_workflow_dormant", "canceled"),
    ("running", "workflow_failed", "failed"),
    ("running", "workflow_succeeded", "succeeded"),
    ("running", "task_pending_workflow_active", "pausing"),
    ("running", "task_pending_workflow_dormant", "paused"),
    ("running", "task_pausing", "running"),
    ("running", "task_paused_workflow_active", "running"),
    ("running", "task_paused_workflow_dormant", "paused"),
    (
        "running",
        "task_succeeded_workflow_active_incomplete",
        "running",
    ),
    (
        "running",
        "task_succeeded_workflow_active_completed",
        "running",
    ),
    (
        "running",
        "task_succeeded_workflow_active_paused",
        "pausing",
    ),
    (
        "running",
        "task_succeeded_workflow_active_canceled",
        "canceling",
    ),
    (
        "running",
        "task_succeeded_workflow_dormant_incomplete",
        "running",
    ),
    (
        "running",
        "task_succeeded_workflow_dormant_completed",
        "succeeded",
    ),
    (
        "running",
        "task_succeeded_workflow_dormant_paused",
        "paused",
    ),
    (
        "running",
        "task_succeeded_workflow_dormant_canceled",
        "canceled",
    ),
    ("running", "task_failed_workflow_active", "failed"),
    ("running", "task_failed_workflow_dormant", "failed"),
    (
        "running",
        "task_remediated_workflow_active_incomplete",
        "running",
    ),
    (
        "running",
        "task_remediated_workflow_active_completed",
        "running",
    ),
    (
        "running",
        "task_remediated_workflow_active_paused",
        "pausing",
    ),
    (
        "running",
        "task_remediated_workflow_active_canceled",
        "canceling",
    ),
    (
        "running",
        "task_remediated_workflow_dormant_incomplete",
        "running",
    ),
    (
        "running",
        "task_remediated_workflow_dormant_completed",
        "succeeded",
    ),
    (
        "running",
        "task_remediated_workflow_dormant_paused",
        "paused",
    ),
    (
        "running",
        "task_remediated_workflow_dormant_canceled",
        "canceled",
    ),
    ("running", "task_canceling", "canceling"),
    ("running", "task_canceled_workflow_active", "canceling"),
    ("running", "task_canceled_workflow_dormant", "canceled"),
    ("pausing", "workflow_pausing_workflow_active", "pausing"),
    ("pausing", "workflow_pausing_workflow_dormant", "paused"),
    ("pausing", "workflow_paused_workflow_active", "pausing"),
    ("pausing", "workflow_paused_workflow_dormant", "paused"),
    ("pausing", "workflow_canceling_workflow_active", "canceling"),
    ("pausing", "workflow_canceling_workflow_dormant", "canceled"),
    ("pausing", "workflow_canceled_workflow_active", "canceling"),
    ("pausing", "workflow_canceled_workflow_dormant", "canceled"),
    ("pausing", "workflow_running", "running"),
    ("pausing", "workflow_resuming", "resuming"),
    ("pausing", "workflow_failed", "failed"),
    ("pausing", "task_pending_workflow_active", "pausing"),
    ("pausing", "task_pending_workflow_dormant", "paused"),
    ("pausing", "task_paused_workflow_active", "pausing"),
    ("pausing", "task_paused_workflow_dormant", "paused"),
    (
        "pausing",
        "task_succeeded_workflow_active_incomplete",
        "pausing",
    ),
    (
        "pausing",
        "task_succeeded_workflow_active_completed",
        "pausing",
    ),
    (
        "pausing",
        "task_succeeded_workflow_active_paused",
        "pausing",
    ),
    (
        "pausing",
        "task_succeeded_workflow_active_canceled",
        "pausing",
    ),
    (
        "pausing",
        "task_succeeded_workflow_dormant_incomplete",
        "paused",
    ),
    (
        "pausing",
        "task_succeeded_workflow_dormant_completed",
        "paused",
    ),
    (
        "pausing",
        "task_succeeded_workflow_dormant_paused",
        "paused",
    ),
    (
        "pausing",
        "task_succeeded_workflow_dormant_canceled",
        "canceled",
    ),
    ("pausing", "task_failed_workflow_active", "failed"),
    ("pausing", "task_failed_workflow_dormant", "failed"),
    (
        "pausing",
        "task_remediated_workflow_active_incomplete",
        "pausing",
    ),
    (
        "pausing",
        "task_remediated_workflow_active_completed",
        "pausing",
    ),
    (
        "pausing",
        "task_remediated_workflow_active_paused",
        "pausing",
    ),
    (
        "pausing",
        "task_remediated_workflow_active_canceled",
        "canceling",
    ),
    (
        "pausing",
        "task_remediated_workflow_dormant_incomplete",
        "paused",
    ),
    (
        "pausing",
        "task_remediated_workflow_dormant_completed",
        "paused",
    ),
    (
        "pausing",
        "task_remediated_workflow_dormant_paused",
        "paused",
    ),
    (
        "pausing",
        "task_remediated_workflow_dormant_canceled",
        "canceled",
    ),
    ("pausing", "task_canceling", "canceling"),
    ("pausing", "task_canceled_workflow_active", "canceling"),
    ("pausing", "task_canceled_workflow_dormant", "canceled"),
    ("pausing", "task_retrying_workflow_active", "pausing"),
    ("pausing", "task_retrying_workflow_dormant", "paused"),
    ("paused", "workflow_running", "running"),
    ("paused", "workflow_running_workflow_completed", "succeeded"),
    ("paused", "workflow_resuming", "resuming"),
    (
        "paused",
        "workflow_resuming_workflow_completed",
        "succeeded",
    ),
    ("paused", "workflow_canceling_workflow_dormant", "canceled"),
    ("paused", "workflow_canceled_workflow_dormant", "canceled"),
    ("paused", "workflow_failed", "failed"),
    ("paused", "task_running", "running"),
    ("paused", "task_resuming", "running"),
    ("resuming", "workflow_pausing_workflow_active", "pausing"),
    ("resuming", "workflow_pausing_workflow_dormant", "paused"),
    ("resuming", "workflow_paused_workflow_active", "pausing"),
    ("resuming", "workflow_paused_workflow_dormant", "paused"),
    (
        "resuming",
        "workflow_canceling_workflow_active",
        "canceling",
    ),
    (
        "resuming",
        "workflow_canceling_workflow_dormant",
        "canceled",
    ),
    ("resuming", "workflow_canceled_workflow_active", "canceling"),
    ("resuming", "workflow_canceled_workflow_dormant", "canceled"),
    ("resuming", "workflow_running", "running"),
    ("resuming", "workflow_failed", "failed"),
    ("resuming", "task_running", "running"),
    ("resuming", "task_pending_workflow_active", "pausing"),
    ("resuming", "task_pending_workflow_dormant", "paused"),
    (
        "resuming",
        "task_succeeded_workflow_active_incomplete",
        "running",
    ),
    (
        "resuming",
        "task_succeeded_workflow_active_completed",
        "running",
    ),
    (
        "resuming",
        "task_succeeded_workflow_dormant_incomplete",
        "running",
    ),
    (
        "resuming",
        "task_succeeded_workflow_dormant_completed",
        "succeeded",
    ),
    (
        "resuming",
        "task_succeeded_workflow_dormant_paused",
        "paused",
    ),
    (
        "resuming",
        "task_succeeded_workflow_dormant_canceled",
        "canceled",
    ),
    ("resuming", "task_failed_workflow_active", "failed"),
    ("resuming", "task_failed_workflow_dormant", "failed"),
    (
        "resuming",
        "task_remediated_workflow_active_incomplete",
        "running",
    ),
    (
        "resuming",
        "task_remediated_workflow_active_completed",
        "running",
    ),
    (
        "resuming",
        "task_remediated_workflow_dormant_incomplete",
        "running",
    ),
    (
        "resuming",
        "task_remediated_workflow_dormant_completed",
        "succeeded",
    ),
    (
        "resuming",
        "task_remediated_workflow_dormant_paused",
        "paused",
    ),
    (
        "resuming",
        "task_remediated_workflow_dormant_canceled",
        "canceled",
    ),
    ("resuming", "task_canceling", "canceling"),
    ("resuming", "task_canceled_workflow_active", "canceling"),
    ("resuming", "task_canceled_workflow_dormant", "canceled"),
    (
        "canceling",
        "workflow_canceling_workflow_active",
        "canceling",
    ),
    (
        "canceling",
        "workflow_canceling_workflow_dormant",
        "canceled",
    ),
    (
        "canceling",
        "workflow_canceled_workflow_active",
        "canceling",
    ),
    (
        "canceling",
        "workflow_canceled_workflow_dormant",
        "canceled",
    ),
    ("canceling", "workflow_failed", "failed"),
    ("canceling", "task_pending_workflow_active", "canceling"),
    ("canceling", "task_pending_workflow_dormant", "canceled"),
    ("canceling", "task_paused_workflow_active", "canceling"),
    ("canceling", "task_paused_workflow_dormant", "canceled"),
    (
        "canceling",
        "task_succeeded_workflow_active_incomplete",
        "canceling",
    ),
    (
        "canceling",
        "task_succeeded_workflow_active_completed",
        "canceling",
    ),
    (
        "canceling",
        "task_succeeded_workflow_dormant_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "task_succeeded_workflow_dormant_completed",
        "canceled",
    ),
    (
        "canceling",
        "task_succeeded_workflow_dormant_paused",
        "canceled",
    ),
    (
        "canceling",
        "task_succeeded_workflow_dormant_canceled",
        "canceled",
    ),
    ("canceling", "task_failed_workflow_active", "canceling"),
    ("canceling", "task_failed_workflow_dormant", "canceled"),
    (
        "canceling",
        "task_remediated_workflow_active_incomplete",
        "canceling",
    ),
    (
        "canceling",
        "task_remediated_workflow_active_completed",
        "canceling",
    ),
    (
        "canceling",
        "task_remediated_workflow_dormant_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "task_remediated_workflow_dormant_completed",
        "canceled",
    ),
    (
        "canceling",
        "task_remediated_workflow_dormant_paused",
        "canceled",
    ),
    (
        "canceling",
        "task_remediated_workflow_dormant_canceled",
        "canceled",
    ),
    ("canceling", "task_canceled_workflow_active", "canceling"),
    ("canceling", "task_canceled_workflow_dormant", "canceled"),
    ("canceling", "task_retrying_workflow_active", "canceling"),
    ("canceling", "task_retrying_workflow_dormant", "canceled"),
    ("succeeded", "workflow_failed", "failed"),
];
pub(crate) const TASK_TRANSITIONS: &[(&str, &str, &str)] = &[
    ("null", "action_requested", "requested"),
    ("null", "action_scheduled", "scheduled"),
    ("null", "action_delayed", "delayed"),
    ("null", "action_running", "running"),
    ("null", "action_pending", "pending"),
    ("null", "task_continue_requested", "succeeded"),
    ("null", "task_noop_requested", "succeeded"),
    ("null", "task_fail_requested", "failed"),
    ("requested", "action_scheduled", "scheduled"),
    ("requested", "action_delayed", "delayed"),
    ("requested", "action_running", "running"),
    ("requested", "action_pending", "pending"),
    ("requested", "action_pausing", "pausing"),
    ("requested", "action_paused", "paused"),
    ("requested", "action_canceling", "canceling"),
    ("requested", "action_canceled", "canceled"),
    ("requested", "action_failed", "failed"),
    ("requested", "action_timeout", "timeout"),
    ("requested", "action_abandoned", "abandoned"),
    ("scheduled", "action_delayed", "delayed"),
    ("scheduled", "action_running", "running"),
    ("scheduled", "action_pending", "pending"),
    ("scheduled", "action_pausing", "pausing"),
    ("scheduled", "action_paused", "paused"),
    ("scheduled", "action_canceling", "canceling"),
    ("scheduled", "action_canceled", "canceled"),
    ("scheduled", "action_failed", "failed"),
    ("scheduled", "action_timeout", "timeout"),
    ("scheduled", "action_abandoned", "abandoned"),
    ("delayed", "action_scheduled", "scheduled"),
    ("delayed", "action_running", "running"),
    ("delayed", "action_pending", "pending"),
    ("delayed", "action_pausing", "pausing"),
    ("delayed", "action_paused", "paused"),
    ("delayed", "action_canceling", "canceling"),
    ("delayed", "action_canceled", "canceled"),
    ("delayed", "action_failed", "failed"),
    ("delayed", "action_timeout", "timeout"),
    ("delayed", "action_abandoned", "abandoned"),
    ("running", "action_running", "running"),
    ("running", "action_pending", "pending"),
    (
        "running",
        "action_pending_task_active_items_incomplete",
        "pausing",
    ),
    (
        "running",
        "action_pending_task_dormant_items_paused",
        "paused",
    ),
    (
        "running",
        "action_pending_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "running",
        "action_pending_task_dormant_items_failed",
        "failed",
    ),
    (
        "running",
        "action_pending_task_dormant_items_incomplete",
        "paused",
    ),
    (
        "running",
        "action_pending_task_dormant_items_completed",
        "paused",
    ),
    ("running", "action_pausing", "pausing"),
    ("running", "action_paused", "paused"),
    (
        "running",
        "action_paused_task_active_items_incomplete",
        "pausing",
    ),
    (
        "running",
        "action_paused_task_dormant_items_paused",
        "paused",
    ),
    (
        "running",
        "action_paused_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "running",
        "action_paused_task_dormant_items_failed",
        "failed",
    ),
    (
        "running",
        "action_paused_task_dormant_items_incomplete",
        "paused",
    ),
    (
        "running",
        "action_paused_task_dormant_items_completed",
        "paused",
    ),
    ("running", "action_canceling", "canceling"),
    ("running", "action_canceled", "canceled"),
    (
        "running",
        "action_canceled_task_active_items_incomplete",
        "canceling",
    ),
    (
        "running",
        "action_canceled_task_dormant_items_paused",
        "canceled",
    ),
    (
        "running",
        "action_canceled_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "running",
        "action_canceled_task_dormant_items_failed",
        "canceled",
    ),
    (
        "running",
        "action_canceled_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "running",
        "action_canceled_task_dormant_items_completed",
        "canceled",
    ),
    ("running", "action_failed", "failed"),
    (
        "running",
        "action_failed_task_dormant_items_paused",
        "failed",
    ),
    (
        "running",
        "action_failed_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "running",
        "action_failed_task_dormant_items_failed",
        "failed",
    ),
    (
        "running",
        "action_failed_task_dormant_items_incomplete",
        "failed",
    ),
    (
        "running",
        "action_failed_task_dormant_items_completed",
        "failed",
    ),
    ("running", "action_timeout", "failed"),
    (
        "running",
        "action_timeout_task_dormant_items_paused",
        "failed",
    ),
    (
        "running",
        "action_timeout_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "running",
        "action_timeout_task_dormant_items_failed",
        "failed",
    ),
    (
        "running",
        "action_timeout_task_dormant_items_incomplete",
        "failed",
    ),
    (
        "running",
        "action_timeout_task_dormant_items_completed",
        "failed",
    ),
    ("running", "action_abandoned", "failed"),
    (
        "running",
        "action_abandoned_task_dormant_items_paused",
        "failed",
    ),
    (
        "running",
        "action_abandoned_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "running",
        "action_abandoned_task_dormant_items_failed",
        "failed",
    ),
    (
        "running",
        "action_abandoned_task_dormant_items_incomplete",
        "failed",
    ),
    (
        "running",
        "action_abandoned_task_dormant_items_completed",
        "failed",
    ),
    ("running", "action_succeeded", "succeeded"),
    (
        "running",
        "action_succeeded_task_active_items_incomplete",
        "running",
    ),
    (
        "running",
        "action_succeeded_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "running",
        "action_succeeded_task_dormant_items_paused",
        "paused",
    ),
    (
        "running",
        "action_succeeded_task_dormant_items_failed",
        "failed",
    ),
    (
        "running",
        "action_succeeded_task_dormant_items_incomplete",
        "running",
    ),
    (
        "running",
        "action_succeeded_task_dormant_items_completed",
        "succeeded",
    ),
    (
        "running",
        "workflow_pausing_task_active_items_incomplete",
        "pausing",
    ),
    (
        "running",
        "workflow_pausing_task_dormant_items_incomplete",
        "paused",
    ),
    (
        "running",
        "workflow_paused_task_active_items_incomplete",
        "pausing",
    ),
    (
        "running",
        "workflow_paused_task_dormant_items_incomplete",
        "paused",
    ),
    (
        "running",
        "workflow_canceling_task_active_items_incomplete",
        "canceling",
    ),
    (
        "running",
        "workflow_canceling_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "running",
        "workflow_canceled_task_active_items_incomplete",
        "canceling",
    ),
    (
        "running",
        "workflow_canceled_task_dormant_items_incomplete",
        "canceled",
    ),
    ("pending", "action_canceled", "canceled"),
    ("pending", "action_failed", "failed"),
    ("pending", "action_timeout", "failed"),
    ("pending", "action_abandoned", "failed"),
    ("pending", "action_succeeded", "succeeded"),
    (
        "pausing",
        "action_pending_task_dormant_items_paused",
        "paused",
    ),
    (
        "pausing",
        "action_pending_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "pausing",
        "action_pending_task_dormant_items_failed",
        "failed",
    ),
    (
        "pausing",
        "action_pending_task_dormant_items_incomplete",
        "paused",
    ),
    (
        "pausing",
        "action_pending_task_dormant_items_completed",
        "paused",
    ),
    ("pausing", "action_paused", "paused"),
    (
        "pausing",
        "action_paused_task_dormant_items_paused",
        "paused",
    ),
    (
        "pausing",
        "action_paused_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "pausing",
        "action_paused_task_dormant_items_failed",
        "failed",
    ),
    (
        "pausing",
        "action_paused_task_dormant_items_incomplete",
        "paused",
    ),
    (
        "pausing",
        "action_paused_task_dormant_items_completed",
        "paused",
    ),
    ("pausing", "action_resuming", "resuming"),
    ("pausing", "action_canceling", "canceling"),
    ("pausing", "action_canceled", "canceled"),
    (
        "pausing",
        "action_canceled_task_dormant_items_paused",
        "canceled",
    ),
    (
        "pausing",
        "action_canceled_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "pausing",
        "action_canceled_task_dormant_items_failed",
        "canceled",
    ),
    (
        "pausing",
        "action_canceled_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "pausing",
        "action_canceled_task_dormant_items_completed",
        "canceled",
    ),
    ("pausing", "action_failed", "failed"),
    (
        "pausing",
        "action_failed_task_dormant_items_paused",
        "failed",
    ),
    (
        "pausing",
        "action_failed_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "pausing",
        "action_failed_task_dormant_items_failed",
        "failed",
    ),
    (
        "pausing",
        "action_failed_task_dormant_items_incomplete",
        "failed",
    ),
    (
        "pausing",
        "action_failed_task_dormant_items_completed",
        "failed",
    ),
    ("pausing", "action_timeout", "failed"),
    (
        "pausing",
        "action_timeout_task_dormant_items_paused",
        "failed",
    ),
    (
        "pausing",
        "action_timeout_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "pausing",
        "action_timeout_task_dormant_items_failed",
        "failed",
    ),
    (
        "pausing",
        "action_timeout_task_dormant_items_incomplete",
        "failed",
    ),
    (
        "pausing",
        "action_timeout_task_dormant_items_completed",
        "failed",
    ),
    ("pausing", "action_abandoned", "failed"),
    (
        "pausing",
        "action_abandoned_task_dormant_items_paused",
        "failed",
    ),
    (
        "pausing",
        "action_abandoned_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "pausing",
        "action_abandoned_task_dormant_items_failed",
        "failed",
    ),
    (
        "pausing",
        "action_abandoned_task_dormant_items_incomplete",
        "failed",
    ),
    (
        "pausing",
        "action_abandoned_task_dormant_items_completed",
        "failed",
    ),
    (
        "pausing",
        "action_succeeded_task_dormant_items_paused",
        "paused",
    ),
    (
        "pausing",
        "action_succeeded_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "pausing",
        "action_succeeded_task_dormant_items_failed",
        "failed",
    ),
    (
        "pausing",
        "action_succeeded_task_dormant_items_incomplete",
        "paused",
    ),
    (
        "pausing",
        "action_succeeded_task_dormant_items_completed",
        "succeeded",
    ),
    ("paused", "action_running", "running"),
    ("paused", "action_resuming", "resuming"),
    ("paused", "action_canceling", "canceling"),
    ("paused", "action_canceled", "canceled"),
    ("resuming", "action_running", "running"),
    ("resuming", "action_canceling", "canceling"),
    ("resuming", "action_canceled", "canceled"),
    ("retrying", "action_running", "running"),
    ("retrying", "action_canceling", "canceling"),
    ("retrying", "action_canceled", "canceled"),
    ("retrying", "workflow_canceling", "canceled"),
    ("retrying", "workflow_canceled", "canceled"),
    (
        "canceling",
        "action_pending_task_dormant_items_paused",
        "canceled",
    ),
    (
        "canceling",
        "action_pending_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "canceling",
        "action_pending_task_dormant_items_failed",
        "canceled",
    ),
    (
        "canceling",
        "action_pending_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "action_pending_task_dormant_items_completed",
        "canceled",
    ),
    ("canceling", "action_paused", "canceled"),
    (
        "canceling",
        "action_paused_task_dormant_items_paused",
        "canceled",
    ),
    (
        "canceling",
        "action_paused_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "canceling",
        "action_paused_task_dormant_items_failed",
        "canceled",
    ),
    (
        "canceling",
        "action_paused_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "action_paused_task_dormant_items_completed",
        "canceled",
    ),
    ("canceling", "action_canceled", "canceled"),
    (
        "canceling",
        "action_canceled_task_dormant_items_paused",
        "canceled",
    ),
    (
        "canceling",
        "action_canceled_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "canceling",
        "action_canceled_task_dormant_items_failed",
        "canceled",
    ),
    (
        "canceling",
        "action_canceled_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "action_canceled_task_dormant_items_completed",
        "canceled",
    ),
    ("canceling", "action_failed", "failed"),
    (
        "canceling",
        "action_failed_task_dormant_items_paused",
        "canceled",
    ),
    (
        "canceling",
        "action_failed_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "canceling",
        "action_failed_task_dormant_items_failed",
        "canceled",
    ),
    (
        "canceling",
        "action_failed_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "action_failed_task_dormant_items_completed",
        "canceled",
    ),
    ("canceling", "action_timeout", "failed"),
    (
        "canceling",
        "action_timeout_task_dormant_items_paused",
        "canceled",
    ),
    (
        "canceling",
        "action_timeout_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "canceling",
        "action_timeout_task_dormant_items_failed",
        "canceled",
    ),
    (
        "canceling",
        "action_timeout_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "action_timeout_task_dormant_items_completed",
        "canceled",
    ),
    ("canceling", "action_abandoned", "failed"),
    (
        "canceling",
        "action_abandoned_task_dormant_items_paused",
        "canceled",
    ),
    (
        "canceling",
        "action_abandoned_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "canceling",
        "action_abandoned_task_dormant_items_failed",
        "canceled",
    ),
    (
        "canceling",
        "action_abandoned_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "action_abandoned_task_dormant_items_completed",
        "canceled",
    ),
    (
        "canceling",
        "action_succeeded_task_dormant_items_paused",
        "canceled",
    ),
    (
        "canceling",
        "action_succeeded_task_dormant_items_canceled",
        "canceled",
    ),
    (
        "canceling",
        "action_succeeded_task_dormant_items_failed",
        "canceled",
    ),
    (
        "canceling",
        "action_succeeded_task_dormant_items_incomplete",
        "canceled",
    ),
    (
        "canceling",
        "action_succeeded_task_dormant_items_completed",
        "succeeded",
    ),
    ("succeeded", "task_retry_requested", "retrying"),
    ("failed", "task_retry_requested", "retrying"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_use_known_statuses() {
        for (f, _, t) in WORKFLOW_TRANSITIONS.iter().chain(TASK_TRANSITIONS) {
            assert!(Status::parse(f).is_some(), "{f}");
            assert!(Status::parse(t).is_some(), "{t}");
        }
        assert_eq!(workflow_table().len(), WORKFLOW_TRANSITIONS.len());
    }

    #[test]
    fn workflow_machine() {
        use Status::*;
        assert_eq!(
            workflow_transition(Unset, "workflow_running"),
            Some(Running)
        );
        assert_eq!(
            workflow_transition(Running, "task_succeeded_workflow_dormant_completed"),
            Some(Succeeded)
        );
        assert_eq!(
            workflow_transition(Running, "task_succeeded_workflow_active_incomplete"),
            Some(Running)
        );
        assert_eq!(
            workflow_transition(Running, "workflow_pausing_workflow_active"),
            Some(Pausing)
        );
        assert_eq!(
            workflow_transition(Pausing, "task_succeeded_workflow_dormant_incomplete"),
            Some(Paused)
        );
        assert_eq!(
            workflow_transition(Paused, "workflow_resuming"),
            Some(Resuming)
        );
        assert_eq!(
            workflow_transition(Succeeded, "workflow_failed"),
            Some(Failed)
        );
        assert_eq!(workflow_transition(Failed, "workflow_running"), None);
        assert_eq!(workflow_transition(Canceled, "workflow_failed"), None);
        assert!(workflow_transition_valid(Running, Paused));
        assert!(!workflow_transition_valid(Failed, Running));
    }

    #[test]
    fn task_machine() {
        use Status::*;
        assert_eq!(task_transition(Unset, "action_running"), Some(Running));
        assert_eq!(
            task_transition(Running, "action_succeeded"),
            Some(Succeeded)
        );
        assert_eq!(task_transition(Running, "action_failed"), Some(Failed));
        assert_eq!(
            task_transition(Running, "action_succeeded_task_active_items_incomplete"),
            Some(Running)
        );
        assert_eq!(
            task_transition(Running, "action_succeeded_task_dormant_items_failed"),
            Some(Failed)
        );
        assert_eq!(
            task_transition(Unset, "task_noop_requested"),
            Some(Succeeded)
        );
        assert_eq!(task_transition(Unset, "task_fail_requested"), Some(Failed));
        assert_eq!(
            task_transition(Failed, "task_retry_requested"),
            Some(Retrying)
        );
        assert_eq!(task_transition(Retrying, "action_running"), Some(Running));
        assert_eq!(task_transition(Succeeded, "action_running"), None);
        assert!(task_transition_valid(Running, Failed));
        assert!(!task_transition_valid(Canceled, Running));
    }
}

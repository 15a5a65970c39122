//! StackStorm's built-in trigger types (events.md §2.5), all in pack `core`, with their
//! parameter and payload schemas as StackStorm declares them.

use gale_model::events::TriggerType;
use serde_json::{json, Value};

pub const WEBHOOK: &str = "core.st2.webhook";
pub const ACTION_TRIGGER: &str = "core.st2.generic.actiontrigger";
pub const NOTIFY_TRIGGER: &str = "core.st2.generic.notifytrigger";
pub const INTERVAL_TIMER: &str = "core.st2.IntervalTimer";
pub const DATE_TIMER: &str = "core.st2.DateTimer";
pub const CRON_TIMER: &str = "core.st2.CronTimer";

fn timer_payload() -> Value {
    json!({
        "type": "object",
        "properties": {
            "executed_at": {"type": "string", "format": "date-time",
                            "default": "2014-07-30 05:04:24.578325"},
            "schedule": {"type": "object", "default": {"delta": 30, "units": "seconds"}}
        }
    })
}

fn object_props(names: &[&str]) -> Value {
    let props: serde_json::Map<String, Value> =
        names.iter().map(|n| (n.to_string(), json!({}))).collect();
    json!({"type": "object", "properties": props})
}

fn tt(name: &str, description: &str, parameters: Value, payload: Value) -> TriggerType {
    let mut t = TriggerType::new("core", name);
    t.description = Some(description.to_string());
    t.parameters_schema = parameters;
    t.payload_schema = payload;
    t
}

/// Every built-in type. `actiontrigger` is left out when `action_sensor.enable` is false.
pub fn system_trigger_types(action_sensor: bool) -> Vec<TriggerType> {
    let cron_field = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
    let mut out = vec![
        tt(
            "st2.webhook",
            "Trigger type for registering webhooks that can consume arbitrary payload.",
            json!({"type": "object", "properties": {"url": {"type": "string", "required": true}},
                   "additionalProperties": false}),
            json!({"type": "object", "properties": {
                "headers": {"type": "object"},
                "body": {"anyOf": [{"type": "array"}, {"type": "object"}]}}}),
        ),
        tt(
            "st2.IntervalTimer",
            "Triggers on specified intervals. e.g. every 30s, 1week etc.",
            json!({"type": "object", "properties": {
                "timezone": {"type": "string"},
                "unit": {"enum": ["weeks", "days", "hours", "minutes", "seconds"], "required": true},
                "delta": {"type": "integer", "required": true}},
                "additionalProperties": false}),
            timer_payload(),
        ),
        tt(
            "st2.DateTimer",
            "Triggers exactly once when the current time matches the specified time. e.g. timezone:UTC date:2014-12-31 23:59:59.",
            json!({"type": "object", "properties": {
                "timezone": {"type": "string"},
                "date": {"type": "string", "format": "date-time", "required": true}},
                "additionalProperties": false}),
            timer_payload(),
        ),
        tt(
            "st2.CronTimer",
            "Triggers whenever current time matches the specified time constaints like a UNIX cron scheduler.",
            json!({"type": "object", "properties": {
                "timezone": {"type": "string"},
                "year": cron_field, "month": cron_field, "day": cron_field, "week": cron_field,
                "day_of_week": cron_field, "hour": cron_field, "minute": cron_field,
                "second": cron_field},
                "additionalProperties": false}),
            timer_payload(),
        ),
        tt(
            "st2.generic.notifytrigger",
            "Notification trigger.",
            json!({}),
            object_props(&[
                "execution_id",
                "status",
                "start_timestamp",
                "end_timestamp",
                "action_ref",
                "runner_ref",
                "channel",
                "route",
                "message",
                "data",
            ]),
        ),
        tt(
            "st2.action.file_written",
            "Trigger encapsulating action file being written on disk.",
            json!({}),
            object_props(&["ref", "file_path", "host_info"]),
        ),
        tt(
            "st2.generic.inquiry",
            "Trigger indicating a new \"inquiry\" has entered \"pending\" status",
            json!({}),
            json!({"type": "object", "properties": {
                "id": {"type": "string", "description": "ID of the new inquiry.", "required": true},
                "route": {"type": "string", "description": "An arbitrary value for allowing rules to route to proper notification channel.", "required": true}},
                "additionalProperties": false}),
        ),
        tt(
            "st2.sensor.process_spawn",
            "Trigger indicating sensor process is started up.",
            json!({}),
            object_props(&["object"]),
        ),
        tt(
            "st2.sensor.process_exit",
            "Trigger indicating sensor process is stopped.",
            json!({}),
            object_props(&["object"]),
        ),
        tt(
            "st2.key_value_pair.create",
            "Trigger encapsulating datastore item creation.",
            json!({}),
            object_props(&["object"]),
        ),
        tt(
            "st2.key_value_pair.update",
            "Trigger encapsulating datastore set action.",
            json!({}),
            object_props(&["object"]),
        ),
        tt(
            "st2.key_value_pair.value_change",
            "Trigger encapsulating a change of datastore item value.",
            json!({}),
            object_props(&["old_object", "new_object"]),
        ),
        tt(
            "st2.key_value_pair.delete",
            "Trigger encapsulating datastore item deletion.",
            json!({}),
            object_props(&["object"]),
        ),
    ];
    if action_sensor {
        out.insert(
            4,
            tt(
                "st2.generic.actiontrigger",
                "Trigger encapsulating the completion of an action execution.",
                json!({}),
                object_props(&[
                    "execution_id",
                    "status",
                    "start_timestamp",
                    "action_name",
                    "action_ref",
                    "runner_ref",
                    "parameters",
                    "result",
                ]),
            ),
        );
    }
    out
}

/// Webhook and timer types: their payloads and parameters are validated against these
/// built-in schemas, never against stored ones.
pub fn is_system_type(type_ref: &str) -> bool {
    matches!(type_ref, WEBHOOK | INTERVAL_TIMER | DATE_TIMER | CRON_TIMER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_type_is_in_core() {
        let all = system_trigger_types(true);
        assert_eq!(all.len(), 14);
        assert!(all.iter().all(|t| t.pack == "core"));
        let param: Vec<_> = all
            .iter()
            .filter(|t| t.is_parameterized())
            .map(|t| t.type_ref.as_str())
            .collect();
        assert_eq!(param, [WEBHOOK, INTERVAL_TIMER, DATE_TIMER, CRON_TIMER]);
        assert!(!system_trigger_types(false)
            .iter()
            .any(|t| t.type_ref == ACTION_TRIGGER));
    }
}

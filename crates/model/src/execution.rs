//! Executions (StackStorm's execution object; the liveaction is embedded) and their output
//! records. Serializing an [`Execution`] gives the `GET /api/v1/executions/{id}` shape before
//! secret masking (masking is an output concern, done by the API).

use crate::action::Action;
use crate::runner::RunnerType;
use crate::status::ExecStatus;
use crate::time::{serde_ts, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    #[serde(with = "serde_ts")]
    pub timestamp: Timestamp,
    pub status: ExecStatus,
}

/// The liveaction as it appears embedded in an execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveAction {
    pub id: String,
    /// The action ref.
    pub action: String,
    #[serde(default)]
    pub action_is_workflow: bool,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub callback: Map<String, Value>,
    #[serde(default)]
    pub runner_info: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub id: String,
    pub action: Action,
    pub runner: RunnerType,
    pub liveaction: LiveAction,
    pub status: ExecStatus,
    /// Request time (StackStorm's start_timestamp is the request, not the run start).
    #[serde(with = "serde_ts")]
    pub start_timestamp: Timestamp,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_ts::option"
    )]
    pub end_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<f64>,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub result: Value,
    #[serde(default)]
    pub result_size: u64,
    #[serde(default)]
    pub context: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    #[serde(default)]
    pub log: Vec<LogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
    /// Requested delay in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_type: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_instance: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Value>,
}

impl Execution {
    /// Apply a status change: checks the transition, appends to `log`, and on entering a
    /// completed status sets `end_timestamp` and `elapsed_seconds`. Returns false (and changes
    /// nothing) when the transition is not legal — callers treat that as "update ignored",
    /// as StackStorm ignores updates to completed executions.
    pub fn transition(&mut self, to: ExecStatus, at: Timestamp) -> bool {
        if !self.status.can_transition_to(to) {
            return false;
        }
        if self.status == to {
            return true;
        }
        self.status = to;
        self.log.push(LogEntry {
            timestamp: at,
            status: to,
        });
        if to.is_completed() {
            self.end_timestamp = Some(at);
            let micros = (at - self.start_timestamp).num_microseconds().unwrap_or(0);
            self.elapsed_seconds = Some(micros as f64 / 1_000_000.0);
        }
        true
    }

    /// Set the result and keep `result_size` (bytes of the serialized result) in step.
    pub fn set_result(&mut self, result: Value) {
        self.result_size = serde_json::to_string(&result)
            .map(|s| s.len() as u64)
            .unwrap_or(0);
        self.result = result;
    }

    /// The user that requested the execution (`context.user`).
    pub fn user(&self) -> Option<&str> {
        self.context.get("user").and_then(Value::as_str)
    }
}

/// One chunk of stdout/stderr captured while an execution runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub id: String,
    pub execution_id: String,
    pub action_ref: String,
    pub runner_ref: String,
    #[serde(with = "serde_ts")]
    pub timestamp: Timestamp,
    /// "stdout" or "stderr".
    pub output_type: String,
    pub data: String,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::params::ParameterSchema;
    use serde_json::json;

    pub fn sample(now: Timestamp) -> Execution {
        let action = Action {
            id: "a".into(),
            name: "noop".into(),
            pack: "core".into(),
            action_ref: "core.noop".into(),
            uid: "action:core:noop".into(),
            runner_type: "noop".into(),
            entry_point: String::new(),
            description: None,
            enabled: true,
            parameters: ParameterSchema::new(),
            output_schema: json!({}),
            notify: None,
            tags: vec![],
            metadata_file: String::new(),
        };
        let runner = RunnerType {
            id: "r".into(),
            name: "noop".into(),
            description: String::new(),
            enabled: true,
            runner_package: "noop".into(),
            runner_module: "noop".into(),
            runner_parameters: ParameterSchema::new(),
            output_key: None,
            output_schema: json!({}),
            uid: "runner_type:noop".into(),
        };
        Execution {
            id: "e".into(),
            liveaction: LiveAction {
                id: "l".into(),
                action: action.action_ref.clone(),
                action_is_workflow: false,
                parameters: Map::new(),
                callback: Map::new(),
                runner_info: Map::new(),
                notify: None,
            },
            action,
            runner,
            status: ExecStatus::Requested,
            start_timestamp: now,
            end_timestamp: None,
            elapsed_seconds: None,
            parameters: Map::new(),
            result: json!({}),
            result_size: 2,
            context: Map::new(),
            parent: None,
            children: vec![],
            log: vec![LogEntry {
                timestamp: now,
                status: ExecStatus::Requested,
            }],
            web_url: None,
            delay: None,
            trigger: None,
            trigger_type: None,
            trigger_instance: None,
            rule: None,
        }
    }

    #[test]
    fn transition_logs_and_times() {
        let t0 = crate::now();
        let mut e = sample(t0);
        assert!(e.transition(ExecStatus::Scheduled, t0));
        assert!(e.transition(ExecStatus::Running, t0));
        let t1 = t0 + chrono::Duration::milliseconds(1500);
        assert!(e.transition(ExecStatus::Succeeded, t1));
        assert_eq!(e.log.len(), 4);
        assert_eq!(e.elapsed_seconds, Some(1.5));
        assert!(!e.transition(ExecStatus::Failed, t1), "completed is final");
        assert_eq!(e.status, ExecStatus::Succeeded);
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("parent").is_none());
        assert!(v.get("children").is_none());
        assert_eq!(v["action"]["ref"], "core.noop");
        let back: Execution = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn result_size_tracks_result() {
        let mut e = sample(crate::now());
        e.set_result(json!({"stdout": "hi"}));
        assert_eq!(e.result_size, r#"{"stdout":"hi"}"#.len() as u64);
    }
}

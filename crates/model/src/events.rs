//! The event side's records (events.md §2, §5.10, §9.1) with StackStorm's API field names:
//! trigger types, triggers, trigger instances, rule enforcements and traces.
//!
//! Rules themselves are `gale_rules::Rule` (their document and checks live with the matcher);
//! storage keeps them as JSON documents.

use crate::time::{serde_ts, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A kind of event (events.md §2.1). `ref`/`uid` are computed from pack and name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriggerType {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "ref")]
    pub type_ref: String,
    #[serde(default)]
    pub uid: String,
    pub name: String,
    pub pack: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "empty_object")]
    pub payload_schema: Value,
    #[serde(default = "empty_object")]
    pub parameters_schema: Value,
    #[serde(default)]
    pub tags: Vec<Value>,
    #[serde(default)]
    pub metadata_file: String,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

fn is_empty_schema(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

impl TriggerType {
    pub fn new(pack: &str, name: &str) -> Self {
        let mut t = TriggerType {
            id: String::new(),
            type_ref: String::new(),
            uid: String::new(),
            name: name.to_string(),
            pack: pack.to_string(),
            description: None,
            payload_schema: empty_object(),
            parameters_schema: empty_object(),
            tags: Vec::new(),
            metadata_file: String::new(),
        };
        t.compute_refs();
        t
    }

    /// Sets `ref` and `uid` from pack and name (provided values are overwritten).
    pub fn compute_refs(&mut self) {
        self.type_ref = format!("{}.{}", self.pack, self.name);
        self.uid = format!("trigger_type:{}:{}", self.pack, self.name);
    }

    /// A non-empty `parameters_schema` makes the type parameterized (no shadow trigger).
    pub fn is_parameterized(&self) -> bool {
        !is_empty_schema(&self.parameters_schema)
    }
}

/// A concrete trigger rules bind to (events.md §2.2). `ref_count` is internal and never
/// serialized into API bodies by the API layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "ref")]
    pub trigger_ref: String,
    #[serde(default)]
    pub uid: String,
    pub name: String,
    pub pack: String,
    /// The trigger type ref.
    #[serde(rename = "type")]
    pub trigger_type: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub ref_count: i64,
}

impl Trigger {
    /// The shadow trigger of a parameter-less type: same pack, name and ref as the type.
    pub fn shadow(tt: &TriggerType) -> Trigger {
        Trigger {
            id: String::new(),
            trigger_ref: tt.type_ref.clone(),
            uid: String::new(),
            name: tt.name.clone(),
            pack: tt.pack.clone(),
            trigger_type: tt.type_ref.clone(),
            parameters: Map::new(),
            description: tt.description.clone(),
            ref_count: 0,
        }
    }
}

/// Trigger instance statuses (events.md §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerInstanceStatus {
    Pending,
    Processing,
    Processed,
    ProcessingFailed,
}

impl TriggerInstanceStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::ProcessingFailed => "processing_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "processed" => Self::Processed,
            "processing_failed" => Self::ProcessingFailed,
            _ => return None,
        })
    }

    pub fn is_completed(&self) -> bool {
        matches!(self, Self::Processed | Self::ProcessingFailed)
    }
}

/// One occurrence of a trigger. `trigger` is the trigger ref (not the type ref).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriggerInstance {
    pub id: String,
    pub trigger: String,
    #[serde(default = "empty_object")]
    pub payload: Value,
    #[serde(with = "serde_ts")]
    pub occurrence_time: Timestamp,
    pub status: TriggerInstanceStatus,
}

/// `succeeded` (an execution was requested) or `failed` (with `failure_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementStatus {
    Succeeded,
    Failed,
}

/// The record of one rule applied to one trigger instance (events.md §5.10).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleEnforcement {
    pub id: String,
    pub trigger_instance_id: String,
    /// `{"ref", "id", "uid"}` of the rule.
    pub rule: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub status: EnforcementStatus,
    #[serde(with = "serde_ts")]
    pub enforced_at: Timestamp,
}

impl RuleEnforcement {
    pub fn rule_ref(&self) -> &str {
        self.rule.get("ref").and_then(Value::as_str).unwrap_or("")
    }
    pub fn rule_id(&self) -> &str {
        self.rule.get("id").and_then(Value::as_str).unwrap_or("")
    }
}

/// One element of a trace (events.md §9.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceComponent {
    pub object_id: String,
    #[serde(default, rename = "ref")]
    pub component_ref: String,
    #[serde(with = "serde_ts")]
    pub updated_at: Timestamp,
    #[serde(default = "empty_object")]
    pub caused_by: Value,
}

/// Links trigger instances → rules → executions under a user-visible tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub id: String,
    #[serde(default)]
    pub uid: String,
    pub trace_tag: String,
    #[serde(default)]
    pub trigger_instances: Vec<TraceComponent>,
    #[serde(default)]
    pub rules: Vec<TraceComponent>,
    #[serde(default)]
    pub action_executions: Vec<TraceComponent>,
    #[serde(with = "serde_ts")]
    pub start_timestamp: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trigger_type_refs_and_parameterized() {
        let mut t = TriggerType::new("core", "st2.webhook");
        assert_eq!(t.type_ref, "core.st2.webhook");
        assert_eq!(t.uid, "trigger_type:core:st2.webhook");
        assert!(!t.is_parameterized());
        t.parameters_schema = json!({"type": "object", "properties": {"url": {}}});
        assert!(t.is_parameterized());
        let s = Trigger::shadow(&TriggerType::new("p", "e"));
        assert_eq!(
            (s.trigger_ref.as_str(), s.trigger_type.as_str()),
            ("p.e", "p.e")
        );
    }

    #[test]
    fn statuses_round_trip_as_stackstorm_strings() {
        for s in ["pending", "processing", "processed", "processing_failed"] {
            let st = TriggerInstanceStatus::parse(s).unwrap();
            assert_eq!(st.as_str(), s);
            assert_eq!(serde_json::to_value(st).unwrap(), json!(s));
        }
        assert!(TriggerInstanceStatus::parse("done").is_none());
        assert!(TriggerInstanceStatus::Processed.is_completed());
        assert!(!TriggerInstanceStatus::Processing.is_completed());
        let e = serde_json::to_value(EnforcementStatus::Failed).unwrap();
        assert_eq!(e, json!("failed"));
    }
}

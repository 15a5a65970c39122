//! The rule document (events.md §5.1) and registration-time validation (§5.2).

use crate::operators;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `trigger:` of a rule. Extra keys are tolerated (StackStorm ignores them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleTrigger {
    #[serde(rename = "type")]
    pub trigger_type: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// The bound trigger's ref (output only; set when the trigger is resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `action:` of a rule. No other keys are allowed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleAction {
    pub r#ref: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `type:` of a rule: `standard` or `backstop`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleType {
    #[serde(default = "standard")]
    pub r#ref: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

fn standard() -> String {
    "standard".into()
}

impl Default for RuleType {
    fn default() -> Self {
        RuleType {
            r#ref: standard(),
            parameters: Map::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// A rule in StackStorm's API shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub r#ref: String,
    #[serde(default)]
    pub pack: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Rules default to disabled (events.md §12 item 1).
    #[serde(default)]
    pub enabled: bool,
    pub trigger: RuleTrigger,
    /// Criteria key → criterion object, in document order.
    #[serde(default)]
    pub criteria: Map<String, Value>,
    pub action: RuleAction,
    #[serde(default, rename = "type")]
    pub rule_type: RuleType,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub context: Map<String, Value>,
    #[serde(default)]
    pub metadata_file: String,
}

/// What registration needs to know about the rest of the system.
pub trait RuleCatalog {
    /// `Some(parameterized)` when the trigger type exists (`parameterized` = non-empty
    /// `parameters_schema`), `None` when it does not.
    fn trigger_type(&self, type_ref: &str) -> Option<bool>;
    /// Whether the action exists.
    fn action_exists(&self, action_ref: &str) -> bool;
}

/// A rule that failed to parse or validate; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Parse(String),
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    #[error("Operator not specified for field: {0}")]
    OperatorMissing(String),
    #[error("For field: {key}, operator {op} not in list of allowed operators: {allowed}")]
    UnknownOperator {
        key: String,
        op: String,
        allowed: String,
    },
    #[error("For field: {key}, no pattern specified for operator {op}")]
    PatternMissing { key: String, op: String },
    #[error("For field: {key}, invalid regular expression for operator {op}: {message}")]
    BadPattern {
        key: String,
        op: String,
        message: String,
    },
    #[error("A simple trigger should have been created when registering triggertype. Cannot create trigger: {0}")]
    TriggerTypeMissing(String),
    #[error("Action \"{0}\" doesn't exist")]
    ActionMissing(String),
}

impl Rule {
    /// Parses a rule file (YAML or JSON). `default_pack` applies when the document has no
    /// `pack` (the pack directory for files, `default` for the API); computed fields are set.
    pub fn from_yaml(text: &str, default_pack: &str) -> Result<Rule, RuleError> {
        let value: Value =
            serde_yaml::from_str(text).map_err(|e| RuleError::Parse(e.to_string()))?;
        Rule::from_value(value, default_pack)
    }

    pub fn from_json(text: &str, default_pack: &str) -> Result<Rule, RuleError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| RuleError::Parse(e.to_string()))?;
        Rule::from_value(value, default_pack)
    }

    pub fn from_value(value: Value, default_pack: &str) -> Result<Rule, RuleError> {
        let Value::Object(map) = &value else {
            return Err(RuleError::Parse("a rule must be an object".into()));
        };
        for field in ["name", "trigger", "action"] {
            if map.get(field).is_none_or(Value::is_null) {
                return Err(RuleError::Field {
                    field: field.into(),
                    message: format!("'{field}' is a required property"),
                });
            }
        }
        // Type checks first, so the error names the field (serde's would not).
        let nested = |outer: &str, inner: &str| map.get(outer).and_then(|o| o.get(inner));
        let checks: [(&str, Option<&Value>, &str); 14] = [
            ("name", map.get("name"), "string"),
            ("pack", map.get("pack"), "string"),
            ("description", map.get("description"), "string"),
            ("enabled", map.get("enabled"), "boolean"),
            ("trigger", map.get("trigger"), "object"),
            ("trigger.type", nested("trigger", "type"), "string"),
            (
                "trigger.parameters",
                nested("trigger", "parameters"),
                "object",
            ),
            ("criteria", map.get("criteria"), "object"),
            ("action", map.get("action"), "object"),
            ("action.ref", nested("action", "ref"), "string"),
            (
                "action.parameters",
                nested("action", "parameters"),
                "object",
            ),
            ("type", map.get("type"), "object"),
            ("tags", map.get("tags"), "array"),
            ("context", map.get("context"), "object"),
        ];
        for (field, value, ty) in checks {
            let Some(v) = value else { continue };
            let ok = match ty {
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                "array" => v.is_array(),
                _ => v.is_object(),
            };
            if !ok {
                return Err(RuleError::Field {
                    field: field.into(),
                    message: format!("{} is not of type '{ty}'", crate::pyval::py_repr(v)),
                });
            }
        }
        for (field, inner) in [("trigger", "type"), ("action", "ref")] {
            if nested(field, inner).is_none() {
                return Err(RuleError::Field {
                    field: format!("{field}.{inner}"),
                    message: format!("'{inner}' is a required property"),
                });
            }
        }
        let mut rule: Rule =
            serde_json::from_value(value).map_err(|e| RuleError::Parse(e.to_string()))?;
        if rule.pack.is_empty() {
            rule.pack = default_pack.to_string();
        }
        rule.compute_refs();
        Ok(rule)
    }

    /// Parses a rule file of pack directory `pack`; a file naming another pack is rejected.
    pub fn from_pack_file(text: &str, pack: &str) -> Result<Rule, RuleError> {
        let rule = Rule::from_yaml(text, pack)?;
        if rule.pack != pack {
            return Err(RuleError::Field {
                field: "pack".into(),
                message: format!(
                    "Model is in pack \"{pack}\" but field \"pack\" is different: {}",
                    rule.pack
                ),
            });
        }
        Ok(rule)
    }

    /// Sets `ref` and `uid` from pack and name (provided values are overwritten).
    pub fn compute_refs(&mut self) {
        self.r#ref = format!("{}.{}", self.pack, self.name);
        self.uid = format!("rule:{}:{}", self.pack, self.name);
    }

    /// `{ref, id, uid}` as stored in rule enforcement records (events.md §5.10).
    pub fn enforcement_ref(&self) -> Value {
        serde_json::json!({"ref": self.r#ref, "id": self.id, "uid": self.uid})
    }

    pub fn is_backstop(&self) -> bool {
        self.rule_type.r#ref == "backstop"
    }

    /// The trigger ref the rule is bound to: the resolved `trigger.ref`, else the type ref
    /// (which is the shadow trigger's ref for parameter-less types).
    pub fn trigger_ref(&self) -> &str {
        self.trigger
            .r#ref
            .as_deref()
            .unwrap_or(&self.trigger.trigger_type)
    }

    /// Registration checks (events.md §5.2) that do not need the store.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.name.trim().is_empty() {
            return Err(RuleError::Field {
                field: "name".into(),
                message: "must not be empty".into(),
            });
        }
        if self.trigger.trigger_type.is_empty() {
            return Err(RuleError::Field {
                field: "trigger.type".into(),
                message: "must not be empty".into(),
            });
        }
        if self.action.r#ref.is_empty() {
            return Err(RuleError::Field {
                field: "action.ref".into(),
                message: "must not be empty".into(),
            });
        }
        if !matches!(self.rule_type.r#ref.as_str(), "standard" | "backstop") {
            return Err(RuleError::Field {
                field: "type.ref".into(),
                message: format!(
                    "'{}' is not one of ['standard', 'backstop']",
                    self.rule_type.r#ref
                ),
            });
        }
        validate_criteria(&self.criteria)
    }

    /// [`Rule::validate`] plus the checks against existing trigger types and actions.
    pub fn validate_with(&self, catalog: &dyn RuleCatalog) -> Result<(), RuleError> {
        self.validate()?;
        match catalog.trigger_type(&self.trigger.trigger_type) {
            Some(_) => {}
            // An unknown parameterized type is accepted (a trigger of it is created).
            None if !self.trigger.parameters.is_empty() => {}
            None => {
                return Err(RuleError::TriggerTypeMissing(
                    self.trigger.trigger_type.clone(),
                ))
            }
        }
        if !catalog.action_exists(&self.action.r#ref) {
            return Err(RuleError::ActionMissing(self.action.r#ref.clone()));
        }
        Ok(())
    }
}

/// Top-level criteria checks; `search` children are not validated (as in StackStorm).
pub fn validate_criteria(criteria: &Map<String, Value>) -> Result<(), RuleError> {
    for (key, criterion) in criteria {
        let Value::Object(c) = criterion else {
            return Err(RuleError::Field {
                field: format!("criteria.{key}"),
                message: format!(
                    "{} is not of type 'object'",
                    crate::pyval::py_str(criterion)
                ),
            });
        };
        let op = match c.get("type") {
            None | Some(Value::Null) => return Err(RuleError::OperatorMissing(key.clone())),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(RuleError::UnknownOperator {
                    key: key.clone(),
                    op: crate::pyval::py_str(other),
                    allowed: allowed_list(),
                })
            }
        };
        if !operators::is_known(op) {
            return Err(RuleError::UnknownOperator {
                key: key.clone(),
                op: op.to_string(),
                allowed: allowed_list(),
            });
        }
        let pattern = match c.get("pattern") {
            None | Some(Value::Null) => {
                return Err(RuleError::PatternMissing {
                    key: key.clone(),
                    op: op.to_string(),
                })
            }
            Some(p) => p,
        };
        // Gale extra: a literal regex that can never compile is reported now, not per event.
        if let (Value::String(p), "regex" | "iregex" | "matchregex") = (pattern, op) {
            if !p.contains("{{") && !p.contains("{%") {
                operators::strings::validate_python_regex(p).map_err(|message| {
                    RuleError::BadPattern {
                        key: key.clone(),
                        op: op.to_string(),
                        message,
                    }
                })?;
            }
        }
    }
    Ok(())
}

fn allowed_list() -> String {
    let names: Vec<String> = operators::OPERATOR_NAMES
        .iter()
        .map(|n| format!("'{n}'"))
        .collect();
    format!("[{}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "
name: on_push
trigger:
  type: core.st2.webhook
  parameters: {url: x}
criteria:
  trigger.body.ref:
    type: startswith
    pattern: refs/heads/
action:
  ref: ci.build
";

    #[test]
    fn defaults_and_computed_fields() {
        let r = Rule::from_yaml(DOC, "examples").unwrap();
        assert_eq!(r.r#ref, "examples.on_push");
        assert_eq!(r.uid, "rule:examples:on_push");
        assert!(!r.enabled);
        assert_eq!(r.rule_type.r#ref, "standard");
        r.validate().unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["type"]["ref"], "standard");
        assert_eq!(json["trigger"]["type"], "core.st2.webhook");
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = Rule::from_yaml(&format!("{DOC}enabled: 'yes'\n"), "p").unwrap_err();
        assert_eq!(e.to_string(), "enabled: 'yes' is not of type 'boolean'");
        let e = Rule::from_yaml(
            "name: x\ntrigger: {parameters: {}}\naction: {ref: a.b}\n",
            "p",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "trigger.type: 'type' is a required property");
        let e = Rule::from_yaml(
            "name: x\ntrigger: {type: t}\naction: {ref: a.b}\ncriteria: [1]\n",
            "p",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "criteria: [1] is not of type 'object'");
        let e = Rule::from_pack_file(&format!("{DOC}pack: other\n"), "mine").unwrap_err();
        assert!(e.to_string().starts_with("pack: "), "{e}");
        assert_eq!(Rule::from_pack_file(DOC, "mine").unwrap().pack, "mine");
    }

    #[test]
    fn unknown_top_level_key_and_missing_parts() {
        assert!(Rule::from_yaml(&format!("{DOC}bogus: 1\n"), "p").is_err());
        let e = Rule::from_yaml("name: x\naction: {ref: a.b}\n", "p").unwrap_err();
        assert!(e.to_string().contains("trigger"), "{e}");
        let e = Rule::from_yaml("name: x\ntrigger: {type: a.b}\n", "p").unwrap_err();
        assert!(e.to_string().contains("action"), "{e}");
        assert!(Rule::from_yaml(
            "name: x\ntrigger: {type: a.b}\naction: {ref: a, x: 1}\n",
            "p"
        )
        .is_err());
    }

    fn crit(yaml: &str) -> Result<(), RuleError> {
        let m: Map<String, Value> = serde_yaml::from_str(yaml).unwrap();
        validate_criteria(&m)
    }

    #[test]
    fn criteria_messages() {
        assert_eq!(
            crit("k: {pattern: 1}").unwrap_err().to_string(),
            "Operator not specified for field: k"
        );
        let e = crit("k: {type: Equals, pattern: 1}")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "For field: k, operator Equals not in list of allowed operators: ['matchwildcard'"
            ),
            "{e}"
        );
        assert_eq!(
            crit("k: {type: exists}").unwrap_err().to_string(),
            "For field: k, no pattern specified for operator exists"
        );
        assert!(matches!(
            crit("k: {type: regex, pattern: '('}"),
            Err(RuleError::BadPattern { .. })
        ));
        crit("k: {type: regex, pattern: '{{ trigger.x }}('}").unwrap();
        crit("k: {type: search, condition: any, pattern: {item.x: {type: bogus}}}").unwrap();
    }

    struct Cat;
    impl RuleCatalog for Cat {
        fn trigger_type(&self, t: &str) -> Option<bool> {
            (t == "core.st2.webhook").then_some(true)
        }
        fn action_exists(&self, a: &str) -> bool {
            a == "ci.build"
        }
    }

    #[test]
    fn catalog_checks() {
        let r = Rule::from_yaml(DOC, "p").unwrap();
        r.validate_with(&Cat).unwrap();
        let mut bad = r.clone();
        bad.action.r#ref = "ci.nope".into();
        assert_eq!(
            bad.validate_with(&Cat).unwrap_err().to_string(),
            "Action \"ci.nope\" doesn't exist"
        );
        let mut t = r.clone();
        t.trigger.trigger_type = "x.y".into();
        t.validate_with(&Cat).unwrap(); // parameterized unknown type accepted
        t.trigger.parameters.clear();
        assert!(matches!(
            t.validate_with(&Cat),
            Err(RuleError::TriggerTypeMissing(_))
        ));
    }
}

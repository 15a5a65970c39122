//! Parameter definitions in StackStorm's JSON-schema dialect (actions.md §1.2).
//!
//! A definition is kept as the raw JSON object so every draft-4 keyword survives; the
//! StackStorm extensions (`required` inside the property, `immutable`, `secret`, `position`)
//! are read through accessors.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// One parameter's definition. `null` or `{}` means "any type".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamSpec(pub Map<String, Value>);

impl Serialize for ParamSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ParamSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // StackStorm accepts `name: null` as "any type".
        match Option::<Map<String, Value>>::deserialize(d)? {
            Some(m) => Ok(ParamSpec(m)),
            None => Ok(ParamSpec(Map::new())),
        }
    }
}

impl ParamSpec {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
    /// The declared `type`, when it is a single type name.
    pub fn type_name(&self) -> Option<&str> {
        self.0.get("type").and_then(Value::as_str)
    }
    pub fn default_value(&self) -> Option<&Value> {
        self.0.get("default")
    }
    pub fn has_default(&self) -> bool {
        self.0.contains_key("default")
    }
    pub fn flag(&self, key: &str) -> bool {
        self.0.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
    pub fn required(&self) -> bool {
        self.flag("required")
    }
    pub fn immutable(&self) -> bool {
        self.flag("immutable")
    }
    pub fn secret(&self) -> bool {
        self.flag("secret")
    }
    /// `position` for shell-script style runners (non-negative number).
    pub fn position(&self) -> Option<f64> {
        self.0.get("position").and_then(Value::as_f64)
    }
    pub fn enum_values(&self) -> Option<&Vec<Value>> {
        self.0.get("enum").and_then(Value::as_array)
    }
    pub fn description(&self) -> Option<&str> {
        self.0.get("description").and_then(Value::as_str)
    }
}

/// Parameter name → definition, in declaration order.
pub type ParameterSchema = IndexMap<String, ParamSpec>;

/// The effective parameter set of an action: runner parameters deep-updated with the action's
/// definitions (actions.md §1.3). Names in both are runner parameters.
pub fn merge_schemas(runner: &ParameterSchema, action: &ParameterSchema) -> ParameterSchema {
    let mut merged = runner.clone();
    for (name, spec) in action {
        match merged.get_mut(name) {
            Some(base) => {
                for (k, v) in &spec.0 {
                    deep_update(base.0.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            None => {
                merged.insert(name.clone(), spec.clone());
            }
        }
    }
    merged
}

fn deep_update(target: &mut Value, src: &Value) {
    match (target, src) {
        (Value::Object(t), Value::Object(s)) => {
            for (k, v) in s {
                deep_update(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, s) => *t = s.clone(),
    }
}

/// The mask StackStorm shows instead of secret values.
pub const MASKED: &str = "********";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> ParameterSchema {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn accessors_read_extensions() {
        let s = schema(
            json!({"cmd": {"type": "string", "required": true, "position": 0, "secret": true}, "any": null}),
        );
        assert_eq!(s["cmd"].type_name(), Some("string"));
        assert!(s["cmd"].required());
        assert!(s["cmd"].secret());
        assert!(!s["cmd"].immutable());
        assert_eq!(s["cmd"].position(), Some(0.0));
        assert_eq!(s["any"], ParamSpec::default());
    }

    #[test]
    fn merge_keeps_runner_attributes_and_order() {
        let runner = schema(
            json!({"cmd": {"type": "string"}, "sudo": {"type": "boolean", "default": false, "description": "x"}}),
        );
        let action = schema(json!({"sudo": {"immutable": true}, "message": {"type": "string"}}));
        let m = merge_schemas(&runner, &action);
        let names: Vec<_> = m.keys().cloned().collect();
        assert_eq!(names, ["cmd", "sudo", "message"]);
        assert_eq!(m["sudo"].type_name(), Some("boolean"));
        assert_eq!(m["sudo"].default_value(), Some(&json!(false)));
        assert!(m["sudo"].immutable());
    }
}

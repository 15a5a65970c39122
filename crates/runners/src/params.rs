//! Typed reads of final runner/action parameters. Parameters normally arrive validated, but
//! runners must not trust that: a wrong type becomes a [`ParamError`] (execution `failed`),
//! never a panic.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("Parameter \"{name}\" must be {expected}, got {got}")]
    WrongType {
        name: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("Environment variable \"{name}\" in parameter \"env\" must be a string, got {got}")]
    EnvValue { name: String, got: &'static str },
}

/// JSON type name of a value, for messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong(name: &str, expected: &'static str, v: &Value) -> ParamError {
    ParamError::WrongType {
        name: name.to_string(),
        expected,
        got: json_type(v),
    }
}

/// Seconds as a `Duration`, capped at about 30 years so absurd values cannot overflow the
/// clock arithmetic (which would panic).
pub fn seconds_to_duration(seconds: f64) -> Duration {
    const MAX_SECONDS: f64 = 1.0e9;
    if seconds.is_nan() || seconds <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(seconds.min(MAX_SECONDS))
}

/// Reads parameters by name; `null` counts as absent.
pub struct Params<'a>(pub &'a Map<String, Value>);

impl<'a> Params<'a> {
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        match self.0.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn string(&self, name: &str) -> Result<Option<&'a str>, ParamError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(wrong(name, "a string", v)),
        }
    }

    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        match self.raw(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(wrong(name, "a boolean", v)),
        }
    }

    /// A non-negative number of seconds (integers and floats accepted).
    pub fn seconds(&self, name: &str) -> Result<Option<f64>, ParamError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() => Ok(Some(f.max(0.0))),
                _ => Err(wrong(name, "a number", v)),
            },
            Some(v) => Err(wrong(name, "a number", v)),
        }
    }

    pub fn object(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, ParamError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(v) => Err(wrong(name, "an object", v)),
        }
    }

    pub fn string_list(&self, name: &str) -> Result<Vec<String>, ParamError> {
        match self.raw(name) {
            None => Ok(Vec::new()),
            Some(v @ Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(wrong(name, "an array of strings", v)),
                })
                .collect(),
            Some(v) => Err(wrong(name, "an array of strings", v)),
        }
    }

    /// The `env` runner parameter: an object whose values are all strings.
    pub fn env(&self, name: &str) -> Result<BTreeMap<String, String>, ParamError> {
        let mut out = BTreeMap::new();
        if let Some(obj) = self.object(name)? {
            for (k, v) in obj {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => {
                        return Err(ParamError::EnvValue {
                            name: k.clone(),
                            got: json_type(other),
                        })
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_reads_and_errors() {
        let m = json!({"s": "x", "b": true, "n": 1.5, "i": 3, "o": {"k": "v"}, "bad_env": {"k": 1},
                       "l": ["a"], "nul": null})
        .as_object()
        .unwrap()
        .clone();
        let p = Params(&m);
        assert_eq!(p.string("s").unwrap(), Some("x"));
        assert_eq!(p.string("nul").unwrap(), None);
        assert_eq!(p.string("missing").unwrap(), None);
        assert!(p.boolean("b", false).unwrap());
        assert!(p.boolean("missing", true).unwrap());
        assert_eq!(p.seconds("n").unwrap(), Some(1.5));
        assert_eq!(p.seconds("i").unwrap(), Some(3.0));
        assert_eq!(p.string_list("l").unwrap(), vec!["a".to_string()]);
        assert_eq!(p.env("o").unwrap().get("k").map(String::as_str), Some("v"));
        assert_eq!(
            p.string("i").unwrap_err().to_string(),
            "Parameter \"i\" must be a string, got integer"
        );
        assert_eq!(
            p.seconds("s").unwrap_err().to_string(),
            "Parameter \"s\" must be a number, got string"
        );
        assert_eq!(
            p.env("bad_env").unwrap_err().to_string(),
            "Environment variable \"k\" in parameter \"env\" must be a string, got integer"
        );
        assert!(p.boolean("s", false).is_err());
        assert_eq!(seconds_to_duration(1.5), Duration::from_millis(1500));
        assert_eq!(seconds_to_duration(-3.0), Duration::ZERO);
        assert_eq!(
            seconds_to_duration(1e300),
            Duration::from_secs(1_000_000_000)
        );
        assert!(p.object("l").is_err());
    }
}

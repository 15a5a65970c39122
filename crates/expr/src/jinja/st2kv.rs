//! `st2kv.system.key` / `st2kv.user.key` in StackStorm `render_values` templates: attribute
//! access builds the key name, and the value is read from the engine's provider only when the
//! template prints or filters it (like StackStorm's `KeyValueLookup`).

use super::convert::py_err;
use minijinja::value::{Object, ObjectRepr, Value};
use serde_json::Value as Json;
use std::fmt;
use std::sync::Arc;

/// The `st2kv` global: `st2kv.system` and `st2kv.user`.
#[derive(Debug)]
pub struct KvRoot;

impl Object for KvRoot {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            scope @ ("system" | "user") => Some(Value::from_object(KvLookup {
                scope: scope.to_string(),
                key: String::new(),
            })),
            _ => None,
        }
    }
}

/// A (possibly partial) datastore key: `st2kv.system.a.b` is key `a.b` in scope `system`.
#[derive(Debug)]
pub struct KvLookup {
    pub scope: String,
    pub key: String,
}

impl KvLookup {
    /// The datastore value; a missing key reads as an empty string, as in StackStorm.
    pub fn resolve(&self) -> Result<Json, minijinja::Error> {
        if self.key.is_empty() {
            return Ok(Json::String(String::new()));
        }
        let full = format!("{}.{}", self.scope, self.key);
        super::with_fctx(|f| match f.provider.st2kv(&full, false) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(Json::String(String::new())),
            Err(e) => Err(py_err("ExpressionEvaluationException", e)),
        })
    }
}

impl Object for KvLookup {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let k = key.as_str()?;
        let key = if self.key.is_empty() {
            k.to_string()
        } else {
            format!("{}.{}", self.key, k)
        };
        Some(Value::from_object(KvLookup {
            scope: self.scope.clone(),
            key,
        }))
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.resolve() {
            Ok(v) => f.write_str(&crate::functions::python::py_str(&v)),
            Err(_) => Err(fmt::Error),
        }
    }
}

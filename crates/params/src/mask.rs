//! Secret masking for API output and logs (actions.md §1.4, §2.6). Values are stored unmasked;
//! these functions produce the masked copy.

use gale_model::params::{ParameterSchema, MASKED};
use gale_model::{Action, RunnerType};
use gale_packs::schema::output_schema_is_valid;
use indexmap::IndexMap;
use serde_json::{json, Map, Value};

/// Where secrets are inside one parameter value (StackStorm's `get_secret_parameters` result).
#[derive(Debug, Clone, PartialEq)]
pub enum Secret {
    /// The whole value is secret.
    Whole,
    /// Some properties of an object are (or contain) secrets.
    Properties(IndexMap<String, Secret>),
    /// Every element of an array is masked by each of these.
    Items(Vec<Secret>),
}

fn secrets_within(spec: &Map<String, Value>) -> Option<Secret> {
    match spec.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut out = IndexMap::new();
            if let Some(Value::Object(props)) = spec.get("properties") {
                for (name, sub) in props {
                    if let Some(s) = sub.as_object().and_then(secret_of) {
                        out.insert(name.clone(), s);
                    }
                }
            }
            (!out.is_empty()).then_some(Secret::Properties(out))
        }
        Some("array") => {
            let items = spec.get("items").and_then(Value::as_object)?;
            secret_of(items).map(|s| Secret::Items(vec![s]))
        }
        _ => None,
    }
}

fn secret_of(spec: &Map<String, Value>) -> Option<Secret> {
    if spec.get("secret").and_then(Value::as_bool).unwrap_or(false) {
        return Some(Secret::Whole);
    }
    secrets_within(spec)
}

/// Secret parameters of an action: the action's definitions overlaid (whole definitions, not
/// merged) by the runner's, as StackStorm builds the masking spec.
pub fn secret_parameters(runner: &RunnerType, action: &Action) -> IndexMap<String, Secret> {
    let mut specs: ParameterSchema = action.parameters.clone();
    for (k, v) in &runner.runner_parameters {
        specs.insert(k.clone(), v.clone());
    }
    specs
        .iter()
        .filter_map(|(name, spec)| secret_of(&spec.0).map(|s| (name.clone(), s)))
        .collect()
}

fn apply(value: &mut Value, secret: &Secret) {
    match secret {
        Secret::Whole => *value = json!(MASKED),
        Secret::Properties(props) => {
            if let Value::Object(map) = value {
                for (k, s) in props {
                    if let Some(v) = map.get_mut(k) {
                        apply(v, s);
                    }
                }
            }
        }
        Secret::Items(subs) => {
            if let Value::Array(items) = value {
                for s in subs {
                    items.iter_mut().for_each(|item| apply(item, s));
                }
            }
        }
    }
}

/// A copy of execution parameters with secrets replaced by `********`.
pub fn mask_parameters(
    runner: &RunnerType,
    action: &Action,
    params: &Map<String, Value>,
) -> Map<String, Value> {
    let secrets = secret_parameters(runner, action);
    let mut out = params.clone();
    for (name, s) in &secrets {
        if let Some(v) = out.get_mut(name) {
            apply(v, s);
        }
    }
    out
}

/// An inquiry response with the properties its schema marks `secret: true` masked.
pub fn mask_inquiry_response(response: &Value, schema: &Value) -> Value {
    let mut out = response.clone();
    if let (Some(map), Some(props)) = (
        out.as_object_mut(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for (name, spec) in props {
            if spec.get("secret").and_then(Value::as_bool) == Some(true) && map.contains_key(name) {
                map.insert(name.clone(), json!(MASKED));
            }
        }
    }
    out
}

/// A copy of an execution result with `result[<runner output_key>]` masked by the action's
/// `output_schema` (legacy schemas without `type` count as an object's `properties`).
pub fn mask_result(runner: &RunnerType, action: &Action, result: &Value) -> Value {
    let mut out = result.clone();
    let Some(key) = runner.output_key.as_deref().filter(|k| !k.is_empty()) else {
        return out;
    };
    let schema = &action.output_schema;
    let schema_empty = match schema {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    if schema_empty {
        return out;
    }
    let Some(target) = out.as_object_mut().and_then(|o| o.get_mut(key)) else {
        return out;
    };
    if output_schema_is_valid(schema) {
        mask_by_schema(schema, target);
    } else if schema.is_object() {
        let normalized =
            json!({"type": "object", "properties": schema, "additionalProperties": true});
        if output_schema_is_valid(&normalized) {
            mask_by_schema(&normalized, target);
        }
    }
    out
}

/// StackStorm's `_get_masked_value`, walking `properties`, `patternProperties`,
/// `additionalProperties`, `items` and `additionalItems`.
pub fn mask_by_schema(spec: &Value, value: &mut Value) {
    let Some(spec) = spec.as_object() else {
        return;
    };
    if spec.get("secret").and_then(Value::as_bool).unwrap_or(false) {
        *value = json!(MASKED);
        return;
    }
    match spec.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Value::Object(map) = value else {
                return;
            };
            let mut unhandled: Vec<String> = map.keys().cloned().collect();
            if let Some(Value::Object(props)) = spec.get("properties") {
                for (k, sub) in props {
                    if let Some(v) = map.get_mut(k) {
                        mask_by_schema(sub, v);
                    }
                }
                unhandled.retain(|k| !props.contains_key(k));
            }
            if let Some(Value::Object(patterns)) = spec.get("patternProperties") {
                for (pattern, sub) in patterns {
                    if unhandled.is_empty() {
                        break;
                    }
                    let Ok(re) = regex::Regex::new(pattern) else {
                        continue;
                    };
                    let mut still = Vec::new();
                    for k in unhandled.drain(..) {
                        if re.is_match(&k) {
                            if let Some(v) = map.get_mut(&k) {
                                mask_by_schema(sub, v);
                            }
                        } else {
                            still.push(k);
                        }
                    }
                    unhandled = still;
                }
            }
            if let Some(additional @ Value::Object(_)) = spec.get("additionalProperties") {
                for k in &unhandled {
                    if let Some(v) = map.get_mut(k) {
                        mask_by_schema(additional, v);
                    }
                }
            }
        }
        Some("array") => {
            let Value::Array(items) = value else {
                return;
            };
            let count = items.len();
            let handled = match spec.get("items") {
                Some(Value::Array(schemas)) => {
                    for (i, s) in schemas.iter().enumerate().take(count) {
                        mask_by_schema(s, &mut items[i]);
                    }
                    schemas.len()
                }
                Some(s) => {
                    items.iter_mut().for_each(|item| mask_by_schema(s, item));
                    count
                }
                None => count,
            };
            if handled < count {
                if let Some(additional @ Value::Object(_)) = spec.get("additionalItems") {
                    for item in items.iter_mut().skip(handled) {
                        mask_by_schema(additional, item);
                    }
                }
            }
        }
        _ => {}
    }
}

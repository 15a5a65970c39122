//! Validation of rendered parameters against the merged runner+action schema (§2.2), and the
//! immutable-override check (§2.1 step 5).

use super::Error;
use gale_model::params::{merge_schemas, ParameterSchema};
use gale_model::{Action, RunnerType};
use gale_packs::{pyfmt, schema};
use serde_json::{json, Map, Value};

/// A definition with no keywords means "any type" (StackStorm substitutes this schema).
fn any_type() -> Value {
    json!({"anyOf": [
        {"type": "array"}, {"type": "boolean"}, {"type": "integer"},
        {"type": "number"}, {"type": "object"}, {"type": "string"}
    ]})
}

/// The merged parameter schema of an action (runner parameters deep-updated with the action's
/// definitions), after re-checking the runner-override rule as StackStorm does every time.
pub fn merged_parameters(runner: &RunnerType, action: &Action) -> Result<ParameterSchema, Error> {
    gale_packs::check_runner_overrides(
        &action.action_ref,
        &action.parameters,
        &runner.runner_parameters,
    )
    .map_err(|e| Error::Definition(e.reason))?;
    Ok(merge_schemas(&runner.runner_parameters, &action.parameters))
}

/// The JSON schema StackStorm validates execution parameters with:
/// `{"type": "object", "properties": ..., "additionalProperties": false}`, or `{}` (anything
/// goes) when neither runner nor action declares a parameter.
pub fn parameters_schema(runner: &RunnerType, action: &Action) -> Result<Value, Error> {
    let merged = merged_parameters(runner, action)?;
    if merged.is_empty() {
        return Ok(json!({}));
    }
    let props: Map<String, Value> = merged
        .into_iter()
        .map(|(k, v)| {
            let spec = if v.0.is_empty() {
                any_type()
            } else {
                Value::Object(v.0)
            };
            (k, spec)
        })
        .collect();
    Ok(json!({"type": "object", "properties": props, "additionalProperties": false}))
}

fn type_of(schema: &Value) -> Option<&Value> {
    schema.get("type")
}

fn is_type(t: Option<&Value>, name: &str) -> bool {
    match t {
        Some(Value::String(s)) => s == name,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(name)),
        _ => false,
    }
}

fn nullable(types: &Value) -> bool {
    match types {
        Value::Array(items) => items.iter().any(|t| match t {
            Value::String(s) => s == "null",
            Value::Object(o) => o.get("type").and_then(Value::as_str).unwrap_or("string") == "null",
            _ => false,
        }),
        Value::Object(o) => o.get("type").and_then(Value::as_str).unwrap_or("string") == "null",
        Value::String(s) => s == "null",
        _ => false,
    }
}

/// StackStorm's `modify_schema_allow_default_none`: optional properties, and properties whose
/// default is `null`, also accept `null` (recursively into nested objects and array items).
pub fn allow_default_none(schema: &mut Value) {
    let Some(Value::Object(props)) = schema.get_mut("properties") else {
        return;
    };
    for prop in props.values_mut() {
        let Some(obj) = prop.as_object_mut() else {
            continue;
        };
        let optional = !obj
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let has_default = obj.contains_key("default");
        let default_is_none = obj.get("default").map(Value::is_null).unwrap_or(true);
        if (has_default || optional) && default_is_none {
            if let Some(Value::Array(any)) = obj.get_mut("anyOf") {
                if !nullable(&Value::Array(any.clone())) {
                    any.push(json!({"type": "null"}));
                }
            } else if let Some(Value::Array(one)) = obj.get_mut("oneOf") {
                if !nullable(&Value::Array(one.clone())) {
                    one.push(json!({"type": "null"}));
                }
            } else if let Some(Value::Array(types)) = obj.get_mut("type") {
                if !nullable(&Value::Array(types.clone())) {
                    types.push(json!("null"));
                }
            } else if !obj.contains_key("anyOf") && !obj.contains_key("oneOf") {
                let t = obj.get("type").cloned().unwrap_or(json!("string"));
                if !nullable(&t) {
                    obj.insert("type".into(), json!([t, "null"]));
                }
            }
        }
        let attr_type = obj.get("type").cloned();
        let has_item_props = obj
            .get("items")
            .and_then(|i| i.get("properties"))
            .and_then(Value::as_object)
            .map(|p| !p.is_empty())
            .unwrap_or(false);
        if is_type(attr_type.as_ref(), "array") && has_item_props {
            if let Some(items) = obj.get_mut("items") {
                allow_default_none(items);
            }
        }
        let has_props = obj
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| !p.is_empty())
            .unwrap_or(false);
        if is_type(attr_type.as_ref(), "object") && has_props {
            allow_default_none(prop);
        }
    }
}

/// StackStorm's `assign_default_values`: fill defaults for missing/`null` properties,
/// recursively into present nested objects and arrays.
pub fn assign_defaults(instance: &mut Value, schema: &Value) {
    match (instance, type_of(schema).and_then(Value::as_str)) {
        (inst @ Value::Object(_), Some("object")) => assign_object(inst, schema),
        (inst @ Value::Array(_), Some("array")) => assign_array(inst, schema),
        _ => {}
    }
}

fn assign_object(instance: &mut Value, schema: &Value) {
    let Some(map) = instance.as_object_mut() else {
        return;
    };
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let deps = schema.get("dependencies").and_then(Value::as_object);
    for (name, prop) in props {
        let mut has_default = prop.get("default").is_some();
        if has_default {
            if let Some(Value::Array(required)) = deps.and_then(|d| d.get(name)) {
                for r in required.iter().filter_map(Value::as_str) {
                    if props.get(r).and_then(|p| p.get("default")).is_some() {
                        continue;
                    }
                    if !map.contains_key(r) {
                        has_default = false;
                        break;
                    }
                }
            }
        }
        if has_default && map.get(name).map(Value::is_null).unwrap_or(true) {
            map.insert(name.clone(), prop["default"].clone());
        }
        let Some(child) = map.get_mut(name) else {
            continue;
        };
        if child.is_null() {
            continue;
        }
        let t = type_of(prop);
        if is_type(t, "array") {
            assign_array(child, prop);
        } else if is_type(t, "object") {
            assign_object(child, prop);
        }
    }
}

fn assign_array(instance: &mut Value, schema: &Value) {
    let Some(items) = instance.as_array_mut() else {
        return;
    };
    let item_schemas: Vec<Value> = match schema.get("items") {
        Some(Value::Object(o)) if !o.is_empty() => vec![Value::Object(o.clone()); items.len()],
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        _ => return,
    };
    for (i, item_schema) in item_schemas.iter().enumerate() {
        let Some(item) = items.get_mut(i) else {
            break;
        };
        if item.is_null() {
            if let Some(d) = item_schema.get("default") {
                *item = d.clone();
            }
        }
        if item.is_null() {
            continue;
        }
        let t = type_of(item_schema);
        if is_type(t, "array") {
            assign_array(item, item_schema);
        }
        if is_type(t, "object") {
            assign_object(item, item_schema);
        }
    }
}

/// Validate execution parameters (§2.2): defaults applied, `null` accepted for optional
/// parameters, unknown names rejected, draft-3 `required`. Returns the parameters with
/// defaults filled in (StackStorm's API validates but persists the parameters without them).
pub fn validate_params(
    runner: &RunnerType,
    action: &Action,
    params: &Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    let mut schema = parameters_schema(runner, action)?;
    if schema.as_object().map(Map::is_empty).unwrap_or(true) {
        return Ok(params.clone());
    }
    allow_default_none(&mut schema);
    let mut instance = Value::Object(params.clone());
    assign_defaults(&mut instance, &schema);
    let Value::Object(instance) = instance else {
        return Ok(params.clone());
    };
    if let Some(msg) = first_error(&schema, &instance)? {
        return Err(Error::Validation(msg));
    }
    Ok(instance)
}

/// The message Python's `jsonschema.best_match` reports for the top-level parameter object.
fn first_error(schema: &Value, instance: &Map<String, Value>) -> Result<Option<String>, Error> {
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    // Additional properties sit at depth 0 and beat every per-property error.
    let mut extras: Vec<&String> = instance
        .keys()
        .filter(|k| !props.contains_key(*k))
        .collect();
    if !extras.is_empty() {
        extras.sort();
        let verb = if extras.len() == 1 { "was" } else { "were" };
        let names = extras
            .iter()
            .map(|e| pyfmt::repr(&Value::String((*e).clone())))
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(Some(format!(
            "Additional properties are not allowed ({names} {verb} unexpected)"
        )));
    }
    let mut best: Option<((usize, bool, bool), String)> = None;
    for (name, prop) in props {
        let candidate = match instance.get(name) {
            Some(value) => {
                let draft4 = schema::to_draft4(prop);
                let compiled = schema::compile(&draft4).map_err(Error::Definition)?;
                let result = compiled.validate(value);
                let mut local: Option<((usize, bool, bool), String)> = None;
                if let Err(errors) = result {
                    for e in errors {
                        let rel = pyfmt::relevance(&e, 1);
                        if local.as_ref().map(|(r, _)| rel < *r).unwrap_or(true) {
                            local = Some((rel, pyfmt::schema_error_message(&e, &draft4)));
                        }
                    }
                }
                local
            }
            None if prop.get("required").and_then(Value::as_bool) == Some(true) => Some((
                (1, false, true),
                format!(
                    "{} is a required property",
                    pyfmt::repr(&Value::String(name.clone()))
                ),
            )),
            None => None,
        };
        if let Some((rel, msg)) = candidate {
            if best.as_ref().map(|(r, _)| rel < *r).unwrap_or(true) {
                best = Some((rel, msg));
            }
        }
    }
    Ok(best.map(|(_, m)| m))
}

/// Reject caller-supplied values for immutable parameters (action or runner side):
/// `Override of immutable parameter(s) ['x'] is unsupported.`
pub fn check_immutable(
    runner: &RunnerType,
    action: &Action,
    params: &Map<String, Value>,
) -> Result<(), Error> {
    let immutable = |name: &str| {
        action
            .parameters
            .get(name)
            .map(|s| s.immutable())
            .unwrap_or(false)
            || runner
                .runner_parameters
                .get(name)
                .map(|s| s.immutable())
                .unwrap_or(false)
    };
    let overridden: Vec<String> = params.keys().filter(|k| immutable(k)).cloned().collect();
    if overridden.is_empty() {
        return Ok(());
    }
    Err(Error::Immutable(format!(
        "Override of immutable parameter(s) {} is unsupported.",
        pyfmt::list_repr(&overridden)
    )))
}

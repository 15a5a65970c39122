//! The `config_context` of an execution: the pack's stored config values with dynamic values
//! rendered and schema defaults filled in (packs.md §5, "Loading").

use super::Error;
use gale_expr::ContextProvider;
use serde_json::{Map, Value};

fn is_jinja(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Sub-schemas for an object's keys: `properties`, then the first matching
/// `patternProperties`, then an object `additionalProperties`.
fn object_properties_schema(schema: &Value, keys: &[String]) -> Map<String, Value> {
    let mut out: Map<String, Value> = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let patterns = schema.get("patternProperties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|v| v.is_object());
    for key in keys {
        if out.contains_key(key) {
            continue;
        }
        let by_pattern = patterns.and_then(|p| {
            p.iter().find_map(|(pattern, sub)| {
                regex::Regex::new(pattern)
                    .ok()
                    .filter(|re| re.is_match(key))
                    .map(|_| sub.clone())
            })
        });
        if let Some(sub) = by_pattern.or_else(|| additional.cloned()) {
            out.insert(key.clone(), sub);
        }
    }
    out
}

/// One sub-schema per array element: positional `items`, a shared `items`, or `additionalItems`.
fn array_items_schema(schema: &Value, count: usize) -> Vec<Value> {
    let additional = schema
        .get("additionalItems")
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    match schema.get("items") {
        Some(Value::Array(list)) => (0..count)
            .map(|i| list.get(i).cloned().unwrap_or_else(|| additional.clone()))
            .collect(),
        Some(item @ Value::Object(_)) => vec![item.clone(); count],
        _ => vec![additional; count],
    }
}

fn render_dynamic(
    value: &mut Value,
    schema: &Value,
    path: &mut Vec<String>,
    pack: &str,
    kv: &dyn ContextProvider,
) -> Result<(), Error> {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let subs = object_properties_schema(schema, &keys);
            for (k, v) in map.iter_mut() {
                let sub = subs
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new()));
                path.push(k.clone());
                render_dynamic(v, &sub, path, pack, kv)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            let subs = array_items_schema(schema, items.len());
            for (i, (v, sub)) in items.iter_mut().zip(subs.iter()).enumerate() {
                path.push(i.to_string());
                render_dynamic(v, sub, path, pack, kv)?;
                path.pop();
            }
        }
        Value::String(s) if is_jinja(s) => {
            let key = path.join(".");
            // render_values leaves text alone when the context is empty; StackStorm's context
            // here holds only `st2kv`, which the provider serves, so pass a neutral `__context`.
            let ctx = serde_json::json!({"__context": {}});
            let rendered = gale_expr::jinja::render_st2(s, &ctx, kv).map_err(|e| {
                Error::Config(format!(
                    "Failed to render dynamic configuration value for key \"{key}\" with value \
                         \"{s}\" for pack \"{pack}\" config: {e}"
                ))
            })?;
            let text = gale_packs::pyfmt::py_str(&rendered);
            *value = if text.is_empty() {
                Value::Null
            } else if schema
                .get("secret")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                Value::String(kv.decrypt(&text).map_err(|e| {
                    Error::Config(format!(
                        "Failed to decrypt dynamic configuration value for key \"{key}\" for pack \
                         \"{pack}\" config: {e}"
                    ))
                })?)
            } else {
                Value::String(text)
            };
        }
        _ => {}
    }
    Ok(())
}

/// StackStorm's config-loader default assignment: missing keys get their schema default, and
/// objects/arrays with sub-schemas are created (empty) and filled recursively.
fn assign_defaults(config: &mut Value, schemas: Vec<(Value, Value)>) {
    // `schemas` pairs a key (string for objects, index for arrays) with its sub-schema.
    for (key, item) in schemas {
        let has_default = item.get("default").is_some();
        let present = match (&*config, &key) {
            (Value::Object(m), Value::String(k)) => m.contains_key(k),
            (Value::Array(a), Value::Number(i)) => {
                (i.as_u64().unwrap_or(u64::MAX) as usize) < a.len()
            }
            _ => false,
        };
        if has_default && !present {
            set(config, &key, item["default"].clone());
        }
        let kind = item.get("type").and_then(Value::as_str);
        let truthy = |v: Option<&Value>| match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Object(o)) => !o.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        match kind {
            Some("object")
                if truthy(item.get("properties"))
                    || truthy(item.get("patternProperties"))
                    || truthy(item.get("additionalProperties")) =>
            {
                if !truthy(get(config, &key)) {
                    set(config, &key, Value::Object(Map::new()));
                }
                if let Some(child) = get_mut(config, &key) {
                    let keys: Vec<String> = child
                        .as_object()
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    let subs = object_properties_schema(&item, &keys)
                        .into_iter()
                        .map(|(k, v)| (Value::String(k), v))
                        .collect();
                    assign_defaults(child, subs);
                }
            }
            Some("array") if truthy(item.get("items")) || truthy(item.get("additionalItems")) => {
                if !truthy(get(config, &key)) {
                    set(config, &key, Value::Array(Vec::new()));
                }
                if let Some(child) = get_mut(config, &key) {
                    let n = child.as_array().map(Vec::len).unwrap_or(0);
                    let subs = array_items_schema(&item, n)
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| (Value::from(i), s))
                        .collect();
                    assign_defaults(child, subs);
                }
            }
            _ => {}
        }
    }
}

fn get<'a>(c: &'a Value, key: &Value) -> Option<&'a Value> {
    match key {
        Value::String(k) => c.get(k.as_str()),
        Value::Number(i) => c.get(i.as_u64()? as usize),
        _ => None,
    }
}

fn get_mut<'a>(c: &'a mut Value, key: &Value) -> Option<&'a mut Value> {
    match key {
        Value::String(k) => c.get_mut(k.as_str()),
        Value::Number(i) => c.get_mut(i.as_u64()? as usize),
        _ => None,
    }
}

fn set(c: &mut Value, key: &Value, v: Value) {
    match (c, key) {
        (Value::Object(m), Value::String(k)) => {
            m.insert(k.clone(), v);
        }
        (Value::Array(a), Value::Number(i)) => {
            if let Some(slot) = i.as_u64().and_then(|i| a.get_mut(i as usize)) {
                *slot = v;
            }
        }
        _ => {}
    }
}

/// Build `config_context`: stored values (or `{}`), dynamic values rendered through `kv`
/// (secret items decrypted), then defaults from the schema. Defaults are applied after
/// rendering, so a Jinja default stays unrendered, as in StackStorm.
pub fn resolve_config(
    config_schema: Option<&Value>,
    values: Option<&Value>,
    pack: &str,
    kv: &dyn ContextProvider,
) -> Result<Value, Error> {
    let mut config = values
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let schema = config_schema
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    // The top-level schema is a map key → item schema, i.e. an object's `properties`.
    let as_object = serde_json::json!({"type": "object", "properties": schema});
    render_dynamic(&mut config, &as_object, &mut Vec::new(), pack, kv)?;
    let subs = schema
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    assign_defaults(&mut config, subs);
    Ok(config)
}

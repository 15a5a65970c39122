//! JSON-schema helpers shared by pack loading and the engine's parameter validation.
//!
//! StackStorm validates with a "custom" validator: draft-4 keywords, except that `properties`
//! follows draft 3, so `required: true` sits inside a property and a draft-4 `required` list is
//! ignored. The jsonschema crate only knows draft 4, so [`to_draft4`] rewrites such schemas
//! (boolean `required` moves up into the parent's list) before compiling. Also here: the
//! meta-schemas StackStorm checks action files and parameter definitions against.

use crate::pyfmt;
use jsonschema::{Draft, JSONSchema};
use serde_json::{json, Map, Value};

/// Rewrite a StackStorm (draft-3 `required`) schema into an equivalent draft-4 schema.
pub fn to_draft4(schema: &Value) -> Value {
    let mut out = schema.clone();
    convert(&mut out);
    out
}

fn convert(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    // st2's validator has no `required` keyword of its own: lists are ignored, booleans are
    // read by the parent's `properties`.
    obj.remove("required");
    let mut required = Vec::new();
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for (name, sub) in props.iter_mut() {
            if sub.get("required").and_then(Value::as_bool) == Some(true) {
                required.push(Value::String(name.clone()));
            }
            convert(sub);
        }
    }
    if !required.is_empty() {
        obj.insert("required".into(), Value::Array(required));
    }
    // With `properties` present the jsonschema crate reports `additionalProperties: false` as
    // one error naming the unexpected keys (as Python does) instead of a bare false schema.
    if obj.get("additionalProperties") == Some(&Value::Bool(false))
        && !obj.contains_key("properties")
        && !obj.contains_key("patternProperties")
    {
        obj.insert("properties".into(), Value::Object(Map::new()));
    }
    for key in ["patternProperties", "definitions"] {
        if let Some(Value::Object(m)) = obj.get_mut(key) {
            m.values_mut().for_each(convert);
        }
    }
    if let Some(Value::Object(deps)) = obj.get_mut("dependencies") {
        for d in deps.values_mut() {
            if d.is_object() {
                convert(d);
            }
        }
    }
    for key in ["additionalProperties", "additionalItems", "not"] {
        if let Some(v) = obj.get_mut(key) {
            if v.is_object() {
                convert(v);
            }
        }
    }
    match obj.get_mut("items") {
        Some(Value::Array(items)) => items.iter_mut().for_each(convert),
        Some(v @ Value::Object(_)) => convert(v),
        _ => {}
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(items)) = obj.get_mut(key) {
            items.iter_mut().for_each(convert);
        }
    }
}

/// Compile a draft-4 schema with StackStorm's settings (no format checking: st2 validates
/// without a format checker, so `format: email` accepts any string).
pub fn compile(schema: &Value) -> Result<JSONSchema, String> {
    JSONSchema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(false)
        .compile(schema)
        .map_err(|e| format!("invalid schema: {e}"))
}

/// One reportable validation failure: the Python-style message and the instance path.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaError {
    pub message: String,
    /// Instance path segments (property names / indexes) of the failing value.
    pub path: Vec<String>,
}

/// Validate `instance` against an already draft-4 `schema`; returns the error Python's
/// `jsonschema.best_match` would pick, worded as Python words it.
pub fn best_error(schema: &Value, instance: &Value) -> Result<Option<SchemaError>, String> {
    let compiled = compile(schema)?;
    let result = compiled.validate(instance);
    let Err(errors) = result else {
        return Ok(None);
    };
    let mut best: Option<((usize, bool, bool), SchemaError)> = None;
    for e in errors {
        let rel = pyfmt::relevance(&e, 0);
        if best.as_ref().map(|(r, _)| rel < *r).unwrap_or(true) {
            let path = e
                .instance_path
                .iter()
                .map(|c| match c {
                    jsonschema::paths::PathChunk::Property(p) => p.to_string(),
                    jsonschema::paths::PathChunk::Index(i) => i.to_string(),
                    jsonschema::paths::PathChunk::Keyword(k) => k.to_string(),
                })
                .collect();
            best = Some((
                rel,
                SchemaError {
                    message: pyfmt::schema_error_message(&e, schema),
                    path,
                },
            ));
        }
    }
    Ok(best.map(|(_, e)| e))
}

/// The meta-schema of one schema fragment (StackStorm's `custom.json`): draft 4 plus
/// `required` (boolean), `secret`, `immutable`, `position`; unknown keys rejected. Nested
/// schemas may list several types; `action_param` restricts the top level to one type and
/// drops `format` (StackStorm's `action_params.json`).
fn fragment_meta(action_param: bool) -> Value {
    let simple_types =
        json!({"enum": ["array", "boolean", "integer", "null", "number", "object", "string"]});
    let type_schema = if action_param {
        json!({"anyOf": [{"$ref": "#/definitions/simpleTypes"}]})
    } else {
        json!({"anyOf": [
            {"$ref": "#/definitions/simpleTypes"},
            {"type": "array", "items": {"$ref": "#/definitions/simpleTypes"}, "minItems": 1, "uniqueItems": true}
        ]})
    };
    let nested = json!({"$ref": "#/definitions/custom"});
    let mut props = json!({
        "id": {"type": "string"},
        "$schema": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "default": {},
        "multipleOf": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
        "maximum": {"type": "number"},
        "exclusiveMaximum": {"type": "boolean"},
        "minimum": {"type": "number"},
        "exclusiveMinimum": {"type": "boolean"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveInteger"},
        "pattern": {"type": "string"},
        "additionalItems": {"anyOf": [{"type": "boolean"}, nested]},
        "items": {"anyOf": [nested, {"$ref": "#/definitions/schemaArray"}]},
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveInteger"},
        "uniqueItems": {"type": "boolean"},
        "maxProperties": {"$ref": "#/definitions/positiveInteger"},
        "minProperties": {"$ref": "#/definitions/positiveInteger"},
        "required": {"type": "boolean"},
        "secret": {"type": "boolean"},
        "additionalProperties": {"anyOf": [{"type": "boolean"}, nested]},
        "definitions": {"type": "object", "additionalProperties": nested},
        "properties": {"type": "object", "additionalProperties": nested},
        "patternProperties": {"type": "object", "additionalProperties": nested},
        "dependencies": {"type": "object", "additionalProperties": {"anyOf": [nested, {"$ref": "#/definitions/stringArray"}]}},
        "enum": {"type": "array", "minItems": 1, "uniqueItems": true},
        "type": type_schema,
        "position": {"type": "number", "minimum": 0},
        "immutable": {"type": "boolean"},
        "allOf": {"$ref": "#/definitions/schemaArray"},
        "anyOf": {"$ref": "#/definitions/schemaArray"},
        "oneOf": {"$ref": "#/definitions/schemaArray"},
        "not": nested
    });
    if !action_param {
        props["format"] = json!({"type": "string"});
    }
    let _ = simple_types;
    json!({
        "type": "object",
        "properties": props,
        "dependencies": {"exclusiveMaximum": ["maximum"], "exclusiveMinimum": ["minimum"]},
        "additionalProperties": false
    })
}

fn meta_definitions() -> Value {
    json!({
        "schemaArray": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/custom"}},
        "positiveInteger": {"type": "integer", "minimum": 0},
        "simpleTypes": {"enum": ["array", "boolean", "integer", "null", "number", "object", "string"]},
        "stringArray": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true},
        "custom": fragment_meta(false)
    })
}

/// The schema an action metadata file must satisfy (StackStorm's `ActionAPI.schema`, with
/// optional fields already widened to accept `null` as `allow_default_none` does).
pub fn action_file_schema() -> Value {
    let notify_sub = json!({
        "type": ["object", "null"],
        "properties": {
            "message": {"type": ["string", "null"]},
            "data": {"type": ["object", "null"]},
            "routes": {"type": ["array", "null"]},
            "channels": {"type": ["array", "null"]}
        },
        "additionalProperties": false
    });
    let mut output_schema = fragment_meta(false);
    if let Some(o) = output_schema.as_object_mut() {
        o.remove("additionalProperties");
        o.insert("type".into(), json!(["object", "null"]));
    }
    json!({
        "type": "object",
        "definitions": meta_definitions(),
        "properties": {
            "id": {"type": ["string", "null"]},
            "ref": {"type": ["string", "null"]},
            "uid": {"type": ["string", "null"]},
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "enabled": {"type": "boolean"},
            "runner_type": {"type": "string"},
            "entry_point": {"type": "string"},
            "pack": {"type": "string"},
            "parameters": {
                "type": "object",
                "patternProperties": {"^\\w+$": fragment_meta(true)},
                "additionalProperties": false
            },
            "output_schema": output_schema,
            "tags": {"type": ["array", "null"], "items": {"type": "object"}},
            "notify": {
                "type": ["object", "null"],
                "properties": {"on-complete": notify_sub, "on-failure": notify_sub, "on-success": notify_sub},
                "additionalProperties": false
            },
            "metadata_file": {"type": "string"}
        },
        "required": ["name", "runner_type"],
        "additionalProperties": false
    })
}

/// Is `schema` a usable (non-legacy) output schema: an object with a `type` that passes the
/// schema-fragment meta-schema (unknown keys allowed)?
pub fn output_schema_is_valid(schema: &Value) -> bool {
    let Some(obj) = schema.as_object() else {
        return false;
    };
    if !obj.contains_key("type") {
        return false;
    }
    let mut meta = fragment_meta(false);
    if let Some(o) = meta.as_object_mut() {
        o.remove("additionalProperties");
        o.insert("definitions".into(), meta_definitions());
    }
    matches!(best_error(&meta, schema), Ok(None))
}

/// Validate an action document (already defaults-free) against [`action_file_schema`];
/// the error is worded as StackStorm's registrar words it.
pub fn validate_action_document(doc: &Map<String, Value>) -> Result<(), SchemaError> {
    let schema = action_file_schema();
    let instance = Value::Object(doc.clone());
    let err = match best_error(&schema, &instance) {
        Ok(None) => return Ok(()),
        Ok(Some(e)) => e,
        Err(msg) => {
            return Err(SchemaError {
                message: msg,
                path: Vec::new(),
            })
        }
    };
    // A bad parameter name shows up as an additional property of `parameters`.
    if err.path == ["parameters"] && err.message.starts_with("Additional properties") {
        if let Some(params) = doc.get("parameters").and_then(Value::as_object) {
            let re = regex::Regex::new(r"^\w+$").map_err(|e| SchemaError {
                message: e.to_string(),
                path: Vec::new(),
            })?;
            let mut bad: Vec<&String> = params.keys().filter(|k| !re.is_match(k)).collect();
            bad.sort();
            if let Some(first) = bad.first() {
                let joined = bad
                    .iter()
                    .map(|b| pyfmt::repr(&Value::String((*b).clone())))
                    .collect::<Vec<_>>()
                    .join(", ");
                let verb = if bad.len() == 1 { "does" } else { "do" };
                return Err(SchemaError {
                    message: format!(
                        "Parameter name \"{first}\" is invalid. Valid characters for parameter name \
                         are [a-zA-Z0-0_].\n\n{joined} {verb} not match any of the regexes: '^\\\\w+$'"
                    ),
                    path: vec!["parameters".into(), (*first).clone()],
                });
            }
        }
    }
    Err(err)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft3_required_moves_to_parent() {
        let s = json!({"type": "object", "required": ["ignored"], "properties": {
            "a": {"type": "string", "required": true},
            "b": {"type": "object", "required": false, "properties": {"c": {"required": true}}}
        }});
        let d = to_draft4(&s);
        assert_eq!(d["required"], json!(["a"]));
        assert!(d["properties"]["a"].get("required").is_none());
        assert_eq!(d["properties"]["b"]["required"], json!(["c"]));
    }

    #[test]
    fn action_meta_schema_accepts_core_shapes_and_rejects_bad_ones() {
        let ok = json!({"name": "x", "runner_type": "noop", "parameters": {
            "a": {"type": "string", "required": true, "position": 0, "immutable": true, "default": "x", "secret": true},
            "b": {"type": "object", "properties": {"c": {"type": ["string", "null"], "format": "email"}}},
            "c": null
        }, "description": null});
        let ok = ok.as_object().unwrap().clone();
        // `c: null` is not an object; st2 accepts `{}`. Registration normalises null first.
        let mut ok2 = ok.clone();
        ok2["parameters"]["c"] = json!({});
        assert_eq!(validate_action_document(&ok2), Ok(()));

        let mut bad = ok2.clone();
        bad.insert("foo".into(), json!(1));
        assert_eq!(
            validate_action_document(&bad).unwrap_err().message,
            "Additional properties are not allowed ('foo' was unexpected)"
        );

        let mut bad = ok2.clone();
        bad["parameters"]["a"]["type"] = json!(["string", "null"]);
        assert!(validate_action_document(&bad).is_err());

        let mut bad = ok2.clone();
        bad["parameters"]["a"]["bogus"] = json!(1);
        assert!(validate_action_document(&bad).is_err());

        let mut bad = ok2.clone();
        bad["parameters"]["a"]["position"] = json!(-1);
        assert!(validate_action_document(&bad).is_err());

        let mut bad = ok2.clone();
        bad.remove("runner_type");
        assert_eq!(
            validate_action_document(&bad).unwrap_err().message,
            "'runner_type' is a required property"
        );

        let mut bad = ok2.clone();
        bad["parameters"]["x-y"] = json!({});
        let e = validate_action_document(&bad).unwrap_err();
        assert!(e.message.starts_with(
            "Parameter name \"x-y\" is invalid. Valid characters for parameter name are [a-zA-Z0-0_].\n\n'x-y' does not match any of the regexes: '^\\\\w+$'"
        ), "{}", e.message);
    }

    #[test]
    fn output_schema_validity() {
        assert!(output_schema_is_valid(
            &json!({"type": "object", "properties": {"a": {"type": "string", "secret": true}}})
        ));
        assert!(!output_schema_is_valid(&json!({"a": {"type": "string"}})));
        assert!(!output_schema_is_valid(&json!({"type": "bogus"})));
    }
}

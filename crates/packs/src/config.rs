//! Pack config values (`<configs>/<pack>.yaml`) checked against the pack's
//! `config.schema.yaml` (packs.md §5). Rendering of dynamic (`{{ st2kv... }}`) values happens at
//! use time in the engine, not here.

use crate::{pyfmt, schema, yaml};
use serde_json::{json, Map, Value};
use std::path::Path;

/// The "any type" schema StackStorm substitutes for an empty definition.
fn any_type() -> Value {
    json!({"anyOf": [
        {"type": "array"}, {"type": "boolean"}, {"type": "integer"},
        {"type": "number"}, {"type": "object"}, {"type": "string"}
    ]})
}

/// The object schema for config values: the schema's keys as properties, unknown keys allowed.
pub fn config_object_schema(config_schema: &Value) -> Value {
    let props: Map<String, Value> = config_schema
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let empty = v.as_object().map(Map::is_empty).unwrap_or(true);
                    (k.clone(), if empty { any_type() } else { v.clone() })
                })
                .collect()
        })
        .unwrap_or_default();
    if props.is_empty() {
        return json!({});
    }
    json!({"type": "object", "properties": props, "additionalProperties": true})
}

/// Validate config values: defaults applied, `null` allowed for optional keys, extra keys
/// allowed. Returns the values with defaults. Errors are StackStorm's
/// `Failed validating attribute "a.b" in config for pack "p" (<path>): <reason>`.
pub fn validate_config(
    config_schema: &Value,
    values: &Value,
    config_path: &str,
    pack: &str,
) -> Result<Value, String> {
    let mut schema_v = config_object_schema(config_schema);
    let mut instance = values.clone();
    if schema_v.as_object().map(Map::is_empty).unwrap_or(true) {
        return Ok(instance);
    }
    schema::allow_default_none(&mut schema_v);
    schema::assign_defaults(&mut instance, &schema_v);
    let draft4 = schema::to_draft4(&schema_v);
    if let Some(err) = schema::best_error(&draft4, &instance)? {
        return Err(format!(
            "Failed validating attribute \"{}\" in config for pack \"{pack}\" ({config_path}): {}",
            err.path.join("."),
            err.message
        ));
    }
    if let (Some(values), Some(specs)) = (instance.as_object(), config_schema.as_object()) {
        for (k, v) in values {
            let secret = specs
                .get(k)
                .and_then(|s| s.get("secret"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let text = v.as_str().unwrap_or_default();
            let jinja = text.contains("{{") || text.contains("{%");
            if secret && jinja && text.contains("decrypt_kv") {
                return Err(
                    "Values specified as \"secret: True\" in config schema are automatically \
                     decrypted by default. Use of \"decrypt_kv\" jinja filter is not allowed for \
                     such values. Please check the specified values in the config or the default \
                     values in the schema."
                        .into(),
                );
            }
        }
    }
    Ok(instance)
}

/// Read a config values file (`{}` when the file is empty).
pub fn load_config_values(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Failed to read {}: {e}", path.display()))?;
    let v =
        yaml::from_str(&text).map_err(|e| format!("Failed to parse {}: {e}", path.display()))?;
    match v {
        Value::Null => Ok(json!({})),
        Value::Object(_) => Ok(v),
        other => Err(format!(
            "{} is not of type 'object' ({})",
            pyfmt::repr(&other),
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({
            "api_key": {"type": "string", "required": true, "secret": true},
            "region": {"type": "string", "default": "us-east-1"},
            "port": {"type": "integer"},
            "nested": {"type": "object", "properties": {"depth": {"type": "integer", "default": 2}}},
            "anything": {}
        })
    }

    #[test]
    fn defaults_nulls_and_extra_keys() {
        let out = validate_config(
            &schema(),
            &json!({"api_key": "k", "port": null, "nested": {}, "extra": 1}),
            "/c/p.yaml",
            "p",
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"api_key": "k", "port": null, "nested": {"depth": 2}, "extra": 1, "region": "us-east-1"})
        );
    }

    #[test]
    fn errors_name_the_attribute_and_file() {
        assert_eq!(
            validate_config(&schema(), &json!({"api_key": "k", "port": "x"}), "/c/p.yaml", "p").unwrap_err(),
            "Failed validating attribute \"port\" in config for pack \"p\" (/c/p.yaml): 'x' is not of type 'integer', 'null'"
        );
        assert_eq!(
            validate_config(&schema(), &json!({}), "/c/p.yaml", "p").unwrap_err(),
            "Failed validating attribute \"\" in config for pack \"p\" (/c/p.yaml): 'api_key' is a required property"
        );
        assert_eq!(
            validate_config(&schema(), &json!({"api_key": "k", "nested": {"depth": "deep"}}), "/c/p.yaml", "p").unwrap_err(),
            "Failed validating attribute \"nested.depth\" in config for pack \"p\" (/c/p.yaml): 'deep' is not of type 'integer'"
        );
    }

    #[test]
    fn decrypt_kv_on_secret_is_rejected() {
        let e = validate_config(
            &schema(),
            &json!({"api_key": "{{ st2kv.system.k | decrypt_kv }}"}),
            "/c/p.yaml",
            "p",
        )
        .unwrap_err();
        assert!(
            e.starts_with(
                "Values specified as \"secret: True\" in config schema are automatically decrypted"
            ),
            "{e}"
        );
        assert!(validate_config(
            &schema(),
            &json!({"api_key": "{{ st2kv.system.k }}"}),
            "/c/p.yaml",
            "p"
        )
        .is_ok());
    }

    #[test]
    fn loads_values_files() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("p.yaml");
        std::fs::write(&p, "").unwrap();
        assert_eq!(load_config_values(&p).unwrap(), json!({}));
        std::fs::write(&p, "debug: yes\n").unwrap();
        assert_eq!(load_config_values(&p).unwrap(), json!({"debug": true}));
        std::fs::write(&p, "- a\n").unwrap();
        assert!(load_config_values(&p).is_err());
    }
}

//! Registration-time overrides of `enabled` (packs.md §3): `<base>/overrides/_global.yaml`, then
//! `<base>/overrides/<pack>.yaml`, each shaped
//! `{actions: {defaults: {enabled: false}, exceptions: {<name>: {enabled: true}}}}`
//! (`exceptions` only count in the per-pack file).

use crate::yaml;
use serde_json::{Map, Value};
use std::path::Path;

/// Resource types that may be overridden, with the field that names a resource.
pub const OVERRIDE_TYPES: [(&str, &str); 4] = [
    ("sensors", "class_name"),
    ("actions", "name"),
    ("rules", "name"),
    ("aliases", "name"),
];

/// The only attribute an override may set.
pub const OVERRIDE_NAMES: [&str; 1] = ["enabled"];

/// Apply the overrides in `overrides_dir` to one resource document. Returns whether the
/// effective value changed (a missing `enabled` counts as `true`).
pub fn apply_overrides(
    overrides_dir: &Path,
    pack: &str,
    resource_type: &str,
    content: &mut Map<String, Value>,
) -> Result<bool, String> {
    let Some((_, name_field)) = OVERRIDE_TYPES.iter().find(|(t, _)| *t == resource_type) else {
        return Err(format!(
            "Invalid override type of {resource_type} attempted for pack {pack}"
        ));
    };
    let before = content.clone();
    apply_file(
        &overrides_dir.join("_global.yaml"),
        pack,
        resource_type,
        name_field,
        content,
        true,
    )?;
    apply_file(
        &overrides_dir.join(format!("{pack}.yaml")),
        pack,
        resource_type,
        name_field,
        content,
        false,
    )?;
    let mut orig = before;
    if *content == orig {
        return Ok(false);
    }
    for key in OVERRIDE_NAMES {
        if !orig.contains_key(key) && content.contains_key(key) {
            orig.insert(key.to_string(), Value::Bool(true));
        }
    }
    Ok(*content != orig)
}

fn apply_file(
    path: &Path,
    pack: &str,
    resource_type: &str,
    name_field: &str,
    content: &mut Map<String, Value>,
    global: bool,
) -> Result<(), String> {
    if !path.is_file() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(type_override) = doc.get(resource_type) else {
        return Ok(());
    };
    let name = content
        .get(name_field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(Value::Object(defaults)) = type_override.get("defaults") {
        for (k, v) in defaults {
            if !OVERRIDE_NAMES.contains(&k.as_str()) {
                return Err(format!(
                    "Override attempted with invalid default key {k} in pack {pack}"
                ));
            }
            content.insert(k.clone(), v.clone());
        }
    }
    if global {
        return Ok(());
    }
    if let Some(Value::Object(exc)) = type_override.get("exceptions").and_then(|e| e.get(&name)) {
        for (k, v) in exc {
            if !OVERRIDE_NAMES.contains(&k.as_str()) {
                return Err(format!(
                    "Override attempted with invalid exceptions key {k} in pack {pack}"
                ));
            }
            content.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn global_then_pack_defaults_and_exceptions() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("_global.yaml"), "actions:\n  defaults:\n    enabled: false\n  exceptions:\n    a:\n      enabled: true\n").unwrap();
        std::fs::write(
            t.path().join("p.yaml"),
            "actions:\n  exceptions:\n    b:\n      enabled: yes\n",
        )
        .unwrap();

        // Global default disables; exceptions in the global file are ignored.
        let mut a = doc(json!({"name": "a"}));
        assert!(apply_overrides(t.path(), "p", "actions", &mut a).unwrap());
        assert_eq!(a["enabled"], json!(false));

        // The pack file's exception re-enables b: effective value unchanged, not overridden.
        let mut b = doc(json!({"name": "b"}));
        assert!(!apply_overrides(t.path(), "p", "actions", &mut b).unwrap());
        assert_eq!(b["enabled"], json!(true));

        // Other packs and types untouched.
        let mut r = doc(json!({"name": "r", "enabled": true}));
        assert!(!apply_overrides(t.path(), "p", "rules", &mut r).unwrap());
        assert!(apply_overrides(t.path(), "p", "triggers", &mut r).is_err());
    }

    #[test]
    fn only_enabled_may_be_overridden() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("p.yaml"),
            "actions:\n  defaults:\n    description: x\n",
        )
        .unwrap();
        let mut a = doc(json!({"name": "a"}));
        assert_eq!(
            apply_overrides(t.path(), "p", "actions", &mut a).unwrap_err(),
            "Override attempted with invalid default key description in pack p"
        );
    }
}

//! Event content of a pack directory: rule files (`rules/*.yaml|yml|json`) and trigger types
//! (`triggers/*.yaml|yml`, the `trigger_types:` lists of sensor metadata files and of
//! `pack.yaml`), read with PyYAML's meaning.
//!
//! Only reading and shape checks happen here; rule validation (operators, trigger binding,
//! action existence) belongs to gale-rules and the events service, which get the documents
//! as JSON values.

use gale_model::events::TriggerType;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One event file that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFileFailure {
    pub path: PathBuf,
    pub message: String,
}

/// What [`load_event_content`] found in a pack directory.
#[derive(Debug, Clone, Default)]
pub struct EventContent {
    /// Rule documents with their file (relative `metadata_file` is set on each document).
    pub rules: Vec<(PathBuf, Value)>,
    pub trigger_types: Vec<TriggerType>,
    pub failures: Vec<EventFileFailure>,
}

fn files_in(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    files.sort();
    files
}

fn read_doc(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        crate::yaml::from_str(&text).map_err(|e| e.to_string())
    }
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// A trigger type entry (file, sensor metadata or pack.yaml list item) of pack `pack`.
pub fn trigger_type_from_document(doc: &Value, pack: &str) -> Result<TriggerType, String> {
    let Value::Object(map) = doc else {
        return Err("a trigger type must be an object".into());
    };
    let name = match map.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => return Err("'name' is a required property".into()),
        Some(other) => return Err(format!("name: {other} is not of type 'string'")),
    };
    let schema = |key: &str| -> Result<Value, String> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(Value::Object(Map::new())),
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            Some(other) => Err(format!("{key}: {other} is not of type 'object'")),
        }
    };
    let mut tt = TriggerType::new(pack, &name);
    tt.description = map
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    tt.payload_schema = schema("payload_schema")?;
    tt.parameters_schema = schema("parameters_schema")?;
    if let Some(Value::Array(tags)) = map.get("tags") {
        tt.tags = tags.clone();
    }
    Ok(tt)
}

/// Reads the rules and trigger types of the pack directory `dir` whose pack ref is `pack`.
/// A file whose `pack:` names another pack is reported as a failure (StackStorm rejects it).
pub fn load_event_content(dir: &Path, pack: &str) -> EventContent {
    let mut out = EventContent::default();
    for path in files_in(&dir.join("rules"), &["yaml", "yml", "json"]) {
        match read_doc(&path) {
            Ok(Value::Object(mut m)) => {
                m.entry("metadata_file")
                    .or_insert_with(|| Value::String(relative(dir, &path)));
                out.rules.push((path, Value::Object(m)));
            }
            Ok(_) => out.failures.push(EventFileFailure {
                path,
                message: "a rule must be an object".into(),
            }),
            Err(message) => out.failures.push(EventFileFailure { path, message }),
        }
    }
    let push_type = |out: &mut EventContent, path: &Path, doc: &Value, force_pack: bool| {
        if !force_pack {
            if let Some(p) = doc.get("pack").and_then(Value::as_str) {
                if p != pack {
                    out.failures.push(EventFileFailure {
                        path: path.to_path_buf(),
                        message: format!(
                            "Model is in pack \"{pack}\" but field \"pack\" is different: {p}"
                        ),
                    });
                    return;
                }
            }
        }
        match trigger_type_from_document(doc, pack) {
            Ok(mut tt) => {
                tt.metadata_file = relative(dir, path);
                out.trigger_types.push(tt);
            }
            Err(message) => out.failures.push(EventFileFailure {
                path: path.to_path_buf(),
                message,
            }),
        }
    };
    for path in files_in(&dir.join("triggers"), &["yaml", "yml"]) {
        match read_doc(&path) {
            Ok(doc) => push_type(&mut out, &path, &doc, false),
            Err(message) => out.failures.push(EventFileFailure { path, message }),
        }
    }
    // Sensor metadata: the sensor's pack is forced onto its trigger types.
    for path in files_in(&dir.join("sensors"), &["yaml", "yml"]) {
        if let Ok(doc) = read_doc(&path) {
            if let Some(Value::Array(list)) = doc.get("trigger_types") {
                for t in list {
                    push_type(&mut out, &path, t, true);
                }
            }
        }
    }
    let pack_yaml = dir.join("pack.yaml");
    if let Ok(doc) = read_doc(&pack_yaml) {
        if let Some(Value::Array(list)) = doc.get("trigger_types") {
            for t in list {
                push_type(&mut out, &pack_yaml, t, true);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn rules_and_trigger_types_from_every_place() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(
            d,
            "pack.yaml",
            "ref: ex\nname: ex\ntrigger_types:\n  - name: from_pack\n",
        );
        write(
            d,
            "rules/a.yaml",
            "name: a\nenabled: yes\ntrigger: {type: ex.event}\naction: {ref: core.noop}\n",
        );
        write(d, "rules/b.json", "{\"name\": \"b\"}");
        write(d, "rules/bad.yaml", "- just a list\n");
        write(d, "rules/notes.txt", "ignored");
        write(
            d,
            "triggers/event.yaml",
            "name: event\npayload_schema: {type: object, properties: {n: {type: integer}}}\n",
        );
        write(d, "triggers/other.yaml", "name: x\npack: elsewhere\n");
        write(
            d,
            "sensors/s.yaml",
            "class_name: S\ntrigger_types:\n  - name: watched\n    pack: ignored\n    parameters_schema: {type: object, properties: {p: {type: string}}}\n",
        );
        let c = load_event_content(d, "ex");
        let names: Vec<_> = c.rules.iter().map(|(_, r)| r["name"].clone()).collect();
        assert_eq!(names, [serde_json::json!("a"), serde_json::json!("b")]);
        // YAML 1.1: `yes` is true.
        assert_eq!(c.rules[0].1["enabled"], serde_json::json!(true));
        assert_eq!(
            c.rules[0].1["metadata_file"],
            serde_json::json!("rules/a.yaml")
        );
        let types: Vec<_> = c
            .trigger_types
            .iter()
            .map(|t| t.type_ref.as_str())
            .collect();
        assert_eq!(types, ["ex.event", "ex.watched", "ex.from_pack"]);
        assert!(c.trigger_types[1].is_parameterized());
        assert_eq!(c.failures.len(), 2, "{:?}", c.failures);
        assert!(c
            .failures
            .iter()
            .any(|f| f.message.contains("different: elsewhere")));
    }
}

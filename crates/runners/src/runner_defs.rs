//! Building [`RunnerType`] records from StackStorm's `runner.yaml` definitions written as JSON.

use gale_model::RunnerType;
use serde_json::Value;

/// Turns a literal definition into a record, filling `uid` and `runner_package` the way the
/// StackStorm registrar does (package defaults to the module name).
pub fn runner_type_from_json(mut def: Value) -> RunnerType {
    if let Some(obj) = def.as_object_mut() {
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        obj.insert("uid".into(), Value::String(RunnerType::uid_for(&name)));
        let module = obj.get("runner_module").cloned().unwrap_or(Value::Null);
        let package_missing =
            !matches!(obj.get("runner_package"), Some(Value::String(s)) if !s.is_empty());
        // StackStorm's RunnerTypeDB defaults output_schema to an empty dict.
        obj.entry("output_schema")
            .or_insert_with(|| Value::Object(Default::default()));
        if package_missing {
            obj.insert("runner_package".into(), module);
        }
    }
    // The definitions are literals in this crate; a failure here is a programming error caught
    // by every runner's definition test, so fall back to an empty record rather than panic.
    serde_json::from_value(def).unwrap_or_else(|e| {
        tracing::error!(error = %e, "invalid built-in runner definition");
        RunnerType {
            id: String::new(),
            name: String::new(),
            description: String::new(),
            enabled: false,
            runner_package: String::new(),
            runner_module: String::new(),
            runner_parameters: Default::default(),
            output_key: None,
            output_schema: Value::Null,
            uid: String::new(),
        }
    })
}

//! Action metadata: from a parsed YAML document to a validated [`Action`] (actions.md §1).
//!
//! The checks run in StackStorm's order, so the first failure reported is the one st2 reports:
//! `pack:` field, document schema (unknown keys, parameter names, parameter definitions),
//! runner existence, then the parameter-definition rules of [`validate_parameters`].

use crate::{pyfmt, schema};
use gale_model::params::ParameterSchema;
use gale_model::{Action, RunnerType};
use serde_json::{Map, Value};

/// Attributes of a runner parameter an action may change (anything else must repeat the
/// runner's value exactly).
pub const RUNNER_PARAM_OVERRIDABLE_ATTRS: [&str; 5] =
    ["default", "description", "enum", "immutable", "required"];

/// Why an action document was rejected: the offending field (dotted path) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    pub field: Option<String>,
    pub reason: String,
}

impl ActionError {
    fn new(field: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }
}

/// Build and validate an action from its metadata document.
///
/// `pack` is the pack being registered (the pack's directory name, as st2's registrar uses it),
/// `metadata_file` the file path relative to the pack (`actions/echo.yaml`).
pub fn action_from_document(
    doc: &Value,
    pack: &str,
    metadata_file: &str,
    runners: &[RunnerType],
) -> Result<Action, ActionError> {
    let Some(obj) = doc.as_object() else {
        return Err(ActionError::new(
            None,
            format!("{} is not of type 'object'", pyfmt::repr(doc)),
        ));
    };
    let mut content = obj.clone();

    // 1. `pack:` must be absent/empty or equal the pack being registered.
    let pack_field = content.get("pack").cloned();
    let pack_empty = match &pack_field {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Bool(false)) => true,
        _ => false,
    };
    if pack_empty {
        content.insert("pack".into(), Value::String(pack.to_string()));
    } else if pack_field.as_ref().and_then(Value::as_str) != Some(pack) {
        let shown = pack_field.as_ref().map(pyfmt::py_str).unwrap_or_default();
        return Err(ActionError::new(
            Some("pack"),
            format!("Model is in pack \"{pack}\" but field \"pack\" is different: {shown}"),
        ));
    }
    content.insert(
        "metadata_file".into(),
        Value::String(metadata_file.to_string()),
    );

    // `name: null` parameter definitions mean "any type"; give the meta-schema `{}`.
    if let Some(Value::Object(params)) = content.get_mut("parameters") {
        for v in params.values_mut() {
            if v.is_null() {
                *v = Value::Object(Map::new());
            }
        }
    }
    // Defaults of optional fields (st2 assigns them when the value is missing or null).
    for (k, d) in [
        ("enabled", Value::Bool(true)),
        ("entry_point", Value::String(String::new())),
        ("parameters", Value::Object(Map::new())),
    ] {
        if content.get(k).map(Value::is_null).unwrap_or(true) {
            content.insert(k.into(), d);
        }
    }

    // 2. Document schema.
    if let Err(e) = schema::validate_action_document(&content) {
        let field = if e.path.is_empty() {
            None
        } else {
            Some(e.path.join("."))
        };
        return Err(ActionError {
            field,
            reason: e.message,
        });
    }

    let name = content
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let runner_name = content
        .get("runner_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();

    // 3. Runner must exist.
    let Some(runner) = runners.iter().find(|r| r.name == runner_name) else {
        return Err(ActionError::new(
            Some("runner_type"),
            format!(
                "RunnerType {runner_name} is not found. If you are using old and deprecated runner \
                 name, you need to switch to a new one. For more information, please see \
                 https://docs.stackstorm.com/upgrade_notes.html#st2-v0-9"
            ),
        ));
    };

    let parameters: ParameterSchema = match content.get("parameters") {
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ActionError::new(Some("parameters"), e.to_string()))?,
        None => ParameterSchema::new(),
    };

    // 4. Parameter-definition rules.
    let action_ref = Action::make_ref(pack, &name);
    validate_parameters(&action_ref, &parameters, &runner.runner_parameters)?;

    Ok(Action {
        id: String::new(),
        uid: Action::uid_for(pack, &name),
        action_ref,
        pack: pack.to_string(),
        name,
        runner_type: runner_name,
        entry_point: content
            .get("entry_point")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        description: content
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        enabled: content
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        parameters,
        output_schema: content
            .get("output_schema")
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
        notify: content.get("notify").filter(|v| !v.is_null()).cloned(),
        tags: content
            .get("tags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        metadata_file: metadata_file.to_string(),
    })
}

/// The override rule for one attribute of a runner parameter redefined by an action.
pub fn check_runner_override(
    action_ref: &str,
    param: &str,
    attr: &str,
    action_value: Option<&Value>,
    runner_value: Option<&Value>,
) -> Result<(), ActionError> {
    let same = action_value.unwrap_or(&Value::Null) == runner_value.unwrap_or(&Value::Null);
    if !RUNNER_PARAM_OVERRIDABLE_ATTRS.contains(&attr) && !same {
        return Err(ActionError::new(
            Some(&format!("parameters.{param}.{attr}")),
            format!(
                "The attribute \"{attr}\" for the runner parameter \"{param}\" in action \
                 \"{action_ref}\" cannot be overridden."
            ),
        ));
    }
    Ok(())
}

/// Every runner parameter the action redefines may only change overridable attributes.
/// (Run at registration and again whenever the execution parameter schema is built.)
pub fn check_runner_overrides(
    action_ref: &str,
    action_params: &ParameterSchema,
    runner_params: &ParameterSchema,
) -> Result<(), ActionError> {
    for (name, spec) in action_params {
        let Some(runner_spec) = runner_params.get(name) else {
            continue;
        };
        for (attr, value) in &spec.0 {
            check_runner_override(action_ref, name, attr, Some(value), runner_spec.get(attr))?;
        }
    }
    Ok(())
}

/// StackStorm's parameter-definition rules (`validators/api/action.py`): runner overrides,
/// unique and contiguous positions, immutable parameters need a default and may not redefine a
/// runner-immutable parameter.
pub fn validate_parameters(
    action_ref: &str,
    action_params: &ParameterSchema,
    runner_params: &ParameterSchema,
) -> Result<(), ActionError> {
    let mut positions: Vec<(f64, Value, String)> = Vec::new();
    for (name, spec) in action_params {
        if let Some(runner_spec) = runner_params.get(name) {
            for (attr, value) in &spec.0 {
                check_runner_override(action_ref, name, attr, Some(value), runner_spec.get(attr))?;
            }
        }

        if let Some(pos) = spec.get("position") {
            let p = pos.as_f64().unwrap_or(f64::NAN);
            if let Some((_, _, other)) = positions.iter().find(|(q, _, _)| *q == p) {
                return Err(ActionError::new(
                    Some(&format!("parameters.{name}.position")),
                    format!(
                        "Parameters {name} and {other} have same position {}. Position values \
                         have to be unique.",
                        p.trunc() as i64
                    ),
                ));
            }
            positions.push((p, pos.clone(), name.clone()));
        }

        if spec.0.contains_key("immutable") {
            let field = format!("parameters.{name}.immutable");
            match runner_params.get(name) {
                Some(runner_spec) => {
                    if runner_spec.0.contains_key("immutable") {
                        return Err(ActionError::new(
                            Some(&field),
                            format!(
                                "Param {name} is declared immutable in runner. Cannot override in \
                                 action."
                            ),
                        ));
                    }
                    if !spec.has_default() && !runner_spec.has_default() {
                        return Err(ActionError::new(
                            Some(&field),
                            format!("Immutable param {name} requires a default value."),
                        ));
                    }
                }
                None => {
                    if !spec.has_default() {
                        return Err(ActionError::new(
                            Some(&field),
                            format!("Immutable param {name} requires a default value."),
                        ));
                    }
                }
            }
        }
    }
    check_contiguous(&mut positions)
}

fn check_contiguous(positions: &mut [(f64, Value, String)]) -> Result<(), ActionError> {
    if positions.is_empty() {
        return Ok(());
    }
    positions.sort_by(|a, b| a.0.total_cmp(&b.0));
    if positions.iter().any(|(p, _, _)| p.fract() != 0.0) {
        // Python's range() refuses floats.
        return Err(ActionError::new(
            Some("parameters"),
            "'float' object cannot be interpreted as an integer",
        ));
    }
    let contiguous = positions.windows(2).all(|w| w[1].0 == w[0].0 + 1.0);
    if !contiguous {
        let shown = pyfmt::repr(&Value::Array(
            positions.iter().map(|(_, v, _)| v.clone()).collect(),
        ));
        return Err(ActionError::new(
            Some("parameters"),
            format!("Positions supplied {shown} for parameters are not contiguous."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gale_model::ParamSpec;
    use serde_json::json;

    fn schema_of(v: Value) -> ParameterSchema {
        serde_json::from_value(v).unwrap()
    }

    fn runner(name: &str, params: Value) -> RunnerType {
        RunnerType {
            id: String::new(),
            name: name.into(),
            description: String::new(),
            enabled: true,
            runner_package: String::new(),
            runner_module: String::new(),
            runner_parameters: schema_of(params),
            output_key: None,
            output_schema: Value::Null,
            uid: RunnerType::uid_for(name),
        }
    }

    fn shell() -> RunnerType {
        runner(
            "local-shell-cmd",
            json!({
                "cmd": {"type": "string"},
                "kwarg_op": {"type": "string", "default": "--"},
                "sudo": {"type": "boolean", "default": false},
                "sudo_password": {"type": "string", "default": null, "secret": true, "required": false},
                "timeout": {"type": "integer", "default": 60},
                "locked": {"type": "string", "default": "x", "immutable": true}
            }),
        )
    }

    fn load(doc: Value) -> Result<Action, ActionError> {
        action_from_document(&doc, "p", "actions/a.yaml", &[shell()])
    }

    fn reason(doc: Value) -> String {
        load(doc).unwrap_err().reason
    }

    #[test]
    fn good_action_gets_computed_fields_and_defaults() {
        let a = load(json!({"name": "a", "runner_type": "local-shell-cmd",
            "parameters": {"msg": {"type": "string"}, "sudo": {"immutable": true}}}))
        .unwrap();
        assert_eq!(a.action_ref, "p.a");
        assert_eq!(a.uid, "action:p:a");
        assert_eq!(a.pack, "p");
        assert!(a.enabled);
        assert_eq!(a.entry_point, "");
        assert_eq!(a.metadata_file, "actions/a.yaml");
        assert_eq!(a.parameters.keys().collect::<Vec<_>>(), ["msg", "sudo"]);
    }

    #[test]
    fn pack_field_mismatch() {
        assert_eq!(
            reason(json!({"name": "a", "runner_type": "local-shell-cmd", "pack": "other"})),
            "Model is in pack \"p\" but field \"pack\" is different: other"
        );
        assert!(load(json!({"name": "a", "runner_type": "local-shell-cmd", "pack": "p"})).is_ok());
    }

    #[test]
    fn unknown_top_level_key() {
        let e = load(json!({"name": "a", "runner_type": "local-shell-cmd", "foo": 1})).unwrap_err();
        assert_eq!(
            e.reason,
            "Additional properties are not allowed ('foo' was unexpected)"
        );
    }

    #[test]
    fn unknown_runner() {
        assert!(reason(json!({"name": "a", "runner_type": "run-local"}))
            .starts_with("RunnerType run-local is not found. If you are using old and deprecated runner name"));
    }

    #[test]
    fn invalid_parameter_name() {
        let e =
            load(json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {"a-b": {}}}))
                .unwrap_err();
        assert!(
            e.reason.starts_with("Parameter name \"a-b\" is invalid."),
            "{}",
            e.reason
        );
        assert_eq!(e.field.as_deref(), Some("parameters.a-b"));
    }

    #[test]
    fn duplicate_positions() {
        assert_eq!(
            reason(
                json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
                "x": {"position": 0}, "y": {"position": 0}}})
            ),
            "Parameters y and x have same position 0. Position values have to be unique."
        );
    }

    #[test]
    fn non_contiguous_positions() {
        assert_eq!(
            reason(
                json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
                "x": {"position": 0}, "y": {"position": 2}}})
            ),
            "Positions supplied [0, 2] for parameters are not contiguous."
        );
        // Need not start at 0.
        assert!(load(
            json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
            "x": {"position": 1}, "y": {"position": 2}, "z": {"position": 3}}})
        )
        .is_ok());
    }

    #[test]
    fn immutable_rules() {
        assert_eq!(
            reason(
                json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
                "locked": {"immutable": false}}})
            ),
            "Param locked is declared immutable in runner. Cannot override in action."
        );
        assert_eq!(
            reason(
                json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
                "cmd": {"immutable": true}}})
            ),
            "Immutable param cmd requires a default value."
        );
        assert_eq!(
            reason(
                json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
                "mine": {"type": "string", "immutable": false}}})
            ),
            "Immutable param mine requires a default value."
        );
        // A runner default satisfies it.
        assert!(load(
            json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
            "sudo": {"immutable": true}}})
        )
        .is_ok());
    }

    #[test]
    fn runner_override_rules() {
        assert_eq!(
            reason(json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
                "cmd": {"type": "integer"}}})),
            "The attribute \"type\" for the runner parameter \"cmd\" in action \"p.a\" cannot be overridden."
        );
        assert_eq!(
            reason(json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
                "cmd": {"secret": true}}})),
            "The attribute \"secret\" for the runner parameter \"cmd\" in action \"p.a\" cannot be overridden."
        );
        // Same value, or an overridable attribute, is fine.
        assert!(load(json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {
            "cmd": {"type": "string", "default": "ls", "description": "d", "required": true, "enum": ["ls"]}}}))
        .is_ok());
    }

    #[test]
    fn bad_parameter_definitions() {
        for bad in [
            json!({"x": {"type": ["string", "null"]}}),
            json!({"x": {"type": "strin"}}),
            json!({"x": {"required": "yes"}}),
            json!({"x": {"position": -1}}),
            json!({"x": {"unknown_key": 1}}),
        ] {
            assert!(load(json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": bad.clone()})).is_err(), "{bad}");
        }
    }

    #[test]
    fn null_parameter_definition_means_any() {
        let a =
            load(json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": {"x": null}}))
                .unwrap();
        assert_eq!(a.parameters["x"], ParamSpec::default());
    }
}

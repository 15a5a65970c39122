//! Validation of rendered parameters against the merged runner+action schema (§2.2), and the
//! immutable-override check (§2.1 step 5).

use super::Error;
use gale_model::params::{merge_schemas, ParameterSchema};
use gale_model::{Action, RunnerType};
use gale_packs::schema::{allow_default_none, assign_defaults};
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

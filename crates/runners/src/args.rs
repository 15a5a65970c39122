//! Shell argument building for script runners (actions.md §2.7,
//! `st2common.util.action_db.get_args` + `ShellScriptAction._get_script_arguments`).
//!
//! Only *action* parameters become arguments. Positionals come from the action's own parameter
//! definitions (every parameter with a `position`, supplied or not); every other action
//! parameter is a named argument `<kwarg_op><name>=<value>`.

use crate::pyfmt::{py_str, py_truthy, shlex_quote};
use gale_model::ParameterSchema;
use serde_json::{Map, Value};

/// The pieces of a script command line before they are joined.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptArgs {
    /// Serialized positional values (unquoted), ordered by position.
    pub positional: Vec<String>,
    /// Named arguments in action-parameter order: name without `kwarg_op`, raw value.
    pub named: Vec<(String, Value)>,
}

/// Splits action parameters into positional and named arguments.
pub fn script_args(
    action_schema: &ParameterSchema,
    action_params: &Map<String, Value>,
) -> ScriptArgs {
    // StackStorm keys a dict by position, so a later parameter with the same position wins;
    // registration normally rejects duplicates.
    let mut by_pos: Vec<(f64, &str)> = Vec::new();
    for (name, spec) in action_schema {
        if let Some(pos) = spec.position() {
            if let Some(slot) = by_pos.iter_mut().find(|(p, _)| *p == pos) {
                slot.1 = name.as_str();
            } else {
                by_pos.push((pos, name.as_str()));
            }
        }
    }
    by_pos.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));

    let positional: Vec<String> = by_pos
        .iter()
        .map(|(_, name)| {
            let ty = action_schema.get(*name).and_then(|s| s.type_name());
            serialize_positional(ty, action_params.get(*name).unwrap_or(&Value::Null))
        })
        .collect();

    let named = action_params
        .iter()
        .filter(|(name, _)| !by_pos.iter().any(|(_, n)| n == name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    ScriptArgs { positional, named }
}

/// `serialize_positional_argument`: per declared type.
pub fn serialize_positional(ty: Option<&str>, value: &Value) -> String {
    match ty {
        Some("string") | Some("number") | Some("float") => match value {
            Value::Null => String::new(),
            other => py_str(other),
        },
        Some("boolean") => match value {
            Value::Null => String::new(),
            other if py_truthy(other) => "1".to_string(),
            _ => "0".to_string(),
        },
        Some("array") | Some("list") => match value {
            Value::Array(items) if !items.is_empty() => {
                items.iter().map(py_str).collect::<Vec<_>>().join(",")
            }
            // A truthy non-list is iterated by Python: a string joins its characters.
            Value::String(s) if !s.is_empty() => {
                s.chars().map(String::from).collect::<Vec<_>>().join(",")
            }
            Value::Object(o) if !o.is_empty() => o.keys().cloned().collect::<Vec<_>>().join(","),
            _ => String::new(),
        },
        Some("object") => {
            if py_truthy(value) {
                serde_json::to_string(value).unwrap_or_default()
            } else {
                String::new()
            }
        }
        Some("null") => String::new(),
        // Everything else, including `integer`: str() when truthy, so integer 0 becomes "".
        _ => {
            if py_truthy(value) {
                py_str(value)
            } else {
                String::new()
            }
        }
    }
}

/// The argument string appended to the script path: named arguments first, then positionals.
pub fn format_script_arguments(args: &ScriptArgs, kwarg_op: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (name, value) in &args.named {
        let flag = format!("{kwarg_op}{name}");
        match value {
            Value::Null => continue,
            Value::String(s) if s.is_empty() => continue,
            // The bare flag is appended unquoted, as StackStorm does.
            Value::Bool(true) => parts.push(flag),
            Value::Bool(false) => continue,
            other => parts.push(format!(
                "{}={}",
                shlex_quote(&flag),
                shlex_quote(&py_str(other))
            )),
        }
    }
    if !args.positional.is_empty() {
        let quoted: Vec<String> = args.positional.iter().map(|p| shlex_quote(p)).collect();
        parts.push(quoted.join(" "));
    }
    parts.join(" ")
}

/// Full command for a script: `<quoted path> <arguments>`.
pub fn script_command(script_path: &str, arguments: &str) -> String {
    let path = shlex_quote(script_path);
    if arguments.is_empty() {
        path
    } else {
        format!("{path} {arguments}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> ParameterSchema {
        serde_json::from_value(v).unwrap()
    }
    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }
    fn build(s: Value, p: Value) -> String {
        let args = script_args(&schema(s), &params(p));
        script_command("/opt/p/actions/s.sh", &format_script_arguments(&args, "--"))
    }

    #[test]
    fn core_sendmail_example_from_spec() {
        // core.sendmail's parameter definitions (all positional).
        let s = json!({
            "sendmail_binary": {"type": "string", "default": "None", "position": 0},
            "from": {"type": "string", "default": "stanley", "position": 1},
            "to": {"type": "string", "required": true, "position": 2},
            "subject": {"type": "string", "required": true, "position": 3},
            "send_empty_body": {"type": "boolean", "default": true, "position": 4},
            "content_type": {"type": "string", "default": "text/html", "position": 5},
            "body": {"type": "string", "required": true, "position": 6},
            "sudo": {"immutable": true},
            "attachments": {"type": "string", "position": 7}
        });
        let p = json!({"sendmail_binary": "None", "from": "stanley", "to": "a@b", "subject": "Subj",
            "send_empty_body": true, "content_type": "text/html", "body": "Body", "attachments": null});
        let args = script_args(&schema(s), &params(p));
        let cmd = script_command(
            "/opt/packs/core/actions/send_mail/send_mail",
            &format_script_arguments(&args, "--"),
        );
        assert_eq!(
            cmd,
            "/opt/packs/core/actions/send_mail/send_mail None stanley a@b Subj 1 text/html Body ''"
        );
    }

    #[test]
    fn positional_serialization_by_type() {
        assert_eq!(serialize_positional(Some("string"), &json!(null)), "");
        assert_eq!(serialize_positional(Some("string"), &json!(5)), "5");
        assert_eq!(serialize_positional(Some("number"), &json!(1.5)), "1.5");
        assert_eq!(serialize_positional(Some("number"), &json!(0)), "0");
        assert_eq!(serialize_positional(Some("boolean"), &json!(true)), "1");
        assert_eq!(serialize_positional(Some("boolean"), &json!(false)), "0");
        assert_eq!(serialize_positional(Some("boolean"), &json!(null)), "");
        assert_eq!(
            serialize_positional(Some("array"), &json!(["a", "b"])),
            "a,b"
        );
        assert_eq!(
            serialize_positional(Some("array"), &json!([1, true])),
            "1,True"
        );
        assert_eq!(serialize_positional(Some("array"), &json!([])), "");
        assert_eq!(serialize_positional(Some("array"), &json!(null)), "");
        assert_eq!(
            serialize_positional(Some("object"), &json!({"a": 1, "b": [1, 2]})),
            r#"{"a":1,"b":[1,2]}"#
        );
        assert_eq!(serialize_positional(Some("object"), &json!({})), "");
        assert_eq!(serialize_positional(Some("null"), &json!("x")), "");
        // Quirk: integer 0 is falsy and becomes an empty argument.
        assert_eq!(serialize_positional(Some("integer"), &json!(0)), "");
        assert_eq!(serialize_positional(Some("integer"), &json!(7)), "7");
        assert_eq!(serialize_positional(None, &json!(false)), "");
        assert_eq!(serialize_positional(None, &json!(true)), "True");
        assert_eq!(serialize_positional(None, &json!("x y")), "x y");
    }

    #[test]
    fn integer_zero_positional_is_empty_quoted_argument() {
        let cmd = build(
            json!({"count": {"type": "integer", "position": 0}, "n": {"type": "integer", "position": 1}}),
            json!({"count": 0, "n": 3}),
        );
        assert_eq!(cmd, "/opt/p/actions/s.sh '' 3");
    }

    #[test]
    fn positions_need_not_start_at_zero_and_unsupplied_ones_are_empty() {
        let cmd = build(
            json!({"c": {"type": "string", "position": 3}, "a": {"type": "string", "position": 1}, "b": {"type": "string", "position": 2}}),
            json!({"a": "x y", "c": "z"}),
        );
        assert_eq!(cmd, "/opt/p/actions/s.sh 'x y' '' z");
    }

    #[test]
    fn named_arguments_rules() {
        let cmd = build(
            json!({"verbose": {"type": "boolean"}, "quiet": {"type": "boolean"}, "name": {"type": "string"},
                   "empty": {"type": "string"}, "none": {"type": "string"}, "list": {"type": "array"},
                   "obj": {"type": "object"}, "n": {"type": "integer"}, "pos": {"type": "string", "position": 0}}),
            json!({"verbose": true, "quiet": false, "name": "a b", "empty": "", "none": null,
                   "list": ["x", 1], "obj": {"k": "v"}, "n": 0, "pos": "p"}),
        );
        assert_eq!(
            cmd,
            "/opt/p/actions/s.sh --verbose --name='a b' --list='['\"'\"'x'\"'\"', 1]' \
             --obj='{'\"'\"'k'\"'\"': '\"'\"'v'\"'\"'}' --n=0 p"
        );
    }

    #[test]
    fn named_flag_and_value_are_quoted_separately() {
        // `%s=%s` % (quote(flag), quote(value)): a flag needing quotes is quoted on its own.
        let args = ScriptArgs {
            positional: vec![],
            named: vec![("a b".into(), json!("c"))],
        };
        assert_eq!(format_script_arguments(&args, "--"), "'--a b'=c");
        let args = ScriptArgs {
            positional: vec![],
            named: vec![("x".into(), json!(1.0))],
        };
        assert_eq!(format_script_arguments(&args, "--"), "--x=1.0");
    }

    #[test]
    fn kwarg_op_is_prefixed_and_named_come_before_positionals() {
        let s = schema(json!({"p": {"type": "string", "position": 0}, "flag": {"type": "string"}}));
        let args = script_args(&s, &params(json!({"p": "pos", "flag": "v"})));
        assert_eq!(format_script_arguments(&args, "-"), "-flag=v pos");
        assert_eq!(format_script_arguments(&args, "--"), "--flag=v pos");
    }

    #[test]
    fn no_arguments_gives_bare_quoted_path() {
        let args = script_args(&schema(json!({})), &params(json!({})));
        assert_eq!(
            script_command("/a b/s.sh", &format_script_arguments(&args, "--")),
            "'/a b/s.sh'"
        );
    }

    #[test]
    fn parameters_absent_from_request_but_positional_still_appear() {
        let args = script_args(
            &schema(json!({"a": {"type": "boolean", "position": 0}})),
            &params(json!({})),
        );
        assert_eq!(args.positional, vec![String::new()]);
        assert!(args.named.is_empty());
    }
}

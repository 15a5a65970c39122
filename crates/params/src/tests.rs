//! Behaviour tests for the parameter pipeline, mostly tables of (input → StackStorm's output).

use super::*;
use gale_model::params::MASKED;
use serde_json::json;
use std::collections::HashMap;

struct Kv(HashMap<String, Value>);

impl gale_expr::ContextProvider for Kv {
    fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(self.0.get(key).cloned())
    }
}

fn kv(pairs: &[(&str, &str)]) -> Kv {
    Kv(pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect())
}

fn schema(v: Value) -> gale_model::params::ParameterSchema {
    serde_json::from_value(v).unwrap()
}

fn runner(name: &str, params: Value, output_key: Option<&str>) -> RunnerType {
    RunnerType {
        id: String::new(),
        name: name.into(),
        description: String::new(),
        enabled: true,
        runner_package: String::new(),
        runner_module: String::new(),
        runner_parameters: schema(params),
        output_key: output_key.map(str::to_string),
        output_schema: Value::Null,
        uid: RunnerType::uid_for(name),
    }
}

fn local_shell_cmd() -> RunnerType {
    runner(
        "local-shell-cmd",
        json!({
            "cmd": {"type": "string", "description": "command"},
            "cwd": {"type": "string"},
            "env": {"type": "object"},
            "kwarg_op": {"type": "string", "default": "--"},
            "sudo": {"type": "boolean", "default": false},
            "sudo_password": {"type": "string", "default": null, "required": false, "secret": true},
            "timeout": {"type": "integer", "default": 60}
        }),
        None,
    )
}

fn action(name: &str, runner: &str, params: Value) -> Action {
    Action {
        id: String::new(),
        name: name.into(),
        pack: "p".into(),
        action_ref: format!("p.{name}"),
        uid: format!("action:p:{name}"),
        runner_type: runner.into(),
        entry_point: String::new(),
        description: None,
        enabled: true,
        parameters: schema(params),
        output_schema: Value::Null,
        notify: None,
        tags: vec![],
        metadata_file: String::new(),
    }
}

fn core_echo() -> Action {
    action(
        "echo",
        "local-shell-cmd",
        json!({
            "message": {"type": "string", "required": true},
            "cmd": {"type": "string", "required": true, "default": "echo \"{{message}}\"", "immutable": true, "description": "command"},
            "kwarg_op": {"immutable": true},
            "sudo": {"default": false, "immutable": true},
            "sudo_password": {"immutable": true}
        }),
    )
}

fn core_local() -> Action {
    action(
        "local",
        "local-shell-cmd",
        json!({"cmd": {"type": "string", "required": true, "description": "command"}, "sudo": {"immutable": true}}),
    )
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

struct Case<'a> {
    runner: &'a RunnerType,
    action: &'a Action,
    params: Value,
    context: Value,
    config: Value,
    kv: Kv,
}

impl<'a> Case<'a> {
    fn new(runner: &'a RunnerType, action: &'a Action, params: Value) -> Self {
        Case {
            runner,
            action,
            params,
            context: json!({"user": "stanley", "pack": "p"}),
            config: json!({}),
            kv: kv(&[]),
        }
    }
    fn live(&self) -> Result<Map<String, Value>, Error> {
        let params = map(self.params.clone());
        render_live_params(&RenderInput {
            runner: self.runner,
            action: self.action,
            params: &params,
            context: &self.context,
            config: &self.config,
            kv: &self.kv,
        })
    }
    fn final_(&self) -> Result<FinalParams, Error> {
        let params = map(self.params.clone());
        render_final_params(&RenderInput {
            runner: self.runner,
            action: self.action,
            params: &params,
            context: &self.context,
            config: &self.config,
            kv: &self.kv,
        })
    }
}

// ---------------------------------------------------------------- rendering without Jinja

#[test]
fn dependency_unsatisfied_message() {
    let r = runner("x", json!({"r1": {"default": "some"}}), None);
    let a = action("a", "x", json!({"r2": {"default": "{{ r1 }}"}}));
    let e = Case::new(
        &r,
        &a,
        json!({"r3": "lolcathost", "r4": "{{ variable_not_defined }}"}),
    )
    .live()
    .unwrap_err();
    assert_eq!(
        e,
        Error::Render("Dependency unsatisfied in variable \"variable_not_defined\"".into())
    );
    assert_eq!(e.http_status(), 400);
    assert!(e.creates_failed_execution());
}

#[test]
fn cyclic_dependency_message_lists_sorted_names() {
    let r = runner("x", json!({"r1": {"default": "some"}}), None);
    let a = action("a", "x", json!({"r2": {"default": "{{ r1 }}"}}));
    let e = Case::new(
        &r,
        &a,
        json!({"r3": "lolcathost", "cyclic": "{{ cyclic }}", "morecyclic": "{{ morecyclic }}"}),
    )
    .live()
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cyclic dependency found in the following variables: cyclic, morecyclic. Likely the variable is referencing itself"
    );
}

#[test]
fn self_referencing_default_is_a_cycle() {
    let r = runner("x", json!({}), None);
    let a = action(
        "a",
        "x",
        json!({"x": {"type": "string", "default": "{{ x }}"}}),
    );
    let e = Case::new(&r, &a, json!({})).live().unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cyclic dependency found in the following variables: x. Likely the variable is referencing itself"
    );
    let a = action(
        "a",
        "x",
        json!({"a": {"default": "{{ b }}"}, "b": {"default": "{{ a }}"}}),
    );
    let e = Case::new(&r, &a, json!({})).live().unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Cyclic dependency found in the following variables: a."),
        "{e}"
    );
}

#[test]
fn unparsable_template_is_a_plain_string() {
    let r = local_shell_cmd();
    let a = core_local();
    let live = Case::new(&r, &a, json!({"cmd": "echo {{ oops"}))
        .live()
        .unwrap();
    assert_eq!(live, map(json!({"cmd": "echo {{ oops"})));
}

#[test]
fn live_params_are_cast_with_runner_definitions() {
    let r = local_shell_cmd();
    let a = core_local();
    let live = Case::new(
        &r,
        &a,
        json!({"cmd": "ls", "timeout": "5", "sudo_password": null}),
    )
    .live()
    .unwrap();
    assert_eq!(
        live,
        map(json!({"cmd": "ls", "timeout": 5, "sudo_password": null}))
    );
    // Plain defaults are not added at request time.
    assert!(!live.contains_key("kwarg_op"));
}

#[test]
fn live_cast_errors_keep_python_text_and_status() {
    let r = local_shell_cmd();
    let a = core_local();
    let e = Case::new(&r, &a, json!({"cmd": "ls", "timeout": "1.5"}))
        .live()
        .unwrap_err();
    assert_eq!(
        e,
        Error::Cast("invalid literal for int() with base 10: '1.5'".into())
    );
    assert_eq!(e.http_status(), 400);
    assert!(!e.creates_failed_execution());
    let e = Case::new(&r, &a, json!({"cmd": 5})).live().unwrap_err();
    assert_eq!(
        e.to_string(),
        "Value \"5\" must either be a string or None. Got \"int\"."
    );
    let obj = action("o", "x", json!({"o": {"type": "object"}}));
    let rx = runner("x", json!({}), None);
    let e = Case::new(&rx, &obj, json!({"o": "a b"}))
        .live()
        .unwrap_err();
    assert_eq!(e.http_status(), 500);
}

#[test]
fn final_params_split_fill_defaults_and_nulls() {
    let r = local_shell_cmd();
    let a = action(
        "a",
        "local-shell-cmd",
        json!({"cmd": {"type": "string", "default": "ls"}, "extra": {"type": "string"}, "count": {"type": "integer", "default": "3"}}),
    );
    let f = Case::new(&r, &a, json!({"timeout": 10})).final_().unwrap();
    assert_eq!(f.runner["cmd"], json!("ls"));
    assert_eq!(f.runner["timeout"], json!(10));
    assert_eq!(f.runner["kwarg_op"], json!("--"));
    assert_eq!(f.runner["sudo"], json!(false));
    assert_eq!(f.runner["sudo_password"], Value::Null);
    assert_eq!(f.runner["cwd"], Value::Null);
    assert_eq!(f.action, map(json!({"extra": null, "count": 3})));
}

#[test]
fn runner_immutable_default_beats_action_default() {
    let r = runner(
        "remote-shell-cmd",
        json!({"parallel": {"type": "boolean", "default": false, "immutable": true}}),
        None,
    );
    let a = action(
        "a",
        "remote-shell-cmd",
        json!({"parallel": {"default": true}}),
    );
    let f = Case::new(&r, &a, json!({})).final_().unwrap();
    assert_eq!(f.runner["parallel"], json!(false));
}

#[test]
fn immutable_action_default_overrides_given_value_in_final() {
    let r = local_shell_cmd();
    let a = action(
        "a",
        "local-shell-cmd",
        json!({"sudo": {"default": true, "immutable": true}}),
    );
    let f = Case::new(&r, &a, json!({"sudo": false})).final_().unwrap();
    assert_eq!(f.runner["sudo"], json!(true));
}

// ---------------------------------------------------------------- rendering with Jinja

#[test]
fn echo_renders_its_immutable_command() {
    let r = local_shell_cmd();
    let a = core_echo();
    let live = Case::new(&r, &a, json!({"message": "hi there"}))
        .live()
        .unwrap();
    assert_eq!(live, map(json!({"message": "hi there"})));
    let f = Case::new(&r, &a, json!({"message": "hi there"}))
        .final_()
        .unwrap();
    assert_eq!(f.runner["cmd"], json!("echo \"hi there\""));
    assert_eq!(f.action, map(json!({"message": "hi there"})));
}

#[test]
fn template_default_is_persisted_in_live_params() {
    let r = runner("x", json!({}), None);
    let a = action(
        "a",
        "x",
        json!({
            "host": {"type": "string", "default": "{{ st2kv.system.host }}"},
            "count": {"type": "integer", "default": "{{ st2kv.system.count }}"},
            "who": {"type": "string", "default": "{{ action_context.user }}"},
            "region": {"type": "string", "default": "{{ config_context.region }}"},
            "plain": {"type": "string", "default": "p"},
            "locked": {"type": "string", "default": "{{ st2kv.system.host }}", "immutable": true}
        }),
    );
    let mut c = Case::new(&r, &a, json!({}));
    c.kv = kv(&[("system.host", "web01"), ("system.count", "3")]);
    c.config = json!({"region": "eu"});
    let live = c.live().unwrap();
    assert_eq!(
        live,
        map(json!({"host": "web01", "count": 3, "who": "stanley", "region": "eu"}))
    );
}

#[test]
fn missing_kv_key_renders_empty_and_integer_cast_fails() {
    let r = runner("x", json!({}), None);
    let a = action(
        "a",
        "x",
        json!({"count": {"type": "integer", "default": "{{ st2kv.system.count }}"}}),
    );
    let e = Case::new(&r, &a, json!({})).live().unwrap_err();
    assert_eq!(
        e,
        Error::Cast("invalid literal for int() with base 10: ''".into())
    );
}

#[test]
fn given_template_vs_default_template_quirk() {
    let r = runner("x", json!({}), None);
    let a = action(
        "a",
        "x",
        json!({"foo": {"type": "string", "default": "{{ baz }}"}, "bar": {"default": "R"}, "baz": {"default": "B"}}),
    );
    let live = Case::new(&r, &a, json!({"foo": "{{ bar }}"}))
        .live()
        .unwrap();
    assert_eq!(live["foo"], json!("B"));
    let a = action(
        "a",
        "x",
        json!({"foo": {"type": "string", "default": "P"}, "bar": {"default": "R"}}),
    );
    let live = Case::new(&r, &a, json!({"foo": "{{ bar }}"}))
        .live()
        .unwrap();
    assert_eq!(live["foo"], json!("R"));
}

#[test]
fn parameters_reference_each_other_in_dependency_order() {
    let r = runner("x", json!({}), None);
    let a = action(
        "a",
        "x",
        json!({"c": {"default": "{{ b }}-c"}, "b": {"default": "{{ a }}-b"}, "a": {"default": "a"}}),
    );
    let f = Case::new(&r, &a, json!({})).final_().unwrap();
    assert_eq!(f.action["c"], json!("a-b-c"));
}

#[test]
fn complex_defaults_keep_types_only_for_exact_references() {
    let r = runner("x", json!({}), None);
    let a = action(
        "a",
        "x",
        json!({
            "a": {"type": "array", "default": [1, 2]},
            "b": {"type": "array", "default": ["{{a}}", "x"]},
            "c": {"type": "array", "default": ["{{ a }}"]},
            "d": {"type": "object", "default": {"k": "{{a}}"}}
        }),
    );
    let f = Case::new(&r, &a, json!({})).final_().unwrap();
    assert_eq!(f.action["b"], json!([[1, 2], "x"]));
    assert_eq!(f.action["c"], json!(["[1, 2]"]));
    assert_eq!(f.action["d"], json!({"k": [1, 2]}));
}

#[test]
fn render_failure_names_the_parameter() {
    let r = runner("x", json!({}), None);
    let a = action("a", "x", json!({"p": {"default": "x"}}));
    let e = Case::new(&r, &a, json!({"q": "{{ p.missing.deeper }}"}))
        .live()
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Failed to render parameter \"q\": "),
        "{e}"
    );
    assert!(e.creates_failed_execution());
}

#[test]
fn final_rendering_never_rerenders_live_values() {
    let r = runner("x", json!({}), None);
    let a = action("a", "x", json!({"t": {"type": "string"}}));
    let f = Case::new(&r, &a, json!({"t": "{{ nothing }}"}))
        .final_()
        .unwrap();
    assert_eq!(f.action["t"], json!("{{ nothing }}"));
}

// ---------------------------------------------------------------- validation

#[test]
fn validation_table() {
    let r = local_shell_cmd();
    let echo = core_echo();
    let a = action(
        "a",
        "local-shell-cmd",
        json!({
            "cmd": {"type": "string", "required": true, "default": "ls"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "n": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "pattern": "^[a-z]+$"},
            "any": {},
            "opt_default_none": {"type": "integer", "default": null, "required": true},
            "nested": {"type": "object", "properties": {"x": {"type": "integer", "default": 7}, "y": {"type": "string", "required": true}}},
            "must": {"type": "boolean", "required": true}
        }),
    );
    let cases: Vec<(&Action, Value, Result<Value, &str>)> = vec![
        (&echo, json!({}), Err("'message' is a required property")),
        (
            &echo,
            json!({"message": "x", "foo": 1}),
            Err("Additional properties are not allowed ('foo' was unexpected)"),
        ),
        (
            &echo,
            json!({"message": "x", "b": 1, "a": 2}),
            Err("Additional properties are not allowed ('a', 'b' were unexpected)"),
        ),
        (
            &echo,
            json!({"message": null}),
            Err("None is not of type 'string'"),
        ),
        (
            &echo,
            json!({"message": 5}),
            Err("5 is not of type 'string'"),
        ),
        (
            &a,
            json!({"must": true, "mode": "c"}),
            Err("'c' is not one of ['a', 'b']"),
        ),
        (
            &a,
            json!({"must": true, "n": 0}),
            Err("0 is less than the minimum of 1"),
        ),
        (
            &a,
            json!({"must": true, "name": "A1"}),
            Err("'A1' does not match '^[a-z]+$'"),
        ),
        (
            &a,
            json!({"must": true, "n": "x"}),
            Err("'x' is not of type 'integer', 'null'"),
        ),
        (&a, json!({"must": 1}), Err("1 is not of type 'boolean'")),
        (
            &a,
            json!({"must": true, "nested": {"z": 1}}),
            Err("'y' is a required property"),
        ),
        (
            &a,
            json!({"must": true, "mode": "c", "n": "x"}),
            Err("'x' is not of type 'integer', 'null'"),
        ),
    ];
    for (act, input, expected) in cases {
        let got = validate_params(&r, act, &map(input.clone()));
        match expected {
            Err(msg) => assert_eq!(got, Err(Error::Validation(msg.into())), "{input}"),
            Ok(v) => assert_eq!(got.unwrap(), map(v), "{input}"),
        }
    }
}

#[test]
fn validation_fills_defaults_and_accepts_nulls() {
    let r = local_shell_cmd();
    let a = action(
        "a",
        "local-shell-cmd",
        json!({
            "cmd": {"type": "string", "required": true, "default": "ls"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "any": {},
            "nested": {"type": "object", "properties": {"x": {"type": "integer", "default": 7}}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string", "default": "d"}}}}
        }),
    );
    let out = validate_params(
        &r,
        &a,
        &map(json!({"cmd": null, "any": null, "nested": {}, "list": [{}, {"k": "v"}], "sudo_password": null})),
    )
    .unwrap();
    assert_eq!(out["cmd"], json!("ls"));
    assert!(!out.contains_key("mode"));
    assert_eq!(out["nested"], json!({"x": 7}));
    assert_eq!(out["list"], json!([{"k": "d"}, {"k": "v"}]));
    assert_eq!(out["kwarg_op"], json!("--"));
    assert_eq!(out["timeout"], json!(60));
}

#[test]
fn action_without_any_parameters_accepts_anything() {
    let r = runner("noop", json!({}), None);
    let a = action("noop", "noop", json!({}));
    let p = map(json!({"whatever": 1}));
    assert_eq!(validate_params(&r, &a, &p).unwrap(), p);
}

#[test]
fn runner_override_rule_rechecked_at_execution() {
    let r = local_shell_cmd();
    let a = action(
        "bad",
        "local-shell-cmd",
        json!({"cmd": {"type": "integer"}}),
    );
    let e = validate_params(&r, &a, &map(json!({}))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "The attribute \"type\" for the runner parameter \"cmd\" in action \"p.bad\" cannot be overridden."
    );
    assert_eq!(e.http_status(), 500);
}

#[test]
fn immutable_override_message() {
    let r = local_shell_cmd();
    let echo = core_echo();
    assert_eq!(
        check_immutable(&r, &echo, &map(json!({"message": "x", "cmd": "rm -rf /"}))),
        Err(Error::Immutable(
            "Override of immutable parameter(s) ['cmd'] is unsupported.".into()
        ))
    );
    assert_eq!(
        check_immutable(&r, &core_local(), &map(json!({"cmd": "ls", "sudo": true})))
            .unwrap_err()
            .to_string(),
        "Override of immutable parameter(s) ['sudo'] is unsupported."
    );
    let both = check_immutable(&r, &echo, &map(json!({"sudo": true, "cmd": "x"}))).unwrap_err();
    assert_eq!(
        both.to_string(),
        "Override of immutable parameter(s) ['sudo', 'cmd'] is unsupported."
    );
    assert!(check_immutable(&r, &echo, &map(json!({"message": "x"}))).is_ok());
    let runner_side = runner(
        "r",
        json!({"locked": {"type": "string", "default": "x", "immutable": true}}),
        None,
    );
    let plain = action("a", "r", json!({}));
    assert!(check_immutable(&runner_side, &plain, &map(json!({"locked": "y"}))).is_err());
}

// ---------------------------------------------------------------- masking

#[test]
fn parameter_masking() {
    let r = local_shell_cmd();
    let a = action(
        "a",
        "local-shell-cmd",
        json!({
            "token": {"type": "string", "secret": true},
            "creds": {"type": "object", "properties": {"user": {"type": "string"}, "pass": {"type": "string", "secret": true}}},
            "all": {"type": "object", "secret": true},
            "list": {"type": "array", "items": {"type": "object", "properties": {"key": {"secret": true}, "name": {}}}},
            "secrets": {"type": "array", "items": {"type": "string", "secret": true}},
            "plain": {"type": "string"}
        }),
    );
    let params = map(json!({
        "sudo_password": "pw",
        "token": "t",
        "creds": {"user": "u", "pass": "p"},
        "all": {"a": 1},
        "list": [{"key": "k1", "name": "n1"}, {"name": "n2"}],
        "secrets": ["a", "b"],
        "plain": "visible",
        "cmd": "ls"
    }));
    let masked = mask_parameters(&r, &a, &params);
    assert_eq!(
        Value::Object(masked),
        json!({
            "sudo_password": MASKED,
            "token": MASKED,
            "creds": {"user": "u", "pass": MASKED},
            "all": MASKED,
            "list": [{"key": MASKED, "name": "n1"}, {"name": "n2"}],
            "secrets": [MASKED, MASKED],
            "plain": "visible",
            "cmd": "ls"
        })
    );
    // Masking never touches the input.
    assert_eq!(params["token"], json!("t"));
}

#[test]
fn result_masking_by_output_schema() {
    let r = runner("python-script", json!({}), Some("result"));
    let mut a = action("a", "python-script", json!({}));
    a.output_schema = json!({
        "type": "object",
        "properties": {"password": {"type": "string", "secret": true}, "items": {"type": "array", "items": {"type": "object", "properties": {"t": {"secret": true}}}}},
        "patternProperties": {"^key_": {"type": "string", "secret": true}},
        "additionalProperties": {"type": "object", "properties": {"inner": {"type": "string", "secret": true}}}
    });
    let result = json!({"result": {"password": "p", "items": [{"t": 1, "u": 2}], "key_a": "k", "other": {"inner": "i", "x": 1}}, "stdout": "password"});
    assert_eq!(
        mask_result(&r, &a, &result),
        json!({"result": {"password": MASKED, "items": [{"t": MASKED, "u": 2}], "key_a": MASKED, "other": {"inner": MASKED, "x": 1}}, "stdout": "password"})
    );

    // Legacy schema (no top-level type) still masks.
    a.output_schema = json!({"password": {"type": "string", "secret": true}});
    assert_eq!(
        mask_result(&r, &a, &json!({"result": {"password": "p", "ok": 1}})),
        json!({"result": {"password": MASKED, "ok": 1}})
    );

    // No output key, no schema, or no key in the result: untouched.
    let shell = local_shell_cmd();
    assert_eq!(
        mask_result(&shell, &a, &json!({"stdout": "x"})),
        json!({"stdout": "x"})
    );
    a.output_schema = json!({});
    assert_eq!(
        mask_result(&r, &a, &json!({"result": {"password": "p"}})),
        json!({"result": {"password": "p"}})
    );
}

#[test]
fn whole_result_secret() {
    let r = runner("http-request", json!({}), Some("body"));
    let mut a = action("a", "http-request", json!({}));
    a.output_schema = json!({"type": "string", "secret": true});
    assert_eq!(
        mask_result(&r, &a, &json!({"body": "s", "status_code": 200})),
        json!({"body": MASKED, "status_code": 200})
    );
}

// ---------------------------------------------------------------- StackStorm's own cases
// (st2common/tests/unit/test_param_utils.py, run through live then final rendering)

fn finalized(
    runner_params: Value,
    action_params: Value,
    params: Value,
    context: Value,
) -> Result<FinalParams, Error> {
    let r = runner("r", runner_params, None);
    let a = action("a", "r", action_params);
    let mut c = Case::new(&r, &a, params);
    c.context = context;
    let live = c.live()?;
    c.params = Value::Object(live);
    c.final_()
}

#[test]
fn st2_finalized_params_order_and_defaults() {
    let f = finalized(
        json!({"r1": {}, "r2": {"default": "r2"}, "r3": {"default": "r3"}}),
        json!({"a1": {}, "a2": {"default": "a2"}, "r3": {"default": "a3"}}),
        json!({"r1": "p1", "r2": "p2", "r3": "p3", "a1": "p4", "a2": "p5"}),
        json!({"api_user": "noob"}),
    )
    .unwrap();
    assert_eq!(f.runner, map(json!({"r1": "p1", "r2": "p2", "r3": "p3"})));
    assert_eq!(f.action, map(json!({"a1": "p4", "a2": "p5"})));

    let f = finalized(
        json!({"r1": {}, "r2": {"default": "r2"}, "r3": {"default": "r3"}}),
        json!({"a1": {}, "a2": {"default": "a2"}, "r3": {"default": "a3"}}),
        json!({}),
        json!({"api_user": "noob"}),
    )
    .unwrap();
    assert_eq!(f.runner, map(json!({"r1": null, "r2": "r2", "r3": "a3"})));
    assert_eq!(f.action, map(json!({"a1": null, "a2": "a2"})));

    let f = finalized(
        json!({"r1": {}, "r2": {"default": "r2"}, "r3": {}}),
        json!({"r1": {}, "r2": {}, "r3": {"default": "a3"}}),
        json!({}),
        json!({"api_user": "noob"}),
    )
    .unwrap();
    assert_eq!(f.runner, map(json!({"r1": null, "r2": "r2", "r3": "a3"})));
}

#[test]
fn st2_finalized_params_with_dict() {
    let f = finalized(
        json!({"r1": {"type": "object"}, "r2": {"type": "object"}}),
        json!({"a1": {"type": "boolean"}, "a2": {"type": "boolean"}, "a3": {"type": "object"}, "a4": {"type": "integer"}, "a5": {"type": "array"}}),
        json!({"r1": "{{r2}}", "r2": {"r2.1": 1}, "a1": true, "a2": "{{a1}}",
               "a3": {"test": "{{a1}}", "test1": "{{a4}}", "test2": "{{a5}}"}, "a4": 3, "a5": ["1", "{{a1}}"]}),
        json!({"user": null}),
    )
    .unwrap();
    assert_eq!(f.runner, map(json!({"r1": {"r2.1": 1}, "r2": {"r2.1": 1}})));
    assert_eq!(
        f.action,
        map(
            json!({"a1": true, "a2": true, "a3": {"test": true, "test1": 3, "test2": ["1", true]}, "a4": 3, "a5": ["1", true]})
        )
    );
}

#[test]
fn st2_finalized_params_with_list() {
    let f = finalized(
        json!({"r1": {"type": "array"}, "r2": {"type": "array"}}),
        json!({"a1": {"type": "boolean"}, "a2": {"type": "string"}, "a3": {"type": "string"}, "a4": {"type": "boolean"},
               "a5": {"type": "array"}, "a6": {"type": "array"}, "a7": {"type": "integer"}}),
        json!({"r1": "{{r2}}", "r2": ["1", "2"], "a1": true, "a2": "Test", "a3": "Test2", "a4": "{{a1}}",
               "a5": ["{{a2}}", "{{a3}}"],
               "a6": [["{{r2}}", "{{a2}}"], ["{{a3}}", "{{a1}}"],
                      ["{{a7}}", "This should be rendered as a string {{a1}}", "{{a1}} This, too, should be rendered as a string {{a1}}"]],
               "a7": 5}),
        json!({"user": null}),
    )
    .unwrap();
    assert_eq!(f.runner, map(json!({"r1": ["1", "2"], "r2": ["1", "2"]})));
    assert_eq!(
        f.action,
        map(
            json!({"a1": true, "a2": "Test", "a3": "Test2", "a4": true, "a5": ["Test", "Test2"],
            "a6": [[["1", "2"], "Test"], ["Test2", true],
                   [5, "This should be rendered as a string True", "True This, too, should be rendered as a string True"]],
            "a7": 5})
        )
    );
}

#[test]
fn st2_no_double_rendering_and_filters() {
    let f = finalized(
        json!({"r1": {}}),
        json!({}),
        json!({"r1": "{{ action_context.h1 }}{{ action_context.h2 }}"}),
        json!({"h1": "{", "h2": "{ missing }}", "user": null}),
    )
    .unwrap();
    assert_eq!(f.runner, map(json!({"r1": "{{ missing }}"})));
    assert!(f.action.is_empty());

    let f = finalized(
        json!({"r1": {}}),
        json!({"cmd": {}}),
        json!({"cmd": "echo {{\"1.6.0\" | version_bump_minor}}"}),
        json!({"user": null}),
    )
    .unwrap();
    assert_eq!(f.action["cmd"], json!("echo 1.7.0"));
}

#[test]
fn st2_object_default_with_template_notation() {
    let f = finalized(
        json!({"r1": {}}),
        json!({"params": {"type": "object", "default": {"host": "{{host}}", "port": "{{port}}", "path": "/bar"}}}),
        json!({"host": "lolcathost", "port": 5555}),
        json!({"user": null}),
    )
    .unwrap();
    assert_eq!(
        f.action["params"],
        json!({"host": "lolcathost", "port": 5555, "path": "/bar"})
    );
}

#[test]
fn st2_missing_dependency_in_defaults() {
    let e = finalized(
        json!({"r1": {"default": "{{r3}}"}, "r2": {"default": "{{r3}}"}}),
        json!({}),
        json!({}),
        json!({"user": null}),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "Dependency unsatisfied in variable \"r3\"");
    let e = finalized(
        json!({"r1": {}, "r2": {}}),
        json!({}),
        json!({"r1": "{{r2}}", "r2": "{{r1}}"}),
        json!({"user": null}),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("Cyclic"), "{e}");
}

#[test]
fn st2_rendering_failure() {
    let e = finalized(
        json!({}),
        json!({"cmd": {}, "a2": {}}),
        json!({"cmd": "{{a2.foo}}", "a2": "test"}),
        json!({"user": null}),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Failed to render parameter \"cmd\": "),
        "{e}"
    );
}

// ---------------------------------------------------------------- pack config context

struct SecretKv;
impl gale_expr::ContextProvider for SecretKv {
    fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(match key {
            "system.token" => Some(json!("cipher")),
            "system.host" => Some(json!("db01")),
            _ => None,
        })
    }
    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        Ok(format!("plain({ciphertext})"))
    }
}

#[test]
fn config_context_renders_dynamic_values_then_defaults() {
    let schema = json!({
        "token": {"type": "string", "secret": true},
        "host": {"type": "string"},
        "missing": {"type": "string"},
        "region": {"type": "string", "default": "us-east-1"},
        "tmpl_default": {"type": "string", "default": "{{ st2kv.system.host }}"},
        "servers": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer", "default": 22}}}},
        "nested": {"type": "object", "properties": {"depth": {"type": "integer", "default": 2}}}
    });
    let values = json!({
        "token": "{{ st2kv.system.token }}",
        "host": "{{ st2kv.system.host }}",
        "missing": "{{ st2kv.system.nothing }}",
        "servers": [{"name": "a"}, {"name": "b", "port": 2222}],
        "static": "x"
    });
    let c = resolve_config(Some(&schema), Some(&values), "p", &SecretKv).unwrap();
    assert_eq!(
        c,
        json!({
            "token": "plain(cipher)",
            "host": "db01",
            "missing": null,
            "servers": [{"name": "a", "port": 22}, {"name": "b", "port": 2222}],
            "static": "x",
            "region": "us-east-1",
            "tmpl_default": "{{ st2kv.system.host }}",
            "nested": {"depth": 2}
        })
    );
    assert_eq!(
        resolve_config(None, None, "p", &SecretKv).unwrap(),
        json!({})
    );
}

#[test]
fn config_render_failure_names_key_and_pack() {
    let e = resolve_config(
        None,
        Some(&json!({"a": {"b": "{{ nope.x }}"}})),
        "p",
        &SecretKv,
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("Failed to render dynamic configuration value for key \"a.b\" with value \"{{ nope.x }}\" for pack \"p\" config: "), "{e}");
}

// ---------------------------------------------------------------- output schema validation

#[test]
fn output_validation() {
    let mut r = runner("python-script", json!({}), Some("result"));
    r.output_schema = json!({"type": "object", "properties": {"result": {}, "exit_code": {"type": "integer"}}, "additionalProperties": true});
    let mut a = action("a", "python-script", json!({}));
    a.output_schema =
        json!({"type": "object", "properties": {"count": {"type": "integer", "required": true}}});

    assert!(validate_output(&r, &a, &json!({"result": {"count": 1}, "exit_code": 0})).is_ok());
    let e =
        validate_output(&r, &a, &json!({"result": {"count": "x"}, "exit_code": 0})).unwrap_err();
    assert_eq!(e.error, "'x' is not of type 'integer'");
    assert_eq!(
        e.result(),
        json!({"error": "'x' is not of type 'integer'", "message": "Error validating output. See error output for more details."})
    );
    let e = validate_output(&r, &a, &json!({"result": {}, "exit_code": 0})).unwrap_err();
    assert_eq!(e.error, "'count' is a required property");
    let e =
        validate_output(&r, &a, &json!({"result": {"count": 1}, "exit_code": "0"})).unwrap_err();
    assert_eq!(e.error, "'0' is not of type 'integer'");

    // Legacy action schema: not validated.
    a.output_schema = json!({"count": {"type": "integer"}});
    assert!(validate_output(&r, &a, &json!({"result": {"count": "x"}, "exit_code": 0})).is_ok());
    // No runner schema: nothing is validated.
    a.output_schema = json!({"type": "object", "properties": {"count": {"type": "integer"}}});
    r.output_schema = json!({});
    assert!(validate_output(&r, &a, &json!({"result": {"count": "x"}})).is_ok());
}

// ---------------------------------------------------------------- request pipeline

#[test]
fn request_params_runs_render_validate_immutable_in_order() {
    let r = local_shell_cmd();
    let echo = core_echo();
    let ok = Case::new(&r, &echo, json!({"message": "hi"}));
    let input_params = map(ok.params.clone());
    let input = RenderInput {
        runner: &r,
        action: &echo,
        params: &input_params,
        context: &ok.context,
        config: &ok.config,
        kv: &ok.kv,
    };
    assert_eq!(
        request_params(&input).unwrap(),
        map(json!({"message": "hi"}))
    );

    let bad = map(json!({}));
    let input = RenderInput {
        params: &bad,
        ..input
    };
    assert_eq!(
        request_params(&input).unwrap_err().to_string(),
        "'message' is a required property"
    );

    let imm = map(json!({"message": "hi", "sudo": true}));
    let input = RenderInput {
        params: &imm,
        ..input
    };
    assert_eq!(
        request_params(&input).unwrap_err().to_string(),
        "Override of immutable parameter(s) ['sudo'] is unsupported."
    );

    let broken = map(json!({"message": "{{ nope }}"}));
    let input = RenderInput {
        params: &broken,
        ..input
    };
    assert_eq!(
        request_params(&input).unwrap_err().to_string(),
        "Dependency unsatisfied in variable \"nope\""
    );
}

#[test]
fn inquiry_response_masking() {
    let schema = json!({"type": "object", "properties": {"pin": {"type": "string", "secret": true}, "ok": {"type": "boolean"}}});
    assert_eq!(
        mask_inquiry_response(&json!({"pin": "1234", "ok": true}), &schema),
        json!({"pin": MASKED, "ok": true})
    );
    assert_eq!(
        mask_inquiry_response(&json!({"ok": true}), &schema),
        json!({"ok": true})
    );
}

#[test]
fn datastore_user_prefers_api_user() {
    assert_eq!(
        datastore_user(&json!({"user": "u", "api_user": "api"}), "stanley"),
        "api"
    );
    assert_eq!(datastore_user(&json!({"user": "u"}), "stanley"), "u");
    assert_eq!(
        datastore_user(&json!({"user": "u", "api_user": null}), "stanley"),
        "stanley"
    );
    assert_eq!(datastore_user(&json!({}), "stanley"), "stanley");
}

//! Enforcement planning (events.md §5.9): the execution context for a matched rule and its
//! action parameters rendered with `trigger`, `st2kv`, `action_context`, `config_context` and
//! each other, then cast by the action's parameter types.
//!
//! This mirrors StackStorm's `render_live_params` with `additional_contexts = {"trigger":
//! payload}` for what rules use. The plan also carries the raw parameters and the extra
//! context, so an engine that owns the full live-parameter pipeline can render there instead.

use crate::pyval::{py_str, type_name};
use crate::rule::Rule;
use gale_expr::{ContextProvider, Lang};
use gale_model::ParameterSchema;
use regex::Regex;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// `use_none` filter output; a `string` parameter holding it becomes null.
pub const NONE_MAGIC_VALUE: &str = "%*****__%NONE%__*****%";

/// Everything needed to plan one enforcement besides the rule.
pub struct PlanInput<'a> {
    pub rule: &'a Rule,
    pub trigger_instance_id: &'a str,
    pub payload: &'a Value,
    /// Pack of the action (execution context `pack`).
    pub action_pack: &'a str,
    /// Runner and action parameter definitions (runner wins on a type clash); empty when
    /// unknown.
    pub runner_parameters: &'a ParameterSchema,
    pub action_parameters: &'a ParameterSchema,
    /// `{"id_": <trace id>, "trace_tag": <tag>}` from the trace update.
    pub trace_context: Value,
    /// `system_user.user` (StackStorm default `stanley`).
    pub system_user: &'a str,
    /// Resolved pack config of the action's pack (`config_context`); `{}` when none.
    pub config_context: Value,
    pub provider: &'a dyn ContextProvider,
}

/// The execution context StackStorm attaches to a rule-triggered execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcementContext {
    pub trigger_instance: Value,
    pub rule: Value,
    pub user: String,
    pub pack: String,
    pub trace_context: Value,
}

/// What the engine should request: the action with these parameters and context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcementPlan {
    /// `{ref, id, uid}` for the enforcement record.
    pub rule: Value,
    pub action_ref: String,
    pub parameters: Map<String, Value>,
    pub context: EnforcementContext,
}

/// Why a plan could not be made. Both end in a failed enforcement with `reason`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A rendering error: StackStorm still requests an execution with `raw_parameters` and
    /// `context`, marks it failed with `{"error": reason, ...}`; the enforcement has no
    /// execution id.
    #[error("{reason}")]
    Render {
        reason: String,
        raw_parameters: Map<String, Value>,
        context: Box<EnforcementContext>,
    },
    /// A cast error: failed enforcement, no execution.
    #[error("{0}")]
    Cast(String),
}

/// `Action "<ref>" doesn't exist` — the failure reason when the rule's action is missing.
pub fn action_missing_reason(action_ref: &str) -> String {
    format!("Action \"{action_ref}\" doesn't exist")
}

/// Builds the context and renders the parameters for a matched rule.
pub fn plan_enforcement(input: &PlanInput<'_>) -> Result<EnforcementPlan, PlanError> {
    let rule = input.rule;
    let context = EnforcementContext {
        trigger_instance: json!({"id": input.trigger_instance_id, "name": null}),
        rule: json!({"id": rule.id, "name": rule.name}),
        user: input.system_user.to_string(),
        pack: input.action_pack.to_string(),
        trace_context: input.trace_context.clone(),
    };
    let context_json = serde_json::to_value(&context).unwrap_or(Value::Null);
    let rendered = match render_parameters(input, &context_json) {
        Ok(p) => p,
        Err(reason) => {
            return Err(PlanError::Render {
                reason,
                raw_parameters: rule.action.parameters.clone(),
                context: Box::new(context),
            })
        }
    };
    let mut parameters = Map::new();
    for (name, value) in rendered {
        let ty = param_type(input, &name);
        let v = cast(&value, ty).map_err(PlanError::Cast)?;
        parameters.insert(name, v);
    }
    Ok(EnforcementPlan {
        rule: rule.enforcement_ref(),
        action_ref: rule.action.r#ref.clone(),
        parameters,
        context,
    })
}

/// The runner's definition wins on a name clash; an action override may omit `type`.
fn param_type<'a>(input: &'a PlanInput<'_>, name: &str) -> Option<&'a str> {
    match input.runner_parameters.get(name) {
        Some(spec) => spec.type_name(),
        None => input
            .action_parameters
            .get(name)
            .and_then(|s| s.type_name()),
    }
}

/// A string holding `{{`/`{%`, or a list/object whose Python `str()` does.
pub fn is_template(v: &Value) -> bool {
    let has = |s: &str| s.contains("{{") || s.contains("{%");
    match v {
        Value::String(s) => has(s),
        Value::Array(_) | Value::Object(_) => has(&py_str(v)),
        _ => false,
    }
}

/// Names Jinja provides itself; referencing them is not a dependency.
const JINJA_GLOBALS: &[&str] = &[
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "loop",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

/// Renders the rule's parameters plus templated defaults; returns them in rule order, then
/// defaults in schema order. Error texts are StackStorm's.
fn render_parameters(
    input: &PlanInput<'_>,
    action_context: &Value,
) -> Result<Vec<(String, Value)>, String> {
    // Plain values available to templates (context + non-template params/defaults).
    let mut values: Map<String, Value> = Map::new();
    values.insert("trigger".into(), input.payload.clone());
    values.insert("action_context".into(), action_context.clone());
    values.insert("config_context".into(), input.config_context.clone());
    let mut templates: Vec<(String, Value)> = Vec::new();
    let mut output_names: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, v) in &input.rule.action.parameters {
        seen.insert(name.clone());
        output_names.push(name.clone());
        if is_template(v) {
            templates.push((name.clone(), v.clone()));
        } else {
            values.insert(name.clone(), v.clone());
        }
    }
    for schema in [input.runner_parameters, input.action_parameters] {
        for (name, spec) in schema {
            if seen.contains(name) {
                continue;
            }
            let Some(default) = spec.default_value() else {
                continue;
            };
            if is_template(default) {
                seen.insert(name.clone());
                output_names.push(name.clone());
                templates.push((name.clone(), default.clone()));
            } else if !values.contains_key(name) {
                values.insert(name.clone(), default.clone());
            }
        }
    }
    let template_names: BTreeSet<&str> = templates.iter().map(|(n, _)| n.as_str()).collect();
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    for (name, t) in &templates {
        let mut d = Vec::new();
        for var in referenced_names(t) {
            if var == "st2kv" || JINJA_GLOBALS.contains(&var.as_str()) {
                continue;
            }
            if template_names.contains(var.as_str()) {
                d.push(var);
            } else if !values.contains_key(&var) {
                return Err(format!("Dependency unsatisfied in variable \"{var}\""));
            }
        }
        deps.insert(name.clone(), d);
    }
    let order = topo_order(&templates, &deps)?;
    for name in order {
        let Some((_, t)) = templates.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let ctx = Value::Object(values.clone());
        let rendered = render_one(t, &ctx, input.provider)
            .map_err(|e| format!("Failed to render parameter \"{name}\": {e}"))?;
        values.insert(name, rendered);
    }
    Ok(output_names
        .into_iter()
        .map(|n| {
            let v = values.get(&n).cloned().unwrap_or(Value::Null);
            (n, v)
        })
        .collect())
}

/// Top-level variables a template reads (minijinja's analysis of the source).
fn referenced_names(t: &Value) -> Vec<String> {
    let text = match t {
        Value::String(s) => s.clone(),
        other => gale_expr::functions::py_json_dumps(other, &Default::default()),
    };
    let env = minijinja::Environment::new();
    match env.template_from_str(&text) {
        Ok(tmpl) => {
            let mut names: Vec<String> = tmpl.undeclared_variables(false).into_iter().collect();
            names.sort();
            names
        }
        // Syntax our analyser does not know: the render step reports the real error.
        Err(_) => Vec::new(),
    }
}

/// Depth-first topological order; a cycle is reported with the names on it.
fn topo_order(
    templates: &[(String, Value)],
    deps: &HashMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: &str,
        deps: &HashMap<String, Vec<String>>,
        marks: &mut HashMap<String, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        match marks.get(n).copied().unwrap_or(Mark::New) {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = stack.iter().position(|s| s == n).unwrap_or(0);
                return Err(format!(
                    "Cyclic dependency found in the following variables: {}. Likely the variable is referencing itself",
                    stack[start..].join(", ")
                ));
            }
            Mark::New => {}
        }
        marks.insert(n.to_string(), Mark::Active);
        stack.push(n.to_string());
        for d in deps.get(n).into_iter().flatten() {
            visit(d, deps, marks, stack, out)?;
        }
        stack.pop();
        marks.insert(n.to_string(), Mark::Done);
        out.push(n.to_string());
        Ok(())
    }
    let mut marks = HashMap::new();
    let mut out = Vec::new();
    for (n, _) in templates {
        visit(n, deps, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

fn bare_var_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Python's `[A-z0-9_-]` class, which also admits `[ \ ] ^ _ and the backtick.
    RE.get_or_init(|| Regex::new(r#""\{\{([A-Za-z\[\\\]^_`0-9-]+)\}\}""#).expect("static regex"))
}

/// String templates render to text; list/object templates are rendered as JSON text with
/// bare `"{{name}}"` kept typed, then decoded.
fn render_one(t: &Value, ctx: &Value, provider: &dyn ContextProvider) -> Result<Value, String> {
    match t {
        Value::String(s) => render_text(s, ctx, provider).map(Value::String),
        other => {
            let text = gale_expr::functions::py_json_dumps(other, &Default::default());
            let text = bare_var_re().replace_all(&text, "{{$1 | to_complex}}");
            let out = render_text(&text, ctx, provider)?;
            serde_json::from_str(&out).map_err(|e| format!("JSONDecodeError: {e}"))
        }
    }
}

fn render_text(text: &str, ctx: &Value, provider: &dyn ContextProvider) -> Result<String, String> {
    match gale_expr::evaluate_with(Lang::JinjaSt2, text, ctx, provider) {
        Ok(Value::String(s)) => Ok(s),
        Ok(other) => Ok(py_str(&other)),
        Err(gale_expr::Error::Jinja(m)) | Err(gale_expr::Error::Evaluation(m)) => Err(m),
        Err(e) => Err(e.to_string()),
    }
}

/// StackStorm's schema-driven casts (`st2common/util/casts.py`).
pub fn cast(v: &Value, ty: Option<&str>) -> Result<Value, String> {
    match (ty, v) {
        (_, Value::Null) => Ok(Value::Null),
        (Some("string"), Value::String(s)) if s == NONE_MAGIC_VALUE => Ok(Value::Null),
        (Some("string"), Value::String(_)) => Ok(v.clone()),
        (Some("string"), other) => Err(format!(
            "Value \"{}\" must either be a string or None. Got \"{}\".",
            py_str(other),
            type_name(other)
        )),
        (Some("integer"), Value::String(s)) => gale_model::py::parse_int(s)
            .and_then(|n| i64::try_from(n).ok())
            .map(Value::from)
            .ok_or_else(|| format!("invalid literal for int() with base 10: '{s}'")),
        (Some("integer"), Value::Number(n)) => Ok(match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0).trunc() as i64),
        }),
        (Some("integer"), Value::Bool(b)) => Ok(Value::from(i64::from(*b))),
        (Some("integer"), other) => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            type_name(other)
        )),
        (Some("number"), Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .ok_or_else(|| format!("could not convert string to float: '{s}'")),
        (Some("number"), Value::Number(n)) => Ok(n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(v.clone(), Value::Number)),
        (Some("number"), Value::Bool(b)) => Ok(json!(f64::from(u8::from(*b)))),
        (Some("number"), other) => Err(format!(
            "float() argument must be a string or a real number, not '{}'",
            type_name(other)
        )),
        (Some("boolean"), Value::String(s)) => literal_eval(&capitalize(s)),
        (Some("object" | "array"), Value::String(s)) => match serde_json::from_str(s) {
            Ok(v) => Ok(v),
            Err(_) => literal_eval(s),
        },
        _ => Ok(v.clone()),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// Python `ast.literal_eval` for the literal forms templates print (dicts, lists, tuples,
/// strings, numbers, `True`/`False`/`None`).
pub fn literal_eval(text: &str) -> Result<Value, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = Lit { c: &chars, i: 0 };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.i != chars.len() {
        return Err(format!("malformed node or string: {text}"));
    }
    Ok(v)
}

struct Lit<'a> {
    c: &'a [char],
    i: usize,
}

impl Lit<'_> {
    fn ws(&mut self) {
        while self.i < self.c.len() && self.c[self.i].is_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn err(&self) -> String {
        format!("invalid syntax at position {}", self.i)
    }
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.peek().ok_or_else(|| self.err())? {
            '{' => {
                self.i += 1;
                let mut m = Map::new();
                loop {
                    self.ws();
                    if self.peek() == Some('}') {
                        self.i += 1;
                        return Ok(Value::Object(m));
                    }
                    let k = match self.value()? {
                        Value::String(s) => s,
                        other => py_str(&other),
                    };
                    self.ws();
                    if self.peek() != Some(':') {
                        return Err(self.err());
                    }
                    self.i += 1;
                    let v = self.value()?;
                    m.insert(k, v);
                    self.ws();
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some('}') => {}
                        _ => return Err(self.err()),
                    }
                }
            }
            open @ ('[' | '(') => {
                let close = if open == '[' { ']' } else { ')' };
                self.i += 1;
                let mut a = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some(close) {
                        self.i += 1;
                        return Ok(Value::Array(a));
                    }
                    a.push(self.value()?);
                    self.ws();
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(c) if c == close => {}
                        _ => return Err(self.err()),
                    }
                }
            }
            q @ ('\'' | '"') => {
                self.i += 1;
                let mut s = String::new();
                while let Some(c) = self.peek() {
                    self.i += 1;
                    if c == q {
                        return Ok(Value::String(s));
                    }
                    if c == '\\' {
                        let e = self.peek().ok_or_else(|| self.err())?;
                        self.i += 1;
                        s.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            '0' => '\0',
                            other => other,
                        });
                    } else {
                        s.push(c);
                    }
                }
                Err(self.err())
            }
            _ => {
                let start = self.i;
                while self.i < self.c.len()
                    && (self.c[self.i].is_alphanumeric()
                        || matches!(self.c[self.i], '.' | '-' | '+' | '_'))
                {
                    self.i += 1;
                }
                let word: String = self.c[start..self.i].iter().collect();
                match word.as_str() {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    w => {
                        let w = w.replace('_', "");
                        if let Ok(i) = w.parse::<i64>() {
                            Ok(Value::from(i))
                        } else if let Some(f) = w
                            .parse::<f64>()
                            .ok()
                            .filter(|_| w.chars().any(|c| c.is_ascii_digit()))
                        {
                            Ok(json!(f))
                        } else {
                            Err(format!("malformed node or string: {word}"))
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_stackstorm() {
        assert_eq!(cast(&json!("5"), Some("integer")).unwrap(), json!(5));
        assert_eq!(cast(&json!(5.7), Some("integer")).unwrap(), json!(5));
        assert!(cast(&json!("5.0"), Some("integer")).is_err());
        assert_eq!(cast(&json!("1.5"), Some("number")).unwrap(), json!(1.5));
        assert_eq!(cast(&json!("true"), Some("boolean")).unwrap(), json!(true));
        assert_eq!(
            cast(&json!("False"), Some("boolean")).unwrap(),
            json!(false)
        );
        assert_eq!(cast(&json!("1"), Some("boolean")).unwrap(), json!(1));
        assert!(cast(&json!("yes"), Some("boolean")).is_err());
        assert_eq!(
            cast(&json!("{'a': 1, 'b': [True, None]}"), Some("object")).unwrap(),
            json!({"a": 1, "b": [true, null]})
        );
        assert_eq!(
            cast(&json!("[1, \"x\"]"), Some("array")).unwrap(),
            json!([1, "x"])
        );
        assert!(cast(&json!(5), Some("string")).is_err());
        assert_eq!(
            cast(&json!(NONE_MAGIC_VALUE), Some("string")).unwrap(),
            Value::Null
        );
        assert_eq!(cast(&json!("x"), None).unwrap(), json!("x"));
    }

    #[test]
    fn template_detection() {
        assert!(is_template(&json!("{{ a }}")));
        assert!(is_template(&json!(["{% if x %}"])));
        assert!(!is_template(&json!({"a": "b"})));
        assert!(!is_template(&json!(5)));
    }
}

//! Live and final parameter rendering (actions.md §2.4, §2.5): a dependency graph over
//! parameters, defaults and the context values, rendered in topological order with the
//! StackStorm Jinja environment of gale-expr.
//!
//! The graph reproduces StackStorm's networkx graph including its quirks: a node may carry both
//! a `template` and a `value` attribute (re-adding a node updates attributes, it does not
//! replace them), and a template wins over a value when rendering. That is what makes a
//! caller-supplied template survive a plain default but lose to a template default.

use super::{cast, Error, RenderInput};
use gale_model::params::ParameterSchema;
use gale_model::ParamSpec;
use gale_packs::pyfmt;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// Graph node names for the context values (st2's `DATASTORE_PARENT_SCOPE`,
/// `ACTION_CONTEXT_KV_PREFIX`, `PACK_CONFIG_CONTEXT_KV_PREFIX`).
pub const ST2KV: &str = "st2kv";
pub const ACTION_CONTEXT: &str = "action_context";
pub const CONFIG_CONTEXT: &str = "config_context";

/// Cap on enumerated cycles when building the cycle message (templates are small; this only
/// guards against pathological inputs).
const MAX_CYCLES: usize = 10_000;

#[derive(Default, Clone, Debug)]
struct Node {
    /// A Jinja template: a string, or a list/dict whose text holds Jinja.
    template: Option<Value>,
    /// A plain value (`Some(Null)` is a present `None`).
    value: Option<Value>,
}

#[derive(Default)]
struct Graph {
    order: Vec<String>,
    nodes: HashMap<String, Node>,
    succ: HashMap<String, Vec<String>>,
}

impl Graph {
    fn ensure(&mut self, name: &str) -> &mut Node {
        if !self.nodes.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.nodes.entry(name.to_string()).or_default()
    }

    fn set_value(&mut self, name: &str, v: Value) {
        self.ensure(name).value = Some(v);
    }

    fn set_template(&mut self, name: &str, t: Value) {
        self.ensure(name).template = Some(t);
    }

    fn add_edge(&mut self, from: &str, to: &str) {
        self.ensure(from);
        self.ensure(to);
        let s = self.succ.entry(from.to_string()).or_default();
        if !s.iter().any(|x| x == to) {
            s.push(to.to_string());
        }
    }

    /// networkx `topological_sort`: generations of zero in-degree nodes, first generation in
    /// insertion order, later ones in discovery order. `None` if there is a cycle.
    fn topo_order(&self) -> Option<Vec<String>> {
        let mut indeg: HashMap<&str, usize> = HashMap::new();
        for targets in self.succ.values() {
            for t in targets {
                *indeg.entry(t.as_str()).or_default() += 1;
            }
        }
        let mut current: Vec<&str> = self
            .order
            .iter()
            .map(String::as_str)
            .filter(|n| !indeg.contains_key(n))
            .collect();
        let mut out = Vec::with_capacity(self.order.len());
        while !current.is_empty() {
            let mut next = Vec::new();
            for n in &current {
                for child in self.succ.get(*n).into_iter().flatten() {
                    if let Some(d) = indeg.get_mut(child.as_str()) {
                        *d -= 1;
                        if *d == 0 {
                            indeg.remove(child.as_str());
                            next.push(child.as_str());
                        }
                    }
                }
            }
            out.extend(current.iter().map(|s| s.to_string()));
            current = next;
        }
        if out.len() == self.order.len() {
            Some(out)
        } else {
            None
        }
    }

    /// One name per elementary cycle (its smallest name), sorted — StackStorm prints the first
    /// node of every cycle networkx finds.
    fn cycle_names(&self) -> Vec<String> {
        let mut names: Vec<&str> = self.order.iter().map(String::as_str).collect();
        names.sort_unstable();
        let mut found = Vec::new();
        for (idx, start) in names.iter().enumerate() {
            let allowed: BTreeSet<&str> = names[idx..].iter().copied().collect();
            let mut path = vec![*start];
            let mut count = 0usize;
            self.cycles_from(start, start, &allowed, &mut path, &mut count);
            for _ in 0..count {
                found.push(start.to_string());
            }
            if found.len() > MAX_CYCLES {
                break;
            }
        }
        found.sort();
        found
    }

    fn cycles_from<'a>(
        &'a self,
        start: &str,
        at: &str,
        allowed: &BTreeSet<&str>,
        path: &mut Vec<&'a str>,
        count: &mut usize,
    ) {
        if *count > MAX_CYCLES {
            return;
        }
        for next in self.succ.get(at).into_iter().flatten() {
            if next == start {
                *count += 1;
            } else if allowed.contains(next.as_str()) && !path.contains(&next.as_str()) {
                path.push(next.as_str());
                self.cycles_from(start, next, allowed, path, count);
                path.pop();
            }
        }
    }
}

/// StackStorm's `is_jinja_expression`: a non-empty string containing `{{` or `{%`.
pub fn is_jinja_expression(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        _ => false,
    }
}

/// Top-level names a template reads, or `None` when it does not parse (then it is a plain
/// string for StackStorm too).
fn template_variables(source: &str) -> Option<Vec<String>> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    let tmpl = env.template_from_str(source).ok()?;
    let mut vars: Vec<String> = tmpl.undeclared_variables(false).into_iter().collect();
    // Jinja2 yields a set; sort for a deterministic graph.
    vars.sort();
    Some(vars)
}

/// st2 `_process`: a template node (with edges from the names it reads) or a value node.
fn process(g: &mut Graph, name: &str, value: Value) {
    let text = match &value {
        Value::String(s) if is_jinja_expression(&value) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => {
            let repr = pyfmt::repr(&value);
            (repr.contains("{{") || repr.contains("{%")).then_some(repr)
        }
        _ => None,
    };
    let Some(text) = text else {
        g.set_value(name, value);
        return;
    };
    match template_variables(&text) {
        Some(vars) => {
            g.set_template(name, value);
            for v in vars {
                g.add_edge(&v, name);
            }
        }
        None => g.set_value(name, value),
    }
}

/// st2 `_process_defaults`: action schema first, then runner schema. A default is used when
/// the parameter is absent, its node has no (non-null) `value` attribute — true for template
/// nodes, hence the quirk — or it is immutable.
fn process_defaults(g: &mut Graph, schemas: [&ParameterSchema; 2]) {
    for schema in schemas {
        for (name, spec) in schema {
            let node = g.nodes.get(name);
            let absent = node.is_none();
            let is_none = node
                .map(|n| n.value.as_ref().map(Value::is_null).unwrap_or(true))
                .unwrap_or(true);
            if absent || is_none || spec.immutable() {
                process(
                    g,
                    name,
                    spec.default_value().cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
}

fn validate(g: &Graph) -> Result<(), Error> {
    for name in &g.order {
        let n = &g.nodes[name];
        if n.value.is_none() && n.template.is_none() {
            return Err(Error::Render(format!(
                "Dependency unsatisfied in variable \"{name}\""
            )));
        }
    }
    if g.topo_order().is_none() {
        let names = g.cycle_names().join(", ");
        return Err(Error::Render(format!(
            "Cyclic dependency found in the following variables: {names}. Likely the variable \
             is referencing itself"
        )));
    }
    Ok(())
}

fn expr_message(e: gale_expr::Error) -> String {
    match e {
        gale_expr::Error::Jinja(m)
        | gale_expr::Error::Yaql(m)
        | gale_expr::Error::Evaluation(m)
        | gale_expr::Error::Budget(m)
        | gale_expr::Error::Unsupported(m) => m,
    }
}

fn render_text(
    text: &str,
    ctx: &Value,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<String, String> {
    let v = gale_expr::jinja::render_st2(text, ctx, kv).map_err(expr_message)?;
    Ok(pyfmt::py_str(&v))
}

/// `"{{name}}"` (quoted, no spaces) inside a JSON-encoded complex default keeps the value's type.
fn complex_rewrite(json_text: &str) -> String {
    // Same character class as StackStorm's `[A-z0-9_-]` (A-z spans `[\]^_` and backtick too).
    match regex::Regex::new(r#""\{\{([A-z0-9_-]+)\}\}""#) {
        Ok(re) => re
            .replace_all(json_text, "{{$1 | to_complex}}")
            .into_owned(),
        Err(_) => json_text.to_string(),
    }
}

fn render_node(
    node: &Node,
    ctx: &Value,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<Value, String> {
    if let Some(t) = &node.template {
        return match t {
            Value::String(s) => render_text(s, ctx, kv).map(Value::String),
            complex => {
                let encoded = serde_json::to_string(complex).map_err(|e| e.to_string())?;
                let rewritten = complex_rewrite(&encoded);
                let rendered = render_text(&rewritten, ctx, kv)?;
                serde_json::from_str(&rendered).map_err(|e| e.to_string())
            }
        };
    }
    Ok(node.value.clone().unwrap_or(Value::Null))
}

fn resolve(g: &Graph, kv: &dyn gale_expr::ContextProvider) -> Result<Map<String, Value>, Error> {
    let order = g.topo_order().ok_or_else(|| {
        Error::Render("Cyclic dependency found in the following variables".into())
    })?;
    let mut context = Map::new();
    for name in order {
        let node = &g.nodes[&name];
        // `st2kv` is served by the provider; a placeholder in the Jinja context would shadow it.
        let ctx = Value::Object(
            context
                .iter()
                .filter(|(k, _)| k.as_str() != ST2KV)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        let v = render_node(node, &ctx, kv).map_err(|e| {
            tracing::debug!(param = %name, error = %e, "parameter rendering failed");
            Error::Render(format!("Failed to render parameter \"{name}\": {e}"))
        })?;
        context.insert(name, v);
    }
    Ok(context)
}

fn new_graph(input: &RenderInput<'_>) -> Graph {
    let mut g = Graph::default();
    g.set_value(ST2KV, Value::Null);
    g.set_value(ACTION_CONTEXT, input.context.clone());
    g.set_value(CONFIG_CONTEXT, input.config.clone());
    g
}

/// The schema used to cast `name`: the runner's definition when the runner has the name
/// (StackStorm looks the name up in `[action, runner]` and keeps the last hit).
fn cast_spec<'a>(input: &'a RenderInput<'_>, name: &str) -> Option<&'a ParamSpec> {
    input
        .runner
        .runner_parameters
        .get(name)
        .or_else(|| input.action.parameters.get(name))
}

fn cast_by(spec: Option<&ParamSpec>, v: &Value) -> Result<Value, Error> {
    match spec {
        Some(s) if !s.0.is_empty() => cast::cast(v, s.type_name()),
        _ => Ok(v.clone()),
    }
}

/// Live rendering at request time (§2.4). Returns the parameters to persist: the caller's
/// (rendered, cast) plus non-immutable parameters whose Jinja default rendered to something
/// other than the raw default.
pub fn render_live_params(input: &RenderInput<'_>) -> Result<Map<String, Value>, Error> {
    render_live_params_with(input, &Map::new())
}

/// [`render_live_params`] with StackStorm's `additional_contexts`: extra plain values templates
/// may read (the rules engine passes `{"trigger": <payload>}`). They are graph values like
/// `action_context`, never returned as parameters.
pub fn render_live_params_with(
    input: &RenderInput<'_>,
    additional: &Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    let mut g = new_graph(input);
    for (name, value) in additional {
        g.set_value(name, value.clone());
    }
    for (name, value) in input.params {
        process(&mut g, name, value.clone());
    }
    process_defaults(
        &mut g,
        [&input.action.parameters, &input.runner.runner_parameters],
    );
    validate(&g)?;
    let context = resolve(&g, input.kv)?;

    let mut live = Map::new();
    for name in input.params.keys() {
        let v = context.get(name).cloned().unwrap_or(Value::Null);
        live.insert(name.clone(), cast_by(cast_spec(input, name), &v)?);
    }
    for schema in [&input.action.parameters, &input.runner.runner_parameters] {
        for (name, spec) in schema {
            if spec.immutable() || input.params.contains_key(name) {
                continue;
            }
            let Some(default) = spec.default_value() else {
                continue;
            };
            let current = context.get(name).cloned().unwrap_or(Value::Null);
            if *default == current || !is_jinja_expression(default) {
                continue;
            }
            live.insert(name.clone(), cast_by(Some(spec), &current)?);
        }
    }
    Ok(live)
}

/// Runner and action parameters handed to the runner (§2.5).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FinalParams {
    /// Names the runner defines (values may come from action overrides).
    pub runner: Map<String, Value>,
    /// Names only the action defines, every one present (`null` when unset).
    pub action: Map<String, Value>,
}

/// Final rendering at run time: live parameters are literal values (never re-rendered),
/// defaults fill the rest (immutable defaults override), everything is cast, then split.
pub fn render_final_params(input: &RenderInput<'_>) -> Result<FinalParams, Error> {
    let mut g = new_graph(input);
    for (name, value) in input.params {
        g.set_value(name, value.clone());
    }
    process_defaults(
        &mut g,
        [&input.action.parameters, &input.runner.runner_parameters],
    );
    validate(&g)?;
    let context = resolve(&g, input.kv)?;

    let mut out = FinalParams::default();
    for (name, v) in &context {
        let in_runner = input.runner.runner_parameters.contains_key(name);
        let in_action = input.action.parameters.contains_key(name);
        if !in_runner && !in_action {
            continue;
        }
        let cast = cast_by(cast_spec(input, name), v)?;
        if in_runner {
            out.runner.insert(name.clone(), cast);
        } else {
            out.action.insert(name.clone(), cast);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complex_rewrite_only_touches_exact_quoted_names() {
        assert_eq!(
            complex_rewrite(r#"["{{a}}","x","{{ a }}","{{a.b}}"]"#),
            r#"[{{a | to_complex}},"x","{{ a }}","{{a.b}}"]"#
        );
    }

    #[test]
    fn template_variables_are_top_level_names() {
        assert_eq!(
            template_variables(
                "{{ a }} {{ st2kv.system.k }} {% for i in items %}{{ i }}{% endfor %}"
            ),
            Some(vec!["a".into(), "items".into(), "st2kv".into()])
        );
        assert_eq!(template_variables("{{ a "), None);
    }

    #[test]
    fn topo_order_follows_networkx_generations() {
        let mut g = Graph::default();
        g.set_value("x", Value::Null);
        g.set_template("b", Value::String("{{ a }}".into()));
        g.add_edge("a", "b");
        g.set_value("a", Value::Null);
        g.set_value("c", Value::Null);
        assert_eq!(g.topo_order().unwrap(), ["x", "a", "c", "b"]);
    }

    #[test]
    fn cycles_report_one_name_per_cycle() {
        let mut g = Graph::default();
        g.add_edge("cyclic", "cyclic");
        g.add_edge("morecyclic", "morecyclic");
        g.add_edge("a", "b");
        assert_eq!(g.cycle_names(), ["cyclic", "morecyclic"]);
        let mut g = Graph::default();
        g.add_edge("b", "a");
        g.add_edge("a", "b");
        assert_eq!(g.cycle_names(), ["a"]);
    }
}

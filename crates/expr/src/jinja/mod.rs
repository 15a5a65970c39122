//! Jinja as Orquesta (`JinjaEvaluator`) and StackStorm (`render_values`) configure Jinja2,
//! built on minijinja.
//!
//! minijinja's parser and code generator do the heavy lifting; an AST rewrite (compile.rs)
//! gives operators their Python semantics, env.rs/methods.rs supply Jinja2's filters, tests and
//! the Python methods templates call, and this module reproduces orquesta's expression
//! matching, typed-vs-stringified results and re-evaluation. Compiled programs are cached by
//! source; [`OrquestaContext`] converts a context once for many evaluations.

mod compile;
pub(crate) mod convert;
mod env;
mod fast;
mod methods;
mod pyops;
mod st2kv;

use crate::functions::{self, python, FnContext};
use crate::{ContextProvider, Error, NoProvider};
use minijinja::machinery::{make_string_output, Vm};
use minijinja::value::{Rest, Value as MjValue};
use minijinja::{Environment, ErrorKind, State};
use regex::Regex;
use serde_json::Value;
use std::cell::Cell;
use std::sync::OnceLock;

pub use env::FUEL;

// ------------------------------------------------------------------ environments

fn orquesta_env() -> &'static Environment<'static> {
    static E: OnceLock<Environment<'static>> = OnceLock::new();
    E.get_or_init(|| env::build(env::Flavor::Orquesta))
}

fn st2_env() -> &'static Environment<'static> {
    static E: OnceLock<Environment<'static>> = OnceLock::new();
    E.get_or_init(|| env::build(env::Flavor::St2))
}

// ------------------------------------------------------------------ evaluation scope

// The JSON context and provider of the evaluation running on this thread, for the shared
// functions (`item()`, `st2kv(...)`, `decrypt_kv`) that minijinja calls back into. minijinja
// values must be 'static, so the borrowed provider cannot travel inside the template context.
type ScopePtrs = (*const Value, *const (dyn ContextProvider + 'static));

thread_local! {
    static SCOPE: Cell<Option<ScopePtrs>> = const { Cell::new(None) };
}

struct ScopeGuard(Option<ScopePtrs>);

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPE.with(|s| s.set(self.0));
    }
}

fn enter_scope(ctx: &Value, provider: &dyn ContextProvider) -> ScopeGuard {
    let p: *const (dyn ContextProvider + '_) = provider;
    // SAFETY: only the lifetime bound is erased. The pointer is dereferenced by `with_fctx`
    // alone, on this thread, while the guard lives; the guard is dropped before `provider`'s
    // borrow ends (it lives on the stack frame of the function that received the borrow).
    let p: *const (dyn ContextProvider + 'static) = unsafe { std::mem::transmute(p) };
    let prev = SCOPE.with(|s| s.replace(Some((ctx as *const Value, p))));
    ScopeGuard(prev)
}

/// Runs `f` with the current evaluation's function context (empty outside an evaluation).
fn with_fctx<R>(f: impl FnOnce(&FnContext<'_>) -> R) -> R {
    match SCOPE.with(|s| s.get()) {
        // SAFETY: see `enter_scope`; the pointers are valid while the scope guard lives, and
        // the scope is only set during a (synchronous) evaluation on this thread.
        Some((ctx, provider)) => unsafe {
            f(&FnContext {
                ctx: &*ctx,
                provider: &*provider,
            })
        },
        None => {
            let empty = Value::Object(Default::default());
            f(&FnContext {
                ctx: &empty,
                provider: &NoProvider,
            })
        }
    }
}

/// Bridge from a template call (`f(x, k=v)` or `x | f(k=v)`) to [`functions::call_kw`].
fn call_shared(
    name: &str,
    first: Option<MjValue>,
    args: &[MjValue],
) -> Result<MjValue, minijinja::Error> {
    let (pos, kw) = env::split_args(args)?;
    let mut jargs = Vec::with_capacity(pos.len() + 1);
    if let Some(v) = first {
        jargs.push(convert::to_json(&v)?);
    }
    for a in &pos {
        jargs.push(convert::to_json(a)?);
    }
    let kw = env::kwargs_json(&kw)?;
    let r = with_fctx(|f| functions::call_kw(name, &jargs, &kw, f));
    match r {
        Some(Ok(v)) => Ok(convert::from_json(&v)),
        Some(Err(e)) => Err(env::mj_error(e)),
        None => Err(minijinja::Error::new(
            ErrorKind::UnknownFunction,
            format!("{name} is not registered"),
        )),
    }
}

/// orquesta's `ctx()` / `ctx(name)`.
fn ctx_function(state: &State, args: Rest<MjValue>) -> Result<MjValue, minijinja::Error> {
    let key = args.0.first().filter(|k| k.is_true());
    match key {
        None => Ok(state.lookup("__pub").unwrap_or_default()),
        Some(k) => {
            let name = convert::py_str(k)?;
            let vars = state.lookup("__vars").unwrap_or_default();
            let v = vars
                .get_item(&MjValue::from(name.as_str()))
                .unwrap_or_default();
            if v.is_undefined() {
                return Err(convert::py_err(
                    "VariableUndefinedError",
                    format!("The variable \"{name}\" is undefined."),
                ));
            }
            if name.starts_with("__") {
                return Err(convert::py_err(
                    "VariableInaccessibleError",
                    format!("The variable \"{name}\" is for internal use and inaccessible."),
                ));
            }
            Ok(v)
        }
    }
}

// ------------------------------------------------------------------ running programs

fn map_err(e: minijinja::Error) -> Error {
    if e.kind() == ErrorKind::OutOfFuel {
        return Error::Budget(format!("template ran out of fuel ({FUEL} instructions)"));
    }
    let kind = match e.kind() {
        ErrorKind::SyntaxError => "TemplateSyntaxError",
        ErrorKind::UndefinedError => "UndefinedError",
        ErrorKind::UnknownFilter | ErrorKind::UnknownTest => "TemplateAssertionError",
        ErrorKind::UnknownFunction => "UndefinedError",
        ErrorKind::TemplateNotFound => "TypeError",
        _ => "",
    };
    let detail = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string());
    if kind.is_empty() {
        Error::Jinja(detail)
    } else {
        Error::Jinja(format!("{kind}: {detail}"))
    }
}

/// Runs a compiled program: the value of an expression, or the rendered text of a template.
fn run(
    env: &'static Environment<'static>,
    program: &compile::Program<'_>,
    root: MjValue,
) -> Result<(Option<MjValue>, String), minijinja::Error> {
    let vm = Vm::new(env);
    let mut text = String::new();
    let value = {
        let mut out = make_string_output(&mut text);
        let (value, _state) = vm.eval(
            &program.instructions,
            root,
            &program.blocks,
            &mut out,
            minijinja::AutoEscape::None,
        )?;
        value
    };
    Ok((value, text))
}

/// Orquesta expression: the JSON fast path when it applies, else the full engine.
fn orquesta_expr(source: &str, root: &Root<'_>) -> Result<Result<Value, MjValue>, Error> {
    let program = compile::get(source, false).map_err(map_err)?;
    if let Some(f) = &program.get().fast {
        if let Some(v) = with_fctx(|c| fast::eval_expr(f, c.ctx)) {
            return Ok(Ok(v));
        }
    }
    let (value, _) = run(orquesta_env(), program.get(), root.get().clone()).map_err(map_err)?;
    Ok(Err(value.unwrap_or_default()))
}

/// Orquesta template render: the JSON fast path when it applies, else the full engine.
fn orquesta_render(source: &str, root: &Root<'_>) -> Result<String, Error> {
    let program = compile::get(source, true).map_err(map_err)?;
    let p = program.get();
    if let Some(f) = &p.fast {
        let hint = p.size_hint.load(std::sync::atomic::Ordering::Relaxed);
        if let Some(text) = with_fctx(|c| fast::render(f, c.ctx, hint)) {
            p.size_hint
                .store(text.len() + 16, std::sync::atomic::Ordering::Relaxed);
            return Ok(text);
        }
    }
    let (_, text) = run(orquesta_env(), program.get(), root.get().clone()).map_err(map_err)?;
    Ok(text)
}

fn render_template(
    env: &'static Environment<'static>,
    source: &str,
    root: &MjValue,
) -> Result<String, Error> {
    let program = compile::get(source, true).map_err(map_err)?;
    let (_, text) = run(env, program.get(), root.clone()).map_err(map_err)?;
    Ok(text)
}

// ------------------------------------------------------------------ Orquesta

fn expr_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\{\{.*?\}\}").expect("static regex"))
}
fn block_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\{%.*?%\}").expect("static regex"))
}
fn raw_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\{% raw %\}.*?\{% endraw %\}").expect("static regex"))
}

/// `expr.strip("{{}}").strip()`: braces off both ends, then whitespace.
fn strip_delimiter(expr: &str) -> &str {
    expr.trim_matches(|c| c == '{' || c == '}').trim()
}

/// How deep string results may re-expand (`ctx().a` holding `"{{ ctx().a }}"` must stop).
const MAX_EXPANSION_DEPTH: usize = 32;

/// A workflow context converted once for Jinja evaluation. Use it to evaluate many
/// expressions against the same data without converting the context each time.
pub struct OrquestaContext {
    json: Value,
    root: MjValue,
}

impl OrquestaContext {
    pub fn new(ctx: &Value) -> Self {
        OrquestaContext {
            json: ctx.clone(),
            root: orquesta_root(ctx),
        }
    }

    /// Same as [`evaluate_orquesta`] with this context.
    pub fn evaluate(&self, text: &str, provider: &dyn ContextProvider) -> Result<Value, Error> {
        let _scope = enter_scope(&self.json, provider);
        let root = Root {
            json: &self.json,
            cell: std::cell::OnceCell::from(self.root.clone()),
        };
        orquesta_evaluate(text, &root)
    }
}

/// The template context, converted from JSON only when the full engine is needed (the fast
/// path reads the JSON directly).
struct Root<'a> {
    json: &'a Value,
    cell: std::cell::OnceCell<MjValue>,
}

impl Root<'_> {
    fn get(&self) -> &MjValue {
        self.cell.get_or_init(|| orquesta_root(self.json))
    }
}

fn orquesta_root(ctx: &Value) -> MjValue {
    let vars = convert::from_json(ctx);
    let (public, runtime) = match ctx.as_object() {
        Some(m) if m.keys().any(|k| k.starts_with("__")) => {
            let public: serde_json::Map<String, Value> = m
                .iter()
                .filter(|(k, _)| !k.starts_with("__"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let get = |k: &str| convert::from_json(m.get(k).unwrap_or(&Value::Null));
            (
                convert::from_json(&Value::Object(public)),
                [get("__state"), get("__current_task"), get("__current_item")],
            )
        }
        Some(_) => (vars.clone(), Default::default()),
        None => (
            convert::from_json(&Value::Object(Default::default())),
            Default::default(),
        ),
    };
    let [state, task, item] = runtime;
    let none = || MjValue::from(());
    let orn = |v: MjValue| if v.is_undefined() { none() } else { v };
    MjValue::from_iter([
        ("__vars", vars),
        ("__pub", public),
        ("__state", orn(state)),
        ("__current_task", orn(task)),
        ("__current_item", orn(item)),
    ])
}

/// Orquesta Jinja: variables only through `ctx()`. A string that is exactly one `{{ }}`
/// expression yields its typed value; otherwise results are spliced in with Python `str()`;
/// any `{% %}` block renders the whole string as a template.
pub fn evaluate_orquesta(
    text: &str,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Value, Error> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(Value::String(text.to_string()));
    }
    let root = Root {
        json: ctx,
        cell: std::cell::OnceCell::new(),
    };
    let _scope = enter_scope(ctx, provider);
    orquesta_evaluate(text, &root)
}

fn orquesta_evaluate(text: &str, root: &Root<'_>) -> Result<Value, Error> {
    // Raw blocks are set aside, then put back and rendered at the end (orquesta does the same).
    let raw_blocks: Vec<&str> = raw_re().find_iter(text).map(|m| m.as_str()).collect();
    let mut work = std::borrow::Cow::Borrowed(text);
    for (i, rb) in raw_blocks.iter().enumerate() {
        work = std::borrow::Cow::Owned(work.replace(rb, &format!("{{{i}}}")));
    }
    let output = expand(&work, root, 0)?;
    // (a cheap substring test first: rendered loops can be long)
    let check = matches!(&output, Value::String(s) if s.contains("{{") || !raw_blocks.is_empty());
    if let (true, Value::String(s)) = (check, &output) {
        let unresolved: Vec<&str> = expr_re()
            .find_iter(s)
            .map(|m| strip_delimiter(m.as_str()))
            .collect();
        if !unresolved.is_empty() {
            return Err(Error::Jinja(format!(
                "There are unresolved variables: {}",
                unresolved.join(", ")
            )));
        }
        if !raw_blocks.is_empty() {
            let mut restored = s.clone();
            for (i, rb) in raw_blocks.iter().enumerate() {
                restored = restored.replace(&format!("{{{i}}}"), rb);
            }
            return orquesta_render(&restored, root).map(Value::String);
        }
    }
    Ok(output)
}

fn expand(text: &str, root: &Root<'_>, depth: usize) -> Result<Value, Error> {
    if depth > MAX_EXPANSION_DEPTH {
        return Err(Error::Jinja(
            "RecursionError: expression results keep expanding".into(),
        ));
    }
    if block_re().is_match(text) {
        let out = orquesta_render(text, root)?;
        if !out.contains("{{") && !out.contains("{%") {
            return Ok(Value::String(out));
        }
        return expand(&out, root, depth + 1);
    }
    let exprs: Vec<&str> = expr_re().find_iter(text).map(|m| m.as_str()).collect();
    let mut output = Value::String(text.to_string());
    for expr in &exprs {
        let result = match orquesta_expr(strip_delimiter(expr), root)? {
            Ok(json) => {
                // fast path: a JSON value
                let current = match &output {
                    Value::String(s) => s.clone(),
                    other => python::py_str(other),
                };
                let splice = exprs.len() > 1 || current.chars().count() > expr.chars().count();
                let json = match &json {
                    Value::String(s) if s.contains("{{") || s.contains("{%") => {
                        expand(s, root, depth + 1)?
                    }
                    _ => json,
                };
                output = if splice {
                    Value::String(current.replace(expr, &python::py_str(&json)))
                } else {
                    json
                };
                continue;
            }
            Err(mj) => mj,
        };
        if result.is_undefined() {
            continue; // left in place; reported as unresolved
        }
        let current = match &output {
            Value::String(s) => s.clone(),
            other => python::py_str(other),
        };
        let splice = exprs.len() > 1 || current.chars().count() > expr.chars().count();
        if splice
            && result
                .downcast_object_ref::<pyops::CondUndefined>()
                .is_some()
        {
            output = Value::String(current.replace(expr, ""));
            continue;
        }
        let expanded = match result.as_str() {
            Some(s) if s.contains("{{") || s.contains("{%") => Some(expand(s, root, depth + 1)?),
            _ => None,
        };
        if splice {
            // Printed from the template value (not JSON) so tuples keep their parentheses.
            let text = match &expanded {
                Some(v) => python::py_str(v),
                None => convert::py_str(&result).map_err(map_err)?,
            };
            output = Value::String(current.replace(expr, &text));
        } else {
            output = match expanded {
                Some(v) => v,
                None => convert::result_to_json(&result).map_err(map_err)?,
            };
        }
    }
    Ok(output)
}

// ------------------------------------------------------------------ StackStorm render_values

/// StackStorm `render_values` for one string value: the context's keys are template
/// variables (plus `__context` and, unless the context has its own, `st2kv`). The result is
/// the rendered string; with an empty context the text comes back untouched, as in StackStorm.
pub fn render_st2(text: &str, ctx: &Value, provider: &dyn ContextProvider) -> Result<Value, Error> {
    let is_empty = match ctx {
        Value::Object(m) => m.is_empty(),
        other => !python::truthy(other),
    };
    if is_empty {
        return Ok(Value::String(text.to_string()));
    }
    let mut entries: Vec<(String, MjValue)> = vec![("__context".into(), convert::from_json(ctx))];
    if let Some(m) = ctx.as_object() {
        if !m.contains_key("st2kv") {
            entries.push(("st2kv".into(), MjValue::from_object(st2kv::KvRoot)));
        }
        for (k, v) in m {
            entries.push((k.clone(), convert::from_json(v)));
        }
    }
    let root = MjValue::from_iter(entries);
    let _scope = enter_scope(ctx, provider);
    let out = render_template(st2_env(), text, &root)?;
    Ok(Value::String(out))
}

/// `render_values` for a parameter value of any type: lists and dicts are rendered as their
/// JSON text and parsed back; other non-strings are rendered from `str(value)` and keep their
/// original value when nothing was templated.
pub fn render_st2_value(
    value: &Value,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Value, Error> {
    match value {
        Value::String(s) => render_st2(s, ctx, provider),
        Value::Array(_) | Value::Object(_) => {
            let text = functions::py_json_dumps(value, &functions::JsonOpts::default());
            let out = render_st2(&text, ctx, provider)?;
            let Value::String(rendered) = out else {
                return Ok(value.clone());
            };
            if rendered == text {
                return Ok(value.clone());
            }
            serde_json::from_str(&rendered)
                .map_err(|e| Error::Jinja(format!("JSONDecodeError: {e}")))
        }
        other => {
            let text = python::py_str(other);
            match render_st2(&text, ctx, provider)? {
                Value::String(s) if s == text => Ok(other.clone()),
                rendered => Ok(rendered),
            }
        }
    }
}

#[cfg(test)]
mod tests;

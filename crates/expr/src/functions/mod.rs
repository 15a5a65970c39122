//! StackStorm and Orquesta expression functions, shared by the YAQL and Jinja front ends.
//!
//! Both front ends call [`call`] (positional arguments) or [`call_kw`] (with keyword arguments)
//! for any function name they do not implement natively, with arguments already converted to
//! JSON values. Semantics follow the Python originals (orquesta 1.6 `expressions/functions`,
//! st2 `st2common/expressions/functions/*`); error messages start with the Python exception
//! class the reference raises (`TypeError: ...`, `ValueError: ...`).

pub mod jsonpath;
pub mod python;
pub mod semver;
pub mod yaml;

use crate::{ContextProvider, Error};
use python::{py_str, type_name};
use serde_json::{Map, Number, Value};
use std::fmt::Write;

/// What a function may read besides its arguments: the workflow context (with the `__`
/// runtime keys `__current_item`, `__current_task`, `__state`) and the engine's provider.
pub struct FnContext<'a> {
    pub ctx: &'a Value,
    pub provider: &'a dyn ContextProvider,
}

/// StackStorm's `use_none` marker: rendered parameters equal to it become `None`.
pub const NONE_MAGIC_VALUE: &str = "%*****__%NONE%__*****%";

/// Every name [`call`] knows, in registration order (orquesta first, then StackStorm).
pub const NAMES: &[&str] = &[
    "ctx",
    "json",
    "zip",
    "item",
    "task_status",
    "succeeded",
    "failed",
    "completed",
    "result",
    "st2kv",
    "task",
    "basename",
    "dirname",
    "from_json_string",
    "from_yaml_string",
    "json_dump",
    "json_parse",
    "json_escape",
    "jsonpath_query",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_human_time_from_seconds",
    "to_json_string",
    "to_yaml_string",
    "use_none",
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
    "yaml_dump",
    "yaml_parse",
    "to_complex",
    "decrypt_kv",
];

/// Names registered for Orquesta workflows (Jinja globals/filters and YAQL functions).
/// `to_complex` and `decrypt_kv` are StackStorm `render_values` filters only.
pub fn is_orquesta_function(name: &str) -> bool {
    NAMES.contains(&name) && !matches!(name, "to_complex" | "decrypt_kv")
}

/// Filters that StackStorm's `render_values` environment registers (`st2common.util.jinja`).
pub fn is_st2_filter(name: &str) -> bool {
    matches!(
        name,
        "decrypt_kv"
            | "from_json_string"
            | "from_yaml_string"
            | "json_escape"
            | "jsonpath_query"
            | "to_complex"
            | "to_json_string"
            | "to_yaml_string"
            | "regex_match"
            | "regex_replace"
            | "regex_search"
            | "regex_substring"
            | "to_human_time_from_seconds"
            | "version_compare"
            | "version_more_than"
            | "version_less_than"
            | "version_equal"
            | "version_match"
            | "version_bump_major"
            | "version_bump_minor"
            | "version_bump_patch"
            | "version_strip_patch"
            | "use_none"
            | "basename"
            | "dirname"
    )
}

/// Call a StackStorm or Orquesta function by name. `None` means no such function is registered
/// (the caller reports its own "no function registered" error).
pub fn call(name: &str, args: &[Value], fctx: &FnContext<'_>) -> Option<Result<Value, Error>> {
    call_kw(name, args, &[], fctx)
}

/// Like [`call`], with Python-style keyword arguments (`to_json_string(v, sort_keys=true)`,
/// `zip(a, b, pad=0)`, `st2kv('system.k', decrypt=true)`).
pub fn call_kw(
    name: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
    fctx: &FnContext<'_>,
) -> Option<Result<Value, Error>> {
    let params: &[&str] = match name {
        "ctx" => &["key"],
        "json" => &["s"],
        "zip" => return Some(zip(args, kwargs)),
        "item" => &["key"],
        "task_status" => &["task_id", "route"],
        "succeeded" | "failed" | "completed" | "result" => &[],
        "st2kv" => &["key", "decrypt", "default"],
        "task" => &["task_id", "route"],
        "basename" | "dirname" => &["path"],
        "from_json_string" | "json_parse" | "from_yaml_string" | "yaml_parse" | "json_escape"
        | "use_none" | "to_complex" | "decrypt_kv" => &["value"],
        "to_json_string" | "json_dump" => &["value", "indent", "sort_keys", "separators"],
        "to_yaml_string" | "yaml_dump" => &["value", "indent", "allow_unicode"],
        "jsonpath_query" => &["value", "query"],
        "regex_match" | "regex_search" => &["value", "pattern", "ignorecase"],
        "regex_replace" => &["value", "pattern", "replacement", "ignorecase"],
        "regex_substring" => &["value", "pattern", "result_index", "ignorecase"],
        "to_human_time_from_seconds" => &["seconds"],
        "version_compare" | "version_more_than" | "version_less_than" | "version_equal"
        | "version_match" => &["value", "pattern"],
        "version_bump_major"
        | "version_bump_minor"
        | "version_bump_patch"
        | "version_strip_patch" => &["value"],
        _ => return None,
    };
    Some(bind(name, params, args, kwargs).and_then(|a| dispatch(name, &a, fctx)))
}

/// Bound arguments: `Some(value)` for each parameter given, `None` where the default applies.
struct Args {
    vals: Vec<Option<Value>>,
}

impl Args {
    fn get(&self, i: usize) -> Option<&Value> {
        self.vals.get(i).and_then(|v| v.as_ref())
    }
    fn req(&self, i: usize, fname: &str, pname: &str) -> Result<&Value, Error> {
        self.get(i).ok_or_else(|| {
            err(
                "TypeError",
                format!("{fname}() missing required positional argument: '{pname}'"),
            )
        })
    }
    fn flag(&self, i: usize) -> bool {
        self.get(i).map(python::truthy).unwrap_or(false)
    }
}

fn bind(
    name: &str,
    params: &[&str],
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Args, Error> {
    if args.len() > params.len() {
        return Err(err(
            "TypeError",
            format!(
                "{name}() takes {} positional arguments but {} were given",
                params.len(),
                args.len()
            ),
        ));
    }
    let mut vals: Vec<Option<Value>> = args.iter().cloned().map(Some).collect();
    vals.resize(params.len(), None);
    for (k, v) in kwargs {
        let idx = params.iter().position(|p| p == k).ok_or_else(|| {
            err(
                "TypeError",
                format!("{name}() got an unexpected keyword argument '{k}'"),
            )
        })?;
        if vals[idx].is_some() {
            return Err(err(
                "TypeError",
                format!("{name}() got multiple values for argument '{k}'"),
            ));
        }
        vals[idx] = Some(v.clone());
    }
    Ok(Args { vals })
}

/// An error whose message starts with the Python exception class name.
pub fn err(class: &str, msg: impl std::fmt::Display) -> Error {
    Error::Evaluation(format!("{class}: {msg}"))
}

fn dispatch(name: &str, a: &Args, f: &FnContext<'_>) -> Result<Value, Error> {
    match name {
        "ctx" => ctx_fn(f.ctx, a.get(0)),
        "json" => json_fn(a.req(0, name, "s")?),
        "item" => item(f.ctx, a.get(0)),
        "task_status" => {
            let id = a.req(0, name, "task_id")?;
            let route = match a.get(1) {
                None | Some(Value::Null) => None,
                Some(r) => Some(as_int(r, "route")?),
            };
            Ok(Value::String(task_status(f.ctx, &py_str(id), route)?))
        }
        "succeeded" => Ok(Value::Bool(current_status(f.ctx)? == "succeeded")),
        "failed" => Ok(Value::Bool(current_status(f.ctx)? == "failed")),
        "completed" => {
            let s = current_status(f.ctx)?;
            Ok(Value::Bool(matches!(
                s.as_str(),
                "succeeded" | "failed" | "timeout" | "abandoned" | "canceled"
            )))
        }
        "result" => Ok(current_task(f.ctx)?
            .get("result")
            .cloned()
            .unwrap_or(Value::Null)),
        "st2kv" => st2kv(a, f),
        "task" => {
            let id = match a.get(0) {
                None | Some(Value::Null) => None,
                Some(v) => Some(py_str(v)),
            };
            f.provider
                .task(id.as_deref())
                .map_err(|e| err("ExpressionEvaluationException", e))
        }
        "basename" => Ok(Value::String(basename(&path_arg(a.req(0, name, "path")?)?))),
        "dirname" => Ok(Value::String(dirname(&path_arg(a.req(0, name, "path")?)?))),
        "from_json_string" | "json_parse" => from_json_string(a.req(0, name, "value")?),
        "from_yaml_string" | "yaml_parse" => {
            let text = py_str(a.req(0, name, "value")?);
            yaml::load(&text).map_err(Error::Evaluation)
        }
        "json_dump" | "to_json_string" => {
            let v = a.req(0, name, "value")?;
            let indent = match a.get(1) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(i) => Some(" ".repeat(as_int(i, "indent")?.max(0) as usize)),
            };
            let sort_keys = a.flag(2);
            let (item_sep, key_sep) = match a.get(3) {
                Some(Value::Array(s)) if s.len() == 2 => (py_str(&s[0]), py_str(&s[1])),
                None | Some(Value::Null) => (",".to_string(), ": ".to_string()),
                Some(other) => {
                    return Err(err(
                        "ValueError",
                        format!("bad separators {}", python::py_repr(other)),
                    ))
                }
            };
            Ok(Value::String(py_json_dumps(
                v,
                &JsonOpts {
                    indent: indent.as_deref(),
                    sort_keys,
                    item_sep: &item_sep,
                    key_sep: &key_sep,
                    ensure_ascii: true,
                },
            )))
        }
        "to_complex" => Ok(Value::String(py_json_dumps(
            a.req(0, name, "value")?,
            &JsonOpts::default(),
        ))),
        "json_escape" => {
            let s = py_json_dumps(a.req(0, name, "value")?, &JsonOpts::default());
            Ok(Value::String(s.trim_matches('"').to_string()))
        }
        "to_yaml_string" | "yaml_dump" => {
            let indent = match a.get(1) {
                None | Some(Value::Null) => 2,
                Some(i) => as_int(i, "indent")?.max(0) as usize,
            };
            Ok(Value::String(yaml::dump(a.req(0, name, "value")?, indent)))
        }
        "jsonpath_query" => {
            let q = a.req(1, name, "query")?;
            let q = q
                .as_str()
                .ok_or_else(|| err("TypeError", "expected string or bytes-like object"))?;
            match jsonpath::query(a.req(0, name, "value")?, q).map_err(Error::Evaluation)? {
                Some(items) => Ok(Value::Array(items)),
                None => Ok(Value::Null),
            }
        }
        "regex_match" | "regex_search" => {
            let re = compile_regex(a.req(1, name, "pattern")?, a.flag(2))?;
            let text = py_str(a.req(0, name, "value")?);
            let found = if name == "regex_match" {
                // re.match anchors at the start; a leftmost match at 0 exists iff one does.
                re.find(&text)
                    .map_err(regex_failed)?
                    .is_some_and(|m| m.start() == 0)
            } else {
                re.is_match(&text).map_err(regex_failed)?
            };
            Ok(Value::Bool(found))
        }
        "regex_replace" => {
            let re = compile_regex(a.req(1, name, "pattern")?, a.flag(3))?;
            let text = py_str(a.req(0, name, "value")?);
            let repl = python_replacement(&py_str(a.req(2, name, "replacement")?), &re)?;
            Ok(Value::String(
                re.try_replacen(&text, 0, repl.as_str())
                    .map_err(regex_failed)?
                    .into_owned(),
            ))
        }
        "regex_substring" => {
            let re = compile_regex(a.req(1, name, "pattern")?, a.flag(3))?;
            let text = py_str(a.req(0, name, "value")?);
            let idx = match a.get(2) {
                None => 0,
                Some(i) => as_int(i, "result_index")?,
            };
            let all = findall(&re, &text)?;
            let n = all.len() as i64;
            let i = if idx < 0 { n + idx } else { idx };
            if i < 0 || i >= n {
                return Err(err("IndexError", "list index out of range"));
            }
            Ok(all[i as usize].clone())
        }
        "to_human_time_from_seconds" => human_time(a.req(0, name, "seconds")?),
        "use_none" => {
            let v = a.req(0, name, "value")?;
            Ok(if v.is_null() {
                Value::String(NONE_MAGIC_VALUE.into())
            } else {
                v.clone()
            })
        }
        "version_compare" | "version_more_than" | "version_less_than" | "version_equal" => {
            let v = version(a.req(0, name, "value")?)?;
            let p = version(a.req(1, name, "pattern")?)?;
            let c = v.compare(&p) as i64;
            Ok(match name {
                "version_compare" => Value::from(c),
                "version_more_than" => Value::Bool(c == 1),
                "version_less_than" => Value::Bool(c == -1),
                _ => Value::Bool(c == 0),
            })
        }
        "version_match" => {
            let v = version(a.req(0, name, "value")?)?;
            let p = a.req(1, name, "pattern")?;
            let p = p
                .as_str()
                .ok_or_else(|| err("TypeError", "match_expr must be a string"))?;
            v.matches(p).map(Value::Bool).map_err(Error::Evaluation)
        }
        "version_bump_major" => Ok(Value::String(
            version(a.req(0, name, "value")?)?.bump_major().to_string(),
        )),
        "version_bump_minor" => Ok(Value::String(
            version(a.req(0, name, "value")?)?.bump_minor().to_string(),
        )),
        "version_bump_patch" => Ok(Value::String(
            version(a.req(0, name, "value")?)?.bump_patch().to_string(),
        )),
        "version_strip_patch" => {
            let v = version(a.req(0, name, "value")?)?;
            Ok(Value::String(format!("{}.{}", v.major, v.minor)))
        }
        "decrypt_kv" => {
            let v = a.req(0, name, "value")?;
            let text = py_str(v);
            if text.is_empty() {
                return Err(err(
                    "ValueError",
                    "Referenced datastore item doesn't exist or it contains an empty string",
                ));
            }
            f.provider
                .decrypt(&text)
                .map(Value::String)
                .map_err(|e| err("ValueError", e))
        }
        _ => Err(err(
            "NameError",
            format!("function '{name}' is not registered"),
        )),
    }
}

// ------------------------------------------------------------------ orquesta functions

fn ctx_fn(ctx: &Value, key: Option<&Value>) -> Result<Value, Error> {
    let vars = ctx.as_object();
    match key {
        Some(k) if python::truthy(k) => {
            let k = py_str(k);
            let v = vars.and_then(|m| m.get(&k)).ok_or_else(|| {
                err(
                    "VariableUndefinedError",
                    format!("The variable \"{k}\" is undefined."),
                )
            })?;
            if k.starts_with("__") {
                return Err(err(
                    "VariableInaccessibleError",
                    format!("The variable \"{k}\" is for internal use and inaccessible."),
                ));
            }
            Ok(v.clone())
        }
        _ => Ok(Value::Object(
            vars.map(|m| {
                m.iter()
                    .filter(|(k, _)| !k.starts_with("__"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        )),
    }
}

fn json_fn(s: &Value) -> Result<Value, Error> {
    match s {
        Value::Object(_) => Ok(s.clone()),
        Value::String(text) => {
            serde_json::from_str(text).map_err(|e| err("JSONDecodeError", format!("{e}")))
        }
        _ => Err(err("TypeError", "Given object is not typeof string.")),
    }
}

fn zip(args: &[Value], kwargs: &[(String, Value)]) -> Result<Value, Error> {
    let mut pad = Value::Null;
    for (k, v) in kwargs {
        if k == "pad" {
            pad = v.clone();
        } else {
            return Err(err(
                "TypeError",
                format!("zip_longest() got an unexpected keyword argument '{k}'"),
            ));
        }
    }
    let lists: Vec<Vec<Value>> = args
        .iter()
        .map(|a| iter_values(a, "zip argument"))
        .collect::<Result<_, _>>()?;
    if args.len() == 1 {
        return Ok(if args[0].is_null() {
            Value::Array(vec![])
        } else {
            args[0].clone()
        });
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::Array(
        (0..n)
            .map(|i| {
                Value::Array(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or_else(|| pad.clone()))
                        .collect(),
                )
            })
            .collect(),
    ))
}

/// Python iteration over a value: list items, dict keys, string characters; `None` is empty
/// (orquesta's `zip` maps None to `[]`).
pub fn iter_values(v: &Value, what: &str) -> Result<Vec<Value>, Error> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(a) => Ok(a.clone()),
        Value::Object(m) => Ok(m.keys().map(|k| Value::String(k.clone())).collect()),
        Value::String(s) => Ok(s.chars().map(|c| Value::String(c.to_string())).collect()),
        other => Err(err(
            "TypeError",
            format!("'{}' object is not iterable ({what})", type_name(other)),
        )),
    }
}

fn item(ctx: &Value, key: Option<&Value>) -> Result<Value, Error> {
    let current = ctx.get("__current_item").cloned().unwrap_or(Value::Null);
    let key = match key {
        Some(k) if python::truthy(k) => k,
        _ => return Ok(current),
    };
    let map = current.as_object().ok_or_else(|| {
        err(
            "ExpressionEvaluationException",
            "Item is not type of collections.abc.Mapping.",
        )
    })?;
    let k = py_str(key);
    map.get(&k).cloned().ok_or_else(|| {
        err(
            "ExpressionEvaluationException",
            format!("Item does not have key \"{k}\"."),
        )
    })
}

fn current_task(ctx: &Value) -> Result<&Map<String, Value>, Error> {
    match ctx.get("__current_task") {
        Some(Value::Object(m)) if !m.is_empty() => Ok(m),
        _ => Err(err(
            "ExpressionEvaluationException",
            "The current task is not set in the context.",
        )),
    }
}

fn current_status(ctx: &Value) -> Result<String, Error> {
    let t = current_task(ctx)?;
    let id = t
        .get("id")
        .map(py_str)
        .ok_or_else(|| err("KeyError", "'id'"))?;
    let route = match t.get("route") {
        Some(r) => as_int(r, "route")?,
        None => return Err(err("KeyError", "'route'")),
    };
    task_status(ctx, &id, Some(route))
}

/// orquesta `task_status(task_id, route)`; "null" when the task has no state entry.
pub fn task_status(ctx: &Value, task_id: &str, route: Option<i64>) -> Result<String, Error> {
    if ctx.as_object().is_none_or(|m| m.is_empty()) {
        return Ok("null".into());
    }
    let route = match route {
        Some(r) => r,
        None => ctx
            .get("__current_task")
            .and_then(|t| t.get("route"))
            .and_then(Value::as_i64)
            .unwrap_or(0),
    };
    let state = ctx.get("__state").filter(|s| !s.is_null());
    let empty = Map::new();
    let state_map = state.and_then(Value::as_object).unwrap_or(&empty);
    let uid = format!("{task_id}__r{route}");
    let idx = state_map
        .get("tasks")
        .and_then(|t| t.get(&uid))
        .filter(|v| !v.is_null());
    let Some(idx) = idx else {
        if route > 0 {
            let routes = state_map
                .get("routes")
                .and_then(Value::as_array)
                .ok_or_else(|| err("KeyError", "'routes'"))?;
            let current: Vec<&Value> = routes
                .get(route as usize)
                .and_then(Value::as_array)
                .map(|r| r.iter().collect())
                .ok_or_else(|| err("IndexError", "list index out of range"))?;
            let end = (route as usize).min(routes.len());
            for (n, prev) in routes[..end].iter().rev().enumerate() {
                let prev: Vec<&Value> = prev
                    .as_array()
                    .map(|r| r.iter().collect())
                    .unwrap_or_default();
                if prev.iter().all(|p| current.contains(p)) {
                    let prev_route = route - n as i64 - 1;
                    return task_status(ctx, task_id, Some(prev_route));
                }
            }
        }
        return Ok("null".into());
    };
    let i = as_int(idx, "task index")?;
    let seq = state_map
        .get("sequence")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let n = seq.len() as i64;
    let j = if i < 0 { n + i } else { i };
    let entry = seq
        .get(usize::try_from(j).map_err(|_| err("IndexError", "list index out of range"))?)
        .ok_or_else(|| err("IndexError", "list index out of range"))?;
    if entry.is_null() {
        return Ok("null".into());
    }
    Ok(entry
        .get("status")
        .map(py_str)
        .unwrap_or_else(|| "null".into()))
}

fn st2kv(a: &Args, f: &FnContext<'_>) -> Result<Value, Error> {
    let key = a.req(0, "st2kv", "key")?;
    let key = key
        .as_str()
        .ok_or_else(|| err("TypeError", "Given key is not typeof string."))?;
    let decrypt = match a.get(1) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err("TypeError", "Decrypt parameter is not typeof bool.")),
    };
    match f.provider.st2kv(key, decrypt) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => match a.get(2) {
            Some(d) => Ok(d.clone()),
            None => Err(err(
                "ExpressionEvaluationException",
                format!("The key \"{key}\" does not exist in the StackStorm datastore."),
            )),
        },
        Err(e) => Err(err("ExpressionEvaluationException", e)),
    }
}

// ------------------------------------------------------------------ StackStorm functions

fn path_arg(v: &Value) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(err(
            "TypeError",
            format!(
                "expected str, bytes or os.PathLike object, not {}",
                type_name(other)
            ),
        )),
    }
}

/// `os.path.basename`: everything after the last `/`.
pub fn basename(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => p[i + 1..].to_string(),
        None => p.to_string(),
    }
}

/// `os.path.dirname`: everything before the last `/`, trailing slashes removed unless all slashes.
pub fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
        None => String::new(),
    }
}

fn from_json_string(v: &Value) -> Result<Value, Error> {
    let text = py_str(v);
    serde_json::from_str(&text).map_err(|e| err("JSONDecodeError", e))
}

fn version(v: &Value) -> Result<semver::Version, Error> {
    match v {
        Value::String(s) => semver::Version::parse(s).map_err(Error::Evaluation),
        other => Err(err(
            "TypeError",
            format!("not expecting type '{}'", type_name(other)),
        )),
    }
}

fn as_int(v: &Value, what: &str) -> Result<i64, Error> {
    match v {
        Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or(0)),
        Value::Bool(b) => Ok(*b as i64),
        other => Err(err(
            "TypeError",
            format!("{what} must be an integer, not {}", type_name(other)),
        )),
    }
}

/// Compiles a Python `re` pattern. `fancy-regex` gives the backtracking features Python has
/// and the `regex` crate lacks (lookaround, backreferences); the backtrack limit keeps
/// hostile patterns bounded.
pub fn compile_regex(pattern: &Value, ignorecase: bool) -> Result<fancy_regex::Regex, Error> {
    let p = pattern.as_str().ok_or_else(|| {
        err(
            "TypeError",
            "first argument must be string or compiled pattern",
        )
    })?;
    let p = if ignorecase {
        format!("(?i){p}")
    } else {
        p.to_string()
    };
    fancy_regex::RegexBuilder::new(&p)
        .backtrack_limit(1_000_000)
        .delegate_size_limit(1 << 20)
        .build()
        .map_err(|e| err("error", format!("bad regular expression: {e}")))
}

fn regex_failed(e: fancy_regex::Error) -> Error {
    err("error", format!("regular expression failed: {e}"))
}

/// Python `re.sub` replacement (`\1`, `\g<1>`, `\g<name>`, `\n`) to a `regex` crate template.
fn python_replacement(repl: &str, re: &fancy_regex::Regex) -> Result<String, Error> {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = d.to_string();
                    if let Some(&d2) = chars.peek() {
                        if d2.is_ascii_digit() {
                            n.push(d2);
                            chars.next();
                        }
                    }
                    let idx: usize = n.parse().unwrap_or(0);
                    if idx >= re.captures_len() {
                        return Err(err("error", format!("invalid group reference {idx}")));
                    }
                    let _ = write!(out, "${{{idx}}}");
                }
                Some('g') => {
                    if chars.next() != Some('<') {
                        return Err(err("error", "missing <"));
                    }
                    let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                    let _ = write!(out, "${{{name}}}");
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some(other) if other.is_ascii_alphabetic() => {
                    return Err(err("error", format!("bad escape \\{other}")));
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => return Err(err("error", "bad escape (end of pattern)")),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `re.findall`: whole matches without groups, the group with one, tuples (lists) with more.
fn findall(re: &fancy_regex::Regex, text: &str) -> Result<Vec<Value>, Error> {
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    for c in re.captures_iter(text) {
        let c = c.map_err(regex_failed)?;
        let g = |i: usize| Value::String(c.get(i).map(|m| m.as_str()).unwrap_or("").to_string());
        out.push(match groups {
            0 => g(0),
            1 => g(1),
            n => Value::Array((1..=n).map(g).collect()),
        });
    }
    Ok(out)
}

fn human_time(v: &Value) -> Result<Value, Error> {
    let n = match v {
        Value::Number(n) => n,
        Value::Bool(b) => return human_time(&Value::from(*b as i64)),
        _ => return Err(err("AssertionError", "")),
    };
    let secs: i64 = if let Some(i) = n.as_i64() {
        i
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        if f == 0.0 {
            return Ok(Value::String("0s".into()));
        }
        if f < 1.0 {
            return Ok(Value::String(format!("{}\u{3bc}s", python::float_repr(f))));
        }
        let r = round_half_even(f);
        if !r.is_finite() || r > 9.0e15 {
            return Err(err("OverflowError", "date value out of range"));
        }
        r as i64
    };
    if secs == 0 {
        return Ok(Value::String("0s".into()));
    }
    if secs < 1 {
        return Ok(Value::String(format!("{secs}\u{3bc}s")));
    }
    // datetime(1, 1, 1) + timedelta(seconds): year-1, day-of-month - 1, h, m, s (months ignored).
    let days = secs / 86400;
    let rem = secs % 86400;
    let (year, _month, day) = civil_from_days(days_from_civil(1, 1, 1) + days);
    if year > 9999 {
        return Err(err("OverflowError", "date value out of range"));
    }
    let parts = [year - 1, day - 1, rem / 3600, (rem % 3600) / 60, rem % 60];
    let first = parts.iter().position(|&x| x != 0);
    let Some(first) = first else {
        return Ok(Value::String("0s".into()));
    };
    let labels = ["y", "d", "h", "m", "s"];
    let mut out = String::new();
    for i in first..5 {
        let _ = write!(out, "{}{}", parts[i], labels[i]);
    }
    Ok(Value::String(out))
}

/// Python's `round()` on floats: ties go to the even neighbour.
pub fn round_half_even(f: f64) -> f64 {
    let r = f.round();
    if (f - f.trunc()).abs() == 0.5 {
        2.0 * (f / 2.0).round()
    } else {
        r
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

// ------------------------------------------------------------------ Python json.dumps

/// Options of Python's `json.dumps`.
pub struct JsonOpts<'a> {
    pub indent: Option<&'a str>,
    pub sort_keys: bool,
    pub item_sep: &'a str,
    pub key_sep: &'a str,
    pub ensure_ascii: bool,
}

impl Default for JsonOpts<'_> {
    /// `json.dumps(v)` with no options.
    fn default() -> Self {
        JsonOpts {
            indent: None,
            sort_keys: false,
            item_sep: ", ",
            key_sep: ": ",
            ensure_ascii: true,
        }
    }
}

/// Python `json.dumps(value, ...)`, byte for byte (float repr, `\uXXXX` escapes, separators).
pub fn py_json_dumps(v: &Value, o: &JsonOpts<'_>) -> String {
    let mut out = String::new();
    dump_json(&mut out, v, o, 0);
    out
}

fn newline(out: &mut String, o: &JsonOpts<'_>, level: usize) {
    if let Some(ind) = o.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn dump_json(out: &mut String, v: &Value, o: &JsonOpts<'_>, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                let r = python::float_repr(f);
                out.push_str(match r.as_str() {
                    "nan" => "NaN",
                    "inf" => "Infinity",
                    "-inf" => "-Infinity",
                    _ => &r,
                });
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => json_str(out, s, o.ensure_ascii),
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(o.item_sep);
                }
                newline(out, o, level + 1);
                dump_json(out, x, o, level + 1);
            }
            newline(out, o, level);
            out.push(']');
        }
        Value::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            if o.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(o.item_sep);
                }
                newline(out, o, level + 1);
                json_str(out, k, o.ensure_ascii);
                out.push_str(o.key_sep);
                dump_json(out, x, o, level + 1);
            }
            newline(out, o, level);
            out.push('}');
        }
    }
}

fn json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{:04x}", unit);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python slice `a[start:end:step]` over a list.
pub fn py_slice<T: Clone>(
    items: &[T],
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
) -> Vec<T> {
    let len = items.len() as i64;
    let step = step.unwrap_or(1);
    if step == 0 {
        return Vec::new();
    }
    let norm = |i: i64, lo: i64, hi: i64| {
        let i = if i < 0 { i + len } else { i };
        i.clamp(lo, hi)
    };
    let mut out = Vec::new();
    if step > 0 {
        let s = start.map(|s| norm(s, 0, len)).unwrap_or(0);
        let e = end.map(|e| norm(e, 0, len)).unwrap_or(len);
        let mut i = s;
        while i < e {
            out.push(items[i as usize].clone());
            i += step;
        }
    } else {
        let s = start.map(|s| norm(s, -1, len - 1)).unwrap_or(len - 1);
        let e = end.map(|e| norm(e, -1, len - 1)).unwrap_or(-1);
        let mut i = s;
        while i > e {
            out.push(items[i as usize].clone());
            i += step;
        }
    }
    out
}

/// A JSON number from an `f64` (non-finite values become `null`, which JSON cannot hold).
pub fn float_value(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests;

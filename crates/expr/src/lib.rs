//! Expressions: a YAQL interpreter and a Jinja environment configured the way Orquesta and
//! StackStorm configure Jinja2, plus StackStorm's and Orquesta's expression functions.
//!
//! This crate is pure: it never does I/O. Data that lives outside the expression (the datastore
//! behind `st2kv`, the workflow runtime behind `task`) comes in through [`ContextProvider`].
//! Values are `serde_json::Value` at the boundary (with `preserve_order`, so dict order is kept;
//! integers and floats stay distinct).

pub mod functions;
pub mod jinja;
pub mod yaql;

use serde_json::Value;

/// Which evaluator a string is meant for (the `lang` field of the conformance corpus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Orquesta YAQL: `<% ... %>` with `ctx()` and friends.
    Yaql,
    /// Orquesta Jinja: `{{ ... }}` / `{% ... %}` with `ctx()` and friends.
    Jinja,
    /// StackStorm `render_values` Jinja (action parameters, rules): top-level template variables.
    JinjaSt2,
}

impl std::str::FromStr for Lang {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "yaql" => Ok(Lang::Yaql),
            "jinja" => Ok(Lang::Jinja),
            "jinja-st2" | "jinja_st2" => Ok(Lang::JinjaSt2),
            other => Err(Error::Unsupported(format!(
                "unknown expression language '{other}'"
            ))),
        }
    }
}

/// Data the engine supplies at evaluation time. Defaults return "not available".
pub trait ContextProvider: Send + Sync {
    /// `st2kv('system.x')` / `st2kv.system.x`: the value of a datastore key, decrypted when asked.
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        let _ = (key, decrypt);
        Err("st2kv is not available in this context".into())
    }
    /// StackStorm's `task(name)` in Orquesta workflows: the task execution record.
    fn task(&self, name: Option<&str>) -> Result<Value, String> {
        let _ = name;
        Err("task() is not available in this context".into())
    }
    /// StackStorm's `decrypt_kv` filter: decrypt a datastore ciphertext with the system key.
    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        let _ = ciphertext;
        Err("decrypt_kv is not available in this context".into())
    }
    /// The current time for YAQL's `now()`. The default reads the system clock; the engine
    /// and tests may pin it.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
    /// The local UTC offset for YAQL's `localtz()`, in seconds east of UTC. Gale servers
    /// keep time in UTC, so the default is 0.
    fn local_offset_seconds(&self) -> i32 {
        0
    }
}

/// A provider with nothing behind it (used by `gale expr eval` and the conformance corpus).
pub struct NoProvider;
impl ContextProvider for NoProvider {}

/// Errors from parsing or evaluating an expression. Messages carry the position where known.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    #[error("YaqlEvaluationException: {0}")]
    Yaql(String),
    #[error("JinjaEvaluationException: {0}")]
    Jinja(String),
    #[error("ExpressionEvaluationException: {0}")]
    Evaluation(String),
    #[error("budget exhausted: {0}")]
    Budget(String),
    #[error("{0}")]
    Unsupported(String),
}

/// Evaluate a whole string as it appears in a workflow or action parameter (delimiters included).
/// A string that is exactly one expression yields the typed value; otherwise results are
/// stringified with Python `str()` rules and spliced in (see the corpus README).
pub fn evaluate(lang: Lang, text: &str, ctx: &Value) -> Result<Value, Error> {
    evaluate_with(lang, text, ctx, &NoProvider)
}

/// A result together with the integers that JSON numbers (64 bits) could only approximate.
///
/// Python integers are unbounded and Gale's template values hold 128 bits, but results cross
/// crate boundaries as `serde_json::Value`, where such an integer becomes the nearest float
/// (StackStorm cannot store them either: MongoDB integers are 64 bits). Tools that print a
/// result (`gale expr eval`) use this to print the exact digits.
#[derive(Clone, Debug, PartialEq)]
pub struct Exact {
    pub value: Value,
    /// (JSON pointer into `value`, exact integer) for every approximated integer.
    pub big_ints: Vec<(String, i128)>,
}

impl Exact {
    /// JSON text of the value with the exact digits where it holds an approximation.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        let mut path = String::new();
        self.write(&self.value, &mut path, &mut out);
        out
    }

    fn write(&self, v: &Value, path: &mut String, out: &mut String) {
        if let Some((_, i)) = self.big_ints.iter().find(|(p, _)| p == path) {
            out.push_str(&i.to_string());
            return;
        }
        match v {
            Value::Array(items) => {
                out.push('[');
                for (n, x) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    let len = path.len();
                    path.push_str(&format!("/{n}"));
                    self.write(x, path, out);
                    path.truncate(len);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (n, (k, x)) in map.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    self.write(x, path, out);
                    path.truncate(len);
                }
                out.push('}');
            }
            leaf => out.push_str(&leaf.to_string()),
        }
    }
}

/// Like [`evaluate_with`], also reporting the integers too large for JSON numbers exactly.
pub fn evaluate_exact(
    lang: Lang,
    text: &str,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Exact, Error> {
    let (value, big_ints) =
        jinja::convert::with_exact_ints(|| evaluate_with(lang, text, ctx, provider));
    Ok(Exact {
        value: value?,
        big_ints,
    })
}

/// Like [`evaluate`], with engine-supplied data behind `st2kv` and `task`.
pub fn evaluate_with(
    lang: Lang,
    text: &str,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Value, Error> {
    match lang {
        Lang::Yaql => yaql::evaluate(text, ctx, provider),
        Lang::Jinja => jinja::evaluate_orquesta(text, ctx, provider),
        Lang::JinjaSt2 => jinja::render_st2(text, ctx, provider),
    }
}

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

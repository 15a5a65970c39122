//! YAQL as Orquesta evaluates it: `<% %>` expressions found with the non-greedy single-line
//! regex, a typed result when the whole string is one expression, Python `str()` splicing
//! otherwise, and re-evaluation of string results that hold another expression.
//!
//! Expressions are parsed once into an AST ([`Expression::parse`]) and evaluated against a
//! borrowed `serde_json` context: context data is never copied, and every evaluation runs
//! under a step budget and a depth limit so hostile input fails with [`Error::Budget`].

mod ast;
mod datetime;
#[cfg(test)]
mod datetime_tests;
mod eval;
mod lexer;
mod parser;
mod pyre;
mod stdlib;
mod value;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value as J;

use crate::{ContextProvider, Error};

/// Steps (AST nodes evaluated plus collection items visited) one evaluation may take.
pub const DEFAULT_BUDGET: u64 = 2_000_000;
/// How many times a string result may itself be evaluated again.
const MAX_REEVALUATION: usize = 16;

/// An error raised inside the interpreter, before it gets the expression text attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YaqlError {
    /// The Python exception class yaql/orquesta would raise (`KeyError`,
    /// `NoMatchingFunctionException`, ...), or `Budget`.
    pub class: &'static str,
    pub msg: String,
    pub pos: Option<usize>,
}

impl YaqlError {
    pub fn new(class: &'static str, msg: String, pos: Option<usize>) -> Self {
        YaqlError { class, msg, pos }
    }

    pub fn budget(msg: String) -> Self {
        YaqlError::new("Budget", msg, None)
    }

    /// Attach the expression text. Positions are character offsets into `expr` (the
    /// delimited `<% ... %>` text), so `shift` is where the parsed body starts in it.
    fn into_error(self, expr: &str, shift: usize) -> Error {
        let at = match self.pos {
            Some(p) => format!(" at position {}", p + shift),
            None => String::new(),
        };
        if self.class == "Budget" {
            return Error::Budget(format!("{}{at} in expression '{expr}'", self.msg));
        }
        Error::Yaql(format!(
            "Unable to evaluate expression '{expr}'. {}: {}{at}",
            self.class, self.msg
        ))
    }
}

/// A parsed YAQL expression (the text between `<%` and `%>`), reusable across evaluations.
#[derive(Debug, Clone)]
pub struct Expression {
    src: String,
    ast: ast::Expr,
}

impl Expression {
    /// Parse an expression body (without delimiters).
    pub fn parse(src: &str) -> Result<Expression, Error> {
        let ast = parser::parse(src).map_err(|e| e.into_error(&format!("<%{src}%>"), 2))?;
        Ok(Expression {
            src: src.to_string(),
            ast,
        })
    }

    /// The source text this expression was parsed from.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Evaluate against an Orquesta context (`ctx()` data plus the `__` runtime keys). The
    /// result is converted to JSON the way orquesta converts yaql output; a string result that
    /// holds `<% %>` is evaluated again, as [`evaluate`] does.
    pub fn evaluate(&self, ctx: &J, provider: &dyn ContextProvider) -> Result<J, Error> {
        let ev = eval::Ev::new(ctx, provider, DEFAULT_BUDGET);
        let v = ev
            .run(&self.ast)
            .map_err(|e| e.into_error(&format!("<%{}%>", self.src), 2))?;
        // Like orquesta, a string result holding an expression is evaluated in turn.
        if let value::Value::Str(text) = &v {
            if has_expressions(text) {
                return evaluate_depth(text, ctx, provider, 1);
            }
        }
        value::to_json(&v, true).map_err(|e| e.into_error(&format!("<%{}%>", self.src), 2))
    }
}

fn expr_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Python's `<%.*?%>` without DOTALL: `.` does not cross a newline.
    RE.get_or_init(|| Regex::new(r"<%.*?%>").expect("static regex"))
}

/// Whether a string holds at least one `<% %>` expression.
pub fn has_expressions(text: &str) -> bool {
    expr_regex().is_match(text)
}

/// Evaluate a string that may contain `<% %>` expressions.
pub fn evaluate(text: &str, ctx: &J, provider: &dyn ContextProvider) -> Result<J, Error> {
    evaluate_depth(text, ctx, provider, 0)
}

fn evaluate_depth(
    text: &str,
    ctx: &J,
    provider: &dyn ContextProvider,
    depth: usize,
) -> Result<J, Error> {
    if depth > MAX_REEVALUATION {
        return Err(Error::Budget(format!(
            "string results were re-evaluated more than {MAX_REEVALUATION} times (does a value refer to itself?)"
        )));
    }
    let exprs: Vec<&str> = expr_regex().find_iter(text).map(|m| m.as_str()).collect();
    if exprs.is_empty() {
        return Ok(J::String(text.to_string()));
    }
    let mut output = J::String(text.to_string());
    let n = exprs.len();
    for expr in exprs {
        let body = &expr[2..expr.len() - 2];
        let ast = cached_parse(body).map_err(|e| e.into_error(expr, 2))?;
        let ev = eval::Ev::new(ctx, provider, DEFAULT_BUDGET);
        let v = ev.run(&ast).map_err(|e| e.into_error(expr, 2))?;
        let out_len = match &output {
            J::String(s) => s.chars().count(),
            _ => 0,
        };
        let splice = n > 1 || out_len > expr.chars().count();
        // Strings are evaluated again (they may hold an expression themselves).
        let result: SpliceValue = match &v {
            value::Value::Str(s) => SpliceValue::Json(evaluate_depth(s, ctx, provider, depth + 1)?),
            other => {
                if splice {
                    value::check_output(other).map_err(|e| e.into_error(expr, 2))?;
                    SpliceValue::Text(value::py_str(other, true))
                } else {
                    SpliceValue::Json(
                        value::to_json(other, true).map_err(|e| e.into_error(expr, 2))?,
                    )
                }
            }
        };
        if splice {
            let text = match result {
                SpliceValue::Text(t) => t,
                SpliceValue::Json(j) => json_py_str(&j),
            };
            let cur = match &output {
                J::String(s) => s.clone(),
                other => json_py_str(other),
            };
            output = J::String(cur.replace(expr, &text));
        } else {
            output = match result {
                SpliceValue::Json(j) => j,
                SpliceValue::Text(t) => J::String(t),
            };
        }
    }
    Ok(output)
}

/// Parse with a small per-thread cache: workflows evaluate the same strings over and over.
fn cached_parse(body: &str) -> Result<Rc<ast::Expr>, YaqlError> {
    const MAX_CACHED: usize = 1024;
    thread_local! {
        static CACHE: RefCell<HashMap<String, Rc<ast::Expr>>> = RefCell::new(HashMap::new());
    }
    if let Some(hit) = CACHE.with(|c| c.borrow().get(body).cloned()) {
        return Ok(hit);
    }
    let ast = Rc::new(parser::parse(body)?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(body.to_string(), ast.clone());
    });
    Ok(ast)
}

enum SpliceValue {
    Json(J),
    Text(String),
}

/// Python `str()` of a JSON value (what orquesta splices for a re-evaluated string result).
fn json_py_str(j: &J) -> String {
    value::py_str(&value::Value::from_json(j), true)
}

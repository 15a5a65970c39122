//! A fast path for the most common Orquesta Jinja shapes, evaluated straight on the JSON
//! context without converting it: `ctx().a.b[0]` paths, `{% for x in ... %}` loops with
//! emits, and filter chains of `selectattr`/`rejectattr`/`map`/`join`/`upper`/`lower`/
//! `length`/`first`/`last`/`list`.
//!
//! It only covers the happy path. Anything it was not built for (a missing key, an
//! unexpected type, an unsupported construct) returns `None`, and the caller runs the full
//! minijinja program instead, so results and errors are always the full engine's.

use crate::functions::python;
use minijinja::machinery::ast::{CallArg, Expr, Stmt, UnaryOpKind};
use serde_json::Value as Json;

#[derive(Debug)]
pub enum FExpr {
    /// `ctx().x`, `ctx('x')`: a workflow variable (never a `__` runtime key).
    CtxVar(String),
    /// A name bound by an enclosing `for` (its slot: the loop's nesting depth).
    Local(usize),
    Const(Json),
    Attr(Box<FExpr>, String),
    Index(Box<FExpr>, i64),
    Filter(Box<FExpr>, FFilter),
}

#[derive(Debug)]
pub enum FFilter {
    Upper,
    Lower,
    Join(String),
    Length,
    First,
    Last,
    List,
    MapAttr(String),
    MapCase(bool),
    SelectAttr {
        attr: String,
        eq: Option<Json>,
        reject: bool,
    },
}

#[derive(Debug)]
pub enum FNode {
    Raw(String),
    Emit(FExpr),
    For { iter: FExpr, body: Vec<FNode> },
}

#[derive(Debug)]
pub enum Fast {
    Expr(FExpr),
    Template(Vec<FNode>),
}

// ------------------------------------------------------------------ building from the AST

fn const_json(e: &Expr<'_>) -> Option<Json> {
    match e {
        Expr::UnaryOp(u) if matches!(u.op, UnaryOpKind::Neg) => match const_json(&u.expr)? {
            Json::Number(n) => match n.as_i64() {
                Some(i) => Some(Json::from(-i)),
                None => serde_json::Number::from_f64(-n.as_f64()?).map(Json::Number),
            },
            _ => None,
        },
        Expr::Const(c) => serde_json::to_value(&c.value)
            .ok()
            .filter(|v| !v.is_array() && !v.is_object()),
        _ => None,
    }
}

fn const_str(e: &Expr<'_>) -> Option<String> {
    match const_json(e)? {
        Json::String(s) => Some(s),
        _ => None,
    }
}

fn is_ctx_call(e: &Expr<'_>) -> Option<Option<String>> {
    if let Expr::Call(c) = e {
        if let Expr::Var(v) = &c.expr {
            if v.id == "ctx" {
                return match c.args.as_slice() {
                    [] => Some(None),
                    [CallArg::Pos(k)] => const_str(k).map(Some),
                    _ => None,
                };
            }
        }
    }
    None
}

fn expr(e: &Expr<'_>, locals: &[String]) -> Option<FExpr> {
    match e {
        Expr::Var(v) => locals.iter().rposition(|l| l == v.id).map(FExpr::Local),
        Expr::Const(_) => const_json(e).map(FExpr::Const),
        Expr::GetAttr(g) => {
            if let Some(None) = is_ctx_call(&g.expr) {
                return (!g.name.starts_with("__")).then(|| FExpr::CtxVar(g.name.to_string()));
            }
            Some(FExpr::Attr(
                Box::new(expr(&g.expr, locals)?),
                g.name.to_string(),
            ))
        }
        Expr::GetItem(g) => {
            let key = const_json(&g.subscript_expr)?;
            if let Some(None) = is_ctx_call(&g.expr) {
                return match key {
                    Json::String(k) if !k.starts_with("__") => Some(FExpr::CtxVar(k)),
                    _ => None,
                };
            }
            let inner = Box::new(expr(&g.expr, locals)?);
            match key {
                Json::String(k) => Some(FExpr::Attr(inner, k)),
                Json::Number(n) => Some(FExpr::Index(inner, n.as_i64()?)),
                _ => None,
            }
        }
        Expr::Call(_) => match is_ctx_call(e)? {
            Some(k) if !k.starts_with("__") && !k.is_empty() => Some(FExpr::CtxVar(k)),
            _ => None,
        },
        Expr::Filter(f) => {
            let inner = Box::new(expr(f.expr.as_ref()?, locals)?);
            Some(FExpr::Filter(inner, filter(f.name, &f.args)?))
        }
        _ => None,
    }
}

fn filter(name: &str, args: &[CallArg<'_>]) -> Option<FFilter> {
    let pos: Vec<&Expr<'_>> = args
        .iter()
        .map(|a| match a {
            CallArg::Pos(e) => Some(e),
            _ => None,
        })
        .collect::<Option<_>>()
        .unwrap_or_default();
    let all_pos = pos.len() == args.len();
    Some(match (name, args) {
        ("upper", []) => FFilter::Upper,
        ("lower", []) => FFilter::Lower,
        ("length" | "count", []) => FFilter::Length,
        ("first", []) => FFilter::First,
        ("last", []) => FFilter::Last,
        ("list", []) => FFilter::List,
        ("join", []) => FFilter::Join(String::new()),
        ("join", [CallArg::Pos(s)]) => FFilter::Join(const_str(s)?),
        ("map", [CallArg::Kwarg("attribute", a)]) => FFilter::MapAttr(const_str(a)?),
        ("map", [CallArg::Pos(f)]) => match const_str(f)?.as_str() {
            "upper" => FFilter::MapCase(true),
            "lower" => FFilter::MapCase(false),
            _ => return None,
        },
        ("selectattr" | "rejectattr", _) if all_pos => {
            let reject = name == "rejectattr";
            let attr = const_str(pos.first()?)?;
            if attr.contains('.') {
                return None;
            }
            match pos.len() {
                1 => FFilter::SelectAttr {
                    attr,
                    eq: None,
                    reject,
                },
                3 => match const_str(pos[1])?.as_str() {
                    "equalto" | "eq" | "==" => FFilter::SelectAttr {
                        attr,
                        eq: Some(const_json(pos[2])?),
                        reject,
                    },
                    _ => return None,
                },
                _ => return None,
            }
        }
        _ => return None,
    })
}

fn nodes(stmts: &[Stmt<'_>], locals: &mut Vec<String>) -> Option<Vec<FNode>> {
    let mut out = Vec::new();
    for s in stmts {
        out.push(match s {
            Stmt::EmitRaw(r) => FNode::Raw(r.raw.to_string()),
            Stmt::EmitExpr(e) => FNode::Emit(expr(&e.expr, locals)?),
            Stmt::ForLoop(f) => {
                if f.filter_expr.is_some() || f.recursive || !f.else_body.is_empty() {
                    return None;
                }
                let var = match &f.target {
                    Expr::Var(v) if v.id != "loop" => v.id.to_string(),
                    _ => return None,
                };
                let iter = expr(&f.iter, locals)?;
                locals.push(var);
                let body = nodes(&f.body, locals);
                locals.pop();
                FNode::For { iter, body: body? }
            }
            _ => return None,
        });
    }
    Some(out)
}

/// A fast program for an expression, if it is in the supported subset.
pub fn from_expr(e: &Expr<'_>) -> Option<Fast> {
    expr(e, &[]).map(Fast::Expr)
}

/// A fast program for a template, if it is in the supported subset.
pub fn from_template(s: &Stmt<'_>) -> Option<Fast> {
    match s {
        Stmt::Template(t) => nodes(&t.children, &mut Vec::new()).map(Fast::Template),
        _ => None,
    }
}

// ------------------------------------------------------------------ evaluation

/// A value during fast evaluation: borrowed from the context where possible.
#[derive(Clone)]
enum Val<'a> {
    R(&'a Json),
    O(Json),
    L(Vec<Val<'a>>),
}

impl<'a> Val<'a> {
    fn json(&self) -> Option<&Json> {
        match self {
            Val::R(j) => Some(j),
            Val::O(j) => Some(j),
            Val::L(_) => None,
        }
    }
    fn into_json(self) -> Json {
        match self {
            Val::R(j) => j.clone(),
            Val::O(j) => j,
            Val::L(items) => Json::Array(items.into_iter().map(Val::into_json).collect()),
        }
    }
    fn into_items(self) -> Option<Vec<Val<'a>>> {
        match self {
            Val::R(Json::Array(a)) => Some(a.iter().map(Val::R).collect()),
            Val::O(Json::Array(a)) => Some(a.into_iter().map(Val::O).collect()),
            Val::L(l) => Some(l),
            _ => None,
        }
    }
    fn attr(self, name: &str) -> Option<Val<'a>> {
        match self {
            Val::R(Json::Object(m)) => get(m, name).map(Val::R),
            Val::O(Json::Object(mut m)) => m.swap_remove(name).map(Val::O),
            _ => None,
        }
    }
}

/// Small maps (the usual record) are faster to scan than to hash.
fn get<'a>(m: &'a serde_json::Map<String, Json>, name: &str) -> Option<&'a Json> {
    if m.len() <= 8 {
        m.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        m.get(name)
    }
}

struct Scope<'a> {
    vars: &'a serde_json::Map<String, Json>,
    locals: Vec<Val<'a>>,
}

/// Python `==` on JSON scalars (int/float/bool compare by value).
fn py_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Json::Bool(x), Json::Number(n)) | (Json::Number(n), Json::Bool(x)) => {
            n.as_f64() == Some(*x as i64 as f64)
        }
        _ => a == b,
    }
}

/// Borrowed evaluation of plain paths (no filters, nothing built): the common emit.
fn eval_ref<'a>(e: &'a FExpr, s: &Scope<'a>) -> Option<&'a Json> {
    match e {
        FExpr::CtxVar(k) => s.vars.get(k),
        FExpr::Local(i) => match s.locals.get(*i)? {
            Val::R(j) => Some(*j),
            _ => None,
        },
        FExpr::Const(c) => Some(c),
        FExpr::Attr(inner, name) => match eval_ref(inner, s)? {
            Json::Object(m) => get(m, name),
            _ => None,
        },
        FExpr::Index(inner, i) => match eval_ref(inner, s)? {
            Json::Array(a) => {
                let n = a.len() as i64;
                let j = if *i < 0 { n + i } else { *i };
                if (0..n).contains(&j) {
                    a.get(j as usize)
                } else {
                    None
                }
            }
            _ => None,
        },
        FExpr::Filter(..) => None,
    }
}

fn eval<'a>(e: &'a FExpr, s: &Scope<'a>) -> Option<Val<'a>> {
    if let Some(j) = eval_ref(e, s) {
        return Some(Val::R(j));
    }
    match e {
        FExpr::CtxVar(k) => s.vars.get(k).map(Val::R),
        FExpr::Local(i) => match s.locals.get(*i)? {
            Val::R(j) => Some(Val::R(j)),
            other => Some(other.clone()),
        },
        FExpr::Const(c) => Some(Val::R(c)),
        FExpr::Attr(inner, name) => eval(inner, s)?.attr(name),
        FExpr::Index(inner, i) => {
            let items = match eval(inner, s)? {
                Val::R(Json::Array(a)) => {
                    let n = a.len() as i64;
                    let j = if *i < 0 { n + i } else { *i };
                    return (0..n).contains(&j).then(|| Val::R(&a[j as usize]));
                }
                other => other.into_items()?,
            };
            let n = items.len() as i64;
            let j = if *i < 0 { n + i } else { *i };
            if !(0..n).contains(&j) {
                return None;
            }
            items.into_iter().nth(j as usize)
        }
        FExpr::Filter(inner, f) => apply(f, eval(inner, s)?),
    }
}

fn apply<'a>(f: &FFilter, v: Val<'a>) -> Option<Val<'a>> {
    Some(match f {
        FFilter::Upper => Val::O(Json::String(v.json()?.as_str()?.to_uppercase())),
        FFilter::Lower => Val::O(Json::String(v.json()?.as_str()?.to_lowercase())),
        FFilter::Length => Val::O(Json::from(match &v {
            Val::L(l) => l.len(),
            Val::R(j) => json_len(j)?,
            Val::O(j) => json_len(j)?,
        })),
        FFilter::First => v.into_items()?.into_iter().next()?,
        FFilter::Last => v.into_items()?.into_iter().last()?,
        FFilter::List => Val::L(v.into_items()?),
        FFilter::Join(sep) => {
            let mut out = String::new();
            for (i, x) in v.into_items()?.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                write_val(&mut out, &x);
            }
            Val::O(Json::String(out))
        }
        FFilter::MapAttr(attr) => Val::L(
            v.into_items()?
                .into_iter()
                .map(|x| x.attr(attr))
                .collect::<Option<_>>()?,
        ),
        FFilter::MapCase(upper) => Val::L(
            v.into_items()?
                .into_iter()
                .map(|x| {
                    let s = x.json()?.as_str()?;
                    Some(Val::O(Json::String(if *upper {
                        s.to_uppercase()
                    } else {
                        s.to_lowercase()
                    })))
                })
                .collect::<Option<_>>()?,
        ),
        FFilter::SelectAttr { attr, eq, reject } => {
            let mut out = Vec::new();
            for x in v.into_items()? {
                let hit = {
                    let a = match x.json()? {
                        Json::Object(m) => get(m, attr)?,
                        _ => return None,
                    };
                    match eq {
                        None => python::truthy(a),
                        Some(c) => py_eq(a, c),
                    }
                };
                if hit != *reject {
                    out.push(x);
                }
            }
            Val::L(out)
        }
    })
}

fn json_len(j: &Json) -> Option<usize> {
    Some(match j {
        Json::Array(a) => a.len(),
        Json::Object(m) => m.len(),
        Json::String(s) => s.chars().count(),
        _ => return None,
    })
}

fn write_json(out: &mut String, v: &Json) {
    match v {
        Json::String(s) => out.push_str(s),
        Json::Number(n) if !n.is_f64() => match n.as_i64() {
            Some(i) => push_int(out, i),
            None => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
        },
        other => python::write_repr(out, other),
    }
}

fn push_int(out: &mut String, i: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    for &d in &buf[pos..] {
        out.push(d as char);
    }
}

/// Python `str()` of a value, appended.
fn write_val(out: &mut String, v: &Val<'_>) {
    match v {
        Val::R(j) => write_json(out, j),
        Val::O(j) => write_json(out, j),
        Val::L(_) => python::write_repr(out, &v.clone().into_json()),
    }
}

fn run_nodes<'a>(ns: &'a [FNode], s: &mut Scope<'a>, out: &mut String) -> Option<()> {
    for n in ns {
        match n {
            FNode::Raw(r) => out.push_str(r),
            FNode::Emit(e) => match eval_ref(e, s) {
                Some(j) => write_json(out, j),
                None => {
                    let v = eval(e, s)?;
                    write_val(out, &v);
                }
            },
            FNode::For { iter, body } => {
                for item in eval(iter, s)?.into_items()? {
                    s.locals.push(item);
                    let r = run_nodes(body, s, out);
                    s.locals.pop();
                    r?;
                }
            }
        }
    }
    Some(())
}

/// The value of a fast expression, or `None` to use the full engine.
pub fn eval_expr(f: &Fast, ctx: &Json) -> Option<Json> {
    let (Fast::Expr(e), Json::Object(vars)) = (f, ctx) else {
        return None;
    };
    let s = Scope {
        vars,
        locals: Vec::new(),
    };
    eval(e, &s).map(Val::into_json)
}

/// The rendered text of a fast template, or `None` to use the full engine.
pub fn render(f: &Fast, ctx: &Json, size_hint: usize) -> Option<String> {
    let (Fast::Template(ns), Json::Object(vars)) = (f, ctx) else {
        return None;
    };
    let mut s = Scope {
        vars,
        locals: Vec::with_capacity(4),
    };
    let mut out = String::with_capacity(size_hint.max(64));
    run_nodes(ns, &mut s, &mut out)?;
    Some(out)
}

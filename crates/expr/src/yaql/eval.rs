//! The tree-walking evaluator: scopes, operators, attribute access, indexing and the call
//! protocol the standard library is written against.

use std::cell::Cell;
use std::rc::Rc;

use indexmap::IndexSet;
use serde_json::Value as J;

use super::ast::{Arg, BinOp, Expr, Kind, Lit, UnOp};
use super::value::{py_cmp, py_eq, Dict, Key, OwnedDict, Scope, Str, Value};
use super::YaqlError;
use super::{datetime, stdlib};
use crate::ContextProvider;

/// Deepest nesting of evaluation (sub-expressions, lambda and `def` calls).
const MAX_EVAL_DEPTH: u32 = 120;
/// Largest string or list a single operation may build.
pub const MAX_SIZE: usize = 4_000_000;

pub type R<'a> = Result<Value<'a>, YaqlError>;

#[cfg(test)]
thread_local! {
    /// (first address seen, lowest address seen, deepest level): stack use per level in tests.
    pub static STACK_PROBE: Cell<(usize, usize, u32)> = const { Cell::new((0, usize::MAX, 0)) };
}

pub struct Ev<'a> {
    pub data: &'a J,
    pub provider: &'a dyn ContextProvider,
    steps: Cell<u64>,
    budget: u64,
    depth: Cell<u32>,
}

/// A lambda argument: an expression evaluated later with `$1..$n` bound, in a child of the
/// scope it was written in.
#[derive(Clone)]
pub enum Lam<'a> {
    Expr(&'a Expr, Rc<Scope<'a>>),
    Const(Value<'a>),
}

impl<'a> Ev<'a> {
    pub fn new(data: &'a J, provider: &'a dyn ContextProvider, budget: u64) -> Self {
        Ev {
            data,
            provider,
            steps: Cell::new(0),
            budget,
            depth: Cell::new(0),
        }
    }

    pub fn run(&self, e: &'a Expr) -> R<'a> {
        let root = Rc::new(Scope::default());
        self.eval(e, &root)
    }

    /// Charge `n` steps against the budget.
    pub fn tick(&self, n: u64) -> Result<(), YaqlError> {
        let s = self.steps.get() + n;
        self.steps.set(s);
        if s > self.budget {
            return Err(YaqlError::budget(format!(
                "evaluation exceeded its budget of {} steps",
                self.budget
            )));
        }
        Ok(())
    }

    pub fn check_size(&self, n: usize) -> Result<(), YaqlError> {
        if n > MAX_SIZE {
            return Err(YaqlError::budget(format!(
                "a result of {n} elements exceeds the limit of {MAX_SIZE}"
            )));
        }
        self.tick((n / 64) as u64)
    }

    pub fn eval(&self, e: &'a Expr, sc: &Rc<Scope<'a>>) -> R<'a> {
        self.tick(1)?;
        let d = self.depth.get() + 1;
        if d > MAX_EVAL_DEPTH {
            return Err(YaqlError::budget(format!(
                "evaluation nested deeper than {MAX_EVAL_DEPTH} levels (runaway recursion?)"
            )));
        }
        self.depth.set(d);
        #[cfg(test)]
        {
            let marker = 0u8;
            let addr = &marker as *const u8 as usize;
            STACK_PROBE.with(|p| {
                let (top, low, maxd) = p.get();
                let top = if top == 0 { addr } else { top };
                p.set((top, low.min(addr), maxd.max(d)));
            });
        }
        let r = self.eval_inner(e, sc);
        self.depth.set(d - 1);
        r
    }

    fn eval_inner(&self, e: &'a Expr, sc: &Rc<Scope<'a>>) -> R<'a> {
        match &e.kind {
            Kind::Lit(l) => Ok(lit(l)),
            Kind::Keyword(k) => Ok(Value::Str(Str::B(k))),
            Kind::Var(name) => Ok(sc.lookup(name).unwrap_or(Value::Null)),
            Kind::PosVar(n) => Ok(sc.lookup_pos(*n).unwrap_or(Value::Null)),
            Kind::Paren(inner) => self.eval(inner, sc),
            Kind::Call(name, args) => self.call(name, None, args, sc, e.pos),
            Kind::Method {
                recv,
                name,
                args,
                elvis,
            } => {
                let r = self.eval(recv, sc)?;
                if *elvis && matches!(r, Value::Null) {
                    return Ok(Value::Null);
                }
                self.call(name, Some(r), args, sc, e.pos)
            }
            Kind::Attr { recv, name, elvis } => {
                let r = self.eval(recv, sc)?;
                if *elvis && matches!(r, Value::Null) {
                    return Ok(Value::Null);
                }
                self.attr(&r, name, e.pos)
            }
            Kind::BadDot(recv, elvis) => {
                let r = self.eval(recv, sc)?;
                if *elvis && matches!(r, Value::Null) {
                    return Ok(Value::Null);
                }
                Err(YaqlError::new(
                    "NoMatchingFunctionException",
                    "No function \"#operator_.\" matches supplied arguments: the right side of '.' must be a name or a method call".into(),
                    Some(e.pos),
                ))
            }
            Kind::Index(recv, args) => self.eval_index(e, recv, args, sc),
            Kind::List(args) => self.eval_list(e, args, sc),
            Kind::Map(args) => self.eval_map(e, args, sc),
            Kind::Unary(op, x) => self.eval_unary(e, *op, x, sc),
            Kind::Binary(op, l, r) => self.binary(*op, l, r, sc, e.pos),
            Kind::Arrow(l, r) => {
                let left = self.eval(l, sc)?;
                match left {
                    Value::Scope(s) => self.eval(r, &s),
                    _ => Err(YaqlError::new(
                        "NoMatchingFunctionException",
                        "No function \"#operator_->\" matches supplied arguments: the left side of '->' must be a context from let(), with(), def() or unpack()".into(),
                        Some(e.pos),
                    )),
                }
            }
        }
    }

    fn eval_index(
        &self,
        e: &'a Expr,
        recv: &'a Expr,
        args: &'a [Arg],
        sc: &Rc<Scope<'a>>,
    ) -> R<'a> {
        let r = self.eval(recv, sc)?;
        let mut keys = Vec::with_capacity(args.len());
        for a in args {
            match a {
                Arg::Pos(x) => keys.push(self.eval(x, sc)?),
                Arg::Named(..) => return Err(no_match("#indexer", e.pos)),
            }
        }
        self.index(&r, &keys, e.pos)
    }

    fn eval_list(&self, e: &'a Expr, args: &'a [Arg], sc: &Rc<Scope<'a>>) -> R<'a> {
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            match a {
                Arg::Pos(x) => out.push(self.eval(x, sc)?),
                Arg::Named(..) => return Err(no_match("#list", e.pos)),
            }
        }
        Ok(Value::list(out))
    }

    fn eval_map(&self, e: &'a Expr, args: &'a [Arg], sc: &Rc<Scope<'a>>) -> R<'a> {
        let mut out = OwnedDict::with_capacity(args.len());
        for a in args {
            match a {
                Arg::Named(k, v) => {
                    let k = self.eval(k, sc)?;
                    let v = self.eval(v, sc)?;
                    out.insert(Key(k), v);
                }
                Arg::Pos(_) => return Err(no_match("#map", e.pos)),
            }
        }
        Ok(Value::dict(out))
    }

    fn eval_unary(&self, e: &'a Expr, op: UnOp, x: &'a Expr, sc: &Rc<Scope<'a>>) -> R<'a> {
        let v = self.eval(x, sc)?;
        match op {
            UnOp::Not => Ok(Value::Bool(!v.truthy())),
            UnOp::Plus | UnOp::Neg if matches!(v, Value::TimeSpan(_)) => {
                datetime::unary(op, &v, e.pos).unwrap_or_else(|| Err(no_match("#unary", e.pos)))
            }
            UnOp::Plus => match v {
                Value::Int(_) | Value::Float(_) => Ok(v),
                _ => Err(no_match("#unary_operator_+", e.pos)),
            },
            UnOp::Neg => match v {
                Value::Int(i) => i
                    .checked_neg()
                    .map(Value::Int)
                    .ok_or_else(|| overflow(e.pos)),
                Value::Float(f) => Ok(Value::Float(-f)),
                _ => Err(no_match("#unary_operator_-", e.pos)),
            },
        }
    }

    fn binary(&self, op: BinOp, l: &'a Expr, r: &'a Expr, sc: &Rc<Scope<'a>>, pos: usize) -> R<'a> {
        match op {
            BinOp::And => {
                let a = self.eval(l, sc)?;
                if !a.truthy() {
                    return Ok(a);
                }
                return self.eval(r, sc);
            }
            BinOp::Or => {
                let a = self.eval(l, sc)?;
                if a.truthy() {
                    return Ok(a);
                }
                return self.eval(r, sc);
            }
            _ => {}
        }
        let a = self.eval(l, sc)?;
        let b = self.eval(r, sc)?;
        self.binop(op, a, b, pos)
    }

    pub fn binop(&self, op: BinOp, a: Value<'a>, b: Value<'a>, pos: usize) -> R<'a> {
        let name = || format!("#operator_{}", op.symbol());
        if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div) {
            if let Some(r) = datetime::binop(op, &a, &b, pos) {
                return r;
            }
        }
        match op {
            BinOp::Eq => Ok(Value::Bool(py_eq(&a, &b))),
            BinOp::Ne => Ok(Value::Bool(!py_eq(&a, &b))),
            BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
                if let (Value::Set(x), Value::Set(y)) = (&a, &b) {
                    let sub = |p: &IndexSet<Key<'a>>, q: &IndexSet<Key<'a>>| {
                        p.iter().all(|k| q.contains(k))
                    };
                    return Ok(Value::Bool(match op {
                        BinOp::Lt => x.len() < y.len() && sub(x, y),
                        BinOp::Le => sub(x, y),
                        BinOp::Gt => x.len() > y.len() && sub(y, x),
                        _ => sub(y, x),
                    }));
                }
                let o = py_cmp(&a, &b).ok_or_else(|| no_match_types(&name(), &[&a, &b], pos))?;
                Ok(Value::Bool(match op {
                    BinOp::Lt => o.is_lt(),
                    BinOp::Gt => o.is_gt(),
                    BinOp::Le => o.is_le(),
                    _ => o.is_ge(),
                }))
            }
            BinOp::In => {
                if let (Value::Str(x), Value::Str(y)) = (&a, &b) {
                    return Ok(Value::Bool(y.contains(&**x)));
                }
                if !b.is_iterable() {
                    return Err(no_match_types(&name(), &[&a, &b], pos));
                }
                if let Value::Set(s) = &b {
                    return Ok(Value::Bool(s.contains(&Key(a))));
                }
                for x in self.iterate(&b)? {
                    self.tick(1)?;
                    if py_eq(&a, &x) {
                        return Ok(Value::Bool(true));
                    }
                }
                Ok(Value::Bool(false))
            }
            BinOp::Add => match (&a, &b) {
                (Value::Int(x), Value::Int(y)) => x
                    .checked_add(*y)
                    .map(Value::Int)
                    .ok_or_else(|| overflow(pos)),
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    Ok(Value::Float(f(&a) + f(&b)))
                }
                (Value::Str(x), Value::Str(y)) => {
                    self.check_size(x.len() + y.len())?;
                    let mut s = String::with_capacity(x.len() + y.len());
                    s.push_str(x);
                    s.push_str(y);
                    Ok(Value::string(s))
                }
                (Value::Dict(x), Value::Dict(y)) => {
                    let mut d = x.to_owned_map();
                    for (k, v) in y.entries() {
                        d.insert(Key(k), v);
                    }
                    Ok(Value::dict(d))
                }
                (Value::Set(x), Value::Set(y)) => {
                    let mut s = (**x).clone();
                    s.extend(y.iter().cloned());
                    Ok(Value::set(s))
                }
                _ if a.is_iterable() && b.is_iterable() => {
                    let mut out = self.collect(&a)?;
                    out.extend(self.collect(&b)?);
                    self.check_size(out.len())?;
                    Ok(Value::list(out))
                }
                _ => Err(no_match_types(&name(), &[&a, &b], pos)),
            },
            BinOp::Sub => match (&a, &b) {
                (Value::Int(x), Value::Int(y)) => x
                    .checked_sub(*y)
                    .map(Value::Int)
                    .ok_or_else(|| overflow(pos)),
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    Ok(Value::Float(f(&a) - f(&b)))
                }
                (Value::Set(x), Value::Set(y)) => Ok(Value::set(
                    x.iter().filter(|k| !y.contains(*k)).cloned().collect(),
                )),
                _ => Err(no_match_types(&name(), &[&a, &b], pos)),
            },
            BinOp::Mul => match (&a, &b) {
                (Value::Int(x), Value::Int(y)) => x
                    .checked_mul(*y)
                    .map(Value::Int)
                    .ok_or_else(|| overflow(pos)),
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    Ok(Value::Float(f(&a) * f(&b)))
                }
                (Value::Str(s), Value::Int(n)) | (Value::Int(n), Value::Str(s)) => {
                    let n = usize::try_from((*n).max(0)).unwrap_or(usize::MAX);
                    self.check_size(s.len().saturating_mul(n))?;
                    Ok(Value::string(s.repeat(n)))
                }
                (Value::List(l), Value::Int(n)) | (Value::Int(n), Value::List(l)) => {
                    let n = usize::try_from((*n).max(0)).unwrap_or(usize::MAX);
                    self.check_size(l.len().saturating_mul(n))?;
                    let mut out = Vec::with_capacity(l.len() * n);
                    for _ in 0..n {
                        out.extend(l.iter().cloned());
                    }
                    Ok(Value::list(out))
                }
                _ => Err(no_match_types(&name(), &[&a, &b], pos)),
            },
            BinOp::Div => match (&a, &b) {
                (Value::Int(x), Value::Int(y)) => {
                    if *y == 0 {
                        return Err(zero_div("integer division or modulo by zero", pos));
                    }
                    let q = x.checked_div(*y).ok_or_else(|| overflow(pos))?;
                    let q = if x % y != 0 && ((*x < 0) != (*y < 0)) {
                        q - 1
                    } else {
                        q
                    };
                    Ok(Value::Int(q))
                }
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    let d = f(&b);
                    if d == 0.0 {
                        return Err(zero_div("float division by zero", pos));
                    }
                    Ok(Value::Float(f(&a) / d))
                }
                _ => Err(no_match_types(&name(), &[&a, &b], pos)),
            },
            BinOp::Mod => match (&a, &b) {
                (Value::Int(x), Value::Int(y)) => {
                    if *y == 0 {
                        return Err(zero_div("integer division or modulo by zero", pos));
                    }
                    let r = x.checked_rem(*y).ok_or_else(|| overflow(pos))?;
                    let r = if r != 0 && ((r < 0) != (*y < 0)) {
                        r + y
                    } else {
                        r
                    };
                    Ok(Value::Int(r))
                }
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    let (x, y) = (f(&a), f(&b));
                    if y == 0.0 {
                        return Err(zero_div("float modulo", pos));
                    }
                    let mut r = x % y;
                    if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
                        r += y;
                    }
                    Ok(Value::Float(r))
                }
                _ => Err(no_match_types(&name(), &[&a, &b], pos)),
            },
            BinOp::Match | BinOp::NotMatch => {
                let s = a
                    .as_str()
                    .ok_or_else(|| no_match_types(&name(), &[&a, &b], pos))?;
                let found = match &b {
                    Value::Regex(r) => r.is_match(s, pos)?,
                    Value::Str(p) => {
                        stdlib::compile_regex(p, false, false, false, pos)?.is_match(s, pos)?
                    }
                    _ => return Err(no_match_types(&name(), &[&a, &b], pos)),
                };
                Ok(Value::Bool(if op == BinOp::Match { found } else { !found }))
            }
            BinOp::And | BinOp::Or => unreachable!("short-circuit operators are handled first"),
        }
    }

    /// `recv.name`: a dict key, or the attribute of every item of a collection.
    pub fn attr(&self, recv: &Value<'a>, name: &str, pos: usize) -> R<'a> {
        match recv {
            Value::Dict(d) => d.get_str(name).ok_or_else(|| key_error(name, pos)),
            Value::DateTime(_) | Value::TimeSpan(_) => {
                datetime::property(recv, name, pos).unwrap_or_else(|| Err(key_error(name, pos)))
            }
            v if v.is_iterable() => {
                let mut out = Vec::new();
                for x in self.iterate(v)? {
                    self.tick(1)?;
                    out.push(self.attr(&x, name, pos)?);
                }
                Ok(Value::list(out))
            }
            other => Err(YaqlError::new(
                "NoFunctionRegisteredException",
                format!(
                    "Unknown function \"#property#{name}\": a {} has no attribute '{name}'",
                    other.type_name()
                ),
                Some(pos),
            )),
        }
    }

    pub fn index(&self, recv: &Value<'a>, keys: &[Value<'a>], pos: usize) -> R<'a> {
        match (recv, keys) {
            (Value::Dict(d), [k]) => d.get(k).ok_or_else(|| {
                key_error(&super::value::py_repr(k, false), pos)
            }),
            (Value::Dict(d), [k, default]) => Ok(d.get(k).unwrap_or_else(|| default.clone())),
            (Value::List(l), [Value::Int(i)]) => {
                let n = l.len() as i128;
                let idx = if *i < 0 { i + n } else { *i };
                if idx < 0 || idx >= n {
                    return Err(YaqlError::new(
                        "IndexError",
                        format!("tuple index {i} out of range (length {n})"),
                        Some(pos),
                    ));
                }
                Ok(l[idx as usize].clone())
            }
            _ => Err(YaqlError::new(
                "NoMatchingFunctionException",
                format!(
                    "No function \"#indexer\" matches supplied arguments: cannot index a {} with {}",
                    recv.type_name(),
                    keys.iter().map(|k| k.type_name()).collect::<Vec<_>>().join(", ")
                ),
                Some(pos),
            )),
        }
    }

    /// An iterator over a collection (lists, sets, ordered results, infinite generators).
    pub fn iterate(&self, v: &Value<'a>) -> Result<super::value::It<'a>, YaqlError> {
        v.iter().ok_or_else(|| {
            YaqlError::new(
                "NoMatchingFunctionException",
                format!("a {} is not iterable", v.type_name()),
                None,
            )
        })
    }

    /// All items of a finite collection.
    pub fn collect(&self, v: &Value<'a>) -> Result<Vec<Value<'a>>, YaqlError> {
        match v {
            Value::List(l) => Ok((**l).clone()),
            Value::Ordered(o) => Ok((*o.sorted).clone()),
            Value::Gen(_) => Err(YaqlError::budget(
                "the operation needs every item of an infinite sequence; limit it with take() first".into(),
            )),
            _ => {
                let it = self.iterate(v)?;
                let out: Vec<Value<'a>> = it.collect();
                self.tick(out.len() as u64)?;
                Ok(out)
            }
        }
    }

    /// Call a lambda argument with positional arguments `$1..$n`.
    pub fn apply(&self, lam: &Lam<'a>, args: &[Value<'a>]) -> R<'a> {
        match lam {
            Lam::Const(v) => Ok(v.clone()),
            Lam::Expr(e, sc) => {
                let mut child = Scope::child(sc);
                child.pos.extend_from_slice(args);
                self.eval(e, &Rc::new(child))
            }
        }
    }

    fn call(
        &self,
        name: &'a str,
        recv: Option<Value<'a>>,
        args: &'a [Arg],
        sc: &Rc<Scope<'a>>,
        pos: usize,
    ) -> R<'a> {
        if recv.is_none() {
            if let Some((body, defined_in)) = sc.find_func(name) {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    match a {
                        Arg::Pos(x) => vals.push(self.eval(x, sc)?),
                        Arg::Named(..) => {}
                    }
                }
                let mut child = Scope::child(&defined_in);
                child.pos = vals;
                return self.eval(body, &Rc::new(child));
            }
        }
        let is_method = recv.is_some();
        let mut slots = Vec::with_capacity(args.len() + 1);
        if let Some(r) = recv {
            slots.push(Slot::Val(r));
        }
        let mut named = Vec::new();
        for a in args {
            match a {
                Arg::Pos(x) => slots.push(Slot::Lazy(x)),
                Arg::Named(k, v) => named.push((k, v)),
            }
        }
        let c = Call {
            ev: self,
            sc,
            name,
            is_method,
            slots,
            named,
            pos,
        };
        stdlib::dispatch(&c)
    }
}

pub enum Slot<'a> {
    Val(Value<'a>),
    Lazy(&'a Expr),
}

/// One call of a standard-library function: the receiver (for method calls) is slot 0.
pub struct Call<'a, 'e> {
    pub ev: &'e Ev<'a>,
    pub sc: &'e Rc<Scope<'a>>,
    pub name: &'e str,
    pub is_method: bool,
    pub slots: Vec<Slot<'a>>,
    pub named: Vec<(&'a Expr, &'a Expr)>,
    pub pos: usize,
}

impl<'a> Call<'a, '_> {
    pub fn n(&self) -> usize {
        self.slots.len()
    }

    pub fn val(&self, i: usize) -> R<'a> {
        match self.slots.get(i) {
            Some(Slot::Val(v)) => Ok(v.clone()),
            Some(Slot::Lazy(e)) => self.ev.eval(e, self.sc),
            None => Err(self.nomatch()),
        }
    }

    pub fn vals(&self) -> Result<Vec<Value<'a>>, YaqlError> {
        (0..self.n()).map(|i| self.val(i)).collect()
    }

    pub fn lam(&self, i: usize) -> Result<Lam<'a>, YaqlError> {
        match self.slots.get(i) {
            Some(Slot::Val(v)) => Ok(Lam::Const(v.clone())),
            Some(Slot::Lazy(e)) => Ok(Lam::Expr(e, self.sc.clone())),
            None => Err(self.nomatch()),
        }
    }

    /// The expression behind positional slot `i`, if it was written in the call.
    pub fn expr(&self, i: usize) -> Option<&'a Expr> {
        match self.slots.get(i) {
            Some(Slot::Lazy(e)) => Some(e),
            _ => None,
        }
    }

    /// Named argument by keyword (`name => value`), evaluated.
    pub fn kw(&self, name: &str) -> Result<Option<Value<'a>>, YaqlError> {
        for (k, v) in &self.named {
            if keyword_of(k).as_deref() == Some(name) {
                return Ok(Some(self.ev.eval(v, self.sc)?));
            }
        }
        Ok(None)
    }

    /// Reject named arguments other than `allowed`.
    pub fn only_kw(&self, allowed: &[&str]) -> Result<(), YaqlError> {
        for (k, _) in &self.named {
            match keyword_of(k) {
                Some(n) if allowed.contains(&n.as_str()) => {}
                _ => return Err(self.nomatch()),
            }
        }
        Ok(())
    }

    pub fn nomatch(&self) -> YaqlError {
        let (class, what) = if self.is_method {
            ("NoMatchingMethodException", "method")
        } else {
            ("NoMatchingFunctionException", "function")
        };
        YaqlError::new(
            class,
            format!("No {what} \"{}\" matches supplied arguments", self.name),
            Some(self.pos),
        )
    }

    pub fn nomatch_types(&self, vals: &[&Value]) -> YaqlError {
        let mut e = self.nomatch();
        e.msg.push_str(&format!(
            " ({})",
            vals.iter()
                .map(|v| v.type_name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        e
    }

    pub fn arity(&self, min: usize, max: usize) -> Result<(), YaqlError> {
        if self.n() < min || self.n() > max {
            return Err(self.nomatch());
        }
        Ok(())
    }
}

/// The name of a `name => value` key written as a bare word or a string.
pub fn keyword_of(e: &Expr) -> Option<String> {
    match &e.kind {
        Kind::Keyword(k) => Some(k.to_string()),
        Kind::Lit(Lit::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn lit<'a>(l: &'a Lit) -> Value<'a> {
    match l {
        Lit::Null => Value::Null,
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Int(i) => Value::Int(*i),
        Lit::Float(x) => Value::Float(*x),
        Lit::Str(s) => Value::Str(Str::B(s)),
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

pub fn no_match(name: &str, pos: usize) -> YaqlError {
    YaqlError::new(
        "NoMatchingFunctionException",
        format!("No function \"{name}\" matches supplied arguments"),
        Some(pos),
    )
}

pub fn no_match_types(name: &str, vals: &[&Value], pos: usize) -> YaqlError {
    YaqlError::new(
        "NoMatchingFunctionException",
        format!(
            "No function \"{name}\" matches supplied arguments ({})",
            vals.iter()
                .map(|v| v.type_name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(pos),
    )
}

pub fn key_error(key: &str, pos: usize) -> YaqlError {
    YaqlError::new("KeyError", format!("'{key}'"), Some(pos))
}

fn overflow(pos: usize) -> YaqlError {
    YaqlError::new(
        "OverflowError",
        "integer result does not fit in 128 bits".into(),
        Some(pos),
    )
}

fn zero_div(msg: &str, pos: usize) -> YaqlError {
    YaqlError::new("ZeroDivisionError", msg.into(), Some(pos))
}

/// Dict helper for the standard library.
pub fn dict_of<'a>(pairs: Vec<(Value<'a>, Value<'a>)>) -> Value<'a> {
    let mut d = OwnedDict::with_capacity(pairs.len());
    for (k, v) in pairs {
        d.insert(Key(k), v);
    }
    Value::Dict(Dict::O(Rc::new(d)))
}

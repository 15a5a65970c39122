//! Runtime values. Context data is borrowed from the caller's `serde_json::Value` (strings and
//! objects are never copied); values built by expressions are reference counted, so passing
//! them around is cheap. Semantics follow Python as yaql sees it: `1 = 1.0 = true`, lists are
//! tuples, dicts keep insertion order, sets hold distinct hashable values.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value as J};

use super::ast::Expr;
use super::YaqlError;

#[derive(Clone, Debug)]
pub enum Str<'a> {
    B(&'a str),
    O(Rc<str>),
}

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::B(s) => s,
            Str::O(s) => s,
        }
    }
}

pub type OwnedDict<'a> = IndexMap<Key<'a>, Value<'a>>;

#[derive(Clone, Debug)]
pub enum Dict<'a> {
    /// A JSON object from the context; `true` hides `__` keys (what orquesta's `ctx()` shows).
    J(&'a Map<String, J>, bool),
    O(Rc<OwnedDict<'a>>),
}

pub use super::pyre::RegexVal;

/// A variable scope: `let`, `def` and each lambda call push one.
#[derive(Debug, Default)]
pub struct Scope<'a> {
    pub parent: Option<Rc<Scope<'a>>>,
    /// `$1`, `$2`, ... (`$` is `$1`).
    pub pos: Vec<Value<'a>>,
    pub vars: Vec<(Rc<str>, Value<'a>)>,
    pub funcs: Vec<(Rc<str>, &'a Expr)>,
}

impl<'a> Scope<'a> {
    pub fn child(parent: &Rc<Scope<'a>>) -> Scope<'a> {
        Scope {
            parent: Some(parent.clone()),
            pos: Vec::new(),
            vars: Vec::new(),
            funcs: Vec::new(),
        }
    }

    pub fn lookup(self: &Rc<Self>, name: &str) -> Option<Value<'a>> {
        let mut s: &Scope<'a> = self;
        loop {
            if let Some((_, v)) = s.vars.iter().rev().find(|(n, _)| &**n == name) {
                return Some(v.clone());
            }
            match &s.parent {
                Some(p) => s = p,
                None => return None,
            }
        }
    }

    pub fn lookup_pos(self: &Rc<Self>, n: usize) -> Option<Value<'a>> {
        let mut s: &Scope<'a> = self;
        loop {
            if let Some(v) = s.pos.get(n.wrapping_sub(1)) {
                return Some(v.clone());
            }
            match &s.parent {
                Some(p) => s = p,
                None => return None,
            }
        }
    }

    /// A `def`-ined function and the scope it was found in (its body runs in a child of it).
    pub fn find_func(self: &Rc<Self>, name: &str) -> Option<(&'a Expr, Rc<Scope<'a>>)> {
        let mut s: Rc<Scope<'a>> = self.clone();
        loop {
            if let Some((_, e)) = s.funcs.iter().rev().find(|(n, _)| &**n == name) {
                return Some((*e, s));
            }
            let p = s.parent.clone()?;
            s = p;
        }
    }
}

/// Infinite generators (`sequence()`, `cycle()`, `repeat()` without a count).
#[derive(Debug)]
pub enum Gen<'a> {
    Count(i128, i128),
    Cycle(Rc<Vec<Value<'a>>>),
    Repeat(Value<'a>),
}

/// The result of `orderBy`: keeps the source and the key columns so `thenBy` can add one.
#[derive(Debug)]
pub struct Ordered<'a> {
    pub source: Vec<Value<'a>>,
    /// One column per ordering field: the key of each source item, and ascending or not.
    pub keys: Vec<(Vec<Value<'a>>, bool)>,
    pub sorted: Rc<Vec<Value<'a>>>,
}

#[derive(Clone, Debug)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Str<'a>),
    List(Rc<Vec<Value<'a>>>),
    Dict(Dict<'a>),
    Set(Rc<IndexSet<Key<'a>>>),
    Regex(Rc<RegexVal>),
    Scope(Rc<Scope<'a>>),
    Gen(Rc<Gen<'a>>),
    Ordered(Rc<Ordered<'a>>),
    /// yaql's `datetime` (always with a UTC offset).
    DateTime(super::datetime::Dt),
    /// yaql's `timespan` (Python `timedelta`), in microseconds.
    TimeSpan(i128),
}

/// A value used as a dict key or set member: hashing and equality follow Python.
#[derive(Clone, Debug)]
pub struct Key<'a>(pub Value<'a>);

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        py_eq(&self.0, &other.0)
    }
}
impl Eq for Key<'_> {}
impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(py_hash(&self.0));
    }
}

impl<'a> Value<'a> {
    pub fn str(s: &str) -> Value<'a> {
        Value::Str(Str::O(Rc::from(s)))
    }
    pub fn string(s: String) -> Value<'a> {
        Value::Str(Str::O(Rc::from(s)))
    }
    pub fn list(v: Vec<Value<'a>>) -> Value<'a> {
        Value::List(Rc::new(v))
    }
    pub fn dict(d: OwnedDict<'a>) -> Value<'a> {
        Value::Dict(Dict::O(Rc::new(d)))
    }
    pub fn set(s: IndexSet<Key<'a>>) -> Value<'a> {
        Value::Set(Rc::new(s))
    }

    pub fn from_json(j: &'a J) -> Value<'a> {
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i as i128)
                } else if let Some(u) = n.as_u64() {
                    Value::Int(u as i128)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => Value::Str(Str::B(s)),
            J::Array(a) => Value::List(Rc::new(a.iter().map(Value::from_json).collect())),
            J::Object(m) => Value::Dict(Dict::J(m, false)),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) | Value::Ordered(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Regex(_) => "regex",
            Value::Scope(_) => "context",
            Value::Gen(_) => "iterator",
            Value::DateTime(_) => "datetime",
            Value::TimeSpan(_) => "timespan",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A Python `int` that is not a `bool` (yaql's `int` parameter type).
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// yaql's `Iterable`: anything iterable except strings and dicts.
    pub fn is_iterable(&self) -> bool {
        matches!(
            self,
            Value::List(_) | Value::Set(_) | Value::Gen(_) | Value::Ordered(_)
        )
    }

    pub fn is_dict(&self) -> bool {
        matches!(self, Value::Dict(_))
    }

    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Dict(d) => d.len() > 0,
            Value::Set(s) => !s.is_empty(),
            Value::TimeSpan(us) => *us != 0,
            _ => true,
        }
    }

    /// Iterate a finite or infinite iterable; `None` when the value is not iterable.
    pub fn iter(&self) -> Option<It<'a>> {
        let src = match self {
            Value::List(l) => ItSrc::List(l.clone()),
            Value::Ordered(o) => ItSrc::List(o.sorted.clone()),
            Value::Set(s) => ItSrc::Set(s.clone()),
            Value::Gen(g) => match &**g {
                Gen::Count(a, b) => ItSrc::Count(*a, *b),
                Gen::Cycle(l) => {
                    if l.is_empty() {
                        ItSrc::List(l.clone())
                    } else {
                        ItSrc::Cycle(l.clone())
                    }
                }
                Gen::Repeat(v) => ItSrc::Repeat(v.clone()),
            },
            _ => return None,
        };
        Some(It { src, idx: 0 })
    }
}

impl<'a> Dict<'a> {
    pub fn len(&self) -> usize {
        match self {
            Dict::J(m, false) => m.len(),
            Dict::J(m, true) => m.keys().filter(|k| !k.starts_with("__")).count(),
            Dict::O(d) => d.len(),
        }
    }

    pub fn get(&self, key: &Value<'a>) -> Option<Value<'a>> {
        match self {
            Dict::J(m, hide) => {
                let k = key.as_str()?;
                if *hide && k.starts_with("__") {
                    return None;
                }
                m.get(k).map(Value::from_json)
            }
            Dict::O(d) => d.get(&Key(key.clone())).cloned(),
        }
    }

    pub fn get_str(&self, key: &str) -> Option<Value<'a>> {
        match self {
            Dict::J(m, hide) => {
                if *hide && key.starts_with("__") {
                    return None;
                }
                m.get(key).map(Value::from_json)
            }
            Dict::O(d) => d.get(&Key(Value::str(key))).cloned(),
        }
    }

    pub fn entries(&self) -> Vec<(Value<'a>, Value<'a>)> {
        match self {
            Dict::J(m, hide) => m
                .iter()
                .filter(|(k, _)| !(*hide && k.starts_with("__")))
                .map(|(k, v)| (Value::Str(Str::B(k)), Value::from_json(v)))
                .collect(),
            Dict::O(d) => d.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect(),
        }
    }

    pub fn to_owned_map(&self) -> OwnedDict<'a> {
        match self {
            Dict::O(d) => (**d).clone(),
            _ => self
                .entries()
                .into_iter()
                .map(|(k, v)| (Key(k), v))
                .collect(),
        }
    }
}

pub enum ItSrc<'a> {
    List(Rc<Vec<Value<'a>>>),
    Set(Rc<IndexSet<Key<'a>>>),
    Count(i128, i128),
    Cycle(Rc<Vec<Value<'a>>>),
    Repeat(Value<'a>),
}

pub struct It<'a> {
    src: ItSrc<'a>,
    idx: usize,
}

impl<'a> It<'a> {
    pub fn is_infinite(&self) -> bool {
        matches!(
            self.src,
            ItSrc::Count(..) | ItSrc::Cycle(_) | ItSrc::Repeat(_)
        )
    }
    pub fn len_hint(&self) -> usize {
        match &self.src {
            ItSrc::List(l) => l.len(),
            ItSrc::Set(s) => s.len(),
            _ => 16,
        }
    }
}

impl<'a> Iterator for It<'a> {
    type Item = Value<'a>;
    fn next(&mut self) -> Option<Value<'a>> {
        let i = self.idx;
        self.idx += 1;
        match &self.src {
            ItSrc::List(l) => l.get(i).cloned(),
            ItSrc::Set(s) => s.get_index(i).map(|k| k.0.clone()),
            ItSrc::Count(a, b) => Some(Value::Int(a.saturating_add(b.saturating_mul(i as i128)))),
            ItSrc::Cycle(l) => l.get(i % l.len()).cloned(),
            ItSrc::Repeat(v) => Some(v.clone()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Python equality, hashing and ordering

fn num_eq(a: &Value, b: &Value) -> Option<bool> {
    let ai = match a {
        Value::Bool(x) => Some(*x as i128),
        Value::Int(x) => Some(*x),
        _ => None,
    };
    let bi = match b {
        Value::Bool(x) => Some(*x as i128),
        Value::Int(x) => Some(*x),
        _ => None,
    };
    match (a, b, ai, bi) {
        (_, _, Some(x), Some(y)) => Some(x == y),
        (Value::Float(x), Value::Float(y), _, _) => Some(x == y),
        (Value::Float(x), _, _, Some(y)) | (_, Value::Float(x), Some(y), _) => {
            Some(x.fract() == 0.0 && x.is_finite() && (*x as i128) == y && *x == y as f64)
        }
        _ => None,
    }
}

pub fn py_eq(a: &Value, b: &Value) -> bool {
    if let Some(r) = num_eq(a, b) {
        return r;
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Str(x), Value::Str(y)) => **x == **y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| py_eq(p, q))
        }
        (Value::Ordered(x), Value::Ordered(y)) => Rc::ptr_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => {
            if x.len() != y.len() {
                return false;
            }
            x.entries()
                .iter()
                .all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, &w)))
        }
        (Value::Set(x), Value::Set(y)) => x.len() == y.len() && x.iter().all(|k| y.contains(k)),
        (Value::Regex(x), Value::Regex(y)) => Rc::ptr_eq(x, y),
        (Value::Scope(x), Value::Scope(y)) => Rc::ptr_eq(x, y),
        (Value::Gen(x), Value::Gen(y)) => Rc::ptr_eq(x, y),
        (Value::DateTime(_), Value::DateTime(_)) | (Value::TimeSpan(_), Value::TimeSpan(_)) => {
            super::datetime::cmp(a, b).is_some_and(|o| o.is_eq())
        }
        _ => false,
    }
}

fn mix(h: u64) -> u64 {
    // splitmix64 finaliser: spreads bits so XOR-combined hashes stay usable.
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn py_hash(v: &Value) -> u64 {
    match v {
        Value::Null => mix(1),
        Value::Bool(b) => mix(*b as u64 ^ 0x55),
        Value::Int(i) => mix(*i as u64 ^ ((*i >> 64) as u64) ^ 0x55),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.is_finite() && f.abs() < 1e38 {
                let i = *f as i128;
                mix(i as u64 ^ ((i >> 64) as u64) ^ 0x55)
            } else {
                mix(f.to_bits())
            }
        }
        Value::Str(s) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            s.hash(&mut h);
            h.finish()
        }
        Value::List(l) => l
            .iter()
            .fold(mix(7), |acc, x| mix(acc.rotate_left(5) ^ py_hash(x))),
        Value::Ordered(o) => Rc::as_ptr(o) as usize as u64,
        Value::Dict(d) => d.entries().iter().fold(mix(11), |acc, (k, v)| {
            acc ^ mix(py_hash(k) ^ py_hash(v).rotate_left(17))
        }),
        Value::Set(s) => s.iter().fold(mix(13), |acc, k| acc ^ py_hash(&k.0)),
        Value::Regex(r) => Rc::as_ptr(r) as usize as u64,
        Value::Scope(s) => Rc::as_ptr(s) as usize as u64,
        Value::Gen(g) => Rc::as_ptr(g) as usize as u64,
        Value::DateTime(_) | Value::TimeSpan(_) => {
            let i = super::datetime::hash(v).unwrap_or(0);
            mix(i as u64 ^ ((i >> 64) as u64) ^ 0xd7)
        }
    }
}

/// yaql's `<` family: numbers with numbers, strings with strings, sets by inclusion, `null`
/// below everything. `None` means no operator overload matches.
pub fn py_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) => Some(Ordering::Less),
        (_, Value::Null) => Some(Ordering::Greater),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            let (x, y) = (a.as_f64()?, b.as_f64()?);
            x.partial_cmp(&y)
        }
        (Value::Str(x), Value::Str(y)) => Some((**x).cmp(&**y)),
        _ => super::datetime::cmp(a, b),
    }
}

// ---------------------------------------------------------------------------------------------
// Python str() / repr()

pub use gale_model::py::float_repr;

/// Python `repr()` of a string.
pub fn str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    gale_model::py::write_str_repr(&mut out, s);
    out
}

/// How Python would print a value: `out` = after orquesta's output conversion (lists, sets),
/// otherwise as yaql holds it internally (tuples, frozensets).
pub fn py_str(v: &Value, out: bool) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::DateTime(dt) => super::datetime::dt_str(dt),
        Value::TimeSpan(us) => super::datetime::span_str(*us),
        _ => py_repr(v, out),
    }
}

pub fn py_repr(v: &Value, out: bool) -> String {
    let mut s = String::new();
    write_repr(&mut s, v, out);
    s
}

fn write_repr(s: &mut String, v: &Value, out: bool) {
    match v {
        Value::Null => s.push_str("None"),
        Value::Bool(true) => s.push_str("True"),
        Value::Bool(false) => s.push_str("False"),
        Value::Int(i) => {
            let _ = write!(s, "{i}");
        }
        Value::Float(f) => s.push_str(&float_repr(*f)),
        Value::Str(x) => s.push_str(&str_repr(x)),
        Value::List(_) | Value::Ordered(_) => {
            let items: Vec<Value> = v.iter().map(|i| i.collect()).unwrap_or_default();
            s.push(if out { '[' } else { '(' });
            for (n, x) in items.iter().enumerate() {
                if n > 0 {
                    s.push_str(", ");
                }
                write_repr(s, x, out);
            }
            if !out && items.len() == 1 {
                s.push(',');
            }
            s.push(if out { ']' } else { ')' });
        }
        Value::Dict(d) => {
            s.push('{');
            for (n, (k, x)) in d.entries().iter().enumerate() {
                if n > 0 {
                    s.push_str(", ");
                }
                write_repr(s, k, out);
                s.push_str(": ");
                write_repr(s, x, out);
            }
            s.push('}');
        }
        Value::Set(set) => {
            if set.is_empty() {
                s.push_str(if out { "set()" } else { "frozenset()" });
                return;
            }
            if !out {
                s.push_str("frozenset(");
            }
            s.push('{');
            for (n, k) in set.iter().enumerate() {
                if n > 0 {
                    s.push_str(", ");
                }
                write_repr(s, &k.0, out);
            }
            s.push('}');
            if !out {
                s.push(')');
            }
        }
        Value::Regex(r) => {
            let _ = write!(s, "re.compile({})", str_repr(&r.pattern));
        }
        Value::Scope(_) => s.push_str("<yaql.language.contexts.Context object>"),
        Value::DateTime(dt) => s.push_str(&super::datetime::dt_repr(dt)),
        Value::TimeSpan(us) => s.push_str(&super::datetime::span_repr(*us)),
        Value::Gen(g) => match &**g {
            Gen::Count(a, b) => {
                if *b == 1 {
                    let _ = write!(s, "count({a})");
                } else {
                    let _ = write!(s, "count({a}, {b})");
                }
            }
            Gen::Cycle(_) => s.push_str("<itertools.cycle object>"),
            Gen::Repeat(x) => {
                s.push_str("repeat(");
                write_repr(s, x, out);
                s.push(')');
            }
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Conversion to JSON at the boundary

/// Convert a final result to JSON (orquesta's output conversion, then what JSON can hold).
pub fn to_json(v: &Value, top: bool) -> Result<J, YaqlError> {
    Ok(match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => int_to_json(*i)?,
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| {
                YaqlError::new(
                    "ValueError",
                    format!("non-finite float {}", float_repr(*f)),
                    None,
                )
            })?,
        Value::Str(s) => J::String(s.to_string()),
        // JSON has no date type: a datetime or timespan leaves as Python's str() of it.
        Value::DateTime(dt) => J::String(super::datetime::dt_str(dt)),
        Value::TimeSpan(us) => J::String(super::datetime::span_str(*us)),
        Value::List(_) | Value::Ordered(_) => {
            let mut out = Vec::new();
            for x in v.iter().into_iter().flatten() {
                out.push(to_json(&x, false)?);
            }
            J::Array(out)
        }
        Value::Dict(Dict::J(m, false)) => J::Object((*m).clone()),
        Value::Dict(d) => {
            let mut out = Map::new();
            for (k, x) in d.entries() {
                let key = match &k {
                    Value::Str(s) => s.to_string(),
                    other => {
                        return Err(YaqlError::new(
                            "TypeError",
                            format!(
                                "dict key {} is not a string, which JSON cannot hold",
                                py_repr(other, true)
                            ),
                            None,
                        ))
                    }
                };
                out.insert(key, to_json(&x, false)?);
            }
            J::Object(out)
        }
        Value::Set(s) => {
            if !top {
                return Err(YaqlError::new(
                    "TypeError",
                    "a set nested inside the result cannot be converted to JSON".into(),
                    None,
                ));
            }
            let mut out = Vec::new();
            for k in s.iter() {
                if matches!(k.0, Value::List(_) | Value::Dict(_) | Value::Set(_)) {
                    return Err(YaqlError::new(
                        "TypeError",
                        format!("unhashable type in set result: {}", k.0.type_name()),
                        None,
                    ));
                }
                out.push(to_json(&k.0, false)?);
            }
            J::Array(out)
        }
        Value::Gen(_) => {
            return Err(YaqlError::new(
                "TypeError",
                "the result is an infinite sequence; limit it with take() or limit()".into(),
                None,
            ))
        }
        other => {
            return Err(YaqlError::new(
                "TypeError",
                format!("a {} cannot be returned as a result", other.type_name()),
                None,
            ))
        }
    })
}

fn int_to_json(i: i128) -> Result<J, YaqlError> {
    if let Ok(x) = i64::try_from(i) {
        Ok(J::from(x))
    } else if let Ok(x) = u64::try_from(i) {
        Ok(J::from(x))
    } else {
        Err(YaqlError::new(
            "OverflowError",
            format!("integer {i} does not fit in a JSON number"),
            None,
        ))
    }
}

/// Check a final result the way orquesta's output conversion would (sets of lists fail), so
/// splicing reports the same errors as the typed path.
pub fn check_output(v: &Value) -> Result<(), YaqlError> {
    match v {
        Value::Set(s) => {
            for k in s.iter() {
                if matches!(k.0, Value::List(_) | Value::Dict(_) | Value::Set(_)) {
                    return Err(YaqlError::new(
                        "TypeError",
                        format!("unhashable type in set result: {}", k.0.type_name()),
                        None,
                    ));
                }
            }
            Ok(())
        }
        Value::Gen(_) => Err(YaqlError::new(
            "TypeError",
            "the result is an infinite sequence; limit it with take() or limit()".into(),
            None,
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(2.5), "2.5");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(float_repr(0.000012), "1.2e-05");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_repr(123456789012345.0), "123456789012345.0");
        assert_eq!(float_repr(-1.5), "-1.5");
        assert_eq!(float_repr(1234567890123456.7), "1234567890123456.8");
    }

    #[test]
    fn str_repr_matches_python() {
        assert_eq!(str_repr("a"), "'a'");
        assert_eq!(str_repr("b'c"), "\"b'c\"");
        assert_eq!(str_repr("b'c\""), "'b\\'c\"'");
        assert_eq!(str_repr("é\n"), "'é\\n'");
    }

    #[test]
    fn python_equality_and_hash() {
        assert!(py_eq(&Value::Int(1), &Value::Float(1.0)));
        assert!(py_eq(&Value::Bool(true), &Value::Int(1)));
        assert!(!py_eq(&Value::Int(1), &Value::str("1")));
        assert_eq!(py_hash(&Value::Int(1)), py_hash(&Value::Float(1.0)));
        assert_eq!(py_hash(&Value::Int(1)), py_hash(&Value::Bool(true)));
    }

    #[test]
    fn repr_of_containers() {
        let l = Value::list(vec![Value::Int(1), Value::str("a")]);
        assert_eq!(py_repr(&l, false), "(1, 'a')");
        assert_eq!(py_repr(&l, true), "[1, 'a']");
        let one = Value::list(vec![Value::Null]);
        assert_eq!(py_repr(&one, false), "(None,)");
        let mut s = IndexSet::new();
        s.insert(Key(Value::Int(1)));
        assert_eq!(py_repr(&Value::set(s.clone()), true), "{1}");
        assert_eq!(py_repr(&Value::set(s), false), "frozenset({1})");
    }
}

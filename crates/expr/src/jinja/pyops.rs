//! Python operator semantics where minijinja differs from Jinja2: true division with
//! `ZeroDivisionError`, floor division and modulo with Python signs, `%` string formatting,
//! `str()` in `~`, `TypeError` on mixed-type ordering and arithmetic, repetition with `*`.
//! The compiler rewrites those operators into calls of the `__py_*` globals defined here.

use super::convert::{py_err, py_repr, py_str};
use minijinja::value::{Enumerator, Object, ObjectRepr, Rest, Value, ValueKind};
use minijinja::Error;
use std::cmp::Ordering;
use std::sync::Arc;

/// Result size cap for `*` repetition and `%` formatting (hostile templates).
const MAX_BUILD: usize = 4 << 20;

#[derive(Clone, Copy, Debug)]
pub enum Num {
    Int(i128),
    Float(f64),
}

/// The number a value stands for in Python arithmetic (`bool` is an `int`).
pub fn num(v: &Value) -> Option<Num> {
    match v.kind() {
        ValueKind::Bool => Some(Num::Int(v.is_true() as i128)),
        ValueKind::Number => {
            if v.is_integer() {
                i128::try_from(v.clone()).ok().map(Num::Int)
            } else {
                f64::try_from(v.clone()).ok().map(Num::Float)
            }
        }
        _ => None,
    }
}

fn as_f(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

fn int_value(i: i128) -> Value {
    if let Ok(x) = i64::try_from(i) {
        Value::from(x)
    } else {
        Value::from(i)
    }
}

/// Python type name for error messages.
pub fn tname(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "Undefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::Iterable => "generator",
        _ => "object",
    }
}

fn check_defined(a: &Value, b: &Value) -> Result<(), Error> {
    if a.is_undefined() || b.is_undefined() {
        return Err(super::convert::undefined_err());
    }
    Ok(())
}

fn unsupported(op: &str, a: &Value, b: &Value) -> Error {
    py_err(
        "TypeError",
        format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            tname(a),
            tname(b)
        ),
    )
}

fn zero_div(msg: &str) -> Error {
    py_err("ZeroDivisionError", msg)
}

fn seq_items(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

pub fn add(a: Value, b: Value) -> Result<Value, Error> {
    check_defined(&a, &b)?;
    match (num(&a), num(&b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => {
            return x
                .checked_add(y)
                .map(int_value)
                .ok_or_else(|| py_err("OverflowError", "integer overflow"))
        }
        (Some(x), Some(y)) => return Ok(Value::from(as_f(x) + as_f(y))),
        _ => {}
    }
    match (a.kind(), b.kind()) {
        (ValueKind::String, ValueKind::String) => Ok(Value::from(format!(
            "{}{}",
            a.as_str().unwrap_or_default(),
            b.as_str().unwrap_or_default()
        ))),
        (ValueKind::Seq, ValueKind::Seq) => {
            let mut items = seq_items(&a)?;
            items.extend(seq_items(&b)?);
            Ok(Value::from(items))
        }
        _ => Err(unsupported("+", &a, &b)),
    }
}

pub fn sub(a: Value, b: Value) -> Result<Value, Error> {
    check_defined(&a, &b)?;
    match (num(&a), num(&b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => x
            .checked_sub(y)
            .map(int_value)
            .ok_or_else(|| py_err("OverflowError", "integer overflow")),
        (Some(x), Some(y)) => Ok(Value::from(as_f(x) - as_f(y))),
        _ => Err(unsupported("-", &a, &b)),
    }
}

fn repeat(v: &Value, n: i128) -> Result<Value, Error> {
    let n = n.max(0) as usize;
    match v.kind() {
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            if s.len().saturating_mul(n) > MAX_BUILD {
                return Err(py_err("MemoryError", "string repetition too large"));
            }
            Ok(Value::from(s.repeat(n)))
        }
        _ => {
            let items = seq_items(v)?;
            if items.len().saturating_mul(n) > MAX_BUILD / 8 {
                return Err(py_err("MemoryError", "list repetition too large"));
            }
            let mut out = Vec::with_capacity(items.len() * n);
            for _ in 0..n {
                out.extend(items.iter().cloned());
            }
            Ok(Value::from(out))
        }
    }
}

pub fn mul(a: Value, b: Value) -> Result<Value, Error> {
    check_defined(&a, &b)?;
    match (num(&a), num(&b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => {
            return x
                .checked_mul(y)
                .map(int_value)
                .ok_or_else(|| py_err("OverflowError", "integer overflow"))
        }
        (Some(x), Some(y)) => return Ok(Value::from(as_f(x) * as_f(y))),
        _ => {}
    }
    let seqish = |v: &Value| matches!(v.kind(), ValueKind::String | ValueKind::Seq);
    match (num(&a), num(&b)) {
        (None, Some(Num::Int(n))) if seqish(&a) => repeat(&a, n),
        (Some(Num::Int(n)), None) if seqish(&b) => repeat(&b, n),
        _ => Err(unsupported("*", &a, &b)),
    }
}

pub fn div(a: Value, b: Value) -> Result<Value, Error> {
    check_defined(&a, &b)?;
    match (num(&a), num(&b)) {
        (Some(x), Some(y)) => {
            let d = as_f(y);
            if d == 0.0 {
                return Err(zero_div("division by zero"));
            }
            Ok(Value::from(as_f(x) / d))
        }
        _ => Err(unsupported("/", &a, &b)),
    }
}

pub fn floordiv(a: Value, b: Value) -> Result<Value, Error> {
    check_defined(&a, &b)?;
    match (num(&a), num(&b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => {
            if y == 0 {
                return Err(zero_div("integer division or modulo by zero"));
            }
            Ok(int_value(py_floor_div(x, y)))
        }
        (Some(x), Some(y)) => {
            let d = as_f(y);
            if d == 0.0 {
                return Err(zero_div("float floor division by zero"));
            }
            Ok(Value::from((as_f(x) / d).floor()))
        }
        _ => Err(unsupported("//", &a, &b)),
    }
}

fn py_floor_div(x: i128, y: i128) -> i128 {
    let q = x / y;
    if (x % y != 0) && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    }
}

pub fn modulo(a: Value, b: Value) -> Result<Value, Error> {
    check_defined(&a, &b)?;
    if a.kind() == ValueKind::String {
        return percent_format(a.as_str().unwrap_or_default(), &b).map(Value::from);
    }
    match (num(&a), num(&b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => {
            if y == 0 {
                return Err(zero_div("integer division or modulo by zero"));
            }
            let r = x - py_floor_div(x, y) * y;
            Ok(int_value(r))
        }
        (Some(x), Some(y)) => {
            let (x, y) = (as_f(x), as_f(y));
            if y == 0.0 {
                return Err(zero_div("float modulo"));
            }
            let r = x % y;
            let r = if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
                r + y
            } else {
                r
            };
            Ok(Value::from(r))
        }
        _ => Err(unsupported("%", &a, &b)),
    }
}

pub fn pow(a: Value, b: Value) -> Result<Value, Error> {
    check_defined(&a, &b)?;
    match (num(&a), num(&b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) if y >= 0 => {
            let e = u32::try_from(y).map_err(|_| py_err("OverflowError", "exponent too large"))?;
            x.checked_pow(e)
                .map(int_value)
                .ok_or_else(|| py_err("OverflowError", "integer too large"))
        }
        (Some(x), Some(y)) => {
            let (x, y) = (as_f(x), as_f(y));
            if x == 0.0 && y < 0.0 {
                return Err(zero_div("0.0 cannot be raised to a negative power"));
            }
            Ok(Value::from(x.powf(y)))
        }
        _ => Err(unsupported("** or pow()", &a, &b)),
    }
}

pub fn concat(a: Value, b: Value) -> Result<Value, Error> {
    let mut s = py_str(&a)?;
    s.push_str(&py_str(&b)?);
    Ok(Value::from(s))
}

/// Jinja2's plain `Undefined` from an inline `if` without `else`: prints as nothing.
#[derive(Debug)]
pub struct CondUndefined;

impl Object for CondUndefined {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn render(self: &Arc<Self>, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
    fn is_true(self: &Arc<Self>) -> bool {
        false
    }
}

/// A Python tuple: a sequence that prints with parentheses.
#[derive(Debug)]
pub struct PyTuple(pub Vec<Value>);

impl Object for PyTuple {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_usize()?).cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

pub fn tuple(items: Value) -> Result<Value, Error> {
    Ok(Value::from_object(PyTuple(items.try_iter()?.collect())))
}

/// Python `==` (numbers compare by value across int/float/bool; containers element-wise).
pub fn eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return match (x, y) {
            (Num::Int(x), Num::Int(y)) => x == y,
            _ => as_f(x) == as_f(y),
        };
    }
    match (a.kind(), b.kind()) {
        (ValueKind::Seq, ValueKind::Seq) => {
            let (Ok(x), Ok(y)) = (seq_items(a), seq_items(b)) else {
                return false;
            };
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| eq(p, q))
        }
        (ValueKind::Map, ValueKind::Map) => {
            let (Ok(ka), Ok(kb)) = (seq_items(a), seq_items(b)) else {
                return false;
            };
            ka.len() == kb.len()
                && ka.iter().all(|k| match (a.get_item(k), b.get_item(k)) {
                    (Ok(x), Ok(y)) if !y.is_undefined() => eq(&x, &y),
                    _ => false,
                })
        }
        _ => a == b,
    }
}

/// Python ordering: numbers with numbers, strings with strings, lists lexicographically.
pub fn order(a: &Value, b: &Value, op: &str) -> Result<Ordering, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Err(super::convert::undefined_err());
    }
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return Ok(match (x, y) {
            (Num::Int(x), Num::Int(y)) => x.cmp(&y),
            _ => as_f(x).partial_cmp(&as_f(y)).unwrap_or(Ordering::Equal),
        });
    }
    match (a.kind(), b.kind()) {
        (ValueKind::String, ValueKind::String) => Ok(a
            .as_str()
            .unwrap_or_default()
            .cmp(b.as_str().unwrap_or_default())),
        (ValueKind::Seq, ValueKind::Seq) => {
            let x = seq_items(a)?;
            let y = seq_items(b)?;
            for (p, q) in x.iter().zip(y.iter()) {
                if !eq(p, q) {
                    return order(p, q, op);
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
        _ => Err(py_err(
            "TypeError",
            format!(
                "'{op}' not supported between instances of '{}' and '{}'",
                tname(a),
                tname(b)
            ),
        )),
    }
}

/// Python `in`.
pub fn contains(container: &Value, item: &Value) -> Result<bool, Error> {
    if container.is_undefined() {
        return Err(super::convert::undefined_err());
    }
    match container.kind() {
        ValueKind::String => match item.as_str() {
            Some(s) => Ok(container.as_str().unwrap_or_default().contains(s)),
            None => Err(py_err(
                "TypeError",
                format!(
                    "'in <string>' requires string as left operand, not {}",
                    tname(item)
                ),
            )),
        },
        ValueKind::Map => {
            if let Some(o) = container.as_object() {
                if o.repr() == minijinja::value::ObjectRepr::Plain {
                    return Ok(false);
                }
            }
            Ok(container.try_iter()?.any(|k| eq(&k, item)))
        }
        ValueKind::Seq | ValueKind::Iterable => Ok(container.try_iter()?.any(|x| eq(&x, item))),
        _ => Err(py_err(
            "TypeError",
            format!("argument of type '{}' is not iterable", tname(container)),
        )),
    }
}

/// A comparison chain `a op b op c` as `__py_cmp(a, 'op', b, 'op', c)`.
pub fn compare_chain(args: Rest<Value>) -> Result<Value, Error> {
    let args = args.0;
    if args.len() < 3 || args.len() & 1 == 0 {
        return Err(py_err("TypeError", "bad comparison chain"));
    }
    let mut left = &args[0];
    let mut i = 1;
    while i + 1 < args.len() {
        let op = args[i].as_str().unwrap_or("");
        let right = &args[i + 1];
        let ok = match op {
            "==" => eq(left, right),
            "!=" => !eq(left, right),
            "<" => order(left, right, op)? == Ordering::Less,
            "<=" => order(left, right, op)? != Ordering::Greater,
            ">" => order(left, right, op)? == Ordering::Greater,
            ">=" => order(left, right, op)? != Ordering::Less,
            "in" => contains(right, left)?,
            "not in" => !contains(right, left)?,
            _ => return Err(py_err("TypeError", format!("unknown comparison {op}"))),
        };
        if !ok {
            return Ok(Value::from(false));
        }
        left = right;
        i += 2;
    }
    Ok(Value::from(true))
}

/// Python `%` formatting (`'%s=%d' % ('a', 1)`, `'%(k)s' % {'k': 1}`).
pub fn percent_format(fmt: &str, args: &Value) -> Result<String, Error> {
    let is_map = args.kind() == ValueKind::Map;
    let positional: Vec<Value> = if args.kind() == ValueKind::Seq {
        seq_items(args)?
    } else {
        vec![args.clone()]
    };
    let mut next = 0usize;
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut key: Option<String> = None;
        if chars.get(i) == Some(&'(') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == ')')
                .ok_or_else(|| py_err("ValueError", "incomplete format key"))?;
            key = Some(chars[i + 1..i + end].iter().collect());
            i += end + 1;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.get(i) {
            if "-+ #0".contains(f) {
                flags.push(f);
                i += 1;
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.get(i).filter(|c| c.is_ascii_digit()) {
            width.push(d);
            i += 1;
        }
        let mut precision: Option<usize> = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = String::new();
            while let Some(&d) = chars.get(i).filter(|c| c.is_ascii_digit()) {
                p.push(d);
                i += 1;
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let conv = *chars
            .get(i)
            .ok_or_else(|| py_err("ValueError", "incomplete format"))?;
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = if let Some(k) = &key {
            if !is_map {
                return Err(py_err("TypeError", "format requires a mapping"));
            }
            let v = args.get_item(&Value::from(k.as_str()))?;
            if v.is_undefined() {
                return Err(py_err("KeyError", format!("'{k}'")));
            }
            v
        } else {
            let v = positional
                .get(next)
                .cloned()
                .ok_or_else(|| py_err("TypeError", "not enough arguments for format string"))?;
            next += 1;
            v
        };
        let body = match conv {
            's' => py_str(&arg)?,
            'r' | 'a' => py_repr(&arg)?,
            'd' | 'i' | 'u' => match num(&arg) {
                Some(Num::Int(x)) => x.to_string(),
                Some(Num::Float(f)) => (f.trunc() as i128).to_string(),
                None => {
                    return Err(py_err(
                        "TypeError",
                        format!(
                            "%{conv} format: a real number is required, not {}",
                            tname(&arg)
                        ),
                    ))
                }
            },
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
                let f = num(&arg).map(as_f).ok_or_else(|| {
                    py_err(
                        "TypeError",
                        format!("must be real number, not {}", tname(&arg)),
                    )
                })?;
                let p = precision.unwrap_or(6);
                match conv {
                    'f' | 'F' => format!("{f:.p$}"),
                    'e' | 'E' => {
                        let s = format!("{f:.p$e}");
                        let s = fix_exp(&s);
                        if conv == 'E' {
                            s.to_uppercase()
                        } else {
                            s
                        }
                    }
                    _ => crate::functions::python::float_repr(f),
                }
            }
            'x' | 'X' | 'o' => match num(&arg) {
                Some(Num::Int(x)) => match conv {
                    'x' => format!("{x:x}"),
                    'X' => format!("{x:X}"),
                    _ => format!("{x:o}"),
                },
                _ => return Err(py_err("TypeError", "an integer is required")),
            },
            'c' => match num(&arg) {
                Some(Num::Int(x)) => char::from_u32(x as u32)
                    .map(String::from)
                    .unwrap_or_default(),
                _ => py_str(&arg)?,
            },
            other => {
                return Err(py_err(
                    "ValueError",
                    format!("unsupported format character '{other}'"),
                ))
            }
        };
        let body = if conv == 's' || conv == 'r' {
            match precision {
                Some(p) => body.chars().take(p).collect(),
                None => body,
            }
        } else {
            let signed = flags.contains('+') && !body.starts_with('-');
            if signed {
                format!("+{body}")
            } else {
                body
            }
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let fill = w - len;
            if flags.contains('-') {
                out.push_str(&body);
                out.push_str(&" ".repeat(fill));
            } else if flags.contains('0') && conv != 's' {
                let (sign, digits) = if body.starts_with(['-', '+']) {
                    body.split_at(1)
                } else {
                    ("", body.as_str())
                };
                out.push_str(sign);
                out.push_str(&"0".repeat(fill));
                out.push_str(digits);
            } else {
                out.push_str(&" ".repeat(fill));
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
        if out.len() > MAX_BUILD {
            return Err(py_err("MemoryError", "formatted string too large"));
        }
    }
    if !is_map && next < positional.len() && args.kind() == ValueKind::Seq {
        return Err(py_err(
            "TypeError",
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

/// Rust writes `1.5e2`; Python writes `1.5e+02`.
fn fix_exp(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v<T: Into<Value>>(x: T) -> Value {
        x.into()
    }

    #[test]
    fn arithmetic() {
        assert_eq!(div(v(7), v(2)).unwrap(), v(3.5));
        assert!(div(v(1), v(0)).is_err());
        assert_eq!(floordiv(v(-7), v(2)).unwrap(), v(-4));
        assert_eq!(floordiv(v(7), v(-2)).unwrap(), v(-4));
        assert_eq!(floordiv(v(7), v(2)).unwrap(), v(3));
        assert_eq!(modulo(v(-7), v(3)).unwrap(), v(2));
        assert_eq!(modulo(v(7), v(-3)).unwrap(), v(-2));
        assert_eq!(modulo(v(-7.5), v(2)).unwrap(), v(0.5));
        assert_eq!(pow(v(2), v(10)).unwrap(), v(1024));
        assert_eq!(pow(v(2), v(-1)).unwrap(), v(0.5));
        assert_eq!(add(v(true), v(1)).unwrap(), v(2));
        assert!(add(v(1), v("1")).is_err());
        assert_eq!(mul(v("ab"), v(3)).unwrap(), v("ababab"));
        assert!(mul(v("ab"), v(1_000_000_000)).is_err());
        assert_eq!(concat(v("ab"), Value::from(())).unwrap(), v("abNone"));
    }

    #[test]
    fn comparisons() {
        assert!(eq(&v(1), &v(1.0)));
        assert!(!eq(&v(1), &v("1")));
        assert!(eq(&Value::from(vec![1, 2]), &Value::from(vec![1.0, 2.0])));
        assert!(order(&v(1), &v("a"), "<").is_err());
        assert_eq!(order(&v("B"), &v("a"), "<").unwrap(), Ordering::Less);
        assert!(contains(&v("abc"), &v("b")).unwrap());
        assert!(contains(&v("abc"), &v(1)).is_err());
        assert!(contains(&v(1), &v(1)).is_err());
    }

    #[test]
    fn percent() {
        let args = Value::from(vec![Value::from("a"), Value::from(1)]);
        assert_eq!(percent_format("%s=%d", &args).unwrap(), "a=1");
        assert_eq!(
            percent_format(
                "%05.1f|%-3s|%x",
                &Value::from(vec![
                    Value::from(3.25159),
                    Value::from("a"),
                    Value::from(255)
                ])
            )
            .unwrap(),
            "003.3|a  |ff"
        );
        assert!(percent_format("100%%", &Value::from(vec![Value::from(1)])).is_err());
        assert_eq!(percent_format("%r", &Value::from("x")).unwrap(), "'x'");
        assert!(percent_format("%s %s", &Value::from(vec![Value::from(1)])).is_err());
    }
}

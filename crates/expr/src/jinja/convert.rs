//! Conversions between minijinja values and JSON, and Python `str()` of minijinja values.

use crate::functions::python;
use minijinja::value::{ObjectRepr, Value as MjValue, ValueKind};
use minijinja::{Error as MjError, ErrorKind};
use serde_json::Value;

/// A minijinja error carrying a Python exception class name (`TypeError: ...`).
pub fn py_err(class: &str, msg: impl std::fmt::Display) -> MjError {
    MjError::new(ErrorKind::InvalidOperation, format!("{class}: {msg}"))
}

/// Strict-undefined error as Jinja2 raises it.
pub fn undefined_err() -> MjError {
    MjError::new(
        ErrorKind::UndefinedError,
        "UndefinedError: value is undefined",
    )
}

/// JSON value of a minijinja value. Undefined is an error (StrictUndefined); objects that are
/// not data (functions, macros) are a `TypeError`.
pub fn to_json(v: &MjValue) -> Result<Value, MjError> {
    conv(v, &mut None)
}

thread_local! {
    /// Present while [`with_exact_ints`] runs: the integers beyond 64 bits that the final
    /// result conversion could only approximate, by JSON pointer.
    static EXACT: std::cell::RefCell<Option<Vec<(String, i128)>>> =
        const { std::cell::RefCell::new(None) };
}

/// Run `f`, collecting the integers beyond 64 bits that [`result_to_json`] approximated.
pub fn with_exact_ints<T>(f: impl FnOnce() -> T) -> (T, Vec<(String, i128)>) {
    let outer = EXACT.with(|e| e.replace(Some(Vec::new())));
    let out = f();
    let found = EXACT.with(|e| e.replace(outer)).unwrap_or_default();
    (out, found)
}

/// The conversion of an evaluation's typed result: [`to_json`], noting (when asked for by
/// [`with_exact_ints`]) where integers too large for JSON numbers were approximated.
pub fn result_to_json(v: &MjValue) -> Result<Value, MjError> {
    if !EXACT.with(|e| e.borrow().is_some()) {
        return to_json(v);
    }
    let mut rec = Some(Rec::default());
    let out = conv(v, &mut rec)?;
    if let Some(rec) = rec {
        EXACT.with(|e| {
            if let Some(found) = e.borrow_mut().as_mut() {
                found.extend(rec.found);
            }
        });
    }
    Ok(out)
}

#[derive(Default)]
struct Rec {
    /// JSON pointer of the value being converted.
    path: String,
    found: Vec<(String, i128)>,
}

fn child<T>(rec: &mut Option<Rec>, segment: &str, f: impl FnOnce(&mut Option<Rec>) -> T) -> T {
    let len = rec.as_ref().map(|r| r.path.len());
    if let Some(r) = rec.as_mut() {
        r.path.push('/');
        r.path
            .push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    let out = f(rec);
    if let (Some(r), Some(len)) = (rec.as_mut(), len) {
        r.path.truncate(len);
    }
    out
}

fn conv(v: &MjValue, rec: &mut Option<Rec>) -> Result<Value, MjError> {
    if v.downcast_object_ref::<super::pyops::CondUndefined>()
        .is_some()
    {
        return Err(undefined_err());
    }
    if let Some(kv) = v.downcast_object_ref::<super::st2kv::KvLookup>() {
        return kv.resolve();
    }
    Ok(match v.kind() {
        ValueKind::Undefined => return Err(undefined_err()),
        ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(v.is_true()),
        ValueKind::Number => {
            if let (Some(r), true) = (rec.as_mut(), v.is_integer()) {
                if i64::try_from(v.clone()).is_err() && u64::try_from(v.clone()).is_err() {
                    if let Ok(i) = i128::try_from(v.clone()) {
                        r.found.push((r.path.clone(), i));
                    }
                }
            }
            number_to_json(v)
        }
        ValueKind::String => Value::String(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => {
            Value::String(String::from_utf8_lossy(v.as_bytes().unwrap_or(&[])).into())
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for (i, item) in v.try_iter()?.enumerate() {
                out.push(child(rec, &i.to_string(), |rec| conv(&item, rec))?);
            }
            Value::Array(out)
        }
        ValueKind::Map => {
            let mut out = serde_json::Map::new();
            let is_plain = v
                .as_object()
                .map(|o| o.repr() == ObjectRepr::Plain)
                .unwrap_or(false);
            if is_plain {
                return Err(py_err(
                    "TypeError",
                    format!("Object of type {} is not JSON serializable", v.kind()),
                ));
            }
            for key in v.try_iter()? {
                let item = v.get_item(&key)?;
                let k = match key.as_str() {
                    Some(s) => s.to_string(),
                    None => py_str(&key)?,
                };
                let x = child(rec, &k, |rec| conv(&item, rec))?;
                out.insert(k, x);
            }
            Value::Object(out)
        }
        ValueKind::Plain => {
            return Err(py_err(
                "TypeError",
                format!("Object of type {} is not JSON serializable", v.kind()),
            ))
        }
        ValueKind::Invalid => return Err(py_err("TypeError", "invalid value")),
        _ => return Err(py_err("TypeError", "unsupported value")),
    })
}

fn number_to_json(v: &MjValue) -> Value {
    if v.is_integer() {
        if let Ok(i) = i64::try_from(v.clone()) {
            return Value::from(i);
        }
        if let Ok(u) = u64::try_from(v.clone()) {
            return Value::from(u);
        }
        // Beyond 64 bits JSON (without arbitrary precision) can only hold an approximation.
        if let Ok(i) = i128::try_from(v.clone()) {
            return crate::functions::float_value(i as f64);
        }
    }
    crate::functions::float_value(f64::try_from(v.clone()).unwrap_or(f64::NAN))
}

/// minijinja value from JSON (ints stay ints, floats stay floats, key order is kept).
pub fn from_json(v: &Value) -> MjValue {
    MjValue::from_serialize(v)
}

/// Python `str()` of a template value.
pub fn py_str(v: &MjValue) -> Result<String, MjError> {
    let mut out = String::new();
    write_py_str(&mut out, v)?;
    Ok(out)
}

/// Appends Python `str(v)`; strings are written bare, containers in `repr` form.
pub fn write_py_str(out: &mut String, v: &MjValue) -> Result<(), MjError> {
    match v.kind() {
        ValueKind::String => out.push_str(v.as_str().unwrap_or_default()),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => {
            if v.is_integer() {
                use std::fmt::Write;
                let _ = write!(out, "{v}");
            } else {
                out.push_str(&python::float_repr(
                    f64::try_from(v.clone()).unwrap_or(f64::NAN),
                ));
            }
        }
        ValueKind::Undefined => return Err(undefined_err()),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            if let Some(t) = v.downcast_object_ref::<super::pyops::PyTuple>() {
                out.push('(');
                for (i, item) in t.0.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&py_repr(item)?);
                }
                if t.0.len() == 1 {
                    out.push(',');
                }
                out.push(')');
                return Ok(());
            }
            if let Some(kv) = v.downcast_object_ref::<super::st2kv::KvLookup>() {
                out.push_str(&python::py_str(&kv.resolve()?));
                return Ok(());
            }
            match to_json(v) {
                Ok(j) => python::write_repr(out, &j),
                Err(_) => {
                    use std::fmt::Write;
                    let _ = write!(out, "{v}");
                }
            }
        }
        _ => {
            if let Some(kv) = v.downcast_object_ref::<super::st2kv::KvLookup>() {
                out.push_str(&python::py_str(&kv.resolve()?));
                return Ok(());
            }
            use std::fmt::Write;
            let _ = write!(out, "{v}");
        }
    }
    Ok(())
}

/// Python `repr()` of a template value.
pub fn py_repr(v: &MjValue) -> Result<String, MjError> {
    if v.kind() == ValueKind::String {
        let mut out = String::new();
        python::write_str_repr(&mut out, v.as_str().unwrap_or_default());
        return Ok(out);
    }
    py_str(v)
}

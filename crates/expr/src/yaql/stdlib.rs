//! The yaql standard library (`yaql/standard_library/*`: system, boolean, branching, math,
//! strings, collections, queries, regex) plus Orquesta's `ctx()`. Names unknown here go to
//! the shared StackStorm/Orquesta functions in [`crate::functions`].
//!
//! Each function checks its own argument types and reports yaql's "no matching function"
//! error when they do not fit; whether a name may be called as a function, a method or both
//! comes from [`style`].

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use indexmap::{IndexMap, IndexSet};
use serde_json::Value as J;

use super::ast::{BinOp, Kind};
use super::eval::{dict_of, keyword_of, Call, Lam, R};
use super::pyre::{Groups, RegexVal};
use super::value::{
    float_repr, py_cmp, py_eq, py_str, to_json, Dict, Gen, Key, Ordered, OwnedDict, Scope, Value,
};
use super::{datetime, YaqlError};
use crate::functions::{self, FnContext};

/// (callable as a function, callable as a method) for every name defined here.
fn style(name: &str) -> Option<(bool, bool)> {
    const F: (bool, bool) = (true, false);
    const M: (bool, bool) = (false, true);
    const E: (bool, bool) = (true, true);
    Some(match name {
        // system
        "let" | "with" | "def" | "call" => F,
        "unpack" | "assert" => M,
        // boolean / branching
        "bool" | "isBoolean" | "switch" | "selectCase" | "selectAllCases" | "examine"
        | "coalesce" => F,
        "switchCase" => M,
        // math
        "abs" | "int" | "float" | "random" | "bitwiseAnd" | "bitwiseOr" | "bitwiseXor"
        | "bitwiseNot" | "shiftBitsLeft" | "shiftBitsRight" | "pow" | "sign" | "round"
        | "isInteger" | "isNumber" => F,
        "max" | "min" => E,
        // strings
        "str" | "characters" | "isString" | "hex" => F,
        "concat" | "len" | "isEmpty" | "norm" => E,
        "toUpper" | "toLower" | "split" | "rightSplit" | "join" | "trim" | "trimLeft"
        | "trimRight" | "replace" | "substring" | "indexOf" | "lastIndexOf" | "toCharArray"
        | "startsWith" | "endsWith" => M,
        // date_time
        "datetime" | "timespan" | "now" | "localtz" | "utctz" | "isDatetime" | "isTimespan" => F,
        "format" => M,
        // collections
        "list" | "dict" | "isDict" | "isList" | "isSet" => F,
        "set" => E,
        "flatten"
        | "toList"
        | "toDict"
        | "get"
        | "keys"
        | "values"
        | "items"
        | "contains"
        | "containsKey"
        | "containsValue"
        | "delete"
        | "deleteAll"
        | "replaceMany"
        | "insert"
        | "insertMany"
        | "toSet"
        | "union"
        | "intersect"
        | "difference"
        | "symmetricDifference"
        | "add"
        | "remove" => M,
        // queries
        "range" | "sequence" | "isIterable" | "generate" | "generateMany" => F,
        "append" | "distinct" | "enumerate" | "any" | "all" => E,
        "where" | "filter" | "select" | "map" | "skip" | "limit" | "take" | "count"
        | "memorize" | "sum" | "first" | "single" | "last" | "selectMany" | "orderBy"
        | "orderByDescending" | "thenBy" | "thenByDescending" | "groupBy" | "zipLongest"
        | "repeat" | "cycle" | "takeWhile" | "skipWhile" | "indexWhere" | "lastIndexWhere"
        | "slice" | "splitWhere" | "sliceWhere" | "splitAt" | "aggregate" | "reduce"
        | "accumulate" | "reverse" | "mergeWith" | "defaultIfEmpty" => M,
        // yaql's zip is a method; orquesta's zip() is the function form
        "zip" => E,
        // regex
        "regex" | "escapeRegex" | "isRegex" => F,
        "matches" | "search" | "searchAll" | "replaceBy" => M,
        // orquesta
        "ctx" | "json" => F,
        _ => return None,
    })
}

/// Methods whose yaql implementation returns a lazy iterator: `list()`/`set()` flatten those.
fn returns_iterator(name: &str) -> bool {
    matches!(
        name,
        "select"
            | "map"
            | "where"
            | "filter"
            | "skip"
            | "limit"
            | "take"
            | "append"
            | "distinct"
            | "enumerate"
            | "concat"
            | "selectMany"
            | "range"
            | "zip"
            | "zipLongest"
            | "flatten"
            | "delete"
            | "replaceMany"
            | "insertMany"
            | "takeWhile"
            | "skipWhile"
            | "slice"
            | "splitWhere"
            | "sliceWhere"
            | "accumulate"
            | "reverse"
            | "searchAll"
            | "groupBy"
            | "generate"
            | "generateMany"
    )
}

pub fn dispatch<'a>(c: &Call<'a, '_>) -> R<'a> {
    let Some((as_fn, as_method)) = style(c.name) else {
        return unknown(c);
    };
    if c.is_method && !as_method {
        return Err(no_method(c));
    }
    if !c.is_method && !as_fn {
        return Err(YaqlError::new(
            "NoFunctionRegisteredException",
            format!(
                "Unknown function \"{}\" (it can only be called as a method: x.{}())",
                c.name, c.name
            ),
            Some(c.pos),
        ));
    }
    match c.name {
        // ---------------------------------------------------------------- system
        "let" | "with" => std_let(c),
        "def" => std_def(c),
        "unpack" => std_unpack(c),
        "assert" => std_assert(c),
        "call" => std_call(c),
        // ---------------------------------------------------------------- boolean / branching
        "bool" => std_bool(c),
        "isBoolean" => std_is_boolean(c),
        "switch" => std_switch(c),
        "selectCase" | "selectAllCases" | "examine" => std_select_case(c),
        "switchCase" => std_switch_case(c),
        "coalesce" => std_coalesce(c),
        // ---------------------------------------------------------------- math
        "abs" => std_abs(c),
        "int" => std_int(c),
        "float" => std_float(c),
        "random" => match c.n() {
            0 => Ok(Value::Float(pseudo_random())),
            2 => {
                let (a, b) = (c.val(0)?, c.val(1)?);
                let (a, b) = (int_arg(c, &a)?, int_arg(c, &b)?);
                if b < a {
                    return Err(YaqlError::new(
                        "ValueError",
                        format!("empty range for randint({a}, {b})"),
                        Some(c.pos),
                    ));
                }
                let span = (b - a + 1) as f64;
                Ok(Value::Int(a + (pseudo_random() * span) as i128))
            }
            _ => Err(c.nomatch()),
        },
        "bitwiseAnd" | "bitwiseOr" | "bitwiseXor" | "shiftBitsLeft" | "shiftBitsRight" => {
            std_bitwise_and(c)
        }
        "bitwiseNot" => std_bitwise_not(c),
        "max" | "min" if !c.is_method && c.n() == 2 => std_max(c),
        "max" | "min" => std_max_2(c),
        "pow" => std_pow(c),
        "sign" => std_sign(c),
        "round" => std_round(c),
        "isInteger" => std_is_integer(c),
        "isNumber" => std_is_number(c),
        // ---------------------------------------------------------------- strings
        "str" => std_str(c),
        "isString" => std_is_string(c),
        "hex" => std_hex(c),
        "characters" => std_characters(c),
        "concat" => std_concat(c),
        "len" => std_len(c),
        "toUpper" | "toLower" => std_to_upper(c),
        "split" | "rightSplit" => split(c),
        "join" => join(c),
        "trim" | "trimLeft" | "trimRight" => std_trim(c),
        "norm" | "isEmpty" => std_norm(c),
        "replace" => match c.val(0)? {
            Value::DateTime(dt) => datetime::replace(c, &dt),
            _ => replace(c),
        },
        "format" => match c.val(0)? {
            Value::DateTime(dt) => {
                c.only_kw(&["format"])?;
                let f = match (c.n(), c.kw("format")?) {
                    (2, None) => c.val(1)?,
                    (1, Some(f)) => f,
                    _ => return Err(c.nomatch()),
                };
                let f = f.as_str().ok_or_else(|| c.nomatch_types(&[&f]))?;
                Ok(Value::string(datetime::strftime(&dt, f, c.pos)?))
            }
            other => Err(c.nomatch_types(&[&other])),
        },
        name if datetime::is_function(name) => datetime::call(c),
        "substring" => std_substring(c),
        "indexOf" | "lastIndexOf" => index_of(c),
        "toCharArray" => std_to_char_array(c),
        "startsWith" | "endsWith" => std_starts_with(c),
        // ---------------------------------------------------------------- collections
        "list" | "set" if !c.is_method => std_list(c),
        "set" => dict_set(c),
        "flatten" => std_flatten(c),
        "toList" => std_to_list(c),
        "dict" => std_dict(c),
        "toDict" => std_to_dict(c),
        "get" => std_get(c),
        "keys" | "values" | "items" => std_keys(c),
        "contains" => std_contains(c),
        "containsKey" => std_contains_key(c),
        "containsValue" => std_contains_value(c),
        "isDict" => std_is_dict(c),
        "isList" => std_is_list(c),
        "isSet" => std_is_set(c),
        "delete" => std_delete(c),
        "deleteAll" => std_delete_all(c),
        "replaceMany" => std_replace_many(c),
        "insert" => std_insert(c),
        "insertMany" => std_insert_many(c),
        "toSet" => std_to_set(c),
        "union" | "intersect" | "difference" | "symmetricDifference" => std_union(c),
        "add" | "remove" => std_add(c),
        // ---------------------------------------------------------------- queries
        "where" | "filter" | "select" | "map" | "takeWhile" | "skipWhile" | "indexWhere"
        | "lastIndexWhere" | "selectMany" => predicate_query(c),
        "skip" | "limit" | "take" => std_skip(c),
        "append" => std_append(c),
        "distinct" => std_distinct(c),
        "enumerate" => std_enumerate(c),
        "any" | "all" => std_any(c),
        "count" => std_count(c),
        "memorize" => std_memorize(c),
        "sum" | "aggregate" | "reduce" => std_sum(c),
        "accumulate" => std_accumulate(c),
        "first" | "last" | "single" => std_first(c),
        "range" => std_range(c),
        "sequence" => std_sequence(c),
        "repeat" => std_repeat(c),
        "cycle" => std_cycle(c),
        "orderBy" | "orderByDescending" => std_order_by(c),
        "thenBy" | "thenByDescending" => std_then_by(c),
        "groupBy" => group_by(c),
        "zip" | "zipLongest" => zip(c),
        "slice" => std_slice(c),
        "splitWhere" | "sliceWhere" => std_split_where(c),
        "splitAt" => std_split_at(c),
        "reverse" => std_reverse(c),
        "mergeWith" => merge_with(c),
        "isIterable" => std_is_iterable(c),
        "generate" => std_generate(c),
        "generateMany" => std_generate_many(c),
        "defaultIfEmpty" => std_default_if_empty(c),
        // ---------------------------------------------------------------- regex
        "regex" => std_regex(c),
        "escapeRegex" => std_escape_regex(c),
        "isRegex" => std_is_regex(c),
        "matches" => std_matches(c),
        "search" | "searchAll" => std_search(c),
        "replaceBy" => std_replace_by(c),
        // ---------------------------------------------------------------- orquesta
        "ctx" => std_ctx(c),
        "json" => std_json(c),
        _ => Err(c.nomatch()),
    }
}

// One function per standard-library entry keeps each stack frame small: nested lambdas
// recurse through dispatch, and a single giant match would reserve every arm's locals at once.

fn std_let<'a>(c: &Call<'a, '_>) -> R<'a> {
    if c.name == "with" && !c.named.is_empty() {
        return Err(c.nomatch());
    }
    let mut s = Scope::child(c.sc);
    s.pos = c.vals()?;
    for (k, v) in &c.named {
        let name = keyword_of(k).ok_or_else(|| c.nomatch())?;
        s.vars.push((name.into(), c.ev.eval(v, c.sc)?));
    }
    Ok(Value::Scope(Rc::new(s)))
}

fn std_def<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let name = c.val(0)?;
    let name = name.as_str().ok_or_else(|| c.nomatch())?;
    let body = c.expr(1).ok_or_else(|| c.nomatch())?;
    let mut s = Scope::child(c.sc);
    s.funcs.push((name.into(), body));
    Ok(Value::Scope(Rc::new(s)))
}

fn std_unpack<'a>(c: &Call<'a, '_>) -> R<'a> {
    let seq = c.val(0)?;
    let items = iterable(c, &seq)?;
    let mut s = Scope::child(c.sc);
    if c.n() == 1 {
        s.pos = items;
    } else {
        if items.len() != c.n() - 1 {
            return Err(YaqlError::new(
                "ValueError",
                format!("Cannot unpack {} elements into {}", items.len(), c.n() - 1),
                Some(c.pos),
            ));
        }
        for (i, v) in items.into_iter().enumerate() {
            let name = c.val(i + 1)?;
            let name = name.as_str().ok_or_else(|| c.nomatch())?;
            s.vars.push((name.into(), v));
        }
    }
    Ok(Value::Scope(Rc::new(s)))
}

fn std_assert<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 3)?;
    let obj = c.val(0)?;
    let cond = c.lam(1)?;
    let msg = if c.n() > 2 {
        str_of(c, &c.val(2)?)?
    } else {
        "Assertion failed".into()
    };
    if !c.ev.apply(&cond, std::slice::from_ref(&obj))?.truthy() {
        return Err(YaqlError::new("AssertionError", msg, Some(c.pos)));
    }
    Ok(obj)
}

fn std_call<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(3, 3)?;
    let name = c.val(0)?;
    let name = name.as_str().ok_or_else(|| c.nomatch())?.to_string();
    let args = iterable(c, &c.val(1)?)?;
    match c.val(2)? {
        Value::Dict(d) if d.len() == 0 => {}
        _ => return Err(c.nomatch()),
    }
    let inner = Call {
        ev: c.ev,
        sc: c.sc,
        name: &name,
        is_method: false,
        slots: args.into_iter().map(super::eval::Slot::Val).collect(),
        named: Vec::new(),
        pos: c.pos,
    };
    dispatch(&inner)
}

fn std_bool<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(c.val(0)?.truthy()))
}

fn std_is_boolean<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(c.val(0)?, Value::Bool(_))))
}

fn std_switch<'a>(c: &Call<'a, '_>) -> R<'a> {
    if c.n() > 0 {
        return Err(c.nomatch());
    }
    for (k, v) in &c.named {
        if c.ev.eval(k, c.sc)?.truthy() {
            return c.ev.eval(v, c.sc);
        }
    }
    Ok(Value::Null)
}

fn std_select_case<'a>(c: &Call<'a, '_>) -> R<'a> {
    no_kw(c)?;
    let mut all = Vec::new();
    for i in 0..c.n() {
        let t = c.val(i)?.truthy();
        match c.name {
            "selectCase" if t => return Ok(Value::Int(i as i128)),
            "selectAllCases" if t => all.push(Value::Int(i as i128)),
            "examine" => all.push(Value::Bool(t)),
            _ => {}
        }
    }
    if c.name == "selectCase" {
        return Ok(Value::Int(c.n() as i128));
    }
    Ok(Value::list(all))
}

fn std_switch_case<'a>(c: &Call<'a, '_>) -> R<'a> {
    let case = c.val(0)?.as_int().ok_or_else(|| c.nomatch())?;
    let cases = c.n() - 1;
    if cases == 0 {
        return Ok(Value::Null);
    }
    let idx = if case >= 0 && (case as usize) < cases {
        case as usize
    } else {
        cases - 1
    };
    c.val(idx + 1)
}

fn std_coalesce<'a>(c: &Call<'a, '_>) -> R<'a> {
    no_kw(c)?;
    for i in 0..c.n() {
        let v = c.val(i)?;
        if !matches!(v, Value::Null) {
            return Ok(v);
        }
    }
    Ok(Value::Null)
}

fn std_abs<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    match c.val(0)? {
        Value::Int(i) => i.checked_abs().map(Value::Int).ok_or_else(|| overflow(c)),
        Value::Float(f) => Ok(Value::Float(f.abs())),
        v => Err(c.nomatch_types(&[&v])),
    }
}

fn std_int<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    to_int(c, &c.val(0)?)
}

fn std_float<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    to_float(c, &c.val(0)?)
}

fn std_bitwise_and<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let (a, b) = (c.val(0)?, c.val(1)?);
    let (x, y) = (int_arg(c, &a)?, int_arg(c, &b)?);
    Ok(Value::Int(match c.name {
        "bitwiseAnd" => x & y,
        "bitwiseOr" => x | y,
        "bitwiseXor" => x ^ y,
        "shiftBitsLeft" => {
            if !(0..127).contains(&y) {
                return Err(YaqlError::new(
                    "ValueError",
                    format!("shift count {y} out of range"),
                    Some(c.pos),
                ));
            }
            x.checked_mul(1i128 << y).ok_or_else(|| overflow(c))?
        }
        _ => {
            if y < 0 {
                return Err(YaqlError::new(
                    "ValueError",
                    "negative shift count".into(),
                    Some(c.pos),
                ));
            }
            x >> y.min(127)
        }
    }))
}

fn std_bitwise_not<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Int(!int_arg(c, &c.val(0)?)?))
}

fn std_max<'a>(c: &Call<'a, '_>) -> R<'a> {
    let (a, b) = (c.val(0)?, c.val(1)?);
    pick_max_min(c, a, b, c.name == "max")
}

fn std_max_2<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 2)?;
    let coll = c.val(0)?;
    if !coll.is_iterable() {
        return Err(c.nomatch_types(&[&coll]));
    }
    let items = c.ev.collect(&coll)?;
    let mut it = items.into_iter();
    let mut acc = if c.n() > 1 {
        c.val(1)?
    } else {
        it.next().ok_or_else(|| {
            YaqlError::new(
                "TypeError",
                "reduce() of empty iterable with no initial value".into(),
                Some(c.pos),
            )
        })?
    };
    for x in it {
        c.ev.tick(1)?;
        acc = pick_max_min(c, acc, x, c.name == "max")?;
    }
    Ok(acc)
}

fn std_pow<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 3)?;
    let (a, b) = (c.val(0)?, c.val(1)?);
    if c.n() == 3 {
        let m = c.val(2)?;
        if !matches!(m, Value::Null) {
            let (x, y, z) = (int_arg(c, &a)?, int_arg(c, &b)?, int_arg(c, &m)?);
            if z == 0 {
                return Err(YaqlError::new(
                    "ValueError",
                    "pow() 3rd argument cannot be 0".into(),
                    Some(c.pos),
                ));
            }
            if y < 0 {
                return Err(YaqlError::new(
                    "ValueError",
                    "negative exponent with modulus is not supported".into(),
                    Some(c.pos),
                ));
            }
            return mod_pow(x, y, z).map(Value::Int).ok_or_else(|| overflow(c));
        }
    }
    match (&a, &b) {
        (Value::Int(x), Value::Int(y)) if *y >= 0 => {
            let e = u32::try_from(*y).map_err(|_| overflow(c))?;
            x.checked_pow(e).map(Value::Int).ok_or_else(|| overflow(c))
        }
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            if x == 0.0 && y < 0.0 {
                return Err(YaqlError::new(
                    "ZeroDivisionError",
                    "0.0 cannot be raised to a negative power".into(),
                    Some(c.pos),
                ));
            }
            Ok(Value::Float(x.powf(y)))
        }
        _ => Err(c.nomatch_types(&[&a, &b])),
    }
}

fn std_sign<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    let x = match &v {
        Value::Int(_) | Value::Float(_) => v.as_f64().unwrap_or(0.0),
        _ => return Err(c.nomatch_types(&[&v])),
    };
    Ok(Value::Int(if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }))
}

fn std_round<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 2)?;
    let v = c.val(0)?;
    let nd = if c.n() > 1 {
        int_arg(c, &c.val(1)?)?
    } else {
        0
    };
    match v {
        Value::Int(i) => {
            if nd >= 0 {
                return Ok(Value::Int(i));
            }
            let p = nd
                .checked_neg()
                .and_then(|e| u32::try_from(e).ok())
                .and_then(|e| 10i128.checked_pow(e))
                .ok_or_else(|| overflow(c))?;
            let q = i.div_euclid(p);
            let r = i.rem_euclid(p);
            // half to even, written so nothing can overflow
            let q = if r > p - r || (r == p - r && q % 2 != 0) {
                q.checked_add(1).ok_or_else(|| overflow(c))?
            } else {
                q
            };
            q.checked_mul(p).map(Value::Int).ok_or_else(|| overflow(c))
        }
        Value::Float(f) => Ok(Value::Float(round_float(f, nd))),
        v => Err(c.nomatch_types(&[&v])),
    }
}

fn std_is_integer<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(c.val(0)?, Value::Int(_))))
}

fn std_is_number<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(
        c.val(0)?,
        Value::Int(_) | Value::Float(_)
    )))
}

fn std_str<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::string(yaql_str(&c.val(0)?)))
}

fn std_is_string<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(c.val(0)?, Value::Str(_))))
}

fn std_hex<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    match c.val(0)? {
        Value::Int(i) => Ok(Value::string(if i < 0 {
            format!("-0x{:x}", i.unsigned_abs())
        } else {
            format!("0x{i:x}")
        })),
        v => Err(YaqlError::new(
            "TypeError",
            format!(
                "'{}' object cannot be interpreted as an integer",
                v.type_name()
            ),
            Some(c.pos),
        )),
    }
}

fn std_characters<'a>(c: &Call<'a, '_>) -> R<'a> {
    let mut s = String::new();
    for (k, chars) in [
        ("digits", "0123456789"),
        ("hexdigits", "0123456789abcdefABCDEF"),
        ("asciiLowercase", "abcdefghijklmnopqrstuvwxyz"),
        ("asciiUppercase", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        (
            "asciiLetters",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ),
        ("octdigits", "01234567"),
        ("punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
        ("whitespace", " \t\n\r\x0b\x0c"),
    ] {
        if c.kw(k)?.is_some_and(|v| v.truthy()) {
            s.push_str(chars);
        }
    }
    let set: IndexSet<char> = s.chars().collect();
    Ok(Value::list(
        set.into_iter()
            .map(|ch| Value::string(ch.to_string()))
            .collect(),
    ))
}

fn std_concat<'a>(c: &Call<'a, '_>) -> R<'a> {
    no_kw(c)?;
    let vals = c.vals()?;
    if !c.is_method && vals.iter().all(|v| matches!(v, Value::Str(_))) {
        let mut s = String::new();
        for v in &vals {
            s.push_str(v.as_str().unwrap_or_default());
        }
        c.ev.check_size(s.len())?;
        return Ok(Value::string(s));
    }
    if vals.iter().all(|v| v.is_iterable()) {
        let mut out = Vec::new();
        for v in &vals {
            out.extend(c.ev.collect(v)?);
        }
        c.ev.check_size(out.len())?;
        return Ok(Value::list(out));
    }
    let refs: Vec<&Value> = vals.iter().collect();
    Err(c.nomatch_types(&refs))
}

fn std_len<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    let n = match &v {
        Value::Str(s) => s.chars().count(),
        Value::Dict(d) => d.len(),
        Value::List(l) => l.len(),
        Value::Set(s) => s.len(),
        Value::Gen(_) => c.ev.collect(&v)?.len(),
        _ => return Err(c.nomatch_types(&[&v])),
    };
    Ok(Value::Int(n as i128))
}

fn std_to_upper<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    let s = v.as_str().ok_or_else(|| c.nomatch_types(&[&v]))?;
    Ok(Value::string(if c.name == "toUpper" {
        s.to_uppercase()
    } else {
        s.to_lowercase()
    }))
}

fn std_trim<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 2)?;
    let v = c.val(0)?;
    let s = v.as_str().ok_or_else(|| c.nomatch_types(&[&v]))?;
    let chars = if c.n() > 1 {
        opt_str(c, &c.val(1)?)?
    } else {
        None
    };
    let pred = |ch: char| match &chars {
        Some(cs) => cs.contains(ch),
        None => ch.is_whitespace(),
    };
    Ok(Value::string(
        match c.name {
            "trim" => s.trim_matches(pred),
            "trimLeft" => s.trim_start_matches(pred),
            _ => s.trim_end_matches(pred),
        }
        .to_string(),
    ))
}

fn std_norm<'a>(c: &Call<'a, '_>) -> R<'a> {
    let v = c.val(0)?;
    let s = match &v {
        Value::Null => None,
        Value::Str(s) => Some(s.clone()),
        _ => return Err(c.nomatch_types(&[&v])),
    };
    let (trim, chars) = if c.name == "norm" {
        c.arity(1, 2)?;
        let chars = if c.n() > 1 {
            opt_str(c, &c.val(1)?)?
        } else {
            None
        };
        (true, chars)
    } else {
        c.arity(1, 3)?;
        c.only_kw(&["trim", "chars", "trimSpaces"])?;
        let trim = match (c.n() > 1, c.kw("trim")?) {
            (true, _) => c.val(1)?.truthy(),
            (false, Some(t)) => t.truthy(),
            _ => true,
        };
        let chars = if c.n() > 2 {
            opt_str(c, &c.val(2)?)?
        } else {
            match c.kw("chars")? {
                Some(v) => opt_str(c, &v)?,
                None => None,
            }
        };
        (trim, chars)
    };
    let Some(s) = s else {
        return Ok(if c.name == "norm" {
            Value::Null
        } else {
            Value::Bool(true)
        });
    };
    let t: &str = if trim {
        s.trim_matches(|ch: char| match &chars {
            Some(cs) => cs.contains(ch),
            None => ch.is_whitespace(),
        })
    } else {
        &s
    };
    if c.name == "isEmpty" {
        return Ok(Value::Bool(t.is_empty()));
    }
    Ok(if t.is_empty() {
        Value::Null
    } else {
        Value::string(t.to_string())
    })
}

fn std_substring<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 3)?;
    let v = c.val(0)?;
    let s = v.as_str().ok_or_else(|| c.nomatch())?;
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len() as i128;
    let start = int_arg(c, &c.val(1)?)?;
    let mut length = if c.n() > 2 {
        int_arg(c, &c.val(2)?)?
    } else {
        -1
    };
    if length < 0 {
        length = n;
    }
    let start = if start < 0 { start + n } else { start };
    let (a, b) = py_slice_bounds(start, start.saturating_add(length), n);
    Ok(Value::string(chars[a..b].iter().collect()))
}

fn std_to_char_array<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    let s = v.as_str().ok_or_else(|| c.nomatch())?;
    Ok(Value::list(
        s.chars().map(|ch| Value::string(ch.to_string())).collect(),
    ))
}

fn std_starts_with<'a>(c: &Call<'a, '_>) -> R<'a> {
    if c.n() < 2 {
        return Err(c.nomatch());
    }
    let v = c.val(0)?;
    let s = v.as_str().ok_or_else(|| c.nomatch())?;
    for i in 1..c.n() {
        let p = c.val(i)?;
        let p = p.as_str().ok_or_else(|| c.nomatch())?;
        let hit = if c.name == "startsWith" {
            s.starts_with(p)
        } else {
            s.ends_with(p)
        };
        if hit {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn std_list<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.only_kw(&[])?;
    let mut out = Vec::new();
    for i in 0..c.n() {
        let v = c.val(i)?;
        let lazy = matches!(c.expr(i).map(|e| &e.kind),
                    Some(Kind::Method { name, .. }) | Some(Kind::Call(name, _)) if returns_iterator(name));
        if lazy && v.is_iterable() {
            out.extend(c.ev.collect(&v)?);
        } else {
            out.push(v);
        }
    }
    if c.name == "list" {
        Ok(Value::list(out))
    } else {
        Ok(Value::set(out.into_iter().map(Key).collect()))
    }
}

fn std_flatten<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    if !v.is_iterable() {
        return Err(c.nomatch_types(&[&v]));
    }
    let mut out = Vec::new();
    flatten_into(c, &v, &mut out, 0)?;
    Ok(Value::list(out))
}

fn std_to_list<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    Ok(Value::list(iterable(c, &v)?))
}

fn std_dict<'a>(c: &Call<'a, '_>) -> R<'a> {
    if c.n() == 0 {
        let mut d = OwnedDict::new();
        for (k, v) in &c.named {
            d.insert(Key(c.ev.eval(k, c.sc)?), c.ev.eval(v, c.sc)?);
        }
        return Ok(Value::dict(d));
    }
    if c.n() != 1 || !c.named.is_empty() {
        return Err(c.nomatch());
    }
    let v = c.val(0)?;
    let items = iterable(c, &v)?;
    let mut d = OwnedDict::new();
    for it in items {
        let (k, v) = pair(c, &it)?;
        d.insert(Key(k), v);
    }
    Ok(Value::dict(d))
}

fn std_to_dict<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 3)?;
    let coll = c.val(0)?;
    let items = iterable(c, &coll)?;
    let ks = c.lam(1)?;
    let vs = if c.n() > 2 { Some(c.lam(2)?) } else { None };
    let mut d = OwnedDict::new();
    for t in items {
        c.ev.tick(1)?;
        let k = c.ev.apply(&ks, std::slice::from_ref(&t))?;
        let v = match &vs {
            Some(l) => c.ev.apply(l, &[t])?,
            None => t,
        };
        d.insert(Key(k), v);
    }
    Ok(Value::dict(d))
}

fn std_get<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 3)?;
    let d = dict_arg(c, &c.val(0)?)?;
    let k = c.val(1)?;
    let default = if c.n() > 2 { c.val(2)? } else { Value::Null };
    Ok(d.get(&k).unwrap_or(default))
}

fn std_keys<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let d = dict_arg(c, &c.val(0)?)?;
    let e = d.entries();
    Ok(match c.name {
        "keys" => Value::set(e.into_iter().map(|(k, _)| Key(k)).collect()),
        "values" => Value::list(e.into_iter().map(|(_, v)| v).collect()),
        _ => Value::set(
            e.into_iter()
                .map(|(k, v)| Key(Value::list(vec![k, v])))
                .collect(),
        ),
    })
}

fn std_contains<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let coll = c.val(0)?;
    if !coll.is_iterable() {
        return Err(c.nomatch_types(&[&coll]));
    }
    let x = c.val(1)?;
    c.ev.binop(BinOp::In, x, coll, c.pos)
}

fn std_contains_key<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let d = dict_arg(c, &c.val(0)?)?;
    Ok(Value::Bool(d.get(&c.val(1)?).is_some()))
}

fn std_contains_value<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let d = dict_arg(c, &c.val(0)?)?;
    let x = c.val(1)?;
    Ok(Value::Bool(d.entries().iter().any(|(_, v)| py_eq(v, &x))))
}

fn std_is_dict<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(c.val(0)?, Value::Dict(_))))
}

fn std_is_list<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(c.val(0)?, Value::List(_))))
}

fn std_is_set<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(c.val(0)?, Value::Set(_))))
}

fn std_delete<'a>(c: &Call<'a, '_>) -> R<'a> {
    let target = c.val(0)?;
    if let Value::Dict(d) = &target {
        let keys: Vec<Value> = (1..c.n()).map(|i| c.val(i)).collect::<Result<_, _>>()?;
        return Ok(delete_keys(d, &keys));
    }
    c.arity(2, 3)?;
    let items = iterable(c, &target)?;
    let position = int_arg(c, &c.val(1)?)?;
    let count = if c.n() > 2 {
        int_arg(c, &c.val(2)?)?
    } else {
        1
    };
    Ok(Value::list(
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| {
                let i = *i as i128;
                if count >= 0 {
                    !(position <= i && i < position.saturating_add(count))
                } else {
                    i < position
                }
            })
            .map(|(_, v)| v)
            .collect(),
    ))
}

fn std_delete_all<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let d = dict_arg(c, &c.val(0)?)?;
    let keys = iterable(c, &c.val(1)?)?;
    Ok(delete_keys(&d, &keys))
}

fn std_replace_many<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(3, 4)?;
    let items = iterable(c, &c.val(0)?)?;
    let position = int_arg(c, &c.val(1)?)?;
    let values = iterable(c, &c.val(2)?)?;
    let count = if c.n() > 3 {
        int_arg(c, &c.val(3)?)?
    } else {
        1
    };
    Ok(Value::list(replace_range(items, position, count, values)))
}

fn std_insert<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(3, 3)?;
    let coll = c.val(0)?;
    if matches!(coll, Value::Set(_)) || !coll.is_iterable() {
        return Err(c.nomatch_types(&[&coll]));
    }
    let position = int_arg(c, &c.val(1)?)?;
    let value = c.val(2)?;
    let mut items = iterable(c, &coll)?;
    if matches!(coll, Value::List(_)) {
        // Python list.insert: negative positions count from the end, clamped.
        let n = items.len() as i128;
        let p = if position < 0 {
            (position + n).max(0)
        } else {
            position.min(n)
        };
        items.insert(p as usize, value);
    } else {
        let p = position.clamp(0, items.len() as i128) as usize;
        items.insert(p, value);
    }
    Ok(Value::list(items))
}

fn std_insert_many<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(3, 3)?;
    let items = iterable(c, &c.val(0)?)?;
    let position = int_arg(c, &c.val(1)?)?;
    let values = iterable(c, &c.val(2)?)?;
    let mut out = Vec::with_capacity(items.len() + values.len());
    if position < 0 {
        out.extend(values.iter().cloned());
    }
    let n = items.len() as i128;
    for (i, t) in items.into_iter().enumerate() {
        if i as i128 == position {
            out.extend(values.iter().cloned());
        }
        out.push(t);
    }
    if position >= n {
        out.extend(values);
    }
    Ok(Value::list(out))
}

fn std_to_set<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    Ok(Value::set(iterable(c, &v)?.into_iter().map(Key).collect()))
}

fn std_union<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let (a, b) = (c.val(0)?, c.val(1)?);
    let (Value::Set(x), Value::Set(y)) = (&a, &b) else {
        return Err(c.nomatch_types(&[&a, &b]));
    };
    let out: IndexSet<Key> = match c.name {
        "union" => x.iter().chain(y.iter()).cloned().collect(),
        "intersect" => x.iter().filter(|k| y.contains(*k)).cloned().collect(),
        "difference" => x.iter().filter(|k| !y.contains(*k)).cloned().collect(),
        _ => x
            .iter()
            .filter(|k| !y.contains(*k))
            .chain(y.iter().filter(|k| !x.contains(*k)))
            .cloned()
            .collect(),
    };
    Ok(Value::set(out))
}

fn std_add<'a>(c: &Call<'a, '_>) -> R<'a> {
    let s = c.val(0)?;
    let Value::Set(x) = &s else {
        return Err(c.nomatch_types(&[&s]));
    };
    let vals: Vec<Value> = (1..c.n()).map(|i| c.val(i)).collect::<Result<_, _>>()?;
    let mut out = (**x).clone();
    for v in vals {
        if c.name == "add" {
            out.insert(Key(v));
        } else {
            out.shift_remove(&Key(v));
        }
    }
    Ok(Value::set(out))
}

fn std_skip<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let coll = c.val(0)?;
    if !coll.is_iterable() {
        return Err(c.nomatch_types(&[&coll]));
    }
    let n = int_arg(c, &c.val(1)?)?;
    if n < 0 {
        return Err(YaqlError::new(
            "ValueError",
            format!("{}() needs a count of 0 or more, got {n}", c.name),
            Some(c.pos),
        ));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if c.name == "skip" {
        if let Value::Gen(g) = &coll {
            return Ok(Value::Gen(Rc::new(match &**g {
                Gen::Count(a, s) => Gen::Count(a.saturating_add(s.saturating_mul(n as i128)), *s),
                Gen::Cycle(l) => {
                    let k = n % l.len().max(1);
                    let mut v: Vec<Value> = l[k..].to_vec();
                    v.extend_from_slice(&l[..k]);
                    Gen::Cycle(Rc::new(v))
                }
                Gen::Repeat(v) => Gen::Repeat(v.clone()),
            })));
        }
        let items = c.ev.collect(&coll)?;
        return Ok(Value::list(items.into_iter().skip(n).collect()));
    }
    let mut out = Vec::new();
    for x in c.ev.iterate(&coll)?.take(n) {
        c.ev.tick(1)?;
        out.push(x);
    }
    Ok(Value::list(out))
}

fn std_append<'a>(c: &Call<'a, '_>) -> R<'a> {
    let coll = c.val(0)?;
    let mut items = iterable(c, &coll)?;
    for i in 1..c.n() {
        items.push(c.val(i)?);
    }
    Ok(Value::list(items))
}

fn std_distinct<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 2)?;
    let items = iterable(c, &c.val(0)?)?;
    let sel = if c.n() > 1 { Some(c.lam(1)?) } else { None };
    let mut seen = IndexSet::new();
    let mut out = Vec::new();
    for t in items {
        c.ev.tick(1)?;
        let k = match &sel {
            Some(l) => c.ev.apply(l, std::slice::from_ref(&t))?,
            None => t.clone(),
        };
        if seen.insert(Key(k)) {
            out.push(t);
        }
    }
    Ok(Value::list(out))
}

fn std_enumerate<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 2)?;
    let items = iterable(c, &c.val(0)?)?;
    let start = if c.n() > 1 {
        int_arg(c, &c.val(1)?)?
    } else {
        0
    };
    Ok(Value::list(
        items
            .into_iter()
            .enumerate()
            .map(|(i, t)| Value::list(vec![Value::Int(start + i as i128), t]))
            .collect(),
    ))
}

fn std_any<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 2)?;
    let coll = c.val(0)?;
    if !coll.is_iterable() {
        return Err(c.nomatch_types(&[&coll]));
    }
    let pred = if c.n() > 1 { Some(c.lam(1)?) } else { None };
    let want_any = c.name == "any";
    for t in c.ev.iterate(&coll)? {
        c.ev.tick(1)?;
        let ok = match &pred {
            Some(l) => c.ev.apply(l, &[t])?.truthy(),
            None => want_any || t.truthy(),
        };
        if want_any && ok {
            return Ok(Value::Bool(true));
        }
        if !want_any && !ok {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(!want_any))
}

fn std_count<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    Ok(Value::Int(iterable(c, &v)?.len() as i128))
}

fn std_memorize<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    if !v.is_iterable() {
        return Err(c.nomatch_types(&[&v]));
    }
    Ok(v)
}

fn std_sum<'a>(c: &Call<'a, '_>) -> R<'a> {
    let items = iterable(c, &c.val(0)?)?;
    let (lam, init_slot) = if c.name == "sum" {
        c.arity(1, 2)?;
        (None, 1)
    } else {
        c.arity(2, 3)?;
        (Some(c.lam(1)?), 2)
    };
    let mut it = items.into_iter();
    let mut acc = if c.n() > init_slot {
        c.val(init_slot)?
    } else {
        it.next().ok_or_else(|| {
            YaqlError::new(
                "TypeError",
                "reduce() of empty iterable with no initial value".into(),
                Some(c.pos),
            )
        })?
    };
    for x in it {
        c.ev.tick(1)?;
        acc = match &lam {
            Some(l) => c.ev.apply(l, &[acc, x])?,
            None => c.ev.binop(BinOp::Add, acc, x, c.pos)?,
        };
    }
    Ok(acc)
}

fn std_accumulate<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 3)?;
    let items = iterable(c, &c.val(0)?)?;
    let lam = c.lam(1)?;
    let mut it = items.into_iter();
    let mut acc = if c.n() > 2 {
        c.val(2)?
    } else {
        it.next().ok_or_else(|| {
            YaqlError::new(
                "TypeError",
                "accumulate() of empty sequence with no initial value".into(),
                Some(c.pos),
            )
        })?
    };
    let mut out = vec![acc.clone()];
    for x in it {
        c.ev.tick(1)?;
        acc = c.ev.apply(&lam, &[acc, x])?;
        out.push(acc.clone());
    }
    Ok(Value::list(out))
}

fn std_first<'a>(c: &Call<'a, '_>) -> R<'a> {
    let coll = c.val(0)?;
    if !coll.is_iterable() {
        return Err(c.nomatch_types(&[&coll]));
    }
    if c.name == "single" {
        c.arity(1, 1)?;
        let mut it = c.ev.iterate(&coll)?;
        let first = it
            .next()
            .ok_or_else(|| stop(c, "the collection is empty"))?;
        if it.next().is_some() {
            return Err(stop(c, "Collection contains more than one item"));
        }
        return Ok(first);
    }
    c.arity(1, 2)?;
    let found = if c.name == "first" {
        c.ev.iterate(&coll)?.next()
    } else {
        c.ev.collect(&coll)?.pop()
    };
    match found {
        Some(v) => Ok(v),
        None if c.n() > 1 => c.val(1),
        None => Err(stop(c, "the collection is empty")),
    }
}

fn std_range<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.only_kw(&[])?;
    let (start, stop, step) = match c.n() {
        1 => (0, int_arg(c, &c.val(0)?)?, 1),
        2 => (int_arg(c, &c.val(0)?)?, int_arg(c, &c.val(1)?)?, 1),
        3 => (
            int_arg(c, &c.val(0)?)?,
            int_arg(c, &c.val(1)?)?,
            int_arg(c, &c.val(2)?)?,
        ),
        _ => return Err(c.nomatch()),
    };
    if step == 0 {
        return Err(YaqlError::new(
            "ValueError",
            "range() arg 3 must not be zero".into(),
            Some(c.pos),
        ));
    }
    let len = if (step > 0 && start < stop) || (step < 0 && start > stop) {
        let span = stop.abs_diff(start);
        let st = step.unsigned_abs();
        span / st + u128::from(span % st != 0)
    } else {
        0
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    c.ev.check_size(len)?;
    c.ev.tick(len as u64)?;
    Ok(Value::list(
        (0..len)
            .map(|i| Value::Int(start.saturating_add(step.saturating_mul(i as i128))))
            .collect(),
    ))
}

fn std_sequence<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(0, 2)?;
    let start = if c.n() > 0 {
        int_arg(c, &c.val(0)?)?
    } else {
        0
    };
    let step = if c.n() > 1 {
        int_arg(c, &c.val(1)?)?
    } else {
        1
    };
    Ok(Value::Gen(Rc::new(Gen::Count(start, step))))
}

fn std_repeat<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 2)?;
    let v = c.val(0)?;
    let times = if c.n() > 1 {
        int_arg(c, &c.val(1)?)?
    } else {
        -1
    };
    if times < 0 {
        return Ok(Value::Gen(Rc::new(Gen::Repeat(v))));
    }
    let n = usize::try_from(times).unwrap_or(usize::MAX);
    c.ev.check_size(n)?;
    Ok(Value::list(vec![v; n]))
}

fn std_cycle<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let items = iterable(c, &c.val(0)?)?;
    Ok(Value::Gen(Rc::new(Gen::Cycle(Rc::new(items)))))
}

fn std_order_by<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let items = iterable(c, &c.val(0)?)?;
    let lam = c.lam(1)?;
    let mut keys = Vec::with_capacity(items.len());
    for t in &items {
        c.ev.tick(1)?;
        keys.push(c.ev.apply(&lam, std::slice::from_ref(t))?);
    }
    let cols = vec![(keys, c.name == "orderBy")];
    let sorted = sort_by_columns(c, &items, &cols)?;
    Ok(Value::Ordered(Rc::new(Ordered {
        source: items,
        keys: cols,
        sorted: Rc::new(sorted),
    })))
}

fn std_then_by<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let v = c.val(0)?;
    let Value::Ordered(o) = &v else {
        return Err(c.nomatch_types(&[&v]));
    };
    let lam = c.lam(1)?;
    let mut keys = Vec::with_capacity(o.source.len());
    for t in &o.source {
        c.ev.tick(1)?;
        keys.push(c.ev.apply(&lam, std::slice::from_ref(t))?);
    }
    let mut cols = o.keys.clone();
    cols.push((keys, c.name == "thenBy"));
    let sorted = sort_by_columns(c, &o.source, &cols)?;
    Ok(Value::Ordered(Rc::new(Ordered {
        source: o.source.clone(),
        keys: cols,
        sorted: Rc::new(sorted),
    })))
}

fn std_slice<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let items = iterable(c, &c.val(0)?)?;
    let n = int_arg(c, &c.val(1)?)?;
    if n <= 0 {
        return Err(YaqlError::new(
            "ValueError",
            "slice() needs a length above 0".into(),
            Some(c.pos),
        ));
    }
    Ok(Value::list(
        items
            .chunks(usize::try_from(n).unwrap_or(usize::MAX))
            .map(|ch| Value::list(ch.to_vec()))
            .collect(),
    ))
}

fn std_split_where<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let items = iterable(c, &c.val(0)?)?;
    let lam = c.lam(1)?;
    let mut out = Vec::new();
    let mut start = 0;
    if c.name == "splitWhere" {
        for (end, t) in items.iter().enumerate() {
            c.ev.tick(1)?;
            if c.ev.apply(&lam, std::slice::from_ref(t))?.truthy() {
                out.push(Value::list(items[start..end].to_vec()));
                start = end + 1;
            }
        }
    } else {
        let mut prev: Option<Value> = None;
        for (end, t) in items.iter().enumerate() {
            c.ev.tick(1)?;
            let p = c.ev.apply(&lam, std::slice::from_ref(t))?;
            if let Some(q) = &prev {
                if !py_eq(q, &p) {
                    out.push(Value::list(items[start..end].to_vec()));
                    start = end;
                }
            }
            prev = Some(p);
        }
    }
    if start != items.len() {
        out.push(Value::list(items[start..].to_vec()));
    }
    Ok(Value::list(out))
}

fn std_split_at<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let items = iterable(c, &c.val(0)?)?;
    let i = int_arg(c, &c.val(1)?)?;
    let n = items.len() as i128;
    let cut = if i < 0 { (i + n).max(0) } else { i.min(n) } as usize;
    Ok(Value::list(vec![
        Value::list(items[..cut].to_vec()),
        Value::list(items[cut..].to_vec()),
    ]))
}

fn std_reverse<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let mut items = iterable(c, &c.val(0)?)?;
    items.reverse();
    Ok(Value::list(items))
}

fn std_is_iterable<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(c.val(0)?.is_iterable()))
}

fn std_generate<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(3, 5)?;
    let mut cur = c.val(0)?;
    let pred = c.lam(1)?;
    let producer = c.lam(2)?;
    let selector = if c.n() > 3 { Some(c.lam(3)?) } else { None };
    let decycle = if c.n() > 4 {
        c.val(4)?.truthy()
    } else {
        c.kw("decycle")?.is_some_and(|v| v.truthy())
    };
    let mut seen = IndexSet::new();
    let mut out = Vec::new();
    while c.ev.apply(&pred, std::slice::from_ref(&cur))?.truthy() {
        c.ev.tick(1)?;
        if decycle && !seen.insert(Key(cur.clone())) {
            break;
        }
        out.push(match &selector {
            Some(s) => c.ev.apply(s, std::slice::from_ref(&cur))?,
            None => cur.clone(),
        });
        cur = c.ev.apply(&producer, &[cur])?;
    }
    Ok(Value::list(out))
}

fn std_generate_many<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 5)?;
    let initial = c.val(0)?;
    let producer = c.lam(1)?;
    let selector = if c.n() > 2 { Some(c.lam(2)?) } else { None };
    let decycle = c.kw("decycle")?.is_some_and(|v| v.truthy()) || (c.n() > 3 && c.val(3)?.truthy());
    let depth_first =
        c.kw("depthFirst")?.is_some_and(|v| v.truthy()) || (c.n() > 4 && c.val(4)?.truthy());
    let mut queue = std::collections::VecDeque::from([initial]);
    let mut seen = IndexSet::new();
    let mut out = Vec::new();
    while let Some(item) = queue.pop_front() {
        c.ev.tick(1)?;
        if decycle && !seen.insert(Key(item.clone())) {
            continue;
        }
        out.push(match &selector {
            Some(s) => c.ev.apply(s, std::slice::from_ref(&item))?,
            None => item.clone(),
        });
        let produced = c.ev.apply(&producer, &[item])?;
        let produced = iterable(c, &produced)?;
        if depth_first {
            for p in produced.into_iter().rev() {
                queue.push_front(p);
            }
        } else {
            queue.extend(produced);
        }
    }
    Ok(Value::list(out))
}

fn std_default_if_empty<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let coll = c.val(0)?;
    let items = iterable(c, &coll)?;
    let default = c.val(1)?;
    if !default.is_iterable() {
        return Err(c.nomatch_types(&[&coll, &default]));
    }
    Ok(if items.is_empty() { default } else { coll })
}

fn std_regex<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 4)?;
    c.only_kw(&["ignoreCase", "multiLine", "dotAll"])?;
    let p = c.val(0)?;
    let p = p.as_str().ok_or_else(|| c.nomatch())?;
    let flag = |i: usize, k: &str| -> Result<bool, YaqlError> {
        if c.n() > i {
            return Ok(c.val(i)?.truthy());
        }
        Ok(c.kw(k)?.is_some_and(|v| v.truthy()))
    };
    let re = compile_regex(
        p,
        flag(1, "ignoreCase")?,
        flag(2, "multiLine")?,
        flag(3, "dotAll")?,
        c.pos,
    )?;
    Ok(Value::Regex(re))
}

fn std_escape_regex<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    let s = v.as_str().ok_or_else(|| c.nomatch())?;
    let mut out = String::with_capacity(s.len() * 2);
    for ch in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    Ok(Value::string(out))
}

fn std_is_regex<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    Ok(Value::Bool(matches!(c.val(0)?, Value::Regex(_))))
}

fn std_matches<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let (a, b) = (c.val(0)?, c.val(1)?);
    let (re, s) = regex_and_string(c, &a, &b)?;
    Ok(Value::Bool(re.is_match(&s, c.pos)?))
}

fn std_search<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 3)?;
    let (a, b) = (c.val(0)?, c.val(1)?);
    let Value::Regex(re) = &a else {
        return Err(c.nomatch_types(&[&a, &b]));
    };
    let s = b.as_str().ok_or_else(|| c.nomatch_types(&[&a, &b]))?;
    let sel = if c.n() > 2 { Some(c.lam(2)?) } else { None };
    let mut out = Vec::new();
    let limit = if c.name == "search" { 1 } else { 0 };
    for groups in re.matches(s, limit, c.pos)? {
        c.ev.tick(1)?;
        let v = match &sel {
            None => {
                let (x, y) = groups[0].unwrap_or((0, 0));
                Value::string(s[x..y].to_string())
            }
            Some(l) => {
                let scope = publish_match(c, s, &groups, re);
                match l {
                    Lam::Expr(e, _) => c.ev.eval(e, &scope)?,
                    Lam::Const(v) => v.clone(),
                }
            }
        };
        if c.name == "search" {
            return Ok(v);
        }
        out.push(v);
    }
    if c.name == "search" {
        return Ok(Value::Null);
    }
    Ok(Value::list(out))
}

fn std_replace_by<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(3, 4)?;
    let (a, b) = (c.val(0)?, c.val(1)?);
    let (re, s) = regex_and_string(c, &a, &b)?;
    let lam = c.lam(2)?;
    let count = if c.n() > 3 {
        int_arg(c, &c.val(3)?)?
    } else {
        0
    };
    let mut out = String::new();
    let mut last = 0;
    let limit = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
    for groups in re.matches(&s, limit, c.pos)? {
        c.ev.tick(1)?;
        let m = groups[0].unwrap_or((0, 0));
        out.push_str(&s[last..m.0]);
        let scope = publish_match(c, &s, &groups, &re);
        let v = match &lam {
            Lam::Expr(e, _) => c.ev.eval(e, &scope)?,
            Lam::Const(v) => v.clone(),
        };
        out.push_str(&str_of(c, &v)?);
        last = m.1;
    }
    out.push_str(&s[last..]);
    Ok(Value::string(out))
}

fn std_ctx<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(0, 1)?;
    let key = if c.n() == 1 { c.val(0)? } else { Value::Null };
    if !key.truthy() {
        return Ok(match c.ev.data {
            J::Object(m) => Value::Dict(Dict::J(m, true)),
            _ => Value::dict(OwnedDict::new()),
        });
    }
    let vars = match c.ev.data {
        J::Object(m) => Some(m),
        _ => None,
    };
    let name = py_str(&key, false);
    let found = match &key {
        Value::Str(s) => vars.and_then(|m| m.get(&**s)),
        _ => None,
    };
    match found {
        None => Err(YaqlError::new(
            "VariableUndefinedError",
            format!("The variable \"{name}\" is referenced before assigned."),
            Some(c.pos),
        )),
        Some(_) if name.starts_with("__") => Err(YaqlError::new(
            "VariableInaccessibleError",
            format!("The variable \"{name}\" is for internal use and inaccessible."),
            Some(c.pos),
        )),
        Some(v) => Ok(Value::from_json(v)),
    }
}

fn std_json<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 1)?;
    let v = c.val(0)?;
    match &v {
        // yaql hands orquesta a frozen mapping, which json() rejects as "not a string".
        Value::Str(s) => {
            let parsed: J = serde_json::from_str(s)
                .map_err(|e| YaqlError::new("JSONDecodeError", e.to_string(), Some(c.pos)))?;
            Ok(owned_from_json(parsed))
        }
        _ => Err(YaqlError::new(
            "TypeError",
            "Given object is not typeof string.".into(),
            Some(c.pos),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

fn unknown<'a>(c: &Call<'a, '_>) -> R<'a> {
    if c.is_method {
        return Err(no_method(c));
    }
    if c.name == "zip" || functions::is_orquesta_function(c.name) || is_provider_function(c.name) {
        return delegate(c);
    }
    Err(YaqlError::new(
        "NoFunctionRegisteredException",
        format!("Unknown function \"{}\"", c.name),
        Some(c.pos),
    ))
}

fn is_provider_function(name: &str) -> bool {
    matches!(name, "st2kv" | "task")
}

/// Call a shared StackStorm/Orquesta function with JSON arguments.
fn delegate<'a>(c: &Call<'a, '_>) -> R<'a> {
    let mut args = Vec::with_capacity(c.n());
    for i in 0..c.n() {
        args.push(to_json(&c.val(i)?, false)?);
    }
    let mut kwargs = Vec::new();
    for (k, v) in &c.named {
        let name = keyword_of(k).ok_or_else(|| c.nomatch())?;
        kwargs.push((name, to_json(&c.ev.eval(v, c.sc)?, false)?));
    }
    let fctx = FnContext {
        ctx: c.ev.data,
        provider: c.ev.provider,
    };
    match functions::call_kw(c.name, &args, &kwargs, &fctx) {
        Some(Ok(v)) => Ok(owned_from_json(v)),
        Some(Err(e)) => {
            let text = e.to_string();
            let (class, msg) = split_class(&text);
            Err(YaqlError::new(class, msg, Some(c.pos)))
        }
        None => Err(YaqlError::new(
            "NoFunctionRegisteredException",
            format!("Unknown function \"{}\"", c.name),
            Some(c.pos),
        )),
    }
}

/// Map "Class: message" from a shared function error onto a static class name (the wrapper
/// prefix the shared functions add is dropped).
fn split_class(text: &str) -> (&'static str, String) {
    const CLASSES: [&str; 12] = [
        "ExpressionEvaluationException",
        "VariableUndefinedError",
        "ValueError",
        "TypeError",
        "KeyError",
        "IndexError",
        "JSONDecodeError",
        "YAMLError",
        "AttributeError",
        "NotImplementedError",
        "OverflowError",
        "error",
    ];
    let mut rest = text;
    for wrapper in [
        "ExpressionEvaluationException: ",
        "YaqlEvaluationException: ",
    ] {
        if let Some(r) = rest.strip_prefix(wrapper) {
            rest = r;
        }
    }
    if let Some((head, msg)) = rest.split_once(": ") {
        if let Some(class) = CLASSES.iter().find(|c| **c == head) {
            return (class, msg.to_string());
        }
    }
    ("ExpressionEvaluationException", rest.to_string())
}

/// Convert an owned JSON value (a shared function's result) into a runtime value.
pub fn owned_from_json<'a>(j: J) -> Value<'a> {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i as i128)
            } else if let Some(u) = n.as_u64() {
                Value::Int(u as i128)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => Value::string(s),
        J::Array(a) => Value::list(a.into_iter().map(owned_from_json).collect()),
        J::Object(m) => {
            let mut d = OwnedDict::with_capacity(m.len());
            for (k, v) in m {
                d.insert(Key(Value::string(k)), owned_from_json(v));
            }
            Value::dict(d)
        }
    }
}

fn no_method(c: &Call) -> YaqlError {
    YaqlError::new(
        "NoMethodRegisteredException",
        format!("Unknown method \"{}\"", c.name),
        Some(c.pos),
    )
}

fn no_kw(c: &Call) -> Result<(), YaqlError> {
    if c.named.is_empty() {
        Ok(())
    } else {
        Err(c.nomatch())
    }
}

fn overflow(c: &Call) -> YaqlError {
    YaqlError::new(
        "OverflowError",
        "integer result does not fit in 128 bits".into(),
        Some(c.pos),
    )
}

fn stop(c: &Call, msg: &str) -> YaqlError {
    YaqlError::new("StopIteration", msg.into(), Some(c.pos))
}

fn int_arg(c: &Call, v: &Value) -> Result<i128, YaqlError> {
    v.as_int().ok_or_else(|| c.nomatch_types(&[v]))
}

fn opt_str(c: &Call, v: &Value) -> Result<Option<String>, YaqlError> {
    match v {
        Value::Null => Ok(None),
        Value::Str(s) => Ok(Some(s.to_string())),
        other => Err(c.nomatch_types(&[other])),
    }
}

fn str_of(c: &Call, v: &Value) -> Result<String, YaqlError> {
    v.as_str()
        .map(|s| s.to_string())
        .ok_or_else(|| c.nomatch_types(&[v]))
}

fn dict_arg<'a>(c: &Call<'a, '_>, v: &Value<'a>) -> Result<Dict<'a>, YaqlError> {
    match v {
        Value::Dict(d) => Ok(d.clone()),
        other => Err(c.nomatch_types(&[other])),
    }
}

/// Items of a yaql `Iterable` argument (not a string or dict).
fn iterable<'a>(c: &Call<'a, '_>, v: &Value<'a>) -> Result<Vec<Value<'a>>, YaqlError> {
    if !v.is_iterable() {
        return Err(c.nomatch_types(&[v]));
    }
    c.ev.collect(v)
}

fn pair<'a>(c: &Call<'a, '_>, v: &Value<'a>) -> Result<(Value<'a>, Value<'a>), YaqlError> {
    let items: Vec<Value<'a>> = match v {
        Value::Str(s) => s.chars().map(|ch| Value::string(ch.to_string())).collect(),
        Value::Dict(d) => d.entries().into_iter().map(|(k, _)| k).collect(),
        other if other.is_iterable() => c.ev.iterate(other)?.take(2).collect(),
        other => {
            return Err(YaqlError::new(
                "TypeError",
                format!(
                    "cannot convert dictionary update sequence element: a {} is not a pair",
                    other.type_name()
                ),
                Some(c.pos),
            ))
        }
    };
    let mut it = items.into_iter();
    match (it.next(), it.next()) {
        (Some(k), Some(v)) => Ok((k, v)),
        _ => Err(stop(
            c,
            "dictionary update sequence element has fewer than 2 items",
        )),
    }
}

fn delete_keys<'a>(d: &Dict<'a>, keys: &[Value<'a>]) -> Value<'a> {
    let mut m = d.to_owned_map();
    for k in keys {
        m.shift_remove(&Key(k.clone()));
    }
    Value::dict(m)
}

fn replace_range<'a>(
    items: Vec<Value<'a>>,
    position: i128,
    count: i128,
    values: Vec<Value<'a>>,
) -> Vec<Value<'a>> {
    let mut out = Vec::with_capacity(items.len() + values.len());
    let mut yielded = false;
    let mut values = Some(values);
    for (i, t) in items.into_iter().enumerate() {
        let i = i as i128;
        let hit = if count >= 0 {
            position <= i && i < position.saturating_add(count)
        } else {
            i >= position
        };
        if hit {
            if !yielded {
                yielded = true;
                out.extend(values.take().unwrap_or_default());
            }
        } else {
            out.push(t);
        }
    }
    out
}

fn flatten_into<'a>(
    c: &Call<'a, '_>,
    v: &Value<'a>,
    out: &mut Vec<Value<'a>>,
    depth: usize,
) -> Result<(), YaqlError> {
    if depth > 64 {
        return Err(YaqlError::budget(
            "flatten() nests deeper than 64 levels".into(),
        ));
    }
    for x in c.ev.collect(v)? {
        if x.is_iterable() {
            flatten_into(c, &x, out, depth + 1)?;
        } else {
            c.ev.tick(1)?;
            out.push(x);
        }
    }
    Ok(())
}

/// yaql's `str()`: `null`/`true`/`false` in yaql spelling, everything else as Python prints it.
pub fn yaql_str(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(true) => "true".into(),
        Value::Bool(false) => "false".into(),
        Value::Float(f) => float_repr(*f),
        other => py_str(other, false),
    }
}

fn to_int<'a>(c: &Call<'a, '_>, v: &Value<'a>) -> R<'a> {
    match v {
        Value::Null => Ok(Value::Int(0)),
        Value::Bool(b) => Ok(Value::Int(*b as i128)),
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(YaqlError::new(
                    "ValueError",
                    format!("cannot convert float {} to integer", float_repr(*f)),
                    Some(c.pos),
                ));
            }
            Ok(Value::Int(f.trunc() as i128))
        }
        Value::Str(s) => parse_py_int(s).map(Value::Int).ok_or_else(|| {
            YaqlError::new(
                "ValueError",
                format!(
                    "invalid literal for int() with base 10: {}",
                    super::value::str_repr(s)
                ),
                Some(c.pos),
            )
        }),
        other => Err(YaqlError::new(
            "TypeError",
            format!(
                "int() argument must be a string or a number, not '{}'",
                other.type_name()
            ),
            Some(c.pos),
        )),
    }
}

use gale_model::py::parse_int as parse_py_int;

fn to_float<'a>(c: &Call<'a, '_>, v: &Value<'a>) -> R<'a> {
    match v {
        Value::Null => Ok(Value::Float(0.0)),
        Value::Bool(b) => Ok(Value::Float(*b as i64 as f64)),
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        Value::Str(s) => {
            let t = s.trim();
            let lower = t.to_ascii_lowercase();
            let body = lower.trim_start_matches(['+', '-']);
            let ok_word = matches!(body, "inf" | "infinity" | "nan");
            let ok_num = !body.is_empty()
                && body
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || matches!(ch, '.' | 'e' | '+' | '-' | '_'))
                && body
                    .chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_digit() || ch == '.');
            let parsed = if ok_word || ok_num {
                t.replace('_', "").parse::<f64>().ok()
            } else {
                None
            };
            parsed.map(Value::Float).ok_or_else(|| {
                YaqlError::new(
                    "ValueError",
                    format!(
                        "could not convert string to float: {}",
                        super::value::str_repr(s)
                    ),
                    Some(c.pos),
                )
            })
        }
        other => Err(YaqlError::new(
            "TypeError",
            format!(
                "float() argument must be a string or a number, not '{}'",
                other.type_name()
            ),
            Some(c.pos),
        )),
    }
}

fn round_float(f: f64, nd: i128) -> f64 {
    if !f.is_finite() {
        return f;
    }
    if nd >= 0 {
        if nd > 17 {
            return f;
        }
        // Formatting uses the exact binary value and rounds half to even, like Python's round().
        format!("{:.*}", nd as usize, f).parse().unwrap_or(f)
    } else {
        let p = 10f64.powi(nd.saturating_neg().min(308) as i32);
        (f / p).round_ties_even() * p
    }
}

fn mod_pow(mut b: i128, mut e: i128, m: i128) -> Option<i128> {
    let mut r: i128 = 1 % m;
    b = b.rem_euclid(m);
    while e > 0 {
        if e & 1 == 1 {
            r = r.checked_mul(b)?.rem_euclid(m);
        }
        b = b.checked_mul(b)?.rem_euclid(m);
        e >>= 1;
    }
    Some(if m < 0 && r > 0 { r + m } else { r })
}

fn pseudo_random() -> f64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn pick_max_min<'a>(c: &Call<'a, '_>, a: Value<'a>, b: Value<'a>, max: bool) -> R<'a> {
    // max(a, b): b if b > a else a;  min(a, b): a if b > a else b
    let gt = if let (Value::Set(_), Value::Set(_)) = (&a, &b) {
        c.ev.binop(BinOp::Gt, b.clone(), a.clone(), c.pos)?.truthy()
    } else {
        py_cmp(&b, &a)
            .ok_or_else(|| super::eval::no_match_types("#operator_>", &[&b, &a], c.pos))?
            .is_gt()
    };
    Ok(match (max, gt) {
        (true, true) => b,
        (true, false) => a,
        (false, true) => a,
        (false, false) => b,
    })
}

/// Python slice bounds `[a:b]` clamped to a sequence of length n.
fn py_slice_bounds(a: i128, b: i128, n: i128) -> (usize, usize) {
    let norm = |x: i128| -> i128 {
        if x < 0 {
            (x + n).max(0)
        } else {
            x.min(n)
        }
    };
    let (a, b) = (norm(a), norm(b));
    if b <= a {
        (a as usize, a as usize)
    } else {
        (a as usize, b as usize)
    }
}

fn split<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(1, 3)?;
    let a = c.val(0)?;
    let b = if c.n() > 1 { c.val(1)? } else { Value::Null };
    // regex.split(string, maxSplit) / string.split(regex, maxSplit)
    if let (Value::Regex(re), Value::Str(s)) | (Value::Str(s), Value::Regex(re)) = (&a, &b) {
        if c.name != "split" {
            return Err(c.nomatch());
        }
        let max = if c.n() > 2 {
            int_arg(c, &c.val(2)?)?
        } else {
            0
        };
        let max = usize::try_from(max.max(0)).unwrap_or(usize::MAX);
        return Ok(Value::list(
            re.split(s, max, c.pos)?
                .into_iter()
                .map(|p| p.map(Value::string).unwrap_or(Value::Null))
                .collect(),
        ));
    }
    let s = a.as_str().ok_or_else(|| c.nomatch_types(&[&a]))?;
    let sep = opt_str(c, &b)?;
    let max = if c.n() > 2 {
        int_arg(c, &c.val(2)?)?
    } else {
        -1
    };
    let parts = match &sep {
        Some(sep) if sep.is_empty() => {
            return Err(YaqlError::new(
                "ValueError",
                "empty separator".into(),
                Some(c.pos),
            ))
        }
        Some(sep) => {
            if max < 0 {
                s.split(sep.as_str())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            } else if c.name == "split" {
                s.splitn(max as usize + 1, sep.as_str())
                    .map(str::to_string)
                    .collect()
            } else {
                let mut v: Vec<String> = s
                    .rsplitn(max as usize + 1, sep.as_str())
                    .map(str::to_string)
                    .collect();
                v.reverse();
                v
            }
        }
        None => whitespace_split(s, max, c.name == "rightSplit"),
    };
    Ok(Value::list(parts.into_iter().map(Value::string).collect()))
}

fn whitespace_split(s: &str, max: i128, right: bool) -> Vec<String> {
    if right {
        let rev: String = s.chars().rev().collect();
        let mut parts = whitespace_split(&rev, max, false);
        parts.reverse();
        return parts
            .into_iter()
            .map(|p| p.chars().rev().collect())
            .collect();
    }
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if max >= 0 && out.len() as i128 == max {
            out.push(rest.trim_end().to_string());
            if right {
                break;
            }
            return out;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

fn join<'a>(c: &Call<'a, '_>) -> R<'a> {
    if c.n() == 4 {
        // collection1.join(collection2, predicate, selector)
        let c1 = iterable(c, &c.val(0)?)?;
        let c2 = iterable(c, &c.val(1)?)?;
        let pred = c.lam(2)?;
        let sel = c.lam(3)?;
        let mut out = Vec::new();
        for a in &c1 {
            for b in &c2 {
                c.ev.tick(1)?;
                if c.ev.apply(&pred, &[a.clone(), b.clone()])?.truthy() {
                    out.push(c.ev.apply(&sel, &[a.clone(), b.clone()])?);
                }
            }
        }
        return Ok(Value::list(out));
    }
    c.arity(2, 2)?;
    let (a, b) = (c.val(0)?, c.val(1)?);
    let (sep, coll) = match (&a, &b) {
        (Value::Str(s), coll) if coll.is_iterable() => (s.clone(), coll),
        (coll, Value::Str(s)) if coll.is_iterable() => (s.clone(), coll),
        _ => return Err(c.nomatch_types(&[&a, &b])),
    };
    let items = c.ev.collect(coll)?;
    let parts: Vec<String> = items.iter().map(yaql_str).collect();
    let s = parts.join(&sep);
    c.ev.check_size(s.len())?;
    Ok(Value::string(s))
}

fn replace<'a>(c: &Call<'a, '_>) -> R<'a> {
    let a = c.val(0)?;
    let b = if c.n() > 1 { c.val(1)? } else { Value::Null };
    match (&a, &b) {
        (Value::Regex(_), Value::Str(_)) | (Value::Str(_), Value::Regex(_)) => {
            c.arity(3, 4)?;
            let (re, s) = regex_and_string(c, &a, &b)?;
            let repl = c.val(2)?;
            let repl = repl.as_str().ok_or_else(|| c.nomatch_types(&[&repl]))?;
            let count = if c.n() > 3 {
                int_arg(c, &c.val(3)?)?
            } else {
                0
            };
            let limit = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
            let out = re.sub(&s, repl, limit, c.pos)?;
            c.ev.check_size(out.len())?;
            Ok(Value::string(out))
        }
        (Value::Str(s), Value::Dict(d)) => {
            c.arity(2, 3)?;
            let count = if c.n() > 2 {
                int_arg(c, &c.val(2)?)?
            } else {
                -1
            };
            let mut out = s.to_string();
            for (k, v) in d.entries() {
                out = str_replace(&out, &yaql_str(&k), &yaql_str(&v), count);
                c.ev.check_size(out.len())?;
            }
            Ok(Value::string(out))
        }
        (Value::Str(s), Value::Str(old)) => {
            c.arity(3, 4)?;
            let new = c.val(2)?;
            let new = new.as_str().ok_or_else(|| c.nomatch_types(&[&new]))?;
            let count = if c.n() > 3 {
                int_arg(c, &c.val(3)?)?
            } else {
                -1
            };
            let out = str_replace(s, old, new, count);
            c.ev.check_size(out.len())?;
            Ok(Value::string(out))
        }
        (coll, Value::Int(position)) if coll.is_iterable() => {
            c.arity(3, 4)?;
            let items = c.ev.collect(coll)?;
            let value = c.val(2)?;
            let count = if c.n() > 3 {
                int_arg(c, &c.val(3)?)?
            } else {
                1
            };
            Ok(Value::list(replace_range(
                items,
                *position,
                count,
                vec![value],
            )))
        }
        _ => Err(c.nomatch_types(&[&a, &b])),
    }
}

/// Python `str.replace(old, new, count)` (empty `old` inserts between characters).
fn str_replace(s: &str, old: &str, new: &str, count: i128) -> String {
    if count < 0 {
        if old.is_empty() {
            let mut out = String::from(new);
            for ch in s.chars() {
                out.push(ch);
                out.push_str(new);
            }
            return out;
        }
        return s.replace(old, new);
    }
    if old.is_empty() {
        let mut out = String::new();
        let mut n = 0;
        for ch in s.chars() {
            if (n as i128) < count {
                out.push_str(new);
                n += 1;
            }
            out.push(ch);
        }
        if (n as i128) < count {
            out.push_str(new);
        }
        return out;
    }
    s.replacen(old, new, count as usize)
}

fn index_of<'a>(c: &Call<'a, '_>) -> R<'a> {
    let a = c.val(0)?;
    let last = c.name == "lastIndexOf";
    if let Value::Str(s) = &a {
        c.arity(2, 4)?;
        let sub = c.val(1)?;
        let sub = sub.as_str().ok_or_else(|| c.nomatch_types(&[&a, &sub]))?;
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len() as i128;
        let mut start = if c.n() > 2 {
            int_arg(c, &c.val(2)?)?
        } else {
            0
        };
        let end = if c.n() > 3 {
            if start < 0 {
                start += n;
            }
            let mut length = int_arg(c, &c.val(3)?)?;
            if length < 0 {
                length = n - start;
            }
            start + length
        } else {
            n
        };
        let (a0, b0) = py_slice_bounds(start, end, n);
        if a0 > chars.len() {
            return Ok(Value::Int(-1));
        }
        let hay: String = chars[a0..b0].iter().collect();
        let found = if last { hay.rfind(sub) } else { hay.find(sub) };
        return Ok(Value::Int(match found {
            Some(byte) => (a0 + hay[..byte].chars().count()) as i128,
            None => -1,
        }));
    }
    c.arity(2, 2)?;
    if !a.is_iterable() {
        return Err(c.nomatch_types(&[&a]));
    }
    let item = c.val(1)?;
    let mut idx = -1i128;
    for (i, t) in c.ev.iterate(&a)?.enumerate() {
        c.ev.tick(1)?;
        if py_eq(&t, &item) {
            idx = i as i128;
            if !last {
                break;
            }
        }
    }
    Ok(Value::Int(idx))
}

fn predicate_query<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 2)?;
    let coll = c.val(0)?;
    if !coll.is_iterable() {
        return Err(c.nomatch_types(&[&coll]));
    }
    let lam = c.lam(1)?;
    let mut out = Vec::new();
    let it = c.ev.iterate(&coll)?;
    let infinite = it.is_infinite();
    match c.name {
        "takeWhile" => {
            for t in it {
                c.ev.tick(1)?;
                if !c.ev.apply(&lam, std::slice::from_ref(&t))?.truthy() {
                    break;
                }
                out.push(t);
            }
        }
        "indexWhere" => {
            for (i, t) in it.enumerate() {
                c.ev.tick(1)?;
                if c.ev.apply(&lam, &[t])?.truthy() {
                    return Ok(Value::Int(i as i128));
                }
            }
            return Ok(Value::Int(-1));
        }
        _ => {
            if infinite {
                return Err(YaqlError::budget(format!(
                    "{}() over an infinite sequence; limit it with take() first",
                    c.name
                )));
            }
            let mut dropping = true;
            let mut last_idx = -1i128;
            out.reserve(it.len_hint());
            for (i, t) in it.enumerate() {
                c.ev.tick(1)?;
                match c.name {
                    "where" | "filter" => {
                        if c.ev.apply(&lam, std::slice::from_ref(&t))?.truthy() {
                            out.push(t);
                        }
                    }
                    "select" | "map" => out.push(c.ev.apply(&lam, &[t])?),
                    "skipWhile" => {
                        if dropping && c.ev.apply(&lam, std::slice::from_ref(&t))?.truthy() {
                            continue;
                        }
                        dropping = false;
                        out.push(t);
                    }
                    "lastIndexWhere" => {
                        if c.ev.apply(&lam, &[t])?.truthy() {
                            last_idx = i as i128;
                        }
                    }
                    _ => {
                        // selectMany
                        let inner = c.ev.apply(&lam, &[t])?;
                        if inner.is_iterable() {
                            out.extend(c.ev.collect(&inner)?);
                        } else {
                            out.push(inner);
                        }
                    }
                }
            }
            if c.name == "lastIndexWhere" {
                return Ok(Value::Int(last_idx));
            }
        }
    }
    Ok(Value::list(out))
}

fn sort_by_columns<'a>(
    c: &Call<'a, '_>,
    items: &[Value<'a>],
    cols: &[(Vec<Value<'a>>, bool)],
) -> Result<Vec<Value<'a>>, YaqlError> {
    let n = items.len() as u64;
    c.ev.tick(n * (64 - n.leading_zeros() as u64 + 1))?;
    let err: RefCell<Option<YaqlError>> = RefCell::new(None);
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by(|&i, &j| {
        for (keys, asc) in cols {
            let (a, b) = (&keys[i], &keys[j]);
            let o = if let (Value::Set(_), Value::Set(_)) = (a, b) {
                let lt = c.ev.binop(BinOp::Lt, a.clone(), b.clone(), c.pos);
                let gt = c.ev.binop(BinOp::Gt, a.clone(), b.clone(), c.pos);
                match (lt, gt) {
                    (Ok(l), _) if l.truthy() => Ordering::Less,
                    (_, Ok(g)) if g.truthy() => Ordering::Greater,
                    _ => Ordering::Equal,
                }
            } else {
                match py_cmp(a, b) {
                    Some(o) => o,
                    None => {
                        if err.borrow().is_none() {
                            *err.borrow_mut() =
                                Some(super::eval::no_match_types("#operator_<", &[a, b], c.pos));
                        }
                        Ordering::Equal
                    }
                }
            };
            if o != Ordering::Equal {
                return if *asc { o } else { o.reverse() };
            }
        }
        Ordering::Equal
    });
    if let Some(e) = err.into_inner() {
        return Err(e);
    }
    Ok(idx.into_iter().map(|i| items[i].clone()).collect())
}

fn group_by<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 4)?;
    let items = iterable(c, &c.val(0)?)?;
    let key_sel = c.lam(1)?;
    let val_sel = if c.n() > 2 { Some(c.lam(2)?) } else { None };
    let agg = if c.n() > 3 {
        Some(c.lam(3)?)
    } else {
        c.named
            .iter()
            .find(|(k, _)| keyword_of(k).as_deref() == Some("aggregator"))
            .map(|(_, e)| Lam::Expr(e, c.sc.clone()))
    };
    let mut groups: IndexMap<Key<'a>, Vec<Value<'a>>> = IndexMap::new();
    for t in items {
        c.ev.tick(1)?;
        let v = match &val_sel {
            Some(l) => c.ev.apply(l, std::slice::from_ref(&t))?,
            None => t.clone(),
        };
        let k = c.ev.apply(&key_sel, &[t])?;
        groups.entry(Key(k)).or_default().push(v);
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut failure: Option<YaqlError> = None;
    let mut allow_fallback = true;
    for (k, vals) in groups {
        let n_vals = vals.len();
        let first = vals.first().cloned();
        let values = Value::list(vals);
        let Some(agg) = &agg else {
            out.push(Value::list(vec![k.0, values]));
            continue;
        };
        if failure.is_none() {
            match c.ev.apply(agg, std::slice::from_ref(&values)) {
                Ok(r) => {
                    // yaql's compatibility rule: only a result shaped like the (key, values)
                    // pair of a 2-item group keeps the old calling convention available.
                    let pair_like = n_vals == 2
                        && matches!(&r, Value::List(l) if l.len() == 2
                            && first.as_ref().is_some_and(|f| py_eq(&l[0], f)));
                    if !pair_like {
                        allow_fallback = false;
                    }
                    out.push(Value::list(vec![k.0, r]));
                    continue;
                }
                Err(e)
                    if matches!(
                        e.class,
                        "NoMatchingMethodException" | "NoMatchingFunctionException" | "IndexError"
                    ) =>
                {
                    failure = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if allow_fallback {
            let item = Value::list(vec![k.0.clone(), values.clone()]);
            if let Ok(Value::List(l)) = c.ev.apply(agg, &[item]) {
                if l.len() == 2 {
                    out.push(Value::List(l));
                    continue;
                }
            }
        }
        if let Some(e) = failure.clone() {
            return Err(e);
        }
    }
    Ok(Value::list(out))
}

fn zip<'a>(c: &Call<'a, '_>) -> R<'a> {
    if !c.is_method && c.name == "zip" {
        return delegate(c);
    }
    let default = if c.name == "zipLongest" {
        c.only_kw(&["default"])?;
        c.kw("default")?.unwrap_or(Value::Null)
    } else {
        no_kw(c)?;
        Value::Null
    };
    let mut cols = Vec::with_capacity(c.n());
    for i in 0..c.n() {
        let v = c.val(i)?;
        if !v.is_iterable() {
            return Err(c.nomatch_types(&[&v]));
        }
        cols.push(v);
    }
    let longest = c.name == "zipLongest";
    if longest && cols.iter().any(|v| matches!(v, Value::Gen(_))) {
        return Err(YaqlError::budget(
            "zipLongest() over an infinite sequence".into(),
        ));
    }
    let mut its: Vec<_> = cols
        .iter()
        .map(|v| c.ev.iterate(v))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    loop {
        c.ev.tick(1)?;
        let mut row = Vec::with_capacity(its.len());
        let mut any = false;
        let mut all = true;
        for it in its.iter_mut() {
            match it.next() {
                Some(v) => {
                    any = true;
                    row.push(v);
                }
                None => {
                    all = false;
                    row.push(default.clone());
                }
            }
        }
        if its.is_empty() || (!longest && !all) || (longest && !any) {
            break;
        }
        out.push(Value::list(row));
    }
    Ok(Value::list(out))
}

fn merge_with<'a>(c: &Call<'a, '_>) -> R<'a> {
    c.arity(2, 5)?;
    let d = dict_arg(c, &c.val(0)?)?;
    let other = dict_arg(c, &c.val(1)?)?;
    let lam_at = |i: usize, name: &str| -> Result<Option<Lam<'a>>, YaqlError> {
        if c.n() > i {
            return Ok(Some(c.lam(i)?));
        }
        Ok(c.named
            .iter()
            .find(|(k, _)| keyword_of(k).as_deref() == Some(name))
            .map(|(_, e)| Lam::Expr(e, c.sc.clone())))
    };
    let list_merger = lam_at(2, "listMerger")?;
    let item_merger = lam_at(3, "itemMerger")?;
    let max_levels = if c.n() > 4 {
        int_arg(c, &c.val(4)?)?
    } else {
        match c.kw("maxLevels")? {
            Some(v) => int_arg(c, &v)?,
            None => 0,
        }
    };
    merge_dicts(c, &d, &other, &list_merger, &item_merger, max_levels)
}

fn merge_dicts<'a>(
    c: &Call<'a, '_>,
    d1: &Dict<'a>,
    d2: &Dict<'a>,
    list_merger: &Option<Lam<'a>>,
    item_merger: &Option<Lam<'a>>,
    max_levels: i128,
) -> R<'a> {
    c.ev.tick(1)?;
    let mut result = OwnedDict::new();
    for (k, v1) in d1.entries() {
        let merged = match d2.get(&k) {
            None => v1,
            Some(v2) => {
                if max_levels != 1 && v2.is_dict() {
                    let (Value::Dict(a), Value::Dict(b)) = (&v1, &v2) else {
                        return Err(YaqlError::new(
                            "TypeError",
                            format!("Cannot merge {} with {}", v1.type_name(), v2.type_name()),
                            Some(c.pos),
                        ));
                    };
                    merge_dicts(
                        c,
                        a,
                        b,
                        list_merger,
                        item_merger,
                        if max_levels == 0 { 0 } else { max_levels - 1 },
                    )?
                } else if max_levels != 1 && matches!(v2, Value::List(_)) {
                    if !matches!(v1, Value::List(_)) {
                        return Err(YaqlError::new(
                            "TypeError",
                            format!("Cannot merge {} with {}", v1.type_name(), v2.type_name()),
                            Some(c.pos),
                        ));
                    }
                    match list_merger {
                        Some(l) => c.ev.apply(l, &[v1, v2])?,
                        None => {
                            let mut seen = IndexSet::new();
                            let mut out = Vec::new();
                            for x in c.ev.collect(&v1)?.into_iter().chain(c.ev.collect(&v2)?) {
                                if seen.insert(Key(x.clone())) {
                                    out.push(x);
                                }
                            }
                            Value::list(out)
                        }
                    }
                } else {
                    match item_merger {
                        Some(l) => c.ev.apply(l, &[v1, v2])?,
                        None => v2,
                    }
                }
            }
        };
        result.insert(Key(k), merged);
    }
    for (k, v2) in d2.entries() {
        let key = Key(k);
        if !result.contains_key(&key) {
            result.insert(key, v2);
        }
    }
    Ok(Value::dict(result))
}

fn dict_set<'a>(c: &Call<'a, '_>) -> R<'a> {
    let d = dict_arg(c, &c.val(0)?)?;
    let mut m = d.to_owned_map();
    if !c.named.is_empty() {
        if c.n() != 1 {
            return Err(c.nomatch());
        }
        for (k, v) in &c.named {
            m.insert(Key(c.ev.eval(k, c.sc)?), c.ev.eval(v, c.sc)?);
        }
        return Ok(Value::dict(m));
    }
    match c.n() {
        2 => {
            let r = c.val(1)?;
            let Value::Dict(r) = &r else {
                return Err(c.nomatch_types(&[&r]));
            };
            for (k, v) in r.entries() {
                m.insert(Key(k), v);
            }
        }
        3 => {
            m.insert(Key(c.val(1)?), c.val(2)?);
        }
        _ => return Err(c.nomatch()),
    }
    Ok(Value::dict(m))
}

/// Compile a Python regular expression (see [`super::pyre`]).
pub fn compile_regex(
    pattern: &str,
    ignore_case: bool,
    multi_line: bool,
    dot_all: bool,
    pos: usize,
) -> Result<Rc<RegexVal>, YaqlError> {
    super::pyre::compile(pattern, ignore_case, multi_line, dot_all, pos)
}

fn regex_and_string<'a>(
    c: &Call<'a, '_>,
    a: &Value<'a>,
    b: &Value<'a>,
) -> Result<(Rc<RegexVal>, String), YaqlError> {
    match (a, b) {
        (Value::Regex(re), Value::Str(s)) => Ok((re.clone(), s.to_string())),
        (Value::Str(s), Value::Regex(re)) => Ok((re.clone(), s.to_string())),
        (Value::Str(s), Value::Str(p)) if c.name == "matches" => {
            Ok((compile_regex(p, false, false, false, c.pos)?, s.to_string()))
        }
        _ => Err(c.nomatch_types(&[a, b])),
    }
}

/// The scope a regex selector sees: `$1` (= `$`) is the whole match as
/// `{value, start, end}`, `$2..` the groups, `$name` the named groups.
fn publish_match<'a>(c: &Call<'a, '_>, s: &str, groups: &Groups, re: &RegexVal) -> Rc<Scope<'a>> {
    let rec = |m: Option<(usize, usize)>| -> Value<'a> {
        match m {
            Some((x, y)) => dict_of(vec![
                (Value::str("value"), Value::string(s[x..y].to_string())),
                (
                    Value::str("start"),
                    Value::Int(s[..x].chars().count() as i128),
                ),
                (
                    Value::str("end"),
                    Value::Int(s[..y].chars().count() as i128),
                ),
            ]),
            None => dict_of(vec![
                (Value::str("value"), Value::Null),
                (Value::str("start"), Value::Int(-1)),
                (Value::str("end"), Value::Int(-1)),
            ]),
        }
    };
    let mut scope = Scope::child(c.sc);
    for g in groups {
        scope.pos.push(rec(*g));
    }
    for (i, name) in re.names.iter().enumerate() {
        if let Some(name) = name {
            scope
                .vars
                .push((name.as_str().into(), rec(groups.get(i).copied().flatten())));
        }
    }
    Rc::new(scope)
}

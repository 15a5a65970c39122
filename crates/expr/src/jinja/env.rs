//! The two Jinja environments (Orquesta workflows, StackStorm `render_values`) and the Jinja2
//! filters, tests and Python methods whose behaviour differs from minijinja's built-ins.
//!
//! Filters that only move data around are implemented on JSON values (the data in a workflow
//! context is JSON anyway); the hot ones (`join`, `map`, `select*`, `upper`) stay on minijinja
//! values so a render does not convert the context.

use super::convert::{py_err, py_repr, py_str, to_json, undefined_err, write_py_str};
use super::pyops::{self, num, tname, Num};
use crate::functions;
use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value as Json;
use std::cmp::Ordering;

/// Instruction budget per evaluation: generous for real templates, fatal for runaway loops.
pub const FUEL: u64 = 5_000_000;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Orquesta,
    St2,
}

pub fn build(flavor: Flavor) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(200);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(undefined_err());
        }
        if let Some(s) = value.as_str() {
            out.write_str(s).map_err(Error::from)?;
            return Ok(());
        }
        let mut s = String::new();
        write_py_str(&mut s, value)?;
        out.write_str(&s).map_err(Error::from)
    });
    env.set_unknown_method_callback(|_state, value, name, args| {
        super::methods::call(value, name, args)
    });

    // Python operators (see compile.rs)
    env.add_function("__py_add", pyops::add);
    env.add_function("__py_sub", pyops::sub);
    env.add_function("__py_mul", pyops::mul);
    env.add_function("__py_div", pyops::div);
    env.add_function("__py_floordiv", pyops::floordiv);
    env.add_function("__py_mod", pyops::modulo);
    env.add_function("__py_pow", pyops::pow);
    env.add_function("__py_concat", pyops::concat);
    env.add_function("__py_cmp", pyops::compare_chain);
    env.add_function("__py_tuple", pyops::tuple);
    env.add_global("__py_undef", Value::from_object(pyops::CondUndefined));

    add_filters(&mut env);
    add_tests(&mut env);

    match flavor {
        Flavor::Orquesta => {
            env.add_function("ctx", super::ctx_function);
            for name in functions::NAMES {
                if !functions::is_orquesta_function(name) || *name == "ctx" {
                    continue;
                }
                env.add_function(*name, move |args: Rest<Value>| {
                    super::call_shared(name, None, &args)
                });
                env.add_filter(*name, move |value: Value, args: Rest<Value>| {
                    super::call_shared(name, Some(value), &args)
                });
            }
        }
        Flavor::St2 => {
            for name in functions::NAMES {
                if !functions::is_st2_filter(name) {
                    continue;
                }
                env.add_filter(*name, move |value: Value, args: Rest<Value>| {
                    super::call_shared(name, Some(value), &args)
                });
            }
            env.add_test("in", |item: Value, container: Value| {
                pyops::contains(&container, &item)
            });
        }
    }
    env
}

/// Positional arguments and keyword arguments of a filter/function call.
/// Positional arguments, then keyword arguments.
pub type SplitArgs = (Vec<Value>, Vec<(String, Value)>);

pub fn split_args(args: &[Value]) -> Result<SplitArgs, Error> {
    let mut pos: Vec<Value> = args.to_vec();
    let mut kw = Vec::new();
    if pos.last().is_some_and(|v| v.is_kwargs()) {
        let k = pos.pop().unwrap_or_default();
        for key in k.try_iter()? {
            let val = k.get_item(&key)?;
            kw.push((key.as_str().unwrap_or_default().to_string(), val));
        }
    }
    Ok((pos, kw))
}

/// Binds positional and keyword arguments to parameter names (Python call rules).
fn bind(fname: &str, params: &[&str], args: &[Value]) -> Result<Vec<Option<Value>>, Error> {
    let (pos, kw) = split_args(args)?;
    if pos.len() > params.len() {
        return Err(py_err(
            "TypeError",
            format!(
                "{fname}() takes at most {} arguments ({} given)",
                params.len(),
                pos.len()
            ),
        ));
    }
    let mut out: Vec<Option<Value>> = pos.into_iter().map(Some).collect();
    out.resize(params.len(), None);
    for (k, v) in kw {
        let i = params.iter().position(|p| *p == k).ok_or_else(|| {
            py_err(
                "TypeError",
                format!("{fname}() got an unexpected keyword argument '{k}'"),
            )
        })?;
        out[i] = Some(v);
    }
    Ok(out)
}

fn opt_true(v: &Option<Value>) -> bool {
    v.as_ref().is_some_and(|v| v.is_true())
}

fn j(v: &Value) -> Result<Json, Error> {
    to_json(v)
}

/// Python iteration of a value as Jinja2 filters do it (`list(value)`).
fn py_list(v: &Value) -> Result<Vec<Value>, Error> {
    match v.kind() {
        ValueKind::Undefined => Err(undefined_err()),
        ValueKind::String => Ok(v
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(|c| Value::from(c.to_string()))
            .collect()),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => Ok(v.try_iter()?.collect()),
        _ => Err(py_err(
            "TypeError",
            format!("'{}' object is not iterable", tname(v)),
        )),
    }
}

/// Jinja2's `make_attrgetter`: dotted paths, integer path parts index lists.
fn attr_get(item: &Value, path: &str) -> Result<Value, Error> {
    let mut cur = item.clone();
    for part in path.split('.') {
        let next = match part.parse::<i64>() {
            Ok(i) if cur.kind() == ValueKind::Seq => cur.get_item(&Value::from(i))?,
            _ => cur.get_attr(part)?,
        };
        cur = next;
    }
    Ok(cur)
}

fn fold_case(v: Value, case_sensitive: bool) -> Value {
    if !case_sensitive {
        if let Some(s) = v.as_str() {
            return Value::from(s.to_lowercase());
        }
    }
    v
}

fn py_cmp(a: &Value, b: &Value) -> Result<Ordering, Error> {
    pyops::order(a, b, "<")
}

fn add_filters(env: &mut Environment<'static>) {
    env.add_filter("string", |v: Value| -> Result<Value, Error> {
        if v.is_safe() {
            return Ok(v);
        }
        Ok(Value::from(py_str(&v)?))
    });
    env.add_filter("pprint", |v: Value| -> Result<Value, Error> {
        Ok(Value::from(py_repr(&v)?))
    });
    env.add_filter(
        "join",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("join", &["d", "attribute"], &args)?;
            let sep = match &a[0] {
                Some(s) => py_str(s)?,
                None => String::new(),
            };
            let mut out = String::new();
            for (i, item) in py_list(&v)?.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                let item = match &a[1] {
                    Some(attr) => attr_get(&item, &py_str(attr)?)?,
                    None => item,
                };
                write_py_str(&mut out, &item)?;
            }
            Ok(Value::from(out))
        },
    );
    for name in ["escape", "e", "forceescape"] {
        env.add_filter(name, |v: Value| -> Result<Value, Error> {
            if v.is_safe() {
                return Ok(v);
            }
            Ok(Value::from_safe_string(html_escape(&py_str(&v)?)))
        });
    }
    env.add_filter("list", |v: Value| -> Result<Value, Error> {
        Ok(Value::from(py_list(&v)?))
    });
    env.add_filter("first", |v: Value| -> Result<Value, Error> {
        Ok(py_list(&v)?.into_iter().next().unwrap_or(Value::UNDEFINED))
    });
    env.add_filter("last", |v: Value| -> Result<Value, Error> {
        if v.kind() == ValueKind::Iterable {
            return Err(py_err("TypeError", "'generator' object is not reversible"));
        }
        Ok(py_list(&v)?.into_iter().last().unwrap_or(Value::UNDEFINED))
    });
    env.add_filter("length", length);
    env.add_filter("count", length);
    env.add_filter(
        "int",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("int", &["default", "base"], &args)?;
            let default = a[0].clone().unwrap_or(Value::from(0));
            let base = match &a[1] {
                Some(b) => num(b).map(|n| match n {
                    Num::Int(i) => i as u32,
                    Num::Float(f) => f as u32,
                }),
                None => Some(10),
            }
            .unwrap_or(10);
            Ok(to_int(&v, base).unwrap_or(default))
        },
    );
    env.add_filter(
        "float",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("float", &["default"], &args)?;
            let default = a[0].clone().unwrap_or(Value::from(0.0));
            Ok(match num(&v) {
                Some(Num::Int(i)) => Value::from(i as f64),
                Some(Num::Float(f)) => Value::from(f),
                None => match v.as_str().and_then(parse_py_float) {
                    Some(f) => Value::from(f),
                    None => default,
                },
            })
        },
    );
    env.add_filter(
        "round",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("round", &["precision", "method"], &args)?;
            let precision = match &a[0] {
                Some(p) => match num(p) {
                    Some(Num::Int(i)) => i as i32,
                    _ => return Err(py_err("TypeError", "precision must be an integer")),
                },
                None => 0,
            };
            let method = match &a[1] {
                Some(m) => py_str(m)?,
                None => "common".into(),
            };
            let f = match num(&v) {
                Some(Num::Int(i)) => i as f64,
                Some(Num::Float(f)) => f,
                None => {
                    return Err(py_err(
                        "TypeError",
                        format!("type {} doesn't define __round__ method", tname(&v)),
                    ))
                }
            };
            let m = 10f64.powi(precision);
            let r = match method.as_str() {
                "common" => py_round(f, precision),
                "floor" => (f * m).floor() / m,
                "ceil" => (f * m).ceil() / m,
                _ => {
                    return Err(py_err(
                        "FilterArgumentError",
                        "method must be common, ceil or floor",
                    ))
                }
            };
            Ok(Value::from(r))
        },
    );
    env.add_filter(
        "sum",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("sum", &["attribute", "start"], &args)?;
            let mut acc = a[1].clone().unwrap_or(Value::from(0));
            for item in py_list(&v)? {
                let item = match &a[0] {
                    Some(attr) => attr_get(&item, &py_str(attr)?)?,
                    None => item,
                };
                acc = pyops::add(acc, item)?;
            }
            Ok(acc)
        },
    );
    env.add_filter("min", |v: Value, args: Rest<Value>| min_max(v, args, false));
    env.add_filter("max", |v: Value, args: Rest<Value>| min_max(v, args, true));
    env.add_filter(
        "sort",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("sort", &["reverse", "case_sensitive", "attribute"], &args)?;
            let reverse = opt_true(&a[0]);
            let cs = opt_true(&a[1]);
            let attrs: Vec<String> = match &a[2] {
                Some(x) => py_str(x)?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .collect(),
                None => vec![],
            };
            let items = py_list(&v)?;
            let mut keyed: Vec<(Vec<Value>, Value)> = Vec::with_capacity(items.len());
            for item in items {
                let keys = if attrs.is_empty() {
                    vec![fold_case(item.clone(), cs)]
                } else {
                    attrs
                        .iter()
                        .map(|p| attr_get(&item, p).map(|k| fold_case(k, cs)))
                        .collect::<Result<_, _>>()?
                };
                keyed.push((keys, item));
            }
            let mut err = None;
            keyed.sort_by(|x, y| {
                for (p, q) in x.0.iter().zip(y.0.iter()) {
                    match py_cmp(p, q) {
                        Ok(Ordering::Equal) => continue,
                        Ok(o) => return if reverse { o.reverse() } else { o },
                        Err(e) => {
                            err.get_or_insert(e);
                            return Ordering::Equal;
                        }
                    }
                }
                Ordering::Equal
            });
            if let Some(e) = err {
                return Err(e);
            }
            Ok(Value::from(
                keyed.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            ))
        },
    );
    env.add_filter(
        "unique",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("unique", &["case_sensitive", "attribute"], &args)?;
            let cs = opt_true(&a[0]);
            let mut seen: Vec<Value> = Vec::new();
            let mut out = Vec::new();
            for item in py_list(&v)? {
                let key = match &a[1] {
                    Some(attr) => attr_get(&item, &py_str(attr)?)?,
                    None => item.clone(),
                };
                let key = fold_case(key, cs);
                if !seen.iter().any(|s| pyops::eq(s, &key)) {
                    seen.push(key);
                    out.push(item);
                }
            }
            Ok(Value::from(out))
        },
    );
    env.add_filter(
        "dictsort",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("dictsort", &["case_sensitive", "by", "reverse"], &args)?;
            let cs = opt_true(&a[0]);
            let by_value = match &a[1] {
                Some(b) => match py_str(b)?.as_str() {
                    "key" => false,
                    "value" => true,
                    _ => {
                        return Err(py_err(
                            "FilterArgumentError",
                            "You can only sort by either \"key\" or \"value\"",
                        ))
                    }
                },
                None => false,
            };
            let reverse = opt_true(&a[2]);
            let pairs = items_of(&v)?;
            let mut err = None;
            let mut pairs = pairs;
            pairs.sort_by(|x, y| {
                let (p, q) = if by_value { (&x.1, &y.1) } else { (&x.0, &y.0) };
                match py_cmp(&fold_case(p.clone(), cs), &fold_case(q.clone(), cs)) {
                    Ok(o) => {
                        if reverse {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                    Err(e) => {
                        err.get_or_insert(e);
                        Ordering::Equal
                    }
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            Ok(Value::from(
                pairs
                    .into_iter()
                    .map(|(k, v)| Value::from(vec![k, v]))
                    .collect::<Vec<_>>(),
            ))
        },
    );
    env.add_filter("items", |v: Value| -> Result<Value, Error> {
        if v.kind() != ValueKind::Map {
            if v.is_undefined() {
                return Err(undefined_err());
            }
            return Err(py_err(
                "TypeError",
                "Can only get item pairs from a mapping.",
            ));
        }
        Ok(Value::from(
            items_of(&v)?
                .into_iter()
                .map(|(k, v)| Value::from(vec![k, v]))
                .collect::<Vec<_>>(),
        ))
    });
    env.add_filter(
        "tojson",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("tojson", &["indent"], &args)?;
            let indent = match &a[0] {
                Some(i) if !i.is_none() => Some(" ".repeat(match num(i) {
                    Some(Num::Int(n)) => n.max(0) as usize,
                    _ => 0,
                })),
                _ => None,
            };
            let opts = functions::JsonOpts {
                indent: indent.as_deref(),
                sort_keys: true,
                item_sep: if indent.is_some() { "," } else { ", " },
                key_sep: ": ",
                ensure_ascii: true,
            };
            let s = functions::py_json_dumps(&j(&v)?, &opts)
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
                .replace('\'', "\\u0027");
            Ok(Value::from_safe_string(s))
        },
    );
    env.add_filter(
        "trim",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("trim", &["chars"], &args)?;
            let s = py_str(&v)?;
            Ok(Value::from(match &a[0] {
                Some(c) if !c.is_none() => {
                    let chars: Vec<char> = py_str(c)?.chars().collect();
                    s.trim_matches(|x| chars.contains(&x)).to_string()
                }
                _ => s.trim().to_string(),
            }))
        },
    );
    env.add_filter(
        "truncate",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("truncate", &["length", "killwords", "end", "leeway"], &args)?;
            let s = py_str(&v)?;
            let length = a[0].as_ref().and_then(num).map(|n| match n {
                Num::Int(i) => i as usize,
                Num::Float(f) => f as usize,
            });
            let length = length.unwrap_or(255);
            let killwords = opt_true(&a[1]);
            let end = match &a[2] {
                Some(e) => py_str(e)?,
                None => "...".into(),
            };
            let leeway = match a[3].as_ref().and_then(num) {
                Some(Num::Int(i)) => i as usize,
                _ => 5,
            };
            let n = s.chars().count();
            if n <= length + leeway {
                return Ok(Value::from(s));
            }
            let keep = length.saturating_sub(end.chars().count());
            let head: String = s.chars().take(keep).collect();
            if killwords {
                return Ok(Value::from(head + &end));
            }
            let cut = match head.rfind(' ') {
                Some(i) => head[..i].to_string(),
                None => head,
            };
            Ok(Value::from(cut + &end))
        },
    );
    env.add_filter("wordcount", |v: Value| -> Result<Value, Error> {
        let s = py_str(&v)?;
        Ok(Value::from(
            s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .count(),
        ))
    });
    env.add_filter(
        "wordwrap",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind(
                "wordwrap",
                &[
                    "width",
                    "break_long_words",
                    "wrapstring",
                    "break_on_hyphens",
                ],
                &args,
            )?;
            let width = match a[0].as_ref().and_then(num) {
                Some(Num::Int(i)) => i.max(1) as usize,
                _ => 79,
            };
            let wrap = match &a[2] {
                Some(w) => py_str(w)?,
                None => "\n".into(),
            };
            let s = py_str(&v)?;
            let mut lines: Vec<String> = Vec::new();
            for para in s.split('\n') {
                let mut line = String::new();
                for word in para.split_whitespace() {
                    if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                        lines.push(std::mem::take(&mut line));
                    }
                    if !line.is_empty() {
                        line.push(' ');
                    }
                    line.push_str(word);
                }
                lines.push(line);
            }
            Ok(Value::from(lines.join(&wrap)))
        },
    );
    env.add_filter("striptags", |v: Value| -> Result<Value, Error> {
        let s = py_str(&v)?;
        let mut out = String::new();
        let mut in_tag = false;
        for c in s.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        let joined = out.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Value::from(
            joined
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        ))
    });
    env.add_filter(
        "center",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("center", &["width"], &args)?;
            let width = match a[0].as_ref().and_then(num) {
                Some(Num::Int(i)) => i.max(0) as usize,
                _ => 80,
            };
            Ok(Value::from(py_center(&py_str(&v)?, width, ' ')))
        },
    );
    env.add_filter(
        "filesizeformat",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("filesizeformat", &["binary"], &args)?;
            let binary = opt_true(&a[0]);
            let bytes = match num(&v) {
                Some(Num::Int(i)) => i as f64,
                Some(Num::Float(f)) => f,
                None => v
                    .as_str()
                    .and_then(parse_py_float)
                    .ok_or_else(|| py_err("ValueError", "could not convert string to float"))?,
            };
            let base: f64 = if binary { 1024.0 } else { 1000.0 };
            let prefixes = if binary {
                ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
            } else {
                ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
            };
            if bytes == 1.0 {
                return Ok(Value::from("1 Byte"));
            }
            if bytes < base {
                return Ok(Value::from(format!("{} Bytes", bytes as i64)));
            }
            let mut unit = base;
            for (i, p) in prefixes.iter().enumerate() {
                unit = base.powi(i as i32 + 2);
                if bytes < unit {
                    return Ok(Value::from(format!("{:.1} {p}", base * bytes / unit)));
                }
            }
            Ok(Value::from(format!(
                "{:.1} {}",
                base * bytes / unit,
                prefixes[7]
            )))
        },
    );
    env.add_filter("random", |v: Value| -> Result<Value, Error> {
        let items = py_list(&v)?;
        if items.is_empty() {
            return Err(py_err("IndexError", "Cannot choose from an empty sequence"));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as usize)
            .unwrap_or(0);
        Ok(items[nanos % items.len()].clone())
    });
    env.add_filter("urlencode", |v: Value| -> Result<Value, Error> {
        if v.kind() == ValueKind::Map {
            let mut parts = Vec::new();
            for (k, x) in items_of(&v)? {
                parts.push(format!(
                    "{}={}",
                    url_quote(&py_str(&k)?, true),
                    url_quote(&py_str(&x)?, true)
                ));
            }
            return Ok(Value::from(parts.join("&")));
        }
        Ok(Value::from(url_quote(&py_str(&v)?, false)))
    });
    env.add_filter(
        "format",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let (pos, kw) = split_args(&args)?;
            let fmt = py_str(&v)?;
            let s = if !kw.is_empty() {
                let map: Value = kw
                    .into_iter()
                    .collect::<std::collections::BTreeMap<String, Value>>()
                    .into();
                pyops::percent_format(&fmt, &map)?
            } else {
                pyops::percent_format(&fmt, &Value::from(pos))?
            };
            Ok(Value::from(s))
        },
    );
    env.add_filter(
        "xmlattr",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("xmlattr", &["autospace"], &args)?;
            let autospace = a[0].as_ref().map(|x| x.is_true()).unwrap_or(true);
            let mut parts = Vec::new();
            for (k, x) in items_of(&v)? {
                if x.is_none() || x.is_undefined() {
                    continue;
                }
                let k = py_str(&k)?;
                if k.chars().any(|c| c.is_whitespace() || "/>=".contains(c)) {
                    return Err(py_err(
                        "ValueError",
                        format!("Invalid character in attribute name: {k:?}"),
                    ));
                }
                parts.push(format!("{}=\"{}\"", k, html_escape(&py_str(&x)?)));
            }
            let mut s = parts.join(" ");
            if autospace && !s.is_empty() {
                s.insert(0, ' ');
            }
            Ok(Value::from_safe_string(s))
        },
    );
    env.add_filter(
        "replace",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("replace", &["old", "new", "count"], &args)?;
            let s = py_str(&v)?;
            let old = py_str(
                a[0].as_ref()
                    .ok_or_else(|| py_err("TypeError", "replace() missing 'old'"))?,
            )?;
            let new = py_str(
                a[1].as_ref()
                    .ok_or_else(|| py_err("TypeError", "replace() missing 'new'"))?,
            )?;
            Ok(Value::from(match a[2].as_ref().and_then(num) {
                Some(Num::Int(n)) if n >= 0 => s.replacen(&old, &new, n as usize),
                _ => s.replace(&old, &new),
            }))
        },
    );
    env.add_filter("reverse", |v: Value| -> Result<Value, Error> {
        if let Some(s) = v.as_str() {
            return Ok(Value::from(s.chars().rev().collect::<String>()));
        }
        let mut items = py_list(&v)?;
        items.reverse();
        Ok(Value::from(items))
    });
    env.add_filter("attr", |v: Value, _name: Value| -> Result<Value, Error> {
        // The sandbox only exposes attributes of Python objects; JSON data has none.
        if v.is_undefined() {
            return Err(undefined_err());
        }
        Ok(Value::UNDEFINED)
    });
    env.add_filter(
        "default",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("default", &["default_value", "boolean"], &args)?;
            let dflt = a[0].clone().unwrap_or(Value::from(""));
            if v.is_undefined() || (opt_true(&a[1]) && !v.is_true()) {
                Ok(dflt)
            } else {
                Ok(v)
            }
        },
    );
    env.add_filter("d", |v: Value, args: Rest<Value>| -> Result<Value, Error> {
        let a = bind("default", &["default_value", "boolean"], &args)?;
        let dflt = a[0].clone().unwrap_or(Value::from(""));
        if v.is_undefined() || (opt_true(&a[1]) && !v.is_true()) {
            Ok(dflt)
        } else {
            Ok(v)
        }
    });
    env.add_filter("capitalize", |v: Value| -> Result<Value, Error> {
        let s = py_str(&v)?;
        let mut c = s.chars();
        Ok(Value::from(match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
            None => String::new(),
        }))
    });
    env.add_filter("title", |v: Value| -> Result<Value, Error> {
        Ok(Value::from(super::methods::py_title(&py_str(&v)?)))
    });
    env.add_filter("upper", |v: Value| -> Result<Value, Error> {
        if let Some(s) = v.as_str() {
            return Ok(Value::from(s.to_uppercase()));
        }
        Ok(Value::from(py_str(&v)?.to_uppercase()))
    });
    env.add_filter("lower", |v: Value| -> Result<Value, Error> {
        if let Some(s) = v.as_str() {
            return Ok(Value::from(s.to_lowercase()));
        }
        Ok(Value::from(py_str(&v)?.to_lowercase()))
    });
    env.add_filter("abs", |v: Value| -> Result<Value, Error> {
        match num(&v) {
            Some(Num::Int(i)) => Ok(Value::from(i.abs() as i64)),
            Some(Num::Float(f)) => Ok(Value::from(f.abs())),
            None => Err(py_err(
                "TypeError",
                format!("bad operand type for abs(): '{}'", tname(&v)),
            )),
        }
    });
    env.add_filter(
        "batch",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("batch", &["linecount", "fill_with"], &args)?;
            let n = match a[0].as_ref().and_then(num) {
                Some(Num::Int(i)) if i > 0 => i as usize,
                _ => return Err(py_err("ValueError", "batch size must be positive")),
            };
            let mut out: Vec<Value> = Vec::new();
            let items = py_list(&v)?;
            for chunk in items.chunks(n) {
                let mut c = chunk.to_vec();
                if let Some(fill) = &a[1] {
                    while c.len() < n {
                        c.push(fill.clone());
                    }
                }
                out.push(Value::from(c));
            }
            Ok(Value::from(out))
        },
    );
    env.add_filter(
        "slice",
        |v: Value, args: Rest<Value>| -> Result<Value, Error> {
            let a = bind("slice", &["slices", "fill_with"], &args)?;
            let slices = match a[0].as_ref().and_then(num) {
                Some(Num::Int(i)) if i > 0 => i as usize,
                _ => return Err(py_err("ValueError", "slices must be positive")),
            };
            let items = py_list(&v)?;
            let per = items.len() / slices;
            let extra = items.len() % slices;
            let mut offset = 0;
            let mut out = Vec::new();
            for i in 0..slices {
                let start = offset + i * per;
                if i < extra {
                    offset += 1;
                }
                let end = offset + (i + 1) * per;
                let mut chunk = items[start.min(items.len())..end.min(items.len())].to_vec();
                if let Some(fill) = &a[1] {
                    if i >= extra && extra > 0 {
                        chunk.push(fill.clone());
                    }
                }
                out.push(Value::from(chunk));
            }
            Ok(Value::from(out))
        },
    );
}

fn length(v: Value) -> Result<Value, Error> {
    match v.kind() {
        ValueKind::Undefined => Err(undefined_err()),
        ValueKind::String => Ok(Value::from(v.as_str().unwrap_or_default().chars().count())),
        ValueKind::Seq | ValueKind::Map => v
            .len()
            .map(Value::from)
            .ok_or_else(|| py_err("TypeError", "object has no len()")),
        _ => Err(py_err(
            "TypeError",
            format!("object of type '{}' has no len()", tname(&v)),
        )),
    }
}

fn items_of(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if v.kind() != ValueKind::Map {
        if v.is_undefined() {
            return Err(undefined_err());
        }
        return Err(py_err(
            "TypeError",
            format!("'{}' object has no attribute 'items'", tname(v)),
        ));
    }
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let x = v.get_item(&k)?;
        out.push((k, x));
    }
    Ok(out)
}

fn min_max(v: Value, args: Rest<Value>, max: bool) -> Result<Value, Error> {
    let name = if max { "max" } else { "min" };
    let a = bind(name, &["case_sensitive", "attribute"], &args)?;
    let cs = opt_true(&a[0]);
    let mut best: Option<(Value, Value)> = None;
    for item in py_list(&v)? {
        let key = match &a[1] {
            Some(attr) => attr_get(&item, &py_str(attr)?)?,
            None => item.clone(),
        };
        let key = fold_case(key, cs);
        let replace = match &best {
            None => true,
            Some((bk, _)) => {
                let o = py_cmp(&key, bk)?;
                if max {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                }
            }
        };
        if replace {
            best = Some((key, item));
        }
    }
    Ok(best.map(|(_, v)| v).unwrap_or(Value::UNDEFINED))
}

/// Python's round(x, n) for floats: ties to even at the requested precision.
fn py_round(f: f64, precision: i32) -> f64 {
    if precision == 0 {
        return functions::round_half_even(f);
    }
    // Python rounds the exact binary value; formatting with the precision does the same.
    if precision > 0 {
        let s = format!("{:.*}", precision as usize, f);
        return s.parse().unwrap_or(f);
    }
    let m = 10f64.powi(-precision);
    functions::round_half_even(f / m) * m
}

fn to_int(v: &Value, base: u32) -> Option<Value> {
    match num(v) {
        Some(Num::Int(i)) => return Some(Value::from(i as i64)),
        Some(Num::Float(f)) => return Some(Value::from(f.trunc() as i64)),
        None => {}
    }
    let s = v.as_str()?.trim();
    let lower = s.to_lowercase();
    let (neg, body) = match lower.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, lower.trim_start_matches('+').to_string()),
    };
    let body = body.replace('_', "");
    let parsed = if base == 0 || base == 16 || base == 8 || base == 2 {
        let (radix, digits) = if let Some(d) = body.strip_prefix("0x") {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0o") {
            (8, d)
        } else if let Some(d) = body.strip_prefix("0b") {
            (2, d)
        } else {
            (if base == 0 { 10 } else { base }, body.as_str())
        };
        if base != 0 && radix != base {
            None
        } else {
            i64::from_str_radix(digits, radix).ok()
        }
    } else {
        i64::from_str_radix(&body, base).ok()
    };
    match parsed {
        Some(i) => Some(Value::from(if neg { -i } else { i })),
        // Jinja2 falls back to int(float(s))
        None => parse_py_float(s).map(|f| Value::from(f.trunc() as i64)),
    }
}

/// Python `float(str)`.
pub fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim().replace('_', "");
    let lower = t.to_lowercase();
    match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" | "nan" => return None,
        _ => {}
    }
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) {
        return None;
    }
    t.parse().ok()
}

fn py_center(s: &str, width: usize, fill: char) -> String {
    let n = s.chars().count();
    if width <= n {
        return s.to_string();
    }
    let marg = width - n;
    // CPython: left = marg / 2 + (marg & width & 1)
    let left = marg / 2 + (marg & width & 1);
    let right = marg - left;
    let f = fill.to_string();
    format!("{}{}{}", f.repeat(left), s, f.repeat(right))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn url_quote(s: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b'/' if !plus => out.push('/'),
            b' ' if plus => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Jinja2's built-in filter names (for the `filter` test).
const JINJA_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "center",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "forceescape",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "random",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "xmlattr",
];

/// Jinja2's built-in test names (for the `test` test).
const JINJA_TESTS: &[&str] = &[
    "boolean",
    "callable",
    "defined",
    "divisibleby",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "sameas",
    "sequence",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
];

fn add_tests(env: &mut Environment<'static>) {
    env.add_test("number", |v: Value| num(&v).is_some());
    env.add_test("integer", |v: Value| {
        v.kind() == ValueKind::Number && v.is_integer()
    });
    env.add_test("float", |v: Value| {
        v.kind() == ValueKind::Number && !v.is_integer()
    });
    env.add_test("boolean", |v: Value| v.kind() == ValueKind::Bool);
    env.add_test("string", |v: Value| v.kind() == ValueKind::String);
    env.add_test("mapping", |v: Value| v.kind() == ValueKind::Map);
    env.add_test("sequence", |v: Value| {
        matches!(
            v.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Map
        )
    });
    env.add_test("iterable", |v: Value| {
        matches!(
            v.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
        )
    });
    env.add_test("callable", |v: Value| {
        v.kind() == ValueKind::Plain
            && v.as_object().is_some()
            && !format!("{v:?}").is_empty()
            && v.downcast_object_ref::<super::st2kv::KvLookup>().is_none()
    });
    env.add_test("escaped", |v: Value| v.is_safe());
    env.add_test("none", |v: Value| v.is_none());
    env.add_test("true", |v: Value| {
        v.kind() == ValueKind::Bool && v.is_true()
    });
    env.add_test("false", |v: Value| {
        v.kind() == ValueKind::Bool && !v.is_true()
    });
    env.add_test("defined", |v: Value| !v.is_undefined());
    env.add_test("undefined", |v: Value| v.is_undefined());
    env.add_test("odd", |v: Value| -> Result<bool, Error> {
        match num(&v) {
            Some(Num::Int(i)) => Ok(i.rem_euclid(2) == 1),
            Some(Num::Float(f)) => Ok(f.rem_euclid(2.0) == 1.0),
            None => Err(py_err(
                "TypeError",
                "not all arguments converted during string formatting",
            )),
        }
    });
    env.add_test("even", |v: Value| -> Result<bool, Error> {
        match num(&v) {
            Some(Num::Int(i)) => Ok(i.rem_euclid(2) == 0),
            Some(Num::Float(f)) => Ok(f.rem_euclid(2.0) == 0.0),
            None => Err(py_err(
                "TypeError",
                "not all arguments converted during string formatting",
            )),
        }
    });
    env.add_test("divisibleby", |v: Value, d: Value| -> Result<bool, Error> {
        let r = pyops::modulo(v, d)?;
        Ok(num(&r).is_some_and(|n| match n {
            Num::Int(i) => i == 0,
            Num::Float(f) => f == 0.0,
        }))
    });
    env.add_test("lower", |v: Value| -> Result<bool, Error> {
        let s = py_str(&v)?;
        Ok(s.chars().any(|c| c.is_lowercase()) && !s.chars().any(|c| c.is_uppercase()))
    });
    env.add_test("upper", |v: Value| -> Result<bool, Error> {
        let s = py_str(&v)?;
        Ok(s.chars().any(|c| c.is_uppercase()) && !s.chars().any(|c| c.is_lowercase()))
    });
    env.add_test("sameas", |v: Value, other: Value| -> bool {
        match (v.kind(), other.kind()) {
            (ValueKind::None, ValueKind::None) => true,
            (ValueKind::Bool, ValueKind::Bool) => v.is_true() == other.is_true(),
            // small ints and interned strings are identical objects in CPython
            (ValueKind::Number, ValueKind::Number) => {
                v.is_integer() && other.is_integer() && v == other
            }
            _ => false,
        }
    });
    env.add_test("in", |item: Value, container: Value| {
        pyops::contains(&container, &item)
    });
    env.add_test("filter", |v: Value| -> bool {
        v.as_str()
            .is_some_and(|n| JINJA_FILTERS.contains(&n) || functions::NAMES.contains(&n))
    });
    env.add_test("test", |v: Value| -> bool {
        v.as_str().is_some_and(|n| JINJA_TESTS.contains(&n))
    });
    let eq = |a: Value, b: Value| pyops::eq(&a, &b);
    let ne = |a: Value, b: Value| !pyops::eq(&a, &b);
    for n in ["eq", "equalto", "=="] {
        env.add_test(n, eq);
    }
    for n in ["ne", "!="] {
        env.add_test(n, ne);
    }
    fn ord_test(op: &'static str) -> impl Fn(Value, Value) -> Result<bool, Error> + Send + Sync {
        move |a: Value, b: Value| {
            let o = pyops::order(&a, &b, op)?;
            Ok(match op {
                "<" => o == Ordering::Less,
                "<=" => o != Ordering::Greater,
                ">" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
    }
    for (n, op) in [
        ("lt", "<"),
        ("lessthan", "<"),
        ("<", "<"),
        ("le", "<="),
        ("<=", "<="),
        ("gt", ">"),
        ("greaterthan", ">"),
        (">", ">"),
        ("ge", ">="),
        (">=", ">="),
    ] {
        env.add_test(n, ord_test(op));
    }
}

/// Keyword arguments of a call as JSON pairs (for the shared functions).
pub fn kwargs_json(kw: &[(String, Value)]) -> Result<Vec<(String, Json)>, Error> {
    kw.iter().map(|(k, v)| Ok((k.clone(), j(v)?))).collect()
}

pub fn mj_error(e: crate::Error) -> Error {
    let msg = match e {
        crate::Error::Evaluation(m) | crate::Error::Jinja(m) | crate::Error::Yaql(m) => m,
        other => other.to_string(),
    };
    Error::new(ErrorKind::InvalidOperation, msg)
}

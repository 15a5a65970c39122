//! Python methods on `str`, `dict` and `list` values (`'a b'.split()`, `d.items()`, ...), as
//! Jinja2's sandbox lets templates call them. Mutating methods return `None` without mutating:
//! the sandbox result is discarded by orquesta anyway and our context values are shared.

use super::convert::{py_err, py_repr, py_str};
use super::env::split_args;
use super::pyops::{self, num, tname, Num};
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

fn unknown(value: &Value, name: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!(
            "AttributeError: '{}' object has no attribute '{name}'",
            tname(value)
        ),
    )
}

fn arg_str(args: &[Value], i: usize) -> Result<Option<String>, Error> {
    match args.get(i) {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(py_err(
                "TypeError",
                format!("must be str, not {}", tname(v)),
            )),
        },
    }
}

fn arg_int(args: &[Value], i: usize) -> Result<Option<i64>, Error> {
    match args.get(i) {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => match num(v) {
            Some(Num::Int(n)) => Ok(Some(n as i64)),
            _ => Err(py_err(
                "TypeError",
                format!("'{}' object cannot be interpreted as an integer", tname(v)),
            )),
        },
    }
}

/// Character index → byte offset helpers for Python's code-point indexing.
fn char_index(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

pub fn call(value: &Value, name: &str, args: &[Value]) -> Result<Value, Error> {
    let (args, kwargs) = split_args(args)?;
    if !kwargs.is_empty() && name != "format" {
        return Err(py_err(
            "TypeError",
            format!("{name}() takes no keyword arguments"),
        ));
    }
    match value.kind() {
        ValueKind::String => str_method(value.as_str().unwrap_or_default(), name, &args, &kwargs)
            .unwrap_or_else(|| Err(unknown(value, name))),
        ValueKind::Map => {
            map_method(value, name, &args).unwrap_or_else(|| Err(unknown(value, name)))
        }
        ValueKind::Seq => {
            seq_method(value, name, &args).unwrap_or_else(|| Err(unknown(value, name)))
        }
        ValueKind::Number => match name {
            "is_integer" if !value.is_integer() => {
                let f = f64::try_from(value.clone()).unwrap_or(f64::NAN);
                Ok(Value::from(f.fract() == 0.0))
            }
            _ => Err(unknown(value, name)),
        },
        _ => Err(unknown(value, name)),
    }
}

fn map_method(m: &Value, name: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let keys = || -> Result<Vec<Value>, Error> { Ok(m.try_iter()?.collect()) };
    Some((|| match name {
        "keys" => Ok(Value::from(keys()?)),
        "values" => {
            let mut out = Vec::new();
            for k in keys()? {
                out.push(m.get_item(&k)?);
            }
            Ok(Value::from(out))
        }
        "items" => {
            let mut out = Vec::new();
            for k in keys()? {
                let v = m.get_item(&k)?;
                out.push(Value::from(vec![k, v]));
            }
            Ok(Value::from(out))
        }
        "get" => {
            let key = args
                .first()
                .ok_or_else(|| py_err("TypeError", "get expected at least 1 argument, got 0"))?;
            let v = m.get_item(key)?;
            Ok(if v.is_undefined() {
                args.get(1).cloned().unwrap_or(Value::from(()))
            } else {
                v
            })
        }
        "copy" => Ok(m.clone()),
        "update" | "clear" | "setdefault" | "pop" | "popitem" => {
            // Sandboxed mutation of immutable data: Jinja2 returns None for update/clear.
            if matches!(name, "update" | "clear") {
                Ok(Value::from(()))
            } else {
                Err(py_err(
                    "SecurityError",
                    format!("access to attribute '{name}' of 'dict' object is unsafe."),
                ))
            }
        }
        _ => Err(Error::new(ErrorKind::UnknownMethod, "")),
    })())
    .filter(|r| !matches!(r, Err(e) if e.kind() == ErrorKind::UnknownMethod))
}

fn seq_method(l: &Value, name: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let items = || -> Result<Vec<Value>, Error> { Ok(l.try_iter()?.collect()) };
    let r = match name {
        "index" => (|| {
            let x = args
                .first()
                .ok_or_else(|| py_err("TypeError", "index expected at least 1 argument"))?;
            items()?
                .iter()
                .position(|v| pyops::eq(v, x))
                .map(Value::from)
                .ok_or_else(|| {
                    py_err(
                        "ValueError",
                        format!("{} is not in list", py_repr(x).unwrap_or_default()),
                    )
                })
        })(),
        "count" => (|| {
            let x = args
                .first()
                .ok_or_else(|| py_err("TypeError", "count() takes exactly one argument"))?;
            Ok(Value::from(
                items()?.iter().filter(|v| pyops::eq(v, x)).count(),
            ))
        })(),
        "copy" => Ok(l.clone()),
        "append" | "extend" | "insert" | "remove" | "sort" | "reverse" | "clear" => {
            Ok(Value::from(()))
        }
        "pop" => (|| {
            let it = items()?;
            let i = arg_int(args, 0)?.unwrap_or(-1);
            let n = it.len() as i64;
            let j = if i < 0 { n + i } else { i };
            it.get(usize::try_from(j).map_err(|_| py_err("IndexError", "pop index out of range"))?)
                .cloned()
                .ok_or_else(|| py_err("IndexError", "pop from empty list"))
        })(),
        _ => return None,
    };
    Some(r)
}

/// Python `str.title()`.
pub fn py_title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_cased = false;
    for c in s.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

fn strip_with(s: &str, chars: Option<String>, left: bool, right: bool) -> String {
    let pred = |c: char| match &chars {
        Some(cs) => cs.contains(c),
        None => c.is_whitespace(),
    };
    let mut t = s;
    if left {
        t = t.trim_start_matches(pred);
    }
    if right {
        t = t.trim_end_matches(pred);
    }
    t.to_string()
}

fn split(
    s: &str,
    sep: Option<String>,
    maxsplit: Option<i64>,
    right: bool,
) -> Result<Vec<Value>, Error> {
    let max = maxsplit.filter(|m| *m >= 0).map(|m| m as usize);
    let parts: Vec<String> = match sep {
        Some(sep) => {
            if sep.is_empty() {
                return Err(py_err("ValueError", "empty separator"));
            }
            match (max, right) {
                (Some(m), false) => s.splitn(m + 1, sep.as_str()).map(String::from).collect(),
                (Some(m), true) => {
                    let mut v: Vec<String> =
                        s.rsplitn(m + 1, sep.as_str()).map(String::from).collect();
                    v.reverse();
                    v
                }
                (None, _) => s.split(sep.as_str()).map(String::from).collect(),
            }
        }
        None => {
            let words: Vec<&str> = s.split_whitespace().collect();
            match max {
                Some(m) if words.len() > m => {
                    if right {
                        let mut rest = s.trim_end();
                        let mut tail = Vec::new();
                        for _ in 0..m {
                            let idx = rest.rfind(char::is_whitespace).unwrap_or(0);
                            tail.push(rest[idx..].trim().to_string());
                            rest = rest[..idx].trim_end();
                        }
                        tail.push(rest.trim_start().to_string());
                        tail.reverse();
                        tail
                    } else {
                        let mut rest = s.trim_start();
                        let mut head = Vec::new();
                        for _ in 0..m {
                            let idx = rest.find(char::is_whitespace).unwrap_or(rest.len());
                            head.push(rest[..idx].to_string());
                            rest = rest[idx..].trim_start();
                        }
                        head.push(rest.to_string());
                        head
                    }
                }
                _ => words.into_iter().map(String::from).collect(),
            }
        }
    };
    Ok(parts.into_iter().map(Value::from).collect())
}

fn find(s: &str, sub: &str, right: bool) -> i64 {
    let r = if right { s.rfind(sub) } else { s.find(sub) };
    r.map(|b| char_index(s, b) as i64).unwrap_or(-1)
}

fn str_method(
    s: &str,
    name: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Option<Result<Value, Error>> {
    let r = (|| -> Result<Value, Error> {
        Ok(match name {
            "upper" => Value::from(s.to_uppercase()),
            "lower" => Value::from(s.to_lowercase()),
            "casefold" => Value::from(s.to_lowercase()),
            "title" => Value::from(py_title(s)),
            "capitalize" => {
                let mut c = s.chars();
                Value::from(match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                    None => String::new(),
                })
            }
            "swapcase" => Value::from(
                s.chars()
                    .flat_map(|c| {
                        if c.is_uppercase() {
                            c.to_lowercase().collect::<Vec<_>>()
                        } else {
                            c.to_uppercase().collect::<Vec<_>>()
                        }
                    })
                    .collect::<String>(),
            ),
            "strip" => Value::from(strip_with(s, arg_str(args, 0)?, true, true)),
            "lstrip" => Value::from(strip_with(s, arg_str(args, 0)?, true, false)),
            "rstrip" => Value::from(strip_with(s, arg_str(args, 0)?, false, true)),
            "split" => Value::from(split(s, arg_str(args, 0)?, arg_int(args, 1)?, false)?),
            "rsplit" => Value::from(split(s, arg_str(args, 0)?, arg_int(args, 1)?, true)?),
            "splitlines" => Value::from(s.lines().map(Value::from).collect::<Vec<_>>()),
            "startswith" | "endswith" => {
                let pats: Vec<String> = match args.first() {
                    Some(v) if v.kind() == ValueKind::Seq => v
                        .try_iter()?
                        .map(|x| py_str(&x))
                        .collect::<Result<_, _>>()?,
                    Some(_) => vec![arg_str(args, 0)?.unwrap_or_default()],
                    None => {
                        return Err(py_err(
                            "TypeError",
                            format!("{name}() takes at least 1 argument"),
                        ))
                    }
                };
                Value::from(pats.iter().any(|p| {
                    if name == "startswith" {
                        s.starts_with(p.as_str())
                    } else {
                        s.ends_with(p.as_str())
                    }
                }))
            }
            "replace" => {
                let old = arg_str(args, 0)?.unwrap_or_default();
                let new = arg_str(args, 1)?.unwrap_or_default();
                match arg_int(args, 2)? {
                    Some(n) if n >= 0 => Value::from(s.replacen(&old, &new, n as usize)),
                    _ => Value::from(s.replace(&old, &new)),
                }
            }
            "find" => Value::from(find(s, &arg_str(args, 0)?.unwrap_or_default(), false)),
            "rfind" => Value::from(find(s, &arg_str(args, 0)?.unwrap_or_default(), true)),
            "index" | "rindex" => {
                let i = find(s, &arg_str(args, 0)?.unwrap_or_default(), name == "rindex");
                if i < 0 {
                    return Err(py_err("ValueError", "substring not found"));
                }
                Value::from(i)
            }
            "count" => {
                let sub = arg_str(args, 0)?.unwrap_or_default();
                if sub.is_empty() {
                    Value::from(s.chars().count() + 1)
                } else {
                    Value::from(s.matches(sub.as_str()).count())
                }
            }
            "join" => {
                let items = args
                    .first()
                    .ok_or_else(|| py_err("TypeError", "join() takes exactly one argument"))?;
                let mut parts = Vec::new();
                for it in items.try_iter()? {
                    match it.as_str() {
                        Some(x) => parts.push(x.to_string()),
                        None => {
                            return Err(py_err(
                                "TypeError",
                                format!(
                                    "sequence item: expected str instance, {} found",
                                    tname(&it)
                                ),
                            ))
                        }
                    }
                }
                Value::from(parts.join(s))
            }
            "format" => Value::from(str_format(s, args, kwargs)?),
            "isdigit" | "isnumeric" | "isdecimal" => Value::from(
                !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c.is_numeric()),
            ),
            "isalpha" => Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic)),
            "isalnum" => Value::from(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
            "isspace" => Value::from(!s.is_empty() && s.chars().all(char::is_whitespace)),
            "islower" => {
                Value::from(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase))
            }
            "isupper" => {
                Value::from(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase))
            }
            "istitle" => {
                Value::from(!s.is_empty() && py_title(s) == s && s.chars().any(char::is_alphabetic))
            }
            "zfill" => {
                let w = arg_int(args, 0)?.unwrap_or(0).max(0) as usize;
                let n = s.chars().count();
                if n >= w {
                    Value::from(s)
                } else {
                    let (sign, rest) = if s.starts_with(['-', '+']) {
                        s.split_at(1)
                    } else {
                        ("", s)
                    };
                    Value::from(format!("{sign}{}{rest}", "0".repeat(w - n)))
                }
            }
            "ljust" | "rjust" | "center" => {
                let w = arg_int(args, 0)?.unwrap_or(0).max(0) as usize;
                let fill = arg_str(args, 1)?
                    .and_then(|f| f.chars().next())
                    .unwrap_or(' ');
                let n = s.chars().count();
                if n >= w {
                    Value::from(s)
                } else {
                    let pad = fill.to_string().repeat(w - n);
                    match name {
                        "ljust" => Value::from(format!("{s}{pad}")),
                        "rjust" => Value::from(format!("{pad}{s}")),
                        _ => {
                            let marg = w - n;
                            let left = marg / 2 + (marg & w & 1);
                            let f = fill.to_string();
                            Value::from(format!("{}{s}{}", f.repeat(left), f.repeat(marg - left)))
                        }
                    }
                }
            }
            "partition" | "rpartition" => {
                let sep = arg_str(args, 0)?.unwrap_or_default();
                if sep.is_empty() {
                    return Err(py_err("ValueError", "empty separator"));
                }
                let found = if name == "partition" {
                    s.find(&sep)
                } else {
                    s.rfind(&sep)
                };
                let parts = match found {
                    Some(i) => vec![
                        s[..i].to_string(),
                        sep.clone(),
                        s[i + sep.len()..].to_string(),
                    ],
                    None if name == "partition" => {
                        vec![s.to_string(), String::new(), String::new()]
                    }
                    None => vec![String::new(), String::new(), s.to_string()],
                };
                Value::from(parts)
            }
            "encode" => Value::from(s),
            _ => return Err(Error::new(ErrorKind::UnknownMethod, "")),
        })
    })();
    match r {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => None,
        other => Some(other),
    }
}

/// Python `str.format` with `{}`, `{0}`, `{name}`, `{x.attr}`, `!r`/`!s` and common specs.
pub fn str_format(fmt: &str, args: &[Value], kwargs: &[(String, Value)]) -> Result<String, Error> {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut auto = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            if chars.get(i + 1) == Some(&'{') {
                out.push('{');
                i += 2;
                continue;
            }
            let end = chars[i..]
                .iter()
                .position(|&x| x == '}')
                .ok_or_else(|| py_err("ValueError", "Single '{' encountered in format string"))?;
            let field: String = chars[i + 1..i + end].iter().collect();
            i += end + 1;
            let (field, spec) = match field.split_once(':') {
                Some((f, s)) => (f.to_string(), s.to_string()),
                None => (field, String::new()),
            };
            let (field, conv) = match field.split_once('!') {
                Some((f, c)) => (f.to_string(), Some(c.to_string())),
                None => (field, None),
            };
            let mut path = field.split('.');
            let head = path.next().unwrap_or("");
            let mut v = if head.is_empty() {
                let v = args
                    .get(auto)
                    .cloned()
                    .ok_or_else(|| py_err("IndexError", "Replacement index out of range"))?;
                auto += 1;
                v
            } else if let Ok(n) = head.parse::<usize>() {
                args.get(n)
                    .cloned()
                    .ok_or_else(|| py_err("IndexError", "Replacement index out of range"))?
            } else {
                kwargs
                    .iter()
                    .find(|(k, _)| k == head)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| py_err("KeyError", format!("'{head}'")))?
            };
            for attr in path {
                v = v.get_attr(attr)?;
            }
            let text = match conv.as_deref() {
                Some("r") => py_repr(&v)?,
                _ => {
                    if spec.is_empty() {
                        py_str(&v)?
                    } else {
                        format_spec(&v, &spec)?
                    }
                }
            };
            out.push_str(&text);
        } else if c == '}' {
            if chars.get(i + 1) == Some(&'}') {
                out.push('}');
                i += 2;
                continue;
            }
            return Err(py_err(
                "ValueError",
                "Single '}' encountered in format string",
            ));
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn format_spec(v: &Value, spec: &str) -> Result<String, Error> {
    // [[fill]align][sign][0][width][,][.precision][type]
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut fill = ' ';
    let mut align = None;
    if chars.len() >= 2 && "<>^=".contains(chars[1]) {
        fill = chars[0];
        align = Some(chars[1]);
        i = 2;
    } else if !chars.is_empty() && "<>^=".contains(chars[0]) {
        align = Some(chars[0]);
        i = 1;
    }
    let mut sign = false;
    if chars.get(i) == Some(&'+') {
        sign = true;
        i += 1;
    }
    if chars.get(i) == Some(&'0') {
        if align.is_none() {
            fill = '0';
            align = Some('=');
        }
        i += 1;
    }
    let mut width = String::new();
    while let Some(&d) = chars.get(i).filter(|c| c.is_ascii_digit()) {
        width.push(d);
        i += 1;
    }
    let mut precision = None;
    if chars.get(i) == Some(&'.') {
        i += 1;
        let mut p = String::new();
        while let Some(&d) = chars.get(i).filter(|c| c.is_ascii_digit()) {
            p.push(d);
            i += 1;
        }
        precision = p.parse::<usize>().ok();
    }
    let ty = chars.get(i).copied();
    let body = match (ty, num(v)) {
        (Some('f') | Some('F'), Some(n)) => {
            let f = match n {
                Num::Int(x) => x as f64,
                Num::Float(f) => f,
            };
            format!("{:.*}", precision.unwrap_or(6), f)
        }
        (Some('d'), Some(Num::Int(x))) => x.to_string(),
        (Some('x'), Some(Num::Int(x))) => format!("{x:x}"),
        (Some('%'), Some(n)) => {
            let f = match n {
                Num::Int(x) => x as f64,
                Num::Float(f) => f,
            };
            format!("{:.*}%", precision.unwrap_or(6), f * 100.0)
        }
        (None | Some('s'), _) => {
            let s = py_str(v)?;
            match precision {
                Some(p) if v.kind() == ValueKind::String => s.chars().take(p).collect(),
                Some(p) if num(v).is_some() => match num(v) {
                    Some(Num::Float(f)) => format!("{:.*}", p, f),
                    _ => s,
                },
                _ => s,
            }
        }
        _ => {
            return Err(py_err(
                "ValueError",
                format!("Unknown format code for object of type '{}'", tname(v)),
            ))
        }
    };
    let body = if sign && !body.starts_with('-') && num(v).is_some() {
        format!("+{body}")
    } else {
        body
    };
    let w: usize = width.parse().unwrap_or(0);
    let n = body.chars().count();
    if n >= w {
        return Ok(body);
    }
    let pad = w - n;
    let f = fill.to_string();
    let default_align = if num(v).is_some() { '>' } else { '<' };
    Ok(match align.unwrap_or(default_align) {
        '<' => format!("{body}{}", f.repeat(pad)),
        '>' => format!("{}{body}", f.repeat(pad)),
        '^' => format!("{}{body}{}", f.repeat(pad / 2), f.repeat(pad - pad / 2)),
        _ => {
            let (s, rest) = if body.starts_with(['-', '+']) {
                body.split_at(1)
            } else {
                ("", body.as_str())
            };
            format!("{s}{}{rest}", f.repeat(pad))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value, name: &str, args: Vec<Value>) -> Value {
        call(&v, name, &args).unwrap()
    }

    #[test]
    fn string_methods() {
        assert_eq!(
            m(Value::from("Hello World"), "upper", vec![]),
            Value::from("HELLO WORLD")
        );
        assert_eq!(
            m(Value::from("a b  c"), "split", vec![]),
            Value::from(vec!["a", "b", "c"])
        );
        assert_eq!(
            m(Value::from("a,b,,c"), "split", vec![Value::from(",")]),
            Value::from(vec!["a", "b", "", "c"])
        );
        assert_eq!(
            m(
                Value::from("a b c"),
                "rsplit",
                vec![Value::from(()), Value::from(1)]
            ),
            Value::from(vec!["a b", "c"])
        );
        assert_eq!(
            m(Value::from("héllo"), "find", vec![Value::from("l")]),
            Value::from(2)
        );
        assert_eq!(
            m(Value::from("xxhixx"), "strip", vec![Value::from("x")]),
            Value::from("hi")
        );
        assert_eq!(
            m(Value::from("hello world"), "title", vec![]),
            Value::from("Hello World")
        );
        assert_eq!(
            m(Value::from("42"), "zfill", vec![Value::from(5)]),
            Value::from("00042")
        );
        assert_eq!(
            m(Value::from("-"), "join", vec![Value::from(vec!["a", "b"])]),
            Value::from("a-b")
        );
        assert!(call(&Value::from("x"), "nope", &[]).is_err());
        assert!(call(&Value::from("x"), "index", &[Value::from("y")]).is_err());
    }

    #[test]
    fn format_method() {
        let args = vec![Value::from("a"), Value::from(2)];
        assert_eq!(str_format("{}-{}", &args, &[]).unwrap(), "a-2");
        assert_eq!(str_format("{1}{0}{{}}", &args, &[]).unwrap(), "2a{}");
        assert_eq!(
            str_format(
                "{:>4}|{:03d}|{:.2f}",
                &[Value::from("a"), Value::from(7), Value::from(3.25159)],
                &[]
            )
            .unwrap(),
            "   a|007|3.25"
        );
        assert_eq!(
            str_format("{x!r}", &[], &[("x".into(), Value::from("q"))]).unwrap(),
            "'q'"
        );
        assert!(str_format("{", &[], &[]).is_err());
    }

    #[test]
    fn container_methods() {
        let d = Value::from_serialize(serde_json::json!({"b": 2, "a": 1}));
        assert_eq!(m(d.clone(), "keys", vec![]), Value::from(vec!["b", "a"]));
        assert_eq!(
            m(d.clone(), "get", vec![Value::from("zz"), Value::from(9)]),
            Value::from(9)
        );
        assert_eq!(
            m(d.clone(), "get", vec![Value::from("zz")]),
            Value::from(())
        );
        assert_eq!(m(d, "update", vec![]), Value::from(()));
        let l = Value::from(vec![3, 1, 2]);
        assert_eq!(m(l.clone(), "index", vec![Value::from(2)]), Value::from(2));
        assert_eq!(m(l.clone(), "count", vec![Value::from(3)]), Value::from(1));
        assert_eq!(m(l, "append", vec![Value::from(4)]), Value::from(()));
    }
}

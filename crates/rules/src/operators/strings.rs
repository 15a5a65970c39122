//! String and membership operators: `contains` family, `startswith`/`endswith` families,
//! `matchwildcard`, `matchregex`, `regex`, `iregex`.
//!
//! Python `re` patterns are compiled with the `regex` crate after translating the few
//! Python-only spellings (`\Z`); constructs the crate cannot express (look-around,
//! back-references) raise like an invalid pattern would, so the rule records a failure instead
//! of silently matching something else.

use super::OpResult;
use crate::pyval::{as_str_arg, as_str_receiver, py_in, PyError};
use regex::Regex;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

pub fn contains(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    py_in(p, v)
}

pub fn ncontains(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    Ok(!py_in(p, v)?)
}

/// `p.lower() in v.lower()`; arrays are not supported (AttributeError on `.lower()`).
pub fn icontains(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = as_str_receiver(p, "lower")?.to_lowercase();
    let v = as_str_receiver(v, "lower")?.to_lowercase();
    Ok(v.contains(&p))
}

pub fn incontains(v: &Value, p: &Value) -> OpResult {
    Ok(!p.is_null() && !icontains(v, p)?)
}

pub fn startswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "startswith")?;
    let p = as_str_arg(p, "startswith first arg")?;
    Ok(v.starts_with(p))
}

pub fn istartswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "lower")?.to_lowercase();
    let p = as_str_receiver(p, "lower")?.to_lowercase();
    Ok(v.starts_with(&p))
}

pub fn endswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "endswith")?;
    let p = as_str_arg(p, "endswith first arg")?;
    Ok(v.ends_with(p))
}

pub fn iendswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "lower")?.to_lowercase();
    let p = as_str_receiver(p, "lower")?.to_lowercase();
    Ok(v.ends_with(&p))
}

/// `fnmatch.fnmatch` on POSIX: whole-string, case-sensitive, `*` crosses `/`.
pub fn matchwildcard(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = str_operand(v)?;
    let p = str_operand(p)?;
    let rx = cached(&format!("(?s)\\A(?:{})\\z", fnmatch_translate(p)))?;
    Ok(rx.is_match(v))
}

/// `re.match(p, v, re.DOTALL)`: anchored at the start only.
pub fn matchregex(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = str_operand(p)?;
    let v = str_operand(v)?;
    let rx = cached(&format!("(?s)\\A(?:{})", translate_python_regex(p)))?;
    Ok(rx.is_match(v))
}

/// `re.search(p, v)`.
pub fn regex(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = str_operand(p)?;
    let v = str_operand(v)?;
    Ok(cached(&translate_python_regex(p))?.is_match(v))
}

/// `re.search(p, v, re.IGNORECASE)`.
pub fn iregex(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = str_operand(p)?;
    let v = str_operand(v)?;
    Ok(cached(&format!("(?i){}", translate_python_regex(p)))?.is_match(v))
}

fn str_operand(v: &Value) -> Result<&str, PyError> {
    v.as_str().ok_or_else(|| {
        PyError::type_error(format!(
            "expected string or bytes-like object, got '{}'",
            crate::pyval::type_name(v)
        ))
    })
}

/// Checks that `pattern` compiles as a Python regex would (used at registration).
pub fn validate_python_regex(pattern: &str) -> Result<(), String> {
    Regex::new(&translate_python_regex(pattern))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Python-only regex spellings rewritten for the `regex` crate.
pub fn translate_python_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('Z') => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Python's `fnmatch.translate`, producing a `regex`-crate pattern body.
pub fn fnmatch_translate(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                // Consecutive stars are one star.
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut body: String = chars[i..j].iter().collect();
                    i = j + 1;
                    let negate = body.starts_with('!');
                    if negate {
                        body.remove(0);
                    }
                    let mut class = String::from("[");
                    if negate {
                        class.push('^');
                    }
                    for ch in body.chars() {
                        match ch {
                            '\\' | '[' | ']' | '&' | '~' | '^' => {
                                class.push('\\');
                                class.push(ch);
                            }
                            _ => class.push(ch),
                        }
                    }
                    class.push(']');
                    out.push_str(&class);
                }
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Compiled patterns are cached per thread: the same rule patterns are evaluated for every
/// trigger instance.
fn cached(pattern: &str) -> Result<Regex, PyError> {
    CACHE.with(|c| {
        if let Some(rx) = c.borrow().get(pattern) {
            return Ok(rx.clone());
        }
        let rx = Regex::new(pattern).map_err(|e| PyError {
            class: "re.error",
            message: e.to_string(),
        })?;
        let mut map = c.borrow_mut();
        if map.len() >= 512 {
            map.clear();
        }
        map.insert(pattern.to_string(), rx.clone());
        Ok(rx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcard_sets_and_literals() {
        assert!(matchwildcard(&json!("a/b.txt"), &json!("*.txt")).unwrap());
        assert!(matchwildcard(&json!("b1"), &json!("[abc]1")).unwrap());
        assert!(!matchwildcard(&json!("a1"), &json!("[!abc]1")).unwrap());
        assert!(matchwildcard(&json!("x[y"), &json!("x[y")).unwrap());
        assert!(matchwildcard(&json!("a.b"), &json!("a.b")).unwrap());
        assert!(!matchwildcard(&json!("axb"), &json!("a.b")).unwrap());
        assert!(matchwildcard(&json!(1), &json!("1")).is_err());
    }

    #[test]
    fn regex_flavours() {
        assert!(regex(&json!("id-42"), &json!(r"(?P<n>\d+)\Z")).unwrap());
        assert!(regex(&json!("x"), &json!("(")).is_err());
        assert!(validate_python_regex("(").is_err());
        assert!(matchregex(&json!("ab"), &json!("a|x")).unwrap());
        assert!(!matchregex(&json!("ba"), &json!("a|x")).unwrap());
    }

    #[test]
    fn case_insensitive_needs_strings() {
        assert!(icontains(&json!(["A"]), &json!("a")).is_err());
        assert!(incontains(&json!("HELLO"), &json!("xyz")).unwrap());
        assert!(startswith(&json!("abc"), &json!(["a"])).is_err());
        assert!(istartswith(&json!("FooBar"), &json!("foo")).unwrap());
    }
}

//! Python's text conversions, reproduced because StackStorm builds shell command lines and
//! messages with `str()`, `repr()` and `shlex.quote()`, and packs depend on the exact text
//! (`[1, True]` → `1,True`, `{'a': 1}` as a named argument, `1e+16` for large floats).

use serde_json::{json, Map, Value};

// One copy of Python's text rules for the whole workspace lives in gale-model.
pub use gale_model::py::{
    float_repr as py_float_repr, py_repr, py_str, shlex_quote, truthy as py_truthy,
};

/// `ast.literal_eval` for the literals StackStorm content sends as a JSON body: dicts, lists, tuples,
/// strings, numbers, `True`/`False`/`None`.
pub fn python_literal(text: &str) -> Option<Value> {
    let mut p = LiteralParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct LiteralParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl LiteralParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn seq(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value()?);
            if !self.eat(b',') {
                return self.eat(close).then_some(items);
            }
        }
    }
    fn value(&mut self) -> Option<Value> {
        self.ws();
        let c = *self.s.get(self.i)?;
        match c {
            b'{' => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    if self.eat(b'}') {
                        return Some(Value::Object(map));
                    }
                    let key = match self.value()? {
                        Value::String(s) => s,
                        other => py_str(&other),
                    };
                    if !self.eat(b':') {
                        return None;
                    }
                    let v = self.value()?;
                    map.insert(key, v);
                    if !self.eat(b',') {
                        return self.eat(b'}').then_some(Value::Object(map));
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.seq(b']').map(Value::Array)
            }
            b'(' => {
                self.i += 1;
                self.seq(b')').map(Value::Array)
            }
            b'\'' | b'"' => self.string(c),
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric() || b"+-._".contains(&self.s[self.i]))
                {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                match word {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    w => {
                        let w = w.replace('_', "");
                        if let Ok(i) = w.parse::<i64>() {
                            Some(json!(i))
                        } else {
                            w.parse::<f64>()
                                .ok()
                                .filter(|f| f.is_finite())
                                .map(|f| json!(f))
                        }
                    }
                }
            }
        }
    }
    fn string(&mut self, quote: u8) -> Option<Value> {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            if c == quote {
                return String::from_utf8(out).ok().map(Value::String);
            }
            if c == b'\\' {
                let e = *self.s.get(self.i)?;
                self.i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'0' => out.push(0),
                    other => out.push(other),
                }
            } else {
                out.push(c);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_quote_matches_python() {
        assert_eq!(shlex_quote(""), "''");
        assert_eq!(shlex_quote("a@b"), "a@b");
        assert_eq!(shlex_quote("/x/y-z_1.sh"), "/x/y-z_1.sh");
        assert_eq!(shlex_quote("--a=b,c:d%+"), "--a=b,c:d%+");
        assert_eq!(shlex_quote("hello world"), "'hello world'");
        assert_eq!(shlex_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shlex_quote("$HOME"), "'$HOME'");
        assert_eq!(shlex_quote("text/html"), "text/html");
        assert_eq!(shlex_quote("é"), "'é'");
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(py_float_repr(1.5), "1.5");
        assert_eq!(py_float_repr(1.0), "1.0");
        assert_eq!(py_float_repr(100.0), "100.0");
        assert_eq!(py_float_repr(0.1), "0.1");
        assert_eq!(py_float_repr(0.0001), "0.0001");
        assert_eq!(py_float_repr(0.00001), "1e-05");
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(1234567890123456.0), "1234567890123456.0");
        assert_eq!(py_float_repr(-2.5e-7), "-2.5e-07");
        assert_eq!(py_float_repr(1.25e100), "1.25e+100");
        assert_eq!(py_float_repr(-0.0), "-0.0");
    }

    #[test]
    fn str_and_repr_match_python() {
        assert_eq!(py_str(&json!("x")), "x");
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(3)), "3");
        assert_eq!(py_str(&json!(2.0)), "2.0");
        assert_eq!(py_str(&json!(["a", 1, true, null])), "['a', 1, True, None]");
        assert_eq!(
            py_str(&json!({"a": 1, "b": "it's"})),
            "{'a': 1, 'b': \"it's\"}"
        );
        assert_eq!(py_repr(&json!("a\nb'\"")), "'a\\nb\\'\"'");
    }

    #[test]
    fn python_literal_fallback() {
        assert_eq!(
            python_literal("{'a': 1, 'b': [True, None, 'x']}"),
            Some(json!({"a": 1, "b": [true, null, "x"]}))
        );
        assert_eq!(python_literal("('a', 2.5)"), Some(json!(["a", 2.5])));
        assert_eq!(
            python_literal("{'a': 'it\\'s'}"),
            Some(json!({"a": "it's"}))
        );
        assert_eq!(python_literal("not a literal"), None);
        assert_eq!(python_literal("{'a': 1"), None);
    }

    #[test]
    fn truthiness_matches_python() {
        assert!(!py_truthy(&json!(0)));
        assert!(!py_truthy(&json!(0.0)));
        assert!(!py_truthy(&json!("")));
        assert!(!py_truthy(&json!([])));
        assert!(!py_truthy(&json!({})));
        assert!(!py_truthy(&json!(false)));
        assert!(py_truthy(&json!(-1)));
        assert!(py_truthy(&json!("0")));
    }
}

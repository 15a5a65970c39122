//! Interpreter tests: operators, every standard-library function, the splicing rules and
//! robustness against hostile input.

use super::*;
use crate::NoProvider;
use proptest::prelude::*;
use serde_json::json;

fn ev(expr: &str, ctx: J) -> Result<J, Error> {
    evaluate(expr, &ctx, &NoProvider)
}

/// Evaluate `<% src %>` with an empty context.
fn ok(src: &str) -> J {
    okc(src, json!({}))
}

fn okc(src: &str, ctx: J) -> J {
    let text = format!("<% {src} %>");
    ev(&text, ctx).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn err(src: &str) -> Error {
    errc(src, json!({}))
}

fn errc(src: &str, ctx: J) -> Error {
    let text = format!("<% {src} %>");
    match ev(&text, ctx) {
        Ok(v) => panic!("{src}: expected an error, got {v}"),
        Err(e) => e,
    }
}

fn err_class(src: &str) -> String {
    match err(src) {
        Error::Yaql(m) => m,
        other => format!("{other:?}"),
    }
}

/// Results of set-valued expressions in a canonical order.
fn sorted(v: J) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x.to_string())
        .collect();
    out.sort();
    out
}

fn people() -> J {
    json!({"people": [
        {"name": "ann", "age": 31, "team": "ops"},
        {"name": "bob", "age": 25, "team": "dev"},
        {"name": "cat", "age": 42, "team": "ops"},
        {"name": "dan", "age": 25, "team": "qa"}
    ]})
}

// --------------------------------------------------------------------------------- syntax

#[test]
fn literals_and_escapes() {
    assert_eq!(ok("1"), json!(1));
    assert_eq!(ok("3.25"), json!(3.25));
    assert_eq!(ok("'a\\tb'"), json!("a\tb"));
    assert_eq!(ok("'\\d+'"), json!("\\d+"));
    assert_eq!(ok("'\\x41\\u00e9\\101'"), json!("AéA"));
    assert_eq!(ok("`a\\`b`"), json!("a`b"));
    assert_eq!(ok("\"it's\""), json!("it's"));
    assert_eq!(ok("12345678901234567890"), json!(12345678901234567890u64));
    assert_eq!(ok("[1, 'a', null, true]"), json!([1, "a", null, true]));
    assert_eq!(ok("{a => 1, 'b c' => [2]}"), json!({"a": 1, "b c": [2]}));
}

#[test]
fn lexical_and_grammar_errors() {
    for src in ["1e3", "'abc", "1 ?? 2", "'%s' % 1", "ctx(__state)"] {
        assert!(err_class(src).contains("YaqlLexicalException"), "{src}");
    }
    for src in [
        "1 +",
        "ctx(",
        "[1, 2",
        "7 // 2",
        "'a' 'b'",
        "let(f => 1) -> $f(1)",
        "a => 1",
    ] {
        assert!(err_class(src).contains("YaqlGrammarException"), "{src}");
    }
}

#[test]
fn operator_precedence() {
    assert_eq!(ok("1 + 2 * 3"), json!(7));
    assert_eq!(ok("(1 + 2) * 3"), json!(9));
    assert_eq!(ok("10 - 2 - 3"), json!(5));
    assert_eq!(ok("2 * 3 mod 4"), json!(2));
    assert_eq!(ok("not 1 = 2 or false"), json!(true));
    assert_eq!(ok("1 + 2 > 2 and 1 = 1"), json!(true));
    assert_eq!(ok("3 > 2 = true"), json!(true));
    assert_eq!(ok("-2 * 3"), json!(-6));
    assert_eq!(okc("-ctx().n", json!({"n": 5})), json!(-5));
    assert_eq!(ok("[1, 2, 3][1]"), json!(2));
    assert_eq!(ok("{a => {b => 1}}.a.b"), json!(1));
}

// --------------------------------------------------------------------------------- operators

#[test]
fn arithmetic() {
    assert_eq!(ok("7 / 2"), json!(3));
    assert_eq!(ok("-7 / 2"), json!(-4));
    assert_eq!(ok("7 / -2"), json!(-4));
    assert_eq!(ok("7.0 / 2"), json!(3.5));
    assert_eq!(ok("-7 mod 3"), json!(2));
    assert_eq!(ok("7 mod -3"), json!(-2));
    assert_eq!(ok("7.5 mod 2"), json!(1.5));
    assert_eq!(ok("0.1 + 0.2"), json!(0.30000000000000004));
    assert_eq!(ok("2 * 3.0"), json!(6.0));
    assert_eq!(ok("'ab' * 3"), json!("ababab"));
    assert_eq!(ok("3 * 'ab'"), json!("ababab"));
    assert_eq!(ok("[0] * 3"), json!([0, 0, 0]));
    assert_eq!(ok("[1] + [2, 3]"), json!([1, 2, 3]));
    assert_eq!(ok("{a => 1} + {a => 2, b => 3}"), json!({"a": 2, "b": 3}));
    assert_eq!(ok("'a' + 'b'"), json!("ab"));
    for src in ["1 / 0", "1.0 / 0", "1 mod 0"] {
        assert!(err_class(src).contains("ZeroDivisionError"), "{src}");
    }
    for src in ["'a' + 1", "'a' - 1", "true + 1", "'a' * 'b'", "[1] < [2]"] {
        assert!(
            err_class(src).contains("NoMatchingFunctionException"),
            "{src}"
        );
    }
}

#[test]
fn comparisons_and_logic() {
    assert_eq!(ok("1 = 1.0"), json!(true));
    assert_eq!(ok("true = 1"), json!(true));
    assert_eq!(ok("1 = '1'"), json!(false));
    assert_eq!(ok("'B' < 'a'"), json!(true));
    assert_eq!(ok("null < 1"), json!(true));
    assert_eq!(ok("1 > null"), json!(true));
    assert_eq!(ok("null <= null"), json!(true));
    assert_eq!(ok("[1, 2] = [1.0, 2.0]"), json!(true));
    assert_eq!(ok("{a => 1, b => 2} = {b => 2, a => 1}"), json!(true));
    assert_eq!(ok("true and null"), json!(null));
    assert_eq!(ok("null or 'x'"), json!("x"));
    assert_eq!(ok("false or 0"), json!(0));
    assert_eq!(ok("not []"), json!(true));
    assert_eq!(ok("1 in [1, 2]"), json!(true));
    assert_eq!(ok("'ell' in 'Hello'"), json!(true));
    assert_eq!(ok("'ab' =~ '^a'"), json!(true));
    assert_eq!(ok("'ab' !~ 'b$'"), json!(false));
    assert_eq!(ok("set(1, 2) < set(1, 2, 3)"), json!(true));
    assert_eq!(ok("set(1, 2) >= set(1)"), json!(true));
    assert!(err_class("1 < 2 < 3").contains("NoMatchingFunctionException"));
    assert!(err_class("'a' in {a => 1}").contains("NoMatchingFunctionException"));
}

// --------------------------------------------------------------------------------- context

#[test]
fn orquesta_ctx_access() {
    let c = json!({"a": {"b": [1, {"c": "x"}]}, "__state": {"s": 1}, "my-key": 2});
    assert_eq!(okc("ctx().a.b[1].c", c.clone()), json!("x"));
    assert_eq!(okc("ctx(a).b[0]", c.clone()), json!(1));
    assert_eq!(okc("ctx('my-key')", c.clone()), json!(2));
    assert_eq!(okc("ctx()['my-key']", c.clone()), json!(2));
    assert_eq!(okc("ctx()", json!({"a": 1, "__x": 2})), json!({"a": 1}));
    assert_eq!(
        okc("ctx().keys()", c.clone()).as_array().map(|a| a.len()),
        Some(2)
    );
    assert!(errc("ctx().missing", c.clone())
        .to_string()
        .contains("KeyError"));
    assert!(errc("ctx(missing)", c.clone())
        .to_string()
        .contains("VariableUndefinedError"));
    assert!(errc("ctx('__state')", c.clone())
        .to_string()
        .contains("VariableInaccessibleError"));
    assert!(errc("ctx()['__state']", c.clone())
        .to_string()
        .contains("KeyError"));
    assert!(errc("ctx().a.b.c.d", c)
        .to_string()
        .contains("NoFunctionRegisteredException"));
}

#[test]
fn variables_lambdas_and_contexts() {
    assert_eq!(ok("$"), json!(null));
    assert_eq!(ok("let(x => 2, y => 3) -> $x * $y"), json!(6));
    assert_eq!(ok("let(1, 2) -> $1 + $2"), json!(3));
    assert_eq!(ok("with('a', 'b') -> $1 + $2"), json!("ab"));
    assert_eq!(ok("[1, 2].unpack(a, b) -> $a + $b"), json!(3));
    assert_eq!(ok("[2, 3].unpack() -> $1 * $2"), json!(6));
    assert_eq!(ok("let(x => 1) -> $y"), json!(null));
    assert_eq!(ok("def(sq, $ * $) -> sq(7)"), json!(49));
    assert_eq!(
        ok("def(sq, $ * $) -> [1, 2, 3].select(sq($))"),
        json!([1, 4, 9])
    );
    assert_eq!(ok("[3, 1].select(let(v => $) -> $v + 10)"), json!([13, 11]));
    assert_eq!(ok("12.assert($ < 20)"), json!(12));
    assert!(err("12.assert($ < 2, 'too big')")
        .to_string()
        .contains("too big"));
    assert!(err_class("1 -> $ + 1").contains("NoMatchingFunctionException"));
    assert_eq!(ok("call(len, ['abc'], {})"), json!(3));
}

#[test]
fn elvis_and_attributes() {
    let c = json!({"nul": null, "s": "Hi", "people": [{"name": "a"}, {"name": "b"}]});
    assert_eq!(okc("ctx().s?.toUpper()", c.clone()), json!("HI"));
    assert_eq!(okc("ctx().nul?.toUpper()", c.clone()), json!(null));
    assert_eq!(okc("ctx().nul?.x?.y", c.clone()), json!(null));
    assert_eq!(okc("ctx().people.name", c.clone()), json!(["a", "b"]));
    assert!(errc("ctx().nul.toUpper()", c)
        .to_string()
        .contains("NoMatchingMethodException"));
}

// --------------------------------------------------------------------------------- stdlib: branching/boolean/math

#[test]
fn branching_functions() {
    assert_eq!(ok("switch(1 > 3 => 'a', true => 'b')"), json!("b"));
    assert_eq!(ok("switch(false => 'a')"), json!(null));
    assert_eq!(ok("selectCase(false, true, true)"), json!(1));
    assert_eq!(ok("selectCase(false)"), json!(1));
    assert_eq!(ok("selectAllCases(true, false, true)"), json!([0, 2]));
    assert_eq!(ok("examine(1, 0, 'x')"), json!([true, false, true]));
    assert_eq!(ok("1.switchCase('a', 'b', 'c')"), json!("b"));
    assert_eq!(ok("7.switchCase('a', 'b')"), json!("b"));
    assert_eq!(ok("coalesce(null, null, 3)"), json!(3));
    assert_eq!(ok("coalesce(null)"), json!(null));
    assert_eq!(ok("bool(0)"), json!(false));
    assert_eq!(ok("bool('x')"), json!(true));
    assert_eq!(ok("isBoolean(true)"), json!(true));
    assert_eq!(ok("isBoolean(1)"), json!(false));
}

#[test]
fn math_functions() {
    assert_eq!(ok("abs(-3)"), json!(3));
    assert_eq!(ok("abs(-2.5)"), json!(2.5));
    assert_eq!(ok("pow(2, 10)"), json!(1024));
    assert_eq!(ok("pow(2, 0.5)"), json!(std::f64::consts::SQRT_2));
    assert_eq!(ok("pow(2, -1)"), json!(0.5));
    assert_eq!(ok("pow(3, 4, 5)"), json!(1));
    assert_eq!(ok("round(2.567, 2)"), json!(2.57));
    assert_eq!(ok("round(2.5)"), json!(2.0));
    assert_eq!(ok("round(3.5)"), json!(4.0));
    assert_eq!(ok("round(1250, -2)"), json!(1200));
    assert_eq!(ok("max(3, 9)"), json!(9));
    assert_eq!(ok("min(3, 9)"), json!(3));
    assert_eq!(ok("max('a', 'b')"), json!("b"));
    assert_eq!(ok("sign(-3)"), json!(-1));
    assert_eq!(ok("sign(0)"), json!(0));
    assert_eq!(ok("sign(2.5)"), json!(1));
    assert_eq!(ok("bitwiseAnd(12, 10)"), json!(8));
    assert_eq!(ok("bitwiseOr(12, 10)"), json!(14));
    assert_eq!(ok("bitwiseXor(12, 10)"), json!(6));
    assert_eq!(ok("bitwiseNot(5)"), json!(-6));
    assert_eq!(ok("shiftBitsLeft(1, 4)"), json!(16));
    assert_eq!(ok("shiftBitsRight(16, 2)"), json!(4));
    assert_eq!(ok("isInteger(3)"), json!(true));
    assert_eq!(ok("isInteger(3.0)"), json!(false));
    assert_eq!(ok("isNumber(3.0)"), json!(true));
    assert_eq!(ok("isNumber('3')"), json!(false));
    assert_eq!(ok("int('42')"), json!(42));
    assert_eq!(ok("int(' -4_2 ')"), json!(-42));
    assert_eq!(ok("int(-4.9)"), json!(-4));
    assert_eq!(ok("int(null)"), json!(0));
    assert_eq!(ok("float('2.75')"), json!(2.75));
    assert_eq!(ok("float(2)"), json!(2.0));
    assert_eq!(ok("float(null)"), json!(0.0));
    let r = ok("random()").as_f64().unwrap();
    assert!((0.0..1.0).contains(&r));
    let r = ok("random(1, 3)").as_i64().unwrap();
    assert!((1..=3).contains(&r));
    for src in ["int('4.2')", "int('abc')", "float('x')"] {
        assert!(err_class(src).contains("ValueError"), "{src}");
    }
    assert!(err_class("abs('x')").contains("NoMatchingFunctionException"));
}

// --------------------------------------------------------------------------------- stdlib: strings

#[test]
fn string_functions() {
    assert_eq!(ok("'Hello'.toUpper()"), json!("HELLO"));
    assert_eq!(ok("'straße'.toUpper()"), json!("STRASSE"));
    assert_eq!(ok("'Hello'.toLower()"), json!("hello"));
    assert_eq!(ok("len('日本語')"), json!(3));
    assert_eq!(ok("'abc'.len()"), json!(3));
    assert_eq!(ok("'  x  '.trim()"), json!("x"));
    assert_eq!(ok("'  x  '.trimLeft()"), json!("x  "));
    assert_eq!(ok("'  x  '.trimRight()"), json!("  x"));
    assert_eq!(ok("'xxhixx'.trim('x')"), json!("hi"));
    assert_eq!(ok("'a,b,,c'.split(',')"), json!(["a", "b", "", "c"]));
    assert_eq!(ok("' a  b '.split()"), json!(["a", "b"]));
    assert_eq!(ok("'a,b,c'.split(',', 1)"), json!(["a", "b,c"]));
    assert_eq!(ok("'a,b,c'.rightSplit(',', 1)"), json!(["a,b", "c"]));
    assert_eq!(ok("'a b c'.rightSplit(null, 1)"), json!(["a b", "c"]));
    assert_eq!(ok("','.join(['a', 1, null, true])"), json!("a,1,null,true"));
    assert_eq!(ok("['a', 'b'].join('|')"), json!("a|b"));
    assert_eq!(ok("'Hello'.replace('l', 'L')"), json!("HeLLo"));
    assert_eq!(ok("'Hello'.replace('l', 'L', 1)"), json!("HeLlo"));
    assert_eq!(ok("'Hello'.replace({H => 'J', o => 0})"), json!("Jell0"));
    assert_eq!(ok("'Hello'.startsWith('He')"), json!(true));
    assert_eq!(ok("'Hello'.startsWith('x', 'H')"), json!(true));
    assert_eq!(ok("'Hello'.endsWith('x')"), json!(false));
    assert_eq!(ok("'Hello'.indexOf('l')"), json!(2));
    assert_eq!(ok("'Hello'.indexOf('l', 3)"), json!(3));
    assert_eq!(ok("'Hello'.indexOf('q')"), json!(-1));
    assert_eq!(ok("'Hello'.lastIndexOf('l')"), json!(3));
    assert_eq!(ok("'日本語'.indexOf('語')"), json!(2));
    assert_eq!(ok("'Hello World'.substring(6)"), json!("World"));
    assert_eq!(ok("'Hello World'.substring(-5)"), json!("World"));
    assert_eq!(ok("'Hello World'.substring(3, -2)"), json!("lo World"));
    assert_eq!(ok("'héllo'.substring(1, 3)"), json!("éll"));
    assert_eq!(ok("'abc'.toCharArray()"), json!(["a", "b", "c"]));
    assert_eq!(ok("isEmpty(' ')"), json!(true));
    assert_eq!(ok("isEmpty(null)"), json!(true));
    assert_eq!(ok("' '.isEmpty(false)"), json!(false));
    assert_eq!(ok("'  a b '.norm()"), json!("a b"));
    assert_eq!(ok("'   '.norm()"), json!(null));
    assert_eq!(ok("isString('x')"), json!(true));
    assert_eq!(ok("hex(255)"), json!("0xff"));
    assert_eq!(ok("hex(-1)"), json!("-0x1"));
    assert_eq!(ok("concat('a', 'b', 'c')"), json!("abc"));
    assert_eq!(ok("characters(digits => true).len()"), json!(10));
    assert_eq!(ok("str(12)"), json!("12"));
    assert_eq!(ok("str(null)"), json!("null"));
    assert_eq!(ok("str(false)"), json!("false"));
    assert_eq!(ok("str([1, 'a'])"), json!("(1, 'a')"));
    assert_eq!(ok("str([null])"), json!("(None,)"));
    assert_eq!(ok("str({a => 'b'})"), json!("{'a': 'b'}"));
    assert_eq!(ok("str(100000000000000000000.0)"), json!("1e+20"));
    assert!(err_class("'{0}'.format(1)").contains("NoMatchingMethodException"));
    assert!(err_class("'x'.characters()").contains("NoMethodRegisteredException"));
    assert!(err_class("concat('a', 1)").contains("NoMatchingFunctionException"));
    assert!(err_class("'abc'[0]").contains("NoMatchingFunctionException"));
}

// --------------------------------------------------------------------------------- stdlib: regex

#[test]
fn regex_functions() {
    assert_eq!(
        ok("regex('(\\d+)-(\\d+)').search('ab 12-34 cd')"),
        json!("12-34")
    );
    assert_eq!(
        ok("regex('(\\w+)=(\\w+)').search('x k1=v1', $)"),
        json!({"value": "k1=v1", "start": 2, "end": 7})
    );
    assert_eq!(
        ok("regex('(\\w+)=(\\w+)').search('x k1=v1', $2.value)"),
        json!("k1")
    );
    assert_eq!(
        ok("regex('(?P<k>\\w+)=').search('ab=', $k.value)"),
        json!("ab")
    );
    assert_eq!(ok("regex('zz').search('abc')"), json!(null));
    assert_eq!(
        ok("regex('\\d+').searchAll('a1b22c333')"),
        json!(["1", "22", "333"])
    );
    assert_eq!(
        ok("regex('\\d+').searchAll('a1b22', $.start)"),
        json!([1, 3])
    );
    assert_eq!(ok("'ab 12'.matches('\\d+')"), json!(true));
    assert_eq!(ok("regex('\\d').matches('a1')"), json!(true));
    assert_eq!(ok("'a1b22'.replace(regex('\\d+'), '#')"), json!("a#b#"));
    assert_eq!(
        ok("regex('^(\\w+)@').replace('root@host', '\\\\1 at ')"),
        json!("root at host")
    );
    assert_eq!(ok("regex('\\d').replace('a1b2', '$', 1)"), json!("a$b2"));
    assert_eq!(
        ok("'A1B2'.replace(regex('[a-z]', ignoreCase => true), '_')"),
        json!("_1_2")
    );
    assert_eq!(ok("regex('\\s+').split('a  b c')"), json!(["a", "b", "c"]));
    assert_eq!(
        ok("'x=1;y=2'.split(regex(';|='))"),
        json!(["x", "1", "y", "2"])
    );
    assert_eq!(ok("'a-b'.split(regex('(-)'))"), json!(["a", "-", "b"]));
    assert_eq!(
        ok("regex('\\d').replaceBy('a1b2', str(int($.value) * 2))"),
        json!("a2b4")
    );
    assert_eq!(ok("escapeRegex('a.b*c')"), json!("a\\.b\\*c"));
    assert_eq!(ok("isRegex(regex('a'))"), json!(true));
    assert_eq!(ok("isRegex('a')"), json!(false));
    assert!(err_class("regex('(').search('x')").contains("error"));
    assert!(err_class("matches('abc', '^b')").contains("NoFunctionRegisteredException"));
}

// --------------------------------------------------------------------------------- stdlib: collections

#[test]
fn collection_functions() {
    let c = json!({"l": [3, 1, 2], "d": {"a": 1, "b": 2, "c": 3}});
    assert_eq!(ok("list(1, 2, 3)"), json!([1, 2, 3]));
    assert_eq!(ok("list()"), json!([]));
    assert_eq!(ok("list(1, list(2))"), json!([1, [2]]));
    assert_eq!(ok("list([1, 2].select($))"), json!([1, 2]));
    assert_eq!(ok("dict(a => 1, b => 2)"), json!({"a": 1, "b": 2}));
    assert_eq!(ok("dict([['a', 1], ['b', 2]])"), json!({"a": 1, "b": 2}));
    assert_eq!(ok("dict()"), json!({}));
    assert_eq!(okc("ctx().d.get('zz', 9)", c.clone()), json!(9));
    assert_eq!(okc("ctx().d.get(b)", c.clone()), json!(2));
    assert_eq!(okc("ctx().d['b']", c.clone()), json!(2));
    assert_eq!(okc("ctx().d['zz', 0]", c.clone()), json!(0));
    assert_eq!(
        sorted(okc("ctx().d.keys()", c.clone())),
        vec!["\"a\"", "\"b\"", "\"c\""]
    );
    assert_eq!(okc("ctx().d.values()", c.clone()), json!([1, 2, 3]));
    assert_eq!(
        okc("ctx().d.items().select($[0])", c.clone()),
        json!(["a", "b", "c"])
    );
    assert!(errc("ctx().d.items()", c.clone())
        .to_string()
        .contains("TypeError"));
    assert_eq!(okc("ctx().d.set('z', 26).len()", c.clone()), json!(4));
    assert_eq!(
        okc("ctx().d.set({x => 1, a => 0})", c.clone()),
        json!({"a": 0, "b": 2, "c": 3, "x": 1})
    );
    assert_eq!(okc("ctx().d.set(a => 5).a", c.clone()), json!(5));
    assert_eq!(okc("ctx().d.delete('a', 'b')", c.clone()), json!({"c": 3}));
    assert_eq!(
        okc("ctx().d.deleteAll(['a'])", c.clone()),
        json!({"b": 2, "c": 3})
    );
    assert_eq!(okc("ctx().d.containsKey('b')", c.clone()), json!(true));
    assert_eq!(okc("ctx().d.containsValue(3)", c.clone()), json!(true));
    assert_eq!(okc("ctx().l.contains(2)", c.clone()), json!(true));
    assert_eq!(
        okc("ctx().l.insert(1, 99)", c.clone()),
        json!([3, 99, 1, 2])
    );
    assert_eq!(
        okc("ctx().l.insert(-1, 99)", c.clone()),
        json!([3, 1, 99, 2])
    );
    assert_eq!(
        okc("ctx().l.insertMany(0, [7, 8])", c.clone()),
        json!([7, 8, 3, 1, 2])
    );
    assert_eq!(okc("ctx().l.delete(0)", c.clone()), json!([1, 2]));
    assert_eq!(okc("ctx().l.delete(1, 2)", c.clone()), json!([3]));
    assert_eq!(okc("ctx().l.delete(1, -1)", c.clone()), json!([3]));
    assert_eq!(
        okc("ctx().l.replace(0, 'x')", c.clone()),
        json!(["x", 1, 2])
    );
    assert_eq!(
        okc("ctx().l.replaceMany(1, [7, 8], 2)", c.clone()),
        json!([3, 7, 8])
    );
    assert_eq!(okc("ctx().l.toList()", c.clone()), json!([3, 1, 2]));
    assert!(errc("ctx().d.toList()", c.clone())
        .to_string()
        .contains("NoMatchingMethodException"));
    assert_eq!(ok("[[1, 2], [3, [4]]].flatten()"), json!([1, 2, 3, 4]));
    assert_eq!(
        okc("ctx().l.toDict(str($), $ * 2)", c.clone()),
        json!({"3": 6, "1": 2, "2": 4})
    );
    assert!(errc("ctx().l.toDict($, $ * 2)", c.clone())
        .to_string()
        .contains("not a string"));
    assert_eq!(ok("isList([1])"), json!(true));
    assert_eq!(ok("isDict({})"), json!(true));
    assert_eq!(ok("isSet(set(1))"), json!(true));
    assert_eq!(ok("set(3, 1, 3).len()"), json!(2));
    assert_eq!(
        sorted(ok("set(1, 2).union(set(2, 3))")),
        vec!["1", "2", "3"]
    );
    assert_eq!(
        ok("set(1, 2, 3).intersect(set(2, 3, 4)).orderBy($)"),
        json!([2, 3])
    );
    assert_eq!(
        ok("set(1, 2, 3).difference(set(2)).orderBy($)"),
        json!([1, 3])
    );
    assert_eq!(ok("(set(1, 2, 3) - set(2)).orderBy($)"), json!([1, 3]));
    assert_eq!(
        ok("set(1, 2).symmetricDifference(set(2, 3)).orderBy($)"),
        json!([1, 3])
    );
    assert_eq!(ok("set(1, 2).add(5, 6).len()"), json!(4));
    assert_eq!(ok("set(1, 2).remove(2).toList()"), json!([1]));
    assert_eq!(ok("[1, 1, 2].toSet().len()"), json!(2));
    assert!(err_class("dict(1)").contains("NoMatchingFunctionException"));
}

// --------------------------------------------------------------------------------- stdlib: queries

#[test]
fn query_functions() {
    let c = json!({"l": [3, 1, 2], "el": []});
    assert_eq!(okc("ctx().l.select($ * 2)", c.clone()), json!([6, 2, 4]));
    assert_eq!(okc("ctx().l.map($ * 2)", c.clone()), json!([6, 2, 4]));
    assert_eq!(okc("ctx().l.where($ > 1)", c.clone()), json!([3, 2]));
    assert_eq!(okc("ctx().l.filter($ > 1)", c.clone()), json!([3, 2]));
    assert_eq!(okc("ctx().l.orderBy($)", c.clone()), json!([1, 2, 3]));
    assert_eq!(
        okc("ctx().l.orderByDescending($)", c.clone()),
        json!([3, 2, 1])
    );
    assert_eq!(okc("ctx().l.skip(1).take(1)", c.clone()), json!([1]));
    assert_eq!(okc("ctx().l.limit(2)", c.clone()), json!([3, 1]));
    assert_eq!(
        okc("ctx().l.append(4, 5)", c.clone()),
        json!([3, 1, 2, 4, 5])
    );
    assert_eq!(
        okc("ctx().l.concat([4], [5])", c.clone()),
        json!([3, 1, 2, 4, 5])
    );
    assert_eq!(ok("[1, 2, 1].distinct()"), json!([1, 2]));
    assert_eq!(
        ok("['a', 'B', 'b'].distinct($.toLower())"),
        json!(["a", "B"])
    );
    assert_eq!(
        okc("ctx().l.enumerate(1)", c.clone()),
        json!([[1, 3], [2, 1], [3, 2]])
    );
    assert_eq!(okc("ctx().l.any()", c.clone()), json!(true));
    assert_eq!(okc("ctx().el.any()", c.clone()), json!(false));
    assert_eq!(okc("ctx().l.any($ > 2)", c.clone()), json!(true));
    assert_eq!(okc("ctx().l.all($ > 0)", c.clone()), json!(true));
    assert_eq!(ok("[1, 0].all()"), json!(false));
    assert_eq!(okc("ctx().l.count()", c.clone()), json!(3));
    assert_eq!(okc("ctx().l.memorize().len()", c.clone()), json!(3));
    assert_eq!(okc("ctx().l.sum()", c.clone()), json!(6));
    assert_eq!(okc("ctx().l.sum(10)", c.clone()), json!(16));
    assert_eq!(ok("['a', 'b'].sum()"), json!("ab"));
    assert_eq!(okc("ctx().l.max()", c.clone()), json!(3));
    assert_eq!(okc("ctx().l.min()", c.clone()), json!(1));
    assert_eq!(okc("ctx().l.first()", c.clone()), json!(3));
    assert_eq!(okc("ctx().el.first('none')", c.clone()), json!("none"));
    assert_eq!(okc("ctx().l.last()", c.clone()), json!(2));
    assert_eq!(okc("ctx().el.last(0)", c.clone()), json!(0));
    assert_eq!(ok("[7].single()"), json!(7));
    assert!(errc("ctx().el.first()", c.clone())
        .to_string()
        .contains("StopIteration"));
    assert!(err_class("[1, 2].single()").contains("StopIteration"));
    assert!(errc("ctx().el.sum()", c.clone())
        .to_string()
        .contains("TypeError"));
    assert_eq!(ok("[[1, 2], 3].selectMany($)"), json!([1, 2, 3]));
    assert_eq!(ok("range(5)"), json!([0, 1, 2, 3, 4]));
    assert_eq!(ok("range(5, 0, -2)"), json!([5, 3, 1]));
    assert_eq!(ok("sequence(1).take(3)"), json!([1, 2, 3]));
    assert_eq!(ok("sequence(0, 5).skip(2).first()"), json!(10));
    assert_eq!(ok("[1, 2].cycle().take(5)"), json!([1, 2, 1, 2, 1]));
    assert_eq!(ok("'x'.repeat(2)"), json!(["x", "x"]));
    assert_eq!(ok("'x'.repeat().take(2)"), json!(["x", "x"]));
    assert_eq!(
        ok("[['b', 2], ['a', 2], ['c', 1]].orderBy($[1]).thenBy($[0])"),
        json!([["c", 1], ["a", 2], ["b", 2]])
    );
    assert_eq!(
        ok("[['b', 2], ['a', 2]].orderBy($[1]).thenByDescending($[0])"),
        json!([["b", 2], ["a", 2]])
    );
    assert_eq!(
        okc("ctx().people.groupBy($.team, $.name)", people()),
        json!([["ops", ["ann", "cat"]], ["dev", ["bob"]], ["qa", ["dan"]]])
    );
    assert_eq!(
        okc(
            "ctx().people.groupBy($.age, $.name, [$[0], $[1].len()])",
            people()
        ),
        json!([[31, 1], [25, 2], [42, 1]])
    );
    assert_eq!(
        okc("ctx().people.groupBy($.team, $.age, $.sum())", people()),
        json!([["ops", 73], ["dev", 25], ["qa", 25]])
    );
    assert_eq!(
        okc("ctx().people.join(ctx().people, $1.age = $2.age and $1.name < $2.name, [$1.name, $2.name])", people()),
        json!([["bob", "dan"]])
    );
    assert_eq!(
        okc("ctx().l.zip(['a', 'b', 'c'])", c.clone()),
        json!([[3, "a"], [1, "b"], [2, "c"]])
    );
    assert_eq!(
        okc("ctx().l.zipLongest([9], default => 0)", c.clone()),
        json!([[3, 9], [1, 0], [2, 0]])
    );
    assert_eq!(okc("ctx().l.takeWhile($ > 2)", c.clone()), json!([3]));
    assert_eq!(okc("ctx().l.skipWhile($ > 2)", c.clone()), json!([1, 2]));
    assert_eq!(okc("ctx().l.indexOf(2)", c.clone()), json!(2));
    assert_eq!(ok("[1, 2, 1].lastIndexOf(1)"), json!(2));
    assert_eq!(okc("ctx().l.indexWhere($ < 2)", c.clone()), json!(1));
    assert_eq!(ok("[1, 2, 3, 4].lastIndexWhere($ mod 2 = 1)"), json!(2));
    assert_eq!(ok("[1, 2, 3, 4, 5].slice(2)"), json!([[1, 2], [3, 4], [5]]));
    assert_eq!(ok("[1, 2, 3, 4, 5].splitAt(2)"), json!([[1, 2], [3, 4, 5]]));
    assert_eq!(ok("[1, 2, 3].splitAt(-1)"), json!([[1, 2], [3]]));
    assert_eq!(
        ok("[1, 2, 3, 4].splitWhere($ mod 2 = 0)"),
        json!([[1], [3]])
    );
    assert_eq!(
        ok("[1, 1, 2, 3, 3].sliceWhere($ mod 2)"),
        json!([[1, 1], [2], [3, 3]])
    );
    assert_eq!(
        okc("ctx().l.aggregate($1 + $2, 100)", c.clone()),
        json!(106)
    );
    assert_eq!(okc("ctx().l.reduce($1 * $2)", c.clone()), json!(6));
    assert_eq!(
        okc("ctx().l.accumulate($1 + $2)", c.clone()),
        json!([3, 4, 6])
    );
    assert_eq!(okc("ctx().l.reverse()", c.clone()), json!([2, 1, 3]));
    assert_eq!(
        ok("{a => [1], c => {x => 1}}.mergeWith({a => [2], b => 3, c => {y => 2}})"),
        json!({"a": [1, 2], "c": {"x": 1, "y": 2}, "b": 3})
    );
    assert_eq!(ok("isIterable([1])"), json!(true));
    assert_eq!(ok("isIterable('a')"), json!(false));
    assert_eq!(ok("generate(1, $ < 20, $ * 2)"), json!([1, 2, 4, 8, 16]));
    assert_eq!(
        ok("generateMany(1, switch($ < 4 => [$ + 1], true => []))"),
        json!([1, 2, 3, 4])
    );
    assert_eq!(okc("ctx().el.defaultIfEmpty([0])", c.clone()), json!([0]));
    assert_eq!(
        okc("ctx().l.defaultIfEmpty([0])", c.clone()),
        json!([3, 1, 2])
    );
    assert!(errc("ctx().l.count($ > 1)", c.clone())
        .to_string()
        .contains("NoMatchingMethodException"));
    assert!(err_class("{a => 1}.select($)").contains("NoMatchingMethodException"));
}

// --------------------------------------------------------------------------------- orquesta functions

#[test]
fn orquesta_functions() {
    assert_eq!(ok("json('{\"a\": [1, 2.5]}')"), json!({"a": [1, 2.5]}));
    assert!(errc("json(ctx().d)", json!({"d": {"a": 1}}))
        .to_string()
        .contains("TypeError"));
    assert!(err_class("json('{bad')").contains("JSONDecodeError"));
    assert!(err_class("unknownFunc()").contains("NoFunctionRegisteredException"));
    assert!(err_class("[1].foo()").contains("NoMethodRegisteredException"));
}

// --------------------------------------------------------------------------------- splicing

#[test]
fn splicing_and_typed_results() {
    let c = json!({"n": 5, "f": 2.5, "d": {"a": 1}, "nul": null, "t": true, "tmpl": "<% ctx().n * 2 %>"});
    assert_eq!(ev("<% ctx().n %>", c.clone()).unwrap(), json!(5));
    assert_eq!(ev("<%ctx().n%>", c.clone()).unwrap(), json!(5));
    assert_eq!(ev(" <% ctx().n %>", c.clone()).unwrap(), json!(" 5"));
    assert_eq!(
        ev("<% ctx().n %>/<% ctx().f %>", c.clone()).unwrap(),
        json!("5/2.5")
    );
    assert_eq!(
        ev("cfg=<% ctx().d %>", c.clone()).unwrap(),
        json!("cfg={'a': 1}")
    );
    assert_eq!(
        ev("v=<% ctx().nul %> <% ctx().t %>", c.clone()).unwrap(),
        json!("v=None True")
    );
    assert_eq!(
        ev("x <% ['a', \"b'c\"] %>", c.clone()).unwrap(),
        json!("x ['a', \"b'c\"]")
    );
    assert_eq!(
        ev("<% 1.0 %> <% 10000000000000000.0 %>", c.clone()).unwrap(),
        json!("1.0 1e+16")
    );
    assert_eq!(
        ev("s=<% set(1, 2) %>", c.clone()).unwrap(),
        json!("s={1, 2}")
    );
    assert_eq!(ev("<% ctx().tmpl %>", c.clone()).unwrap(), json!(10));
    assert_eq!(ev("v=<% ctx().tmpl %>", c.clone()).unwrap(), json!("v=10"));
    assert_eq!(
        ev("no expression", c.clone()).unwrap(),
        json!("no expression")
    );
    assert_eq!(ev("<% 1\n %>", c.clone()).unwrap(), json!("<% 1\n %>"));
    assert!(ev("<% '50%>' %>", c.clone()).is_err());
    let looped = json!({"a": "<% ctx().a %>"});
    assert!(matches!(ev("<% ctx().a %>", looped), Err(Error::Budget(_))));
}

#[test]
fn error_messages_carry_positions() {
    let e = err("1 + unknownFunc()").to_string();
    assert!(
        e.contains("NoFunctionRegisteredException") && e.contains("position 7"),
        "{e}"
    );
    assert!(e.contains("<% 1 + unknownFunc() %>"), "{e}");
}

// --------------------------------------------------------------------------------- parse once

#[test]
fn expressions_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    let e = std::sync::Arc::new(Expression::parse("ctx().n + 1").unwrap());
    let e2 = e.clone();
    let r = std::thread::spawn(move || e2.evaluate(&json!({"n": 1}), &NoProvider).unwrap())
        .join()
        .unwrap();
    assert_eq!(r, json!(2));
}

#[test]
fn parsed_expressions_are_reusable() {
    let e = Expression::parse("ctx().hosts.where($.cpu > 50).select($.name)").unwrap();
    let ctx = json!({"hosts": [{"name": "a", "cpu": 60}, {"name": "b", "cpu": 10}]});
    for _ in 0..3 {
        assert_eq!(e.evaluate(&ctx, &NoProvider).unwrap(), json!(["a"]));
    }
    assert!(Expression::parse("1 +").is_err());
    let tmpl = Expression::parse("ctx().t").unwrap();
    let ctx = json!({"t": "<% ctx().n + 1 %>", "n": 1});
    assert_eq!(tmpl.evaluate(&ctx, &NoProvider).unwrap(), json!(2));
    assert_eq!(tmpl.source(), "ctx().t");
}

// --------------------------------------------------------------------------------- robustness

#[test]
fn hostile_expressions_hit_the_budget() {
    for src in [
        "range(100000000).select($ * 2)",
        "range(1000000).select(range(1000).sum()).sum()",
        "sequence().select($)",
        "sequence().toList()",
        "'ab' * 100000000",
        "[0] * 100000000",
        "def(f, f($)) -> f(1)",
        "sequence().len()",
    ] {
        match err(src) {
            Error::Budget(_) => {}
            other => panic!("{src}: expected a budget error, got {other:?}"),
        }
    }
    for src in [
        "round(1, -170141183460469231731687303715884105727 - 1)",
        "round(1.5, -170141183460469231731687303715884105727 - 1)",
        "range(-170141183460469231731687303715884105727, 170141183460469231731687303715884105727)",
        "hex(-170141183460469231731687303715884105727 - 1)",
        "pow(170141183460469231731687303715884105727, 3, 170141183460469231731687303715884105727)",
        "[1, 2].slice(170141183460469231731687303715884105727)",
        "'a' * 170141183460469231731687303715884105727",
        "-(-170141183460469231731687303715884105727 - 1)",
        "abs(-170141183460469231731687303715884105727 - 1)",
        "170141183460469231731687303715884105727 + 1",
        "sequence(170141183460469231731687303715884105727).take(3)",
    ] {
        // Extreme integers give a value or an error, never a panic.
        let _ = ev(&format!("<% {src} %>"), json!({}));
    }
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(err(&deep).to_string().contains("deeper"));
    let deep_list = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    assert!(err(&deep_list).to_string().contains("deeper"));
}

#[test]
fn where_select_is_fast() {
    let hosts: Vec<J> = (0..100)
        .map(|i| {
            let env = ["prod", "dev", "stage"][i % 3];
            json!({"name": format!("host{i:03}"), "cpu": (i * 37) % 100, "env": env})
        })
        .collect();
    let ctx = json!({"hosts": hosts});
    let e = Expression::parse("ctx().hosts.where($.env = 'prod' and $.cpu > 50).select($.name)")
        .unwrap();
    let start = std::time::Instant::now();
    for _ in 0..200 {
        e.evaluate(&ctx, &NoProvider).unwrap();
    }
    // 1200 evaluations a second is the 50x target; even a debug build should beat it easily.
    assert!(
        start.elapsed().as_secs_f64() < 200.0 / 1200.0 * 4.0,
        "{:?}",
        start.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("YAQL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        .. ProptestConfig::default()
    })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,40}") {
        let _ = evaluate(&format!("<% {s} %>"), &json!({"a": [1, 2], "s": "x"}), &NoProvider);
    }

    #[test]
    fn random_token_soup_never_panics(toks in proptest::collection::vec(prop_oneof![
        Just("ctx()"), Just("."), Just("$"), Just("$x"), Just("1"), Just("2.5"), Just("'s'"),
        Just("("), Just(")"), Just("["), Just("]"), Just("{"), Just("}"), Just(","), Just("=>"),
        Just("->"), Just("+"), Just("-"), Just("*"), Just("/"), Just("mod"), Just("and"),
        Just("or"), Just("not"), Just("="), Just("<"), Just("in"), Just("?."), Just("a"),
        Just("select("), Just("where("), Just("let("), Just("range("), Just("orderBy("),
        Just("sequence()"), Just("len("), Just("null"), Just("true"), Just("def("),
        Just("groupBy("), Just("join("), Just("zip("), Just("set("), Just("dict("),
        Just("170141183460469231731687303715884105727"), Just("-1"), Just("0"), Just("'\\d+'"),
        Just("regex("), Just("split("), Just("replace("), Just("substring("), Just("slice("),
        Just("round("), Just("pow("), Just("range("), Just("repeat("), Just("cycle()"),
        Just("take("), Just("skip("), Just("sum("), Just("max("), Just("flatten()"),
        Just("toDict("), Just("mergeWith("), Just("insert("), Just("delete("), Just("format("),
        Just("str("), Just("int("), Just("float("), Just("switch("), Just("coalesce("),
        Just("selectMany("), Just("aggregate("), Just("generate("), Just("item("), Just("json("),
        Just("ctx(a)"), Just("$1"), Just("$2"), Just("->"), Just("=~"), Just("*"), Just("[1, 2]"),
    ], 0..30)) {
        let src = toks.join(" ");
        let _ = evaluate(&format!("<% {src} %>"), &json!({"a": [1, 2], "s": "x"}), &NoProvider);
    }
}

/// Writes check.py protocol answers for a corpus file, so the corpus can be checked without the
/// CLI: `GALE_YAQL_CORPUS=yaql.jsonl GALE_YAQL_OUT=/tmp/answers cargo test -p gale-expr
/// conformance_dump -- --ignored`, then `check.py --cmd "cat /tmp/answers"`.
/// Throughput of the corpus README's benchmark expressions (release build:
/// `cargo test --release -p gale-expr yaql_bench -- --ignored --nocapture`).
#[test]
#[ignore]
fn yaql_bench() {
    let hosts: Vec<J> = (0..100)
        .map(|i| {
            let env = ["prod", "dev", "stage"][i % 3];
            json!({"name": format!("host{i:03}"), "cpu": (i * 37) % 100, "env": env})
        })
        .collect();
    let data = json!({"hosts": hosts, "alarm": {"source": {"host": {"name": "db01", "ip": "10.0.0.5"}}}, "user": "ops", "n": 42});
    for (label, text, python) in [
        ("path lookup", "<% ctx().alarm.source.host.ip %>", 1931.0),
        ("select/where", "<% ctx().hosts.where($.env = 'prod' and $.cpu > 50).select($.name) %>", 24.0),
        ("string building", "<% 'host ' + ctx().alarm.source.host.name + ' has ' + str(ctx().n) + ' alarms for ' + ctx().user %>", 602.0),
    ] {
        let n = 20000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            evaluate(text, &data, &NoProvider).unwrap();
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        let body = &text[2..text.len() - 2];
        let parsed = Expression::parse(body).unwrap();
        let start = std::time::Instant::now();
        for _ in 0..n {
            parsed.evaluate(&data, &NoProvider).unwrap();
        }
        let rate2 = n as f64 / start.elapsed().as_secs_f64();
        println!("{label}: evaluate() {rate:.0}/s, parsed once {rate2:.0}/s ({:.0}x python)", rate2 / python);
    }
}

#[test]
#[ignore]
fn conformance_dump() {
    let (Ok(src), Ok(out)) = (
        std::env::var("GALE_YAQL_CORPUS"),
        std::env::var("GALE_YAQL_OUT"),
    ) else {
        return;
    };
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: J = serde_json::from_str(line).unwrap();
        let expr = case["expr"].as_str().unwrap_or_default();
        let ctx = case.get("ctx").cloned().unwrap_or(json!({}));
        let answer = match evaluate(expr, &ctx, &NoProvider) {
            Ok(v) => json!({"id": case["id"], "result": v}),
            Err(e) => json!({"id": case["id"], "error": e.to_string()}),
        };
        lines.push(answer.to_string());
    }
    std::fs::write(out, lines.join("\n") + "\n").unwrap();
}

#[test]
fn deep_nesting_within_limits_does_not_overflow_the_stack() {
    // Run on a small stack: nested lambdas go through the whole call machinery at every level.
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let mut results = Vec::new();
            for depth in [10usize, 20, 30, 40] {
                let src = format!("{}$ + 1{}", "[1].select(".repeat(depth), ")".repeat(depth));
                results.push(evaluate(&format!("<% {src} %>"), &json!({}), &NoProvider).is_ok());
                let src = format!("{}1{}", "let(x => ".repeat(depth), ") -> $x".repeat(depth));
                results.push(evaluate(&format!("<% {src} %>"), &json!({}), &NoProvider).is_ok());
                let src = format!("{}1{}", "switch(true => ".repeat(depth), ")".repeat(depth));
                results.push(evaluate(&format!("<% {src} %>"), &json!({}), &NoProvider).is_ok());
            }
            for src in [
                "def(f, [1].select(f($))) -> f(1)",
                "def(f, switch(true => f($))) -> f(1)",
                "def(f, [1].orderBy(f($)).where(f($))) -> f(1)",
                "def(f, let(y => f($)) -> $y) -> f(1)",
                "def(f, [$].groupBy(f($), f($), f($))) -> f(1)",
                "def(f, regex('a').replaceBy('a', f($))) -> f(1)",
            ] {
                let r = evaluate(&format!("<% {src} %>"), &json!({}), &NoProvider);
                results.push(matches!(r, Err(Error::Budget(_))));
            }
            results
        })
        .unwrap();
    let results = handle.join().expect("no stack overflow");
    assert!(results[0], "shallow nesting evaluates");
    assert!(
        results[12..].iter().all(|b| *b),
        "runaway recursion ends in a budget error"
    );
}

/// Stack bytes per evaluation level (debug builds reserve far more than release ones):
/// `cargo test -p gale-expr stack_probe -- --ignored --nocapture`.
#[test]
#[ignore]
fn stack_probe() {
    for src in [
        "def(f, [1].select(f($))) -> f(1)",
        "def(f, switch(true => f($))) -> f(1)",
        "def(f, f($)) -> f(1)",
        "def(f, let(y => f($)) -> $y) -> f(1)",
        "def(f, [1].orderBy(f($))) -> f(1)",
    ] {
        let s = src.to_string();
        let r = std::thread::Builder::new()
            .stack_size(64 * 1024 * 1024)
            .spawn(move || {
                let _ = evaluate(&format!("<% {s} %>"), &json!({}), &NoProvider);
                eval::STACK_PROBE.with(|p| p.get())
            })
            .unwrap()
            .join()
            .unwrap();
        println!(
            "{src}: {} bytes over {} levels = {} per level",
            r.0 - r.1,
            r.2,
            (r.0 - r.1) / r.2 as usize
        );
    }
}

const FUZZ_NAMES: &[&str] = &[
    "let",
    "with",
    "def",
    "unpack",
    "assert",
    "bool",
    "switch",
    "selectCase",
    "switchCase",
    "coalesce",
    "abs",
    "int",
    "float",
    "pow",
    "round",
    "sign",
    "max",
    "min",
    "bitwiseAnd",
    "shiftBitsLeft",
    "str",
    "hex",
    "concat",
    "len",
    "toUpper",
    "split",
    "rightSplit",
    "join",
    "trim",
    "replace",
    "substring",
    "indexOf",
    "lastIndexOf",
    "toCharArray",
    "startsWith",
    "isEmpty",
    "norm",
    "list",
    "dict",
    "set",
    "flatten",
    "toList",
    "toDict",
    "get",
    "keys",
    "values",
    "items",
    "contains",
    "delete",
    "insert",
    "insertMany",
    "replaceMany",
    "toSet",
    "union",
    "add",
    "where",
    "select",
    "skip",
    "take",
    "append",
    "distinct",
    "enumerate",
    "any",
    "all",
    "count",
    "sum",
    "first",
    "last",
    "single",
    "selectMany",
    "range",
    "sequence",
    "orderBy",
    "thenBy",
    "groupBy",
    "zip",
    "zipLongest",
    "repeat",
    "cycle",
    "takeWhile",
    "skipWhile",
    "indexWhere",
    "slice",
    "splitWhere",
    "sliceWhere",
    "splitAt",
    "aggregate",
    "accumulate",
    "reverse",
    "mergeWith",
    "generate",
    "generateMany",
    "defaultIfEmpty",
    "regex",
    "matches",
    "search",
    "searchAll",
    "replaceBy",
    "escapeRegex",
    "ctx",
    "json",
    "item",
];

fn arb_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("1"),
        Just("-3"),
        Just("0"),
        Just("2.5"),
        Just("'ab'"),
        Just("'a\\\\d'"),
        Just("null"),
        Just("true"),
        Just("$"),
        Just("$1"),
        Just("$2"),
        Just("ctx()"),
        Just("ctx().a"),
        Just("[1, 'x', null]"),
        Just("{a => 1, b => [2]}"),
        Just("set(1, 2)"),
        Just("170141183460469231731687303715884105727"),
        Just("x"),
    ]
    .prop_map(String::from);
    leaf.prop_recursive(4, 48, 3, |inner| {
        let ops = prop::sample::select(vec![
            "+", "-", "*", "/", "mod", "=", "!=", "<", ">=", "and", "or", "in", "=~", "->",
        ]);
        let names = prop::sample::select(FUZZ_NAMES.to_vec());
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (
                inner.clone(),
                names.clone(),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(r, n, args)| format!("{r}.{n}({})", args.join(", "))),
            (names, prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(n, args)| format!("{n}({})", args.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} => {b}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("YAQL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1500),
        .. ProptestConfig::default()
    })]

    /// Well-formed expressions over the whole standard library: a value or an error, never a
    /// panic, and always within the step budget (the test would time out otherwise).
    #[test]
    fn random_programs_never_panic(src in arb_expr()) {
        let ctx = json!({"a": [3, 1, 2], "__current_item": {"k": 1}});
        let _ = evaluate(&format!("<% {src} %>"), &ctx, &NoProvider);
        let _ = evaluate(&format!("x <% {src} %> <% {src} %>"), &ctx, &NoProvider);
    }
}

use super::*;
use crate::NoProvider;
use serde_json::json;

fn run(name: &str, args: Vec<Value>) -> Result<Value, Error> {
    run_ctx(name, args, &json!({}))
}

fn run_ctx(name: &str, args: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    let f = FnContext {
        ctx,
        provider: &NoProvider,
    };
    call(name, &args, &f).expect("function registered")
}

fn run_kw(name: &str, args: Vec<Value>, kw: Vec<(&str, Value)>) -> Result<Value, Error> {
    let ctx = json!({});
    let f = FnContext {
        ctx: &ctx,
        provider: &NoProvider,
    };
    let kw: Vec<(String, Value)> = kw.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    call_kw(name, &args, &kw, &f).expect("function registered")
}

fn err_class(r: Result<Value, Error>) -> String {
    match r {
        Err(Error::Evaluation(m)) => m.split(':').next().unwrap_or("").to_string(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn unknown_names_are_none() {
    let ctx = json!({});
    let f = FnContext {
        ctx: &ctx,
        provider: &NoProvider,
    };
    assert!(call("nope", &[], &f).is_none());
    for n in NAMES {
        assert!(call(n, &[], &f).is_some(), "{n}");
    }
}

#[test]
fn json_and_zip() {
    assert_eq!(
        run("json", vec![json!("{\"a\": [1, 2.5]}")]).unwrap(),
        json!({"a": [1, 2.5]})
    );
    assert_eq!(run("json", vec![json!({"a": 1})]).unwrap(), json!({"a": 1}));
    assert_eq!(err_class(run("json", vec![json!(5)])), "TypeError");
    assert_eq!(
        err_class(run("json", vec![json!("{bad")])),
        "JSONDecodeError"
    );
    assert_eq!(
        run("zip", vec![json!([1, 2, 3]), json!(["a"])]).unwrap(),
        json!([[1, "a"], [2, null], [3, null]])
    );
    assert_eq!(
        run_kw(
            "zip",
            vec![json!([1, 2]), json!(["a"])],
            vec![("pad", json!(0))]
        )
        .unwrap(),
        json!([[1, "a"], [2, 0]])
    );
    assert_eq!(run("zip", vec![json!([1, 2])]).unwrap(), json!([1, 2]));
    assert_eq!(
        run("zip", vec![json!(null), json!([1])]).unwrap(),
        json!([[null, 1]])
    );
    assert_eq!(
        err_class(run("zip", vec![json!(1), json!([1])])),
        "TypeError"
    );
}

#[test]
fn ctx_function() {
    let ctx = json!({"a": 1, "__state": {}});
    assert_eq!(run_ctx("ctx", vec![], &ctx).unwrap(), json!({"a": 1}));
    assert_eq!(run_ctx("ctx", vec![json!("a")], &ctx).unwrap(), json!(1));
    assert_eq!(
        err_class(run_ctx("ctx", vec![json!("zz")], &ctx)),
        "VariableUndefinedError"
    );
    assert_eq!(
        err_class(run_ctx("ctx", vec![json!("__state")], &ctx)),
        "VariableInaccessibleError"
    );
}

#[test]
fn workflow_functions() {
    let ctx = json!({
        "__current_item": {"host": "h1"},
        "__current_task": {"id": "t1", "route": 0, "result": {"code": 3}},
        "__state": {"tasks": {"t1__r0": 0, "t2__r0": 1, "t3__r0": 2},
                    "sequence": [{"id": "t1", "status": "succeeded"},
                                 {"id": "t2", "status": "failed"},
                                 {"id": "t3", "status": "running"}],
                    "routes": [[]]}
    });
    assert_eq!(
        run_ctx("item", vec![], &ctx).unwrap(),
        json!({"host": "h1"})
    );
    assert_eq!(
        run_ctx("item", vec![json!("host")], &ctx).unwrap(),
        json!("h1")
    );
    assert_eq!(
        err_class(run_ctx("item", vec![json!("x")], &ctx)),
        "ExpressionEvaluationException"
    );
    assert_eq!(run_ctx("item", vec![], &json!({})).unwrap(), json!(null));
    assert_eq!(
        err_class(run_ctx(
            "item",
            vec![json!("x")],
            &json!({"__current_item": [1]})
        )),
        "ExpressionEvaluationException"
    );
    assert_eq!(run_ctx("result", vec![], &ctx).unwrap(), json!({"code": 3}));
    assert_eq!(
        err_class(run_ctx("result", vec![], &json!({"a": 1}))),
        "ExpressionEvaluationException"
    );
    assert_eq!(run_ctx("succeeded", vec![], &ctx).unwrap(), json!(true));
    assert_eq!(run_ctx("failed", vec![], &ctx).unwrap(), json!(false));
    assert_eq!(run_ctx("completed", vec![], &ctx).unwrap(), json!(true));
    assert_eq!(
        run_ctx("task_status", vec![json!("t2")], &ctx).unwrap(),
        json!("failed")
    );
    assert_eq!(
        run_ctx("task_status", vec![json!("t3")], &ctx).unwrap(),
        json!("running")
    );
    assert_eq!(
        run_ctx("task_status", vec![json!("zz")], &ctx).unwrap(),
        json!("null")
    );
    assert_eq!(
        run_ctx("task_status", vec![json!("t1")], &json!({})).unwrap(),
        json!("null")
    );
}

#[test]
fn task_status_falls_back_to_earlier_route() {
    let ctx = json!({
        "__current_task": {"id": "t9", "route": 1},
        "__state": {"tasks": {"t1__r0": 0}, "sequence": [{"id": "t1", "status": "succeeded"}],
                    "routes": [[], ["t2__t0"]]}
    });
    assert_eq!(
        run_ctx("task_status", vec![json!("t1")], &ctx).unwrap(),
        json!("succeeded")
    );
}

#[test]
fn provider_functions_report_unavailable() {
    assert_eq!(
        err_class(run("st2kv", vec![json!("system.x")])),
        "ExpressionEvaluationException"
    );
    assert_eq!(err_class(run("st2kv", vec![json!(1)])), "TypeError");
    assert_eq!(
        err_class(run_kw(
            "st2kv",
            vec![json!("k")],
            vec![("decrypt", json!("yes"))]
        )),
        "TypeError"
    );
    assert_eq!(
        err_class(run("task", vec![json!("t1")])),
        "ExpressionEvaluationException"
    );
    assert_eq!(
        err_class(run("decrypt_kv", vec![json!("abc")])),
        "ValueError"
    );
}

struct Kv;
impl ContextProvider for Kv {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        Ok(match key {
            "system.a" => Some(json!(if decrypt { "plain" } else { "cipher" })),
            _ => None,
        })
    }
    fn decrypt(&self, c: &str) -> Result<String, String> {
        Ok(c.chars().rev().collect())
    }
}

#[test]
fn provider_functions_with_provider() {
    let ctx = json!({});
    let f = FnContext {
        ctx: &ctx,
        provider: &Kv,
    };
    let kw = |k: &str, v: Value| vec![(k.to_string(), v)];
    assert_eq!(
        call("st2kv", &[json!("system.a")], &f).unwrap().unwrap(),
        json!("cipher")
    );
    assert_eq!(
        call_kw(
            "st2kv",
            &[json!("system.a")],
            &kw("decrypt", json!(true)),
            &f
        )
        .unwrap()
        .unwrap(),
        json!("plain")
    );
    assert_eq!(
        call_kw("st2kv", &[json!("system.b")], &kw("default", json!(7)), &f)
            .unwrap()
            .unwrap(),
        json!(7)
    );
    assert!(call("st2kv", &[json!("system.b")], &f).unwrap().is_err());
    assert_eq!(
        call("decrypt_kv", &[json!("abc")], &f).unwrap().unwrap(),
        json!("cba")
    );
}

#[test]
fn regex_functions() {
    assert_eq!(
        run("regex_match", vec![json!("v1.2.3"), json!("v\\d")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run("regex_match", vec![json!("xv1"), json!("v\\d")]).unwrap(),
        json!(false)
    );
    assert_eq!(
        run("regex_search", vec![json!("xv1"), json!("v\\d")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run("regex_match", vec![json!("ABC"), json!("abc"), json!(true)]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run("regex_match", vec![json!(123), json!("12")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run(
            "regex_replace",
            vec![json!("a1b22"), json!("\\d+"), json!("#")]
        )
        .unwrap(),
        json!("a#b#")
    );
    assert_eq!(
        run(
            "regex_replace",
            vec![json!("Host-01"), json!("(\\w+)-(\\d+)"), json!("\\2_\\1")]
        )
        .unwrap(),
        json!("01_Host")
    );
    assert_eq!(
        run(
            "regex_replace",
            vec![json!("ab"), json!("(?P<x>a)"), json!("\\g<x>$")]
        )
        .unwrap(),
        json!("a$b")
    );
    assert_eq!(
        run(
            "regex_substring",
            vec![json!("id=42 id=7"), json!("id=(\\d+)")]
        )
        .unwrap(),
        json!("42")
    );
    assert_eq!(
        run(
            "regex_substring",
            vec![json!("id=42 id=7"), json!("id=(\\d+)"), json!(-1)]
        )
        .unwrap(),
        json!("7")
    );
    assert_eq!(
        run(
            "regex_substring",
            vec![json!("a1b2"), json!("([a-z])(\\d)")]
        )
        .unwrap(),
        json!(["a", "1"])
    );
    assert_eq!(
        err_class(run("regex_substring", vec![json!("abc"), json!("\\d")])),
        "IndexError"
    );
    assert_eq!(
        err_class(run("regex_match", vec![json!("a"), json!("(")])),
        "error"
    );
}

#[test]
fn json_functions() {
    let d = json!({"b": 2, "a": 1, "c": 3});
    assert_eq!(
        run("to_json_string", vec![d.clone()]).unwrap(),
        json!("{\"b\": 2,\"a\": 1,\"c\": 3}")
    );
    assert_eq!(
        run("to_json_string", vec![d.clone(), json!(2)]).unwrap(),
        json!("{\n  \"b\": 2,\n  \"a\": 1,\n  \"c\": 3\n}")
    );
    assert_eq!(
        run("to_json_string", vec![d.clone(), json!(null), json!(true)]).unwrap(),
        json!("{\"a\": 1,\"b\": 2,\"c\": 3}")
    );
    assert_eq!(
        run("json_dump", vec![json!([1, "a", null])]).unwrap(),
        json!("[1,\"a\",null]")
    );
    assert_eq!(
        run("to_json_string", vec![json!("é")]).unwrap(),
        json!("\"\\u00e9\"")
    );
    assert_eq!(
        run("to_json_string", vec![json!(1e16)]).unwrap(),
        json!("1e+16")
    );
    assert_eq!(
        run("to_complex", vec![d.clone()]).unwrap(),
        json!("{\"b\": 2, \"a\": 1, \"c\": 3}")
    );
    assert_eq!(
        run("from_json_string", vec![json!("{\"k\": [1, 2]}")]).unwrap(),
        json!({"k": [1, 2]})
    );
    assert_eq!(run("json_parse", vec![json!("1.50")]).unwrap(), json!(1.5));
    assert_eq!(
        err_class(run("json_parse", vec![json!("{")])),
        "JSONDecodeError"
    );
    assert_eq!(
        run("json_escape", vec![json!("say \"hi\"\n")]).unwrap(),
        json!("say \\\"hi\\\"\\n")
    );
    assert_eq!(
        run("json_escape", vec![json!("say \"hi\"")]).unwrap(),
        json!("say \\\"hi\\")
    );
    assert_eq!(
        run("json_escape", vec![json!("tab\there")]).unwrap(),
        json!("tab\\there")
    );
}

#[test]
fn yaml_functions() {
    assert_eq!(
        run("to_yaml_string", vec![json!({"b": 2, "a": 1})]).unwrap(),
        json!("a: 1\nb: 2\n")
    );
    assert_eq!(
        run("yaml_dump", vec![json!([1, "x"])]).unwrap(),
        json!("- 1\n- x\n")
    );
    assert_eq!(
        run("yaml_parse", vec![json!("- 1\n- yes\n- no\n- 0x10")]).unwrap(),
        json!([1, true, false, 16])
    );
    assert_eq!(
        run("from_yaml_string", vec![json!("plain")]).unwrap(),
        json!("plain")
    );
}

#[test]
fn jsonpath_function() {
    assert_eq!(
        run(
            "jsonpath_query",
            vec![json!({"a": {"b": [1, 2]}}), json!("a.b[1]")]
        )
        .unwrap(),
        json!([2])
    );
    assert_eq!(
        run("jsonpath_query", vec![json!({"a": 1}), json!("zz")]).unwrap(),
        json!(null)
    );
    assert_eq!(
        err_class(run(
            "jsonpath_query",
            vec![json!([]), json!("$[?(@.a > 1)]")]
        )),
        "JsonPathLexerError"
    );
}

#[test]
fn human_time() {
    let h = |v: Value| run("to_human_time_from_seconds", vec![v]).unwrap();
    assert_eq!(h(json!(0)), json!("0s"));
    assert_eq!(h(json!(59)), json!("59s"));
    assert_eq!(h(json!(61)), json!("1m1s"));
    assert_eq!(h(json!(3600)), json!("1h0m0s"));
    assert_eq!(h(json!(3601)), json!("1h0m1s"));
    assert_eq!(h(json!(90061)), json!("1d1h1m1s"));
    assert_eq!(h(json!(31536000 + 5)), json!("1y0d0h0m5s"));
    assert_eq!(h(json!(86400 * 400)), json!("1y4d0h0m0s"));
    assert_eq!(h(json!(0.5)), json!("0.5\u{3bc}s"));
    assert_eq!(h(json!(119.6)), json!("2m0s"));
    assert_eq!(h(json!(59.5)), json!("1m0s"));
    assert_eq!(h(json!(2.5)), json!("2s"));
    assert_eq!(h(json!(-5)), json!("-5\u{3bc}s"));
    assert_eq!(
        err_class(run("to_human_time_from_seconds", vec![json!("60")])),
        "AssertionError"
    );
}

#[test]
fn version_functions() {
    assert_eq!(
        run("version_compare", vec![json!("1.2.3"), json!("1.10.0")]).unwrap(),
        json!(-1)
    );
    assert_eq!(
        run("version_compare", vec![json!("2.0.0"), json!("2.0.0")]).unwrap(),
        json!(0)
    );
    assert_eq!(
        run("version_more_than", vec![json!("1.10.0"), json!("1.9.9")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run("version_less_than", vec![json!("0.9.0"), json!("1.0.0")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run("version_equal", vec![json!("1.0.0"), json!("1.0.0+b.5")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run("version_match", vec![json!("2.3.4"), json!(">=2.0.0")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        run("version_bump_major", vec![json!("1.2.3")]).unwrap(),
        json!("2.0.0")
    );
    assert_eq!(
        run("version_bump_minor", vec![json!("1.2.3")]).unwrap(),
        json!("1.3.0")
    );
    assert_eq!(
        run("version_bump_patch", vec![json!("1.2.3-rc.1")]).unwrap(),
        json!("1.2.4")
    );
    assert_eq!(
        run("version_strip_patch", vec![json!("10.4.7")]).unwrap(),
        json!("10.4")
    );
    assert_eq!(
        err_class(run("version_compare", vec![json!("1.2"), json!("1.2.0")])),
        "ValueError"
    );
    assert_eq!(
        err_class(run("version_bump_patch", vec![json!(1)])),
        "TypeError"
    );
}

#[test]
fn path_and_none() {
    assert_eq!(
        run("basename", vec![json!("/var/log/syslog")]).unwrap(),
        json!("syslog")
    );
    assert_eq!(
        run("dirname", vec![json!("/var/log/syslog")]).unwrap(),
        json!("/var/log")
    );
    assert_eq!(run("basename", vec![json!("/etc/")]).unwrap(), json!(""));
    assert_eq!(run("dirname", vec![json!("file.txt")]).unwrap(), json!(""));
    assert_eq!(run("dirname", vec![json!("/x")]).unwrap(), json!("/"));
    assert_eq!(run("dirname", vec![json!("//x")]).unwrap(), json!("//"));
    assert_eq!(err_class(run("basename", vec![json!(1)])), "TypeError");
    assert_eq!(
        run("use_none", vec![json!(null)]).unwrap(),
        json!(NONE_MAGIC_VALUE)
    );
    assert_eq!(run("use_none", vec![json!(3)]).unwrap(), json!(3));
}

#[test]
fn argument_binding_errors() {
    assert_eq!(
        err_class(run("basename", vec![json!("a"), json!("b")])),
        "TypeError"
    );
    assert_eq!(err_class(run("basename", vec![])), "TypeError");
    assert_eq!(
        err_class(run_kw(
            "to_json_string",
            vec![json!(1)],
            vec![("bogus", json!(1))]
        )),
        "TypeError"
    );
    assert_eq!(
        run_kw(
            "to_json_string",
            vec![json!({"b": 1, "a": 2})],
            vec![("sort_keys", json!(true))]
        )
        .unwrap(),
        json!("{\"a\": 2,\"b\": 1}")
    );
}

#[test]
fn slices() {
    let v = [1, 2, 3, 4];
    assert_eq!(py_slice(&v, Some(1), None, None), vec![2, 3, 4]);
    assert_eq!(py_slice(&v, None, None, Some(-1)), vec![4, 3, 2, 1]);
    assert_eq!(py_slice(&v, Some(-2), None, None), vec![3, 4]);
    assert_eq!(py_slice(&v, Some(3), Some(0), Some(-2)), vec![4, 2]);
}

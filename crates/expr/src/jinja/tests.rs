use super::*;
use serde_json::json;

fn orq(text: &str, ctx: Value) -> Result<Value, Error> {
    evaluate_orquesta(text, &ctx, &NoProvider)
}

#[test]
fn typed_and_stringified() {
    assert_eq!(orq("{{ 1 + 1 }}", json!({})).unwrap(), json!(2));
    assert_eq!(
        orq("v={{ [1, 'a', none] }}", json!({})).unwrap(),
        json!("v=[1, 'a', None]")
    );
}

fn ok(text: &str, ctx: Value, expected: Value) {
    match orq(text, ctx) {
        Ok(v) => assert_eq!(v, expected, "{text}"),
        Err(e) => panic!("{text}: {e}"),
    }
}

fn fails(text: &str, ctx: Value) {
    assert!(orq(text, ctx).is_err(), "{text} should fail");
}

#[test]
fn operators_follow_python() {
    let c = json!({"n": 5, "f": 2.5, "s": "ab", "l": [1, 2]});
    ok("{{ 7 // -2 }}", c.clone(), json!(-4));
    ok("{{ -7 % 3 }}", c.clone(), json!(2));
    ok("{{ 7.5 % 2 }}", c.clone(), json!(1.5));
    ok("{{ 2 ** -1 }}", c.clone(), json!(0.5));
    ok("{{ ctx().n / 2 }}", c.clone(), json!(2.5));
    ok("{{ ctx().s * 2 }}", c.clone(), json!("abab"));
    ok("{{ ctx().l * 2 }}", c.clone(), json!([1, 2, 1, 2]));
    ok("{{ ctx().l + [3] }}", c.clone(), json!([1, 2, 3]));
    ok("{{ true + 1 }}", c.clone(), json!(2));
    ok(
        "{{ 1.5 ~ none ~ true ~ [1, 'a'] }}",
        c.clone(),
        json!("1.5NoneTrue[1, 'a']"),
    );
    ok("{{ 1 == true }}", c.clone(), json!(true));
    ok("{{ [1, 2] < [1, 3] }}", c.clone(), json!(true));
    ok("{{ 3 > 2 > 1 }}", c.clone(), json!(true));
    ok(
        "{{ 2 in ctx().l and 'a' in ctx().s }}",
        c.clone(),
        json!(true),
    );
    ok(
        "{{ '%-4s|%+d|%x' % ('a', 3, 255) }}",
        c.clone(),
        json!("a   |+3|ff"),
    );
    ok(
        "{{ '%(a)s-%(b)03d' % {'a': 'x', 'b': 7} }}",
        c.clone(),
        json!("x-007"),
    );
    ok("{{ 0 or none or 'z' }}", c.clone(), json!("z"));
    ok("{{ -ctx().f }}", c.clone(), json!(-2.5));
    fails("{{ ctx().s - 1 }}", c.clone());
    fails("{{ 1 // 0 }}", c.clone());
    fails("{{ 1 % 0 }}", c.clone());
    fails("{{ 'a' > 1 }}", c.clone());
    fails("{{ 1 in 'abc' }}", c.clone());
    fails("{{ '%d' % 'x' }}", c);
}

#[test]
fn filters_follow_jinja2() {
    let c = json!({"words": ["b", "A", "c"], "people": [{"n": "x", "a": 3}, {"n": "y", "a": 1}],
                   "d": {"b": 1, "a": 2}, "s": "Hello World", "long": "one two three four five six"});
    ok(
        "{{ ctx().words | sort(reverse=true) }}",
        c.clone(),
        json!(["c", "b", "A"]),
    );
    ok(
        "{{ ctx().people | sort(attribute='a') | map(attribute='n') | list }}",
        c.clone(),
        json!(["y", "x"]),
    );
    ok(
        "{{ ctx().people | min(attribute='a') }}",
        c.clone(),
        json!({"n": "y", "a": 1}),
    );
    ok(
        "{{ ctx().people | unique(attribute='a') | length }}",
        c.clone(),
        json!(2),
    );
    ok(
        "{{ ctx().d | dictsort(by='value', reverse=true) }}",
        c.clone(),
        json!([["a", 2], ["b", 1]]),
    );
    ok(
        "{{ ctx().d | tojson }}",
        c.clone(),
        json!("{\"a\": 2, \"b\": 1}"),
    );
    ok(
        "{{ [1, 2, 3, 4, 5] | slice(2, 0) | list }}",
        c.clone(),
        json!([[1, 2, 3], [4, 5, 0]]),
    );
    ok(
        "{{ [1, 2, 3] | batch(2) | list }}",
        c.clone(),
        json!([[1, 2], [3]]),
    );
    ok("{{ [1.5, 2] | sum }}", c.clone(), json!(3.5));
    ok("{{ 2.675 | round(2) }}", c.clone(), json!(2.67));
    ok("{{ -2.5 | round }}", c.clone(), json!(-2.0));
    ok("{{ 7 | round(0, 'floor') }}", c.clone(), json!(7.0));
    ok("{{ 'ff' | int(0, 16) }}", c.clone(), json!(255));
    ok("{{ '  3.5 ' | float }}", c.clone(), json!(3.5));
    ok("{{ 'x' | float(1.5) }}", c.clone(), json!(1.5));
    ok(
        "{{ ctx().long | truncate(12) }}",
        c.clone(),
        json!("one two..."),
    );
    ok(
        "{{ ctx().long | wordwrap(10) }}",
        c.clone(),
        json!("one two\nthree four\nfive six"),
    );
    ok("{{ 'ab' | center(5) }}", c.clone(), json!("  ab "));
    ok("{{ 1 | filesizeformat }}", c.clone(), json!("1 Byte"));
    ok("{{ 300 | filesizeformat }}", c.clone(), json!("300 Bytes"));
    ok("{{ 'a/b c' | urlencode }}", c.clone(), json!("a/b%20c"));
    ok("{{ '%s=%s' | format('k', 1) }}", c.clone(), json!("k=1"));
    ok(
        "{{ {'a': none, 'b': '<'} | xmlattr }}",
        c.clone(),
        json!(" b=\"&lt;\""),
    );
    ok(
        "{{ ctx().s | replace('l', 'L', 2) }}",
        c.clone(),
        json!("HeLLo World"),
    );
    ok("{{ ctx().s | pprint }}", c.clone(), json!("'Hello World'"));
    ok("{{ 'a\"b' | escape }}", c.clone(), json!("a&#34;b"));
    ok("{{ [1, 2] | join('-') }}", c.clone(), json!("1-2"));
    ok(
        "{{ ctx().people | join(', ', attribute='n') }}",
        c.clone(),
        json!("x, y"),
    );
    ok(
        "{{ ctx().d | items | list }}",
        c.clone(),
        json!([["b", 1], ["a", 2]]),
    );
    ok("{{ ctx().words | last }}", c.clone(), json!("c"));
    ok("{{ 'abc' | list }}", c.clone(), json!(["a", "b", "c"]));
    ok("{{ none | default('x') }}", c.clone(), json!(null));
    ok(
        "{{ 0 | default('x', boolean=true) }}",
        c.clone(),
        json!("x"),
    );
    ok("{{ -3.5 | abs }}", c.clone(), json!(3.5));
    ok(
        "{{ 'hello world' | title }}",
        c.clone(),
        json!("Hello World"),
    );
    ok("{{ 'a<b>c</b>' | striptags }}", c.clone(), json!("ac"));
    ok("{{ 'a b  c' | wordcount }}", c.clone(), json!(3));
    ok("{{ 'ab' | reverse }}", c.clone(), json!("ba"));
    fails("{{ [] | first }}", c.clone());
    fails("{{ [] | random }}", c.clone());
    fails("{{ [1, 'a'] | max }}", c.clone());
    fails("{{ 'x' | dictsort }}", c.clone());
    fails("{{ 3 | length }}", c);
}

#[test]
fn tests_follow_jinja2() {
    let c = json!({"n": 6, "t": true});
    ok("{{ ctx().t is integer }}", c.clone(), json!(false));
    ok("{{ ctx().n is divisibleby 3 }}", c.clone(), json!(true));
    ok("{{ ctx().n is ge 6 }}", c.clone(), json!(true));
    ok("{{ ctx().n is ne 6 }}", c.clone(), json!(false));
    ok("{{ 'abc' is sequence }}", c.clone(), json!(true));
    ok("{{ 'x' is sameas 'x' }}", c.clone(), json!(false));
    ok("{{ 1.0 is float }}", c.clone(), json!(true));
    ok("{{ 'join' is filter }}", c.clone(), json!(true));
    ok("{{ 'nope' is test }}", c.clone(), json!(false));
    ok("{{ ctx().n is in [6, 7] }}", c.clone(), json!(true));
    ok("{{ 'Ab' is upper }}", c.clone(), json!(false));
    fails("{{ 'x' is odd }}", c);
}

#[test]
fn python_methods() {
    let c = json!({"s": " a,b ", "d": {"k": 1}});
    ok(
        "{{ ctx().s.strip().split(',') }}",
        c.clone(),
        json!(["a", "b"]),
    );
    ok(
        "{{ 'a-b-c'.rsplit('-', 1) }}",
        c.clone(),
        json!(["a-b", "c"]),
    );
    ok(
        "{{ 'k=v'.partition('=') }}",
        c.clone(),
        json!(["k", "=", "v"]),
    );
    ok("{{ '7'.zfill(3) }}", c.clone(), json!("007"));
    ok("{{ 'abc'.endswith(('x', 'c')) }}", c.clone(), json!(true));
    ok(
        "{{ '{:.1f}|{:>3}|{name}'.format(2.25, 'x', name='n') }}",
        c.clone(),
        json!("2.2|  x|n"),
    );
    ok("{{ ctx().d.get('k') }}", c.clone(), json!(1));
    ok("{{ ctx().d.items() | list }}", c.clone(), json!([["k", 1]]));
    ok("{{ [3, 1].index(1) }}", c.clone(), json!(1));
    ok(
        "{{ 'a b'.title().swapcase() }}",
        c.clone(),
        json!("a b".to_uppercase().replace('A', "a").replace('B', "b")),
    );
    fails("{{ 'x'.nosuchmethod() }}", c.clone());
    fails("{{ [1].index(5) }}", c);
}

#[test]
fn orquesta_splicing_and_reexpansion() {
    ok("{{ ctx().a }}{{ ctx().a }}", json!({"a": 1}), json!("11"));
    ok(" {{ ctx().a }}", json!({"a": [1]}), json!(" [1]"));
    ok(
        "{{ ctx().t }}",
        json!({"t": "{{ ctx().u }}", "u": {"k": 2}}),
        json!({"k": 2}),
    );
    ok("x {{ 'a' if false }}y", json!({}), json!("x y"));
    fails("{{ 'a' if false }}", json!({}));
    fails("{{ ctx().loop }}", json!({"loop": "{{ ctx().loop }}"}));
    ok(
        "{% for i in [1, 2] %}{{ i }}{% endfor %} {% raw %}{{ x }}{% endraw %}",
        json!({}),
        json!("12 {{ x }}"),
    );
    ok("{{ ctx().x }} <% 1 %>", json!({"x": 1}), json!("1 <% 1 %>"));
    ok("no delimiters", json!({}), json!("no delimiters"));
}

#[test]
fn orquesta_runtime_functions() {
    let c = json!({"__current_item": {"h": "a"}, "__current_task": {"id": "t", "route": 0, "result": [1]},
                   "__state": {"tasks": {"t__r0": 0}, "sequence": [{"id": "t", "status": "failed"}], "routes": [[]]},
                   "raw": "{\"k\": 1}"});
    ok("{{ item('h') }}", c.clone(), json!("a"));
    ok("{{ result() | length }}", c.clone(), json!(1));
    ok("{{ failed() and not succeeded() }}", c.clone(), json!(true));
    ok("{{ task_status('t') }}", c.clone(), json!("failed"));
    ok("{{ ctx().raw | json }}", c.clone(), json!({"k": 1}));
    ok("{{ zip([1], ['a'], pad=0) }}", c.clone(), json!([[1, "a"]]));
    ok("{{ ctx() | length }}", c.clone(), json!(1));
    ok(
        "{{ 'a,b' | regex_replace(',', ';') }}",
        c.clone(),
        json!("a;b"),
    );
    ok(
        "{{ to_json_string({'b': 1}, sort_keys=true) }}",
        c.clone(),
        json!("{\"b\": 1}"),
    );
    fails("{{ st2kv('system.k') }}", c.clone());
    fails("{{ ctx() | to_complex }}", c);
}

struct Kv;
impl ContextProvider for Kv {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        Ok(match key {
            "system.host" => Some(json!("db1")),
            "system.a.b" => Some(json!("nested")),
            "user.secret" => Some(json!(if decrypt { "plain" } else { "CIPHER" })),
            _ => None,
        })
    }
    fn decrypt(&self, c: &str) -> Result<String, String> {
        Ok(c.to_lowercase())
    }
}

#[test]
fn st2_rendering() {
    let c = json!({"host": "web", "port": 80, "tags": ["a"], "flag": false});
    let r = |t: &str| render_st2(t, &c, &NoProvider);
    assert_eq!(r("{{ host }}:{{ port }}").unwrap(), json!("web:80"));
    assert_eq!(r("{{ tags }} {{ flag }}").unwrap(), json!("['a'] False"));
    assert_eq!(r("{{ __context.port + 1 }}").unwrap(), json!("81"));
    assert_eq!(r("{{ tags | to_complex }}").unwrap(), json!("[\"a\"]"));
    assert_eq!(r("{{ 'a' is in tags }}").unwrap(), json!("True"));
    assert_eq!(r("plain").unwrap(), json!("plain"));
    assert!(r("{{ nope }}").is_err());
    assert!(r("{{ ctx() }}").is_err());
    assert!(r("{{ host | json }}").is_err(), "orquesta-only filter");
    // empty context: StackStorm returns the value untouched
    assert_eq!(
        render_st2("{{ 1 }}", &json!({}), &NoProvider).unwrap(),
        json!("{{ 1 }}")
    );
}

#[test]
fn st2kv_lookups_go_through_the_provider() {
    let c = json!({"x": 1});
    let r = |t: &str| render_st2(t, &c, &Kv);
    assert_eq!(r("{{ st2kv.system.host }}").unwrap(), json!("db1"));
    assert_eq!(
        r("{{ st2kv.system.a.b | upper }}").unwrap(),
        json!("NESTED")
    );
    assert_eq!(r("[{{ st2kv.system.missing }}]").unwrap(), json!("[]"));
    assert_eq!(
        r("{{ st2kv.user.secret | decrypt_kv }}").unwrap(),
        json!("cipher")
    );
    assert!(r("{{ st2kv.system.missing | decrypt_kv }}").is_err());
    // orquesta: st2kv() function with the provider
    let v = evaluate_orquesta("{{ st2kv('user.secret', decrypt=true) }}", &c, &Kv).unwrap();
    assert_eq!(v, json!("plain"));
    let v = evaluate_orquesta("{{ st2kv('system.nope', default='d') }}", &c, &Kv).unwrap();
    assert_eq!(v, json!("d"));
}

#[test]
fn st2_render_value_types() {
    let c = json!({"n": 2});
    assert_eq!(
        render_st2_value(&json!({"a": "{{ n }}"}), &c, &NoProvider).unwrap(),
        json!({"a": "2"})
    );
    assert_eq!(
        render_st2_value(&json!(5), &c, &NoProvider).unwrap(),
        json!(5)
    );
    assert_eq!(
        render_st2_value(&json!([1, "x"]), &c, &NoProvider).unwrap(),
        json!([1, "x"])
    );
}

#[test]
fn hostile_templates_hit_the_budget() {
    let e = orq(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        json!({}),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Budget(_)), "{e:?}");
    assert!(orq("{{ 'x' * 100000000 }}", json!({})).is_err());
    assert!(orq(
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        json!({})
    )
    .is_err());
}

/// The JSON fast path must agree with the full engine wherever it answers.
#[test]
fn fast_path_agrees_with_full_engine() {
    let data = json!({"hosts": [{"name": "a", "cpu": 1.5, "env": "dev", "up": true},
                                {"name": "b", "cpu": 2, "env": "prod", "up": false},
                                {"name": "c", "cpu": null, "env": "dev", "up": true}],
                      "m": {"k": [1, "x", {"z": null}]}, "s": "str"});
    let root = orquesta_root(&data);
    let exprs = [
        "ctx().hosts | selectattr('env', 'equalto', 'dev') | map(attribute='name') | join(',')",
        "ctx().hosts | rejectattr('up') | map(attribute='cpu') | list",
        "ctx().hosts | selectattr('up') | length",
        "ctx().hosts | map(attribute='name') | map('upper') | list",
        "ctx().hosts[-1]",
        "ctx('m').k[2]",
        "ctx().m['k'] | last",
        "ctx().hosts | first",
        "ctx().s | upper",
        "ctx().m.k | join('-')",
    ];
    for e in exprs {
        let p = compile::compile(e, false).unwrap();
        let f = p
            .fast
            .as_ref()
            .unwrap_or_else(|| panic!("no fast path for {e}"));
        let fast_v = fast::eval_expr(f, &data).unwrap_or_else(|| panic!("fast bailed on {e}"));
        let _scope = enter_scope(&data, &NoProvider);
        let (slow, _) = run(orquesta_env(), &p, root.clone()).unwrap();
        assert_eq!(fast_v, convert::to_json(&slow.unwrap()).unwrap(), "{e}");
    }
    let tmpls = [
        "{% for h in ctx().hosts %}{{ h.name }}={{ h.cpu }}/{{ h.up }};{% endfor %}",
        "{% for h in ctx().hosts %}\n  {% for k in ctx().m.k %}{{ k }}{% endfor %}\n{% endfor %}",
        "{{ ctx().m }} {{ ctx().hosts | map(attribute='name') | list }}",
    ];
    for t in tmpls {
        let p = compile::compile(t, true).unwrap();
        let f = p
            .fast
            .as_ref()
            .unwrap_or_else(|| panic!("no fast path for {t}"));
        let fast_v = fast::render(f, &data, 0).unwrap_or_else(|| panic!("fast bailed on {t}"));
        let _scope = enter_scope(&data, &NoProvider);
        let (_, slow) = run(orquesta_env(), &p, root.clone()).unwrap();
        assert_eq!(fast_v, slow, "{t}");
    }
    // off the happy path the fast path steps aside
    let p = compile::compile("ctx().hosts[5]", false).unwrap();
    assert!(fast::eval_expr(p.fast.as_ref().unwrap(), &data).is_none());
}

mod randomized {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        proptest::sample::select(vec![
            "{{",
            "}}",
            "{%",
            "%}",
            "{#",
            "#}",
            " ",
            "ctx()",
            "ctx('a')",
            ".a",
            "[0]",
            "|",
            "upper",
            "join(',')",
            "for x in ctx().l",
            "endfor",
            "if",
            "endif",
            "x",
            "1",
            "'s'",
            "+",
            "/",
            "//",
            "~",
            "(",
            ")",
            "[",
            "]",
            "range(5)",
            "raw",
            "endraw",
            "loop.index",
            "set y = 2",
            "*",
            "\n",
            "-",
            "not",
            "in",
            "is",
            "defined",
            "%",
            "zip(",
            "json(",
            "item()",
            ",",
            "=",
        ])
        .prop_map(str::to_string)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

        #[test]
        fn random_templates_never_panic(parts in proptest::collection::vec(fragment(), 0..24)) {
            let text: String = parts.concat();
            let ctx = json!({"a": {"a": [1, 2]}, "l": [1, "b", null]});
            let _ = evaluate_orquesta(&text, &ctx, &NoProvider);
            let _ = render_st2(&text, &ctx, &NoProvider);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,60}") {
            let _ = evaluate_orquesta(&text, &json!({"a": 1}), &NoProvider);
            let _ = render_st2(&text, &json!({"a": 1}), &NoProvider);
        }
    }
}

/// CPU time of this thread (the machine is shared, so wall time overstates the cost).
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn bench_data() -> Value {
    let hosts: Vec<Value> = (0..100)
        .map(|i| {
            let env = ["prod", "dev", "stage"][i % 3];
            json!({"name": format!("host{i:03}"), "cpu": (i * 37) % 100, "env": env})
        })
        .collect();
    json!({"hosts": hosts, "alarm": {"source": {"host": {"name": "db01", "ip": "10.0.0.5"}}},
           "user": "ops", "n": 42})
}

/// The README performance cases. Run alone:
/// `cargo test --release -p gale-expr --lib jinja::tests::jinja_bench -- --ignored --nocapture --exact`
#[test]
#[ignore]
fn jinja_bench() {
    let data = bench_data();
    let prepared = OrquestaContext::new(&data);
    for (expr, python) in [
        ("{% for h in ctx().hosts %}{{ h.name }}={{ h.cpu }};{% endfor %}", 4169.0),
        ("{{ ctx().hosts | selectattr('env', 'equalto', 'dev') | map(attribute='name') | map('upper') | join(',') }}", 3427.0),
    ] {
        let n = 20000;
        prepared.evaluate(expr, &NoProvider).unwrap();
        let (t, c) = (std::time::Instant::now(), thread_cpu_secs());
        for _ in 0..n {
            std::hint::black_box(prepared.evaluate(expr, &NoProvider).unwrap());
        }
        let wall = n as f64 / t.elapsed().as_secs_f64();
        let cpu = n as f64 / (thread_cpu_secs() - c);
        let (t, c) = (std::time::Instant::now(), thread_cpu_secs());
        for _ in 0..500 {
            std::hint::black_box(evaluate_orquesta(expr, &data, &NoProvider).unwrap());
        }
        let cold_wall = 500.0 / t.elapsed().as_secs_f64();
        let cold_cpu = 500.0 / (thread_cpu_secs() - c);
        eprintln!(
            "{expr}\n  prepared: {wall:.0}/s wall, {cpu:.0}/s cpu ({:.1}x python parsed-once)\n  evaluate_orquesta (no prepared context): {cold_wall:.0}/s wall, {cold_cpu:.0}/s cpu",
            cpu / python
        );
    }
}

#[test]
fn fast_path_covers_common_shapes() {
    for (src, tmpl) in [
        ("{% for h in ctx().hosts %}{{ h.name }}={{ h.cpu }};{% endfor %}", true),
        ("ctx().hosts | selectattr('env', 'equalto', 'dev') | map(attribute='name') | map('upper') | join(',')", false),
        ("ctx('a').b[0]", false),
    ] {
        let p = compile::compile(src, tmpl).unwrap();
        assert!(p.fast.is_some(), "{src}");
    }
    for (src, tmpl) in [
        (
            "{% for h in ctx().hosts %}{{ loop.index }}{% endfor %}",
            true,
        ),
        ("ctx().a + 1", false),
        ("ctx()", false),
        ("ctx().__state", false),
    ] {
        let p = compile::compile(src, tmpl).unwrap();
        assert!(p.fast.is_none(), "{src}");
    }
}

#[test]
#[ignore]
fn jinja_bench_parts() {
    let data = bench_data();
    let src = "{% for h in ctx().hosts %}{{ h.name }}={{ h.cpu }};{% endfor %}";
    let p = compile::compile(src, true).unwrap();
    let f = p.fast.as_ref().unwrap();
    let n = 20000;
    let c = thread_cpu_secs();
    for _ in 0..n {
        std::hint::black_box(fast::render(f, &data, 2048).unwrap());
    }
    eprintln!(
        "fast::render only: {:.0}/s cpu",
        n as f64 / (thread_cpu_secs() - c)
    );
    let prepared = OrquestaContext::new(&data);
    let c = thread_cpu_secs();
    for _ in 0..n {
        std::hint::black_box(prepared.evaluate(src, &NoProvider).unwrap());
    }
    eprintln!(
        "prepared evaluate: {:.0}/s cpu",
        n as f64 / (thread_cpu_secs() - c)
    );
}

#[test]
fn exact_reports_integers_beyond_64_bits() {
    use crate::{evaluate_exact, Lang, NoProvider};
    let ctx = json!({"n": 10_000_000_000i64});
    let e = evaluate_exact(
        Lang::Jinja,
        "{{ 10000000000 * 10000000000 }}",
        &ctx,
        &NoProvider,
    )
    .unwrap();
    assert_eq!(
        e.big_ints,
        vec![(String::new(), 100_000_000_000_000_000_000i128)]
    );
    assert_eq!(e.to_json_string(), "100000000000000000000");
    // Nested, next to ordinary values; keys with '/' are escaped in the pointer.
    let e = evaluate_exact(
        Lang::Jinja,
        "{{ {'a/b': [1, ctx().n * ctx().n * -1], 'c': 2.5} }}",
        &ctx,
        &NoProvider,
    )
    .unwrap();
    assert_eq!(
        e.big_ints,
        vec![("/a~1b/1".to_string(), -100_000_000_000_000_000_000i128)]
    );
    assert_eq!(
        e.to_json_string(),
        r#"{"a/b":[1,-100000000000000000000],"c":2.5}"#
    );
    // Without big integers the text is plain JSON, and nothing leaks into later calls.
    let e = evaluate_exact(Lang::Jinja, "{{ [1, 'x'] }}", &ctx, &NoProvider).unwrap();
    assert!(e.big_ints.is_empty());
    assert_eq!(e.to_json_string(), r#"[1,"x"]"#);
    assert_eq!(
        crate::evaluate(Lang::Jinja, "{{ 10000000000 * 10000000000 }}", &ctx).unwrap(),
        json!(1e20)
    );
}

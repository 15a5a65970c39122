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

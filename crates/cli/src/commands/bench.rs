//! `gale bench`: prints figures, asserts nothing. `server` starts a real `gale server` on a
//! temporary data dir and drives it over HTTP like a client would; `expr` times the expression
//! engine on the corpus README's performance cases; `workflow` rehearses the Orquesta benchmark
//! workflows in-process, then runs them through a real server with `core.noop` tasks.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    All,
    Server,
    Expr,
    Workflow,
    /// Webhook → rule → core.noop latency and sustained webhook throughput (not in `all`).
    Events,
    /// Site Engine alarm → first workflow task latency and alarms/s accepted (not in `all`).
    Siteengine,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Which benchmarks to run.
    #[arg(value_enum, default_value = "all")]
    suite: Suite,
    /// core.noop executions to run.
    #[arg(long, default_value_t = 3000)]
    noop: usize,
    /// core.local cmd=true executions to run.
    #[arg(long, default_value_t = 300)]
    local: usize,
    /// Concurrent client threads submitting executions.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Evaluations per expression.
    #[arg(long, default_value_t = 20000)]
    evals: usize,
    /// Folder of benchmark workflows (each with workflow.yaml, input.json, mocks.json).
    #[arg(long, default_value = "../shared/conformance/orquesta/bench")]
    workflows: std::path::PathBuf,
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if matches!(args.suite, Suite::All | Suite::Server) {
        server(&args)?;
    }
    if matches!(args.suite, Suite::All | Suite::Expr) {
        expr(args.evals)?;
    }
    if matches!(args.suite, Suite::Events) {
        super::bench_events::run()?;
    }
    if matches!(args.suite, Suite::Siteengine) {
        super::bench_siteengine::run(300, 5000, args.clients)?;
    }
    if matches!(args.suite, Suite::All | Suite::Workflow) {
        workflows(&args.workflows)?;
    }
    Ok(ExitCode::SUCCESS)
}

struct ServerProc {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// A `gale server` on a temporary data dir, logged in.
struct Started {
    proc_: ServerProc,
    pid: u32,
    url: String,
    token: String,
    http: reqwest::blocking::Client,
    startup: Duration,
}

fn start_server() -> Result<Started> {
    let exe = std::env::current_exe().context("finding the gale binary")?;
    let dir = tempfile::tempdir().context("creating a temporary data dir")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let bind = format!("127.0.0.1:{port}");
    let url = format!("http://{bind}");
    let password = "bench-password";
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    let started = Instant::now();
    let child = Command::new(&exe)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--bind", &bind])
        .env("GALE_ADMIN_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting gale server")?;
    let pid = child.id();
    let proc_ = ServerProc { child, _dir: dir };
    let startup = loop {
        if let Ok(r) = http
            .get(format!("{url}/healthz"))
            .timeout(Duration::from_millis(200))
            .send()
        {
            if r.status().is_success() {
                break started.elapsed();
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("gale server did not answer /healthz within 30 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let token: Value = http
        .post(format!("{url}/auth/v1/tokens"))
        .basic_auth("st2admin", Some(password))
        .json(&json!({}))
        .send()?
        .error_for_status()?
        .json()?;
    let token = token["token"]
        .as_str()
        .context("no token in the auth response")?
        .to_string();
    Ok(Started {
        proc_,
        pid,
        url,
        token,
        http,
        startup,
    })
}

fn server(args: &BenchArgs) -> Result<()> {
    let Started {
        proc_,
        pid,
        url,
        token,
        http,
        startup,
    } = start_server()?;
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = rss_kib(pid);

    println!(
        "gale bench server ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "  start to /healthz 200              {:>10.1} ms",
        startup.as_secs_f64() * 1000.0
    );
    match idle_rss {
        Some(kib) => println!(
            "  idle RSS                           {:>10.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("  idle RSS                           unavailable"),
    }
    // Throughput: many clients keep the pipeline full (latency then includes queueing).
    // Latency: one client, one execution in flight at a time.
    for (label, action, params, n) in [
        ("core.noop", "core.noop", json!({}), args.noop),
        (
            "core.local cmd=true",
            "core.local",
            json!({"cmd": "true"}),
            args.local,
        ),
    ] {
        let busy = load(
            &http,
            &url,
            &token,
            action,
            params.clone(),
            n,
            args.clients,
            false,
        )?;
        busy.print(&format!("{label} ({} clients)", args.clients));
        let idle = load(
            &http,
            &url,
            &token,
            action,
            params,
            (n / 10).max(50),
            1,
            true,
        )?;
        idle.print(&format!("{label} (1 in flight)"));
    }
    if let Some(kib) = rss_kib(pid) {
        println!(
            "  RSS after load                     {:>10.1} MiB",
            kib as f64 / 1024.0
        );
    }
    drop(proc_);
    Ok(())
}

struct LoadResult {
    n: usize,
    wall: Duration,
    latencies_ms: Vec<f64>,
    not_succeeded: usize,
}

impl LoadResult {
    fn print(&self, label: &str) {
        println!(
            "  {label:<34} {:>8.0} executions/s   request->succeeded p50 {:.2} ms  p99 {:.2} ms   ({} runs, {} not succeeded)",
            self.n as f64 / self.wall.as_secs_f64(),
            percentile(&self.latencies_ms, 0.50),
            percentile(&self.latencies_ms, 0.99),
            self.n,
            self.not_succeeded
        );
    }
}

/// Submit `n` executions from `clients` threads, wait for all to finish, and read each one's
/// request→completion latency from the server's own timestamps (no polling error in it).
fn load(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    action: &str,
    params: Value,
    n: usize,
    clients: usize,
    one_at_a_time: bool,
) -> Result<LoadResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let mut handles = Vec::new();
        for _ in 0..clients.max(1) {
            let (next, ids, params) = (next.clone(), ids.clone(), params.clone());
            handles.push(s.spawn(move || -> Result<()> {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let r: Value = http
                        .post(format!("{url}/api/v1/executions"))
                        .header("X-Auth-Token", token)
                        .json(&json!({"action": action, "parameters": params}))
                        .send()?
                        .error_for_status()?
                        .json()?;
                    let id = r["id"]
                        .as_str()
                        .context("no id in the execution")?
                        .to_string();
                    if one_at_a_time {
                        wait_done(http, url, token, &id)?;
                    }
                    ids.lock()
                        .map_err(|_| anyhow::anyhow!("lock poisoned"))?
                        .push(id);
                }
                Ok(())
            }));
        }
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        }
        Ok(())
    })?;
    let ids = std::mem::take(&mut *ids.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?);
    // Wait until every execution is completed, walking the list once.
    let mut results = Vec::with_capacity(ids.len());
    for id in &ids {
        results.push(wait_done(http, url, token, id)?);
    }
    // Wall time: first request to the last completion as the server recorded it.
    let ts = |v: &Value, k: &str| {
        v[k].as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    };
    let mut latencies: Vec<f64> = results
        .iter()
        .filter_map(|ex| {
            Some(
                (ts(ex, "end_timestamp")? - ts(ex, "start_timestamp")?).num_microseconds()? as f64
                    / 1000.0,
            )
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let first = results
        .iter()
        .filter_map(|ex| ts(ex, "start_timestamp"))
        .min();
    let last = results
        .iter()
        .filter_map(|ex| ts(ex, "end_timestamp"))
        .max();
    let server_wall = match (first, last) {
        (Some(f), Some(l)) => {
            Duration::from_micros((l - f).num_microseconds().unwrap_or(0).max(1) as u64)
        }
        _ => start.elapsed(),
    };
    let not_succeeded = results
        .iter()
        .filter(|ex| ex["status"] != "succeeded")
        .count();
    Ok(LoadResult {
        n: ids.len(),
        wall: server_wall,
        latencies_ms: latencies,
        not_succeeded,
    })
}

fn wait_done(http: &reqwest::blocking::Client, url: &str, token: &str, id: &str) -> Result<Value> {
    loop {
        let ex: Value = http
            .get(format!("{url}/api/v1/executions/{id}?include_attributes=status,start_timestamp,end_timestamp"))
            .header("X-Auth-Token", token)
            .send()?
            .error_for_status()?
            .json()?;
        let status = ex["status"].as_str().unwrap_or_default();
        if matches!(
            status,
            "succeeded" | "failed" | "timeout" | "canceled" | "abandoned"
        ) {
            return Ok(ex);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// The five cases of `shared/conformance/expressions/README.md` (performance section), with the
/// Python reference's "parsed once" rates recorded there.
fn expr(evals: usize) -> Result<()> {
    let hosts: Vec<Value> = (0..100)
        .map(|i| json!({"name": format!("host{i:03}"), "cpu": (i * 37) % 100, "env": (["prod", "dev", "stage"])[i % 3]}))
        .collect();
    let ctx = json!({"hosts": hosts, "alarm": {"source": {"host": {"name": "db01", "ip": "10.0.0.5"}}}, "user": "ops", "n": 42});
    let cases: [(gale_expr::Lang, &str, &str, f64); 5] = [
        (gale_expr::Lang::Yaql, "path lookup", "<% ctx().alarm.source.host.ip %>", 1931.0),
        (gale_expr::Lang::Yaql, "select/where over 100 dicts", "<% ctx().hosts.where($.env = 'prod' and $.cpu > 50).select($.name) %>", 24.0),
        (gale_expr::Lang::Yaql, "string building", "<% 'host ' + ctx().alarm.source.host.name + ' has ' + str(ctx().n) + ' alarms for ' + ctx().user %>", 602.0),
        (gale_expr::Lang::Jinja, "for loop over 100 items", "{% for h in ctx().hosts %}{{ h.name }}={{ h.cpu }};{% endfor %}", 4169.0),
        (gale_expr::Lang::Jinja, "filter chain", "{{ ctx().hosts | selectattr('env', 'equalto', 'dev') | map(attribute='name') | map('upper') | join(',') }}", 3427.0),
    ];
    println!("gale bench expr ({evals} evaluations each, through gale_expr::evaluate)");
    println!(
        "  {:<30} {:>14} {:>14} {:>8}",
        "case", "gale evals/s", "python/s", "ratio"
    );
    for (lang, label, src, python) in cases {
        gale_expr::evaluate(lang, src, &ctx).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        let t = Instant::now();
        for _ in 0..evals {
            std::hint::black_box(
                gale_expr::evaluate(lang, src, &ctx)
                    .map_err(|e| anyhow::anyhow!("{label}: {e}"))?,
            );
        }
        let rate = evals as f64 / t.elapsed().as_secs_f64();
        println!(
            "  {label:<30} {rate:>14.0} {python:>14.0} {:>7.0}x",
            rate / python
        );
    }
    Ok(())
}

/// Python Orquesta's wall times for the bench workflows (shared/conformance/orquesta/bench).
const PYTHON_WORKFLOW_SECS: [(&str, f64); 3] = [
    ("chain-200", 122.0),
    ("fanout-100", 24.8),
    ("with-items-1000", 12.7),
];

/// Rehearse each benchmark workflow in-process (conductor state serialized after every event,
/// as in the conformance harness) and print time per workflow and per task transition.
fn workflows(dir: &std::path::Path) -> Result<()> {
    if !dir.is_dir() {
        println!(
            "gale bench workflow: {} not found, skipped (pass --workflows DIR)",
            dir.display()
        );
        return Ok(());
    }
    println!("gale bench workflow (rehearse mode, {})", dir.display());
    println!(
        "  {:<18} {:>12} {:>12} {:>16} {:>12} {:>8}",
        "workflow", "executions", "gale ms", "per transition", "python s", "ratio"
    );
    for (name, python) in PYTHON_WORKFLOW_SECS {
        let case = dir.join(name);
        let read = |f: &str| {
            std::fs::read_to_string(case.join(f))
                .with_context(|| format!("reading {}/{f}", case.display()))
        };
        let spec = read("workflow.yaml")?;
        let input: Value = serde_json::from_str(&read("input.json")?).context("input.json")?;
        let mocks: Value = serde_json::from_str(&read("mocks.json")?).context("mocks.json")?;
        let t = Instant::now();
        let trace = gale_orquesta::rehearse::rehearse(&spec, &input, &mocks, None);
        let secs = t.elapsed().as_secs_f64();
        let n = trace["executions"].as_array().map(Vec::len).unwrap_or(0);
        let status = trace["workflow_status"].as_str().unwrap_or("?");
        println!(
            "  {name:<18} {n:>12} {:>12.1} {:>13.1} us {python:>12.1} {:>7.0}x  ({status})",
            secs * 1000.0,
            secs * 1e6 / n.max(1) as f64,
            python / secs
        );
    }
    server_workflows(dir)
}

/// The benchmark workflow with every task's action replaced by `core.noop`.
fn noop_workflow(spec: &str) -> String {
    spec.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("action:") {
                format!("{}action: core.noop", &l[..l.len() - t.len()])
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Run each benchmark workflow through a real server (children are real `core.noop`
/// executions through the queue) and print task transitions per second: task executions
/// completed over the workflow's wall time as the server recorded it.
fn server_workflows(dir: &std::path::Path) -> Result<()> {
    let Started {
        proc_,
        url,
        token,
        http,
        ..
    } = start_server()?;
    let pack = tempfile::tempdir().context("creating the benchmark pack")?;
    let root = pack.path().join("benchwf");
    std::fs::create_dir_all(root.join("actions/workflows"))?;
    std::fs::write(
        root.join("pack.yaml"),
        "ref: benchwf\nname: benchwf\ndescription: benchmark workflows\nversion: 1.0.0\nauthor: gale\n",
    )?;
    for (name, _) in PYTHON_WORKFLOW_SECS {
        let spec = std::fs::read_to_string(dir.join(name).join("workflow.yaml"))
            .with_context(|| format!("reading {name}/workflow.yaml"))?;
        let action = name.replace('-', "_");
        std::fs::write(
            root.join(format!("actions/workflows/{action}.yaml")),
            noop_workflow(&spec),
        )?;
        std::fs::write(
            root.join(format!("actions/{action}.yaml")),
            format!(
                "name: {action}\nrunner_type: orquesta\nentry_point: workflows/{action}.yaml\nenabled: true\n"
            ),
        )?;
    }
    http.post(format!("{url}/api/v1/packs/register"))
        .header("X-Auth-Token", &token)
        .json(&json!({"packs": [root.display().to_string()]}))
        .send()?
        .error_for_status()
        .context("registering the benchmark workflows")?;
    println!("gale bench workflow (real server, core.noop tasks)");
    println!(
        "  {:<18} {:>12} {:>12} {:>18}",
        "workflow", "tasks", "wall ms", "transitions/s"
    );
    for (name, _) in PYTHON_WORKFLOW_SECS {
        let action = format!("benchwf.{}", name.replace('-', "_"));
        let r: Value = http
            .post(format!("{url}/api/v1/executions"))
            .header("X-Auth-Token", &token)
            .json(&json!({"action": action}))
            .send()?
            .error_for_status()?
            .json()?;
        let id = r["id"].as_str().context("no id in the execution")?;
        let done = wait_done(&http, &url, &token, id)?;
        let children: Value = http
            .get(format!(
                "{url}/api/v1/executions?parent={id}&limit=-1&include_attributes=id"
            ))
            .header("X-Auth-Token", &token)
            .send()?
            .error_for_status()?
            .json()?;
        let tasks = children.as_array().map(Vec::len).unwrap_or(0);
        let ts = |k: &str| {
            done[k]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        };
        let wall = match (ts("start_timestamp"), ts("end_timestamp")) {
            (Some(a), Some(b)) => (b - a).num_microseconds().unwrap_or(0).max(1) as f64 / 1e6,
            _ => f64::NAN,
        };
        println!(
            "  {name:<18} {tasks:>12} {:>12.1} {:>18.0}  ({})",
            wall * 1000.0,
            tasks as f64 / wall,
            done["status"].as_str().unwrap_or("?")
        );
    }
    drop(proc_);
    Ok(())
}

//! `gale bench siteengine`: a real `gale server` (this binary) on a temporary data dir whose
//! `siteengine` pack config points at the Site Engine simulator (HTTPS, OAuth2, secret from the
//! datastore). Prints figures, asserts nothing.
//!
//! 1. Latency: sequential "Configurations Are Different" alarms POSTed to
//!    `/api/v1/webhooks/siteengine` with the shipped `config_changed` rule enabled; from just
//!    before the POST to the `start_timestamp` of the workflow's first task
//!    (`siteengine.run_workflow`, a child execution the conductor created).
//! 2. Throughput: concurrent alarms no rule matches (every rule disabled); accepted/s is the
//!    count of 2xx answers (each stored durably as a trigger instance, dedup key included)
//!    over the wall time.
//!
//! The sender script is not in the loop: its python3 start-up is Site Engine's cost, not
//! Gale's.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// An alarm envelope (spec section 1.4) with its own id, so dedup keeps every one.
fn alarm(name: &str, n: usize) -> Value {
    json!({
        "event_type": "alarm",
        "source": "siteengine",
        "siteengine": {"ip": "192.0.2.10", "version": "24.10.13"},
        "alarm": {"name": name, "id": format!("bench-{n}"), "severity": "Info",
                  "condition": "archive compare", "source_component": "Inventory",
                  "state": "raised", "time": chrono::Utc::now().to_rfc3339()},
        "device": {"ip": "10.10.1.21", "name": "dist-sw-01"},
        "message": format!("bench alarm {n}"),
        "extra": {}
    })
}

pub fn run(latency_samples: usize, throughput_alarms: usize, clients: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let sim = rt
        .block_on(gale_siteengine::sim::start(gale_siteengine::SimOptions {
            workflow_running_polls: 0,
            ..Default::default()
        }))
        .context("starting the Site Engine simulator")?;
    let result = bench(&sim, latency_samples, throughput_alarms, clients.max(1));
    rt.block_on(sim.shutdown());
    result
}

fn bench(
    sim: &gale_siteengine::SimHandle,
    latency_samples: usize,
    throughput_alarms: usize,
    clients: usize,
) -> Result<()> {
    let exe = std::env::current_exe().context("finding the gale binary")?;
    let dir = tempfile::tempdir().context("temporary data dir")?;
    let data = dir.path().join("data");
    let ca = dir.path().join("siteengine-ca.pem");
    std::fs::create_dir_all(data.join("configs"))?;
    std::fs::write(&ca, sim.ca_pem())?;
    let opts = sim.options().clone();
    std::fs::write(
        data.join("configs/siteengine.yaml"),
        format!(
            "host: {}\nport: {}\nauth: oauth2\nclient_id: {}\nclient_secret: \"{{{{ st2kv.system.siteengine_client_secret }}}}\"\nca_bundle: {}\nnotify_url: {}/bench-notify\nworkflow_poll_interval: 0.05\n",
            sim.host(),
            sim.port(),
            opts.client_id,
            ca.display(),
            sim.base_url(),
        ),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = Proc(
        Command::new(&exe)
            .args(["server", "--data-dir"])
            .arg(&data)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .env("GALE_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting gale server")?,
    );
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let started = Instant::now();
    loop {
        let ok = http
            .get(format!("{url}/healthz"))
            .send()
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("gale server did not answer /healthz within 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let token: Value = http
        .post(format!("{url}/auth/v1/tokens"))
        .basic_auth("st2admin", Some(PASSWORD))
        .json(&json!({}))
        .send()?
        .error_for_status()?
        .json()?;
    let token = token["token"].as_str().context("no token")?.to_string();
    let api = |m: reqwest::Method, path: &str, body: Option<Value>| -> Result<Value> {
        let mut r = http
            .request(m, format!("{url}{path}"))
            .header("X-Auth-Token", &token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send()?;
        let status = resp.status();
        let v: Value = resp.json().unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    };
    api(
        reqwest::Method::PUT,
        "/api/v1/keys/siteengine_client_secret",
        Some(
            json!({"name": "siteengine_client_secret", "value": opts.client_secret,
                    "secret": true, "scope": "system"}),
        ),
    )?;
    let key = api(
        reqwest::Method::POST,
        "/api/v1/apikeys",
        Some(json!({"metadata": {"used_by": "bench"}})),
    )?;
    let api_key = key["key"].as_str().context("no api key")?.to_string();
    let set_rule = |enabled: bool| -> Result<()> {
        let mut rule = api(
            reqwest::Method::GET,
            "/api/v1/rules/siteengine.config_changed",
            None,
        )?;
        rule["enabled"] = json!(enabled);
        api(
            reqwest::Method::PUT,
            "/api/v1/rules/siteengine.config_changed",
            Some(rule),
        )?;
        Ok(())
    };
    let webhook = format!("{url}/api/v1/webhooks/siteengine");
    let post = |body: &Value| -> Result<bool> {
        let r = http
            .post(&webhook)
            .header("St2-Api-Key", &api_key)
            .json(body)
            .send()?;
        Ok(r.status().is_success())
    };

    println!(
        "gale bench siteengine ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Latency, one alarm in flight at a time.
    set_rule(true)?;
    let newest_task = || -> Result<Option<Value>> {
        let list = api(
            reqwest::Method::GET,
            "/api/v1/executions?action=siteengine.run_workflow&limit=1",
            None,
        )?;
        Ok(list.as_array().and_then(|l| l.first().cloned()))
    };
    let mut seen = newest_task()?.map(|t| t["id"].clone());
    let mut lat = Vec::with_capacity(latency_samples);
    // The first alarms warm the OAuth2 token and the connection pools; not counted.
    let warmup = 5;
    for n in 0..latency_samples + warmup {
        let sent = chrono::Utc::now();
        if !post(&alarm("Configurations Are Different", n))? {
            bail!("the webhook refused a latency alarm");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let task = loop {
            if let Some(t) = newest_task()? {
                if Some(&t["id"]) != seen.as_ref() {
                    break t;
                }
            }
            if Instant::now() > deadline {
                bail!("no workflow task started within 30 s of alarm {n}");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        seen = Some(task["id"].clone());
        let start = task["start_timestamp"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .context("task without a start_timestamp")?;
        if n >= warmup {
            let ms = (start.with_timezone(&chrono::Utc) - sent)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            lat.push(ms);
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "alarm -> first workflow task started ({} alarms, sequential): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );

    // 2. Sustained throughput, no rule matching.
    set_rule(false)?;
    // Let the latency workflows finish so they do not share the run.
    std::thread::sleep(Duration::from_secs(2));
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            let (next, accepted, post) = (next.clone(), accepted.clone(), &post);
            s.spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= throughput_alarms {
                    break;
                }
                if let Ok(true) = post(&alarm("Bench Throughput", 1_000_000 + n)) {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let ok = accepted.load(Ordering::Relaxed);
    println!(
        "sustained alarms accepted ({throughput_alarms} alarms, {clients} clients): {:.0}/s ({ok} accepted in {secs:.2} s)",
        ok as f64 / secs
    );
    Ok(())
}

//! `packs/siteengine/bin/st2integration.py` run by the real python3 against a real local HTTPS
//! receiver that validates each envelope with this crate's normaliser (the contract of the
//! future `/api/v1/webhooks/siteengine` endpoint): delivery, retry, spooling while the
//! receiver is down, and resending exactly the spooled events in order.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use gale_siteengine::envelope;
use gale_siteengine::sim::{serve_https, HttpsServer};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const API_KEY: &str = "k3y-for-tests";

#[derive(Clone, Debug)]
struct Delivery {
    status: u16,
    idempotency_key: Option<String>,
    trace_tag: Option<String>,
    body: Value,
    normalized: Option<envelope::Normalized>,
}

#[derive(Default)]
struct Receiver {
    seen: Mutex<Vec<Delivery>>,
    fail_next: AtomicU32,
}

impl Receiver {
    fn accepted(&self) -> Vec<Delivery> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.status == 202)
            .cloned()
            .collect()
    }
    fn attempts(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn receiver(bind: SocketAddr) -> (HttpsServer, Arc<Receiver>) {
    let state = Arc::new(Receiver::default());
    let s = state.clone();
    let app = axum::Router::new().route(
        "/api/v1/webhooks/siteengine",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let s = s.clone();
            async move {
                let raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut d = Delivery {
                    status: 0,
                    idempotency_key: header(&headers, "idempotency-key"),
                    trace_tag: header(&headers, "st2-trace-tag"),
                    body: raw,
                    normalized: None,
                };
                let answer = if s
                    .fail_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    (StatusCode::SERVICE_UNAVAILABLE, "restarting".to_string())
                } else if header(&headers, "st2-api-key").as_deref() != Some(API_KEY) {
                    (StatusCode::UNAUTHORIZED, "bad key".to_string())
                } else {
                    match envelope::normalize(&body, chrono::Utc::now()) {
                        Ok(n) => {
                            d.normalized = Some(n);
                            (StatusCode::ACCEPTED, "{}".to_string())
                        }
                        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
                    }
                };
                d.status = answer.0.as_u16();
                s.seen.lock().unwrap().push(d);
                answer
            }
        }),
    );
    let server = serve_https(app, bind, false).await.unwrap();
    (server, state)
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packs/siteengine/bin/st2integration.py")
}

struct Run {
    code: i32,
    stderr: String,
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
    fn spooled(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.spool())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
    fn ca_file(&self, pem: &str) -> PathBuf {
        let p = self.dir.path().join("gale-ca.pem");
        std::fs::write(&p, pem).unwrap();
        p
    }

    /// Runs the script with delivery options for `port` and the event arguments `args`.
    async fn run(&self, port: u16, ca: Option<&Path>, args: &[&str]) -> Run {
        let mut cmd = tokio::process::Command::new("python3");
        cmd.arg(script())
            .arg("--url")
            .arg(format!(
                "https://127.0.0.1:{port}/api/v1/webhooks/siteengine"
            ))
            .arg("--api-key")
            .arg(API_KEY)
            .arg("--spool-dir")
            .arg(self.spool())
            .arg("--timeout")
            .arg("3")
            .arg("--backoff")
            .arg("0.2")
            .arg("--retries")
            .arg("2");
        if let Some(ca) = ca {
            cmd.arg("--ca-file").arg(ca);
        }
        cmd.args(args).env_remove("ST2INTEGRATION_CONFIG");
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
            .await
            .expect("script hung")
            .expect("python3 must be installed to test the sender script");
        Run {
            code: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn alarm_args(id: &str) -> Vec<String> {
    [
        "--event-type",
        "alarm",
        "--alarm-name",
        "Device Contact Lost",
        "--alarm-id",
        id,
        "--severity",
        "Critical",
        "--alarm-source",
        "Status Polling",
        "--time",
        "2024-05-02T10:35:17Z",
        "--device-ip",
        "10.10.1.21",
        "--device-name",
        "dist-sw-01",
        "--siteengine-ip",
        "192.0.2.10",
        "--message",
        "Contact lost with device 10.10.1.21 (dist-sw-01)",
        "ticket=INC-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_alarm_trap_and_syslog_envelopes() {
    let (server, rx) = receiver(loopback(0)).await;
    let env = Env::new();
    let ca = env.ca_file(server.ca_pem());
    let port = server.addr().port();

    let r = env.run(port, Some(&ca), &strs(&alarm_args("58213"))).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let trap = env
        .run(
            port,
            Some(&ca),
            &[
                "--event-type",
                "trap",
                "--alarm-name",
                "Port Flapping",
                "--alarm-id",
                "58214",
                "--severity",
                "Warning",
                "--count",
                "6",
                "--device-ip",
                "10.10.1.21",
                "--if-index",
                "1021",
                "--if-name",
                "1:21",
                "--if-alias",
                "floor2-ap-07",
                "--trap-oid",
                "1.3.6.1.6.3.1.1.5.3",
                "--trap-name",
                "linkDown",
                "--snmp-version",
                "v2c",
                "--uptime",
                "81234567",
                "--varbind",
                "1.3.6.1.2.1.2.2.1.1.1021|ifIndex.1021|INTEGER|1021",
                "--varbind",
                "1.3.6.1.2.1.2.2.1.8.1021|ifOperStatus.1021|INTEGER|2",
            ],
        )
        .await;
    assert_eq!(trap.code, 0, "{}", trap.stderr);
    let syslog = env
        .run(
            port,
            Some(&ca),
            &[
                "--event-type",
                "syslog",
                "--alarm-name",
                "Config Saved",
                "--alarm-id",
                "58215",
                "--severity",
                "Info",
                "--device-ip",
                "10.10.1.21",
                "--facility",
                "local7",
                "--syslog-severity",
                "5",
                "--program",
                "cm",
                "--syslog-message",
                "<Noti:cm.file.savedCfg> Configuration saved to primary.cfg successfully. (admin)",
            ],
        )
        .await;
    assert_eq!(syslog.code, 0, "{}", syslog.stderr);

    let got = rx.accepted();
    assert_eq!(got.len(), 3);
    assert!(env.spooled().is_empty());

    let alarm = got[0].normalized.as_ref().unwrap();
    assert_eq!(alarm.trigger, "siteengine.alarm");
    assert_eq!(alarm.payload["severity"], "critical");
    assert_eq!(alarm.payload["alarm_state"], "raised");
    assert_eq!(alarm.payload["time"], "2024-05-02T10:35:17Z");
    assert_eq!(alarm.payload["siteengine_ip"], "192.0.2.10");
    assert_eq!(alarm.payload["extra"]["ticket"], "INC-1");
    // The header the script sends is the key Gale computes.
    assert_eq!(got[0].idempotency_key, alarm.idempotency_key);
    assert_eq!(got[0].trace_tag.as_deref(), Some("siteengine-alarm-58213"));

    let trap = got[1].normalized.as_ref().unwrap();
    assert_eq!(trap.trigger, "siteengine.trap");
    assert_eq!(trap.payload["interface"]["if_index"], 1021);
    assert_eq!(trap.payload["alarm_count"], 6);
    assert_eq!(trap.payload["varbinds"][1]["name"], "ifOperStatus.1021");
    assert_eq!(trap.payload["uptime"], 81234567);

    let syslog = got[2].normalized.as_ref().unwrap();
    assert_eq!(syslog.trigger, "siteengine.syslog");
    assert_eq!(syslog.payload["syslog_severity"], 5);
    assert_eq!(syslog.payload["facility"], "local7");
    // No --time: the script stamps the send time, and the key follows from it.
    assert!(got[2].body["alarm"]["time"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(got[2].idempotency_key, syslog.idempotency_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_backoff_then_delivers() {
    let (server, rx) = receiver(loopback(0)).await;
    let env = Env::new();
    let ca = env.ca_file(server.ca_pem());
    rx.fail_next.store(2, Ordering::SeqCst);
    let mut args = alarm_args("1");
    args.extend(["--retries".to_string(), "3".to_string()]);
    let started = Instant::now();
    let r = env.run(server.addr().port(), Some(&ca), &strs(&args)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Two waits: 0.2 s then 0.4 s.
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(rx.attempts(), 3);
    assert_eq!(rx.accepted().len(), 1);
    let keys: Vec<_> = rx
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.idempotency_key.clone())
        .collect();
    assert!(
        keys.iter().all(|k| k == &keys[0] && k.is_some()),
        "{keys:?}"
    );
    assert!(
        r.stderr.contains("attempt 1/3 failed (HTTP 503"),
        "{}",
        r.stderr
    );
    assert!(env.spooled().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spools_while_down_and_resends_exactly_those_events_in_order() {
    let port = free_port();
    let env = Env::new();
    // Gale down: nothing listens on the port.
    for id in ["101", "102", "103"] {
        let r = env.run(port, None, &strs(&alarm_args(id))).await;
        assert_eq!(r.code, 75, "{}", r.stderr);
        assert!(r.stderr.contains("spooled"), "{}", r.stderr);
    }
    assert_eq!(env.spooled().len(), 3);

    // Gale back (a new process: new certificate, same CA file path updated by the admin).
    let (server, rx) = receiver(loopback(port)).await;
    let ca = env.ca_file(server.ca_pem());
    let r = env.run(port, Some(&ca), &strs(&alarm_args("104"))).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("resent 3 spooled event(s), 0 left"),
        "{}",
        r.stderr
    );
    let ids: Vec<String> = rx
        .accepted()
        .iter()
        .map(|d| {
            d.normalized.as_ref().unwrap().payload["alarm_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ids,
        ["101", "102", "103", "104"],
        "spool first, oldest first, then the new one"
    );
    assert_eq!(rx.attempts(), 4, "each event exactly once");
    assert!(env.spooled().is_empty());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_resends_the_spool_and_nothing_else() {
    let port = free_port();
    let env = Env::new();
    for id in ["201", "202"] {
        assert_eq!(env.run(port, None, &strs(&alarm_args(id))).await.code, 75);
    }
    // While the spool is non-empty a new event queues behind it even if Gale answers.
    let (server, rx) = receiver(loopback(port)).await;
    let ca = env.ca_file(server.ca_pem());
    rx.fail_next.store(1, Ordering::SeqCst);
    let r = env.run(port, Some(&ca), &strs(&alarm_args("203"))).await;
    assert_eq!(r.code, 75, "{}", r.stderr);
    assert_eq!(env.spooled().len(), 3);
    assert!(rx.accepted().is_empty());

    let r = env.run(port, Some(&ca), &["--flush"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ids: Vec<String> = rx
        .accepted()
        .iter()
        .map(|d| d.body["alarm"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["201", "202", "203"]);
    // Spooled events keep the key they were created with.
    for d in rx.accepted() {
        assert_eq!(d.idempotency_key, d.normalized.unwrap().idempotency_key);
    }
    let before = rx.attempts();
    let r = env.run(port, Some(&ca), &["--flush"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(rx.attempts(), before, "an empty spool sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_trust_failures() {
    let (server, rx) = receiver(loopback(0)).await;
    let env = Env::new();
    let ca = env.ca_file(server.ca_pem());
    let port = server.addr().port();

    // An envelope Gale refuses (400) is not spooled: it would never be accepted.
    let mut args = alarm_args("301");
    let ip = args.iter().position(|a| a == "10.10.1.21").unwrap();
    args[ip] = "not-an-ip".into();
    let r = env.run(port, Some(&ca), &strs(&args)).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("HTTP 400") && r.stderr.contains("device.ip"),
        "{}",
        r.stderr
    );
    assert!(env.spooled().is_empty());

    // Without the CA file Gale's certificate is not trusted: nothing is delivered, the event
    // waits in the spool, and the reason is printed.
    let r = env.run(port, None, &strs(&alarm_args("302"))).await;
    assert_eq!(r.code, 75, "{}", r.stderr);
    assert!(
        r.stderr.contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        r.stderr
    );
    assert_eq!(env.spooled().len(), 1);
    assert!(rx.accepted().is_empty());

    // Missing required arguments are refused before any network use.
    let r = env
        .run(
            port,
            Some(&ca),
            &["--event-type", "trap", "--device-ip", "10.0.0.1"],
        )
        .await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--trap-oid is required"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_rebuilds_each_example_envelope_exactly() {
    use gale_siteengine::sender;
    let env = Env::new();
    let script = sender::install_script(env.dir.path()).unwrap();
    let opts = sender::SenderOptions {
        script,
        url: "https://127.0.0.1:9/api/v1/webhooks/siteengine".into(),
        api_key: API_KEY.into(),
        ca_file: None,
        spool_dir: env.spool(),
        retries: 1,
        backoff: 0.1,
        timeout: 1.0,
    };
    for example in sender::example_envelopes() {
        let mut args = sender::envelope_args(&example);
        args.push("--dry-run".into());
        let run = sender::run(&opts, &args).await.unwrap();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(
            out["body"], example,
            "the sender builds the spec's envelope"
        );
        let n = envelope::normalize_value(out["body"].clone(), chrono::Utc::now()).unwrap();
        assert_eq!(
            out["headers"]["Idempotency-Key"].as_str(),
            n.idempotency_key.as_deref()
        );
        assert_eq!(
            out["headers"]["St2-Trace-Tag"].as_str(),
            Some(n.trace_tag.as_str())
        );
    }
    assert!(
        env.spooled().is_empty(),
        "a dry run sends and spools nothing"
    );
}

/// Site Engine's substitution: `$keyword` replaced by the alarm's value, then the line split
/// on spaces with double quotes grouping.
fn site_engine_argv(line: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let mut text = line.to_string();
    // Longest names first so `$time` does not eat `$timeout`-like names.
    let mut vars = vars.to_vec();
    vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in vars {
        text = text.replace(&format!("${k}"), v);
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_argument_line_works() {
    use gale_siteengine::sender;
    let env = Env::new();
    let config = env.dir.path().join("st2integration.json");
    std::fs::write(
        &config,
        serde_json::json!({"url": "https://127.0.0.1:9/api/v1/webhooks/siteengine", "api_key": API_KEY,
                           "spool_dir": env.spool()})
        .to_string(),
    )
    .unwrap();
    let line = sender::custom_action_arguments(&config.to_string_lossy());
    let docs = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/site-engine.md"),
    )
    .unwrap();
    assert!(
        docs.contains(&sender::custom_action_arguments(
            "/usr/local/Extreme_Networks/NetSight/ST2Integration/config/st2integration.json"
        )),
        "docs/site-engine.md shows the argument line the code generates"
    );
    let argv = site_engine_argv(
        &line,
        &[
            ("alarmName", "Device Contact Lost"),
            ("alarmSource", "Status Polling"),
            ("alarmId", "58213"),
            ("severity", "Critical"),
            ("alarmCondition", "Status Change: Contact Lost"),
            ("time", "2024-05-02 10:35:17"),
            ("deviceIP", "10.10.1.21"),
            ("deviceName", "dist-sw-01"),
            ("sitePath", "/World/Campus/Building-A"),
            (
                "message",
                "Contact lost with device 10.10.1.21 (dist-sw-01)",
            ),
        ],
    );
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(script()).args(&argv).arg("--dry-run");
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = envelope::normalize_value(printed["body"].clone(), chrono::Utc::now()).unwrap();
    assert_eq!(n.trigger, "siteengine.alarm");
    assert_eq!(n.payload["time"], "2024-05-02T10:35:17Z");
    assert_eq!(n.payload["site"], "/World/Campus/Building-A");
    assert_eq!(n.payload["alarm_condition"], "Status Change: Contact Lost");
    assert_eq!(n.payload["severity"], "critical");
}

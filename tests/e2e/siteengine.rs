//! Site Engine, spec site-engine.md section 5 scenario 2 ("device contact lost"), through the
//! real binary: the Site Engine simulator (HTTPS, its own CA), a `gale server` whose
//! `configs/siteengine.yaml` points at it, the shipped `siteengine.device_down` rule enabled,
//! the alarm example sent by the real `st2integration.py` sender, and a ticket endpoint.

use crate::harness::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `(status, body)` of a curl GET with an API key.
fn get_json(s: &Server, key: &str, path: &str) -> Value {
    let o = Command::new("curl")
        .args(["-s", "-H", &format!("St2-Api-Key: {key}")])
        .arg(format!("{}{path}", s.url))
        .output()
        .expect("curl");
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests an endpoint received: `(method, path, body)`.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A ticketing endpoint: records every request's method, path and body, answers 201.
fn ticket_server() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/tickets", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_string();
            let path = parts.next().unwrap_or_default().to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            rec.lock().expect("lock").push((
                method,
                path,
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let reply = r#"{"id": "T-1"}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn device_contact_lost_alarm_runs_the_troubleshooting_workflow_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(gale_siteengine::sim::start(
            gale_siteengine::SimOptions::default(),
        ))
        .expect("simulator");
    let (ticket_url, tickets) = ticket_server();

    let s = Server::start();
    let ca = s.dir.path().join("siteengine-ca.pem");
    write(&ca, sim.ca_pem());
    let opts = sim.options().clone();
    // The OAuth2 secret lives encrypted in the datastore; the config refers to it and the
    // schema's `secret: true` has it decrypted.
    let o = s.gale(&[
        "key",
        "set",
        "siteengine.client_secret",
        &opts.client_secret,
        "--encrypt",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    write(
        &s.data_dir().join("configs/siteengine.yaml"),
        &format!(
            "host: {}\nport: {}\nauth: oauth2\nclient_id: {}\nclient_secret: \"{{{{ st2kv.system.siteengine.client_secret }}}}\"\nca_bundle: {}\nticket_url: {ticket_url}\n",
            sim.host(),
            sim.port(),
            opts.client_id,
            ca.display()
        ),
    );
    let o = s.gale(&["rule", "enable", "siteengine.device_down"]);
    assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
    let key = s.gale_json(&["apikey", "create"])["key"]
        .as_str()
        .expect("key")
        .to_string();

    let sender = gale_siteengine::sender::SenderOptions {
        script: s.data_dir().join("packs/siteengine/bin/st2integration.py"),
        url: format!("{}/api/v1/webhooks/siteengine", s.url),
        api_key: key.clone(),
        ca_file: None,
        spool_dir: s.dir.path().join("spool"),
        retries: 2,
        backoff: 0.2,
        timeout: 10.0,
    };
    let alarm = gale_siteengine::sender::example_envelopes()
        .into_iter()
        .next()
        .expect("alarm example");
    let args = gale_siteengine::sender::envelope_args(&alarm);
    let sent = rt
        .block_on(gale_siteengine::sender::run(&sender, &args))
        .expect("sender");
    assert_eq!(sent.code, 0, "{sent:?}");

    // The trigger instance, normalised.
    let tis = get_json(
        &s,
        &key,
        "/api/v1/triggerinstances?trigger=siteengine.alarm",
    );
    let tis = tis.as_array().expect("list").clone();
    assert_eq!(tis.len(), 1, "{tis:?}");
    let p = &tis[0]["payload"];
    assert_eq!(p["device_ip"], "10.10.1.21");
    assert_eq!(p["alarm_name"], "Device Contact Lost");
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["alarm_state"], "raised");
    assert_eq!(p["raw"]["alarm"]["id"], "58213");

    // The workflow ran to success.
    let mut wf = Value::Null;
    wait_until("the device_down workflow", 60, || {
        let list = get_json(&s, &key, "/api/v1/executions?action=siteengine.device_down");
        wf = list
            .as_array()
            .and_then(|l| l.first().cloned())
            .unwrap_or(Value::Null);
        matches!(
            wf["status"].as_str(),
            Some("succeeded" | "failed" | "timeout")
        )
    });
    assert_eq!(wf["status"], "succeeded", "{wf}\n{}", s.log());
    assert_eq!(wf["parameters"]["ip"], "10.10.1.21");
    let out = &wf["result"]["output"];
    assert_eq!(out["device"]["sysName"], "dist-sw-01", "{wf}");
    assert_eq!(out["ticket_status"], 201, "{wf}");

    // Site Engine was asked for the device with the configured OAuth2 client.
    let calls = sim.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.path.contains("graphql") && c.body.to_string().contains("10.10.1.21")),
        "{calls:?}"
    );
    assert!(calls.iter().any(|c| c.path.contains("token")), "{calls:?}");

    // The ticket endpoint got one JSON POST about the device.
    let got = tickets.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "POST");
    let ticket: Value = serde_json::from_str(&got[0].2).expect("ticket JSON");
    assert_eq!(ticket["ip"], "10.10.1.21");
    assert_eq!(ticket["alarm_id"], "58213");
    assert_eq!(ticket["device"]["sysName"], "dist-sw-01");

    // The same alarm sent again (a resend) is acknowledged and dropped: still one instance,
    // one workflow.
    let again = rt
        .block_on(gale_siteengine::sender::run(&sender, &args))
        .expect("sender");
    assert_eq!(again.code, 0, "{again:?}");
    std::thread::sleep(Duration::from_millis(500));
    let tis = get_json(
        &s,
        &key,
        "/api/v1/triggerinstances?trigger=siteengine.alarm",
    );
    assert_eq!(tis.as_array().expect("list").len(), 1, "{tis}");
    let wfs = get_json(&s, &key, "/api/v1/executions?action=siteengine.device_down");
    assert_eq!(wfs.as_array().expect("list").len(), 1, "{wfs}");
    rt.block_on(sim.shutdown());
}

/// An API key and sender options for `s`, spooling under the test dir.
fn sender_for(s: &Server) -> (String, gale_siteengine::sender::SenderOptions) {
    let key = s.gale_json(&["apikey", "create"])["key"]
        .as_str()
        .expect("key")
        .to_string();
    let opts = gale_siteengine::sender::SenderOptions {
        script: s.data_dir().join("packs/siteengine/bin/st2integration.py"),
        url: format!("{}/api/v1/webhooks/siteengine", s.url),
        api_key: key.clone(),
        ca_file: None,
        spool_dir: s.dir.path().join("spool"),
        retries: 2,
        backoff: 0.1,
        timeout: 5.0,
    };
    (key, opts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn instances(s: &Server, key: &str, trigger: &str) -> Vec<Value> {
    get_json(
        s,
        key,
        &format!("/api/v1/triggerinstances?trigger={trigger}"),
    )
    .as_array()
    .expect("list")
    .clone()
}

#[test]
fn alarm_trap_and_syslog_examples_become_normalised_trigger_instances() {
    let rt = runtime();
    let s = Server::start();
    let (key, sender) = sender_for(&s);
    let examples = gale_siteengine::sender::example_envelopes();
    assert_eq!(examples.len(), 3);
    for ex in &examples {
        let args = gale_siteengine::sender::envelope_args(ex);
        let run = rt
            .block_on(gale_siteengine::sender::run(&sender, &args))
            .expect("sender");
        assert_eq!(run.code, 0, "{run:?}\n{}", s.log());
    }

    let alarm = instances(&s, &key, "siteengine.alarm");
    assert_eq!(alarm.len(), 1, "{alarm:?}");
    let p = &alarm[0]["payload"];
    assert_eq!(p["event_type"], "alarm");
    assert_eq!(p["device_ip"], "10.10.1.21");
    assert_eq!(p["alarm_name"], "Device Contact Lost");
    assert_eq!(p["alarm_id"], "58213");
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["alarm_state"], "raised");
    assert_eq!(p["siteengine_ip"], "192.0.2.10");

    let trap = instances(&s, &key, "siteengine.trap");
    assert_eq!(trap.len(), 1, "{trap:?}");
    let p = &trap[0]["payload"];
    assert_eq!(p["event_type"], "trap");
    assert_eq!(p["trap_name"], "linkDown");
    assert_eq!(p["trap_oid"], "1.3.6.1.6.3.1.1.5.3");
    assert_eq!(p["snmp_version"], "v2c");
    assert_eq!(p["interface"]["if_index"], 1021);
    assert_eq!(p["interface"]["name"], "1:21");
    assert_eq!(p["interface"]["alias"], "floor2-ap-07");
    assert_eq!(p["alarm_name"], "Port Flapping");
    assert_eq!(p["alarm_count"], 6);
    assert_eq!(p["severity"], "warning");
    assert_eq!(p["severity_raw"], "Warning");
    assert_eq!(p["time"], "2024-05-02T10:36:02Z");
    let vbs = p["varbinds"].as_array().expect("varbinds");
    assert_eq!(vbs.len(), 3, "{p}");
    assert_eq!(vbs[2]["name"], "ifOperStatus.1021");
    assert_eq!(vbs[2]["value"], "2");

    let syslog = instances(&s, &key, "siteengine.syslog");
    assert_eq!(syslog.len(), 1, "{syslog:?}");
    let p = &syslog[0]["payload"];
    assert_eq!(p["event_type"], "syslog");
    assert_eq!(p["device_ip"], "10.10.1.21");
    assert!(
        p["syslog_message"]
            .as_str()
            .unwrap_or_default()
            .contains("Configuration saved to primary.cfg"),
        "{p}"
    );
    assert_eq!(p["facility"], "local7");
    assert_eq!(p["syslog_severity"], 5);
    assert_eq!(p["program"], "cm");
    assert_eq!(p["hostname"], "dist-sw-01");
    assert_eq!(p["severity"], "info");
    assert_eq!(p["alarm_id"], "58215");
}

/// When Gale received the event (the payload's `received_at`), for arrival order.
fn received_at(ti: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(ti["payload"]["received_at"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("received_at of {ti}: {e}"))
}

/// An alarm like the example with its own id, time and message.
fn numbered_alarm(n: u32) -> Value {
    let mut a = gale_siteengine::sender::example_envelopes()
        .into_iter()
        .next()
        .expect("alarm example");
    a["alarm"]["id"] = Value::String(format!("7000{n}"));
    a["alarm"]["time"] = Value::String(format!("2024-05-02T10:40:0{n}Z"));
    a["message"] = Value::String(format!("spooled alarm {n}"));
    a
}

#[test]
fn gale_down_alarms_are_spooled_then_delivered_once_in_order() {
    let rt = runtime();
    let mut s = Server::start();
    let (key, sender) = sender_for(&s);
    let send = |env: &Value| {
        rt.block_on(gale_siteengine::sender::run(
            &sender,
            &gale_siteengine::sender::envelope_args(env),
        ))
        .expect("sender")
    };

    // Delivered while Gale is up.
    let first = numbered_alarm(0);
    assert_eq!(send(&first).code, 0);

    s.kill9();
    for n in 1..=3 {
        let run = send(&numbered_alarm(n));
        assert_eq!(
            run.code,
            gale_siteengine::sender::EXIT_SPOOLED,
            "alarm {n}: {run:?}"
        );
    }
    let spooled = std::fs::read_dir(&sender.spool_dir)
        .expect("spool dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(spooled, 3);

    s.restart();
    let flushed = rt
        .block_on(gale_siteengine::sender::run(
            &sender,
            &["--flush".to_string()],
        ))
        .expect("flush");
    assert_eq!(flushed.code, 0, "{flushed:?}");
    // A resend of the alarm delivered before the outage, after the flush.
    assert_eq!(send(&first).code, 0);
    // A resend of a spooled (now delivered) alarm.
    assert_eq!(send(&numbered_alarm(2)).code, 0);

    let left = std::fs::read_dir(&sender.spool_dir)
        .expect("spool dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(left, 0, "spool not empty after the flush");

    let mut tis = instances(&s, &key, "siteengine.alarm");
    assert_eq!(tis.len(), 4, "{tis:?}");
    tis.sort_by_key(received_at);
    let ids: Vec<&str> = tis
        .iter()
        .map(|t| t["payload"]["alarm_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["70000", "70001", "70002", "70003"], "{tis:?}");
}

#[test]
fn next_send_after_an_outage_delivers_the_spool_first() {
    let rt = runtime();
    let mut s = Server::start();
    let (key, sender) = sender_for(&s);
    let send = |env: &Value| {
        rt.block_on(gale_siteengine::sender::run(
            &sender,
            &gale_siteengine::sender::envelope_args(env),
        ))
        .expect("sender")
    };
    s.kill9();
    for n in 1..=2 {
        assert_eq!(
            send(&numbered_alarm(n)).code,
            gale_siteengine::sender::EXIT_SPOOLED
        );
    }
    s.restart();
    assert_eq!(send(&numbered_alarm(3)).code, 0);
    let mut tis = instances(&s, &key, "siteengine.alarm");
    tis.sort_by_key(received_at);
    let ids: Vec<&str> = tis
        .iter()
        .map(|t| t["payload"]["alarm_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["70001", "70002", "70003"], "{tis:?}");
}

/// A server whose pack config points at `sim` (OAuth2, secret from the datastore) and posts
/// notifications to `notify_url`.
fn configured_server(sim: &gale_siteengine::sim::SimHandle, notify_url: &str) -> Server {
    let s = Server::start();
    let ca = s.dir.path().join("siteengine-ca.pem");
    write(&ca, sim.ca_pem());
    let opts = sim.options().clone();
    let o = s.gale(&[
        "key",
        "set",
        "siteengine.client_secret",
        &opts.client_secret,
        "--encrypt",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    write(
        &s.data_dir().join("configs/siteengine.yaml"),
        &format!(
            "host: {}\nport: {}\nauth: oauth2\nclient_id: {}\nclient_secret: \"{{{{ st2kv.system.siteengine.client_secret }}}}\"\nca_bundle: {}\nnotify_url: {notify_url}\nworkflow_poll_interval: 0.2\n",
            sim.host(),
            sim.port(),
            opts.client_id,
            ca.display()
        ),
    );
    s
}

/// The newest execution of `action` once it is terminal.
fn finished_execution(s: &Server, key: &str, action: &str, count: usize) -> Value {
    let mut wf = Value::Null;
    wait_until(action, 60, || {
        let list = get_json(s, key, &format!("/api/v1/executions?action={action}"));
        let list = list.as_array().cloned().unwrap_or_default();
        if list.len() < count {
            return false;
        }
        wf = list.first().cloned().unwrap_or(Value::Null);
        matches!(
            wf["status"].as_str(),
            Some("succeeded" | "failed" | "timeout")
        )
    });
    wf
}

#[test]
fn flapping_access_port_is_disabled_noted_and_notified_but_an_uplink_is_not() {
    let rt = runtime();
    let sim = rt
        .block_on(gale_siteengine::sim::start(gale_siteengine::SimOptions {
            workflow_running_polls: 1,
            ..Default::default()
        }))
        .expect("simulator");
    let (notify_url, notes) = ticket_server();
    let s = configured_server(&sim, &notify_url);
    for rule in ["siteengine.port_flapping", "siteengine.port_flapping_alarm"] {
        let o = s.gale(&["rule", "enable", rule]);
        assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
    }
    let (key, sender) = sender_for(&s);
    let examples = gale_siteengine::sender::example_envelopes();
    let (alarm, trap) = (&examples[0], &examples[1]);

    // The Device Contact Lost alarm and the syslog example do not match these rules.
    for ev in [alarm, &examples[2]] {
        let run = rt
            .block_on(gale_siteengine::sender::run(
                &sender,
                &gale_siteengine::sender::envelope_args(ev),
            ))
            .expect("sender");
        assert_eq!(run.code, 0, "{run:?}");
    }
    let run = rt
        .block_on(gale_siteengine::sender::run(
            &sender,
            &gale_siteengine::sender::envelope_args(trap),
        ))
        .expect("sender");
    assert_eq!(run.code, 0, "{run:?}");

    let wf = finished_execution(&s, &key, "siteengine.port_flapping", 1);
    assert_eq!(wf["status"], "succeeded", "{wf}\n{}", s.log());
    assert_eq!(wf["parameters"]["ip"], "10.10.1.21");
    assert_eq!(wf["parameters"]["if_index"], 1021);
    let out = &wf["result"]["output"];
    assert_eq!(out["disabled"], true, "{wf}");
    assert_eq!(out["uplink"], false, "{wf}");
    assert_eq!(out["port"], "1:21", "{wf}");
    assert_eq!(out["notify_status"], 201, "{wf}");

    // Northbound: device, ports, the Disable Port workflow for 1:21, polled to its end, and
    // the device note.
    let ops = sim.operations();
    for op in [
        "device",
        "ports",
        "startWorkflow",
        "execution",
        "configureDevice",
    ] {
        assert!(ops.iter().any(|o| o == op), "{op} missing: {ops:?}");
    }
    let calls = sim.calls();
    let body_of = |op: &str| {
        calls
            .iter()
            .find(|c| c.operation.as_deref() == Some(op))
            .map(|c| c.body.to_string())
            .unwrap_or_default()
    };
    let start = body_of("startWorkflow");
    assert!(start.contains("Site Engine/Custom/Disable Port"), "{start}");
    assert!(
        start.contains("1:21") && start.contains("10.10.1.21"),
        "{start}"
    );
    let note = body_of("configureDevice");
    assert!(note.contains("Gale disabled port 1:21"), "{note}");
    assert!(note.contains("58214"), "{note}");

    let got = notes.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let n: Value = serde_json::from_str(&got[0].2).expect("notification JSON");
    assert_eq!(n["disabled"], true);
    assert_eq!(n["port"], "1:21");
    assert!(
        n["title"]
            .as_str()
            .unwrap_or_default()
            .contains("dist-sw-01"),
        "{n}"
    );

    // The same flapping reported as an alarm on the uplink port 1:20: nothing is disabled.
    sim.clear_calls();
    let mut up = alarm.clone();
    up["alarm"]["name"] = Value::String("Port Flapping".into());
    up["alarm"]["id"] = Value::String("58299".into());
    up["interface"] =
        serde_json::json!({"if_index": 1020, "name": "1:20", "alias": "uplink to core-01"});
    let run = rt
        .block_on(gale_siteengine::sender::run(
            &sender,
            &gale_siteengine::sender::envelope_args(&up),
        ))
        .expect("sender");
    assert_eq!(run.code, 0, "{run:?}");
    let wf = finished_execution(&s, &key, "siteengine.port_flapping", 2);
    assert_eq!(wf["status"], "succeeded", "{wf}\n{}", s.log());
    let out = &wf["result"]["output"];
    assert_eq!(out["disabled"], false, "{wf}");
    assert_eq!(out["uplink"], true, "{wf}");
    let ops = sim.operations();
    assert!(!ops.iter().any(|o| o == "startWorkflow"), "{ops:?}");
    assert!(!ops.iter().any(|o| o == "configureDevice"), "{ops:?}");
    assert_eq!(notes.lock().expect("lock").len(), 2);
    // Two events matched, two workflows: the non-matching ones started none.
    let all = get_json(
        &s,
        &key,
        "/api/v1/executions?action=siteengine.port_flapping",
    );
    assert_eq!(all.as_array().expect("list").len(), 2, "{all}");
    rt.block_on(sim.shutdown());
}

#[test]
fn configuration_change_runs_the_report_workflow_and_notifies_its_result() {
    let rt = runtime();
    let sim = rt
        .block_on(gale_siteengine::sim::start(
            gale_siteengine::SimOptions::default(),
        ))
        .expect("simulator");
    let (notify_url, notes) = ticket_server();
    let s = configured_server(&sim, &notify_url);
    for rule in [
        "siteengine.config_changed",
        "siteengine.config_changed_syslog",
    ] {
        let o = s.gale(&["rule", "enable", rule]);
        assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
    }
    let (key, sender) = sender_for(&s);
    let examples = gale_siteengine::sender::example_envelopes();
    let send = |ev: &Value| {
        let run = rt
            .block_on(gale_siteengine::sender::run(
                &sender,
                &gale_siteengine::sender::envelope_args(ev),
            ))
            .expect("sender");
        assert_eq!(run.code, 0, "{run:?}");
    };

    // The device's own syslog ("Configuration saved to primary.cfg").
    send(&examples[2]);
    let wf = finished_execution(&s, &key, "siteengine.config_changed", 1);
    assert_eq!(wf["status"], "succeeded", "{wf}\n{}", s.log());
    let out = &wf["result"]["output"];
    assert_eq!(out["status"], "SUCCESS", "{wf}");
    assert_eq!(out["notify_status"], 201, "{wf}");
    let exec_id = out["report"]["execution_id"].clone();
    assert!(exec_id.is_number(), "{wf}");
    let calls = sim.calls();
    let start = calls
        .iter()
        .find(|c| c.operation.as_deref() == Some("startWorkflow"))
        .map(|c| c.body.to_string())
        .expect("startWorkflow call");
    assert!(
        start.contains("Site Engine/Inventory/Report Configuration Changes"),
        "{start}"
    );
    assert!(start.contains("10.10.1.21"), "{start}");
    assert!(sim.operations().iter().any(|o| o == "execution"));
    let got = notes.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let n: Value = serde_json::from_str(&got[0].2).expect("notification JSON");
    assert_eq!(n["status"], "SUCCESS");
    assert_eq!(n["report"]["execution_id"], exec_id);
    assert!(
        n["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Configuration saved"),
        "{n}"
    );

    // Site Engine's archive compare alarm.
    let mut alarm = examples[0].clone();
    alarm["alarm"]["name"] = Value::String("Configurations Are Different".into());
    alarm["alarm"]["id"] = Value::String("58300".into());
    alarm["alarm"]["severity"] = Value::String("Info".into());
    send(&alarm);
    let wf = finished_execution(&s, &key, "siteengine.config_changed", 2);
    assert_eq!(wf["status"], "succeeded", "{wf}\n{}", s.log());
    assert_eq!(wf["parameters"]["alarm_id"], "58300");
    assert_eq!(notes.lock().expect("lock").len(), 2);

    // A syslog line that is not a configuration change starts nothing.
    let mut other = examples[2].clone();
    other["alarm"]["id"] = Value::String("58301".into());
    other["syslog"]["message"] = Value::String("<Info:vlan> Port 1:3 added to VLAN users".into());
    send(&other);
    std::thread::sleep(Duration::from_millis(500));
    let all = get_json(
        &s,
        &key,
        "/api/v1/executions?action=siteengine.config_changed",
    );
    assert_eq!(all.as_array().expect("list").len(), 2, "{all}");
    rt.block_on(sim.shutdown());
}

#[test]
fn configure_checks_stores_the_secret_encrypted_and_prints_the_sender_line() {
    let rt = runtime();
    let sim = rt
        .block_on(gale_siteengine::sim::start(
            gale_siteengine::SimOptions::default(),
        ))
        .expect("simulator");
    let opts = sim.options().clone();
    let s = Server::start();
    let ca = s.dir.path().join("se-ca.pem");
    write(&ca, sim.ca_pem());
    // A setting configure does not own survives it.
    write(
        &s.data_dir().join("configs/siteengine.yaml"),
        "host: old.example\nticket_url: http://tickets.example/\n",
    );
    let data_dir = s.data_dir();
    let port = sim.port().to_string();
    let sender_cfg = s.dir.path().join("st2integration.json");
    let base = [
        "siteengine",
        "configure",
        "--data-dir",
        data_dir.to_str().expect("utf-8"),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--client-id",
        &opts.client_id,
        "--ca-bundle",
        ca.to_str().expect("utf-8"),
        "--secret-stdin",
    ];

    // A wrong secret is refused by Site Engine and nothing is stored.
    let o = s.gale_stdin(&base, "wrong-secret\n");
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
    let cfg = std::fs::read_to_string(data_dir.join("configs/siteengine.yaml")).expect("cfg");
    assert!(cfg.contains("old.example"), "{cfg}");

    // Without a CA the simulator's certificate is not trusted.
    let no_ca: Vec<&str> = base
        .iter()
        .copied()
        .filter(|a| *a != "--ca-bundle" && *a != ca.to_str().expect("utf-8"))
        .collect();
    let o = s.gale_stdin(&no_ca, &format!("{}\n", opts.client_secret));
    assert!(!o.status.success(), "{}", stdout(&o));

    let mut args = base.to_vec();
    args.extend(["--write-sender-config", sender_cfg.to_str().expect("utf-8")]);
    let o = s.gale_stdin(&args, &format!("{}\n", opts.client_secret));
    assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("version"), "{out}");
    let line = gale_siteengine::sender::custom_action_arguments(&format!(
        "{}/st2integration.json",
        gale_siteengine::sender::DEFAULT_INSTALL_DIR
    ));
    assert!(out.contains(&line), "{out}");

    // The config refers to the datastore; the secret is stored encrypted there.
    let cfg = std::fs::read_to_string(data_dir.join("configs/siteengine.yaml")).expect("cfg");
    assert!(!cfg.contains(&opts.client_secret), "{cfg}");
    assert!(
        cfg.contains("st2kv.system.siteengine_client_secret"),
        "{cfg}"
    );
    assert!(cfg.contains("ticket_url"), "{cfg}");
    assert!(
        cfg.contains("127.0.0.1") && !cfg.contains("old.example"),
        "{cfg}"
    );
    let kv = s.gale_json(&["key", "get", "siteengine_client_secret"]);
    assert_eq!(kv["secret"], true, "{kv}");
    assert_ne!(kv["value"], opts.client_secret.as_str(), "{kv}");

    // The sender config carries a working API key: an alarm goes through it.
    let sc: Value =
        serde_json::from_str(&std::fs::read_to_string(&sender_cfg).expect("sender cfg"))
            .expect("JSON");
    assert_eq!(
        sc["url"],
        format!("{}/api/v1/webhooks/siteengine", s.url).as_str()
    );
    let api_key = sc["api_key"].as_str().expect("api key").to_string();
    let sender = gale_siteengine::sender::SenderOptions {
        script: s.data_dir().join("packs/siteengine/bin/st2integration.py"),
        url: sc["url"].as_str().expect("url").to_string(),
        api_key: api_key.clone(),
        ca_file: None,
        spool_dir: s.dir.path().join("spool"),
        retries: 1,
        backoff: 0.1,
        timeout: 5.0,
    };
    let alarm = &gale_siteengine::sender::example_envelopes()[0];
    let run = rt
        .block_on(gale_siteengine::sender::run(
            &sender,
            &gale_siteengine::sender::envelope_args(alarm),
        ))
        .expect("sender");
    assert_eq!(run.code, 0, "{run:?}");

    // The stored configuration works for the pack's actions (secret decrypted on use).
    sim.clear_calls();
    let o = s.gale(&["run", "siteengine.server_info", "-j"]);
    let ex: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&o), stderr(&o)));
    assert_eq!(ex["status"], "succeeded", "{ex}\n{}", s.log());
    assert!(sim.calls().iter().any(|c| c.path.contains("token")));
    rt.block_on(sim.shutdown());
}

/// `gale siteengine simulate` prints what `gale siteengine configure` needs, and configure
/// accepts it.
#[test]
fn simulate_prints_what_configure_needs() {
    let s = Server::start();
    let ca = s.dir.path().join("sim-ca.pem");
    let mut sim = std::process::Command::new(gale_bin())
        .args([
            "siteengine",
            "simulate",
            "--bind",
            "127.0.0.1:0",
            "--ca-out",
        ])
        .arg(&ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("simulate");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let info: Value = serde_json::from_str(&line).expect("JSON line");
    assert!(
        info["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://"),
        "{info}"
    );
    assert_eq!(info["ca_file"], ca.to_str().expect("utf-8"));
    let port = info["port"].to_string();
    let o = s.gale_stdin(
        &[
            "siteengine",
            "configure",
            "--data-dir",
            s.data_dir().to_str().expect("utf-8"),
            "--host",
            info["host"].as_str().expect("host"),
            "--port",
            &port,
            "--client-id",
            info["client_id"].as_str().expect("client id"),
            "--ca-bundle",
            info["ca_file"].as_str().expect("ca"),
            "--secret-stdin",
            "--json",
        ],
        &format!("{}\n", info["client_secret"].as_str().expect("secret")),
    );
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
    let out: Value = serde_json::from_slice(&o.stdout).expect("configure --json");
    assert_eq!(
        out["server_info"]["version"],
        gale_siteengine::sim::SIM_VERSION
    );
    assert_eq!(out["secret_key"], "st2kv.system.siteengine_client_secret");
    // The simulator's schema.idl has every field the pack's actions use.
    assert_eq!(out["schema_checked"], true, "{out}");
    assert_eq!(out["unsupported_actions"], serde_json::json!([]), "{out}");
    assert!(out["custom_action_arguments"]
        .as_str()
        .unwrap_or_default()
        .starts_with("--config "));
}

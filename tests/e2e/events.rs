//! The event path through the real binary: webhook → rule → `core.local` with parameters from
//! the payload; bad webhook bodies; a server killed right after acknowledging webhooks
//! processes every acknowledged one after restart, exactly once.

use crate::harness::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// `(status, body)` of a curl call.
fn curl(args: &[&str]) -> (u16, String) {
    let o = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn api_key(s: &Server) -> String {
    let k = s.gale_json(&["apikey", "create"]);
    k["key"].as_str().expect("api key").to_string()
}

fn get_json(s: &Server, key: &str, path: &str) -> Value {
    let (code, body) = curl(&[
        "-H",
        &format!("St2-Api-Key: {key}"),
        &format!("{}{path}", s.url),
    ]);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_rule(s: &Server, yaml: &str) {
    let path = s.dir.path().join("rule.yaml");
    write(&path, yaml);
    let o = s.gale(&["rule", "create", path.to_str().unwrap(), "-j"]);
    assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
}

#[test]
fn webhook_rule_runs_local_command_with_payload_parameters() {
    let s = Server::start();
    create_rule(
        &s,
        "name: greet\npack: e2e\nenabled: true\n\
         trigger:\n  type: core.st2.webhook\n  parameters: {url: e2e/greet}\n\
         criteria:\n  trigger.body.who: {type: exists, pattern: ''}\n\
         action:\n  ref: core.local\n  parameters:\n    cmd: \"echo hello {{ trigger.body.who }} from {{ trigger.headers['X-Source'] }}\"\n",
    );
    let rules = s.gale_json(&["rule", "list"]);
    assert_eq!(rules[0]["ref"], "e2e.greet", "{rules}");
    let key = api_key(&s);
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-H",
        "X-Source: e2e",
        "-d",
        r#"{"who": "world"}"#,
        &format!("{}/api/v1/webhooks/e2e/greet?st2-api-key={key}", s.url),
    ]);
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"who": "world"})
    );

    let mut exec_id = String::new();
    wait_until("an enforcement", 30, || {
        let e = s.gale_json(&["rule-enforcement", "list", "--rule", "e2e.greet"]);
        match e.get(0).and_then(|x| x["execution_id"].as_str()) {
            Some(id) => {
                exec_id = id.to_string();
                true
            }
            None => false,
        }
    });
    let ex = s.wait_status(&exec_id, |st| st == "succeeded" || st == "failed");
    assert_eq!(ex["status"], "succeeded", "{ex}");
    assert_eq!(ex["result"]["stdout"], "hello world from e2e", "{ex}");
    assert_eq!(ex["context"]["rule"]["name"], "greet");

    let tis = s.gale_json(&["trigger-instance", "list"]);
    let ti = tis
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["payload"]["body"]["who"] == "world")
        .expect("the webhook's trigger instance")
        .clone();
    assert_eq!(ti["status"], "processed");
    let id = ti["id"].as_str().unwrap();
    // The execution carries StackStorm's snapshots of the rule and the trigger side, and
    // the execution list filters on them (`?trigger_instance=<id>`, `?rule=<name>`).
    assert_eq!(ex["trigger_instance"]["id"], id, "{ex}");
    assert_eq!(ex["trigger"]["type"], "core.st2.webhook", "{ex}");
    assert!(ex["trigger"].get("ref_count").is_none(), "{ex}");
    assert_eq!(ex["trigger_type"]["ref"], "core.st2.webhook", "{ex}");
    assert_eq!(ex["rule"]["ref"], "e2e.greet", "{ex}");
    assert_eq!(ex["rule"]["name"], "greet", "{ex}");
    let by_ti = get_json(
        &s,
        &key,
        &format!("/api/v1/executions?trigger_instance={id}"),
    );
    assert_eq!(by_ti.as_array().map(Vec::len), Some(1), "{by_ti}");
    assert_eq!(by_ti[0]["id"], exec_id.as_str());
    let by_rule = get_json(&s, &key, "/api/v1/executions?rule=greet");
    assert_eq!(by_rule[0]["id"], exec_id.as_str(), "{by_rule}");
    let none = get_json(&s, &key, "/api/v1/executions?rule=other");
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");
    let traces = s.gale_json(&["trace", "list", "--trigger-instance", id]);
    assert_eq!(
        traces[0]["action_executions"][0]["object_id"],
        exec_id.as_str()
    );
    // Re-emit through the CLI.
    let o = s.gale(&["trigger-instance", "re-emit", id]);
    assert!(stdout(&o).contains("succesfully re-sent"), "{}", stdout(&o));
}

#[test]
fn bad_webhook_bodies_are_refused_and_store_nothing() {
    let s = Server::start();
    create_rule(
        &s,
        "name: sink\npack: e2e\nenabled: true\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: sink}\naction: {ref: core.noop}\n",
    );
    let key = api_key(&s);
    let url = format!("{}/api/v1/webhooks/sink", s.url);
    let auth = format!("St2-Api-Key: {key}");
    // No credentials.
    let (code, _) = curl(&["-X", "POST", "-d", "{}", &url]);
    assert_eq!(code, 401);
    // Not JSON.
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        "{oops",
        &url,
    ]);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("Failed to parse request body"), "{body}");
    // A JSON scalar.
    let (code, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        "42",
        &url,
    ]);
    assert_eq!(code, 400);
    // Unsupported content type.
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/xml",
        "-d",
        "<a/>",
        &url,
    ]);
    assert_eq!(code, 400);
    assert!(body.contains("Unsupported Content-Type"), "{body}");
    // Oversized.
    let big = s.dir.path().join("big.json");
    write(
        &big,
        &format!("{{\"a\": \"{}\"}}", "x".repeat(9 * 1024 * 1024)),
    );
    let (code, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", big.display()),
        &url,
    ]);
    assert_eq!(code, 413);
    // Unknown hook.
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-d",
        "{}",
        &format!("{}/api/v1/webhooks/nope", s.url),
    ]);
    assert_eq!(code, 404, "{body}");
    let tis = get_json(&s, &key, "/api/v1/triggerinstances");
    assert_eq!(tis.as_array().unwrap().len(), 0, "nothing stored: {tis}");
    // A bad rule is refused naming the field.
    let path = s.dir.path().join("bad.yaml");
    write(
        &path,
        "name: bad\ntrigger: {type: core.st2.webhook, parameters: {url: x}}\naction: {ref: core.noop}\ncriteria:\n  trigger.a: {type: equalz, pattern: 1}\n",
    );
    let o = s.gale(&["rule", "create", path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("operator equalz not in list of allowed operators"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn acknowledged_webhooks_are_processed_exactly_once_after_kill_9() {
    let mut s = Server::start();
    create_rule(
        &s,
        "name: crash\npack: e2e\nenabled: true\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: crash}\n\
         action:\n  ref: core.local\n  parameters: {cmd: \"echo {{ trigger.body.n }}\"}\n",
    );
    let key = api_key(&s);
    let url = format!("{}/api/v1/webhooks/crash?st2-api-key={key}", s.url);
    const N: usize = 60;
    // Concurrent senders; the server is killed as soon as the last one is acknowledged.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for n in (t..N).step_by(4) {
                    let (code, _) = curl(&[
                        "-X",
                        "POST",
                        "-H",
                        "Content-Type: application/json",
                        "-d",
                        &format!("{{\"n\": {n}}}"),
                        &url,
                    ]);
                    if code == 202 {
                        acked.push(n);
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked: Vec<usize> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    s.kill9();
    acked.sort();
    assert_eq!(
        acked.len(),
        N,
        "every webhook was acknowledged before the kill"
    );
    s.restart();

    let enforcements = || {
        get_json(
            &s,
            &key,
            "/api/v1/ruleenforcements?rule_ref=e2e.crash&limit=-1",
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
    };
    wait_until("every acknowledged webhook processed", 60, || {
        let tis = get_json(
            &s,
            &key,
            "/api/v1/triggerinstances?limit=-1&status=processed",
        );
        let n = tis
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["payload"]["body"]["n"].is_number())
            .count();
        n == N && enforcements().len() == N
    });
    let enf = enforcements();
    let mut instances: Vec<&str> = enf
        .iter()
        .map(|e| e["trigger_instance_id"].as_str().unwrap())
        .collect();
    instances.sort();
    instances.dedup();
    assert_eq!(instances.len(), N, "one enforcement per instance");
    let execs = get_json(&s, &key, "/api/v1/executions?action=core.local&limit=-1");
    let mut ns: Vec<i64> = execs
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["context"]["rule"]["name"] == "crash")
        .map(|e| {
            e["parameters"]["cmd"]
                .as_str()
                .unwrap()
                .trim_start_matches("echo ")
                .parse()
                .unwrap()
        })
        .collect();
    ns.sort();
    let want: Vec<i64> = (0..N as i64).collect();
    assert_eq!(ns, want, "exactly one execution per acknowledged webhook");
}

#[test]
fn key_value_change_triggers_a_rule_that_reads_the_datastore() {
    let s = Server::start();
    create_rule(
        &s,
        "name: on_key\npack: e2e\nenabled: true\ntrigger:\n  type: core.st2.key_value_pair.create\n\
         criteria:\n  trigger.object.name: {type: startswith, pattern: 'e2e.'}\n\
         action:\n  ref: core.local\n  parameters:\n    cmd: \"echo {{ trigger.object.name }}={{ st2kv.system.e2e.color }}\"\n",
    );
    let o = s.gale(&["key", "set", "e2e.color", "blue"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut exec_id = String::new();
    wait_until("an enforcement", 30, || {
        let e = s.gale_json(&["rule-enforcement", "list", "--rule", "e2e.on_key"]);
        match e.get(0).and_then(|x| x["execution_id"].as_str()) {
            Some(id) => {
                exec_id = id.to_string();
                true
            }
            None => false,
        }
    });
    let ex = s.wait_status(&exec_id, |st| st == "succeeded" || st == "failed");
    assert_eq!(ex["result"]["stdout"], "e2e.color=blue", "{ex}");
}

//! Compliance suite every built-in runner passes (where a scenario applies): a well-formed run
//! ends in a terminal status reachable from `running`; a long run times out with `timeout`; a
//! cancel ends in `canceled` and leaves no process behind; bad parameters fail cleanly.
//!
//! Each runner contributes a [`Case`]; a runner registered without a case fails the suite.

use axum::routing::get;
use gale_model::{Action, ExecStatus, RunnerType};
use gale_runners::process::process_alive;
use gale_runners::{NullSink, Registry, RunContext, RunOutcome, RunRequest};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn action(runner: &str, entry_point: &str, parameters: Value) -> Action {
    serde_json::from_value(json!({
        "name": "t", "pack": "tests", "ref": "tests.t", "uid": "action:tests:t",
        "runner_type": runner, "entry_point": entry_point, "parameters": parameters
    }))
    .unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn request(action: Action, runner_parameters: Value, action_parameters: Value) -> RunRequest {
    RunRequest {
        execution_id: "exec1".into(),
        action,
        runner_parameters: obj(runner_parameters),
        action_parameters: obj(action_parameters),
        pack_path: None,
        env: BTreeMap::new(),
        user: "stanley".into(),
    }
}

fn ctx(cancel: CancellationToken) -> RunContext {
    RunContext {
        cancel,
        output: Arc::new(NullSink),
    }
}

/// A long run and the files where its processes write their pids (empty for non-process runners).
struct LongRun {
    timeout_req: RunRequest,
    cancel_req: RunRequest,
    pidfiles: Vec<PathBuf>,
}

struct Case {
    quick: RunRequest,
    long: Option<LongRun>,
    bad: Vec<RunRequest>,
    /// Keeps temporary files alive for the case's lifetime.
    _dir: Option<tempfile::TempDir>,
}

fn shell_long_cmd(dir: &Path, tag: &str) -> (String, Vec<PathBuf>) {
    let leader = dir.join(format!("{tag}.leader"));
    let child = dir.join(format!("{tag}.child"));
    let cmd = format!(
        "echo $$ > {l}; sleep 30 & echo $! > {c}; wait",
        l = leader.display(),
        c = child.display()
    );
    (cmd, vec![leader, child])
}

fn local_cmd_case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let (slow_t, _) = shell_long_cmd(dir.path(), "t");
    let (slow_c, pids) = shell_long_cmd(dir.path(), "c");
    let a = || action("local-shell-cmd", "", json!({}));
    Case {
        quick: request(a(), json!({"cmd": "echo hi"}), json!({})),
        long: Some(LongRun {
            timeout_req: request(a(), json!({"cmd": slow_t, "timeout": 1}), json!({})),
            cancel_req: request(a(), json!({"cmd": slow_c, "timeout": 60}), json!({})),
            pidfiles: pids,
        }),
        bad: vec![
            request(a(), json!({}), json!({})),
            request(a(), json!({"cmd": 42}), json!({})),
            request(a(), json!({"cmd": "true", "timeout": "soon"}), json!({})),
            request(a(), json!({"cmd": "true", "sudo": "yes"}), json!({})),
            request(a(), json!({"cmd": "true", "env": {"A": 1}}), json!({})),
            request(a(), json!({"cmd": "true", "env": ["A=1"]}), json!({})),
            request(
                a(),
                json!({"cmd": "true", "cwd": "/nonexistent/gale"}),
                json!({}),
            ),
            request(
                action("local-shell-cmd", "x.sh", json!({})),
                json!({"cmd": "true"}),
                json!({}),
            ),
        ],
        _dir: Some(dir),
    }
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
}

fn local_script_case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let quick = dir.path().join("quick.sh");
    write_script(&quick, "echo \"$@\"");
    let slow = dir.path().join("slow.sh");
    // The pid file prefix comes in as the first positional argument.
    write_script(
        &slow,
        "echo $$ > \"$1.leader\"; sleep 30 & echo $! > \"$1.child\"; wait",
    );
    let params = json!({"prefix": {"type": "string", "position": 0}});
    let a = |ep: &Path| action("local-shell-script", &ep.to_string_lossy(), params.clone());
    let prefix = |tag: &str| dir.path().join(tag).to_string_lossy().to_string();
    Case {
        quick: request(a(&quick), json!({}), json!({"prefix": "x"})),
        long: Some(LongRun {
            timeout_req: request(
                a(&slow),
                json!({"timeout": 1}),
                json!({"prefix": prefix("t")}),
            ),
            cancel_req: request(a(&slow), json!({}), json!({"prefix": prefix("c")})),
            pidfiles: vec![dir.path().join("c.leader"), dir.path().join("c.child")],
        }),
        bad: vec![
            request(
                action("local-shell-script", "", json!({})),
                json!({}),
                json!({}),
            ),
            request(
                action("local-shell-script", "relative.sh", json!({})),
                json!({}),
                json!({}),
            ),
            request(a(&dir.path().join("missing.sh")), json!({}), json!({})),
            request(a(&quick), json!({"env": {"A": true}}), json!({})),
            request(a(&quick), json!({"timeout": [1]}), json!({})),
            request(a(&quick), json!({"kwarg_op": 1}), json!({})),
        ],
        _dir: Some(dir),
    }
}

async fn slow_server() -> String {
    let app = axum::Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn http_case() -> Case {
    let base = slow_server().await;
    let a = || action("http-request", "", json!({}));
    Case {
        quick: request(a(), json!({"url": format!("{base}/ok")}), json!({})),
        long: Some(LongRun {
            timeout_req: request(
                a(),
                json!({"url": format!("{base}/slow")}),
                json!({"timeout": 0.5}),
            ),
            cancel_req: request(a(), json!({"url": format!("{base}/slow")}), json!({})),
            pidfiles: vec![],
        }),
        bad: vec![
            request(a(), json!({}), json!({})),
            request(a(), json!({"url": 5}), json!({})),
            request(a(), json!({"url": "not a url"}), json!({})),
            request(
                a(),
                json!({"url": format!("{base}/ok"), "headers": {"X": 1}}),
                json!({}),
            ),
            request(
                a(),
                json!({"url": format!("{base}/ok"), "headers": "X: 1"}),
                json!({}),
            ),
            request(
                a(),
                json!({"url": format!("{base}/ok")}),
                json!({"timeout": "soon"}),
            ),
            request(
                a(),
                json!({"url": format!("{base}/ok")}),
                json!({"method": "BAD METHOD"}),
            ),
            request(
                a(),
                json!({"url": format!("{base}/ok"), "url_hosts_blacklist": ["a"], "url_hosts_whitelist": ["b"]}),
                json!({}),
            ),
            request(
                a(),
                json!({"url": format!("{base}/ok"), "url_hosts_blacklist": "127.0.0.1"}),
                json!({}),
            ),
        ],
        _dir: None,
    }
}

fn noop_case() -> Case {
    Case {
        quick: request(
            action("noop", "", json!({})),
            json!({}),
            json!({"anything": [1, 2]}),
        ),
        long: None,
        bad: vec![request(
            action("noop", "", json!({})),
            json!({"x": {"y": null}}),
            json!({"z": 1}),
        )],
        _dir: None,
    }
}

async fn case_for(name: &str) -> Option<Case> {
    Some(match name {
        "local-shell-cmd" => local_cmd_case(),
        "local-shell-script" => local_script_case(),
        "http-request" => http_case().await,
        "noop" => noop_case(),
        _ => return None,
    })
}

fn assert_terminal(name: &str, what: &str, out: &RunOutcome) {
    assert!(
        out.status.is_completed(),
        "{name} {what}: status {:?} is not terminal",
        out.status
    );
    assert!(
        ExecStatus::Running.can_transition_to(out.status),
        "{name} {what}: running -> {:?} is not a legal transition",
        out.status
    );
}

fn assert_definition(name: &str, rt: &RunnerType) {
    assert_eq!(rt.name, name);
    assert_eq!(rt.uid, format!("runner_type:{name}"));
    assert!(rt.enabled, "{name} must be enabled");
    assert!(!rt.runner_module.is_empty(), "{name} needs a runner_module");
    // The record serializes to the API shape and back without loss.
    let back: RunnerType = serde_json::from_value(serde_json::to_value(rt).unwrap()).unwrap();
    assert_eq!(&back, rt);
}

async fn wait_gone(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if !process_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn wait_for_pids(files: &[PathBuf]) -> Vec<u32> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let pids: Vec<u32> = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if pids.len() == files.len() || Instant::now() > until {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the whole suite against one registered runner.
async fn check_runner(name: &str) {
    let registry = Registry::with_builtin();
    let runner = registry
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not registered"));
    let rt = runner.runner_type();
    assert_definition(name, &rt);
    let case = case_for(name)
        .await
        .unwrap_or_else(|| panic!("runner {name} has no compliance case"));

    // 1. A well-formed run ends in a terminal status.
    let out = runner
        .run(case.quick.clone(), ctx(CancellationToken::new()))
        .await;
    assert_terminal(name, "quick run", &out);
    assert_eq!(
        out.status,
        ExecStatus::Succeeded,
        "{name} quick run: {}",
        out.result
    );

    // 2. Bad parameters fail cleanly.
    for bad in &case.bad {
        let out = runner.run(bad.clone(), ctx(CancellationToken::new())).await;
        assert_terminal(name, "bad parameters", &out);
        if name != "noop" {
            assert_eq!(
                out.status,
                ExecStatus::Failed,
                "{name}: {:?} -> {}",
                bad.runner_parameters,
                out.result
            );
            assert!(
                out.result["error"].is_string(),
                "{name}: error text missing in {}",
                out.result
            );
        }
    }

    // 3. Any JSON value in any runner parameter (and in a few action parameters the runners
    //    read) gives a terminal status, never a panic or a hang.
    let odd_values = [
        json!(null),
        json!(true),
        json!(0),
        json!(1.5),
        json!("s"),
        json!([]),
        json!({}),
        json!([1]),
        json!({"a": 1}),
        json!(-1),
    ];
    let mut names: Vec<String> = rt.runner_parameters.keys().cloned().collect();
    let action_side = [
        "body",
        "method",
        "params",
        "timeout",
        "file_name",
        "file_content",
    ];
    names.extend(action_side.iter().map(|s| s.to_string()));
    for param in &names {
        for value in &odd_values {
            let mut req = case.quick.clone();
            if rt.runner_parameters.contains_key(param) {
                req.runner_parameters.insert(param.clone(), value.clone());
            } else {
                req.action_parameters.insert(param.clone(), value.clone());
            }
            let run = runner.run(req, ctx(CancellationToken::new()));
            let out = tokio::time::timeout(Duration::from_secs(20), run)
                .await
                .unwrap_or_else(|_| panic!("{name}: {param}={value} did not finish"));
            assert_terminal(name, &format!("{param}={value}"), &out);
        }
    }

    // 4. A cancel that arrives before the run starts still ends `canceled`.
    let token = CancellationToken::new();
    token.cancel();
    let req = case
        .long
        .as_ref()
        .map_or(case.quick.clone(), |l| l.cancel_req.clone());
    let started = Instant::now();
    let out = runner.run(req, ctx(token)).await;
    assert_eq!(
        out.status,
        ExecStatus::Canceled,
        "{name} pre-canceled run: {}",
        out.result
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let Some(long) = case.long else { return };

    // 5. Timeout.
    let started = Instant::now();
    let out = runner
        .run(long.timeout_req.clone(), ctx(CancellationToken::new()))
        .await;
    assert_eq!(
        out.status,
        ExecStatus::Timeout,
        "{name} timeout run: {}",
        out.result
    );
    assert!(
        out.result["error"].is_string(),
        "{name}: timeout carries an error: {}",
        out.result
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{name} timeout took {:?}",
        started.elapsed()
    );

    // 6. Cancel while running ends `canceled` promptly and kills the processes.
    for f in &long.pidfiles {
        let _ = std::fs::remove_file(f);
    }
    let token = CancellationToken::new();
    let handle = {
        let runner = runner.clone();
        let req = long.cancel_req.clone();
        let token = token.clone();
        tokio::spawn(async move { runner.run(req, ctx(token)).await })
    };
    let pids = wait_for_pids(&long.pidfiles).await;
    assert_eq!(
        pids.len(),
        long.pidfiles.len(),
        "{name}: processes did not start"
    );
    for pid in &pids {
        assert!(
            process_alive(*pid),
            "{name}: pid {pid} should run before the cancel"
        );
    }
    if long.pidfiles.is_empty() {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let started = Instant::now();
    token.cancel();
    let out = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("cancel returns")
        .unwrap();
    assert_eq!(
        out.status,
        ExecStatus::Canceled,
        "{name} cancel: {}",
        out.result
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{name} cancel took {:?}",
        started.elapsed()
    );
    for pid in pids {
        assert!(
            wait_gone(pid).await,
            "{name}: pid {pid} survived the cancel"
        );
    }
}

#[tokio::test]
async fn every_registered_runner_has_a_case() {
    let registry = Registry::with_builtin();
    assert_eq!(
        registry.names(),
        [
            "http-request",
            "local-shell-cmd",
            "local-shell-script",
            "noop"
        ]
    );
    for name in registry.names() {
        assert!(
            case_for(&name).await.is_some(),
            "runner {name} has no compliance case"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_shell_cmd_is_compliant() {
    check_runner("local-shell-cmd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_shell_script_is_compliant() {
    check_runner("local-shell-script").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_request_is_compliant() {
    check_runner("http-request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noop_is_compliant() {
    check_runner("noop").await;
}

//! Orquesta workflows and action chains through the real server: children run as real
//! `core.local` executions, pause/resume/cancel go through the CLI, and a server killed with
//! SIGKILL mid-workflow finishes the workflow after a restart without re-running a task.

use crate::harness::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Write pack `wfe2e` with (action name, runner, workflow file text) and register it.
fn register_pack(s: &Server, actions: &[(&str, &str, &str)]) {
    let pack = s.dir.path().join("packs/wfe2e");
    write(
        &pack.join("pack.yaml"),
        "ref: wfe2e\nname: wfe2e\ndescription: workflow e2e\nversion: 1.0.0\nauthor: gale\n",
    );
    for (name, runner, text) in actions {
        write(&pack.join(format!("actions/workflows/{name}.yaml")), text);
        write(
            &pack.join(format!("actions/{name}.yaml")),
            &format!(
                "name: {name}\nrunner_type: {runner}\nentry_point: workflows/{name}.yaml\nenabled: true\nparameters:\n  file:\n    type: string\n    default: \"\"\n"
            ),
        );
    }
    let o = s.gale(&["pack", "register", pack.to_str().unwrap()]);
    assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn tasks_of(s: &Server, id: &str) -> Vec<Value> {
    let o = s.gale(&["execution", "get", id, "-j"]);
    let ex: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    ex["children"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| s.gale_json(&["execution", "get", c.as_str().unwrap()]))
        .collect()
}

fn wait_tasks(s: &Server, id: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tasks_of(s, id).len() < n {
        assert!(Instant::now() < deadline, "{id} never started {n} tasks");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const FLOW: &str = r#"
version: 1.0
input:
  - file
tasks:
  first:
    action: core.local cmd="echo first >> <% ctx(file) %>"
    next:
      - when: <% succeeded() %>
        do: left, right
  left:
    action: core.local cmd="sleep 0.5; echo left >> <% ctx(file) %>"
    next:
      - when: <% succeeded() %>
        do: joined
  right:
    action: core.local cmd="sleep 0.5; echo right >> <% ctx(file) %>"
    next:
      - when: <% succeeded() %>
        do: joined
  joined:
    join: all
    with:
      items: x in <% ['a', 'b', 'c'] %>
      concurrency: 2
    action: core.local cmd="echo item-<% item(x) %>"
    next:
      - when: <% succeeded() %>
        publish:
          - items: <% result().select($.stdout) %>
        do: flaky
  flaky:
    action: core.local cmd="echo try >> <% ctx(file) %>.try; test $(wc -l < <% ctx(file) %>.try) -ge 2"
    retry:
      when: <% failed() %>
      count: 3
output:
  - items: <% ctx(items) %>
"#;

#[test]
fn workflow_sequence_parallel_join_with_items_and_retry() {
    let s = Server::start();
    register_pack(&s, &[("flow", "orquesta", FLOW)]);
    let file = s.dir.path().join("flow.txt");
    let t0 = Instant::now();
    let ex = s.gale_json(&["run", "wfe2e.flow", &format!("file={}", file.display())]);
    assert_eq!(ex["status"], "succeeded", "{ex}");
    assert_eq!(
        ex["result"],
        serde_json::json!({"output": {"items": ["item-a", "item-b", "item-c"]}})
    );
    let got = lines(&file);
    assert_eq!(got[0], "first");
    let mut mid = got[1..].to_vec();
    mid.sort();
    assert_eq!(mid, ["left", "right"], "{got:?}");
    // left and right ran in parallel.
    assert!(t0.elapsed() < Duration::from_secs(8));
    // first, left, right, 3 items, flaky twice.
    let tasks = tasks_of(&s, ex["id"].as_str().unwrap());
    assert_eq!(tasks.len(), 8, "{tasks:?}");
    for t in &tasks {
        assert_eq!(t["parent"], ex["id"]);
        assert_eq!(t["context"]["orquesta"]["workflow_execution_id"], ex["id"]);
    }
    let flaky: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["context"]["orquesta"]["task_name"] == "flaky")
        .map(|t| &t["status"])
        .collect();
    assert_eq!(flaky, ["failed", "succeeded"]);
    // --show-tasks lists the task executions.
    let o = s.gale(&[
        "execution",
        "get",
        ex["id"].as_str().unwrap(),
        "--show-tasks",
    ]);
    let out = stdout(&o);
    for name in ["first", "left", "right", "joined", "flaky"] {
        assert!(out.contains(name), "{name} missing in:\n{out}");
    }
}

const FAILS: &str = r#"
version: 1.0
tasks:
  broken:
    action: core.local cmd="echo nope; exit 4"
    next:
      - when: <% succeeded() %>
        do: never
      - when: <% failed() %>
        publish:
          - rc: <% result().return_code %>
        do: cleanup
  never:
    action: core.noop
  cleanup:
    action: core.local cmd="echo cleaned"
    next:
      - do: fail
output:
  - rc: <% ctx(rc) %>
"#;

#[test]
fn failure_is_handled_then_reported_with_errors() {
    let s = Server::start();
    register_pack(&s, &[("fails", "orquesta", FAILS)]);
    let o = s.gale(&["run", "wfe2e.fails", "-j"]);
    assert_eq!(o.status.code(), Some(1), "failed workflows exit 1");
    let ex: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(ex["status"], "failed");
    assert_eq!(ex["result"]["output"], serde_json::json!({"rc": 4}));
    let errors = ex["result"]["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["task_id"] == "broken"
            && e["message"] == "Execution failed. See result for details."
            && e["result"]["return_code"] == 4),
        "{errors:?}"
    );
    let names: Vec<String> = tasks_of(&s, ex["id"].as_str().unwrap())
        .iter()
        .map(|t| {
            t["context"]["orquesta"]["task_name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["broken", "cleanup"]);
}

const SLOW: &str = r#"
version: 1.0
input:
  - file
tasks:
  one:
    action: core.local cmd="sleep 1; echo one >> <% ctx(file) %>"
    next:
      - do: two
  two:
    action: core.local cmd="echo two >> <% ctx(file) %>"
"#;

#[test]
fn pause_resume_and_cancel_from_the_cli() {
    let s = Server::start();
    register_pack(&s, &[("slow", "orquesta", SLOW)]);
    let file = s.dir.path().join("slow.txt");
    let arg = format!("file={}", file.display());

    let o = s.gale(&["run", "wfe2e.slow", &arg, "--async"]);
    let id = async_id(&o);
    s.wait_status(&id, |st| st == "running");
    // Pause once `one` is dispatched (a workflow paused before any task started is paused
    // at once).
    wait_tasks(&s, &id, 1);
    let o = s.gale(&["execution", "pause", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("pausing"), "{}", stdout(&o));
    s.wait_status(&id, |st| st == "paused");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(&file), ["one"], "two does not start while paused");
    let o = s.gale(&["execution", "resume", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ex = s.wait_status(&id, |st| st == "succeeded");
    assert_eq!(ex["result"], serde_json::json!({"output": null}));
    assert_eq!(lines(&file), ["one", "two"]);
    // Pausing a plain action is refused like st2 does.
    let o = s.gale(&["run", "core.local", "cmd=sleep 3", "--async"]);
    let plain = async_id(&o);
    s.wait_status(&plain, |st| st == "running");
    let o = s.gale(&["execution", "pause", &plain]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("because it is not supported by the \"local-shell-cmd\" runner"),
        "{}",
        stderr(&o)
    );

    std::fs::remove_file(&file).unwrap();
    let o = s.gale(&["run", "wfe2e.slow", &arg, "--async"]);
    let id = async_id(&o);
    wait_tasks(&s, &id, 1);
    let o = s.gale(&["execution", "cancel", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ex = s.wait_status(&id, |st| st == "canceled");
    assert_eq!(ex["status"], "canceled");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        lines(&file),
        ["one"],
        "the running task finished, nothing new started"
    );
}

const LONG: &str = r#"
version: 1.0
input:
  - file
tasks:
  t1:
    action: core.local cmd="echo t1 >> <% ctx(file) %>"
    next:
      - do: t2
  t2:
    delay: 1
    action: core.local cmd="echo t2 >> <% ctx(file) %>"
    next:
      - do: t3
  t3:
    delay: 1
    action: core.local cmd="echo t3 >> <% ctx(file) %>"
    next:
      - do: t4
  t4:
    delay: 1
    action: core.local cmd="echo t4 >> <% ctx(file) %>"
output:
  - done: true
"#;

#[test]
fn kill9_mid_workflow_then_restart_completes_it_once() {
    let mut s = Server::start();
    register_pack(&s, &[("long", "orquesta", LONG)]);
    let file = s.dir.path().join("long.txt");
    let o = s.gale(&[
        "run",
        "wfe2e.long",
        &format!("file={}", file.display()),
        "--async",
    ]);
    let id = async_id(&o);
    // Kill while t3 waits out its delay: t1 and t2 are finished and recorded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tasks = tasks_of(&s, &id);
        if lines(&file).len() == 2 && tasks.len() == 3 && tasks[2]["status"] == "delayed" {
            break;
        }
        assert!(Instant::now() < deadline, "never reached t3: {tasks:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.kill9();
    assert_eq!(lines(&file), ["t1", "t2"]);
    s.restart();
    let ex = s.wait_status(&id, |st| st != "running");
    assert_eq!(ex["status"], "succeeded", "{ex}\n{}", s.log());
    assert_eq!(ex["result"], serde_json::json!({"output": {"done": true}}));
    assert_eq!(
        lines(&file),
        ["t1", "t2", "t3", "t4"],
        "every task ran exactly once"
    );
    assert_eq!(tasks_of(&s, &id).len(), 4);
}

const CHAIN: &str = r#"
vars:
  who: chain
chain:
  - name: hello
    ref: core.local
    parameters:
      cmd: "echo hello-{{ who }}"
    publish:
      greeting: "{{ hello.stdout }}"
    on-success: broken
  - name: broken
    ref: core.local
    parameters:
      cmd: "echo {{ greeting }}; exit 2"
    on-failure: recover
  - name: recover
    ref: core.local
    parameters:
      cmd: "echo recovered"
"#;

#[test]
fn action_chain_runs_through_the_server() {
    let s = Server::start();
    register_pack(&s, &[("chain", "action-chain", CHAIN)]);
    let ex = s.gale_json(&["run", "wfe2e.chain"]);
    assert_eq!(ex["status"], "succeeded", "{ex}");
    let tasks = ex["result"]["tasks"].as_array().unwrap();
    let states: Vec<(&str, &str)> = tasks
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("hello", "succeeded"),
            ("broken", "failed"),
            ("recover", "succeeded")
        ]
    );
    assert_eq!(tasks[1]["result"]["stdout"], "hello-chain");
    assert_eq!(
        ex["result"]["published"],
        serde_json::json!({"greeting": "hello-chain"})
    );
    let o = s.gale(&[
        "execution",
        "get",
        ex["id"].as_str().unwrap(),
        "--show-tasks",
    ]);
    assert!(stdout(&o).contains("recover"), "{}", stdout(&o));
}

#[test]
fn repeated_kill9_never_runs_a_finished_task_twice() {
    let mut s = Server::start();
    let mut text = String::from("version: 1.0\ninput:\n  - file\ntasks:\n");
    for i in 1..=20 {
        text.push_str(&format!(
            "  t{i}:\n    action: core.local cmd=\"echo t{i} >> <% ctx(file) %>\"\n"
        ));
        if i < 20 {
            // Only on success: an abandoned task then fails the workflow (a transition
            // without `when` would count the failure as handled).
            text.push_str(&format!(
                "    next:\n      - when: <% succeeded() %>\n        do: t{}\n",
                i + 1
            ));
        }
    }
    register_pack(&s, &[("many", "orquesta", &text)]);
    let file = s.dir.path().join("many.txt");
    let o = s.gale(&[
        "run",
        "wfe2e.many",
        &format!("file={}", file.display()),
        "--async",
    ]);
    let id = async_id(&o);
    // Kill at whatever point the workflow has reached, twice (unless it ended before).
    for wait_lines in [3, 8] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if lines(&file).len() >= wait_lines {
                break;
            }
            let st = s.gale_json(&["execution", "get", &id])["status"].clone();
            if st != "running" && st != "requested" && st != "scheduled" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "workflow stalled: {:?}",
                lines(&file)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Slightly after the line: usually while the next task is being handed over.
        std::thread::sleep(Duration::from_millis(15));
        s.kill9();
        s.restart();
    }
    let ex = s.wait_status(&id, |st| st != "running");
    let got = lines(&file);
    println!(
        "after two kills: {} with {} tasks run",
        ex["status"],
        got.len()
    );
    let mut seen = std::collections::HashSet::new();
    for l in &got {
        assert!(seen.insert(l.clone()), "{l} ran twice: {got:?}");
    }
    match ex["status"].as_str() {
        Some("succeeded") => {
            let want: Vec<String> = (1..=20).map(|i| format!("t{i}")).collect();
            assert_eq!(got, want);
        }
        // A kill that lands while a task runs abandons that task (as StackStorm does).
        Some("failed") => {
            let tasks = tasks_of(&s, &id);
            assert!(
                tasks.iter().any(|t| t["status"] == "abandoned"),
                "{ex}\n{tasks:?}"
            );
        }
        other => panic!("unexpected final status {other:?}: {ex}"),
    }
}

const KV: &str = r#"
version: 1.0
tasks:
  greet:
    action: core.local cmd="echo <% st2kv('system.wf.greeting') %>"
output:
  - said: <% task(greet).result.stdout %>
"#;

#[test]
fn workflows_read_the_datastore() {
    let s = Server::start();
    register_pack(&s, &[("kv", "orquesta", KV)]);
    let o = s.gale(&["key", "set", "wf.greeting", "hello from st2kv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ex = s.gale_json(&["run", "wfe2e.kv"]);
    assert_eq!(ex["status"], "succeeded", "{ex}");
    assert_eq!(
        ex["result"],
        serde_json::json!({"output": {"said": "hello from st2kv"}})
    );
}

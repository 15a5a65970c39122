//! Workflows through the real pipeline: SQLite on a temp dir, real runners, the core pack and a
//! test pack of orquesta workflows and action chains written by the test.

use gale_engine::{CancelOutcome, Engine, EngineOptions, ExecutionRequest};
use gale_model::{ExecStatus, Execution};
use gale_runners::Registry;
use gale_store::sqlite::SqliteStore;
use gale_store::{DynStore, ExecutionFilter};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn core_pack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/core")
}

/// A pack `wf` with one action per (name, runner, file, text).
fn write_pack(dir: &Path, actions: &[(&str, &str, &str, &str)]) -> PathBuf {
    let pack = dir.join("wf");
    std::fs::create_dir_all(pack.join("actions/workflows")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: wf\nname: wf\ndescription: workflows\nversion: 1.0.0\nauthor: gale\n",
    )
    .unwrap();
    for (name, runner, file, text) in actions {
        std::fs::write(pack.join("actions/workflows").join(file), text).unwrap();
        let params = if text.contains("ctx(n)") || text.contains("{{ n }}") {
            "parameters:\n  n:\n    type: integer\n    default: 3\n"
        } else {
            ""
        };
        std::fs::write(
            pack.join(format!("actions/{name}.yaml")),
            format!(
                "name: {name}\nrunner_type: {runner}\nentry_point: workflows/{file}\nenabled: true\n{params}"
            ),
        )
        .unwrap();
    }
    pack
}

async fn engine(dir: &Path, actions: &[(&str, &str, &str, &str)]) -> Engine {
    let store: DynStore = Arc::new(SqliteStore::open(dir.join("gale.db")).unwrap());
    let opts = EngineOptions {
        workers: 6,
        data_dir: dir.to_path_buf(),
        lease: Duration::from_secs(30),
        ..EngineOptions::default()
    };
    let e = Engine::new(store, Registry::with_builtin(), opts);
    e.register_pack_dir(&core_pack(), true).await.unwrap();
    let pack = write_pack(dir, actions);
    e.register_pack_dir(&pack, true).await.unwrap();
    e.start().await.unwrap();
    e
}

fn req(action: &str, params: Value) -> ExecutionRequest {
    ExecutionRequest {
        action_ref: action.into(),
        parameters: params.as_object().cloned().unwrap_or_default(),
        user: "stanley".into(),
        ..Default::default()
    }
}

async fn wait(engine: &Engine, id: &str, pred: impl Fn(&Execution) -> bool) -> Execution {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let e = engine.get_execution(id).await.unwrap();
        if pred(&e) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; status {} result {} log {:?} state {:?}",
            e.status,
            e.result,
            e.log.iter().map(|l| l.status).collect::<Vec<_>>(),
            engine
                .store()
                .get_workflow(id)
                .await
                .unwrap()
                .map(|r| r.doc)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn done(engine: &Engine, id: &str) -> Execution {
    wait(engine, id, |e| e.status.is_completed()).await
}

async fn children(engine: &Engine, id: &str) -> Vec<Execution> {
    let f = ExecutionFilter {
        parent: Some(Some(id.to_string())),
        sort_asc: true,
        ..Default::default()
    };
    engine.store().list_executions(&f).await.unwrap().0
}

const SEQUENTIAL: &str = r#"
version: 1.0
input:
  - n
tasks:
  a:
    action: core.local cmd="echo <% ctx(n) %>"
    next:
      - when: <% succeeded() %>
        publish:
          - out_a: <% result().stdout %>
        do: b
  b:
    action: core.local
    input:
      cmd: echo {{ ctx('out_a') }}-b
    next:
      - when: <% succeeded() %>
        publish:
          - out_b: <% result().stdout %>
output:
  - a: <% ctx(out_a) %>
  - b: <% ctx(out_b) %>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_tasks_publish_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), &[("seq", "orquesta", "seq.yaml", SEQUENTIAL)]).await;
    let wf = e
        .request_execution(req("wf.seq", json!({"n": 7})))
        .await
        .unwrap();
    assert!(wf.liveaction.action_is_workflow);
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    assert_eq!(wf.result, json!({"output": {"a": 7, "b": "7-b"}}));
    let kids = children(&e, &wf.id).await;
    assert_eq!(kids.len(), 2);
    assert_eq!(wf.children, vec![kids[0].id.clone(), kids[1].id.clone()]);
    let orq = &kids[0].context["orquesta"];
    assert_eq!(orq["workflow_execution_id"], json!(wf.id));
    assert_eq!(orq["task_name"], json!("a"));
    assert_eq!(orq["task_id"], json!("a"));
    assert_eq!(orq["task_route"], json!(0));
    assert!(orq["task_execution_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(kids[0].context["parent"]["execution_id"], json!(wf.id));
    assert_eq!(kids[0].parent.as_deref(), Some(wf.id.as_str()));
    assert_eq!(kids[1].context["orquesta"]["task_name"], json!("b"));
    e.shutdown().await;
}

const PARALLEL_JOIN: &str = r#"
version: 1.0
tasks:
  start:
    next:
      - do: l, r
  l:
    action: core.local cmd="sleep 0.3; echo l"
    next:
      - when: <% succeeded() %>
        do: j
  r:
    action: core.local cmd="sleep 0.3; echo r"
    next:
      - when: <% succeeded() %>
        do: j
  j:
    join: all
    action: core.noop
output:
  - l: <% task(l).result.stdout %>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_branches_join() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        &[("par", "orquesta", "par.yaml", PARALLEL_JOIN)],
    )
    .await;
    let t0 = Instant::now();
    let wf = e.request_execution(req("wf.par", json!({}))).await.unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    assert_eq!(wf.result, json!({"output": {"l": "l"}}));
    // Both branches ran at the same time.
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t0.elapsed()
    );
    let kids = children(&e, &wf.id).await;
    let names: Vec<&str> = kids
        .iter()
        .map(|k| k.context["orquesta"]["task_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[2], "j", "the join runs once, last");
    e.shutdown().await;
}

const WITH_ITEMS: &str = r#"
version: 1.0
tasks:
  t:
    with:
      items: i in <% [1, 2, 3, 4] %>
      concurrency: 2
    action: core.local cmd="echo item-<% item(i) %>"
    next:
      - when: <% succeeded() %>
        publish:
          - outs: <% result().select($.stdout) %>
output:
  - outs: <% ctx(outs) %>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_items_in_item_order() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        &[("items", "orquesta", "items.yaml", WITH_ITEMS)],
    )
    .await;
    let wf = e
        .request_execution(req("wf.items", json!({})))
        .await
        .unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    assert_eq!(
        wf.result,
        json!({"output": {"outs": ["item-1", "item-2", "item-3", "item-4"]}})
    );
    let kids = children(&e, &wf.id).await;
    assert_eq!(kids.len(), 4);
    let mut items: Vec<u64> = kids
        .iter()
        .map(|k| k.context["orquesta"]["item_id"].as_u64().unwrap())
        .collect();
    items.sort();
    assert_eq!(items, [0, 1, 2, 3]);
    e.shutdown().await;
}

const FAILING: &str = r#"
version: 1.0
tasks:
  a:
    action: core.local cmd="echo boom; exit 3"
    next:
      - when: <% succeeded() %>
        do: b
  b:
    action: core.noop
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_task_fails_the_workflow_with_st2_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), &[("fail", "orquesta", "fail.yaml", FAILING)]).await;
    let wf = e
        .request_execution(req("wf.fail", json!({})))
        .await
        .unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Failed);
    assert_eq!(wf.result["output"], Value::Null);
    let errors = wf.result["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["type"], json!("error"));
    assert_eq!(errors[0]["task_id"], json!("a"));
    assert_eq!(
        errors[0]["message"],
        json!("Execution failed. See result for details.")
    );
    assert_eq!(errors[0]["result"]["return_code"], json!(3));
    assert_eq!(children(&e, &wf.id).await.len(), 1, "b never ran");
    e.shutdown().await;
}

const RETRY: &str = r#"
version: 1.0
tasks:
  a:
    action: core.local cmd="echo x >> __FILE__; test $(wc -l < __FILE__) -ge 3"
    retry:
      count: 5
      when: <% failed() %>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_until_success() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("count.txt");
    let text = RETRY.replace("__FILE__", file.to_str().unwrap());
    let e = engine(dir.path(), &[("retry", "orquesta", "retry.yaml", &text)]).await;
    let wf = e
        .request_execution(req("wf.retry", json!({})))
        .await
        .unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    let kids = children(&e, &wf.id).await;
    let st: Vec<ExecStatus> = kids.iter().map(|k| k.status).collect();
    assert_eq!(
        st,
        [
            ExecStatus::Failed,
            ExecStatus::Failed,
            ExecStatus::Succeeded
        ]
    );
    e.shutdown().await;
}

const SLOW_SEQ: &str = r#"
version: 1.0
tasks:
  a:
    action: core.local cmd="sleep 0.5; echo a >> __FILE__"
    next:
      - do: b
  b:
    action: core.local cmd="echo b >> __FILE__"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_waits_for_the_running_task_then_resume_continues() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let text = SLOW_SEQ.replace("__FILE__", file.to_str().unwrap());
    let e = engine(dir.path(), &[("slow", "orquesta", "slow.yaml", &text)]).await;
    let wf = e
        .request_execution(req("wf.slow", json!({})))
        .await
        .unwrap();
    wait(&e, &wf.id, |x| {
        x.status == ExecStatus::Running && !x.children.is_empty()
    })
    .await;
    let p = e.pause_execution(&wf.id).await.unwrap();
    assert_eq!(p.status, ExecStatus::Pausing);
    let paused = wait(&e, &wf.id, |x| x.status == ExecStatus::Paused).await;
    assert_eq!(paused.children.len(), 1, "b is not started while paused");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\n");
    // Pausing a paused workflow is a no-op; resuming a running one too; pausing an action fails.
    assert_eq!(
        e.pause_execution(&wf.id).await.unwrap().status,
        ExecStatus::Paused
    );
    let r = e.resume_execution(&wf.id).await.unwrap();
    assert_eq!(r.status, ExecStatus::Resuming);
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\nb\n");
    let err = e.pause_execution(&wf.children[0]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is not supported by the \"local-shell-cmd\" runner"),
        "{err}"
    );
    let err = e.resume_execution(&wf.id).await.unwrap_err();
    assert!(err.to_string().contains("not in \"paused\" state"), "{err}");
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_lets_the_running_task_finish_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let text = SLOW_SEQ.replace("__FILE__", file.to_str().unwrap());
    let e = engine(dir.path(), &[("slow", "orquesta", "slow.yaml", &text)]).await;
    let wf = e
        .request_execution(req("wf.slow", json!({})))
        .await
        .unwrap();
    wait(&e, &wf.id, |x| !x.children.is_empty()).await;
    match e.cancel_execution(&wf.id, "tester").await.unwrap() {
        CancelOutcome::Canceled(x) => assert_eq!(x.status, ExecStatus::Canceling),
        other => panic!("{other:?}"),
    }
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Canceled, "{}", wf.result);
    assert_eq!(wf.children.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap_or_default(), "a\n");
    e.shutdown().await;
}

const PARENT: &str = r#"
version: 1.0
tasks:
  sub:
    action: wf.slow
    next:
      - when: <% succeeded() %>
        publish:
          - done: yes
output:
  - done: <% ctx(done) %>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subworkflow_pause_cascades_and_resume_completes_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let text = SLOW_SEQ.replace("__FILE__", file.to_str().unwrap());
    let e = engine(
        dir.path(),
        &[
            ("slow", "orquesta", "slow.yaml", &text),
            ("parent", "orquesta", "parent.yaml", PARENT),
        ],
    )
    .await;
    let wf = e
        .request_execution(req("wf.parent", json!({})))
        .await
        .unwrap();
    let with_child = wait(&e, &wf.id, |x| !x.children.is_empty()).await;
    let sub = with_child.children[0].clone();
    wait(&e, &sub, |x| {
        x.status == ExecStatus::Running && !x.children.is_empty()
    })
    .await;
    e.pause_execution(&wf.id).await.unwrap();
    wait(&e, &wf.id, |x| x.status == ExecStatus::Paused).await;
    assert_eq!(
        e.get_execution(&sub).await.unwrap().status,
        ExecStatus::Paused
    );
    e.resume_execution(&wf.id).await.unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    assert_eq!(wf.result, json!({"output": {"done": true}}));
    assert_eq!(
        e.get_execution(&sub).await.unwrap().status,
        ExecStatus::Succeeded
    );
    e.shutdown().await;
}

const BAD: &str = r#"
version: 1.0
tasks:
  a:
    action: core.noop
    next:
      - do: nowhere
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_errors_fail_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), &[("bad", "orquesta", "bad.yaml", BAD)]).await;
    let wf = e.request_execution(req("wf.bad", json!({}))).await.unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Failed);
    assert_eq!(wf.result["output"], Value::Null);
    let errors = wf.result["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|e| e["type"].is_string()), "{errors:?}");
    assert!(wf.children.is_empty());
    e.shutdown().await;
}

const CONTENTS: &str = r#"
version: 1.0
tasks:
  a:
    action: core.nope
    next:
      - do: b
  b:
    action: core.local
    input:
      bogus: 1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_actions_and_inputs_fail_inspection_like_st2() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        &[("contents", "orquesta", "contents.yaml", CONTENTS)],
    )
    .await;
    let wf = e
        .request_execution(req("wf.contents", json!({})))
        .await
        .unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Failed);
    let schema = r"properties.tasks.patternProperties.^\w+$";
    assert_eq!(
        wf.result,
        json!({"errors": [
            {"type": "content", "message": "The action \"core.nope\" is not registered in the database.",
             "spec_path": "tasks.a.action", "schema_path": format!("{schema}.properties.action")},
            {"type": "content", "message": "Action \"core.local\" is missing required input \"cmd\".",
             "spec_path": "tasks.b.input", "schema_path": format!("{schema}.properties.input")},
            {"type": "content", "message": "Action \"core.local\" has unexpected input \"bogus\".",
             "spec_path": "tasks.b.input", "schema_path": format!("{schema}.properties.input")},
        ], "output": null})
    );
    e.shutdown().await;
}

const CHAIN: &str = r#"
vars:
  greeting: hello
chain:
  - name: c1
    ref: core.local
    parameters:
      cmd: "echo {{ greeting }}-{{ n }}"
    publish:
      said: "{{ c1.stdout }}"
    on-success: c2
  - name: c2
    ref: core.local
    parameters:
      cmd: "echo {{ said }}; exit 1"
    publish:
      failed_rc: "{{ c2.return_code }}"
    on-failure: c3
  - name: c3
    ref: core.noop
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_chain_publishes_and_follows_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        &[("chain", "action-chain", "chain.yaml", CHAIN)],
    )
    .await;
    let wf = e
        .request_execution(req("wf.chain", json!({"n": 5})))
        .await
        .unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    let tasks = wf.result["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c1", "c2", "c3"]);
    assert_eq!(tasks[0]["result"]["stdout"], json!("hello-5"));
    assert_eq!(tasks[1]["state"], json!("failed"));
    assert_eq!(tasks[1]["result"]["stdout"], json!("hello-5"));
    // Published after a failed node too, as st2 does.
    assert_eq!(
        wf.result["published"],
        json!({"said": "hello-5", "failed_rc": "1"})
    );
    let kids = children(&e, &wf.id).await;
    assert_eq!(kids[0].context["chain"]["name"], json!("c1"));
    assert_eq!(kids[0].context["parent"]["execution_id"], json!(wf.id));
    e.shutdown().await;
}

const CHAIN_FAIL: &str = r#"
chain:
  - name: c1
    ref: core.local
    parameters:
      cmd: "exit 2"
    on-success: c2
  - name: c2
    ref: core.noop
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_chain_unhandled_failure_fails() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        &[("chainf", "action-chain", "chainf.yaml", CHAIN_FAIL)],
    )
    .await;
    let wf = e
        .request_execution(req("wf.chainf", json!({})))
        .await
        .unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Failed, "{}", wf.result);
    assert_eq!(wf.result["tasks"].as_array().unwrap().len(), 1);
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_continues_after_restart_without_rerunning_finished_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let text = r#"
version: 1.0
tasks:
  a:
    action: core.local cmd="echo a >> __FILE__"
    next:
      - do: b
  b:
    delay: 1
    action: core.local cmd="echo b >> __FILE__"
    next:
      - do: c
  c:
    action: core.local cmd="echo c >> __FILE__"
"#
    .replace("__FILE__", file.to_str().unwrap());
    let e = engine(
        dir.path(),
        &[("restart", "orquesta", "restart.yaml", &text)],
    )
    .await;
    let wf = e
        .request_execution(req("wf.restart", json!({})))
        .await
        .unwrap();
    // b is created (delayed) after a finished: stop the engine then.
    wait(&e, &wf.id, |x| x.children.len() == 2).await;
    e.shutdown().await;
    drop(e);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\n");
    let store: DynStore = Arc::new(SqliteStore::open(dir.path().join("gale.db")).unwrap());
    let e2 = Engine::new(
        store,
        Registry::with_builtin(),
        EngineOptions {
            workers: 4,
            data_dir: dir.path().to_path_buf(),
            ..EngineOptions::default()
        },
    );
    e2.start().await.unwrap();
    let wf = done(&e2, &wf.id).await;
    assert_eq!(wf.status, ExecStatus::Succeeded, "{}", wf.result);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\nb\nc\n");
    e2.shutdown().await;
}

struct Kv;
impl gale_expr::ContextProvider for Kv {
    fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok((key == "system.greeting").then(|| json!("hi from kv")))
    }
}

const KV_WF: &str = r#"
version: 1.0
tasks:
  a:
    action: core.local cmd="echo <% st2kv('system.greeting') %>"
output:
  - said: <% task(a).result.stdout %>
"#;

const KV_CHAIN: &str = r#"
chain:
  - name: c1
    ref: core.local
    parameters:
      cmd: "echo {{ st2kv.system.greeting }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_datastore_is_read_by_workflows_chains_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        &[
            ("kvwf", "orquesta", "kvwf.yaml", KV_WF),
            ("kvchain", "action-chain", "kvchain.yaml", KV_CHAIN),
        ],
    )
    .await;
    e.set_datastore(Arc::new(|_user: &str| {
        Box::new(Kv) as Box<dyn gale_expr::ContextProvider>
    }));
    let wf = e
        .request_execution(req("wf.kvwf", json!({})))
        .await
        .unwrap();
    let wf = done(&e, &wf.id).await;
    assert_eq!(wf.result, json!({"output": {"said": "hi from kv"}}));
    let ch = e
        .request_execution(req("wf.kvchain", json!({})))
        .await
        .unwrap();
    let ch = done(&e, &ch.id).await;
    assert_eq!(
        ch.result["tasks"][0]["result"]["stdout"],
        json!("hi from kv")
    );
    let ex = e
        .request_execution(req(
            "core.local",
            json!({"cmd": "echo {{ st2kv.system.greeting }}"}),
        ))
        .await
        .unwrap();
    let ex = done(&e, &ex.id).await;
    assert_eq!(ex.result["stdout"], json!("hi from kv"));
    e.shutdown().await;
}

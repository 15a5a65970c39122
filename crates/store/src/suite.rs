//! The shared backend suite: every storage backend must pass it unchanged.
//!
//! Each behaviour is one `pub async fn` that takes a **fresh, empty** store and panics on a
//! failure (these are tests, so they assert). A backend instantiates all of them as
//! `#[tokio::test]`s with [`store_suite!`](crate::store_suite), adds
//! [`persistence_across_reopen`] with an opener for its durable storage, and runs the queue
//! model check ([`check_queue_against_model`]) from a property test.
//!
//! The suite only uses the traits, so a PostgreSQL backend runs the very same assertions.

use crate::{Error, ExecutionFilter, QueueItem, Store, WorkQueue};
use chrono::{Duration as Span, TimeZone, Utc};
use gale_model::{
    Action, ApiKey, ExecStatus, Execution, LiveAction, LogEntry, OutputRecord, Pack, RunnerType,
    Timestamp, Token,
};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::time::Duration;

/// Instantiate every fresh-store behaviour of the suite as a `#[tokio::test]`.
///
/// `$fresh` is a path to an `async fn` (or any callable returning a future) that yields a value
/// dereferencing to a fresh, empty backend, e.g. a `Box<SqliteStore>` or a guard that also
/// keeps a temporary directory alive. The calling crate needs `tokio` (dev-dependency).
#[macro_export]
macro_rules! store_suite {
    ($fresh:path) => {
        $crate::store_suite!(@tests $fresh;
            packs_upsert_keeps_id_and_lookup,
            runner_types_upsert_and_lookup,
            actions_upsert_create_list_delete,
            executions_create_get_last,
            executions_compare_and_set,
            executions_concurrent_compare_and_set,
            executions_filters_and_paging,
            executions_with_status,
            create_execution_enqueues_atomically,
            output_order_and_type_filter,
            tokens_by_hash,
            api_keys_by_id_or_hash,
            queue_claim_order_and_availability,
            queue_lease_expiry_ack_nack,
            queue_concurrent_claims_are_disjoint,
            queue_model_fixed_sequence,
            kv_upsert_keeps_id_and_scopes,
            kv_ttl_expiry_and_purge,
            kv_prefix_listing,
            workflow_state_compare_and_set,
            workflow_commit_is_all_or_nothing,
            child_status_and_parent_item_together,
            trigger_types_triggers_and_rules,
            trigger_instances_claim_once_and_complete,
        );
    };
    (@tests $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = $fresh().await;
                $crate::suite::$name(&*store).await;
            }
        )*
    };
}

/// Run every fresh-store behaviour, each on a new store from `fresh`.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    packs_upsert_keeps_id_and_lookup(&fresh().await).await;
    runner_types_upsert_and_lookup(&fresh().await).await;
    actions_upsert_create_list_delete(&fresh().await).await;
    executions_create_get_last(&fresh().await).await;
    executions_compare_and_set(&fresh().await).await;
    executions_concurrent_compare_and_set(&fresh().await).await;
    executions_filters_and_paging(&fresh().await).await;
    executions_with_status(&fresh().await).await;
    create_execution_enqueues_atomically(&fresh().await).await;
    output_order_and_type_filter(&fresh().await).await;
    tokens_by_hash(&fresh().await).await;
    api_keys_by_id_or_hash(&fresh().await).await;
    queue_claim_order_and_availability(&fresh().await).await;
    queue_lease_expiry_ack_nack(&fresh().await).await;
    queue_concurrent_claims_are_disjoint(&fresh().await).await;
    queue_model_fixed_sequence(&fresh().await).await;
    kv_upsert_keeps_id_and_scopes(&fresh().await).await;
    kv_ttl_expiry_and_purge(&fresh().await).await;
    kv_prefix_listing(&fresh().await).await;
    workflow_state_compare_and_set(&fresh().await).await;
    workflow_commit_is_all_or_nothing(&fresh().await).await;
    child_status_and_parent_item_together(&fresh().await).await;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A fixed instant, so expected orders do not depend on the clock.
pub fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `t0()` plus `secs` seconds.
pub fn at(secs: i64) -> Timestamp {
    t0() + Span::seconds(secs)
}

pub fn pack(pack_ref: &str) -> Pack {
    Pack {
        id: String::new(),
        pack_ref: pack_ref.into(),
        uid: Pack::uid_for(pack_ref),
        name: pack_ref.into(),
        description: format!("the {pack_ref} pack"),
        version: "1.0.0".into(),
        author: "gale".into(),
        email: None,
        keywords: vec![],
        dependencies: vec![],
        python_versions: vec![],
        stackstorm_version: None,
        contributors: vec![],
        files: vec![],
        path: format!("/opt/packs/{pack_ref}"),
        config_schema: None,
        extra: Map::new(),
    }
}

pub fn runner_type(name: &str) -> RunnerType {
    RunnerType {
        id: String::new(),
        name: name.into(),
        description: format!("the {name} runner"),
        enabled: true,
        runner_package: name.into(),
        runner_module: name.into(),
        runner_parameters: Default::default(),
        output_key: None,
        output_schema: json!({}),
        uid: RunnerType::uid_for(name),
    }
}

pub fn action(pack: &str, name: &str) -> Action {
    Action {
        id: String::new(),
        name: name.into(),
        pack: pack.into(),
        action_ref: Action::make_ref(pack, name),
        uid: Action::uid_for(pack, name),
        runner_type: "local-shell-cmd".into(),
        entry_point: String::new(),
        description: None,
        enabled: true,
        parameters: Default::default(),
        output_schema: json!({}),
        notify: None,
        tags: vec![],
        metadata_file: format!("actions/{name}.yaml"),
    }
}

/// A requested execution of `action_ref` by user `stanley`, requested at `start`.
pub fn execution(id: &str, action_ref: &str, start: Timestamp) -> Execution {
    let (pack, name) = action_ref.split_once('.').unwrap_or(("core", action_ref));
    let action = action(pack, name);
    let mut context = Map::new();
    context.insert("user".into(), json!("stanley"));
    Execution {
        id: id.into(),
        liveaction: LiveAction {
            id: format!("live-{id}"),
            action: action.action_ref.clone(),
            action_is_workflow: false,
            parameters: Map::new(),
            callback: Map::new(),
            runner_info: Map::new(),
            notify: None,
        },
        runner: runner_type(&action.runner_type),
        action,
        status: ExecStatus::Requested,
        start_timestamp: start,
        end_timestamp: None,
        elapsed_seconds: None,
        parameters: Map::new(),
        result: json!({}),
        result_size: 2,
        context,
        parent: None,
        children: vec![],
        log: vec![LogEntry {
            timestamp: start,
            status: ExecStatus::Requested,
        }],
        web_url: None,
        delay: None,
        trigger: None,
        trigger_type: None,
        trigger_instance: None,
        rule: None,
    }
}

pub fn item(id: &str, execution_id: &str, available_at: Timestamp) -> QueueItem {
    QueueItem {
        id: id.into(),
        execution_id: execution_id.into(),
        available_at,
        attempts: 0,
    }
}

fn output(id: &str, execution_id: &str, kind: &str, data: &str, secs: i64) -> OutputRecord {
    OutputRecord {
        id: id.into(),
        execution_id: execution_id.into(),
        action_ref: "core.local".into(),
        runner_ref: "local-shell-cmd".into(),
        timestamp: at(secs),
        output_type: kind.into(),
        data: data.into(),
    }
}

fn ids(execs: &[Execution]) -> Vec<&str> {
    execs.iter().map(|e| e.id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Catalog

pub async fn packs_upsert_keeps_id_and_lookup<S: Store + ?Sized>(s: &S) {
    let first = s.upsert_pack(pack("core")).await.unwrap();
    assert!(!first.id.is_empty(), "an empty id is assigned");
    let mut changed = pack("core");
    changed.description = "changed".into();
    changed.id = "000000000000000000000bad".into(); // ignored: the stored id wins
    let second = s.upsert_pack(changed).await.unwrap();
    assert_eq!(second.id, first.id, "upsert by ref keeps the id");
    assert_eq!(second.description, "changed");

    let mut own = pack("aaa");
    own.id = "65a000000000000000000001".into();
    assert_eq!(
        s.upsert_pack(own).await.unwrap().id,
        "65a000000000000000000001",
        "a new record keeps its own id"
    );

    let by_ref = s.get_pack("core").await.unwrap().unwrap();
    let by_id = s.get_pack(&first.id).await.unwrap().unwrap();
    assert_eq!(by_ref, by_id);
    assert_eq!(by_ref.description, "changed");
    assert_eq!(s.get_pack("nope").await.unwrap(), None);

    let refs: Vec<String> = s
        .list_packs()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.pack_ref)
        .collect();
    assert_eq!(refs, ["aaa", "core"], "ordered by ref, no duplicate");

    assert!(s.delete_pack("core").await.unwrap());
    assert!(!s.delete_pack("core").await.unwrap());
    assert!(
        s.delete_pack("65a000000000000000000001").await.unwrap(),
        "delete by id"
    );
    assert!(s.list_packs().await.unwrap().is_empty());
}

pub async fn runner_types_upsert_and_lookup<S: Store + ?Sized>(s: &S) {
    let a = s
        .upsert_runner_type(runner_type("python-script"))
        .await
        .unwrap();
    s.upsert_runner_type(runner_type("local-shell-cmd"))
        .await
        .unwrap();
    let mut changed = runner_type("python-script");
    changed.enabled = false;
    let b = s.upsert_runner_type(changed).await.unwrap();
    assert_eq!(a.id, b.id);
    assert!(!s.get_runner_type(&a.id).await.unwrap().unwrap().enabled);
    assert_eq!(
        s.get_runner_type("python-script")
            .await
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    assert_eq!(s.get_runner_type("missing").await.unwrap(), None);
    let names: Vec<String> = s
        .list_runner_types()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["local-shell-cmd", "python-script"]);
}

pub async fn actions_upsert_create_list_delete<S: Store + ?Sized>(s: &S) {
    let local = s.upsert_action(action("core", "local")).await.unwrap();
    let mut again = action("core", "local");
    again.description = Some("updated".into());
    let again = s.upsert_action(again).await.unwrap();
    assert_eq!(again.id, local.id, "upsert by ref keeps the id");

    s.create_action(action("core", "echo")).await.unwrap();
    let created = s.create_action(action("linux", "wait")).await.unwrap();
    assert!(!created.id.is_empty());
    match s.create_action(action("core", "local")).await {
        Err(Error::Conflict { existing_id, .. }) => assert_eq!(existing_id, local.id),
        other => panic!("create of an existing ref must conflict, got {other:?}"),
    }

    let got = s.get_action("core.local").await.unwrap().unwrap();
    assert_eq!(got.description.as_deref(), Some("updated"));
    assert_eq!(s.get_action(&local.id).await.unwrap().unwrap(), got);
    assert_eq!(s.get_action("core.nope").await.unwrap(), None);

    let all: Vec<String> = s
        .list_actions(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action_ref)
        .collect();
    assert_eq!(all, ["core.echo", "core.local", "linux.wait"]);
    let core: Vec<String> = s
        .list_actions(Some("core"))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action_ref)
        .collect();
    assert_eq!(core, ["core.echo", "core.local"]);
    assert!(s.list_actions(Some("nope")).await.unwrap().is_empty());

    assert!(s.delete_action(&created.id).await.unwrap());
    assert!(!s.delete_action(&created.id).await.unwrap());
    assert_eq!(s.get_action("linux.wait").await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Executions

pub async fn executions_create_get_last<S: Store + ?Sized>(s: &S) {
    assert_eq!(s.last_execution().await.unwrap(), None);
    let mut a = execution("e1", "core.local", at(10));
    a.parameters.insert("cmd".into(), json!("echo hi"));
    s.create_execution(&a, None).await.unwrap();
    s.create_execution(&execution("e2", "core.local", at(30)), None)
        .await
        .unwrap();
    // Same start time as e2, inserted later: newer.
    s.create_execution(&execution("e3", "core.local", at(30)), None)
        .await
        .unwrap();
    s.create_execution(&execution("e0", "core.local", at(5)), None)
        .await
        .unwrap();

    assert_eq!(
        s.get_execution("e1").await.unwrap().unwrap(),
        a,
        "the record round-trips"
    );
    assert_eq!(s.get_execution("missing").await.unwrap(), None);
    assert_eq!(s.last_execution().await.unwrap().unwrap().id, "e3");
    assert!(matches!(
        s.create_execution(&execution("e1", "core.local", at(99)), None)
            .await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        s.get_execution("e1").await.unwrap().unwrap(),
        a,
        "a conflicting create changes nothing"
    );
}

pub async fn executions_compare_and_set<S: Store + ?Sized>(s: &S) {
    let e = execution("cas", "core.local", at(0));
    s.create_execution(&e, None).await.unwrap();

    let mut scheduled = e.clone();
    assert!(scheduled.transition(ExecStatus::Scheduled, at(1)));
    assert!(s
        .update_execution(&scheduled, ExecStatus::Requested)
        .await
        .unwrap());

    // A writer that still believes the execution is "requested" must be refused.
    let mut stale = e.clone();
    assert!(stale.transition(ExecStatus::Canceled, at(2)));
    assert!(!s
        .update_execution(&stale, ExecStatus::Requested)
        .await
        .unwrap());
    let stored = s.get_execution("cas").await.unwrap().unwrap();
    assert_eq!(stored, scheduled, "a refused update writes nothing");

    let mut running = scheduled.clone();
    assert!(running.transition(ExecStatus::Running, at(3)));
    running.set_result(json!({"stdout": "x"}));
    assert!(s
        .update_execution(&running, ExecStatus::Scheduled)
        .await
        .unwrap());
    assert_eq!(s.get_execution("cas").await.unwrap().unwrap(), running);
    let (page, _) = s
        .list_executions(&ExecutionFilter {
            status: Some(ExecStatus::Running),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page), ["cas"], "the status column follows updates");

    let ghost = execution("ghost", "core.local", at(0));
    assert!(matches!(
        s.update_execution(&ghost, ExecStatus::Requested).await,
        Err(Error::NotFound { .. })
    ));
}

pub async fn executions_concurrent_compare_and_set<S: Store + ?Sized>(s: &S) {
    let e = execution("race", "core.local", at(0));
    s.create_execution(&e, None).await.unwrap();
    let contenders: Vec<Execution> = [
        ExecStatus::Scheduled,
        ExecStatus::Canceled,
        ExecStatus::Delayed,
        ExecStatus::Canceling,
    ]
    .into_iter()
    .map(|to| {
        let mut c = e.clone();
        assert!(c.transition(to, at(1)));
        c
    })
    .collect();
    // All four are in flight at once; exactly one may win.
    let (a, b, c, d) = tokio::join!(
        s.update_execution(&contenders[0], ExecStatus::Requested),
        s.update_execution(&contenders[1], ExecStatus::Requested),
        s.update_execution(&contenders[2], ExecStatus::Requested),
        s.update_execution(&contenders[3], ExecStatus::Requested),
    );
    let wins = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    let winner = wins.iter().position(|w| *w).unwrap_or(0);
    assert_eq!(
        s.get_execution("race").await.unwrap().unwrap(),
        contenders[winner]
    );
}

pub async fn executions_filters_and_paging<S: Store + ?Sized>(s: &S) {
    // p1 (workflow) with children c1, c2; three more top-level executions.
    let mut p1 = execution("p1", "examples.flow", at(10));
    p1.children = vec!["c1".into(), "c2".into()];
    let mut c1 = execution("c1", "core.local", at(11));
    c1.parent = Some("p1".into());
    let mut c2 = execution("c2", "core.echo", at(12));
    c2.parent = Some("p1".into());
    c2.status = ExecStatus::Failed;
    let mut t1 = execution("t1", "core.local", at(20));
    t1.context.insert("user".into(), json!("alice"));
    t1.rule = Some(json!({"id": "r1id", "name": "my_rule", "ref": "examples.my_rule"}));
    t1.trigger_instance = Some(json!({"id": "ti1", "status": "processed"}));
    t1.runner = runner_type("python-script");
    let mut t2 = execution("t2", "core.echo", at(30));
    t2.status = ExecStatus::Succeeded;
    let t3 = execution("t3", "core.local", at(40));
    for e in [&p1, &c1, &c2, &t1, &t2, &t3] {
        s.create_execution(e, None).await.unwrap();
    }

    let list = |f: ExecutionFilter| async move {
        let (page, total) = s.list_executions(&f).await.unwrap();
        (page.into_iter().map(|e| e.id).collect::<Vec<_>>(), total)
    };
    let all = ExecutionFilter::default();
    assert_eq!(
        list(all.clone()).await,
        (
            vec![
                "t3".into(),
                "t2".into(),
                "t1".into(),
                "c2".into(),
                "c1".into(),
                "p1".into()
            ],
            6
        ),
        "newest first"
    );
    assert_eq!(
        list(ExecutionFilter {
            sort_asc: true,
            ..all.clone()
        })
        .await
        .0,
        ["p1", "c1", "c2", "t1", "t2", "t3"]
    );
    assert_eq!(
        list(ExecutionFilter {
            parent: Some(None),
            ..all.clone()
        })
        .await,
        (vec!["t3".into(), "t2".into(), "t1".into(), "p1".into()], 4),
        "parent=null: top-level only"
    );
    assert_eq!(
        list(ExecutionFilter {
            parent: Some(Some("p1".into())),
            ..all.clone()
        })
        .await
        .0,
        ["c2", "c1"]
    );
    assert_eq!(
        list(ExecutionFilter {
            status: Some(ExecStatus::Failed),
            ..all.clone()
        })
        .await
        .0,
        ["c2"]
    );
    assert_eq!(
        list(ExecutionFilter {
            action: Some("core.echo".into()),
            ..all.clone()
        })
        .await
        .0,
        ["t2", "c2"]
    );
    assert_eq!(
        list(ExecutionFilter {
            user: Some("alice".into()),
            ..all.clone()
        })
        .await
        .0,
        ["t1"]
    );
    assert_eq!(
        list(ExecutionFilter {
            user: Some("stanley".into()),
            ..all.clone()
        })
        .await
        .1,
        5
    );
    assert_eq!(
        list(ExecutionFilter {
            runner: Some("python-script".into()),
            ..all.clone()
        })
        .await
        .0,
        ["t1"]
    );
    assert_eq!(
        list(ExecutionFilter {
            rule: Some("my_rule".into()),
            ..all.clone()
        })
        .await
        .0,
        ["t1"],
        "rule filters by name"
    );
    assert_eq!(
        list(ExecutionFilter {
            trigger_instance: Some("ti1".into()),
            ..all.clone()
        })
        .await
        .0,
        ["t1"]
    );
    assert_eq!(
        list(ExecutionFilter {
            timestamp_gt: Some(at(11)),
            timestamp_lt: Some(at(30)),
            ..all.clone()
        })
        .await
        .0,
        ["t1", "c2"],
        "timestamp bounds are exclusive"
    );
    assert_eq!(
        list(ExecutionFilter {
            action: Some("core.local".into()),
            parent: Some(None),
            ..all.clone()
        })
        .await,
        (vec!["t3".into(), "t1".into()], 2),
        "filters combine"
    );

    // Paging: the total is the count before offset/limit.
    assert_eq!(
        list(ExecutionFilter {
            limit: Some(2),
            ..all.clone()
        })
        .await,
        (vec!["t3".into(), "t2".into()], 6)
    );
    assert_eq!(
        list(ExecutionFilter {
            offset: 2,
            limit: Some(3),
            ..all.clone()
        })
        .await,
        (vec!["t1".into(), "c2".into(), "c1".into()], 6)
    );
    assert_eq!(
        list(ExecutionFilter {
            offset: 5,
            ..all.clone()
        })
        .await,
        (vec!["p1".into()], 6)
    );
    assert_eq!(
        list(ExecutionFilter {
            offset: 10,
            limit: Some(5),
            ..all.clone()
        })
        .await,
        (vec![], 6)
    );
    assert_eq!(
        list(ExecutionFilter {
            limit: Some(0),
            ..all.clone()
        })
        .await,
        (vec![], 6)
    );
    assert_eq!(
        list(ExecutionFilter {
            parent: Some(None),
            offset: 1,
            limit: Some(2),
            sort_asc: true,
            ..all.clone()
        })
        .await,
        (vec!["t1".into(), "t2".into()], 4)
    );
    assert_eq!(
        list(ExecutionFilter {
            user: Some("nobody".into()),
            ..all
        })
        .await,
        (vec![], 0)
    );
}

pub async fn executions_with_status<S: Store + ?Sized>(s: &S) {
    let statuses = [
        ("a", ExecStatus::Running),
        ("b", ExecStatus::Succeeded),
        ("c", ExecStatus::Scheduled),
        ("d", ExecStatus::Running),
        ("e", ExecStatus::Requested),
    ];
    for (i, (id, st)) in statuses.iter().enumerate() {
        let mut e = execution(id, "core.local", at(i as i64));
        e.status = *st;
        s.create_execution(&e, None).await.unwrap();
    }
    let found = s
        .executions_with_status(&[ExecStatus::Running, ExecStatus::Scheduled])
        .await
        .unwrap();
    let mut got = ids(&found);
    got.sort_unstable();
    assert_eq!(got, ["a", "c", "d"]);
    assert!(s.executions_with_status(&[]).await.unwrap().is_empty());
    assert!(s
        .executions_with_status(&[ExecStatus::Paused])
        .await
        .unwrap()
        .is_empty());
}

pub async fn create_execution_enqueues_atomically<S: Store + ?Sized>(s: &S) {
    let e = execution("q1", "core.local", at(0));
    s.create_execution(&e, Some(item("i1", "q1", at(0))))
        .await
        .unwrap();
    assert_eq!(s.queue_len().await.unwrap(), 1);
    let claimed = s
        .claim("w", at(1), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed, vec![item("i1", "q1", at(0))]);

    // The execution insert fails (duplicate id): its queue item must not be written either.
    let dup = s.create_execution(&e, Some(item("i2", "q1", at(0)))).await;
    assert!(matches!(dup, Err(Error::Conflict { .. })), "{dup:?}");
    assert_eq!(s.queue_len().await.unwrap(), 1);
    // The queue insert fails (duplicate item id): the execution must not be written either.
    let other = execution("q2", "core.local", at(0));
    assert!(s
        .create_execution(&other, Some(item("i1", "q2", at(0))))
        .await
        .is_err());
    assert_eq!(s.get_execution("q2").await.unwrap(), None, "all or nothing");
}

// ---------------------------------------------------------------------------------------------
// Output, auth

pub async fn output_order_and_type_filter<S: Store + ?Sized>(s: &S) {
    s.append_output(&[
        output("o1", "x", "stdout", "line 1\n", 1),
        output("o2", "x", "stderr", "oops\n", 1),
    ])
    .await
    .unwrap();
    s.append_output(&[output("o3", "y", "stdout", "other\n", 1)])
        .await
        .unwrap();
    // Same timestamp as earlier chunks: insertion order decides.
    s.append_output(&[output("o4", "x", "stdout", "line 2\n", 0)])
        .await
        .unwrap();
    s.append_output(&[]).await.unwrap();

    let data = |recs: Vec<OutputRecord>| recs.into_iter().map(|r| r.data).collect::<String>();
    assert_eq!(
        data(s.list_output("x", None).await.unwrap()),
        "line 1\noops\nline 2\n"
    );
    assert_eq!(
        data(s.list_output("x", Some("stdout")).await.unwrap()),
        "line 1\nline 2\n"
    );
    assert_eq!(
        data(s.list_output("x", Some("stderr")).await.unwrap()),
        "oops\n"
    );
    assert_eq!(
        s.list_output("y", None).await.unwrap(),
        vec![output("o3", "y", "stdout", "other\n", 1)]
    );
    assert!(s.list_output("z", None).await.unwrap().is_empty());
}

pub async fn tokens_by_hash<S: Store + ?Sized>(s: &S) {
    let token = Token {
        id: "tok1".into(),
        user: "stanley".into(),
        token_hash: "aa11".into(),
        expiry: at(3600),
        metadata: json!({"source": "test"}),
        service: false,
    };
    s.create_token(&token).await.unwrap();
    assert_eq!(
        s.get_token_by_hash("aa11").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        s.get_token_by_hash("tok1").await.unwrap(),
        None,
        "looked up by hash only"
    );
    let dup = Token {
        id: "tok2".into(),
        ..token.clone()
    };
    assert!(
        matches!(s.create_token(&dup).await, Err(Error::Conflict { .. })),
        "hashes are unique"
    );
    assert!(s.delete_token("tok1").await.unwrap());
    assert!(!s.delete_token("tok1").await.unwrap());
    assert_eq!(s.get_token_by_hash("aa11").await.unwrap(), None);
}

pub async fn api_keys_by_id_or_hash<S: Store + ?Sized>(s: &S) {
    let key = |id: &str, hash: &str, secs: i64| ApiKey {
        id: id.into(),
        uid: format!("api_key:{hash}"),
        user: "stanley".into(),
        key_hash: hash.into(),
        metadata: Value::Null,
        enabled: true,
        created_at: at(secs),
    };
    let k2 = key("k2", "bb22", 1);
    let k1 = key("k1", "aa11", 2);
    s.create_api_key(&k2).await.unwrap();
    s.create_api_key(&k1).await.unwrap();
    assert!(matches!(
        s.create_api_key(&key("k3", "aa11", 3)).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(s.get_api_key("k1").await.unwrap(), Some(k1.clone()));
    assert_eq!(s.get_api_key("bb22").await.unwrap(), Some(k2.clone()));
    assert_eq!(s.get_api_key("zz").await.unwrap(), None);
    let listed: Vec<String> = s
        .list_api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(listed, ["k2", "k1"], "creation order");

    let disabled = ApiKey {
        enabled: false,
        ..k1.clone()
    };
    s.update_api_key(&disabled).await.unwrap();
    assert!(!s.get_api_key("aa11").await.unwrap().unwrap().enabled);
    assert!(matches!(
        s.update_api_key(&key("nope", "cc33", 0)).await,
        Err(Error::NotFound { .. })
    ));

    assert!(s.delete_api_key("k1").await.unwrap());
    assert!(!s.delete_api_key("k1").await.unwrap());
    assert_eq!(s.get_api_key("aa11").await.unwrap(), None);
    assert_eq!(s.list_api_keys().await.unwrap(), vec![k2]);
}

// ---------------------------------------------------------------------------------------------
// Work queue

pub async fn queue_claim_order_and_availability<S: Store + ?Sized>(s: &S) {
    let lease = Duration::from_secs(60);
    assert!(
        s.claim("w", at(0), lease, 10).await.unwrap().is_empty(),
        "empty queue"
    );
    s.enqueue(item("late", "e1", at(20))).await.unwrap();
    s.enqueue(item("b", "e2", at(10))).await.unwrap();
    s.enqueue(item("a", "e3", at(10))).await.unwrap(); // same time as b, inserted after it
    s.enqueue(item("early", "e4", at(5))).await.unwrap();
    assert!(matches!(
        s.enqueue(item("a", "e9", at(0))).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(s.queue_len().await.unwrap(), 4);

    assert!(
        s.claim("w", at(4), lease, 10).await.unwrap().is_empty(),
        "nothing available yet"
    );
    assert!(
        s.claim("w", at(10), lease, 0).await.unwrap().is_empty(),
        "max 0 claims nothing"
    );
    let got: Vec<String> = s
        .claim("w", at(10), lease, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        got,
        ["early", "b"],
        "by available_at, then insertion; at most max"
    );
    let got: Vec<String> = s
        .claim("w", at(10), lease, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        got,
        ["a"],
        "claimed items are skipped; `late` is not available at 10"
    );
    let got = s.claim("w", at(20), lease, 10).await.unwrap();
    assert_eq!(
        got,
        vec![item("late", "e1", at(20))],
        "available exactly at available_at"
    );
    assert_eq!(s.queue_len().await.unwrap(), 4, "claimed items still count");
}

pub async fn queue_lease_expiry_ack_nack<S: Store + ?Sized>(s: &S) {
    let lease = Duration::from_secs(30);
    s.enqueue(item("x", "ex", at(0))).await.unwrap();
    s.enqueue(item("y", "ey", at(0))).await.unwrap();
    let first = s.claim("w1", at(0), lease, 1).await.unwrap();
    assert_eq!(
        first,
        vec![item("x", "ex", at(0))],
        "attempts counts earlier claims: none"
    );

    // x is leased until 30: w2 gets y, then nothing.
    assert_eq!(s.claim("w2", at(29), lease, 5).await.unwrap().len(), 1);
    assert!(s.claim("w2", at(29), lease, 5).await.unwrap().is_empty());
    // At 30 x's lease has expired (y's, taken at 29, has not).
    let again = s.claim("w2", at(30), lease, 5).await.unwrap();
    assert_eq!(
        again,
        vec![QueueItem {
            attempts: 1,
            ..item("x", "ex", at(0))
        }]
    );

    // nack: claimable again from retry_at, keeps its attempts, releases the lease.
    s.nack("x", at(100)).await.unwrap();
    assert!(s
        .claim("w3", at(99), lease, 5)
        .await
        .unwrap()
        .iter()
        .all(|i| i.id != "x"));
    let retried = s.claim("w3", at(100), lease, 5).await.unwrap();
    let x = retried.iter().find(|i| i.id == "x").cloned();
    assert_eq!(
        x,
        Some(QueueItem {
            attempts: 2,
            ..item("x", "ex", at(100))
        })
    );

    // ack removes; acking or nacking an unknown item is harmless.
    s.ack("x").await.unwrap();
    s.ack("x").await.unwrap();
    s.nack("gone", at(0)).await.unwrap();
    assert_eq!(s.queue_len().await.unwrap(), 1);
    s.ack("y").await.unwrap();
    assert_eq!(s.queue_len().await.unwrap(), 0);
    assert!(s.claim("w", at(10_000), lease, 5).await.unwrap().is_empty());
}

pub async fn queue_concurrent_claims_are_disjoint<S: Store + ?Sized>(s: &S) {
    for i in 0..20 {
        s.enqueue(item(&format!("i{i:02}"), &format!("e{i}"), at(0)))
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(60);
    let (a, b, c) = tokio::join!(
        s.claim("a", at(1), lease, 8),
        s.claim("b", at(1), lease, 8),
        s.claim("c", at(1), lease, 8)
    );
    let mut all: Vec<String> = [a.unwrap(), b.unwrap(), c.unwrap()]
        .concat()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(all.len(), 20);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20, "no item claimed twice");
}

pub async fn queue_model_fixed_sequence<S: Store + ?Sized>(s: &S) {
    use QueueOp::*;
    let ops = [
        Enqueue { delay_ms: 0 },
        Enqueue { delay_ms: 500 },
        Enqueue { delay_ms: 0 },
        Claim {
            worker: 0,
            lease_ms: 1000,
            max: 1,
        },
        Advance { ms: 600 },
        Claim {
            worker: 1,
            lease_ms: 1000,
            max: 5,
        },
        Nack {
            pick: 1,
            delay_ms: 100,
        },
        Advance { ms: 500 },
        Claim {
            worker: 2,
            lease_ms: 50,
            max: 5,
        },
        Ack { pick: 0 },
        Advance { ms: 50 },
        Claim {
            worker: 0,
            lease_ms: 50,
            max: 5,
        },
        Ack { pick: 7 },
        Nack {
            pick: 0,
            delay_ms: 0,
        },
    ];
    check_queue_against_model(s, &ops).await;
}

// ---------------------------------------------------------------------------------------------
// Persistence

/// `open` must open the same durable storage each time (a file, a database). Writes through
/// one handle, drops it, and reads everything back through a new one.
pub async fn persistence_across_reopen<S, F, Fut>(open: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let (pack_id, action_id);
    {
        let s = open().await;
        pack_id = s.upsert_pack(pack("core")).await.unwrap().id;
        s.upsert_runner_type(runner_type("local-shell-cmd"))
            .await
            .unwrap();
        action_id = s.upsert_action(action("core", "local")).await.unwrap().id;
        let e = execution("persist", "core.local", at(0));
        s.create_execution(&e, Some(item("pi", "persist", at(0))))
            .await
            .unwrap();
        let mut done = e.clone();
        assert!(done.transition(ExecStatus::Scheduled, at(1)));
        assert!(s
            .update_execution(&done, ExecStatus::Requested)
            .await
            .unwrap());
        s.append_output(&[output("po", "persist", "stdout", "hello\n", 1)])
            .await
            .unwrap();
        s.create_token(&Token {
            id: "pt".into(),
            user: "stanley".into(),
            token_hash: "ph".into(),
            expiry: at(60),
            metadata: Value::Null,
            service: false,
        })
        .await
        .unwrap();
        assert_eq!(
            s.claim("w", at(0), Duration::from_secs(10), 1)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    let s = open().await;
    assert_eq!(s.get_pack("core").await.unwrap().unwrap().id, pack_id);
    assert!(s
        .get_runner_type("local-shell-cmd")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        s.get_action(&action_id).await.unwrap().unwrap().action_ref,
        "core.local"
    );
    let e = s.get_execution("persist").await.unwrap().unwrap();
    assert_eq!(e.status, ExecStatus::Scheduled);
    assert_eq!(s.list_output("persist", None).await.unwrap().len(), 1);
    assert_eq!(s.get_token_by_hash("ph").await.unwrap().unwrap().id, "pt");
    assert_eq!(s.queue_len().await.unwrap(), 1);
    // The lease survived the restart: not claimable before it expires, claimable after.
    assert!(s
        .claim("w", at(5), Duration::from_secs(10), 1)
        .await
        .unwrap()
        .is_empty());
    let reclaimed = s
        .claim("w", at(10), Duration::from_secs(10), 1)
        .await
        .unwrap();
    assert_eq!(
        reclaimed,
        vec![QueueItem {
            attempts: 1,
            ..item("pi", "persist", at(0))
        }]
    );
    // A reopened store keeps writing: upserts still find the old ids.
    assert_eq!(s.upsert_pack(pack("core")).await.unwrap().id, pack_id);
}

// ---------------------------------------------------------------------------------------------
// Queue model (for property tests: random operation sequences against a simple model)

/// One step of a queue scenario. Picks index (modulo) into the ids enqueued so far, so acks and
/// nacks also hit items that are already gone.
#[derive(Clone, Debug)]
pub enum QueueOp {
    /// Enqueue a new item available `delay_ms` after now (negative: in the past).
    Enqueue {
        delay_ms: i64,
    },
    Claim {
        worker: u8,
        lease_ms: u64,
        max: usize,
    },
    Ack {
        pick: usize,
    },
    Nack {
        pick: usize,
        delay_ms: i64,
    },
    /// Move the clock forward.
    Advance {
        ms: i64,
    },
}

#[derive(Clone, Debug)]
struct ModelItem {
    id: String,
    execution_id: String,
    available_at: Timestamp,
    attempts: u32,
    lease_until: Option<Timestamp>,
}

/// The reference semantics of [`WorkQueue`] in a few lines.
#[derive(Default)]
struct QueueModel {
    /// In insertion order.
    items: Vec<ModelItem>,
}

impl QueueModel {
    fn claim(&mut self, now: Timestamp, lease: Span, max: usize) -> Vec<QueueItem> {
        let mut ready: Vec<usize> = (0..self.items.len())
            .filter(|&i| {
                let it = &self.items[i];
                it.available_at <= now && !matches!(it.lease_until, Some(l) if l > now)
            })
            .collect();
        // Stable sort: insertion order breaks available_at ties.
        ready.sort_by_key(|&i| self.items[i].available_at);
        ready.truncate(max);
        ready
            .into_iter()
            .map(|i| {
                let it = &mut self.items[i];
                let out = QueueItem {
                    id: it.id.clone(),
                    execution_id: it.execution_id.clone(),
                    available_at: it.available_at,
                    attempts: it.attempts,
                };
                it.attempts += 1;
                it.lease_until = Some(now + lease);
                out
            })
            .collect()
    }
}

/// Run `ops` against the store and the model; panics at the first difference in what a caller
/// can observe (claim results, queue length). Expects an empty queue.
pub async fn check_queue_against_model<S: WorkQueue + ?Sized>(s: &S, ops: &[QueueOp]) {
    let mut model = QueueModel::default();
    let mut now = t0();
    let mut enqueued: Vec<String> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match op {
            QueueOp::Enqueue { delay_ms } => {
                let id = format!("item{:04}", enqueued.len());
                let it = ModelItem {
                    id: id.clone(),
                    execution_id: format!("exec{}", enqueued.len()),
                    available_at: now + Span::milliseconds(*delay_ms),
                    attempts: 0,
                    lease_until: None,
                };
                s.enqueue(QueueItem {
                    id: it.id.clone(),
                    execution_id: it.execution_id.clone(),
                    available_at: it.available_at,
                    attempts: 0,
                })
                .await
                .unwrap();
                model.items.push(it);
                enqueued.push(id);
            }
            QueueOp::Claim {
                worker,
                lease_ms,
                max,
            } => {
                let lease = Duration::from_millis(*lease_ms);
                let got = s
                    .claim(&format!("w{worker}"), now, lease, *max)
                    .await
                    .unwrap();
                let want = model.claim(now, Span::milliseconds(*lease_ms as i64), *max);
                assert_eq!(got, want, "step {step}: {op:?} at {now}");
            }
            QueueOp::Ack { pick } => {
                if enqueued.is_empty() {
                    continue;
                }
                let id = &enqueued[pick % enqueued.len()];
                s.ack(id).await.unwrap();
                model.items.retain(|it| &it.id != id);
            }
            QueueOp::Nack { pick, delay_ms } => {
                if enqueued.is_empty() {
                    continue;
                }
                let id = &enqueued[pick % enqueued.len()];
                let retry_at = now + Span::milliseconds(*delay_ms);
                s.nack(id, retry_at).await.unwrap();
                if let Some(it) = model.items.iter_mut().find(|it| &it.id == id) {
                    it.available_at = retry_at;
                    it.lease_until = None;
                }
            }
            QueueOp::Advance { ms } => now += Span::milliseconds(*ms),
        }
        assert_eq!(
            s.queue_len().await.unwrap(),
            model.items.len() as u64,
            "step {step}: {op:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Datastore (key-value pairs)

pub fn kv(scope: &str, name: &str, value: &str) -> crate::KeyValueRecord {
    crate::KeyValueRecord {
        id: gale_model::new_id(),
        scope: scope.into(),
        name: name.into(),
        value: value.into(),
        secret: false,
        expire_timestamp: None,
        description: None,
    }
}

pub async fn kv_upsert_keeps_id_and_scopes<S: Store + ?Sized>(s: &S) {
    let now = at(0);
    let (first, prev) = s.put_kv(kv("st2kv.system", "a", "1"), now).await.unwrap();
    assert!(prev.is_none());
    let (second, prev) = s.put_kv(kv("st2kv.system", "a", "2"), now).await.unwrap();
    assert_eq!(second.id, first.id, "an upsert keeps the id");
    assert_eq!(prev.unwrap().value, "1", "the replaced pair is returned");
    // Same name in the user scope is a different pair.
    let (user, prev) = s.put_kv(kv("st2kv.user", "a", "u"), now).await.unwrap();
    assert!(prev.is_none());
    assert_ne!(user.id, first.id);
    let got = s.get_kv("st2kv.system", "a", now).await.unwrap().unwrap();
    assert_eq!(
        (got.value.as_str(), got.id.as_str()),
        ("2", first.id.as_str())
    );
    assert_eq!(
        s.get_kv("st2kv.user", "a", now)
            .await
            .unwrap()
            .unwrap()
            .value,
        "u"
    );
    assert!(s.get_kv("st2kv.system", "b", now).await.unwrap().is_none());
    let all = s.list_kv(None, None, now).await.unwrap();
    let keys: Vec<_> = all
        .iter()
        .map(|k| (k.scope.as_str(), k.name.as_str()))
        .collect();
    assert_eq!(keys, [("st2kv.system", "a"), ("st2kv.user", "a")]);
    let deleted = s.delete_kv("st2kv.system", "a", now).await.unwrap();
    assert_eq!(deleted.unwrap().value, "2");
    assert!(s
        .delete_kv("st2kv.system", "a", now)
        .await
        .unwrap()
        .is_none());
    assert!(s.get_kv("st2kv.system", "a", now).await.unwrap().is_none());
    assert!(s.get_kv("st2kv.user", "a", now).await.unwrap().is_some());
}

pub async fn kv_ttl_expiry_and_purge<S: Store + ?Sized>(s: &S) {
    let mut k = kv("st2kv.system", "tmp", "v");
    k.expire_timestamp = Some(at(10));
    let (stored, _) = s.put_kv(k, at(0)).await.unwrap();
    s.put_kv(kv("st2kv.system", "keep", "v"), at(0))
        .await
        .unwrap();
    assert!(s
        .get_kv("st2kv.system", "tmp", at(9))
        .await
        .unwrap()
        .is_some());
    // Expired exactly at expire_timestamp, for get, list and delete alike.
    assert!(s
        .get_kv("st2kv.system", "tmp", at(10))
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.list_kv(None, None, at(10)).await.unwrap().len(), 1);
    assert_eq!(s.list_kv(None, None, at(9)).await.unwrap().len(), 2);
    assert!(s
        .delete_kv("st2kv.system", "tmp", at(11))
        .await
        .unwrap()
        .is_none());
    // A put over an expired pair is a create: no previous pair, a new id.
    let mut k = kv("st2kv.system", "tmp2", "v");
    k.expire_timestamp = Some(at(10));
    let (old, _) = s.put_kv(k, at(0)).await.unwrap();
    let (new, prev) = s
        .put_kv(kv("st2kv.system", "tmp2", "w"), at(20))
        .await
        .unwrap();
    assert!(prev.is_none());
    assert_ne!(new.id, old.id);
    assert!(
        s.get_kv("st2kv.system", "tmp2", at(1000))
            .await
            .unwrap()
            .is_some(),
        "no ttl now"
    );
    let mut k = kv("st2kv.system", "tmp3", "v");
    k.expire_timestamp = Some(at(5));
    s.put_kv(k, at(0)).await.unwrap();
    assert_eq!(s.purge_expired_kv(at(4)).await.unwrap(), 0);
    // tmp3 is due; tmp's row went with the delete above; tmp2 and keep have no expiry.
    assert_eq!(s.purge_expired_kv(at(10)).await.unwrap(), 1);
    assert_eq!(s.list_kv(None, None, at(0)).await.unwrap().len(), 2);
    let _ = stored;
}

pub async fn kv_prefix_listing<S: Store + ?Sized>(s: &S) {
    let now = at(0);
    for (scope, name) in [
        ("st2kv.system", "app.db.host"),
        ("st2kv.system", "app.db.port"),
        ("st2kv.system", "app.web"),
        ("st2kv.system", "app_x"),
        ("st2kv.system", "other"),
        ("st2kv.system", "100%_done"),
        ("st2kv.user", "alice:app.db"),
        ("st2kv.user", "bob:app.db"),
    ] {
        s.put_kv(kv(scope, name, "v"), now).await.unwrap();
    }
    let names = |v: Vec<crate::KeyValueRecord>| v.into_iter().map(|k| k.name).collect::<Vec<_>>();
    let sys = Some("st2kv.system");
    assert_eq!(
        names(s.list_kv(sys, Some("app.db."), now).await.unwrap()),
        ["app.db.host", "app.db.port"]
    );
    assert_eq!(
        names(s.list_kv(sys, Some("app."), now).await.unwrap()),
        ["app.db.host", "app.db.port", "app.web"]
    );
    // `%` and `_` are plain characters in a prefix, not wildcards.
    assert_eq!(
        names(s.list_kv(sys, Some("100%"), now).await.unwrap()),
        ["100%_done"]
    );
    assert!(s.list_kv(sys, Some("app%"), now).await.unwrap().is_empty());
    assert_eq!(
        names(
            s.list_kv(Some("st2kv.user"), Some("alice:"), now)
                .await
                .unwrap()
        ),
        ["alice:app.db"]
    );
    assert_eq!(s.list_kv(sys, None, now).await.unwrap().len(), 6);
    assert_eq!(s.list_kv(None, Some("app"), now).await.unwrap().len(), 4);
}

// ---------------------------------------------------------------------------------------------
// Workflow state

fn wf_commit(id: &str, expected: Option<u64>, doc: &str) -> crate::WorkflowCommit {
    crate::WorkflowCommit {
        record: crate::WorkflowRecord {
            execution_id: id.into(),
            version: 0,
            doc: doc.into(),
        },
        expected_version: expected,
        execution: None,
        children: Vec::new(),
        enqueue: Vec::new(),
    }
}

pub async fn workflow_state_compare_and_set<S: Store + ?Sized>(s: &S) {
    assert_eq!(s.get_workflow("w1").await.unwrap(), None);
    assert!(s
        .commit_workflow(wf_commit("w1", None, "{\"a\":1}"))
        .await
        .unwrap());
    // A second creation loses: the state exists now.
    assert!(!s
        .commit_workflow(wf_commit("w1", None, "{\"a\":2}"))
        .await
        .unwrap());
    let got = s.get_workflow("w1").await.unwrap().unwrap();
    assert_eq!((got.version, got.doc.as_str()), (1, "{\"a\":1}"));
    assert!(s
        .commit_workflow(wf_commit("w1", Some(1), "{\"a\":3}"))
        .await
        .unwrap());
    // A stale version writes nothing.
    assert!(!s
        .commit_workflow(wf_commit("w1", Some(1), "{\"a\":4}"))
        .await
        .unwrap());
    let got = s.get_workflow("w1").await.unwrap().unwrap();
    assert_eq!((got.version, got.doc.as_str()), (2, "{\"a\":3}"));
    assert!(s.delete_workflow("w1").await.unwrap());
    assert_eq!(s.get_workflow("w1").await.unwrap(), None);
}

pub async fn workflow_commit_is_all_or_nothing<S: Store + ?Sized>(s: &S) {
    let mut wf = execution("wf", "core.chain", at(0));
    wf.status = ExecStatus::Running;
    s.create_execution(&wf, None).await.unwrap();
    let mut child = execution("c1", "core.local", at(1));
    child.parent = Some("wf".into());
    let mut upd = wf.clone();
    upd.children.push("c1".into());

    // The workflow execution's status changed meanwhile: nothing at all is written.
    let mut c = wf_commit("wf", None, "{}");
    c.execution = Some((upd.clone(), ExecStatus::Pausing));
    c.children = vec![(child.clone(), Some(item("i1", "c1", at(1))))];
    assert!(!s.commit_workflow(c).await.unwrap());
    assert_eq!(s.get_workflow("wf").await.unwrap(), None);
    assert_eq!(s.get_execution("c1").await.unwrap(), None);
    assert_eq!(s.queue_len().await.unwrap(), 0);

    let mut c = wf_commit("wf", None, "{}");
    c.execution = Some((upd.clone(), ExecStatus::Running));
    c.children = vec![(child.clone(), Some(item("i1", "c1", at(1))))];
    c.enqueue = vec![item("i2", "parent-of-wf", at(1))];
    assert!(s.commit_workflow(c).await.unwrap());
    assert_eq!(
        s.get_execution("c1")
            .await
            .unwrap()
            .unwrap()
            .parent
            .as_deref(),
        Some("wf")
    );
    assert_eq!(
        s.get_execution("wf").await.unwrap().unwrap().children,
        vec!["c1".to_string()]
    );
    assert_eq!(s.queue_len().await.unwrap(), 2);

    // A failing insert (duplicate child) rolls the state back too.
    let mut c = wf_commit("wf", Some(1), "{\"x\":1}");
    c.children = vec![(child.clone(), None)];
    assert!(s.commit_workflow(c).await.is_err());
    assert_eq!(s.get_workflow("wf").await.unwrap().unwrap().version, 1);
}

pub async fn child_status_and_parent_item_together<S: Store + ?Sized>(s: &S) {
    let mut child = execution("c1", "core.local", at(0));
    child.status = ExecStatus::Running;
    s.create_execution(&child, None).await.unwrap();
    let mut done = child.clone();
    done.status = ExecStatus::Succeeded;
    // Wrong expected status: neither the status nor the item is written.
    assert!(!s
        .update_execution_and_enqueue(&done, ExecStatus::Requested, item("p1", "wf", at(0)))
        .await
        .unwrap());
    assert_eq!(s.queue_len().await.unwrap(), 0);
    assert!(s
        .update_execution_and_enqueue(&done, ExecStatus::Running, item("p1", "wf", at(0)))
        .await
        .unwrap());
    assert_eq!(
        s.get_execution("c1").await.unwrap().unwrap().status,
        ExecStatus::Succeeded
    );
    let claimed = s
        .claim("w", at(1), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed, vec![item("p1", "wf", at(0))]);
}

// ---- event side (gale-events) ----

fn instance(id: &str, trigger: &str, t: Timestamp) -> gale_model::events::TriggerInstance {
    gale_model::events::TriggerInstance {
        id: id.into(),
        trigger: trigger.into(),
        payload: json!({"n": 1}),
        occurrence_time: t,
        status: gale_model::events::TriggerInstanceStatus::Pending,
    }
}

pub async fn trigger_types_triggers_and_rules<S: Store + ?Sized>(s: &S) {
    use gale_model::events::{Trigger, TriggerType};
    let tt = s
        .upsert_trigger_type(TriggerType::new("core", "st2.webhook"))
        .await
        .unwrap();
    assert_eq!(tt.id.len(), 24);
    let mut again = TriggerType::new("core", "st2.webhook");
    again.description = Some("d".into());
    let again = s.upsert_trigger_type(again).await.unwrap();
    assert_eq!(again.id, tt.id, "upsert by ref keeps the id");
    assert!(s
        .get_trigger_type("core.st2.webhook")
        .await
        .unwrap()
        .is_some());
    assert!(s.get_trigger_type(&tt.id).await.unwrap().is_some());
    assert_eq!(s.list_trigger_types(Some("other")).await.unwrap().len(), 0);

    let mut t = Trigger::shadow(&TriggerType::new("p", "e"));
    t.uid = "trigger:p:e:99914b932bd37a50b983c5e7c90ae93b".into();
    let t = s.upsert_trigger(t).await.unwrap();
    for key in ["p.e", t.id.as_str(), t.uid.as_str()] {
        assert_eq!(s.get_trigger(key).await.unwrap().unwrap().id, t.id);
    }
    assert_eq!(s.list_triggers(Some("p.e")).await.unwrap().len(), 1);
    assert!(s.delete_trigger("p.e").await.unwrap());
    assert!(s.get_trigger("p.e").await.unwrap().is_none());

    let rule = json!({"ref": "p.r", "pack": "p", "name": "r", "trigger": {"type": "p.e"}});
    let created = s.create_rule(rule.clone()).await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    match s.create_rule(rule.clone()).await {
        Err(Error::Conflict { existing_id, .. }) => assert_eq!(existing_id, id),
        other => panic!("duplicate rule must conflict, got {other:?}"),
    }
    let updated = s.upsert_rule(rule).await.unwrap();
    assert_eq!(updated["id"], json!(id));
    s.upsert_rule(json!({"ref": "a.z", "pack": "a", "name": "z"}))
        .await
        .unwrap();
    let refs: Vec<_> = s
        .list_rules()
        .await
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refs, ["a.z", "p.r"]);
    assert!(s.delete_rule(&id).await.unwrap());
    assert!(s.get_rule("p.r").await.unwrap().is_none());
}

pub async fn trigger_instances_claim_once_and_complete<S: Store + ?Sized>(s: &S) {
    use crate::events::{InstanceCompletion, TraceWrite, TriggerInstanceFilter};
    use gale_model::events::{
        EnforcementStatus, RuleEnforcement, Trace, TraceComponent, TriggerInstanceStatus,
    };
    let comp = |id: &str| TraceComponent {
        object_id: id.into(),
        component_ref: "p.e".into(),
        updated_at: at(0),
        caused_by: json!({}),
    };
    for i in 0..5 {
        let ti = instance(&format!("ti{i}"), "p.e", at(i));
        let trace = if i == 0 {
            TraceWrite::New(Trace {
                id: "tr0".into(),
                uid: "trace:tr0".into(),
                trace_tag: "tag".into(),
                trigger_instances: vec![comp("ti0")],
                rules: vec![],
                action_executions: vec![],
                start_timestamp: at(0),
            })
        } else {
            TraceWrite::Append {
                trace_id: format!("tr{}", i % 2),
                component: comp(&ti.id),
            }
        };
        s.create_trigger_instance(&ti, trace).await.unwrap();
    }
    // Concurrent claims never hand out the same instance twice.
    let (a, b) = tokio::join!(s.claim_trigger_instances(3), s.claim_trigger_instances(3));
    let mut ids: Vec<String> = a
        .unwrap()
        .into_iter()
        .chain(b.unwrap())
        .map(|t| t.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["ti0", "ti1", "ti2", "ti3", "ti4"]);
    assert!(s.claim_trigger_instances(10).await.unwrap().is_empty());
    let processing = s
        .trigger_instances_with_status(TriggerInstanceStatus::Processing)
        .await
        .unwrap();
    assert_eq!(processing.len(), 5);
    assert_eq!(processing[0].status, TriggerInstanceStatus::Processing);

    let enf = RuleEnforcement {
        id: "re1".into(),
        trigger_instance_id: "ti0".into(),
        rule: json!({"ref": "p.r", "id": "rid", "uid": "rule:p:r"}),
        execution_id: Some("ex1".into()),
        failure_reason: None,
        status: EnforcementStatus::Succeeded,
        enforced_at: at(1),
    };
    s.complete_trigger_instance(InstanceCompletion {
        instance_id: "ti0".into(),
        status: TriggerInstanceStatus::Processed,
        enforcements: vec![enf.clone()],
        trace_id: Some("tr0".into()),
        rules: vec![comp("rid")],
        executions: vec![comp("ex1")],
    })
    .await
    .unwrap();
    let ti0 = s.get_trigger_instance("ti0").await.unwrap().unwrap();
    assert_eq!(ti0.status, TriggerInstanceStatus::Processed);
    assert_eq!(s.get_rule_enforcement("re1").await.unwrap().unwrap(), enf);
    let trace = s.trace_of_trigger_instance("ti0").await.unwrap().unwrap();
    assert_eq!(trace.id, "tr0");
    assert_eq!(trace.trigger_instances.len(), 3, "ti0, ti2 and ti4");
    assert_eq!(trace.rules.len(), 1);
    assert_eq!(
        s.trace_of_execution("ex1").await.unwrap().unwrap().id,
        "tr0"
    );
    // ti1 appended to a trace that did not exist: a new one was made.
    assert_eq!(
        s.trace_of_trigger_instance("ti1")
            .await
            .unwrap()
            .unwrap()
            .id,
        "tr1"
    );

    let (page, total) = s
        .list_trigger_instances(&TriggerInstanceFilter {
            status: Some(TriggerInstanceStatus::Processing),
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 4);
    assert_eq!(page[0].id, "ti4", "newest first");
    let (by_rule, n) = s
        .list_rule_enforcements(&crate::events::EnforcementFilter {
            rule: Some("p.r".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((by_rule.len(), n), (1, 1));
    let (traces, n) = s
        .list_traces(&crate::events::TraceFilter {
            execution: Some("ex1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((traces[0].id.as_str(), n), ("tr0", 1));
}

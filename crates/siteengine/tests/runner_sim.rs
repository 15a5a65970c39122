//! The `siteengine-nbi` runner against the real simulator over real HTTPS.

use gale_model::{Action, ExecStatus};
use gale_runners::{CancellationToken, NullSink, RunContext, RunRequest, Runner};
use gale_siteengine::sim::{self, SimHandle, SimOptions};
use gale_siteengine::SiteEngineRunner;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn action(name: &str) -> Action {
    serde_json::from_value(json!({
        "name": name, "pack": "siteengine", "ref": format!("siteengine.{name}"),
        "uid": format!("action:siteengine:{name}"), "runner_type": "siteengine-nbi",
        "entry_point": "", "parameters": {}
    }))
    .unwrap()
}

/// What the pack's `{{ config_context.* }}` defaults render to for this simulator.
fn connection(se: &SimHandle) -> Map<String, Value> {
    json!({
        "host": se.host(), "port": se.port(), "auth": "oauth2",
        "client_id": se.options().client_id, "client_secret": se.options().client_secret,
        "username": "", "password": "", "verify_tls": true, "ca_bundle": se.ca_pem(), "timeout": 5
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn request(op: &str, mut params: Map<String, Value>, extra: Value) -> RunRequest {
    params.insert("operation".into(), op.into());
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        params.insert(k, v);
    }
    RunRequest {
        execution_id: "e1".into(),
        action: action(op),
        runner_parameters: Map::new(),
        action_parameters: params,
        pack_path: None,
        env: BTreeMap::new(),
        user: "stanley".into(),
    }
}

fn ctx() -> RunContext {
    RunContext {
        cancel: CancellationToken::new(),
        output: Arc::new(NullSink),
    }
}

#[tokio::test]
async fn actions_run_against_the_simulator() {
    let se = sim::start(SimOptions::default()).await.unwrap();
    let runner = SiteEngineRunner::new();
    let conn = connection(&se);

    let out = runner
        .run(
            request("get_device", conn.clone(), json!({"ip": "10.10.1.21"})),
            ctx(),
        )
        .await;
    assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
    assert_eq!(out.result["found"], true);
    assert_eq!(out.result["device"]["sitePath"], "/World/Campus/Building-A");

    let out = runner
        .run(
            request("get_device", conn.clone(), json!({"ip": "10.99.9.9"})),
            ctx(),
        )
        .await;
    assert_eq!(out.status, ExecStatus::Succeeded);
    assert_eq!(out.result, json!({"found": false, "device": null}));

    let out = runner
        .run(
            request("get_ports", conn.clone(), json!({"ip": "10.10.1.21"})),
            ctx(),
        )
        .await;
    assert_eq!(out.result["ports"].as_array().unwrap().len(), 2);

    let out = runner
        .run(
            request(
                "update_device",
                conn.clone(),
                json!({"ip": "10.10.1.21", "note": "port 1:21 disabled by Gale", "nickname": ""}),
            ),
            ctx(),
        )
        .await;
    assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
    assert_eq!(out.result["status"], "SUCCESS");

    let out = runner
        .run(
            request(
                "run_workflow",
                conn.clone(),
                json!({"path": "Site Engine/Custom/Disable Port", "variables": {"deviceIP": "10.10.1.21", "port": "1:21"},
                       "poll_interval": 0.05, "wait_timeout": 10}),
            ),
            ctx(),
        )
        .await;
    assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
    assert_eq!(
        out.result,
        json!({"execution_id": 4567, "status": "SUCCESS", "polls": 2})
    );

    let out = runner
        .run(
            request(
                "graphql",
                conn.clone(),
                json!({"query": "query { administration { serverInfo { version } } }"}),
            ),
            ctx(),
        )
        .await;
    assert_eq!(
        out.result["data"]["administration"]["serverInfo"]["version"],
        "24.10.13"
    );

    for (op, extra) in [
        ("server_info", json!({})),
        ("list_devices", json!({})),
        ("rediscover_device", json!({"ip": "10.10.1.21"})),
        (
            "create_device",
            json!({"ip": "10.10.1.40", "profile": "public_v2"}),
        ),
        ("delete_device", json!({"ip": "10.10.1.21"})),
        (
            "enforce_device",
            json!({"ip": "10.10.1.21", "options": {"enforceAll": true}}),
        ),
        (
            "preregister_device",
            json!({"serial": "GALE-1", "site": "/World/Campus"}),
        ),
        ("quarantine_mac", json!({"mac": "00:11:22:33:44:55"})),
        ("release_mac", json!({"mac": "00:11:22:33:44:55"})),
        ("reauthenticate_mac", json!({"mac": "00:11:22:33:44:55"})),
    ] {
        let out = runner.run(request(op, conn.clone(), extra), ctx()).await;
        assert_eq!(out.status, ExecStatus::Succeeded, "{op}: {}", out.result);
    }
    // One token for the whole run: the runner caches clients per connection settings.
    assert_eq!(se.tokens_issued(), 1);
    let enforce = se
        .calls()
        .into_iter()
        .find(|c| {
            c.body["query"]
                .as_str()
                .is_some_and(|q| q.contains("enforceVlan"))
        })
        .unwrap();
    assert!(enforce.body["query"]
        .as_str()
        .unwrap()
        .contains("enforceAll: true"));
}

#[tokio::test]
async fn failures_carry_the_reason() {
    let se = sim::start(SimOptions::default()).await.unwrap();
    let runner = SiteEngineRunner::new();
    let conn = connection(&se);

    se.fail_next(1, 503);
    let out = runner
        .run(request("server_info", conn.clone(), json!({})), ctx())
        .await;
    assert_eq!(out.status, ExecStatus::Failed);
    let err = out.result["error"].as_str().unwrap();
    assert!(err.contains("HTTP 503"), "{err}");

    let out = runner
        .run(
            request("rediscover_device", conn.clone(), json!({"ip": "10.1.1.1"})),
            ctx(),
        )
        .await;
    assert_eq!(out.status, ExecStatus::Failed);
    assert!(out.result["error"]
        .as_str()
        .unwrap()
        .contains("returned status ERROR"));

    let out = runner
        .run(request("get_device", conn.clone(), json!({})), ctx())
        .await;
    assert_eq!(out.result["error"], "parameter 'ip' is required");

    let out = runner
        .run(
            request(
                "run_workflow",
                conn.clone(),
                json!({"path": "Site Engine/Custom/Fail", "poll_interval": 0.05}),
            ),
            ctx(),
        )
        .await;
    assert_eq!(out.status, ExecStatus::Failed);
    assert!(
        out.result["error"]
            .as_str()
            .unwrap()
            .contains("ended FAILED"),
        "{}",
        out.result
    );

    let mut slow = conn.clone();
    slow.insert("timeout".into(), json!(0.3));
    se.delay_next(1, Duration::from_secs(2));
    let out = runner
        .run(request("server_info", slow, json!({})), ctx())
        .await;
    assert_eq!(out.status, ExecStatus::Failed);
    assert!(
        out.result["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 0.3 s"),
        "{}",
        out.result
    );

    let mut no_host = conn.clone();
    no_host.insert("host".into(), json!(""));
    let out = runner
        .run(request("server_info", no_host, json!({})), ctx())
        .await;
    assert_eq!(out.result["error"], "parameter 'host' is required");

    let mut bad = request("server_info", conn.clone(), json!({}));
    bad.action_parameters
        .insert("operation".into(), json!("reboot_everything"));
    let out = runner.run(bad, ctx()).await;
    assert!(out.result["error"]
        .as_str()
        .unwrap()
        .starts_with("unknown Site Engine operation"));
}

#[tokio::test]
async fn untrusted_certificate_fails_the_action() {
    let se = sim::start(SimOptions {
        untrusted_cert: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let out = SiteEngineRunner::new()
        .run(request("server_info", connection(&se), json!({})), ctx())
        .await;
    assert_eq!(out.status, ExecStatus::Failed);
    let err = out.result["error"].as_str().unwrap();
    assert!(err.starts_with("TLS failure"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

#[tokio::test]
async fn cancel_stops_a_polling_workflow() {
    let se = sim::start(SimOptions {
        workflow_running_polls: 10_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = ctx();
    let cancel = c.cancel.clone();
    let runner = SiteEngineRunner::new();
    let req = request(
        "run_workflow",
        connection(&se),
        json!({"path": "Site Engine/Custom/Bounce PoE", "poll_interval": 0.05}),
    );
    let run = tokio::spawn(async move { runner.run(req, c).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    cancel.cancel();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, ExecStatus::Canceled);
    let polls = se.operations().iter().filter(|o| *o == "execution").count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        se.operations().iter().filter(|o| *o == "execution").count(),
        polls,
        "no polling after cancel"
    );
}

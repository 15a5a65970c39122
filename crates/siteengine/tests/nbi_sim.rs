//! The NBI client against the real simulator over real HTTPS.

use gale_siteengine::nbi::{DeviceUpdate, EnforceOptions, WorkflowRef};
use gale_siteengine::sim::{self, SimOptions};
use gale_siteengine::{NbiClient, NbiError};
use serde_json::{json, Value};
use std::time::Duration;

async fn start(opts: SimOptions) -> sim::SimHandle {
    sim::start(opts).await.unwrap()
}

#[tokio::test]
async fn oauth2_queries_answer_from_the_examples_and_are_recorded() {
    let se = start(SimOptions::default()).await;
    let c = NbiClient::new(se.oauth_config()).unwrap();
    let info = c.server_info().await.unwrap();
    assert_eq!(info["version"], "24.10.13");
    let devices = c.list_devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["ip"], "10.10.1.21");
    assert_eq!(devices[0]["deviceData"]["serialNumber"], "1234N-56789");
    let d = c.get_device("10.10.1.21").await.unwrap().unwrap();
    assert_eq!(d["sysName"], "dist-sw-01");
    assert_eq!(d["deviceData"]["family"], "Summit Series");
    assert!(
        c.get_device("10.99.0.1").await.unwrap().is_none(),
        "unknown IP is not found, not an error"
    );
    let ports = c.get_ports("10.10.1.21").await.unwrap().unwrap();
    assert_eq!(ports["ports"][1]["ifName"], "1:21");
    assert_eq!(ports["ports"][1]["ifOperStatus"], "down");
    assert_eq!(
        ports["vlans"],
        json!([{"vid": 1}, {"vid": 10}, {"vid": 20}])
    );

    let calls = se.calls();
    // One token for all five queries, each query with the bearer token of the configured client.
    assert_eq!(
        se.operations(),
        [
            "token",
            "serverInfo",
            "devices",
            "device",
            "device",
            "ports"
        ]
    );
    assert_eq!(calls[0].path, "/oauth/token/access-token");
    assert_eq!(
        calls[0].query.as_deref(),
        Some("grant_type=client_credentials")
    );
    assert_eq!(calls[0].auth, "basic");
    assert!(calls[1..]
        .iter()
        .all(|c| c.auth == "bearer" && c.path == "/nbi/graphql" && c.status == 200));
    assert_eq!(calls[1].principal.as_deref(), Some("gale-client"));
    assert_eq!(calls[3].body["variables"], json!({"ip": "10.10.1.21"}));
}

#[tokio::test]
async fn basic_auth_needs_no_token() {
    let se = start(SimOptions::default()).await;
    let c = NbiClient::new(se.basic_config()).unwrap();
    assert_eq!(c.server_info().await.unwrap()["version"], "24.10.13");
    let calls = se.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].auth, "basic");
    assert_eq!(calls[0].principal.as_deref(), Some("root"));
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let se = start(SimOptions::default()).await;
    let mut cfg = se.oauth_config();
    cfg.auth = gale_siteengine::Auth::OAuth2 {
        client_id: "gale-client".into(),
        client_secret: "wrong".into(),
    };
    let err = NbiClient::new(cfg)
        .unwrap()
        .server_info()
        .await
        .unwrap_err();
    assert!(matches!(err, NbiError::Unauthorized { .. }), "{err}");
    let mut cfg = se.basic_config();
    cfg.auth = gale_siteengine::Auth::Basic {
        username: "root".into(),
        password: "nope".into(),
    };
    let err = NbiClient::new(cfg)
        .unwrap()
        .server_info()
        .await
        .unwrap_err();
    assert!(matches!(err, NbiError::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn untrusted_certificate_fails_with_a_clear_reason() {
    let se = start(SimOptions {
        untrusted_cert: true,
        ..Default::default()
    })
    .await;
    let err = NbiClient::new(se.oauth_config())
        .unwrap()
        .server_info()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, NbiError::Tls { .. }), "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    assert!(text.contains("verify_tls / ca_bundle"), "{text}");
    // Nothing reached the HTTP layer.
    assert!(se.calls().is_empty());

    // Without the CA bundle the (trusted-mode) simulator is unknown to the system roots too.
    let se2 = start(SimOptions::default()).await;
    let mut cfg = se2.oauth_config();
    cfg.ca_bundle = None;
    let err = NbiClient::new(cfg)
        .unwrap()
        .server_info()
        .await
        .unwrap_err();
    assert!(matches!(err, NbiError::Tls { .. }), "{err}");

    // verify_tls=false is the operator's explicit opt-out.
    let mut cfg = se.oauth_config();
    cfg.verify_tls = false;
    cfg.ca_bundle = None;
    let info = NbiClient::new(cfg).unwrap().server_info().await.unwrap();
    assert_eq!(info["version"], "24.10.13");
}

#[tokio::test]
async fn ca_bundle_from_a_file_and_bad_bundles() {
    let se = start(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("se-ca.pem");
    std::fs::write(&path, se.ca_pem()).unwrap();
    let mut cfg = se.basic_config();
    cfg.ca_bundle = Some(path.to_string_lossy().into_owned());
    assert!(NbiClient::new(cfg.clone())
        .unwrap()
        .server_info()
        .await
        .is_ok());
    cfg.ca_bundle = Some(
        dir.path()
            .join("missing.pem")
            .to_string_lossy()
            .into_owned(),
    );
    let err = NbiClient::new(cfg.clone()).unwrap_err();
    assert!(err.to_string().contains("cannot read ca_bundle"), "{err}");
    cfg.ca_bundle =
        Some("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into());
    assert!(matches!(NbiClient::new(cfg), Err(NbiError::Config(_))));
}

#[tokio::test]
async fn server_errors_fail_with_the_status() {
    let se = start(SimOptions::default()).await;
    let c = NbiClient::new(se.basic_config()).unwrap();
    se.fail_next(1, 503);
    let err = c.server_info().await.unwrap_err();
    assert!(matches!(err, NbiError::Http { status: 503, .. }), "{err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert!(err.to_string().contains("simulated failure"), "{err}");
    // The next call is fine again.
    assert!(c.server_info().await.is_ok());
    // 5xx on the token endpoint fails the same way.
    let o = NbiClient::new(se.oauth_config()).unwrap();
    se.fail_next(1, 500);
    let err = o.server_info().await.unwrap_err();
    assert!(matches!(err, NbiError::Http { status: 500, .. }), "{err}");
}

#[tokio::test]
async fn slow_answers_time_out() {
    let se = start(SimOptions::default()).await;
    let mut cfg = se.basic_config();
    cfg.timeout = Duration::from_millis(400);
    let c = NbiClient::new(cfg).unwrap();
    se.delay_next(1, Duration::from_secs(3));
    let started = std::time::Instant::now();
    let err = c.server_info().await.unwrap_err();
    assert!(matches!(err, NbiError::Timeout { .. }), "{err}");
    assert!(
        err.to_string().contains("did not answer within 0.4 s"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn token_is_renewed_on_401() {
    let se = start(SimOptions::default()).await;
    let c = NbiClient::new(se.oauth_config()).unwrap();
    c.server_info().await.unwrap();
    c.server_info().await.unwrap();
    assert_eq!(se.tokens_issued(), 1, "cached token reused");
    se.revoke_tokens();
    c.server_info().await.unwrap();
    assert_eq!(se.tokens_issued(), 2);
    let statuses: Vec<(Option<String>, u16)> = se
        .calls()
        .into_iter()
        .map(|c| (c.operation, c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (Some("token".into()), 200),
            (Some("serverInfo".into()), 200),
            (Some("serverInfo".into()), 200),
            (None, 401),
            (Some("token".into()), 200),
            (Some("serverInfo".into()), 200),
        ]
    );
}

#[tokio::test]
async fn token_is_renewed_at_ninety_percent_of_its_lifetime() {
    let se = start(SimOptions {
        token_lifetime: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let c = NbiClient::new(se.oauth_config()).unwrap();
    c.server_info().await.unwrap();
    assert_eq!(se.tokens_issued(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    c.server_info().await.unwrap();
    assert_eq!(se.tokens_issued(), 2);
    // Renewed before use, so no request was refused.
    assert!(se.calls().iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn run_workflow_polls_until_terminal() {
    let se = start(SimOptions {
        workflow_running_polls: 2,
        ..Default::default()
    })
    .await;
    let c = NbiClient::new(se.oauth_config()).unwrap();
    let run = c
        .run_workflow(
            &WorkflowRef::Path("Site Engine/Custom/Disable Port".into()),
            &json!({"deviceIP": "10.10.1.21", "port": "1:21"}),
            Duration::from_secs(10),
            Duration::from_millis(50),
        )
        .await
        .unwrap();
    assert_eq!(run.execution_id, 4567);
    assert_eq!(run.status, "SUCCESS");
    assert_eq!(run.polls, 3);
    assert_eq!(
        se.operations(),
        [
            "token",
            "startWorkflow",
            "execution",
            "execution",
            "execution"
        ]
    );
    let start = &se.calls()[1];
    let q = start.body["query"].as_str().unwrap();
    assert!(
        q.contains(r#"path: "Site Engine/Custom/Disable Port""#),
        "{q}"
    );
    assert!(
        q.contains(r#"variables: "{\"deviceIP\":\"10.10.1.21\",\"port\":\"1:21\"}""#),
        "{q}"
    );

    let err = c
        .run_workflow(
            &WorkflowRef::Path("Site Engine/Custom/Fail Me".into()),
            &Value::Null,
            Duration::from_secs(10),
            Duration::from_millis(20),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NbiError::WorkflowFailed {
                execution_id: 4568,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn run_workflow_gives_up_at_its_timeout() {
    let se = start(SimOptions {
        workflow_running_polls: 1_000,
        ..Default::default()
    })
    .await;
    let c = NbiClient::new(se.basic_config()).unwrap();
    let err = c
        .run_workflow(
            &WorkflowRef::Id(103),
            &json!({}),
            Duration::from_millis(300),
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, NbiError::WorkflowTimeout { ref status, .. } if status == "RUNNING"),
        "{err}"
    );
    let polls = se.operations().iter().filter(|o| *o == "execution").count();
    // Polls every 50 ms for 300 ms; slow machines fit fewer.
    assert!((2..=8).contains(&polls), "{polls} polls");
}

#[tokio::test]
async fn mutations_check_status_and_errors() {
    let se = start(SimOptions::default()).await;
    let c = NbiClient::new(se.basic_config()).unwrap();
    assert_eq!(
        c.rediscover_device("10.10.1.21").await.unwrap()["status"],
        "SUCCESS"
    );
    let err = c.rediscover_device("10.10.9.9").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "mutation network.rediscoverDevices returned status ERROR: Device 10.10.9.9 not found (errorCode 404)"
    );
    let r = c
        .update_device(&DeviceUpdate {
            ip: "10.10.1.21".into(),
            note: Some("disabled port 1:21 \"flapping\" by Gale".into()),
            topology_role: Some("L2_ACCESS".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r["status"], "SUCCESS");
    let q = se.calls().last().unwrap().body["query"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        q.contains(r#"note: "disabled port 1:21 \"flapping\" by Gale""#),
        "{q}"
    );
    assert!(q.contains("topologyRole: L2_ACCESS"), "{q}");
    assert!(c
        .enforce_device("10.10.1.21", &EnforceOptions::default())
        .await
        .is_ok());
    assert!(c
        .create_device("10.10.1.30", "public_v2", "/World")
        .await
        .is_ok());
    assert!(c.delete_device("10.10.1.21", true).await.is_ok());
    assert!(c
        .quarantine_mac("00:11:22:33:44:55", "Quarantine", "gale: alarm 12345", true)
        .await
        .is_ok());
    assert!(c
        .release_mac("00-11-22-33-44-55", "Quarantine", true)
        .await
        .is_ok());
    assert!(c.reauthenticate_mac("001122334455").await.is_ok());
    assert!(c
        .preregister_devices(&[json!({"serialNumber": "1234N-56789", "siteLocation": "/World/Campus", "useDiscoveredIP": false})])
        .await
        .is_ok());
    // Raw GraphQL: errors fail, unknown fields are a GraphQL error.
    let err = c
        .graphql("query { network { noSuchField } }", None)
        .await
        .unwrap_err();
    assert!(matches!(err, NbiError::GraphQl(_)), "{err}");
    let data = c
        .graphql("query Site($loc: String!) { network { siteByLocation(location: $loc) { siteId vlans { vid } } } }", Some(json!({"loc": "/World/Campus/Building-A"})))
        .await
        .unwrap();
    assert_eq!(data["network"]["siteByLocation"]["siteId"], 7);
}

#[tokio::test]
async fn calls_are_inspectable_over_https() {
    let se = start(SimOptions::default()).await;
    let c = NbiClient::new(se.basic_config()).unwrap();
    c.server_info().await.unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(se.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let calls: Value = http
        .get(format!("{}/_sim/calls", se.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls[0]["operation"], "serverInfo");
    assert_eq!(calls[0]["status"], 200);
    // Scripting over HTTP too (for demos driven from a shell).
    let r = http
        .post(format!("{}/_sim/script", se.base_url()))
        .json(&json!({"fail_next": 1, "fail_status": 502}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let err = c.server_info().await.unwrap_err();
    assert!(matches!(err, NbiError::Http { status: 502, .. }), "{err}");
}

#[tokio::test]
async fn unreachable_site_engine_fails_with_the_reason() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = gale_siteengine::NbiConfig::new(
        "127.0.0.1",
        gale_siteengine::Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        },
    );
    cfg.port = port;
    let err = NbiClient::new(cfg)
        .unwrap()
        .server_info()
        .await
        .unwrap_err();
    assert!(matches!(err, NbiError::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach Site Engine at https://127.0.0.1:{port}/nbi/graphql"
        )),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test]
async fn schema_check_finds_every_pack_operation_on_the_simulator() {
    let se = start(SimOptions::default()).await;
    let c = NbiClient::new(se.oauth_config()).unwrap();
    let schema = c.schema().await.unwrap();
    assert!(gale_siteengine::schema::unsupported_operations(&schema).is_empty());
    assert_eq!(se.operations(), ["token", "schema"]);
    // A release without the workflow API: run_workflow is reported, nothing else.
    let older = gale_siteengine::schema::NbiSchema::parse(
        &sim::SCHEMA_IDL.replace("workflows: WorkflowsMutation", ""),
    );
    assert_eq!(
        gale_siteengine::schema::unsupported_operations(&older),
        [(
            "run_workflow",
            "mutation workflows.startWorkflow".to_string()
        )]
    );
}

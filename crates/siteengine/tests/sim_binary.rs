//! The `gale-siteengine-sim` binary as a demo user runs it: serve, then `fire`.

use axum::routing::post;
use gale_siteengine::sim::serve_https;
use gale_siteengine::{Auth, NbiClient, NbiConfig};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const BIN: &str = env!("CARGO_BIN_EXE_gale-siteengine-sim");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_until_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut child = tokio::process::Command::new(BIN)
        .arg("--ca-out")
        .arg(&ca)
        .arg("--client-secret")
        .arg("demo-secret")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(info["client_secret"], "demo-secret");

    let mut cfg = NbiConfig::new(
        info["host"].as_str().unwrap(),
        Auth::OAuth2 {
            client_id: info["client_id"].as_str().unwrap().into(),
            client_secret: "demo-secret".into(),
        },
    );
    cfg.port = info["port"].as_u64().unwrap() as u16;
    cfg.ca_bundle = Some(info["ca_file"].as_str().unwrap().into());
    let c = NbiClient::new(cfg).unwrap();
    assert_eq!(c.server_info().await.unwrap()["version"], "24.10.13");

    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the simulator stops on SIGINT")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_sends_the_three_examples_through_the_sender() {
    let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/api/v1/webhooks/siteengine",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let g = g.clone();
                async move {
                    let key = headers
                        .get("st2-api-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    g.lock()
                        .unwrap()
                        .push((key, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    axum::http::StatusCode::ACCEPTED
                }
            },
        ),
    );
    let server = serve_https(app, SocketAddr::from(([127, 0, 0, 1], 0)), false)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("gale-ca.pem");
    std::fs::write(&ca, server.ca_pem()).unwrap();
    let out = tokio::process::Command::new(BIN)
        .arg("fire")
        .arg("--url")
        .arg(format!(
            "https://127.0.0.1:{}/api/v1/webhooks/siteengine",
            server.addr().port()
        ))
        .arg("--api-key")
        .arg("demo-key")
        .arg("--ca-file")
        .arg(&ca)
        .arg("--spool-dir")
        .arg(dir.path().join("spool"))
        .arg("all")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "alarm: exit 0\ntrap: exit 0\nsyslog: exit 0\n");
    let got = got.lock().unwrap();
    let kinds: Vec<&str> = got
        .iter()
        .map(|(_, b)| b["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["alarm", "trap", "syslog"]);
    assert!(got.iter().all(|(k, _)| k == "demo-key"));
    assert_eq!(got[1].1["trap"]["varbinds"].as_array().unwrap().len(), 3);
}

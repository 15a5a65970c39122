//! `gale server --tls-cert/--tls-key` through the real binary: a CA and a 127.0.0.1 server
//! certificate made here, `/healthz` over HTTPS trusting that CA, a client without it refused,
//! `ST2_ACTION_API_URL` saying `https://`, and the Site Engine example alarm delivered by the
//! real `st2integration.py` sender over HTTPS (site-engine.md 1.2).

use crate::harness::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A CA, and a server certificate for 127.0.0.1 signed by it: `(ca_pem, chain_pem, key_pem)`.
fn pki() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Gale e2e CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "gale e2e");
    leaf.subject_alt_names = vec![rcgen::SanType::IpAddress([127, 0, 0, 1].into())];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

struct TlsServer {
    dir: tempfile::TempDir,
    url: String,
    child: Child,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsServer {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

fn client(ca: Option<&str>) -> reqwest::blocking::Client {
    let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10));
    if let Some(pem) = ca {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// Starts `gale server` with the certificate; the harness cannot pass TLS flags.
fn start(dir: tempfile::TempDir, ca: &str) -> TlsServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let bind = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let child = Command::new(gale_bin())
        .args(["server", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--bind", &bind, "--tls-cert"])
        .arg(dir.path().join("cert.pem"))
        .env("GALE_TLS_KEY", dir.path().join("key.pem"))
        .env("GALE_ADMIN_PASSWORD", PASSWORD)
        .env_remove("GALE_API_URL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let s = TlsServer {
        dir,
        url: format!("https://{bind}"),
        child,
    };
    let trusted = client(Some(ca));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = trusted
            .get(format!("{}/healthz", s.url))
            .send()
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "no HTTPS healthz\n{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

fn write_pki(dir: &Path) -> String {
    let (ca, chain, key) = pki();
    write(&dir.join("ca.pem"), &ca);
    write(&dir.join("cert.pem"), &chain);
    write(&dir.join("key.pem"), &key);
    ca
}

#[test]
fn https_server_serves_the_api_and_receives_site_engine_alarms() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_pki(dir.path());
    let s = start(dir, &ca);
    let trusted = client(Some(&ca));

    // A client that does not trust the CA cannot connect.
    let err = client(None)
        .get(format!("{}/healthz", s.url))
        .send()
        .expect_err("untrusted client must fail");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let health = trusted.get(format!("{}/healthz", s.url)).send().unwrap();
    assert!(health.status().is_success());

    // Log in and make an API key over HTTPS.
    let token: Value = trusted
        .post(format!("{}/auth/v1/tokens", s.url))
        .basic_auth("st2admin", Some(PASSWORD))
        .json(&json!({}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = token["token"].as_str().expect("token").to_string();
    let key: Value = trusted
        .post(format!("{}/api/v1/apikeys", s.url))
        .header("X-Auth-Token", &token)
        .json(&json!({}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let key = key["key"].as_str().expect("api key").to_string();

    // Actions are told the https:// API URL.
    let ex: Value = trusted
        .post(format!("{}/api/v1/executions", s.url))
        .header("St2-Api-Key", &key)
        .json(&json!({"action": "core.local", "parameters": {"cmd": "echo $ST2_ACTION_API_URL"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = ex["id"].as_str().expect("execution id").to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let ex: Value = trusted
            .get(format!("{}/api/v1/executions/{id}", s.url))
            .header("St2-Api-Key", &key)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if ex["status"] == "succeeded" || ex["status"] == "failed" {
            break ex;
        }
        assert!(Instant::now() < deadline, "{ex}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        done["result"]["stdout"],
        format!("{}/api/v1", s.url),
        "{done}"
    );

    // The real sender script delivers the example alarm over HTTPS, trusting the CA file.
    let sender = gale_siteengine::sender::SenderOptions {
        script: s
            .dir
            .path()
            .join("data/packs/siteengine/bin/st2integration.py"),
        url: format!("{}/api/v1/webhooks/siteengine", s.url),
        api_key: key.clone(),
        ca_file: Some(s.dir.path().join("ca.pem")),
        spool_dir: s.dir.path().join("spool"),
        retries: 2,
        backoff: 0.1,
        timeout: 5.0,
    };
    let alarm = gale_siteengine::sender::example_envelopes()
        .into_iter()
        .find(|e| e["event_type"] == "alarm")
        .expect("example alarm");
    let args = gale_siteengine::sender::envelope_args(&alarm);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = rt
        .block_on(gale_siteengine::sender::run(&sender, &args))
        .unwrap();
    assert_eq!(run.code, 0, "{run:?}\n{}", s.log());
    let tis: Value = trusted
        .get(format!(
            "{}/api/v1/triggerinstances?trigger=siteengine.alarm",
            s.url
        ))
        .header("St2-Api-Key", &key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(tis.as_array().expect("list").len(), 1, "{tis}");
    assert_eq!(tis[0]["payload"]["event_type"], "alarm", "{tis}");

    // SIGTERM still shuts the HTTPS server down gracefully.
    let mut s = s;
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "no exit after SIGTERM\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}\n{}", s.log());
    assert!(!s.log().contains("did not stop"), "{}", s.log());
}

#[test]
fn server_refuses_to_start_with_half_a_pair_or_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = Command::new(gale_bin())
        .args(["server", "--data-dir"])
        .arg(&data)
        .args(["--bind", "127.0.0.1:0", "--tls-cert", "/nonexistent.pem"])
        .env_remove("GALE_TLS_KEY")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--tls-key"), "{}", stderr(&o));
    let junk = dir.path().join("junk.pem");
    write(&junk, "hello");
    let o = Command::new(gale_bin())
        .args(["server", "--data-dir"])
        .arg(&data)
        .args(["--bind", "127.0.0.1:0", "--tls-cert"])
        .arg(&junk)
        .arg("--tls-key")
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("junk.pem") && stderr(&o).contains("PEM"),
        "{}",
        stderr(&o)
    );
}

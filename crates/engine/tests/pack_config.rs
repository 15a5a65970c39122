//! `config_context`: `<config_dir>/<pack>.yaml` validated against the pack's
//! `config.schema.yaml`, schema defaults filled, `{{ st2kv... }}` values rendered and secret
//! ones decrypted, as the parameters of the pack's actions see it.

use gale_engine::{Engine, EngineOptions, ExecutionRequest};
use gale_model::{ExecStatus, Execution};
use gale_runners::Registry;
use gale_store::sqlite::SqliteStore;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PACK_YAML: &str = "---\nname: cfgpack\nversion: 0.1.0\ndescription: t\nauthor: t\n";
const SCHEMA: &str = r#"---
host:
  type: string
  required: true
port:
  type: integer
  default: 8443
password:
  type: string
  secret: true
"#;
const ACTION: &str = r#"---
name: show
runner_type: local-shell-cmd
entry_point: ""
parameters:
  host:
    type: string
    default: "{{ config_context.host }}"
  port:
    type: integer
    default: "{{ config_context.port }}"
  pw:
    type: string
    default: "{{ config_context.password }}"
  cmd:
    default: "echo {{ host }} {{ port }} {{ pw }}"
    immutable: true
"#;

/// st2kv serves `system.pw` as a ciphertext; decrypt marks what it decrypted.
struct Kv;
impl gale_expr::ContextProvider for Kv {
    fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok((key == "system.pw").then(|| json!("CIPHER")))
    }
    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        Ok(format!("plain-{ciphertext}"))
    }
}

fn write_pack(dir: &Path) -> std::path::PathBuf {
    let pack = dir.join("packs/cfgpack");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(pack.join("pack.yaml"), PACK_YAML).unwrap();
    std::fs::write(pack.join("config.schema.yaml"), SCHEMA).unwrap();
    std::fs::write(pack.join("actions/show.yaml"), ACTION).unwrap();
    pack
}

async fn engine(dir: &Path, config_dir: Option<std::path::PathBuf>) -> Engine {
    let store = Arc::new(SqliteStore::open(dir.join("gale.db")).unwrap());
    let opts = EngineOptions {
        workers: 2,
        data_dir: dir.to_path_buf(),
        config_dir,
        ..EngineOptions::default()
    };
    let e = Engine::new(store, Registry::with_builtin(), opts);
    let rep = e.register_pack_dir(&write_pack(dir), true).await.unwrap();
    assert_eq!(rep.actions, 1, "{rep:?}");
    e.set_datastore(Arc::new(|_user: &str| {
        Box::new(Kv) as Box<dyn gale_expr::ContextProvider>
    }));
    e.start().await.unwrap();
    e
}

fn show() -> ExecutionRequest {
    ExecutionRequest {
        action_ref: "cfgpack.show".into(),
        user: "stanley".into(),
        ..Default::default()
    }
}

async fn done(e: &Engine, id: &str) -> Execution {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let x = e.get_execution(id).await.unwrap();
        if x.status.is_completed() {
            return x;
        }
        assert!(Instant::now() < deadline, "still {}", x.status);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_read_their_pack_config() {
    let tmp = tempfile::tempdir().unwrap();
    let configs = tmp.path().join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    std::fs::write(
        configs.join("cfgpack.yaml"),
        "host: se.example\npassword: \"{{ st2kv.system.pw }}\"\n",
    )
    .unwrap();
    let e = engine(tmp.path(), Some(configs.clone())).await;

    let x = e.request_execution(show()).await.unwrap();
    // Defaults rendered from the config are stored with the execution, as StackStorm does.
    assert_eq!(x.parameters["host"], json!("se.example"));
    let x = done(&e, &x.id).await;
    assert_eq!(x.status, ExecStatus::Succeeded, "{:?}", x.result);
    // port from the schema default, the secret rendered from st2kv and decrypted.
    assert_eq!(x.result["stdout"], json!("se.example 8443 plain-CIPHER"));

    // An edited file applies to the next execution without a restart (a literal secret is
    // taken as is: only dynamic values are decrypted, as in StackStorm).
    std::fs::write(
        configs.join("cfgpack.yaml"),
        "host: other\nport: 9443\npassword: x\n",
    )
    .unwrap();
    let x = e.request_execution(show()).await.unwrap();
    let x = done(&e, &x.id).await;
    assert_eq!(x.result["stdout"], json!("other 9443 x"));

    // A config that fails its schema is refused, naming the attribute and the file.
    std::fs::write(configs.join("cfgpack.yaml"), "port: 9443\n").unwrap();
    let err = e.request_execution(show()).await.unwrap_err().to_string();
    assert!(
        err.contains("'host' is a required property") && err.contains("cfgpack.yaml"),
        "{err}"
    );
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_config_file_the_schema_defaults_still_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path(), None).await;
    let mut r = show();
    r.parameters = json!({"host": "h", "pw": "p"}).as_object().unwrap().clone();
    let x = e.request_execution(r).await.unwrap();
    let x = done(&e, &x.id).await;
    assert_eq!(x.status, ExecStatus::Succeeded, "{:?}", x.result);
    assert_eq!(x.result["stdout"], json!("h 8443 p"));
    e.shutdown().await;
}

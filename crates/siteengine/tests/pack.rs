//! `packs/siteengine` loads with Gale's pack loader, its trigger-type schemas accept exactly
//! what the normaliser produces, and its actions run through Gale's parameter pipeline
//! (`{{ config_context.* }}` defaults) and the runner against the simulator.

use gale_model::ExecStatus;
use gale_runners::{CancellationToken, NullSink, RunContext, RunRequest, Runner};
use gale_siteengine::runner::{self, OPERATIONS};
use gale_siteengine::sim::{self, SimOptions};
use gale_siteengine::SiteEngineRunner;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

fn pack_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packs/siteengine")
}

fn example(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/examples")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn pack_loads_with_every_action_on_the_runner() {
    // The use-case workflows (device_down, port_flapping, config_changed) run on the
    // orquesta runner.
    let orquesta = gale_model::RunnerType {
        id: String::new(),
        name: "orquesta".into(),
        description: String::new(),
        enabled: true,
        runner_package: String::new(),
        runner_module: String::new(),
        runner_parameters: Default::default(),
        output_key: Some("output".into()),
        output_schema: Value::Null,
        uid: gale_model::RunnerType::uid_for("orquesta"),
    };
    let report = gale_packs::load_pack(&pack_dir(), &[runner::runner_type(), orquesta]).unwrap();
    let failures: Vec<String> = report
        .all_failures()
        .iter()
        .map(|f| f.message.clone())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let pack = report.pack.as_ref().unwrap();
    assert_eq!(pack.pack_ref, "siteengine");
    let schema = pack.config_schema.as_ref().unwrap();
    assert_eq!(schema["port"]["default"], 8443);
    assert_eq!(schema["client_secret"]["secret"], true);
    assert_eq!(schema["password"]["secret"], true);
    assert_eq!(schema["verify_tls"]["default"], true);
    let nbi: Vec<_> = report
        .actions
        .iter()
        .filter(|a| a.runner_type == "siteengine-nbi")
        .collect();
    let mut names: Vec<String> = nbi.iter().map(|a| a.name.clone()).collect();
    names.sort();
    let mut ops: Vec<String> = OPERATIONS.iter().map(|s| s.to_string()).collect();
    ops.sort();
    assert_eq!(names, ops, "one action per runner operation");
    let workflows: Vec<&str> = report
        .actions
        .iter()
        .filter(|a| a.runner_type == "orquesta")
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        workflows,
        ["config_changed", "device_down", "port_flapping"]
    );
    for a in nbi {
        let op = &a.parameters["operation"];
        assert_eq!(
            serde_json::to_value(op).unwrap()["default"],
            json!(a.name),
            "{}",
            a.name
        );
        for p in [
            "host",
            "port",
            "client_secret",
            "password",
            "verify_tls",
            "ca_bundle",
        ] {
            assert!(a.parameters.contains_key(p), "{} lacks {p}", a.name);
        }
    }
}

fn trigger_types() -> BTreeMap<String, Value> {
    let content = gale_packs::events::load_event_content(&pack_dir(), "siteengine");
    assert!(content.failures.is_empty(), "{:?}", content.failures);
    content
        .trigger_types
        .into_iter()
        .map(|t| (t.type_ref.clone(), t.payload_schema))
        .collect()
}

fn schema_errors(schema: &Value, payload: &Value) -> Vec<String> {
    let compiled = jsonschema::JSONSchema::compile(schema).unwrap();
    let result = compiled.validate(payload);
    match result {
        Ok(()) => Vec::new(),
        Err(errors) => errors.map(|e| e.to_string()).collect(),
    }
}

#[test]
fn trigger_types_accept_the_normalised_examples() {
    let types = trigger_types();
    let refs: Vec<&str> = types.keys().map(String::as_str).collect();
    assert_eq!(
        refs,
        [
            "siteengine.alarm",
            "siteengine.appliance_status",
            "siteengine.syslog",
            "siteengine.trap"
        ]
    );
    let now = chrono::Utc::now();
    for file in [
        "alarm-webhook.json",
        "trap-webhook.json",
        "syslog-webhook.json",
    ] {
        let n = gale_siteengine::envelope::normalize_value(example(file), now).unwrap();
        let errors = schema_errors(&types[n.trigger], &n.payload);
        assert!(errors.is_empty(), "{file}: {errors:?}");
    }
    // The st2 system-webhook form carries an already-normalised payload.
    let st2 = example("st2-system-webhook.json");
    assert!(schema_errors(&types["siteengine.alarm"], &st2["payload"]).is_empty());

    // The schemas do reject what the normaliser never produces.
    let mut bad = st2["payload"].clone();
    bad["severity"] = json!("Critical");
    bad.as_object_mut().unwrap().remove("alarm_name");
    let errors = schema_errors(&types["siteengine.alarm"], &bad);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(!schema_errors(
        &types["siteengine.appliance_status"],
        &json!({"state": "sleeping"})
    )
    .is_empty());
    assert!(schema_errors(
        &types["siteengine.appliance_status"],
        &json!({"state": "online", "serial": "GALE-7F3A9C21"})
    )
    .is_empty());
}

struct NoKv;
impl gale_expr::ContextProvider for NoKv {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(None)
    }
}

#[tokio::test]
async fn actions_run_through_the_parameter_pipeline_with_the_pack_config() {
    let se = sim::start(SimOptions::default()).await.unwrap();
    // The use-case workflows (device_down, port_flapping, config_changed) run on the
    // orquesta runner.
    let orquesta = gale_model::RunnerType {
        id: String::new(),
        name: "orquesta".into(),
        description: String::new(),
        enabled: true,
        runner_package: String::new(),
        runner_module: String::new(),
        runner_parameters: Default::default(),
        output_key: Some("output".into()),
        output_schema: Value::Null,
        uid: gale_model::RunnerType::uid_for("orquesta"),
    };
    let report = gale_packs::load_pack(&pack_dir(), &[runner::runner_type(), orquesta]).unwrap();
    let pack = report.pack.clone().unwrap();
    let rt = runner::runner_type();
    let runner = SiteEngineRunner::new();
    // What `configs/siteengine.yaml` holds for this simulator (OAuth2; port, auth, verify_tls
    // and timeout come from the schema defaults except the port).
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("se-ca.pem");
    std::fs::write(&ca, se.ca_pem()).unwrap();
    let values = json!({
        "host": se.host(), "port": se.port(),
        "client_id": se.options().client_id, "client_secret": se.options().client_secret,
        "ca_bundle": ca.to_string_lossy(),
    });
    let config = gale_params::resolve_config(
        pack.config_schema.as_ref(),
        Some(&values),
        "siteengine",
        &NoKv,
    )
    .unwrap();
    assert_eq!(config["auth"], "oauth2");

    let run = |name: &str, given: Value, config: Value| {
        let action = report
            .actions
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .clone();
        let rt = rt.clone();
        let runner = &runner;
        async move {
            let given: Map<String, Value> = given.as_object().cloned().unwrap();
            let input = gale_params::RenderInput {
                runner: &rt,
                action: &action,
                params: &given,
                context: &json!({"user": "stanley"}),
                config: &config,
                kv: &NoKv,
            };
            let live = gale_params::request_params(&input).unwrap();
            let input = gale_params::RenderInput {
                params: &live,
                ..input
            };
            let fin = gale_params::render_final_params(&input).unwrap();
            let req = RunRequest {
                execution_id: "e1".into(),
                action: action.clone(),
                runner_parameters: fin.runner,
                action_parameters: fin.action,
                pack_path: None,
                env: BTreeMap::new(),
                user: "stanley".into(),
            };
            let ctx = RunContext {
                cancel: CancellationToken::new(),
                output: Arc::new(NullSink),
            };
            runner.run(req, ctx).await
        }
    };

    let out = run("get_device", json!({"ip": "10.10.1.21"}), config.clone()).await;
    assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
    assert_eq!(out.result["device"]["nickName"], "dist-sw-01");

    let out = run(
        "run_workflow",
        json!({"path": "Site Engine/Custom/Disable Port", "variables": {"deviceIP": "10.10.1.21", "port": "1:21"}, "poll_interval": 0.05}),
        config.clone(),
    )
    .await;
    assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
    assert_eq!(out.result["status"], "SUCCESS");

    let out = run(
        "quarantine_mac",
        json!({"mac": "00:11:22:33:44:55"}),
        config.clone(),
    )
    .await;
    assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
    let q = se.calls().last().unwrap().body["query"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        q.contains(r#"group: "Quarantine""#) && q.contains("reauthenticate: true"),
        "{q}"
    );

    // A config for Basic auth: no client id, so the client_* defaults render empty.
    let basic = json!({"host": se.host(), "port": se.port(), "auth": "basic",
        "username": se.options().username, "password": se.options().password, "ca_bundle": se.ca_pem()});
    let basic = gale_params::resolve_config(
        pack.config_schema.as_ref(),
        Some(&basic),
        "siteengine",
        &NoKv,
    )
    .unwrap();
    let out = run("server_info", json!({}), basic).await;
    assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
    assert_eq!(se.calls().last().unwrap().auth, "basic");

    // No config at all: the action fails naming the missing setting.
    let none = gale_params::resolve_config(pack.config_schema.as_ref(), None, "siteengine", &NoKv)
        .unwrap();
    let out = run("server_info", json!({}), none).await;
    assert_eq!(out.status, ExecStatus::Failed);
    assert_eq!(out.result["error"], "parameter 'host' is required");
}

#[test]
fn device_down_rule_ships_disabled_and_matches_only_its_alarm() {
    let content = gale_packs::events::load_event_content(&pack_dir(), "siteengine");
    assert!(content.failures.is_empty(), "{:?}", content.failures);
    let (_, rule) = content
        .rules
        .iter()
        .find(|(_, r)| r["name"] == "device_down")
        .expect("device_down rule");
    assert_eq!(rule["enabled"], false);
    assert_eq!(rule["trigger"]["type"], "siteengine.alarm");
    assert_eq!(
        rule["criteria"]["trigger.alarm_name"]["pattern"],
        "Device Contact Lost"
    );
    assert_eq!(rule["action"]["ref"], "siteengine.device_down");
    // Every parameter the rule passes is one the workflow action declares.
    let action = load_yaml(&pack_dir().join("actions/device_down.yaml"));
    for k in rule["action"]["parameters"].as_object().unwrap().keys() {
        assert!(action["parameters"].get(k).is_some(), "{k}");
    }
}

/// An action metadata file through Gale's YAML 1.1 loader.
fn load_yaml(path: &std::path::Path) -> Value {
    gale_packs::yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The section 5 use-case rules ship disabled, name their workflow, and pass only parameters
/// the workflow action declares.
#[test]
fn use_case_rules_ship_disabled_and_pass_declared_parameters() {
    let content = gale_packs::events::load_event_content(&pack_dir(), "siteengine");
    assert!(content.failures.is_empty(), "{:?}", content.failures);
    for (name, trigger, action) in [
        ("port_flapping", "siteengine.trap", "port_flapping"),
        ("port_flapping_alarm", "siteengine.alarm", "port_flapping"),
        ("config_changed", "siteengine.alarm", "config_changed"),
        (
            "config_changed_syslog",
            "siteengine.syslog",
            "config_changed",
        ),
    ] {
        let (_, rule) = content
            .rules
            .iter()
            .find(|(_, r)| r["name"] == name)
            .unwrap_or_else(|| panic!("rule {name}"));
        assert_eq!(rule["enabled"], false, "{name}");
        assert_eq!(rule["trigger"]["type"], trigger, "{name}");
        assert_eq!(rule["action"]["ref"], format!("siteengine.{action}"));
        let meta = load_yaml(&pack_dir().join(format!("actions/{action}.yaml")));
        for k in rule["action"]["parameters"].as_object().unwrap().keys() {
            assert!(meta["parameters"].get(k).is_some(), "{name}: {k}");
        }
    }
}

/// Which shipped rule each event starts: every use-case rule matches its own event and
/// nothing else (the examples plus near misses: a cleared alarm, a lone linkDown trap with no
/// flapping alarm, a syslog line that is not a configuration change).
#[test]
fn shipped_rules_match_narrowly() {
    let content = gale_packs::events::load_event_content(&pack_dir(), "siteengine");
    assert!(content.failures.is_empty(), "{:?}", content.failures);
    let rules: Vec<gale_rules::Rule> = content
        .rules
        .iter()
        .map(|(_, r)| gale_rules::Rule::from_value(r.clone(), "siteengine").unwrap())
        .collect();
    let alarm = example("alarm-webhook.json");
    let trap = example("trap-webhook.json");
    let syslog = example("syslog-webhook.json");
    let mut cleared = alarm.clone();
    cleared["alarm"]["state"] = json!("cleared");
    let mut lone_link_down = trap.clone();
    lone_link_down["alarm"]["name"] = json!("Trap: linkDown");
    let mut flapping_alarm = alarm.clone();
    flapping_alarm["alarm"]["name"] = json!("Port Flapping");
    flapping_alarm["interface"] = json!({"if_index": 1021, "name": "1:21"});
    let mut flapping_no_port = alarm.clone();
    flapping_no_port["alarm"]["name"] = json!("Port Flapping");
    let mut config_alarm = alarm.clone();
    config_alarm["alarm"]["name"] = json!("Configurations Are Different");
    let mut other_syslog = syslog.clone();
    other_syslog["syslog"]["message"] = json!("<Info:vlan> Port 1:3 added to VLAN users");
    let cases: [(&str, &Value, &[&str]); 9] = [
        ("contact lost", &alarm, &["device_down"]),
        ("contact lost cleared", &cleared, &[]),
        ("flapping trap", &trap, &["port_flapping"]),
        ("lone linkDown", &lone_link_down, &[]),
        ("flapping alarm", &flapping_alarm, &["port_flapping_alarm"]),
        ("flapping alarm without a port", &flapping_no_port, &[]),
        ("archive compare", &config_alarm, &["config_changed"]),
        ("config saved syslog", &syslog, &["config_changed_syslog"]),
        ("other syslog", &other_syslog, &[]),
    ];
    for (what, envelope, expected) in cases {
        let n = gale_siteengine::envelope::normalize_value(envelope.clone(), chrono::Utc::now())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut matched: Vec<&str> = rules
            .iter()
            .filter(|r| r.trigger_ref() == n.trigger)
            .filter(|r| {
                gale_rules::evaluate_rule(r, "ti", &n.payload, &gale_expr::NoProvider)
                    .unwrap()
                    .matched
            })
            .map(|r| r.name.as_str())
            .collect();
        matched.sort();
        assert_eq!(matched, expected, "{what}");
    }
}

//! Data-driven rule tests: every `tests/cases/*.yaml` file holds cases of a trigger payload,
//! rules and the expected outcome (matches, failure records, planned enforcements).

use gale_expr::ContextProvider;
use gale_model::ParameterSchema;
use gale_rules::enforce::{plan_enforcement, PlanError, PlanInput};
use gale_rules::{Rule, RuleIndex, TriggerInstanceView};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default = "default_trigger")]
    trigger: String,
    #[serde(default)]
    payload: Value,
    /// Shorthand: one enabled rule `test.r` on the trigger with these criteria.
    #[serde(default)]
    criteria: Option<Value>,
    #[serde(default)]
    rules: Vec<Value>,
    /// Datastore: `system.<key>` / `user.<key>` → value.
    #[serde(default)]
    kv: HashMap<String, Value>,
    /// Action ref → `{pack, parameters, runner_parameters}`.
    #[serde(default)]
    actions: HashMap<String, ActionDef>,
    #[serde(default)]
    config_context: Option<Value>,
    /// `false` for rules stored without registration validation.
    #[serde(default = "yes")]
    validate: bool,
    expect: Expect,
}

fn yes() -> bool {
    true
}

fn default_trigger() -> String {
    "test.trigger".into()
}

#[derive(Deserialize, Default)]
struct ActionDef {
    #[serde(default)]
    pack: Option<String>,
    #[serde(default)]
    parameters: ParameterSchema,
    #[serde(default)]
    runner_parameters: ParameterSchema,
}

#[derive(Deserialize)]
struct Expect {
    #[serde(default)]
    matched: Vec<String>,
    /// Each expected failure record as `rule ref: reason substring`, in order, exact count.
    #[serde(default)]
    failures: Vec<String>,
    #[serde(default)]
    aborted: Option<String>,
    /// Rule ref → expected plan: `parameters` or `render_error`/`cast_error` substring.
    #[serde(default)]
    enforcements: HashMap<String, Value>,
}

struct Kv(HashMap<String, Value>);
impl ContextProvider for Kv {
    fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(self.0.get(key).cloned())
    }
}

fn build_rules(case: &Case) -> Vec<Rule> {
    let mut docs = case.rules.clone();
    if let Some(c) = &case.criteria {
        docs.push(json!({
            "name": "r", "pack": "test", "enabled": true,
            "trigger": {"type": case.trigger}, "criteria": c,
            "action": {"ref": "core.noop"}
        }));
    }
    docs.into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut r =
                Rule::from_value(d, "test").unwrap_or_else(|e| panic!("{}: {e}", case.name));
            if case.validate {
                r.validate()
                    .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            }
            r.id = format!("5f0000000000000000000{i:03}");
            r
        })
        .collect()
}

fn run(case: &Case) -> Result<(), String> {
    let mut index = RuleIndex::new();
    for r in build_rules(case) {
        index.upsert(r);
    }
    let kv = Kv(case.kv.clone());
    let out = index.evaluate(
        TriggerInstanceView {
            id: "ti1",
            trigger: &case.trigger,
            payload: &case.payload,
        },
        &kv,
    );
    let matched: Vec<String> = out.matched.iter().map(|r| r.r#ref.clone()).collect();
    if matched != case.expect.matched {
        return Err(format!(
            "matched {matched:?}, want {:?}",
            case.expect.matched
        ));
    }
    let failures: Vec<String> = out
        .failures
        .iter()
        .map(|(r, f)| format!("{}: {f}", r.r#ref))
        .collect();
    let ok = failures.len() == case.expect.failures.len()
        && failures
            .iter()
            .zip(&case.expect.failures)
            .all(|(got, want)| {
                let (rule, sub) = want.split_once(": ").unwrap_or(("", want));
                got.starts_with(&format!("{rule}: ")) && got.contains(sub)
            });
    if !ok {
        return Err(format!(
            "failures {failures:#?}, want {:#?}",
            case.expect.failures
        ));
    }
    match (&out.aborted, &case.expect.aborted) {
        (None, None) => {}
        (Some(a), Some(w)) if a.to_string().contains(w.as_str()) => {}
        (a, w) => return Err(format!("aborted {a:?}, want {w:?}")),
    }
    let empty = ActionDef::default();
    for rule in &out.matched {
        let Some(want) = case.expect.enforcements.get(&rule.r#ref) else {
            continue;
        };
        let action = case.actions.get(&rule.action.r#ref).unwrap_or(&empty);
        let pack = action.pack.clone().unwrap_or_else(|| {
            rule.action
                .r#ref
                .split('.')
                .next()
                .unwrap_or("")
                .to_string()
        });
        let input = PlanInput {
            rule,
            trigger_instance_id: "ti1",
            payload: &case.payload,
            action_pack: &pack,
            runner_parameters: &action.runner_parameters,
            action_parameters: &action.parameters,
            trace_context: json!({"id_": "tr1", "trace_tag": "tag1"}),
            system_user: "stanley",
            config_context: case.config_context.clone().unwrap_or(json!({})),
            provider: &kv,
        };
        let got = plan_enforcement(&input);
        match (got, want) {
            (Ok(plan), w) if w.get("parameters").is_some() => {
                if Value::Object(plan.parameters.clone()) != w["parameters"] {
                    return Err(format!(
                        "{}: parameters {:#?}, want {:#?}",
                        rule.r#ref, plan.parameters, w["parameters"]
                    ));
                }
                if let Some(ctx) = w.get("context") {
                    let got = serde_json::to_value(&plan.context).unwrap();
                    if &got != ctx {
                        return Err(format!("{}: context {got:#}, want {ctx:#}", rule.r#ref));
                    }
                }
            }
            (
                Err(PlanError::Render {
                    reason,
                    raw_parameters,
                    ..
                }),
                w,
            ) if w.get("render_error").is_some() => {
                let sub = w["render_error"].as_str().unwrap_or_default();
                if !reason.contains(sub) || raw_parameters != rule.action.parameters {
                    return Err(format!(
                        "{}: render error {reason:?}, want {sub:?}",
                        rule.r#ref
                    ));
                }
            }
            (Err(PlanError::Cast(reason)), w) if w.get("cast_error").is_some() => {
                let sub = w["cast_error"].as_str().unwrap_or_default();
                if !reason.contains(sub) {
                    return Err(format!(
                        "{}: cast error {reason:?}, want {sub:?}",
                        rule.r#ref
                    ));
                }
            }
            (got, w) => return Err(format!("{}: plan {got:?}, want {w}", rule.r#ref)),
        }
    }
    Ok(())
}

#[test]
fn all_case_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    let (mut total, mut failed) = (0, Vec::new());
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let file: File =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in &file.cases {
            total += 1;
            if let Err(e) = run(case) {
                failed.push(format!(
                    "{} / {}: {e}",
                    path.file_name().unwrap().to_string_lossy(),
                    case.name
                ));
            }
        }
    }
    println!("{} passed, {} failed", total - failed.len(), failed.len());
    assert!(
        failed.is_empty(),
        "{} of {total} cases failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

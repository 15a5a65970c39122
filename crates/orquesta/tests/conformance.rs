//! Golden test: every case of the shared Orquesta conformance corpus, compared the way
//! `check.py` compares (messages ignored). Skipped when the corpus is not beside the repo.
use serde_json::Value;
use std::path::{Path, PathBuf};

fn cases_dir() -> Option<PathBuf> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/orquesta/cases");
    dir.is_dir().then_some(dir)
}

/// Numbers compare by value; booleans never equal numbers; messages are not compared.
fn normalize(v: &Value, drop_message: bool) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalize(x, drop_message)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !(drop_message && k.as_str() == "message"))
                .map(|(k, x)| (k.clone(), normalize(x, drop_message)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn read(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

#[test]
fn conformance_corpus() {
    let Some(dir) = cases_dir() else {
        eprintln!("conformance corpus not found; skipping");
        return;
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected.json").exists())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let yaml = std::fs::read_to_string(case.join("workflow.yaml")).unwrap();
        let input = read(&case.join("input.json")).unwrap_or(Value::Null);
        let mocks = read(&case.join("mocks.json")).unwrap_or(Value::Null);
        let context = read(&case.join("context.json"));
        let expected = read(&case.join("expected.json")).unwrap();
        let got = gale_orquesta::rehearse::rehearse(&yaml, &input, &mocks, context.as_ref());
        for (key, want) in expected.as_object().unwrap() {
            if key == "orquesta_version" {
                continue;
            }
            let drop = key == "errors" || key == "inspection_errors";
            let (w, g) = (normalize(want, drop), normalize(&got[key], drop));
            if w != g {
                failures.push(format!("{}: {key}: expected {w}, got {g}", case.display()));
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

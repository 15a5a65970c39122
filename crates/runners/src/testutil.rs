//! Helpers shared by the runners' unit tests.

use crate::{OutputSink, OutputStream, RunContext, RunRequest};
use gale_model::Action;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

pub fn action(runner: &str, entry_point: &str, parameters: Value) -> Action {
    serde_json::from_value(json!({
        "name": "act", "pack": "tests", "ref": "tests.act", "uid": "action:tests:act",
        "runner_type": runner, "entry_point": entry_point, "parameters": parameters
    }))
    .unwrap()
}

pub fn request(action: Action, runner_parameters: Value, action_parameters: Value) -> RunRequest {
    let map = |v: Value| -> Map<String, Value> { v.as_object().cloned().unwrap_or_default() };
    RunRequest {
        execution_id: "e1".into(),
        action,
        runner_parameters: map(runner_parameters),
        action_parameters: map(action_parameters),
        pack_path: None,
        env: BTreeMap::new(),
        user: "stanley".into(),
    }
}

#[derive(Default)]
pub struct Collect(pub Mutex<Vec<(OutputStream, String)>>);

impl OutputSink for Collect {
    fn emit(&self, stream: OutputStream, data: String) {
        self.0.lock().unwrap().push((stream, data));
    }
}

pub fn ctx() -> RunContext {
    RunContext {
        cancel: CancellationToken::new(),
        output: Arc::new(crate::NullSink),
    }
}

pub fn ctx_with(sink: Arc<Collect>) -> RunContext {
    RunContext {
        cancel: CancellationToken::new(),
        output: sink,
    }
}

//! Rehearse mode: run a workflow against mocked action results and produce the conformance
//! trace defined by `shared/conformance/orquesta/README.md`.
//!
//! The scheduling policy is the reference harness's: waves of `get_next_tasks()`, every
//! action marked running first, control requests, then completions in the same order; the
//! conductor is round-tripped through its serialized form after every event.
use crate::conductor::{Conductor, NextTask, Runtime, TaskEvent};
use crate::inspect;
use crate::spec::WorkflowSpec;
use crate::status::Status;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const MAX_WAVES: u64 = 1000;

/// The rehearsal's stand-ins for st2: datastore values from `__st2kv__` and the action
/// results recorded so far (what st2 keeps in its task execution records).
#[derive(Default)]
struct Stub {
    kv: Map<String, Value>,
    results: HashMap<String, Value>,
    items: HashMap<String, Vec<Value>>,
}

impl Runtime for Stub {
    fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(self.kv.get(key).cloned())
    }

    fn task_result(&self, task_id: &str, route: u64) -> Option<Value> {
        let key = format!("{task_id}__r{route}");
        if let Some(items) = self.items.get(&key) {
            return Some(json!({ "items": items }));
        }
        self.results.get(&key).cloned()
    }
}

struct Mocks {
    data: Map<String, Value>,
    pos: HashMap<String, usize>,
}

impl Mocks {
    fn next(&mut self, task_id: &str) -> (Status, Value) {
        let i = self.pos.entry(task_id.to_string()).or_insert(0);
        let at = *i;
        *i += 1;
        match self.data.get(task_id).and_then(|l| l.get(at)) {
            Some(entry) => {
                let status = entry
                    .get("status")
                    .and_then(Value::as_str)
                    .and_then(Status::parse)
                    .unwrap_or(Status::Succeeded);
                (status, entry.get("result").cloned().unwrap_or(Value::Null))
            }
            None => (Status::Succeeded, Value::Null),
        }
    }
}

/// What was dispatched in a wave: indices into the wave's task list (and action list), so
/// a 1,000-item task is not copied once per item.
enum Dispatched {
    EmptyItems(usize),
    Action(usize, usize),
}

struct Driver {
    conductor: Conductor,
    stub: Stub,
    mocks: Mocks,
    controls: Vec<Value>,
    executions: Vec<Value>,
    wave: u64,
}

type Step = Result<(), String>;

impl Driver {
    fn refresh(&mut self) -> Step {
        let data = self.conductor.to_json_string().map_err(|e| e.to_string())?;
        self.conductor = Conductor::from_json_str(&data).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn update(&mut self, task_id: &str, route: usize, ev: TaskEvent) -> Step {
        self.conductor
            .update_task_state(task_id, route, ev, &self.stub)
            .map_err(|e| e.to_string())?;
        self.refresh()
    }

    fn control(&mut self, phase: &str) -> Step {
        let wave = self.wave;
        let requests: Vec<String> = self
            .controls
            .iter()
            .filter(|c| c.get("wave").and_then(Value::as_u64) == Some(wave))
            .filter(|c| {
                c.get("phase")
                    .and_then(Value::as_str)
                    .unwrap_or("before_complete")
                    == phase
            })
            .filter_map(|c| c.get("request").and_then(Value::as_str).map(str::to_string))
            .collect();
        for req in requests {
            let status = Status::parse(&req).ok_or(format!("unknown status request '{req}'"))?;
            self.conductor
                .request_workflow_status(status)
                .map_err(|e| e.to_string())?;
            self.refresh()?;
            self.executions.push(json!({
                "wave": wave,
                "control": req,
                "workflow_status": self.conductor.get_workflow_status(),
            }));
        }
        Ok(())
    }

    fn record(
        &mut self,
        task: &NextTask,
        action: &Value,
        input: &Value,
        status: Status,
        result: Value,
        item: Option<usize>,
    ) {
        let task_status = self
            .conductor
            .get_task_state_entry(&task.id, task.route)
            .and_then(|e| e.status);
        let mut rec = json!({
            "wave": self.wave,
            "task": task.id,
            "route": task.route,
            "action": action,
            "input": input,
            "status": status,
            "result": result,
            "task_status": task_status,
            "workflow_status": self.conductor.get_workflow_status(),
        });
        if let Some(m) = rec.as_object_mut() {
            if let Some(i) = item {
                m.insert("item".into(), i.into());
            }
            if let Some(d) = &task.delay {
                m.insert("delay".into(), d.clone());
            }
        }
        self.executions.push(rec);
    }

    fn wave_step(&mut self, next: Vec<NextTask>) -> Step {
        let mut dispatched = Vec::new();
        for (ti, task) in next.iter().enumerate() {
            let (tid, route) = (task.id.clone(), task.route);
            if task.has_items && task.items_count == Some(0) {
                self.update(&tid, route, TaskEvent::action(Status::Running, Value::Null))?;
                dispatched.push(Dispatched::EmptyItems(ti));
                continue;
            }
            if task.has_items {
                // A new execution of the task (first run, loop, retry) starts a fresh
                // per-item record; later waves of the same execution extend it.
                let key = format!("{tid}__r{route}");
                let fresh = match self.conductor.get_task_state_entry(&tid, route) {
                    None => true,
                    Some(e) => e
                        .status
                        .is_some_and(|s| s.is_completed() || s == Status::Retrying),
                };
                if fresh {
                    self.stub
                        .items
                        .insert(key, vec![Value::Null; task.items_count.unwrap_or(0)]);
                }
            }
            for (i, a) in task.actions.iter().enumerate() {
                let ev = match a.item_id {
                    Some(item_id) => TaskEvent::Item {
                        item_id,
                        status: Status::Running,
                        result: Value::Null,
                        accumulated: None,
                    },
                    None => TaskEvent::action(Status::Running, Value::Null),
                };
                self.update(&tid, route, ev)?;
                dispatched.push(Dispatched::Action(ti, i));
            }
        }
        self.control("before_complete")?;
        for d in dispatched {
            match d {
                Dispatched::EmptyItems(ti) => {
                    let task = &next[ti];
                    let key = format!("{}__r{}", task.id, task.route);
                    self.stub.items.insert(key, Vec::new());
                    self.update(
                        &task.id,
                        task.route,
                        TaskEvent::action(Status::Succeeded, Value::Null),
                    )?;
                    self.record(
                        task,
                        &Value::Null,
                        &Value::Null,
                        Status::Succeeded,
                        json!([]),
                        None,
                    );
                }
                Dispatched::Action(ti, i) => {
                    let task = &next[ti];
                    let a = task.actions[i].clone();
                    let key = format!("{}__r{}", task.id, task.route);
                    let (status, result) = if a.action.is_null() {
                        (Status::Succeeded, Value::Null)
                    } else {
                        self.mocks.next(&task.id)
                    };
                    let ev = match a.item_id {
                        None => {
                            self.stub.results.insert(key, result.clone());
                            TaskEvent::action(status, result.clone())
                        }
                        Some(item_id) => {
                            let count = task.items_count.unwrap_or(0);
                            let items = self
                                .stub
                                .items
                                .entry(key)
                                .or_insert_with(|| vec![Value::Null; count]);
                            if items.len() <= item_id {
                                items.resize(item_id + 1, Value::Null);
                            }
                            items[item_id] = json!({"status": status, "result": result});
                            let accumulated: Vec<Value> = items
                                .iter()
                                .map(|i| i.get("result").cloned().unwrap_or(Value::Null))
                                .collect();
                            TaskEvent::Item {
                                item_id,
                                status,
                                result: result.clone(),
                                accumulated: Some(Value::Array(accumulated)),
                            }
                        }
                    };
                    self.update(&task.id, task.route, ev)?;
                    self.record(task, &a.action, &a.input, status, result, a.item_id);
                }
            }
        }
        self.control("after_complete")
    }

    fn run(&mut self) -> Step {
        if self.conductor.get_workflow_status() != Status::Failed {
            self.conductor
                .request_workflow_status(Status::Running)
                .map_err(|e| e.to_string())?;
        }
        self.refresh()?;
        while self.wave < MAX_WAVES {
            let next = self.conductor.get_next_tasks(&self.stub);
            self.refresh()?;
            if next.is_empty() {
                break;
            }
            self.wave += 1;
            self.wave_step(next)?;
        }
        if self.conductor.get_workflow_status().is_completed() {
            self.conductor.render_workflow_output(&self.stub);
            self.refresh()?;
        }
        Ok(())
    }

    fn trace(&self, failure: Option<String>) -> Value {
        let c = &self.conductor;
        let task_states: Vec<Value> = c
            .state
            .sequence
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("task".into(), t.id.clone().into());
                m.insert("route".into(), t.route.into());
                m.insert("status".into(), json!(t.status));
                if t.term {
                    m.insert("term".into(), true.into());
                }
                if let Some(r) = &t.retry {
                    m.insert("retry_tally".into(), r.tally.into());
                }
                Value::Object(m)
            })
            .collect();
        let mut out = json!({
            "orquesta_version": "gale",
            "inspection_errors": null,
            "workflow_status": c.get_workflow_status(),
            "output": c.get_workflow_output(),
            "errors": c.errors(),
            "executions": self.executions,
            "task_states": task_states,
            "routes": c.state.routes,
            "waves": self.wave,
        });
        if let (Some(f), Some(m)) = (failure, out.as_object_mut()) {
            m.insert("rehearsal_error".into(), f.into());
        }
        out
    }
}

fn inspection_trace(errors: Value) -> Value {
    json!({
        "orquesta_version": "gale",
        "inspection_errors": errors,
        "workflow_status": "failed",
        "output": null,
        "errors": [],
        "executions": [],
        "task_states": [],
        "routes": [],
    })
}

/// Produce the trace for a workflow given as YAML text, its input, the mocks and an optional
/// parent context. The result is the JSON trace object.
pub fn rehearse(
    workflow_yaml: &str,
    input: &Value,
    mocks: &Value,
    context: Option<&Value>,
) -> Value {
    let spec = match WorkflowSpec::from_yaml(workflow_yaml) {
        Ok(s) => s,
        Err(e) => {
            return inspection_trace(json!({
                "syntax": [{"message": e.to_string(), "spec_path": null, "schema_path": null}]
            }))
        }
    };
    let ctx = context
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let inspection = inspect::inspect(&spec, Some(&ctx).filter(|c| !c.is_empty()));
    if !inspection.is_empty() {
        return inspection_trace(serde_json::to_value(&inspection).unwrap_or(Value::Null));
    }
    let mocks_map = mocks.as_object().cloned().unwrap_or_default();
    let stub = Stub {
        kv: mocks_map
            .get("__st2kv__")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        ..Default::default()
    };
    let controls = mocks_map
        .get("__control__")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let data: Map<String, Value> = mocks_map
        .into_iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .collect();
    let input = input.as_object().cloned().unwrap_or_default();
    let conductor = Conductor::new(spec, input, ctx, &stub);
    let mut driver = Driver {
        conductor,
        stub,
        mocks: Mocks {
            data,
            pos: HashMap::new(),
        },
        controls,
        executions: Vec::new(),
        wave: 0,
    };
    let failure = driver.run().err();
    driver.trace(failure)
}

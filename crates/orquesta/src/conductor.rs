//! The workflow conductor: Orquesta's bookkeeping of staged tasks, task executions, routes
//! and contexts, driven by action events and workflow status requests.
//!
//! It never runs anything: the engine asks [`Conductor::get_next_tasks`] what to dispatch,
//! reports action status changes with [`Conductor::update_task_state`], and persists the
//! conductor (it is plain serde data) after every event.
use crate::expr::{self, EvalError};
use crate::graph::{Transition, WorkflowGraph};
use crate::machines;
use crate::spec::{truthy, WorkflowSpec, ENGINE_COMMANDS};
use crate::status::Status;
use gale_expr::ContextProvider;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Data from outside the workflow that expressions may read: the datastore behind `st2kv`
/// and the results of task executions behind `task()`.
pub trait Runtime: Sync {
    /// The value of a datastore key; `Ok(None)` when the key does not exist.
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        let _ = (key, decrypt);
        Err("st2kv is not available in this context".into())
    }
    /// The result of the latest execution of `task_id` on `route` (with-items tasks:
    /// `{"items": [{status, result}, ...]}`), `None` when unknown.
    fn task_result(&self, task_id: &str, route: u64) -> Option<Value> {
        let _ = (task_id, route);
        None
    }
}

/// A runtime with nothing behind it.
pub struct NoRuntime;
impl Runtime for NoRuntime {}

/// Errors that Orquesta raises to its caller (as opposed to logging them in the workflow).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ConductorError {
    #[error("Unable to change status for workflow from \"{0}\" to \"{1}\".")]
    InvalidWorkflowStatusTransition(String, String),
    #[error("Task \"{0}\" is not staged and has no task state entry.")]
    InvalidTaskStateEntry(String),
    #[error("Task \"{0}\" does not exist.")]
    InvalidTask(String),
    #[error("{0}")]
    Evaluation(String),
    #[error("The conductor state is invalid: {0}")]
    State(String),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Ctxs {
    #[serde(rename = "in")]
    pub inbound: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub out: Option<IndexMap<String, usize>>,
}

/// Retry bookkeeping of a task execution (count/delay rendered when the execution starts).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RetryState {
    pub when: Option<Value>,
    pub count: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delay: Option<Value>,
    #[serde(default)]
    pub tally: u64,
}

/// One task execution in the workflow's sequence.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskStateEntry {
    pub id: String,
    pub route: usize,
    pub ctxs: Ctxs,
    pub prev: IndexMap<String, usize>,
    pub next: IndexMap<String, bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub term: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry: Option<RetryState>,
}

impl TaskStateEntry {
    fn status(&self) -> Status {
        self.status.unwrap_or(Status::Unset)
    }
}

/// A with-items item's status (persisted as the bare status name: a 1,000-item task writes
/// this list on every event).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct ItemState {
    pub status: Status,
}

/// With-items item statuses as a string of one code per item; the list form is still read.
mod compact_items {
    use super::ItemState;
    use crate::status::Status;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    const CODES: [(Status, char); 16] = [
        (Status::Unset, '-'),
        (Status::Requested, 'q'),
        (Status::Scheduled, 'h'),
        (Status::Delayed, 'd'),
        (Status::Running, 'r'),
        (Status::Pending, 'n'),
        (Status::Pausing, 'p'),
        (Status::Paused, 'P'),
        (Status::Resuming, 'm'),
        (Status::Succeeded, 's'),
        (Status::Failed, 'f'),
        (Status::Expired, 'x'),
        (Status::Abandoned, 'a'),
        (Status::Retrying, 't'),
        (Status::Canceling, 'c'),
        (Status::Canceled, 'C'),
    ];

    fn code(s: Status) -> char {
        CODES
            .iter()
            .find(|(st, _)| *st == s)
            .map_or('-', |(_, c)| *c)
    }

    fn status(c: char) -> Option<Status> {
        CODES.iter().find(|(_, k)| *k == c).map(|(s, _)| *s)
    }

    pub fn serialize<S: Serializer>(v: &Option<Vec<ItemState>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(items) => {
                let text: String = items.iter().map(|i| code(i.status)).collect();
                s.serialize_some(&text)
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Compact(String),
        List(Vec<ItemState>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<ItemState>>, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(None),
            Some(Repr::List(v)) => Ok(Some(v)),
            Some(Repr::Compact(text)) => text
                .chars()
                .map(|c| {
                    status(c)
                        .map(|status| ItemState { status })
                        .ok_or_else(|| D::Error::custom(format!("unknown item status code {c:?}")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }
}

/// A task waiting to be dispatched (or, for with-items tasks, being dispatched).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StagedTask {
    pub id: String,
    pub ctxs: Ctxs,
    pub route: usize,
    pub prev: IndexMap<String, usize>,
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry: Option<RetryState>,
    /// Persisted as one character per item (see [`compact_items`]): a 1,000-item task is
    /// serialized after every event, so this list dominates the state's size.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "compact_items"
    )]
    pub items: Option<Vec<ItemState>>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub completed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub run_on_fail: bool,
}

/// The runtime state of a workflow, in Orquesta's shape (it is what `__state` exposes to
/// expressions such as `task_status()`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkflowState {
    pub contexts: Vec<Value>,
    pub routes: Vec<Vec<String>>,
    pub sequence: Vec<TaskStateEntry>,
    pub staged: Vec<StagedTask>,
    pub status: Status,
    pub tasks: IndexMap<String, usize>,
}

fn route_key(task_id: &str, route: usize) -> String {
    format!("{task_id}__r{route}")
}

impl WorkflowState {
    /// Whether the latest execution of some task (on some route) has a status matching.
    fn last_with(&self, pred: impl Fn(Status) -> bool) -> bool {
        self.tasks.values().any(|&i| {
            self.sequence
                .get(i)
                .is_some_and(|t| t.status.is_some_and(&pred))
        })
    }

    pub fn has_active_tasks(&self) -> bool {
        self.last_with(Status::is_active)
    }

    fn has_pausing_or_paused(&self) -> bool {
        self.last_with(|s| matches!(s, Status::Pausing | Status::Paused | Status::Pending))
    }

    fn has_paused_tasks(&self) -> bool {
        self.last_with(|s| matches!(s, Status::Paused | Status::Pending))
    }

    fn has_canceling_or_canceled(&self) -> bool {
        self.last_with(Status::is_cancel)
    }

    /// Staged tasks that are ready and not completed.
    pub fn ready_staged(&self) -> impl Iterator<Item = &StagedTask> {
        self.staged.iter().filter(|s| s.ready && !s.completed)
    }

    pub fn has_staged_tasks(&self) -> bool {
        self.ready_staged().next().is_some()
    }

    fn staged_idx(&self, id: &str, route: usize) -> Option<usize> {
        self.staged
            .iter()
            .position(|s| s.id == id && s.route == route)
    }

    fn add_staged(
        &mut self,
        id: &str,
        route: usize,
        ctxs: Vec<usize>,
        prev: IndexMap<String, usize>,
        ready: bool,
        retry: Option<RetryState>,
    ) -> usize {
        let inbound = if ctxs.is_empty() { vec![0] } else { ctxs };
        self.staged.push(StagedTask {
            id: id.to_string(),
            ctxs: Ctxs { inbound, out: None },
            route,
            prev,
            ready,
            retry,
            ..Default::default()
        });
        self.staged.len() - 1
    }

    /// Unstage a task, unless it still has with-items actions running.
    fn remove_staged(&mut self, id: &str, route: usize) {
        if let Some(i) = self.staged_idx(id, route) {
            let running = self.staged[i]
                .items
                .as_ref()
                .is_some_and(|items| items.iter().any(|it| it.status.is_active()));
            if !running {
                self.staged.remove(i);
            }
        }
    }

    pub fn entry_idx(&self, id: &str, route: usize) -> Option<usize> {
        self.tasks.get(&route_key(id, route)).copied()
    }
}

/// An action to dispatch for a task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActionSpec {
    /// The rendered action ref (`null` for action-less tasks).
    pub action: Value,
    /// The rendered input (`null` when the task has none).
    pub input: Value,
    /// The with-items index.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub item_id: Option<usize>,
}

/// A task the engine should dispatch now.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NextTask {
    pub id: String,
    pub route: usize,
    /// Actions to dispatch in this round (with-items: only those concurrency allows).
    pub actions: Vec<ActionSpec>,
    /// Seconds to wait before dispatching (task delay, or retry delay on a retry).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delay: Option<Value>,
    /// For with-items tasks: the total number of items.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub items_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub concurrency: Option<Value>,
    pub has_items: bool,
}

/// An event about a task: an action (or with-items item) status change, or an engine command.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskEvent {
    Action {
        status: Status,
        result: Value,
    },
    Item {
        item_id: usize,
        status: Status,
        result: Value,
        /// The with-items result so far (item results in item order, `null` when not run).
        accumulated: Option<Value>,
    },
    Continue,
    Fail,
    Noop,
    Retry,
}

impl TaskEvent {
    pub fn action(status: Status, result: Value) -> TaskEvent {
        TaskEvent::Action { status, result }
    }

    fn status(&self) -> Status {
        match self {
            TaskEvent::Action { status, .. } | TaskEvent::Item { status, .. } => *status,
            TaskEvent::Continue | TaskEvent::Noop => Status::Succeeded,
            TaskEvent::Fail => Status::Failed,
            TaskEvent::Retry => Status::Retrying,
        }
    }

    fn name(&self) -> String {
        match self {
            TaskEvent::Action { status, .. } | TaskEvent::Item { status, .. } => {
                format!("action_{}", status.as_str())
            }
            TaskEvent::Continue => "task_continue_requested".into(),
            TaskEvent::Fail => "task_fail_requested".into(),
            TaskEvent::Noop => "task_noop_requested".into(),
            TaskEvent::Retry => "task_retry_requested".into(),
        }
    }

    fn result(&self) -> Value {
        match self {
            TaskEvent::Action { result, .. } | TaskEvent::Item { result, .. } => result.clone(),
            _ => Value::Null,
        }
    }

    fn engine(command: &str) -> Option<TaskEvent> {
        match command {
            "continue" => Some(TaskEvent::Continue),
            "fail" => Some(TaskEvent::Fail),
            "noop" => Some(TaskEvent::Noop),
            "retry" => Some(TaskEvent::Retry),
            _ => None,
        }
    }
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Inbound {
    Satisfied,
    Wip,
    NotSatisfied,
}

/// An Orquesta workflow conductor. All fields are plain data; serialize it with serde.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Conductor {
    pub spec: WorkflowSpec,
    pub graph: WorkflowGraph,
    pub input: Map<String, Value>,
    pub context: Map<String, Value>,
    pub state: WorkflowState,
    pub log: Vec<Value>,
    pub errors: Vec<Value>,
    pub output: Option<Map<String, Value>>,
}

/// Deep merge of JSON objects, `right` winning (Orquesta's `merge_dicts`).
pub fn merge(left: &mut Map<String, Value>, right: &Map<String, Value>) {
    for (k, v) in right {
        match (left.get_mut(k), v) {
            (Some(Value::Object(l)), Value::Object(r)) => merge(l, r),
            _ => {
                left.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The `ContextProvider` for one evaluation: `task()` needs the evaluation context
/// (`__current_task`, `__state`) to find the execution, and the runtime for its result.
struct EvalProvider<'a> {
    rt: &'a dyn Runtime,
    ctx: &'a Value,
}

impl EvalProvider<'_> {
    fn find_task(&self, task_id: &str, route: usize) -> Result<Value, String> {
        let state = &self.ctx["__state"];
        let key = route_key(task_id, route);
        match state["tasks"].get(&key).and_then(Value::as_u64) {
            Some(idx) => {
                let entry = &state["sequence"][idx as usize];
                let r = entry["route"].as_u64().unwrap_or(route as u64);
                let status = entry.get("status").cloned().unwrap_or(Value::Null);
                Ok(json!({
                    "task_name": task_id,
                    "task_id": task_id,
                    "route": r,
                    "result": self.rt.task_result(task_id, r).unwrap_or(Value::Null),
                    "status": status,
                }))
            }
            None => {
                if route > 0 {
                    let routes = state["routes"].as_array().cloned().unwrap_or_default();
                    let cur: Vec<Value> = routes
                        .get(route)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for (i, prev) in routes[..route.min(routes.len())].iter().rev().enumerate() {
                        let prev = prev.as_array().cloned().unwrap_or_default();
                        if prev.iter().all(|p| cur.contains(p)) {
                            return self.find_task(task_id, route - i - 1);
                        }
                    }
                }
                Err(format!(
                    "ExpressionEvaluationException: Unable to find task execution for \"{task_id}\"."
                ))
            }
        }
    }
}

impl ContextProvider for EvalProvider<'_> {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        self.rt.st2kv(key, decrypt)
    }

    fn task(&self, name: Option<&str>) -> Result<Value, String> {
        let current = &self.ctx["__current_task"];
        let task_id = match name {
            Some(n) => n.to_string(),
            None => current["id"]
                .as_str()
                .ok_or("The current task is not set in the context.")?
                .to_string(),
        };
        let route = current["route"].as_u64().unwrap_or(0) as usize;
        self.find_task(&task_id, route)
    }
}

fn eval(v: &Value, ctx: &Value, rt: &dyn Runtime) -> Result<Value, EvalError> {
    let p = EvalProvider { rt, ctx };
    expr::evaluate(v, ctx, &p)
}

impl Conductor {
    /// Create a conductor: compose the graph, render input and vars against the parent
    /// context, stage the start tasks. Rendering errors leave the workflow `failed`.
    pub fn new(
        spec: WorkflowSpec,
        input: Map<String, Value>,
        context: Map<String, Value>,
        rt: &dyn Runtime,
    ) -> Conductor {
        let graph = WorkflowGraph::compose(&spec);
        let mut c = Conductor {
            spec,
            graph,
            input,
            context,
            state: WorkflowState::default(),
            log: Vec::new(),
            errors: Vec::new(),
            output: None,
        };
        c.initialize(rt);
        c
    }

    fn initialize(&mut self, rt: &dyn Runtime) {
        let mut init = self.context.clone();
        let mut errors = Vec::new();
        // Inputs: runtime values (or defaults) are rendered too, each seeing the ones before.
        let mut rolling = Value::Object(init.clone());
        for (name, default) in self.spec.input_entries() {
            let raw = self.input.get(&name).cloned().unwrap_or(default);
            match eval(&raw, &rolling, rt) {
                Ok(v) => {
                    if let Some(m) = rolling.as_object_mut() {
                        m.insert(name, v);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if let Value::Object(m) = &rolling {
            merge(&mut init, m);
        }
        let mut rolling = Value::Object(init.clone());
        let mut vars = Map::new();
        for (name, raw) in self.spec.vars_entries() {
            match eval(&raw, &rolling, rt) {
                Ok(v) => {
                    if let Some(m) = rolling.as_object_mut() {
                        m.insert(name.clone(), v.clone());
                    }
                    vars.insert(name, v);
                }
                Err(e) => errors.push(e),
            }
        }
        merge(&mut init, &vars);
        if !errors.is_empty() {
            for e in &errors {
                self.log_error(&e.0, None, None, None);
            }
            // From unset, a failed request always applies.
            let _ = self.request_workflow_status(Status::Failed);
        }
        if !self.state.status.is_abended() && self.state.status != Status::Canceled {
            self.state.contexts.push(Value::Object(init));
            self.state.routes.push(Vec::new());
            for root in self.graph.roots() {
                self.state
                    .add_staged(&root, 0, vec![0], IndexMap::new(), true, None);
            }
        }
    }

    // ---------------------------------------------------------------- logging

    fn log_entry(
        &mut self,
        message: String,
        task_id: Option<&str>,
        route: Option<usize>,
        transition: Option<&str>,
        result: Option<&Value>,
    ) {
        let mut e = Map::new();
        e.insert("type".into(), "error".into());
        e.insert("message".into(), message.into());
        if let Some(t) = task_id {
            e.insert("task_id".into(), t.into());
        }
        if let Some(r) = route {
            e.insert("route".into(), r.into());
        }
        if let Some(t) = transition {
            e.insert("task_transition_id".into(), t.into());
        }
        if let Some(r) = result.filter(|r| !r.is_null()) {
            e.insert("result".into(), r.clone());
        }
        let e = Value::Object(e);
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn log_error(
        &mut self,
        message: &str,
        task_id: Option<&str>,
        route: Option<usize>,
        transition: Option<&str>,
    ) {
        self.log_entry(message.to_string(), task_id, route, transition, None);
    }

    // ---------------------------------------------------------------- accessors

    pub fn get_workflow_status(&self) -> Status {
        self.state.status
    }

    pub fn get_workflow_output(&self) -> Option<&Map<String, Value>> {
        self.output.as_ref().filter(|o| !o.is_empty())
    }

    pub fn errors(&self) -> &[Value] {
        &self.errors
    }

    pub fn get_task_state_entry(&self, task_id: &str, route: usize) -> Option<&TaskStateEntry> {
        self.state
            .entry_idx(task_id, route)
            .and_then(|i| self.state.sequence.get(i))
    }

    /// The conductor as JSON, for persistence.
    pub fn serialize(&self) -> Result<Value, ConductorError> {
        serde_json::to_value(self).map_err(|e| ConductorError::State(e.to_string()))
    }

    /// The conductor as compact JSON text (cheaper than building a `Value` tree).
    pub fn to_json_string(&self) -> Result<String, ConductorError> {
        serde_json::to_string(self).map_err(|e| ConductorError::State(e.to_string()))
    }

    /// Restore a conductor persisted with [`Conductor::to_json_string`].
    pub fn from_json_str(text: &str) -> Result<Conductor, ConductorError> {
        serde_json::from_str(text).map_err(|e| ConductorError::State(e.to_string()))
    }

    /// Restore a conductor persisted with [`Conductor::serialize`].
    pub fn deserialize(v: Value) -> Result<Conductor, ConductorError> {
        serde_json::from_value(v).map_err(|e| ConductorError::State(e.to_string()))
    }

    /// The `__state` expressions see. Only `task_status()`, `succeeded()` & co. and `task()`
    /// read it (`ctx()` hides `__` keys), and they need the task pointers, each execution's
    /// id/route/status and the routes, so contexts and staging are left out: building the
    /// whole state for every evaluation would make long workflows quadratic.
    fn state_value(&self) -> Value {
        let sequence: Vec<Value> = self
            .state
            .sequence
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("id".into(), t.id.clone().into());
                m.insert("route".into(), t.route.into());
                if let Some(s) = t.status {
                    m.insert("status".into(), s.as_str().into());
                }
                Value::Object(m)
            })
            .collect();
        json!({
            "routes": self.state.routes,
            "sequence": sequence,
            "status": self.state.status.as_str(),
            "tasks": self.state.tasks,
        })
    }

    fn context_of(&self, idxs: &[usize]) -> Map<String, Value> {
        let mut ctx = Map::new();
        for &i in idxs {
            if let Some(Value::Object(m)) = self.state.contexts.get(i) {
                merge(&mut ctx, m);
            }
        }
        ctx
    }

    fn initial_context(&self) -> Map<String, Value> {
        match self.state.contexts.first() {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        }
    }

    fn task_initial_context(&self, task_id: &str, route: usize) -> Option<Map<String, Value>> {
        if let Some(i) = self.state.staged_idx(task_id, route) {
            return Some(self.context_of(&self.state.staged[i].ctxs.inbound));
        }
        self.get_task_state_entry(task_id, route)
            .map(|e| self.context_of(&e.ctxs.inbound))
    }

    fn with_runtime_keys(
        &self,
        mut ctx: Map<String, Value>,
        task_id: &str,
        route: usize,
        result: Option<&Value>,
    ) -> Value {
        let mut current = Map::new();
        current.insert("id".into(), task_id.into());
        current.insert("route".into(), route.into());
        if let Some(r) = result {
            current.insert("result".into(), r.clone());
        }
        ctx.insert("__current_task".into(), Value::Object(current));
        ctx.insert("__state".into(), self.state_value());
        Value::Object(ctx)
    }

    // ---------------------------------------------------------------- workflow status

    /// Request a workflow status (`pausing`, `paused`, `resuming`, `running`, `canceling`,
    /// `canceled`, `failed`, ...). Active tasks get the request too.
    pub fn request_workflow_status(&mut self, status: Status) -> Result<(), ConductorError> {
        let current = self.state.status;
        let event = format!("workflow_{}", status.as_str());
        let mut active: Vec<usize> = self
            .state
            .tasks
            .values()
            .copied()
            .filter(|&i| {
                self.state
                    .sequence
                    .get(i)
                    .is_some_and(|t| t.status().is_active())
            })
            .collect();
        active.sort_unstable();
        active.dedup();
        for i in active {
            let entry = &self.state.sequence[i];
            let mut name = event.clone();
            if status.is_pause() || status.is_cancel() {
                if let Some(items) = self
                    .state
                    .staged_idx(&entry.id, entry.route)
                    .and_then(|s| self.state.staged[s].items.as_ref())
                {
                    let active = items.iter().any(|it| it.status.is_active());
                    let incomplete = items.iter().any(|it| !it.status.is_completed());
                    name.push_str(if active {
                        "_task_active"
                    } else {
                        "_task_dormant"
                    });
                    name.push_str(if incomplete {
                        "_items_incomplete"
                    } else {
                        "_items_completed"
                    });
                }
            }
            if let Some(next) = machines::task_transition(entry.status(), &name) {
                self.state.sequence[i].status = Some(next);
            }
        }
        let mut name = event;
        if status.is_pause() || status.is_cancel() {
            name.push_str(if self.state.has_active_tasks() {
                "_workflow_active"
            } else {
                "_workflow_dormant"
            });
        }
        if self.state.status == Status::Paused
            && matches!(status, Status::Running | Status::Resuming)
            && !self.state.has_active_tasks()
            && !self.state.has_staged_tasks()
            && !self.state.has_paused_tasks()
        {
            name.push_str("_workflow_completed");
        }
        if let Some(next) = machines::workflow_transition(self.state.status, &name) {
            tracing::debug!(event = %name, from = %self.state.status, to = %next, "workflow status requested");
            self.state.status = next;
        }
        let updated = self.state.status;
        if status == Status::Paused && current == Status::Pausing && updated == Status::Pausing {
            return Ok(());
        }
        if status == Status::Canceled
            && current == Status::Canceling
            && updated == Status::Canceling
        {
            return Ok(());
        }
        if status != current && current == updated {
            return Err(ConductorError::InvalidWorkflowStatusTransition(
                current.to_string(),
                format!("workflow_{}", status.as_str()),
            ));
        }
        Ok(())
    }

    /// Process a task execution event with the workflow state machine.
    fn process_task_event_for_workflow(&mut self, task_id: &str, route: usize, status: Status) {
        let has_barrier_next = self.has_next(task_id, route, false);
        let has_next = self.has_next(task_id, route, true);
        let active = self.state.has_active_tasks();
        let mut event = format!("task_{}", status.as_str());
        if status.is_abended() && (has_next || has_barrier_next) {
            event = "task_remediated".into();
        }
        let conditional = [
            "task_pending",
            "task_paused",
            "task_succeeded",
            "task_failed",
            "task_remediated",
            "task_canceled",
            "task_retrying",
        ];
        if conditional.contains(&event.as_str()) {
            event.push_str(if active {
                "_workflow_active"
            } else {
                "_workflow_dormant"
            });
        }
        if event.starts_with("task_succeeded") || event.starts_with("task_remediated") {
            if self.state.has_canceling_or_canceled() {
                event.push_str("_canceled");
            } else if self.state.has_pausing_or_paused() {
                event.push_str("_paused");
            } else if self.state.has_staged_tasks() || has_next {
                event.push_str("_incomplete");
            } else {
                event.push_str("_completed");
            }
        }
        // An event the machine does not know in this status changes nothing (and, as in
        // Orquesta, skips the unreachable-join check).
        let Some(next) = machines::workflow_transition(self.state.status, &event) else {
            return;
        };
        if next != self.state.status {
            tracing::debug!(task_id, route, %event, from = %self.state.status, to = %next, "workflow status");
        }
        self.state.status = next;
        if self.state.status.is_completed() {
            let unreachable = self.unreachable_barriers();
            if !unreachable.is_empty() {
                self.state.status = Status::Failed;
                for (id, route) in unreachable {
                    self.log_error(
                        &format!(
                            "UnreachableJoinError: The join task|route \"{id}|{route}\" is partially satisfied but unreachable."
                        ),
                        Some(&id),
                        Some(route),
                        None,
                    );
                }
            }
        }
    }

    fn unreachable_barriers(&self) -> Vec<(String, usize)> {
        let barriers = self.graph.barriers();
        self.state
            .staged
            .iter()
            .filter(|s| barriers.contains(&s.id.as_str()) && !s.ready)
            .filter(|s| self.inbound_criteria(&s.id, s.route) == Inbound::NotSatisfied)
            .map(|s| (s.id.clone(), s.route))
            .collect()
    }

    fn inbound_criteria(&self, task_id: &str, route: usize) -> Inbound {
        let inbound = self.graph.prev_transitions(task_id);
        let mut eval: IndexMap<&str, Option<bool>> = IndexMap::new();
        for t in &inbound {
            eval.entry(t.source.as_str()).or_insert(None);
        }
        let requirement = match self.graph.barrier(task_id) {
            Some(Value::String(s)) if s == "*" => eval.len(),
            Some(v) if truthy(v) => v.as_u64().unwrap_or(1) as usize,
            _ => 1,
        };
        for t in &inbound {
            let Some(prev) = self.get_task_state_entry(&t.source, route) else {
                continue;
            };
            let satisfied = prev.next.get(&t.id()).copied().unwrap_or(false);
            let slot = eval.entry(t.source.as_str()).or_insert(None);
            if !slot.unwrap_or(false) {
                *slot = Some(satisfied);
            }
        }
        if eval.values().filter(|v| **v == Some(true)).count() >= requirement {
            return Inbound::Satisfied;
        }
        if eval.values().any(Option::is_none)
            && (self.state.has_active_tasks() || self.state.has_staged_tasks())
        {
            return Inbound::Wip;
        }
        Inbound::NotSatisfied
    }

    fn has_next(&self, task_id: &str, route: usize, eval_join_ready: bool) -> bool {
        let Some(entry) = self.get_task_state_entry(task_id, route) else {
            return false;
        };
        if !entry.status().is_completed() {
            return false;
        }
        for t in self.graph.next_transitions(task_id) {
            if t.target == "continue" {
                continue;
            }
            if !entry.next.get(&t.id()).copied().unwrap_or(false) {
                continue;
            }
            if self.graph.has_barrier(&t.target) {
                if !eval_join_ready {
                    return true;
                }
                if self.inbound_criteria(&t.target, route) == Inbound::NotSatisfied {
                    continue;
                }
            }
            return true;
        }
        false
    }

    // ---------------------------------------------------------------- next tasks

    /// The tasks to dispatch now, sorted by task id then route. Rendering errors are logged
    /// (for every failing task) and fail the workflow; nothing is returned then.
    pub fn get_next_tasks(&mut self, rt: &dyn Runtime) -> Vec<NextTask> {
        let staged: Vec<(String, usize)> = self
            .state
            .ready_staged()
            .map(|s| (s.id.clone(), s.route))
            .collect();
        let mut candidates = staged.clone();
        if self.state.status == Status::Failed {
            let remediation: Vec<(String, usize)> = self
                .state
                .ready_staged()
                .filter(|s| s.run_on_fail)
                .map(|s| (s.id.clone(), s.route))
                .collect();
            if remediation.is_empty() {
                return Vec::new();
            }
            candidates = remediation;
        } else if !self.state.status.is_running() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut failed = false;
        for (id, route) in candidates {
            match self.render_task(&id, route, rt) {
                Ok(Some(task)) => out.push(task),
                Ok(None) => {}
                Err(e) => {
                    failed = true;
                    self.log_error(&e.0, Some(&id), Some(route), None);
                }
            }
        }
        if failed {
            let _ = self.request_workflow_status(Status::Failed);
            return Vec::new();
        }
        out.sort_by(|a, b| (a.id.as_str(), a.route).cmp(&(b.id.as_str(), b.route)));
        out
    }

    fn render_task(
        &mut self,
        task_id: &str,
        route: usize,
        rt: &dyn Runtime,
    ) -> Result<Option<NextTask>, EvalError> {
        let base = self
            .task_initial_context(task_id, route)
            .unwrap_or_else(|| self.initial_context());
        let ctx = self.with_runtime_keys(base, task_id, route, None);
        let spec = self
            .spec
            .task(task_id)
            .cloned()
            .ok_or_else(|| EvalError::new("InvalidTask", task_id))?;
        let action = spec.action.clone().unwrap_or(Value::Null);
        let input = spec.input.clone().unwrap_or(Value::Null);
        let mut actions = Vec::new();
        let mut items_count = None;
        let mut concurrency = None;
        match &spec.with_items {
            None => actions.push(ActionSpec {
                action: eval(&action, &ctx, rt)?,
                input: eval(&input, &ctx, rt)?,
                item_id: None,
            }),
            Some(w) => {
                let (keys, items_expr) = w.split();
                let items = eval(&Value::String(items_expr.clone()), &ctx, rt)?;
                let Value::Array(items) = items else {
                    return Err(EvalError::new(
                        "TypeError",
                        format!("The value of \"{items_expr}\" is not type of list."),
                    ));
                };
                for (idx, item) in items.into_iter().enumerate() {
                    let item = match (&keys, item) {
                        (Some(keys), Value::Array(vals)) => Value::Object(
                            keys.iter()
                                .cloned()
                                .zip(vals)
                                .collect::<Map<String, Value>>(),
                        ),
                        (Some(keys), item) if keys.len() == 1 => {
                            let mut m = Map::new();
                            m.insert(keys[0].clone(), item);
                            Value::Object(m)
                        }
                        (_, item) => item,
                    };
                    let mut item_ctx = ctx.clone();
                    if let Some(m) = item_ctx.as_object_mut() {
                        m.insert("__current_item".into(), item);
                    }
                    actions.push(ActionSpec {
                        action: eval(&action, &item_ctx, rt)?,
                        input: eval(&input, &item_ctx, rt)?,
                        item_id: Some(idx),
                    });
                }
                items_count = Some(actions.len());
            }
        }
        let mut delay = None;
        if let Some(d) = spec.delay.as_ref().filter(|d| truthy(d)) {
            let v = match d {
                Value::String(_) => eval(d, &ctx, rt)?,
                other => other.clone(),
            };
            if !(v.is_i64() || v.is_u64()) {
                return Err(EvalError::new(
                    "TypeError",
                    "The value of task delay is not type of integer.",
                ));
            }
            delay = Some(v);
        }
        // Evaluated after the delay, as Orquesta does (it decides which error is reported).
        if let Some(w) = &spec.with_items {
            concurrency = Some(match &w.concurrency {
                Some(c) => eval(c, &ctx, rt)?,
                None => Value::Null,
            });
        }
        let mut task = NextTask {
            id: task_id.to_string(),
            route,
            actions,
            delay,
            items_count,
            concurrency: concurrency.clone(),
            has_items: spec.has_items(),
        };
        // With-items: dispatch only items not yet run, within the concurrency limit.
        if let Some(count) = items_count {
            let Some(si) = self.state.staged_idx(task_id, route) else {
                return Ok(None);
            };
            let staged = &mut self.state.staged[si];
            if staged.items.as_ref().is_none_or(|i| i.is_empty()) {
                staged.items = Some(vec![
                    ItemState {
                        status: Status::Unset
                    };
                    count
                ]);
            }
            let items = staged.items.clone().unwrap_or_default();
            let notrun: Vec<usize> = (0..count.min(items.len()))
                .filter(|&i| items[i].status == Status::Unset)
                .collect();
            let active = items.iter().filter(|i| i.status.is_active()).count();
            let selected: Vec<usize> = match concurrency.filter(|c| !c.is_null()) {
                Some(c) => {
                    let Some(mut limit) = c.as_i64() else {
                        return Err(EvalError::new(
                            "TypeError",
                            "'<=' not supported between instances of 'str' and 'int'",
                        ));
                    };
                    if limit <= 0 {
                        limit = 1;
                        task.concurrency = Some(Value::from(1));
                    }
                    let available = limit - active as i64;
                    if available > 0 {
                        notrun.into_iter().take(available as usize).collect()
                    } else {
                        Vec::new()
                    }
                }
                None => notrun,
            };
            let mut all = std::mem::take(&mut task.actions);
            task.actions = selected
                .into_iter()
                .filter_map(|i| all.get_mut(i).map(|a| a.clone()))
                .collect();
        }
        if let Some(si) = self.state.staged_idx(task_id, route) {
            if let Some(retry) = &self.state.staged[si].retry {
                let d = retry.delay.clone().filter(truthy).unwrap_or(Value::from(0));
                task.delay = Some(d);
            }
        }
        if !task.actions.is_empty() || task.items_count == Some(0) {
            Ok(Some(task))
        } else {
            Ok(None)
        }
    }

    // ---------------------------------------------------------------- task events

    fn add_task_state(
        &mut self,
        task_id: &str,
        route: usize,
        ctxs: Vec<usize>,
        prev: IndexMap<String, usize>,
        rt: &dyn Runtime,
    ) -> Result<usize, ConductorError> {
        if !self.graph.has_task(task_id) {
            return Err(ConductorError::InvalidTask(task_id.to_string()));
        }
        let inbound = if ctxs.is_empty() { vec![0] } else { ctxs };
        let mut entry = TaskStateEntry {
            id: task_id.to_string(),
            route,
            ctxs: Ctxs {
                inbound: inbound.clone(),
                out: None,
            },
            prev,
            ..Default::default()
        };
        if let Some(r) = self.graph.retry(task_id) {
            let mut retry = RetryState {
                when: r.when.clone(),
                count: r.count.clone(),
                delay: r.delay.clone(),
                tally: 0,
            };
            let ctx = Value::Object(self.context_of(&inbound));
            if let Some(d @ Value::String(_)) = &retry.delay {
                let v = eval(d, &ctx, rt).map_err(|e| ConductorError::Evaluation(e.0))?;
                if !(v.is_i64() || v.is_u64()) {
                    return Err(ConductorError::Evaluation(format!(
                        "ValueError: The retry delay for task \"{task_id}\" is not an integer."
                    )));
                }
                retry.delay = Some(v);
            }
            if let Some(c @ Value::String(_)) = &retry.count {
                let v = eval(c, &ctx, rt).map_err(|e| ConductorError::Evaluation(e.0))?;
                if !(v.is_i64() || v.is_u64()) {
                    return Err(ConductorError::Evaluation(format!(
                        "ValueError: The retry count for task \"{task_id}\" is not an integer."
                    )));
                }
                retry.count = Some(v);
            }
            entry.retry = Some(retry);
        }
        self.state.sequence.push(entry);
        let idx = self.state.sequence.len() - 1;
        self.state.tasks.insert(route_key(task_id, route), idx);
        Ok(idx)
    }

    /// Task state machine event name for a with-items item event, with the other items'
    /// state folded in.
    fn item_event_name(
        &self,
        task_id: &str,
        route: usize,
        item_id: usize,
        status: Status,
    ) -> String {
        let base = format!("action_{}", status.as_str());
        let needs = matches!(
            status,
            Status::Resuming
                | Status::Pending
                | Status::Paused
                | Status::Succeeded
                | Status::Failed
                | Status::Expired
                | Status::Abandoned
                | Status::Canceled
        );
        if !needs {
            return base;
        }
        let Some(si) = self.state.staged_idx(task_id, route) else {
            return base;
        };
        let mut others: Vec<Status> = self.state.staged[si]
            .items
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.status)
            .collect();
        if item_id < others.len() {
            others.remove(item_id);
        }
        let active = others.iter().any(|s| s.is_active());
        let incomplete = others.iter().any(|s| !s.is_completed());
        let paused = others
            .iter()
            .any(|s| matches!(s, Status::Pending | Status::Paused));
        let canceled = others.contains(&Status::Canceled);
        let failed = others.iter().any(|s| s.is_abended());
        let mut name = base
            + if active {
                "_task_active"
            } else {
                "_task_dormant"
            };
        if !active && paused {
            name.push_str("_items_paused");
        } else if !active && canceled {
            name.push_str("_items_canceled");
        } else if !active && failed {
            name.push_str("_items_failed");
        } else {
            name.push_str(if incomplete {
                "_items_incomplete"
            } else {
                "_items_completed"
            });
        }
        name
    }

    /// Feed an event for task `task_id` on `route`: action status changes, with-items item
    /// status changes or engine commands. Evaluates retries and transitions on completion.
    pub fn update_task_state(
        &mut self,
        task_id: &str,
        route: usize,
        event: TaskEvent,
        rt: &dyn Runtime,
    ) -> Result<(), ConductorError> {
        if !self.graph.has_task(task_id) {
            return Err(ConductorError::InvalidTask(task_id.to_string()));
        }
        let staged = self
            .state
            .staged_idx(task_id, route)
            .map(|i| self.state.staged[i].clone());
        let mut idx = self.state.entry_idx(task_id, route);
        let task_spec = self
            .spec
            .task(task_id)
            .cloned()
            .ok_or_else(|| ConductorError::InvalidTask(task_id.to_string()))?;
        if staged.is_none() && idx.is_none() {
            return Err(ConductorError::InvalidTaskStateEntry(task_id.to_string()));
        }
        let is_engine = ENGINE_COMMANDS.contains(&task_id);
        let ev_status = event.status();
        if idx.is_none() || is_engine {
            let s = staged
                .as_ref()
                .ok_or_else(|| ConductorError::InvalidTaskStateEntry(task_id.to_string()))?;
            idx = Some(self.add_task_state(
                task_id,
                s.route,
                s.ctxs.inbound.clone(),
                s.prev.clone(),
                rt,
            )?);
        }
        let mut idx =
            idx.ok_or_else(|| ConductorError::InvalidTaskStateEntry(task_id.to_string()))?;
        if self.state.sequence[idx].status().is_completed() && ev_status.is_starting() {
            let s = staged
                .as_ref()
                .ok_or_else(|| ConductorError::InvalidTaskStateEntry(task_id.to_string()))?;
            idx =
                self.add_task_state(task_id, s.route, s.ctxs.inbound.clone(), s.prev.clone(), rt)?;
        }
        if ev_status != Status::Unset && staged.as_ref().is_some_and(|s| s.items.is_none()) {
            self.state.remove_staged(task_id, route);
        }
        if let TaskEvent::Item {
            item_id, status, ..
        } = &event
        {
            if let Some(si) = self.state.staged_idx(task_id, route) {
                if let Some(items) = self.state.staged[si].items.as_mut() {
                    if let Some(slot) = items.get_mut(*item_id) {
                        *slot = ItemState { status: *status };
                    }
                }
            }
        }
        if ev_status == Status::Failed {
            let result = event.result();
            self.log_entry(
                "Execution failed. See result for details.".into(),
                Some(task_id),
                None,
                None,
                Some(&result),
            );
        }
        let old = self.state.sequence[idx].status();
        let name = match &event {
            TaskEvent::Item {
                item_id, status, ..
            } => self.item_event_name(task_id, route, *item_id, *status),
            other => other.name(),
        };
        if let Some(next) = machines::task_transition(old, &name) {
            self.state.sequence[idx].status = Some(next);
        }
        let new = self.state.sequence[idx].status();

        if new == Status::Retrying {
            let entry = &mut self.state.sequence[idx];
            if let Some(r) = entry.retry.as_mut() {
                r.tally += 1;
            }
            let (ctxs, prev, retry) = (
                entry.ctxs.inbound.clone(),
                entry.prev.clone(),
                entry.retry.clone(),
            );
            self.state.remove_staged(task_id, route);
            self.state
                .add_staged(task_id, route, ctxs, prev, true, retry);
        }

        let mut current_ctx = Value::Null;
        if new.is_completed() {
            if !(task_spec.has_items() && new.is_abended()) {
                self.state.remove_staged(task_id, route);
            } else if let Some(si) = self.state.staged_idx(task_id, route) {
                self.state.staged[si].completed = true;
            }
            let result = if !task_spec.has_items() {
                event.result()
            } else {
                match &event {
                    TaskEvent::Item { accumulated, .. } => accumulated
                        .clone()
                        .filter(truthy)
                        .unwrap_or(Value::Array(vec![])),
                    other => Some(other.result())
                        .filter(truthy)
                        .unwrap_or(Value::Array(vec![])),
                }
            };
            let entry = &self.state.sequence[idx];
            let base = self.context_of(&entry.ctxs.inbound);
            current_ctx = self.with_runtime_keys(base, task_id, entry.route, Some(&result));
            if self.state.status.is_active() && self.should_retry(idx, &current_ctx, rt)? {
                return self.update_task_state(task_id, route, TaskEvent::Retry, rt);
            }
        }

        if new.is_completed() && new != old {
            self.process_transitions(task_id, route, idx, &current_ctx, rt)?;
            return Ok(());
        }
        let status = self.state.sequence[idx].status();
        self.process_task_event_for_workflow(task_id, route, status);
        if self.state.status.is_completed() {
            self.state.sequence[idx].term = true;
        }
        Ok(())
    }

    fn should_retry(
        &self,
        idx: usize,
        ctx: &Value,
        rt: &dyn Runtime,
    ) -> Result<bool, ConductorError> {
        let entry = &self.state.sequence[idx];
        let Some(retry) = &entry.retry else {
            return Ok(false);
        };
        let count = retry.count.as_ref().and_then(Value::as_u64).unwrap_or(0);
        if retry.tally >= count {
            return Ok(false);
        }
        let when = retry.when.clone().filter(|w| !w.is_null());
        if entry.status().is_abended() && when.is_none() {
            return Ok(true);
        }
        match when {
            // The reference raises evaluation errors in `retry.when` to its caller.
            Some(w) => Ok(truthy(
                &eval(&w, ctx, rt).map_err(|e| ConductorError::Evaluation(e.0))?,
            )),
            None => Ok(false),
        }
    }

    fn process_transitions(
        &mut self,
        task_id: &str,
        route: usize,
        idx: usize,
        current_ctx: &Value,
        rt: &dyn Runtime,
    ) -> Result<(), ConductorError> {
        let mut has_manual_fail = false;
        let mut ready_next: Vec<(String, usize)> = Vec::new();
        let mut engine_queue: Vec<(String, usize)> = Vec::new();
        let transitions: Vec<Transition> = self
            .graph
            .next_transitions(task_id)
            .into_iter()
            .cloned()
            .collect();
        if transitions.is_empty() {
            self.state.sequence[idx].term = true;
        }
        for t in &transitions {
            let tid = t.id();
            let mut ok = true;
            let mut errored = false;
            for c in &t.criteria {
                match eval(&Value::String(c.clone()), current_ctx, rt) {
                    Ok(v) => ok = ok && truthy(&v),
                    Err(e) => {
                        self.log_error(&e.0, Some(task_id), Some(route), Some(&tid));
                        let _ = self.request_workflow_status(Status::Failed);
                        errored = true;
                        break;
                    }
                }
            }
            if errored {
                continue;
            }
            self.state.sequence[idx].next.insert(tid.clone(), ok);
            if !ok {
                continue;
            }
            // Publish, in order, each entry seeing the ones before it.
            let task_spec = self.spec.task(task_id).cloned().unwrap_or_default();
            let mut rolling = current_ctx.clone();
            let mut new_ctx = Map::new();
            let mut errors = Vec::new();
            if let Some(tr) = task_spec.next.get(t.ref_) {
                if tr.targets().contains(&t.target) {
                    for (name, raw) in tr.publish_entries() {
                        match eval(&raw, &rolling, rt) {
                            Ok(v) => {
                                if let Some(m) = rolling.as_object_mut() {
                                    m.insert(name.clone(), v.clone());
                                }
                                new_ctx.insert(name, v);
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                }
            }
            if !errors.is_empty() {
                for e in &errors {
                    self.log_error(&e.0, Some(task_id), Some(route), Some(&tid));
                }
                let _ = self.request_workflow_status(Status::Failed);
                continue;
            }
            let mut out_idxs = self.state.sequence[idx].ctxs.inbound.clone();
            if !new_ctx.is_empty() {
                self.state.contexts.push(Value::Object(new_ctx));
                let ci = self.state.contexts.len() - 1;
                out_idxs.push(ci);
                let mut out = IndexMap::new();
                out.insert(tid.clone(), ci);
                self.state.sequence[idx].ctxs.out = Some(out);
            }
            let next_route = self.evaluate_route(t, route);
            let backref = t.route_id();
            let si = match self.state.staged_idx(&t.target, next_route) {
                Some(si) => {
                    if let Some(p) = out_idxs.iter().position(|&c| c == 0) {
                        out_idxs.remove(p);
                    }
                    let s = &mut self.state.staged[si];
                    s.ctxs.inbound.extend(out_idxs);
                    s.prev.insert(backref, idx);
                    s.items = None;
                    s.completed = false;
                    si
                }
                None => {
                    let mut prev = IndexMap::new();
                    prev.insert(backref, idx);
                    self.state
                        .add_staged(&t.target, next_route, out_idxs, prev, false, None)
                }
            };
            let ready = self.inbound_criteria(&t.target, route) == Inbound::Satisfied;
            self.state.staged[si].ready = ready;
            if ENGINE_COMMANDS.contains(&t.target.as_str()) {
                engine_queue.push((t.target.clone(), next_route));
                has_manual_fail |= t.target == "fail";
            } else if ready {
                ready_next.push((t.target.clone(), next_route));
            }
        }
        if has_manual_fail {
            for (id, r) in &ready_next {
                if let Some(si) = self.state.staged_idx(id, *r) {
                    self.state.staged[si].run_on_fail = true;
                }
            }
        }
        let status = self.state.sequence[idx].status();
        self.process_task_event_for_workflow(task_id, route, status);
        for (id, r) in engine_queue {
            if let Some(ev) = TaskEvent::engine(&id) {
                self.update_task_state(&id, r, ev, rt)?;
            }
        }
        if self.state.status.is_completed() {
            self.state.sequence[idx].term = true;
        }
        Ok(())
    }

    fn evaluate_route(&mut self, t: &Transition, prev_route: usize) -> usize {
        if !self.graph.starts_route(&t.target) {
            return prev_route;
        }
        let old = self
            .state
            .routes
            .get(prev_route)
            .cloned()
            .unwrap_or_default();
        let id = t.route_id();
        if old.contains(&id) {
            return prev_route;
        }
        let mut new = old;
        new.push(id);
        self.state.routes.push(new);
        self.state.routes.len() - 1
    }

    // ---------------------------------------------------------------- output

    fn terminal_context(&self) -> Map<String, Value> {
        let terms: Vec<&TaskStateEntry> = self.state.sequence.iter().filter(|t| t.term).collect();
        let Some((first, rest)) = terms.split_first() else {
            return Map::new();
        };
        let mut ctx = self.context_of(&first.ctxs.inbound);
        for t in rest {
            let mut idxs = t.ctxs.inbound.clone();
            if let Some(p) = idxs.iter().position(|&c| c == 0) {
                idxs.remove(p);
            }
            merge(&mut ctx, &self.context_of(&idxs));
        }
        ctx
    }

    /// Render the workflow output once the workflow is completed (failed and canceled
    /// included). Rendering errors are logged and fail the workflow unless it was canceled.
    pub fn render_workflow_output(&mut self, rt: &dyn Runtime) {
        let status = self.state.status;
        if !status.is_completed() || self.get_workflow_output().is_some() {
            return;
        }
        let mut ctx = self.terminal_context();
        ctx.insert("__state".into(), self.state_value());
        let mut rolling = Value::Object(ctx);
        let mut outputs = Map::new();
        let mut errors = Vec::new();
        for (name, raw) in self.spec.output_entries() {
            match eval(&raw, &rolling, rt) {
                Ok(v) => {
                    if let Some(m) = rolling.as_object_mut() {
                        m.insert(name.clone(), v.clone());
                    }
                    outputs.insert(name, v);
                }
                Err(e) => errors.push(e),
            }
        }
        if !outputs.is_empty() {
            self.output = Some(outputs);
        }
        if !errors.is_empty() {
            for e in &errors {
                self.log_error(&e.0, None, None, None);
            }
            if !matches!(
                status,
                Status::Expired | Status::Abandoned | Status::Canceled
            ) {
                let _ = self.request_workflow_status(Status::Failed);
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn with_items_state_is_one_character_per_item_and_the_list_form_still_reads() {
        let t = StagedTask {
            id: "t".into(),
            items: Some(vec![
                ItemState {
                    status: Status::Running,
                },
                ItemState {
                    status: Status::Succeeded,
                },
                ItemState {
                    status: Status::Unset,
                },
                ItemState {
                    status: Status::Canceled,
                },
            ]),
            ..Default::default()
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["items"], json!("rs-C"));
        assert_eq!(serde_json::from_value::<StagedTask>(v).unwrap(), t);
        let mut old = serde_json::to_value(&t).unwrap();
        old["items"] = json!(["running", "succeeded", "null", "canceled"]);
        assert_eq!(serde_json::from_value::<StagedTask>(old).unwrap(), t);
        let mut bad = serde_json::to_value(&t).unwrap();
        bad["items"] = json!("r?");
        assert!(serde_json::from_value::<StagedTask>(bad).is_err());
        let none = StagedTask::default();
        let v = serde_json::to_value(&none).unwrap();
        assert!(v.get("items").is_none());
        assert_eq!(serde_json::from_value::<StagedTask>(v).unwrap(), none);
    }
    use super::*;
    use serde_json::json;

    fn conductor(yaml: &str, input: Value) -> Conductor {
        let spec = WorkflowSpec::from_yaml(yaml).unwrap();
        assert!(crate::inspect::inspect(&spec, None).is_empty());
        let mut c = Conductor::new(
            spec,
            input.as_object().cloned().unwrap_or_default(),
            Map::new(),
            &NoRuntime,
        );
        c.request_workflow_status(Status::Running).unwrap();
        c
    }

    /// Round-trip through JSON, as the engine does between events.
    fn reload(c: Conductor) -> Conductor {
        Conductor::deserialize(c.serialize().unwrap()).unwrap()
    }

    fn run(c: &mut Conductor, id: &str, route: usize, status: Status, result: Value) {
        c.update_task_state(
            id,
            route,
            TaskEvent::action(Status::Running, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        c.update_task_state(id, route, TaskEvent::action(status, result), &NoRuntime)
            .unwrap();
    }

    fn ids(tasks: &[NextTask]) -> Vec<(String, usize)> {
        tasks.iter().map(|t| (t.id.clone(), t.route)).collect()
    }

    #[test]
    fn sequence_publish_and_output() {
        let mut c = conductor(
            "version: 1.0\ninput:\n  - n: 1\ntasks:\n  a:\n    action: core.echo message=<% ctx(n) %>\n    next:\n      - when: <% succeeded() %>\n        publish:\n          - x: <% result().v %>\n          - y: <% ctx(x) + 1 %>\n        do: b\n  b:\n    action: core.noop\noutput:\n  - y: <% ctx(y) %>\n",
            json!({}),
        );
        let next = c.get_next_tasks(&NoRuntime);
        assert_eq!(ids(&next), vec![("a".to_string(), 0)]);
        assert_eq!(next[0].actions[0].input, json!({"message": 1}));
        run(&mut c, "a", 0, Status::Succeeded, json!({"v": 41}));
        let mut c = reload(c);
        assert_eq!(
            ids(&c.get_next_tasks(&NoRuntime)),
            vec![("b".to_string(), 0)]
        );
        run(&mut c, "b", 0, Status::Succeeded, Value::Null);
        assert_eq!(c.get_workflow_status(), Status::Succeeded);
        assert!(c.get_next_tasks(&NoRuntime).is_empty());
        c.render_workflow_output(&NoRuntime);
        assert_eq!(
            c.get_workflow_output(),
            Some(json!({"y": 42}).as_object().unwrap())
        );
        assert!(c.get_task_state_entry("b", 0).unwrap().term);
    }

    #[test]
    fn join_waits_for_all_branches() {
        let wf = "version: 1.0\ntasks:\n  s:\n    next:\n      - do: l, r\n  l:\n    action: x\n    next:\n      - when: <% succeeded() %>\n        do: j\n  r:\n    action: x\n    next:\n      - when: <% succeeded() %>\n        do: j\n  j:\n    join: all\n    action: x\n";
        let mut c = conductor(wf, json!({}));
        run(&mut c, "s", 0, Status::Succeeded, Value::Null);
        assert_eq!(
            ids(&c.get_next_tasks(&NoRuntime)),
            vec![("l".into(), 0), ("r".into(), 0)]
        );
        run(&mut c, "l", 0, Status::Succeeded, Value::Null);
        // The join is staged but not ready until the other branch arrives.
        assert!(c.get_next_tasks(&NoRuntime).iter().all(|t| t.id != "j"));
        run(&mut c, "r", 0, Status::Succeeded, Value::Null);
        assert_eq!(ids(&c.get_next_tasks(&NoRuntime)), vec![("j".into(), 0)]);

        // A branch failing after the join was staged leaves it unreachable.
        let mut c = conductor(wf, json!({}));
        run(&mut c, "s", 0, Status::Succeeded, Value::Null);
        c.update_task_state(
            "l",
            0,
            TaskEvent::action(Status::Running, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        c.update_task_state(
            "r",
            0,
            TaskEvent::action(Status::Running, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        c.update_task_state(
            "l",
            0,
            TaskEvent::action(Status::Succeeded, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        c.update_task_state(
            "r",
            0,
            TaskEvent::action(Status::Failed, json!("boom")),
            &NoRuntime,
        )
        .unwrap();
        assert_eq!(c.get_workflow_status(), Status::Failed);
        let messages: Vec<&str> = c
            .errors()
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("UnreachableJoinError")),
            "{messages:?}"
        );
    }

    #[test]
    fn join_count() {
        let wf = "version: 1.0\ntasks:\n  s:\n    next:\n      - do: a, b, c\n  a:\n    next:\n      - do: j\n  b:\n    next:\n      - do: j\n  c:\n    next:\n      - do: j\n  j:\n    join: 2\n";
        let mut c = conductor(wf, json!({}));
        run(&mut c, "s", 0, Status::Succeeded, Value::Null);
        run(&mut c, "a", 0, Status::Succeeded, Value::Null);
        assert!(c.get_next_tasks(&NoRuntime).iter().all(|t| t.id != "j"));
        run(&mut c, "b", 0, Status::Succeeded, Value::Null);
        assert!(c.get_next_tasks(&NoRuntime).iter().any(|t| t.id == "j"));
    }

    #[test]
    fn with_items_concurrency_and_failure() {
        let wf = "version: 1.0\ntasks:\n  t:\n    with:\n      items: i in <% [1, 2, 3] %>\n      concurrency: 2\n    action: x n=<% item(i) %>\n";
        let mut c = conductor(wf, json!({}));
        let next = c.get_next_tasks(&NoRuntime);
        assert_eq!(next[0].items_count, Some(3));
        let items: Vec<Option<usize>> = next[0].actions.iter().map(|a| a.item_id).collect();
        assert_eq!(items, vec![Some(0), Some(1)]);
        assert_eq!(next[0].actions[1].input, json!({"n": 2}));
        for i in 0..2 {
            let ev = TaskEvent::Item {
                item_id: i,
                status: Status::Running,
                result: Value::Null,
                accumulated: None,
            };
            c.update_task_state("t", 0, ev, &NoRuntime).unwrap();
        }
        // Both slots busy: nothing more to dispatch.
        assert!(c.get_next_tasks(&NoRuntime).is_empty());
        let ev = TaskEvent::Item {
            item_id: 0,
            status: Status::Succeeded,
            result: json!(1),
            accumulated: Some(json!([1, null, null])),
        };
        c.update_task_state("t", 0, ev, &NoRuntime).unwrap();
        let next = c.get_next_tasks(&NoRuntime);
        assert_eq!(
            next[0]
                .actions
                .iter()
                .map(|a| a.item_id)
                .collect::<Vec<_>>(),
            vec![Some(2)]
        );
        // Item 1 fails while item 2 was never dispatched: the task fails once 1 completes.
        let ev = TaskEvent::Item {
            item_id: 1,
            status: Status::Failed,
            result: json!("e"),
            accumulated: Some(json!([1, "e", null])),
        };
        c.update_task_state("t", 0, ev, &NoRuntime).unwrap();
        assert_eq!(
            c.get_task_state_entry("t", 0).unwrap().status,
            Some(Status::Failed)
        );
        assert_eq!(c.get_workflow_status(), Status::Failed);
        assert!(c.get_next_tasks(&NoRuntime).is_empty());
    }

    #[test]
    fn empty_items_succeed_without_actions() {
        let mut c = conductor(
            "version: 1.0\ntasks:\n  t:\n    with: i in <% [] %>\n    action: x\n",
            json!({}),
        );
        let next = c.get_next_tasks(&NoRuntime);
        assert_eq!(next[0].items_count, Some(0));
        assert!(next[0].actions.is_empty());
        run(&mut c, "t", 0, Status::Succeeded, Value::Null);
        assert_eq!(c.get_workflow_status(), Status::Succeeded);
    }

    #[test]
    fn retry_until_count_then_fail() {
        let wf = "version: 1.0\ntasks:\n  t:\n    action: x\n    retry:\n      count: 2\n      delay: 5\n";
        let mut c = conductor(wf, json!({}));
        for attempt in 0..3 {
            let next = c.get_next_tasks(&NoRuntime);
            assert_eq!(ids(&next), vec![("t".into(), 0)], "attempt {attempt}");
            let expected_delay = if attempt == 0 { None } else { Some(json!(5)) };
            assert_eq!(next[0].delay, expected_delay);
            run(&mut c, "t", 0, Status::Failed, json!({"attempt": attempt}));
            c = reload(c);
        }
        let entry = c.get_task_state_entry("t", 0).unwrap();
        assert_eq!(entry.retry.as_ref().unwrap().tally, 2);
        assert_eq!(c.state.sequence.len(), 1);
        assert_eq!(c.get_workflow_status(), Status::Failed);
    }

    #[test]
    fn retry_when_condition() {
        let wf = "version: 1.0\ntasks:\n  t:\n    action: x\n    retry:\n      when: <% result().again %>\n      count: 5\n";
        let mut c = conductor(wf, json!({}));
        run(&mut c, "t", 0, Status::Succeeded, json!({"again": true}));
        assert_eq!(
            c.get_task_state_entry("t", 0).unwrap().status,
            Some(Status::Retrying)
        );
        assert_eq!(ids(&c.get_next_tasks(&NoRuntime)), vec![("t".into(), 0)]);
        run(&mut c, "t", 0, Status::Succeeded, json!({"again": false}));
        assert_eq!(c.get_workflow_status(), Status::Succeeded);
    }

    #[test]
    fn engine_commands() {
        let wf = "version: 1.0\ntasks:\n  a:\n    action: x\n    next:\n      - when: <% failed() %>\n        do: noop\n";
        let mut c = conductor(wf, json!({}));
        run(&mut c, "a", 0, Status::Failed, Value::Null);
        assert_eq!(c.get_workflow_status(), Status::Succeeded);
        let wf = "version: 1.0\ntasks:\n  a:\n    action: x\n    next:\n      - when: <% succeeded() %>\n        do: fail\n";
        let mut c = conductor(wf, json!({}));
        run(&mut c, "a", 0, Status::Succeeded, Value::Null);
        assert_eq!(c.get_workflow_status(), Status::Failed);
        let seq: Vec<&str> = c.state.sequence.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(seq, vec!["a", "fail"]);
    }

    #[test]
    fn pause_resume_cancel() {
        let wf = "version: 1.0\ntasks:\n  a:\n    action: x\n    next:\n      - do: b\n  b:\n    action: x\n";
        let mut c = conductor(wf, json!({}));
        c.get_next_tasks(&NoRuntime);
        c.update_task_state(
            "a",
            0,
            TaskEvent::action(Status::Running, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        c.request_workflow_status(Status::Pausing).unwrap();
        assert_eq!(c.get_workflow_status(), Status::Pausing);
        c.update_task_state(
            "a",
            0,
            TaskEvent::action(Status::Succeeded, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        assert_eq!(c.get_workflow_status(), Status::Paused);
        assert!(c.get_next_tasks(&NoRuntime).is_empty());
        c.request_workflow_status(Status::Resuming).unwrap();
        assert_eq!(ids(&c.get_next_tasks(&NoRuntime)), vec![("b".into(), 0)]);
        c.update_task_state(
            "b",
            0,
            TaskEvent::action(Status::Running, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        assert_eq!(c.get_workflow_status(), Status::Running);
        c.request_workflow_status(Status::Canceling).unwrap();
        assert_eq!(c.get_workflow_status(), Status::Canceling);
        c.update_task_state(
            "b",
            0,
            TaskEvent::action(Status::Succeeded, Value::Null),
            &NoRuntime,
        )
        .unwrap();
        assert_eq!(c.get_workflow_status(), Status::Canceled);
        assert!(c.request_workflow_status(Status::Running).is_err());
    }

    #[test]
    fn input_errors_fail_at_creation() {
        let spec = WorkflowSpec::from_yaml(
            "version: 1.0\nvars:\n  - v: <% ctx(missing).x %>\ntasks:\n  a:\n    action: x\n",
        )
        .unwrap();
        let c = Conductor::new(spec, Map::new(), Map::new(), &NoRuntime);
        assert_eq!(c.get_workflow_status(), Status::Failed);
        assert_eq!(c.errors().len(), 1);
        assert!(c.state.routes.is_empty());
    }

    #[test]
    fn split_routes() {
        let wf = "version: 1.0\ntasks:\n  a:\n    next:\n      - do: b, c\n  b:\n    next:\n      - do: d\n  c:\n    next:\n      - do: d\n  d:\n    action: x\n";
        let mut c = conductor(wf, json!({}));
        run(&mut c, "a", 0, Status::Succeeded, Value::Null);
        run(&mut c, "b", 0, Status::Succeeded, Value::Null);
        run(&mut c, "c", 0, Status::Succeeded, Value::Null);
        assert_eq!(
            ids(&c.get_next_tasks(&NoRuntime)),
            vec![("d".into(), 1), ("d".into(), 2)]
        );
        assert_eq!(
            c.state.routes,
            vec![vec![], vec!["b__t0".to_string()], vec!["c__t0".to_string()]]
        );
    }
}

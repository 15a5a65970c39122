//! The event stream (st2-api.md §4): `GET /stream/v1/stream` (also the direct-port form
//! `/v1/stream`) as server-sent events from the engine's broadcast of execution changes and
//! output chunks, and `GET /stream/v1/executions/{id}/output`, which replays the stored output
//! of one execution, follows new output and ends with `event: EOF`.
//!
//! Frames are written by hand (`event:` line, `data:` line of one-line JSON, blank line) because
//! StackStorm's heartbeat is a bare newline, which axum's SSE helper cannot emit.

use crate::error::{ApiError, ApiResult};
use crate::mask;
use crate::query::{get as qget, Params};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use gale_engine::EngineEvent;
use gale_model::{Execution, OutputRecord};
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stream/v1/stream", get(stream))
        .route("/v1/stream", get(stream))
        .route("/stream/v1/executions/:id/output", get(output_stream))
}

/// StackStorm's `stream.heartbeat` default.
const HEARTBEAT: Duration = Duration::from_secs(25);

const EXECUTION_CREATE: &str = "st2.execution__create";
const EXECUTION_UPDATE: &str = "st2.execution__update";
const OUTPUT_CREATE: &str = "st2.execution.output__create";

/// Which events one client wants, and when its stream ends.
#[derive(Debug, Default)]
struct Filter {
    /// `events=` globs; `None` = StackStorm's default set (no output events).
    events: Option<Vec<String>>,
    action_refs: Option<HashSet<String>>,
    execution_ids: Option<HashSet<String>>,
    end_execution_id: Option<String>,
    end_event: Option<String>,
}

fn csv(q: &Params, key: &str) -> Option<Vec<String>> {
    qget(q, key).map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    })
}

impl Filter {
    fn from_query(q: &Params) -> Filter {
        Filter {
            events: csv(q, "events"),
            action_refs: csv(q, "action_refs").map(|v| v.into_iter().collect()),
            execution_ids: csv(q, "execution_ids").map(|v| v.into_iter().collect()),
            end_execution_id: qget(q, "end_execution_id").map(str::to_string),
            end_event: qget(q, "end_event").map(str::to_string),
        }
    }

    fn wants_event(&self, name: &str) -> bool {
        match &self.events {
            Some(globs) => globs.iter().any(|g| glob_match(g, name)),
            None => {
                name.starts_with("st2.announcement__")
                    || name.starts_with("st2.execution__")
                    || name.starts_with("st2.liveaction__")
            }
        }
    }

    fn wants(&self, name: &str, action_ref: &str, execution_id: &str) -> bool {
        self.wants_event(name)
            && self
                .action_refs
                .as_ref()
                .map_or(true, |s| s.contains(action_ref))
            && self
                .execution_ids
                .as_ref()
                .map_or(true, |s| s.contains(execution_id))
    }

    /// Whether this event closes the stream: the end event of the end execution, completed.
    fn ends(&self, name: &str, exec: &Execution) -> bool {
        let Some(end_id) = &self.end_execution_id else {
            return false;
        };
        let end_event = self.end_event.as_deref().unwrap_or(EXECUTION_UPDATE);
        *end_id == exec.id && name == end_event && exec.status.is_completed()
    }
}

/// fnmatch-style globs (`*`, `?`), as StackStorm filters event names.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn frame(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn execution_data(exec: &Execution) -> Value {
    let mut v = serde_json::to_value(exec).unwrap_or(Value::Null);
    mask::mask_execution(exec, &mut v);
    v
}

fn output_data(rec: &OutputRecord) -> Value {
    let mut v = serde_json::to_value(rec).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("delay".into(), Value::Null);
    }
    v
}

/// Per-connection state of `/stream`.
struct EventStream {
    rx: broadcast::Receiver<EngineEvent>,
    stop: CancellationToken,
    filter: Filter,
    pending: VecDeque<Bytes>,
    done: bool,
}

impl EventStream {
    /// The frame for an engine event, if the client wants it; marks the stream done when the
    /// event is its end event.
    fn accept(&mut self, ev: EngineEvent) -> Option<Bytes> {
        match ev {
            EngineEvent::ExecutionCreated(e) => self.execution(EXECUTION_CREATE, &e),
            EngineEvent::ExecutionUpdated(e) => self.execution(EXECUTION_UPDATE, &e),
            EngineEvent::Output(rec) => self
                .filter
                .wants(OUTPUT_CREATE, &rec.action_ref, &rec.execution_id)
                .then(|| frame(OUTPUT_CREATE, &output_data(&rec))),
        }
    }

    fn execution(&mut self, name: &str, e: &Execution) -> Option<Bytes> {
        let ends = self.filter.ends(name, e);
        if ends {
            self.done = true;
        }
        // The end event is always sent, even when `events=` would not select it.
        (ends || self.filter.wants(name, &e.action.action_ref, &e.id))
            .then(|| frame(name, &execution_data(e)))
    }

    async fn next(&mut self) -> Option<Bytes> {
        if let Some(b) = self.pending.pop_front() {
            return Some(b);
        }
        if self.done {
            return None;
        }
        loop {
            let received = tokio::select! {
                _ = self.stop.cancelled() => return None,
                r = tokio::time::timeout(HEARTBEAT, self.rx.recv()) => r,
            };
            match received {
                Err(_) => return Some(Bytes::from_static(b"\n")),
                Ok(Err(RecvError::Lagged(n))) => {
                    tracing::warn!(skipped = n, "stream client too slow; events dropped");
                }
                Ok(Err(RecvError::Closed)) => return None,
                Ok(Ok(ev)) => {
                    if let Some(b) = self.accept(ev) {
                        return Some(b);
                    }
                }
            }
        }
    }
}

fn sse_response(body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=UTF-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn stream(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let filter = Filter::from_query(&q);
    // Subscribe before looking at the end execution, so its completion cannot slip in between.
    let rx = state.engine().subscribe();
    let mut es = EventStream {
        rx,
        stop: state.shutdown_token().clone(),
        filter,
        pending: VecDeque::from([Bytes::from_static(b"\n")]),
        done: false,
    };
    if let Some(id) = es.filter.end_execution_id.clone() {
        if let Ok(exec) = state.engine().get_execution(&id).await {
            if exec.status.is_completed() {
                // Already finished (e.g. between the client's GET and this connect): send its
                // final update now and close.
                es.pending
                    .push_back(frame(EXECUTION_UPDATE, &execution_data(&exec)));
                es.done = true;
            }
        }
    }
    let body = futures::stream::unfold(es, |mut es| async move {
        es.next().await.map(|b| (Ok::<_, Infallible>(b), es))
    });
    Ok(sse_response(Body::from_stream(body)))
}

/// Per-connection state of `/executions/{id}/output`.
struct OutputStream {
    rx: broadcast::Receiver<EngineEvent>,
    stop: CancellationToken,
    id: String,
    output_type: Option<String>,
    seen: HashSet<String>,
    pending: VecDeque<Bytes>,
    done: bool,
}

const EOF_FRAME: &str = "event: EOF\ndata: ''\n\n";

/// Statuses at which StackStorm's output stream ends.
fn output_ends(exec: &Execution) -> bool {
    use gale_model::ExecStatus::*;
    exec.status.is_completed() || matches!(exec.status, Pausing | Resuming)
}

impl OutputStream {
    fn record(&mut self, rec: &OutputRecord) -> Option<Bytes> {
        if rec.execution_id != self.id || !self.seen.insert(rec.id.clone()) {
            return None;
        }
        if self
            .output_type
            .as_deref()
            .is_some_and(|t| t != rec.output_type)
        {
            return None;
        }
        Some(frame(OUTPUT_CREATE, &output_data(rec)))
    }

    async fn next(&mut self) -> Option<Bytes> {
        if let Some(b) = self.pending.pop_front() {
            return Some(b);
        }
        if self.done {
            return None;
        }
        loop {
            let received = tokio::select! {
                _ = self.stop.cancelled() => return None,
                r = tokio::time::timeout(HEARTBEAT, self.rx.recv()) => r,
            };
            match received {
                Err(_) => return Some(Bytes::from_static(b"\n")),
                Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) => return None,
                Ok(Ok(EngineEvent::Output(rec))) => {
                    if let Some(b) = self.record(&rec) {
                        return Some(b);
                    }
                }
                Ok(Ok(EngineEvent::ExecutionUpdated(e))) if e.id == self.id && output_ends(&e) => {
                    self.done = true;
                    return Some(Bytes::from_static(EOF_FRAME.as_bytes()));
                }
                Ok(Ok(_)) => {}
            }
        }
    }
}

async fn output_stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let output_type = match qget(&q, "output_type") {
        None | Some("all") => None,
        Some(t @ ("stdout" | "stderr")) => Some(t.to_string()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid output_type \"{other}\"."
            )))
        }
    };
    let rx = state.engine().subscribe();
    let exec = state.engine().get_execution(&id).await?;
    let mut os = OutputStream {
        rx,
        stop: state.shutdown_token().clone(),
        id: exec.id.clone(),
        output_type: output_type.clone(),
        seen: HashSet::new(),
        pending: VecDeque::new(),
        done: false,
    };
    for rec in state
        .store()
        .list_output(&exec.id, output_type.as_deref())
        .await?
    {
        if let Some(b) = os.record(&rec) {
            os.pending.push_back(b);
        }
    }
    if output_ends(&exec) {
        os.pending
            .push_back(Bytes::from_static(EOF_FRAME.as_bytes()));
        os.done = true;
    }
    let body = futures::stream::unfold(os, |mut os| async move {
        os.next().await.map(|b| (Ok::<_, Infallible>(b), os))
    });
    Ok(sse_response(Body::from_stream(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_default_events() {
        assert!(glob_match("st2.execution__*", "st2.execution__update"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("st2.execution.output__create", OUTPUT_CREATE));
        assert!(!glob_match("st2.execution__*", OUTPUT_CREATE));
        assert!(glob_match(
            "st2.?iveaction__create",
            "st2.liveaction__create"
        ));
        let f = Filter::default();
        assert!(f.wants_event(EXECUTION_UPDATE));
        assert!(!f.wants_event(OUTPUT_CREATE), "output only on request");
        let q: Params = [
            (
                "events",
                "st2.execution__update,st2.execution.output__create",
            ),
            ("execution_ids", "a"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let f = Filter::from_query(&q);
        assert!(f.wants(OUTPUT_CREATE, "core.local", "a"));
        assert!(!f.wants(OUTPUT_CREATE, "core.local", "b"));
        assert!(!f.wants(EXECUTION_CREATE, "core.local", "a"));
    }
}

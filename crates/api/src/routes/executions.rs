//! Executions: request (`POST`), list with StackStorm's filters and paging, get (`last` too),
//! output, result, attribute, children, cancel (`DELETE`), status change (`PUT`), re-run.
//! Every execution in a response is masked (unless `show_secrets=true`) and projected.

use crate::auth::Requester;
use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::mask;
use crate::query::{flag, get as qget, Page, Params, Projection};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use gale_engine::{CancelOutcome, ExecutionRequest};
use gale_model::{ExecStatus, Execution};
use gale_store::ExecutionFilter;
use serde_json::{json, Map, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/executions", get(list).post(create))
        .route(
            "/executions/:id",
            get(get_one).put(update_status).delete(cancel),
        )
        .route("/executions/:id/output", get(output))
        .route("/executions/:id/result", get(result))
        .route("/executions/:id/attribute/:name", get(attribute))
        .route("/executions/:id/children", get(children))
        .route("/executions/:id/re_run", post(re_run))
}

/// How executions are rendered for one request.
struct Render {
    proj: Projection,
    show_secrets: bool,
    max_result_size: Option<u64>,
}

impl Render {
    fn from_query(q: &Params) -> ApiResult<Render> {
        let max_result_size = match qget(q, "max_result_size") {
            None => None,
            Some(raw) => Some(raw.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "max_result_size must be a positive number, got \"{raw}\""
                ))
            })?),
        };
        Ok(Render {
            proj: Projection::from_query(q),
            show_secrets: flag(q, "show_secrets"),
            max_result_size,
        })
    }

    fn value(&self, exec: &Execution) -> Value {
        let mut v = serde_json::to_value(exec).unwrap_or(Value::Null);
        if !self.show_secrets {
            mask::mask_execution(exec, &mut v);
        }
        if let (Some(max), Some(obj)) = (self.max_result_size, v.as_object_mut()) {
            if exec.result_size > max {
                obj.remove("result");
            }
        }
        self.proj.apply(v)
    }
}

async fn find(state: &AppState, id: &str) -> ApiResult<Execution> {
    state.engine().get_execution(id).await.map_err(|e| match e {
        gale_engine::Error::NotFound { .. } => {
            ApiError::not_found(format!("Resource with a id \"{id}\" not found"))
        }
        other => other.into(),
    })
}

// ----------------------------------------------------------------------------- request

/// Extra context from the `St2-Context` header (a JSON object).
fn header_context(headers: &HeaderMap) -> ApiResult<Map<String, Value>> {
    let Some(raw) = headers.get("st2-context") else {
        return Ok(Map::new());
    };
    let text = raw.to_str().map_err(|_| {
        ApiError::bad_request("Unable to convert St2-Context header value into a dict")
    })?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::bad_request(format!(
            "Unable to convert St2-Context header value \"{text}\" into a dict"
        ))),
    }
}

fn object_field(body: &Map<String, Value>, key: &str) -> ApiResult<Map<String, Value>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(ApiError::bad_request(format!(
            "{other} is not of type 'object'"
        ))),
    }
}

fn delay_field(body: &Map<String, Value>) -> ApiResult<Option<u64>> {
    match body.get("delay") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(0) => Ok(None),
            Some(n) => Ok(Some(n)),
            None => Err(ApiError::bad_request(format!(
                "{v} is not of type 'integer'"
            ))),
        },
    }
}

/// The user an execution runs as: the body's `user` when given (Gale has no RBAC, so every
/// caller may act as admin), else the caller.
fn run_as(body: &Map<String, Value>, requester: &Requester) -> String {
    match body.get("user") {
        Some(Value::String(u)) if !u.is_empty() => u.clone(),
        _ => requester.user.clone(),
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    headers: HeaderMap,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let action_ref = match body.get("action") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("'action' is a required property"))
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "{other} is not of type 'string'"
            )))
        }
    };
    let mut context = object_field(&body, "context")?;
    context.extend(header_context(&headers)?);
    let req = ExecutionRequest {
        action_ref,
        parameters: object_field(&body, "parameters")?,
        user: run_as(&body, &requester),
        context,
        delay_ms: delay_field(&body)?,
        parent: None,
    };
    let exec = state.engine().request_execution(req).await?;
    tracing::info!(execution = %exec.id, action = %exec.action.action_ref, user = %requester.user, "execution requested");
    Ok((
        StatusCode::CREATED,
        Json(Render::from_query(&q)?.value(&exec)),
    ))
}

async fn re_run(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = match body {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        _ => {
            return Err(ApiError::bad_request(
                "The request body must be a JSON object.",
            ))
        }
    };
    let original = find(&state, &id).await?;
    let overrides = object_field(&body, "parameters")?;
    let list = |key: &str| -> Vec<Value> {
        body.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (tasks, reset) = (list("tasks"), list("reset"));
    if !tasks.is_empty() {
        if original.action.runner_type != "orquesta" {
            return Err(ApiError::bad_request(
                "Task option is only supported for Orquesta workflows.",
            ));
        }
        if !overrides.is_empty() {
            return Err(ApiError::bad_request(
                "Parameters override is not supported when re-running task(s) for a workflow.",
            ));
        }
        if reset.iter().any(|r| !tasks.contains(r)) {
            return Err(ApiError::bad_request(
                "List of tasks to reset does not match the tasks to rerun.",
            ));
        }
        // Restarting a workflow from chosen tasks needs the workflow engine's support.
        return Err(ApiError::bad_request(
            "Re-running selected workflow tasks is not supported by Gale yet.",
        ));
    }
    let mut parameters = if flag(&q, "no_merge") {
        Map::new()
    } else {
        original.parameters.clone()
    };
    parameters.extend(overrides);
    let mut rerun = Map::new();
    rerun.insert("ref".into(), json!(original.id));
    let mut context = Map::new();
    context.insert("re-run".into(), Value::Object(rerun));
    if let Some(trace) = original.context.get("trace_context") {
        context.insert("trace_context".into(), trace.clone());
    }
    let req = ExecutionRequest {
        action_ref: original.action.action_ref.clone(),
        parameters,
        user: run_as(&body, &requester),
        context,
        delay_ms: delay_field(&body)?,
        parent: None,
    };
    let exec = state.engine().request_execution(req).await?;
    tracing::info!(execution = %exec.id, original = %original.id, "execution re-run requested");
    Ok((
        StatusCode::CREATED,
        Json(Render::from_query(&q)?.value(&exec)),
    ))
}

// ----------------------------------------------------------------------------- read

/// Filters the store does not evaluate; applied here before paging.
fn local_filter(q: &Params) -> Option<impl Fn(&Execution) -> bool + '_> {
    let liveaction = qget(q, "liveaction");
    let trigger = qget(q, "trigger");
    let trigger_type = qget(q, "trigger_type");
    let timestamp = qget(q, "timestamp").and_then(gale_model::time::parse_ts);
    if liveaction.is_none() && trigger.is_none() && trigger_type.is_none() && timestamp.is_none() {
        return None;
    }
    let named = |v: &Option<Value>, want: &str| {
        v.as_ref().is_some_and(|o| {
            ["name", "ref", "id"]
                .iter()
                .any(|k| o.get(*k).and_then(Value::as_str) == Some(want))
        })
    };
    Some(move |e: &Execution| {
        liveaction.map_or(true, |l| e.liveaction.id == l)
            && trigger.map_or(true, |t| named(&e.trigger, t))
            && trigger_type.map_or(true, |t| named(&e.trigger_type, t))
            && timestamp.map_or(true, |t| e.start_timestamp == t)
    })
}

fn store_filter(q: &Params) -> ApiResult<Option<ExecutionFilter>> {
    let ts = |key: &str| -> ApiResult<Option<gale_model::Timestamp>> {
        match qget(q, key) {
            None => Ok(None),
            Some(raw) => gale_model::time::parse_ts(raw).map(Some).ok_or_else(|| {
                ApiError::bad_request(format!("Invalid timestamp \"{raw}\" for {key}"))
            }),
        }
    };
    let status = match qget(q, "status") {
        None => None,
        // An unknown status matches nothing, as a query on an unknown value does in StackStorm.
        Some(s) => match s.parse::<ExecStatus>() {
            Ok(st) => Some(st),
            Err(_) => return Ok(None),
        },
    };
    let parent = qget(q, "parent").map(|p| match p {
        "null" | "None" | "none" => None,
        id => Some(id.to_string()),
    });
    Ok(Some(ExecutionFilter {
        action: qget(q, "action").map(str::to_string),
        status,
        parent,
        runner: qget(q, "runner").map(str::to_string),
        user: qget(q, "user").map(str::to_string),
        rule: qget(q, "rule").map(str::to_string),
        trigger_instance: qget(q, "trigger_instance").map(str::to_string),
        timestamp_gt: ts("timestamp_gt")?,
        timestamp_lt: ts("timestamp_lt")?,
        sort_asc: flag(q, "sort_asc"),
        offset: 0,
        limit: None,
    }))
}

async fn list(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, Some(100), state.config().page_cap())?;
    let render = Render::from_query(&q)?;
    let Some(mut filter) = store_filter(&q)? else {
        return Ok(list_response(Vec::new(), page.headers(0)));
    };
    let (execs, total) = match local_filter(&q) {
        None => {
            filter.offset = page.offset;
            filter.limit = page.limit;
            state.store().list_executions(&filter).await?
        }
        Some(keep) => {
            let (all, _) = state.store().list_executions(&filter).await?;
            page.apply(all.into_iter().filter(|e| keep(e)).collect())
        }
    };
    let items = execs.iter().map(|e| render.value(e)).collect();
    Ok(list_response(items, page.headers(total)))
}

async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let exec = find(&state, &id).await?;
    Ok(Json(Render::from_query(&q)?.value(&exec)))
}

async fn output(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let exec = find(&state, &id).await?;
    let output_type = match qget(&q, "output_type") {
        None | Some("all") => None,
        Some(t @ ("stdout" | "stderr")) => Some(t),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid output_type \"{other}\"."
            )))
        }
    };
    let records = state.store().list_output(&exec.id, output_type).await?;
    let text: String = records.iter().map(|r| r.data.as_str()).collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

async fn result(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let exec = find(&state, &id).await?;
    let result = if flag(&q, "show_secrets") {
        exec.result.clone()
    } else {
        mask::masked_result(&exec)
    };
    let text = if flag(&q, "pretty_format") {
        serde_json::to_string_pretty(&result)
    } else {
        serde_json::to_string(&result)
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut resp = ([(header::CONTENT_TYPE, "text/json")], text).into_response();
    if flag(&q, "download") {
        if let Ok(v) = format!("attachment; filename=\"execution_{}_result.json\"", exec.id).parse()
        {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

async fn attribute(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let exec = find(&state, &id).await?;
    let render = Render {
        proj: Projection::default(),
        show_secrets: flag(&q, "show_secrets"),
        max_result_size: None,
    };
    let v = render.value(&exec);
    match v.get(&name) {
        Some(attr) => Ok(Json(attr.clone())),
        None if serde_json::to_value(&exec)
            .ok()
            .is_some_and(|raw| raw.get(&name).is_none())
            && is_known_attr(&name) =>
        {
            Ok(Json(Value::Null))
        }
        None => Err(ApiError::bad_request(format!(
            "Invalid attribute \"{name}\" specified."
        ))),
    }
}

/// Attributes of the execution object that may be absent (unset) rather than unknown.
fn is_known_attr(name: &str) -> bool {
    matches!(
        name,
        "end_timestamp"
            | "elapsed_seconds"
            | "parent"
            | "children"
            | "web_url"
            | "delay"
            | "trigger"
            | "trigger_type"
            | "trigger_instance"
            | "rule"
    )
}

async fn children(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let root = find(&state, &id).await?;
    let depth: i64 = match qget(&q, "depth") {
        None => -1,
        Some(raw) => raw
            .parse()
            .map_err(|_| ApiError::bad_request(format!("Invalid depth \"{raw}\".")))?,
    };
    let render = Render::from_query(&q)?;
    let mut out = Vec::new();
    collect_children(&state, &root.id, depth, &render, &mut out).await?;
    let total = out.len() as u64;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", total.into());
    Ok(list_response(out, headers))
}

/// Depth-first pre-order, each level in request order (`depth` < 0 = unlimited, 0 = none).
async fn collect_children(
    state: &AppState,
    parent: &str,
    depth: i64,
    render: &Render,
    out: &mut Vec<Value>,
) -> ApiResult<()> {
    if depth == 0 {
        return Ok(());
    }
    // An explicit stack instead of recursion (async fns cannot recurse without boxing).
    let mut stack: Vec<(Execution, i64)> = children_of(state, parent)
        .await?
        .into_iter()
        .rev()
        .map(|k| (k, depth - 1))
        .collect();
    while let Some((exec, remaining)) = stack.pop() {
        out.push(render.value(&exec));
        if remaining != 0 {
            for k in children_of(state, &exec.id).await?.into_iter().rev() {
                stack.push((k, remaining - 1));
            }
        }
    }
    Ok(())
}

async fn children_of(state: &AppState, parent: &str) -> ApiResult<Vec<Execution>> {
    let filter = ExecutionFilter {
        parent: Some(Some(parent.to_string())),
        sort_asc: true,
        ..Default::default()
    };
    Ok(state.store().list_executions(&filter).await?.0)
}

// ----------------------------------------------------------------------------- cancel / status

async fn cancel(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let exec = find(&state, &id).await?;
    match state
        .engine()
        .cancel_execution(&exec.id, &requester.user)
        .await?
    {
        CancelOutcome::Canceled(e) => {
            tracing::info!(execution = %e.id, status = %e.status, user = %requester.user, "execution cancel requested");
            Ok(Json(Render::from_query(&q)?.value(&e)))
        }
        // StackStorm answers 200 with a faultstring here; the CLI prints it.
        CancelOutcome::AlreadyCompleted(e) => Ok(Json(
            json!({"faultstring": format!("Action cannot be canceled. State = {}.", e.status)}),
        )),
    }
}

const WORKFLOW_RUNNERS: &[&str] = &["orquesta", "action-chain"];

async fn update_status(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let exec = find(&state, &id).await?;
    let wanted = match body.get("status") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("'status' is a required property"))
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "{other} is not of type 'string'"
            )))
        }
    };
    let allowed = ["canceling", "canceled", "pausing", "paused", "resuming"];
    if !allowed.contains(&wanted.as_str()) {
        return Err(ApiError::bad_request(format!(
            "'{wanted}' is not one of ['canceling', 'canceled', 'pausing', 'paused', 'resuming']"
        )));
    }
    if exec.status.is_completed() {
        if exec.status == ExecStatus::Canceled && wanted.starts_with("cancel") {
            return Ok(Json(Render::from_query(&q)?.value(&exec)));
        }
        return Err(ApiError::bad_request(
            "Execution is already in completed state.",
        ));
    }
    match wanted.as_str() {
        "canceling" | "canceled" => match state
            .engine()
            .cancel_execution(&exec.id, &requester.user)
            .await?
        {
            CancelOutcome::Canceled(e) => Ok(Json(Render::from_query(&q)?.value(&e))),
            CancelOutcome::AlreadyCompleted(_) => Err(ApiError::bad_request(
                "Execution is already in completed state.",
            )),
        },
        other => {
            let verb = if other == "resuming" {
                "resume"
            } else {
                "pause"
            };
            let runner = exec.action.runner_type.as_str();
            if !WORKFLOW_RUNNERS.contains(&runner) {
                return Err(ApiError::bad_request(format!(
                    "Failed updating execution. Unable to {verb} liveaction \"{}\" because it is not supported by the \"{runner}\" runner.",
                    exec.liveaction.id
                )));
            }
            let updated = if verb == "pause" {
                state.engine().pause_execution(&exec.id).await?
            } else {
                state.engine().resume_execution(&exec.id).await?
            };
            tracing::info!(execution = %updated.id, status = %updated.status, user = %requester.user, "workflow {verb} requested");
            Ok(Json(Render::from_query(&q)?.value(&updated)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn store_filter_reads_st2_query() {
        let f = store_filter(&q(&[
            ("parent", "null"),
            ("status", "succeeded"),
            ("action", "core.local"),
            ("sort_asc", "True"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(f.parent, Some(None));
        assert_eq!(f.status, Some(ExecStatus::Succeeded));
        assert_eq!(f.action.as_deref(), Some("core.local"));
        assert!(f.sort_asc);
        let f = store_filter(&q(&[("parent", "abc")])).unwrap().unwrap();
        assert_eq!(f.parent, Some(Some("abc".into())));
        assert!(store_filter(&q(&[("status", "nope")])).unwrap().is_none());
        assert_eq!(
            store_filter(&q(&[("timestamp_gt", "x")]))
                .unwrap_err()
                .status(),
            400
        );
        assert!(local_filter(&q(&[("status", "x")])).is_none());
        assert!(local_filter(&q(&[("liveaction", "x")])).is_some());
    }

    #[test]
    fn delay_and_context_fields() {
        let body: Map<String, Value> =
            serde_json::from_value(json!({"delay": 500, "context": {"a": 1}})).unwrap();
        assert_eq!(delay_field(&body).unwrap(), Some(500));
        assert_eq!(object_field(&body, "context").unwrap()["a"], 1);
        let bad: Map<String, Value> =
            serde_json::from_value(json!({"delay": "x", "parameters": [1]})).unwrap();
        assert!(delay_field(&bad).is_err());
        assert!(object_field(&bad, "parameters").is_err());
        let mut h = HeaderMap::new();
        h.insert(
            "st2-context",
            r#"{"source_channel": "cli"}"#.parse().unwrap(),
        );
        assert_eq!(header_context(&h).unwrap()["source_channel"], "cli");
        h.insert("st2-context", "nope".parse().unwrap());
        assert!(header_context(&h).is_err());
    }
}

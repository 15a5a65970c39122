//! Triggers Gale emits when an execution completes (events.md §9.3):
//! `core.st2.generic.notifytrigger` per notify route and `core.st2.generic.actiontrigger`.
//!
//! They are driven by the engine's broadcast of execution updates. Loss window (documented in
//! COMPATIBILITY.md): a completion published while this listener lags more than the channel
//! capacity behind, or while the process dies between the completion commit and the emit,
//! produces no trigger instance — StackStorm has the same window between its liveaction
//! update and the notifier's message.

use crate::{emit, systypes, EmitContext, Inner};
use gale_engine::EngineEvent;
use gale_model::{ExecStatus, Execution};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Executions already notified; bounded (cleared when full — a repeat after that is only
/// possible for an execution that completes twice, which the engine never does).
const SEEN_CAP: usize = 100_000;

/// Emits in flight at once: the listener must drain the broadcast faster than executions
/// complete, so emits run concurrently (and share the store's group commits).
const IN_FLIGHT: usize = 256;

pub(crate) async fn run(inner: Arc<Inner>, mut events: broadcast::Receiver<EngineEvent>) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut tasks: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            _ = inner.stop.cancelled() => break,
        };
        let exec = match ev {
            Ok(EngineEvent::ExecutionUpdated(e)) | Ok(EngineEvent::ExecutionCreated(e)) => e,
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "execution updates missed; their action triggers are lost"
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if !exec.status.is_completed() || seen.contains(&exec.id) {
            continue;
        }
        if seen.len() >= SEEN_CAP {
            seen.clear();
        }
        seen.insert(exec.id.clone());
        while tasks.len() >= IN_FLIGHT {
            tasks.join_next().await;
        }
        let inner = inner.clone();
        tasks.spawn(async move {
            if let Err(e) = on_completed(&inner, &exec).await {
                tracing::error!(execution = %exec.id, error = %e, "cannot emit completion triggers");
            }
        });
    }
    // Completions already taken from the channel are still emitted.
    while tasks.join_next().await.is_some() {}
}

/// Python `str()` of an aware UTC datetime: `2024-01-10 12:35:00.123456+00:00` (no fraction
/// when the microseconds are 0).
pub fn py_datetime_str(ts: &gale_model::Timestamp) -> String {
    if ts.timestamp_subsec_micros() == 0 {
        ts.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    } else {
        ts.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
    }
}

fn iso(ts: &gale_model::Timestamp) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// The `core.st2.generic.actiontrigger` payload.
pub fn action_trigger_payload(exec: &Execution) -> Value {
    let parameters = gale_params::mask_parameters(&exec.runner, &exec.action, &exec.parameters);
    json!({
        "execution_id": exec.id,
        "status": exec.status.as_str(),
        "start_timestamp": py_datetime_str(&exec.start_timestamp),
        "action_name": exec.action.action_ref,
        "action_ref": exec.action.action_ref,
        "runner_ref": exec.runner.name,
        "parameters": parameters,
        "result": exec.result,
    })
}

/// StackStorm's notify rendering (`render_values` with strict undefined) of `message` and
/// `data`: context `st2kv`, `action_parameters`, `action_context`, `action_results`. On any
/// rendering error the unrendered message and data are kept (and the error logged).
fn render_notify(
    exec: &Execution,
    message: String,
    data: Map<String, Value>,
    provider: &dyn gale_expr::ContextProvider,
) -> (String, Map<String, Value>) {
    let ctx = json!({
        "action_parameters": exec.parameters,
        "action_context": exec.context,
        "action_results": exec.result,
    });
    let rendered = (|| -> Result<(String, Map<String, Value>), gale_expr::Error> {
        let m = match gale_expr::jinja::render_st2(&message, &ctx, provider)? {
            Value::String(s) => s,
            other => gale_model::py::py_str(&other),
        };
        let mut d = Map::new();
        for (k, v) in &data {
            d.insert(
                k.clone(),
                gale_expr::jinja::render_st2_value(v, &ctx, provider)?,
            );
        }
        Ok((m, d))
    })();
    match rendered {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(execution = %exec.id, error = %e, "notify message/data rendering failed; sent unrendered");
            (message, data)
        }
    }
}

/// One `notifytrigger` payload per route of the matching notify sections.
pub fn notify_payloads(exec: &Execution, notify: &Value) -> Vec<Value> {
    notify_payloads_with(exec, notify, &gale_expr::NoProvider)
}

/// [`notify_payloads`] with datastore lookups for `st2kv` in messages and data.
pub fn notify_payloads_with(
    exec: &Execution,
    notify: &Value,
    provider: &dyn gale_expr::ContextProvider,
) -> Vec<Value> {
    let status = exec.status;
    let sections: [(&str, bool, &str); 3] = [
        ("on_complete", true, "completed."),
        ("on_success", status == ExecStatus::Succeeded, "succeeded."),
        (
            "on_failure",
            matches!(
                status,
                ExecStatus::Failed | ExecStatus::Timeout | ExecStatus::Abandoned
            ),
            "failed.",
        ),
    ];
    let mut out = Vec::new();
    for (key, applies, verb) in sections {
        let Some(section) = notify.get(key).filter(|_| applies) else {
            continue;
        };
        let message = section
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("Action {} {verb}", exec.action.action_ref));
        let data = match section.get("data") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let (message, mut data) = render_notify(exec, message, data, provider);
        // Python `json.dumps(result)`: `", "` and `": "` separators.
        let result = gale_expr::functions::py_json_dumps(&exec.result, &Default::default());
        data.insert("result".into(), json!(result));
        let routes = section
            .get("routes")
            .or_else(|| section.get("channels"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let end = exec.end_timestamp.unwrap_or_else(gale_model::now);
        for route in routes {
            out.push(json!({
                "execution_id": exec.id,
                "status": status.as_str(),
                "start_timestamp": iso(&exec.start_timestamp),
                "end_timestamp": iso(&end),
                "action_ref": exec.action.action_ref,
                "runner_ref": exec.runner.name,
                "channel": route,
                "route": route,
                "message": message,
                "data": data,
            }));
        }
    }
    out
}

async fn on_completed(inner: &Inner, exec: &Execution) -> crate::Result<()> {
    let trace_id = match exec
        .context
        .get("trace_context")
        .and_then(|t| t.get("id_"))
        .and_then(Value::as_str)
    {
        Some(id) => Some(id.to_string()),
        None => inner
            .store
            .trace_of_execution(&exec.id)
            .await?
            .map(|t| t.id),
    };
    let ctx = || EmitContext {
        trace_tag: None,
        trace_id: trace_id.clone(),
        caused_by: Some(json!({"type": "action_execution", "id": exec.id})),
    };
    if let Some(notify) = exec.liveaction.notify.as_ref().filter(|n| !n.is_null()) {
        let provider = inner.provider.read().ok().map(|p| p.clone());
        let payloads = match &provider {
            Some(p) => notify_payloads_with(exec, notify, p.as_ref()),
            None => notify_payloads(exec, notify),
        };
        for payload in payloads {
            emit(inner, systypes::NOTIFY_TRIGGER, payload, ctx()).await?;
        }
    }
    if inner
        .opts
        .emit_when
        .iter()
        .any(|s| s == exec.status.as_str())
    {
        emit(
            inner,
            systypes::ACTION_TRIGGER,
            action_trigger_payload(exec),
            ctx(),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn python_datetime_str() {
        let t = chrono::Utc
            .with_ymd_and_hms(2024, 1, 10, 12, 35, 0)
            .unwrap();
        assert_eq!(py_datetime_str(&t), "2024-01-10 12:35:00+00:00");
        let t = t + chrono::Duration::microseconds(123_456);
        assert_eq!(py_datetime_str(&t), "2024-01-10 12:35:00.123456+00:00");
        assert_eq!(iso(&t), "2024-01-10T12:35:00.123456+00:00");
    }
}

#[cfg(test)]
mod payload_tests {
    use super::*;

    fn execution(status: &str) -> Execution {
        serde_json::from_value(json!({
            "id": "e1",
            "action": {"name": "local", "pack": "core", "ref": "core.local", "uid": "action:core:local",
                       "runner_type": "local-shell-cmd",
                       "parameters": {"token": {"type": "string", "secret": true}}},
            "runner": {"name": "local-shell-cmd", "uid": "runner_type:local-shell-cmd"},
            "liveaction": {"id": "l1", "action": "core.local"},
            "status": status,
            "start_timestamp": "2024-01-10T12:35:00.123456Z",
            "end_timestamp": "2024-01-10T12:35:01.000000Z",
            "parameters": {"cmd": "echo", "token": "s3cret"},
            "result": {"stdout": "hi"},
            "context": {}
        }))
        .unwrap()
    }

    #[test]
    fn action_trigger_payload_masks_secrets() {
        let p = action_trigger_payload(&execution("succeeded"));
        assert_eq!(p["execution_id"], json!("e1"));
        assert_eq!(p["status"], json!("succeeded"));
        assert_eq!(
            p["start_timestamp"],
            json!("2024-01-10 12:35:00.123456+00:00")
        );
        assert_eq!(p["action_name"], json!("core.local"));
        assert_eq!(p["runner_ref"], json!("local-shell-cmd"));
        assert_eq!(p["parameters"], json!({"cmd": "echo", "token": "********"}));
        assert_eq!(p["result"], json!({"stdout": "hi"}));
    }

    #[test]
    fn notify_routes_per_section() {
        let notify = json!({
            "on_complete": {"routes": ["slack", "mail"]},
            "on_success": {"message": "yay {{ action_results.stdout }}", "routes": ["ok"],
                           "data": {"k": "v", "n": 5, "cmd": "{{ action_parameters.cmd }}"}},
            "on_failure": {"message": "{{ nope }}", "routes": ["pager"], "data": {"x": "{{ nope }}"}},
        });
        let ok = notify_payloads(&execution("succeeded"), &notify);
        let routes: Vec<_> = ok.iter().map(|p| p["route"].clone()).collect();
        assert_eq!(routes, [json!("slack"), json!("mail"), json!("ok")]);
        assert_eq!(ok[0]["message"], json!("Action core.local completed."));
        assert_eq!(ok[2]["message"], json!("yay hi"));
        assert_eq!(ok[2]["data"]["k"], json!("v"));
        assert_eq!(
            ok[2]["data"]["n"],
            json!(5),
            "unchanged values keep their type"
        );
        assert_eq!(ok[2]["data"]["cmd"], json!("echo"));
        assert_eq!(ok[2]["data"]["result"], json!("{\"stdout\": \"hi\"}"));
        assert_eq!(
            ok[0]["end_timestamp"],
            json!("2024-01-10T12:35:01.000000+00:00")
        );
        // Canceled is not a failure for notify.
        let canceled = notify_payloads(&execution("canceled"), &notify);
        assert_eq!(canceled.len(), 2);
        let failed = notify_payloads(&execution("failed"), &notify);
        // Strict undefined: the unrendered message and data are sent.
        assert_eq!(failed.last().unwrap()["message"], json!("{{ nope }}"));
        assert_eq!(failed.last().unwrap()["data"]["x"], json!("{{ nope }}"));
    }
}

//! `gale execution list|get|cancel|pause|resume|output|re-run`.

use super::client::{q, Client, ClientOpts};
use super::output;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct ExecutionArgs {
    #[command(subcommand)]
    cmd: ExecutionCmd,
}

#[derive(Subcommand)]
enum ExecutionCmd {
    /// List top-level executions, newest first.
    List {
        /// How many to show.
        #[arg(short = 'n', long = "last", default_value_t = 50)]
        last: i64,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(short, long)]
        json: bool,
    },
    /// Show one execution.
    Get {
        id: String,
        #[arg(short, long)]
        json: bool,
        /// Show child task executions of a workflow.
        #[arg(long)]
        show_tasks: bool,
    },
    /// Cancel executions.
    Cancel { ids: Vec<String> },
    /// Pause workflow executions (orquesta, action-chain); tasks already running finish.
    Pause {
        ids: Vec<String>,
        #[arg(short, long)]
        json: bool,
    },
    /// Resume paused workflow executions.
    Resume {
        ids: Vec<String>,
        #[arg(short, long)]
        json: bool,
    },
    /// Print the stored stdout/stderr of an execution.
    Output {
        id: String,
        /// stdout or stderr.
        #[arg(long = "type")]
        output_type: Option<String>,
    },
    /// Run an execution again with the same (or overridden) parameters.
    ReRun {
        id: String,
        params: Vec<String>,
        #[arg(short = 'a', long = "async")]
        async_: bool,
        #[arg(short, long)]
        json: bool,
    },
}

/// Statuses st2's sync run keeps polling on, plus `delayed`/`pausing`/`resuming` which are
/// also unfinished (st2 stops on those, printing an unfinished execution; we wait).
fn unfinished(status: &str) -> bool {
    matches!(
        status,
        "requested" | "scheduled" | "running" | "canceling" | "delayed" | "pausing" | "resuming"
    )
}

pub fn wait_for(c: &Client, id: &str) -> Result<Value> {
    let mut delay = Duration::from_millis(5);
    loop {
        let ex = c.get(&format!("/api/v1/executions/{id}"))?;
        let status = ex.get("status").and_then(Value::as_str).unwrap_or_default();
        if !unfinished(status) {
            return Ok(ex);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

const GET_ATTRS: &[&str] = &[
    "id",
    "action.ref",
    "context.user",
    "parameters",
    "status",
    "start_timestamp",
    "end_timestamp",
    "result",
    "log",
];

pub fn print_execution(ex: &Value, as_json: bool) {
    if as_json {
        output::json(ex);
        return;
    }
    let mut shown = ex.clone();
    if let (Some(obj), Some(elapsed)) = (
        shown.as_object_mut(),
        ex.get("elapsed_seconds").and_then(Value::as_f64),
    ) {
        if let Some(Value::String(s)) = obj.get("status").cloned() {
            obj.insert(
                "status".into(),
                json!(format!("{s} ({}s elapsed)", elapsed.round() as i64)),
            );
        }
    }
    output::record(&shown, &GET_ATTRS[..GET_ATTRS.len() - 1]);
}

pub fn execution(opts: &ClientOpts, args: ExecutionArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        ExecutionCmd::List {
            last,
            action,
            status,
            user,
            json,
        } => {
            let mut path = format!("/api/v1/executions/?limit={last}&parent=null&sort_desc=True");
            for (k, v) in [("action", action), ("status", status), ("user", user)] {
                if let Some(v) = v {
                    path.push_str(&format!("&{k}={}", q(&v)));
                }
            }
            let (list, total) = c.get_with_total(&path)?;
            let rows = list.as_array().cloned().unwrap_or_default();
            if json {
                output::json(&list);
            } else {
                output::table(
                    &rows,
                    &[
                        "id",
                        "action.ref",
                        "context.user",
                        "status",
                        "start_timestamp",
                        "end_timestamp",
                    ],
                );
                if let Some(total) = total {
                    if total as usize > rows.len() {
                        println!("Note: Only first {} action executions are displayed. Use -n/--last flag for more results.", rows.len());
                    }
                }
            }
        }
        ExecutionCmd::Get {
            id,
            json,
            show_tasks,
        } => {
            let ex = c
                .get(&format!("/api/v1/executions/{id}"))
                .map_err(|e| not_found(&id, e))?;
            print_execution(&ex, json);
            if show_tasks {
                let children = c.get(&format!("/api/v1/executions/{id}/children/?depth=1"))?;
                let rows = task_rows(&children);
                output::table(
                    &rows,
                    &["id", "status", "task", "action.ref", "start_timestamp"],
                );
            }
        }
        ExecutionCmd::Cancel { ids } => {
            for id in ids {
                let resp = c.delete(&format!("/api/v1/executions/{id}"))?;
                match resp.get("faultstring").and_then(Value::as_str) {
                    Some(msg) => println!("{msg}"),
                    None => println!("action execution with id {id} canceled."),
                }
            }
        }
        ExecutionCmd::Pause { ids, json } => {
            for id in ids {
                let ex = c.put(
                    &format!("/api/v1/executions/{id}"),
                    &json!({"status": "pausing"}),
                )?;
                print_execution(&ex, json);
            }
        }
        ExecutionCmd::Resume { ids, json } => {
            for id in ids {
                let ex = c.put(
                    &format!("/api/v1/executions/{id}"),
                    &json!({"status": "resuming"}),
                )?;
                print_execution(&ex, json);
            }
        }
        ExecutionCmd::Output { id, output_type } => {
            let mut path = format!("/api/v1/executions/{id}/output");
            if let Some(t) = output_type {
                path.push_str(&format!("?output_type={}", q(&t)));
            }
            print!("{}", c.get_text(&path)?);
        }
        ExecutionCmd::ReRun {
            id,
            params,
            async_,
            json,
        } => {
            let original = c
                .get(&format!("/api/v1/executions/{id}"))
                .map_err(|e| not_found(&id, e))?;
            let params =
                super::run::cast_params(&params, &original["action"], &original["runner"])?;
            let ex = c.post(
                &format!("/api/v1/executions/{id}/re_run"),
                &json!({"parameters": params}),
            )?;
            let new_id = ex
                .get("id")
                .and_then(Value::as_str)
                .context("the server returned an execution without id")?
                .to_string();
            if async_ {
                println!("To get the results, execute:\n gale execution get {new_id}");
                return Ok(ExitCode::SUCCESS);
            }
            let ex = wait_for(&c, &new_id)?;
            print_execution(&ex, json);
            if ex.get("status").and_then(Value::as_str) == Some("failed") {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Child executions with a `task` column: the orquesta task name or the action-chain node.
fn task_rows(children: &Value) -> Vec<Value> {
    let mut rows = children.as_array().cloned().unwrap_or_default();
    for r in &mut rows {
        let task = output::lookup(r, "context.orquesta.task_name")
            .or_else(|| output::lookup(r, "context.chain.name"))
            .cloned()
            .unwrap_or(Value::Null);
        if let Some(m) = r.as_object_mut() {
            m.insert("task".into(), task);
        }
    }
    rows
}

fn not_found(id: &str, e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<super::client::ApiError>() {
        Some(api) if api.status.as_u16() == 404 => {
            anyhow::anyhow!("Action Execution \"{id}\" is not found.")
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_column_names_orquesta_tasks_and_chain_nodes() {
        let rows = task_rows(&json!([
            {"id": "1", "context": {"orquesta": {"task_name": "t1"}}},
            {"id": "2", "context": {"chain": {"name": "c1"}}},
            {"id": "3", "context": {}}
        ]));
        let tasks: Vec<&Value> = rows.iter().map(|r| &r["task"]).collect();
        assert_eq!(tasks, [&json!("t1"), &json!("c1"), &Value::Null]);
    }
}

//! Packs: list, get by ref or id, and `POST /packs/register` (`st2 pack register`), which
//! resolves each entry as a directory (absolute path) or a pack name under the packs dirs.

use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::query::{Page, Params, Projection};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use gale_model::Pack;
use serde_json::{json, Value};
use std::path::PathBuf;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/packs", get(list))
        .route("/packs/register", post(register))
        .route("/packs/:ref_or_id", get(get_one))
}

async fn list(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, Some(100), state.config().page_cap())?;
    let proj = Projection::from_query(&q);
    let mut packs = state.store().list_packs().await?;
    packs.sort_by(|a, b| a.pack_ref.cmp(&b.pack_ref));
    let (items, total) = page.apply(packs);
    let items = items
        .into_iter()
        .map(|p| proj.apply(to_value(&p)))
        .collect();
    Ok(list_response(items, page.headers(total)))
}

async fn get_one(
    State(state): State<AppState>,
    Path(ref_or_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let pack = state.store().get_pack(&ref_or_id).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "Unable to identify resource with ref_or_id \"{ref_or_id}\"."
        ))
    })?;
    Ok(Json(to_value(&pack)))
}

fn to_value(p: &Pack) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

/// Resource types `st2 pack register --types` may name. Gale registers runners and actions;
/// the others are accepted and counted as zero so the CLI's table stays complete.
const COUNT_KEYS: &[&str] = &[
    "runners",
    "actions",
    "triggers",
    "sensors",
    "rules",
    "rule_types",
    "aliases",
    "policy_types",
    "policies",
    "configs",
];

/// Entries of `packs`: an absolute path is that directory; a name is looked up under each packs
/// base dir, first match wins. With no entries every pack directory under the base dirs counts.
fn resolve(state: &AppState, entries: &[String]) -> ApiResult<Vec<PathBuf>> {
    let bases = &state.config().packs_dirs;
    if entries.is_empty() {
        let mut dirs = Vec::new();
        for base in bases {
            let Ok(rd) = std::fs::read_dir(base) else {
                continue;
            };
            let mut found: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("pack.yaml").is_file())
                .collect();
            found.sort();
            dirs.extend(found);
        }
        return Ok(dirs);
    }
    entries
        .iter()
        .map(|entry| {
            let p = PathBuf::from(entry);
            if p.is_absolute() {
                return if p.is_dir() {
                    Ok(p)
                } else {
                    Err(ApiError::bad_request(format!(
                        "Pack directory \"{entry}\" doesn't exist."
                    )))
                };
            }
            bases
                .iter()
                .map(|b| b.join(entry))
                .find(|d| d.is_dir())
                .ok_or_else(|| {
                    let searched: Vec<String> =
                        bases.iter().map(|b| b.display().to_string()).collect();
                    ApiError::bad_request(format!(
                        "Pack \"{entry}\" not found. Searched in: {}",
                        if searched.is_empty() {
                            "(no packs directories configured)".into()
                        } else {
                            searched.join(", ")
                        }
                    ))
                })
        })
        .collect()
}

async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let body = if body.is_null() { json!({}) } else { body };
    let entries: Vec<String> = match body.get("packs") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| ApiError::bad_request(format!("{v} is not of type 'array' of strings")))?,
    };
    let fail_on_failure = body
        .get("fail_on_failure")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let dirs = resolve(&state, &entries)?;
    let (mut runners, mut actions) = (0usize, 0usize);
    let (mut rules, mut triggers) = (0usize, 0usize);
    let mut errors: Vec<String> = Vec::new();
    for dir in &dirs {
        let report = state
            .engine()
            .register_pack_dir(dir, fail_on_failure)
            .await?;
        for err in &report.errors {
            tracing::warn!(pack = %dir.display(), error = %err, "pack registration problem");
        }
        runners += report.runners;
        actions += report.actions;
        errors.extend(report.errors);
        // Trigger types and rules register with the pack, after its actions.
        if let Some(ev) = state.events() {
            let report = ev.register_pack_dir(dir, fail_on_failure).await?;
            rules += report.rules;
            triggers += report.trigger_types;
            errors.extend(report.errors);
        }
    }
    let mut counts = serde_json::Map::new();
    for key in COUNT_KEYS {
        let n = match *key {
            "runners" => runners,
            "actions" => actions,
            "rules" => rules,
            "triggers" => triggers,
            _ => 0,
        };
        counts.insert((*key).into(), json!(n));
    }
    // StackStorm's answer is counts only; with `fail_on_failure: false` (which the st2 CLI never
    // sends) Gale also lists the files it skipped, so the caller can report every one of them.
    if !fail_on_failure {
        counts.insert("errors".into(), json!(errors));
    }
    Ok(Json(Value::Object(counts)))
}

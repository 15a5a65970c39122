//! `gale action|pack|runner ...`: list, get, and pack registration.

use super::client::{q, Client, ClientOpts};
use super::output;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Args)]
pub struct ActionArgs {
    #[command(subcommand)]
    cmd: ActionCmd,
}

#[derive(Subcommand)]
enum ActionCmd {
    List {
        #[arg(short, long)]
        pack: Option<String>,
        #[arg(short, long)]
        json: bool,
    },
    Get {
        action: String,
        #[arg(short, long)]
        json: bool,
    },
    /// Run an action (same as `gale run`).
    Execute(super::run::RunArgs),
}

pub fn action(opts: &ClientOpts, args: ActionArgs) -> Result<ExitCode> {
    match args.cmd {
        ActionCmd::List { pack, json } => {
            let c = Client::new(opts)?;
            let mut path = "/api/v1/actions?include_attributes=ref,pack,description".to_string();
            if let Some(p) = pack {
                path.push_str(&format!("&pack={}", q(&p)));
            }
            list(&c, &path, &["ref", "pack", "description"], json)
        }
        ActionCmd::Get { action, json } => {
            let c = Client::new(opts)?;
            get(
                &c,
                &format!("/api/v1/actions/{action}"),
                "Action",
                &action,
                json,
                &[
                    "id",
                    "uid",
                    "ref",
                    "pack",
                    "name",
                    "description",
                    "enabled",
                    "entry_point",
                    "runner_type",
                    "parameters",
                ],
            )
        }
        ActionCmd::Execute(run) => super::run::run(opts, run),
    }
}

#[derive(Args)]
pub struct PackArgs {
    #[command(subcommand)]
    cmd: PackCmd,
}

#[derive(Subcommand)]
enum PackCmd {
    List {
        #[arg(short, long)]
        json: bool,
    },
    Get {
        pack: String,
        #[arg(short, long)]
        json: bool,
    },
    /// Register packs from directories (absolute or relative paths) or by name.
    Register {
        packs: Vec<String>,
        /// Register only these content types.
        #[arg(long)]
        types: Vec<String>,
        /// Stop at the first invalid file and register nothing of that pack (StackStorm's
        /// default). Without it every invalid file is reported and the valid ones registered.
        #[arg(long)]
        fail_on_failure: bool,
    },
}

pub fn pack(opts: &ClientOpts, args: PackArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        PackCmd::List { json } => list(
            &c,
            "/api/v1/packs",
            &["ref", "name", "description", "version", "author"],
            json,
        ),
        PackCmd::Get { pack, json } => get(
            &c,
            &format!("/api/v1/packs/{pack}"),
            "Pack",
            &pack,
            json,
            &[
                "name",
                "version",
                "author",
                "email",
                "keywords",
                "description",
                "path",
            ],
        ),
        PackCmd::Register {
            packs,
            types,
            fail_on_failure,
        } => {
            // Relative paths are resolved here: the server is on the same host.
            let packs: Vec<String> = packs
                .into_iter()
                .map(|p| {
                    let path = std::path::Path::new(&p);
                    if path.exists() {
                        std::fs::canonicalize(path)
                            .map(|a| a.display().to_string())
                            .unwrap_or(p)
                    } else {
                        p
                    }
                })
                .collect();
            let mut body = json!({});
            if !packs.is_empty() {
                body["packs"] = json!(packs);
            }
            if !types.is_empty() {
                body["types"] = json!(types);
            }
            body["fail_on_failure"] = json!(fail_on_failure);
            let mut counts = c
                .post("/api/v1/packs/register", &body)
                .context("pack registration failed")?;
            let errors = counts.as_object_mut().and_then(|m| m.remove("errors"));
            let rows: Vec<Value> = counts
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| json!({"property": k, "value": v}))
                        .collect()
                })
                .unwrap_or_default();
            output::table(&rows, &["property", "value"]);
            let errors: Vec<String> = errors
                .and_then(|e| serde_json::from_value(e).ok())
                .unwrap_or_default();
            for e in &errors {
                eprintln!("ERROR: {e}");
            }
            Ok(if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

#[derive(Args)]
pub struct RunnerArgs {
    #[command(subcommand)]
    cmd: RunnerCmd,
}

#[derive(Subcommand)]
enum RunnerCmd {
    List {
        #[arg(short, long)]
        json: bool,
    },
    Get {
        name: String,
        #[arg(short, long)]
        json: bool,
    },
}

pub fn runner(opts: &ClientOpts, args: RunnerArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        RunnerCmd::List { json } => list(&c, "/api/v1/runnertypes", &["name", "description"], json),
        RunnerCmd::Get { name, json } => get(
            &c,
            &format!("/api/v1/runnertypes/{name}"),
            "Runner",
            &name,
            json,
            &[
                "name",
                "description",
                "enabled",
                "runner_parameters",
                "output_key",
            ],
        ),
    }
}

fn list(c: &Client, path: &str, cols: &[&str], as_json: bool) -> Result<ExitCode> {
    let v = c.get(path)?;
    if as_json {
        output::json(&v);
    } else {
        output::table(v.as_array().map(Vec::as_slice).unwrap_or(&[]), cols);
    }
    Ok(ExitCode::SUCCESS)
}

fn get(
    c: &Client,
    path: &str,
    kind: &str,
    key: &str,
    as_json: bool,
    attrs: &[&str],
) -> Result<ExitCode> {
    let v = match c.get(path) {
        Ok(v) => v,
        Err(e) => {
            if let Some(api) = e.downcast_ref::<super::client::ApiError>() {
                if api.status.as_u16() == 404 {
                    eprintln!("{kind} \"{key}\" is not found.");
                    return Ok(ExitCode::from(1));
                }
            }
            return Err(e);
        }
    };
    if as_json {
        output::json(&v);
    } else {
        output::record(&v, attrs);
    }
    Ok(ExitCode::SUCCESS)
}

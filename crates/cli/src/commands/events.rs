//! `gale rule|trigger|trigger-instance|rule-enforcement|webhook|trace ...`: the event side's
//! client commands, shaped like the st2 CLI's.

use super::client::{q, Client, ClientOpts};
use super::output;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

fn list(c: &Client, path: &str, cols: &[&str], as_json: bool) -> Result<ExitCode> {
    let v = c.get(path)?;
    if as_json {
        output::json(&v);
    } else {
        output::table(v.as_array().map(Vec::as_slice).unwrap_or(&[]), cols);
    }
    Ok(ExitCode::SUCCESS)
}

fn show(v: &Value, attrs: &[&str], as_json: bool) -> ExitCode {
    if as_json {
        output::json(v);
    } else {
        output::record(v, attrs);
    }
    ExitCode::SUCCESS
}

fn get(
    c: &Client,
    path: &str,
    kind: &str,
    key: &str,
    attrs: &[&str],
    as_json: bool,
) -> Result<ExitCode> {
    match c.get(path) {
        Ok(v) => Ok(show(&v, attrs, as_json)),
        Err(e) => {
            if let Some(api) = e.downcast_ref::<super::client::ApiError>() {
                if api.status.as_u16() == 404 {
                    eprintln!("{kind} \"{key}\" is not found.");
                    return Ok(ExitCode::from(1));
                }
            }
            Err(e)
        }
    }
}

/// `?a=x&b=y` from the given optional filters.
fn query(base: &str, filters: &[(&str, &Option<String>)]) -> String {
    let mut path = base.to_string();
    let mut sep = if base.contains('?') { '&' } else { '?' };
    for (name, value) in filters {
        if let Some(v) = value {
            path.push_str(&format!("{sep}{name}={}", q(v)));
            sep = '&';
        }
    }
    path
}

fn read_doc(path: &PathBuf) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML or JSON", path.display()))
}

const RULE_ATTRS: &[&str] = &[
    "id",
    "uid",
    "ref",
    "pack",
    "name",
    "description",
    "enabled",
    "trigger",
    "criteria",
    "action",
    "tags",
];

#[derive(Args)]
pub struct RuleArgs {
    #[command(subcommand)]
    cmd: RuleCmd,
}

#[derive(Subcommand)]
enum RuleCmd {
    List {
        #[arg(short, long)]
        pack: Option<String>,
        #[arg(long)]
        trigger: Option<String>,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(short, long)]
        json: bool,
    },
    Get {
        rule: String,
        #[arg(short, long)]
        json: bool,
    },
    /// Create a rule from a YAML/JSON file.
    Create {
        file: PathBuf,
        #[arg(short, long)]
        json: bool,
    },
    /// Replace a rule with a YAML/JSON file.
    Update {
        rule: String,
        file: PathBuf,
        #[arg(short, long)]
        json: bool,
    },
    Delete {
        rule: String,
    },
    Enable {
        rule: String,
    },
    Disable {
        rule: String,
    },
}

pub fn rule(opts: &ClientOpts, args: RuleArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        RuleCmd::List {
            pack,
            trigger,
            action,
            enabled,
            json,
        } => {
            let enabled = enabled.map(|b| b.to_string());
            let path = query(
                "/api/v1/rules",
                &[
                    ("pack", &pack),
                    ("trigger", &trigger),
                    ("action", &action),
                    ("enabled", &enabled),
                ],
            );
            list(&c, &path, &["ref", "pack", "description", "enabled"], json)
        }
        RuleCmd::Get { rule, json } => get(
            &c,
            &format!("/api/v1/rules/{rule}"),
            "Rule",
            &rule,
            RULE_ATTRS,
            json,
        ),
        RuleCmd::Create { file, json } => {
            let v = c.post("/api/v1/rules", &read_doc(&file)?)?;
            Ok(show(&v, RULE_ATTRS, json))
        }
        RuleCmd::Update { rule, file, json } => {
            let v = c.put(&format!("/api/v1/rules/{rule}"), &read_doc(&file)?)?;
            Ok(show(&v, RULE_ATTRS, json))
        }
        RuleCmd::Delete { rule } => {
            c.delete(&format!("/api/v1/rules/{rule}"))?;
            println!("Resource with id \"{rule}\" has been successfully deleted.");
            Ok(ExitCode::SUCCESS)
        }
        RuleCmd::Enable { rule } => set_enabled(&c, &rule, true),
        RuleCmd::Disable { rule } => set_enabled(&c, &rule, false),
    }
}

fn set_enabled(c: &Client, rule: &str, enabled: bool) -> Result<ExitCode> {
    let mut doc = c.get(&format!("/api/v1/rules/{rule}"))?;
    doc["enabled"] = json!(enabled);
    let v = c.put(&format!("/api/v1/rules/{rule}"), &doc)?;
    Ok(show(&v, &["ref", "enabled"], false))
}

#[derive(Args)]
pub struct TriggerArgs {
    #[command(subcommand)]
    cmd: TriggerCmd,
}

#[derive(Subcommand)]
enum TriggerCmd {
    /// Trigger types.
    List {
        #[arg(short, long)]
        pack: Option<String>,
        #[arg(short, long)]
        json: bool,
    },
    Get {
        trigger: String,
        #[arg(short, long)]
        json: bool,
    },
}

pub fn trigger(opts: &ClientOpts, args: TriggerArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        TriggerCmd::List { pack, json } => list(
            &c,
            &query("/api/v1/triggertypes", &[("pack", &pack)]),
            &["ref", "pack", "description"],
            json,
        ),
        TriggerCmd::Get { trigger, json } => get(
            &c,
            &format!("/api/v1/triggertypes/{trigger}"),
            "Trigger",
            &trigger,
            &[
                "id",
                "ref",
                "pack",
                "name",
                "description",
                "parameters_schema",
                "payload_schema",
            ],
            json,
        ),
    }
}

#[derive(Args)]
pub struct TriggerInstanceArgs {
    #[command(subcommand)]
    cmd: TriggerInstanceCmd,
}

#[derive(Subcommand)]
enum TriggerInstanceCmd {
    List {
        /// Trigger ref(s), comma-separated.
        #[arg(long)]
        trigger: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(short = 'n', long, default_value_t = 50)]
        last: usize,
        #[arg(short, long)]
        json: bool,
    },
    Get {
        id: String,
        #[arg(short, long)]
        json: bool,
    },
    /// Dispatch a stored instance's trigger and payload again.
    ReEmit { id: String },
}

pub fn trigger_instance(opts: &ClientOpts, args: TriggerInstanceArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        TriggerInstanceCmd::List {
            trigger,
            status,
            last,
            json,
        } => {
            let base = format!("/api/v1/triggerinstances?limit={last}");
            let path = query(&base, &[("trigger", &trigger), ("status", &status)]);
            list(
                &c,
                &path,
                &["id", "trigger", "occurrence_time", "status"],
                json,
            )
        }
        TriggerInstanceCmd::Get { id, json } => get(
            &c,
            &format!("/api/v1/triggerinstances/{id}"),
            "Trigger instance",
            &id,
            &["id", "trigger", "occurrence_time", "payload", "status"],
            json,
        ),
        TriggerInstanceCmd::ReEmit { id } => {
            let v = c.post(
                &format!("/api/v1/triggerinstances/{id}/re_emit"),
                &json!({}),
            )?;
            println!("{}", v["message"].as_str().unwrap_or(""));
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Args)]
pub struct RuleEnforcementArgs {
    #[command(subcommand)]
    cmd: RuleEnforcementCmd,
}

#[derive(Subcommand)]
enum RuleEnforcementCmd {
    List {
        /// Rule ref.
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        trigger_instance: Option<String>,
        #[arg(long)]
        execution: Option<String>,
        #[arg(short = 'n', long, default_value_t = 50)]
        last: usize,
        #[arg(short, long)]
        json: bool,
    },
    Get {
        id: String,
        #[arg(short, long)]
        json: bool,
    },
}

pub fn rule_enforcement(opts: &ClientOpts, args: RuleEnforcementArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        RuleEnforcementCmd::List {
            rule,
            trigger_instance,
            execution,
            last,
            json,
        } => {
            let base = format!("/api/v1/ruleenforcements?limit={last}");
            let path = query(
                &base,
                &[
                    ("rule_ref", &rule),
                    ("trigger_instance", &trigger_instance),
                    ("execution", &execution),
                ],
            );
            list(
                &c,
                &path,
                &[
                    "id",
                    "rule.ref",
                    "trigger_instance_id",
                    "execution_id",
                    "enforced_at",
                    "status",
                ],
                json,
            )
        }
        RuleEnforcementCmd::Get { id, json } => get(
            &c,
            &format!("/api/v1/ruleenforcements/{id}"),
            "Rule enforcement",
            &id,
            &[
                "id",
                "rule.ref",
                "trigger_instance_id",
                "execution_id",
                "failure_reason",
                "enforced_at",
                "status",
            ],
            json,
        ),
    }
}

#[derive(Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    cmd: WebhookCmd,
}

#[derive(Subcommand)]
enum WebhookCmd {
    List {
        #[arg(short, long)]
        json: bool,
    },
    Get {
        url: String,
        #[arg(short, long)]
        json: bool,
    },
    /// POST a JSON body to a webhook (`st2` for the generic one).
    Post {
        url: String,
        /// JSON body.
        #[arg(long, default_value = "{}")]
        body: String,
    },
}

pub fn webhook(opts: &ClientOpts, args: WebhookArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        WebhookCmd::List { json } => list(
            &c,
            "/api/v1/webhooks",
            &["parameters.url", "type", "ref"],
            json,
        ),
        WebhookCmd::Get { url, json } => get(
            &c,
            &format!("/api/v1/webhooks/{url}"),
            "Webhook",
            &url,
            &["id", "ref", "type", "parameters"],
            json,
        ),
        WebhookCmd::Post { url, body } => {
            let body: Value = serde_json::from_str(&body).context("--body is not JSON")?;
            let v = c.post(&format!("/api/v1/webhooks/{url}"), &body)?;
            output::json(&v);
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Args)]
pub struct TraceArgs {
    #[command(subcommand)]
    cmd: TraceCmd,
}

#[derive(Subcommand)]
enum TraceCmd {
    List {
        #[arg(long)]
        trace_tag: Option<String>,
        #[arg(long)]
        execution: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        trigger_instance: Option<String>,
        #[arg(short = 'n', long, default_value_t = 50)]
        last: usize,
        #[arg(short, long)]
        json: bool,
    },
    Get {
        id: String,
        #[arg(short, long)]
        json: bool,
    },
}

pub fn trace(opts: &ClientOpts, args: TraceArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        TraceCmd::List {
            trace_tag,
            execution,
            rule,
            trigger_instance,
            last,
            json,
        } => {
            let base = format!("/api/v1/traces?limit={last}");
            let path = query(
                &base,
                &[
                    ("trace_tag", &trace_tag),
                    ("execution", &execution),
                    ("rule", &rule),
                    ("trigger_instance", &trigger_instance),
                ],
            );
            list(
                &c,
                &path,
                &["id", "uid", "trace_tag", "start_timestamp"],
                json,
            )
        }
        TraceCmd::Get { id, json } => get(
            &c,
            &format!("/api/v1/traces/{id}"),
            "Trace",
            &id,
            &[
                "id",
                "trace_tag",
                "trigger_instances",
                "rules",
                "action_executions",
                "start_timestamp",
            ],
            json,
        ),
    }
}

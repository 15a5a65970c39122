//! `gale run REF k=v ...` (and `gale action execute`): cast `k=v` strings by the action's and
//! runner's parameter types as the st2 CLI does, request the execution, and unless `--async`
//! wait for it and print it.

use super::client::{q, Client, ClientOpts};
use super::execution::{print_execution, wait_for};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Map, Value};
use std::process::ExitCode;

#[derive(Args)]
pub struct RunArgs {
    /// Action reference, e.g. core.local.
    pub action: String,
    /// Parameters as key=value; a word without `=` and everything after it become `cmd`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub params: Vec<String>,
    /// Do not wait for the execution to finish.
    #[arg(short = 'a', long = "async")]
    pub async_: bool,
    /// Print JSON.
    #[arg(short, long)]
    pub json: bool,
    /// Delay in milliseconds before the execution is scheduled.
    #[arg(long)]
    pub delay: Option<u64>,
}

/// Flags written after the parameters (`gale run core.local cmd=x -j`) land in the trailing
/// list; take the ones `run` knows back out, up to a `--` separator.
fn take_trailing_flags(args: &mut RunArgs) {
    let mut kept = Vec::with_capacity(args.params.len());
    let mut literal = false;
    for p in std::mem::take(&mut args.params) {
        match p.as_str() {
            "--" if !literal => literal = true,
            "-j" | "--json" if !literal => args.json = true,
            "-a" | "--async" if !literal => args.async_ = true,
            _ => kept.push(p),
        }
    }
    args.params = kept;
}

pub fn run(opts: &ClientOpts, mut args: RunArgs) -> Result<ExitCode> {
    take_trailing_flags(&mut args);
    let c = Client::new(opts)?;
    let action = c
        .get(&format!("/api/v1/actions/{}", args.action))
        .map_err(|_| {
            anyhow!(
                "Resource with id or reference \"{}\" doesn't exist.",
                args.action
            )
        })?;
    let runner_name = action
        .get("runner_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let runners = c.get(&format!("/api/v1/runnertypes/?name={}", q(runner_name)))?;
    let runner = runners
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or(Value::Null);
    let params = cast_params(&args.params, &action, &runner)?;
    let mut body = json!({"action": args.action, "parameters": params, "user": null});
    if let Some(d) = args.delay {
        body["delay"] = json!(d);
    }
    let ex = c.post("/api/v1/executions", &body)?;
    let id = ex
        .get("id")
        .and_then(Value::as_str)
        .context("the server returned an execution without id")?
        .to_string();
    if args.async_ {
        println!("To get the results, execute:\n gale execution get {id}");
        return Ok(ExitCode::SUCCESS);
    }
    let ex = wait_for(&c, &id)?;
    print_execution(&ex, args.json);
    // As st2: exit 1 only for `failed`.
    let failed = ex.get("status").and_then(Value::as_str) == Some("failed");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The declared type of a parameter: runner parameters take precedence (st2 CLI behaviour).
fn param_type<'a>(name: &str, action: &'a Value, runner: &'a Value) -> Option<&'a str> {
    runner
        .get("runner_parameters")
        .and_then(|p| p.get(name))
        .or_else(|| action.get("parameters").and_then(|p| p.get(name)))
        .and_then(|spec| spec.get("type"))
        .and_then(Value::as_str)
}

/// st2 CLI casting of `k=v` arguments (actions.md §2.3b).
pub fn cast_params(args: &[String], action: &Value, runner: &Value) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut iter = args.iter().enumerate();
    while let Some((i, arg)) = iter.next() {
        let Some((k, v)) = arg
            .split_once('=')
            .filter(|(k, _)| !k.is_empty() && !k.contains(' '))
        else {
            // The first word without `=` and everything after it is `cmd`.
            out.insert("cmd".into(), Value::String(args[i..].join(" ")));
            break;
        };
        if let Some(file_param) = k.strip_prefix('@') {
            let content = std::fs::read_to_string(v)
                .with_context(|| format!("reading {v} for parameter {file_param}"))?;
            out.insert(file_param.to_string(), Value::String(content));
            continue;
        }
        let ty = param_type(k, action, runner);
        let value = cast_one(k, v, ty)?;
        if ty == Some("array") {
            if let (Some(Value::Array(existing)), Value::Array(new)) = (out.get_mut(k), &value) {
                existing.extend(new.iter().cloned());
                continue;
            }
        }
        out.insert(k.to_string(), value);
    }
    Ok(out)
}

fn cast_one(name: &str, v: &str, ty: Option<&str>) -> Result<Value> {
    Ok(match ty {
        Some("integer") => Value::from(v.trim().parse::<i64>().map_err(|_| {
            anyhow!("invalid literal for int() with base 10: '{v}' (parameter {name})")
        })?),
        Some("number") => {
            let f: f64 = v.trim().parse().map_err(|_| {
                anyhow!("could not convert string to float: '{v}' (parameter {name})")
            })?;
            json!(f)
        }
        Some("boolean") => match v.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            // st2 evaluates `1`/`0` as integers; the server's validation then rejects them.
            "1" => json!(1),
            "0" => json!(0),
            _ => bail!("Invalid value for boolean parameter {name}. Valid values are: true, false"),
        },
        Some("array") => {
            if let Ok(n) = v.trim().parse::<i64>() {
                json!([n])
            } else if let Ok(parsed @ Value::Array(_)) = serde_json::from_str::<Value>(v) {
                parsed
            } else {
                Value::Array(
                    v.split(',')
                        .map(|s| Value::String(s.trim().to_string()))
                        .collect(),
                )
            }
        }
        Some("object") => {
            if v.trim_start().starts_with('{') {
                serde_json::from_str(v)
                    .with_context(|| format!("parameter {name} is not valid JSON"))?
            } else {
                let mut m = Map::new();
                for pair in v.split(',') {
                    if let Some((k, val)) = pair.split_once('=') {
                        m.insert(k.trim().to_string(), Value::String(val.trim().to_string()));
                    }
                }
                Value::Object(m)
            }
        }
        _ => Value::String(v.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> (Value, Value) {
        let action = json!({"parameters": {"n": {"type": "integer"}, "f": {"type": "number"}, "b": {"type": "boolean"},
            "l": {"type": "array"}, "o": {"type": "object"}, "s": {"type": "string"}, "timeout": {"type": "string"}}});
        let runner = json!({"runner_parameters": {"timeout": {"type": "integer"}, "cmd": {"type": "string"}}});
        (action, runner)
    }

    fn cast(args: &[&str]) -> Result<Map<String, Value>> {
        let (a, r) = schemas();
        cast_params(
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &a,
            &r,
        )
    }

    #[test]
    fn casts_by_type() {
        let m = cast(&[
            "n=5",
            "f=1",
            "b=TRUE",
            "l=a, b,c",
            "o=x=1,y=2,z",
            "s=5",
            "timeout=30",
        ])
        .unwrap();
        assert_eq!(m["n"], json!(5));
        assert_eq!(m["f"], json!(1.0));
        assert_eq!(m["b"], json!(true));
        assert_eq!(m["l"], json!(["a", "b", "c"]));
        assert_eq!(m["o"], json!({"x": "1", "y": "2"}));
        assert_eq!(m["s"], json!("5"));
        assert_eq!(m["timeout"], json!(30), "runner parameter types win");
    }

    #[test]
    fn arrays_json_int_and_repeat() {
        assert_eq!(cast(&["l=[1,2]"]).unwrap()["l"], json!([1, 2]));
        assert_eq!(cast(&["l=7"]).unwrap()["l"], json!([7]));
        assert_eq!(cast(&["l=a", "l=b"]).unwrap()["l"], json!(["a", "b"]));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let e = cast(&["n=1.5"]).unwrap_err().to_string();
        assert!(e.contains("parameter n"), "{e}");
        let e = cast(&["b=yes"]).unwrap_err().to_string();
        assert!(e.contains("boolean parameter b"), "{e}");
        assert_eq!(cast(&["b=1"]).unwrap()["b"], json!(1));
    }

    #[test]
    fn bare_words_become_cmd() {
        let m = cast(&["uname", "-a", "x=1"]).unwrap();
        assert_eq!(m["cmd"], json!("uname -a x=1"));
        let m = cast(&["s=1", "echo", "hi"]).unwrap();
        assert_eq!(m["cmd"], json!("echo hi"));
        let m = cast(&["cmd=echo hi there"]).unwrap();
        assert_eq!(m["cmd"], json!("echo hi there"));
    }
}

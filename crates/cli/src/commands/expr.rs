//! `gale expr eval`: offline expression evaluation, one-off or in the conformance batch protocol.
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::process::ExitCode;

#[derive(Args)]
pub struct ExprArgs {
    #[command(subcommand)]
    cmd: ExprCmd,
}

#[derive(Subcommand)]
enum ExprCmd {
    /// Evaluate one expression, or JSON lines {"id","lang","expr","ctx"} from stdin with --batch.
    Eval {
        /// Read cases as JSON lines on stdin and answer one line per case.
        #[arg(long)]
        batch: bool,
        /// yaql, jinja or jinja-st2.
        #[arg(long, default_value = "yaql")]
        lang: String,
        /// Context as a JSON object.
        #[arg(long, default_value = "{}")]
        ctx: String,
        /// The expression, delimiters included (e.g. "<% 1 + 1 %>").
        expr: Option<String>,
    },
}

pub fn run(args: ExprArgs) -> Result<ExitCode> {
    match args.cmd {
        ExprCmd::Eval { batch: true, .. } => batch(),
        ExprCmd::Eval {
            batch: false,
            lang,
            ctx,
            expr,
        } => {
            let expr = expr.context("an expression is required (or use --batch)")?;
            let lang: gale_expr::Lang = lang.parse()?;
            let ctx: Value = serde_json::from_str(&ctx).context("--ctx is not valid JSON")?;
            let value = gale_expr::evaluate_exact(lang, &expr, &ctx, &gale_expr::NoProvider)?;
            if value.big_ints.is_empty() {
                println!("{}", serde_json::to_string_pretty(&value.value)?);
            } else {
                println!("{}", value.to_json_string());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn batch() -> Result<ExitCode> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(case) => answer_case(&case),
            Err(e) => json!({"id": null, "error": format!("invalid case line: {e}")}).to_string(),
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn answer_case(case: &Value) -> String {
    let id = case.get("id").cloned().unwrap_or(Value::Null);
    let lang = case.get("lang").and_then(Value::as_str).unwrap_or("yaql");
    let expr = case.get("expr").and_then(Value::as_str).unwrap_or("");
    let ctx = case.get("ctx").cloned().unwrap_or_else(|| json!({}));
    let result = lang
        .parse::<gale_expr::Lang>()
        .and_then(|lang| gale_expr::evaluate_exact(lang, expr, &ctx, &gale_expr::NoProvider));
    match result {
        // Written by hand so integers beyond 64 bits keep their digits.
        Ok(v) => format!(r#"{{"id":{id},"result":{}}}"#, v.to_json_string()),
        Err(e) => json!({"id": id, "error": e.to_string()}).to_string(),
    }
}

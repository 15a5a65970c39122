//! `gale timer list|get`: the timer triggers rules created (`/api/v1/timers`).

use super::client::{q, Client, ClientOpts};
use super::output;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Args)]
pub struct TimerArgs {
    #[command(subcommand)]
    cmd: TimerCmd,
}

#[derive(Subcommand)]
enum TimerCmd {
    /// List timers.
    List {
        /// Only this timer type, e.g. core.st2.CronTimer.
        #[arg(short = 't', long = "timer-type")]
        timer_type: Option<String>,
        #[arg(short, long)]
        json: bool,
    },
    /// Show one timer by ref or id.
    Get {
        ref_or_id: String,
        #[arg(short, long)]
        json: bool,
    },
}

const COLUMNS: &[&str] = &["id", "ref", "type", "parameters"];

pub fn timer(opts: &ClientOpts, args: TimerArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        TimerCmd::List { timer_type, json } => {
            let mut url = "/api/v1/timers".to_string();
            if let Some(t) = timer_type {
                url.push_str(&format!("?timer_type={}", q(&t)));
            }
            let items = c.get(&url)?;
            if json {
                output::json(&items);
            } else {
                output::table(items.as_array().map(Vec::as_slice).unwrap_or(&[]), COLUMNS);
            }
        }
        TimerCmd::Get { ref_or_id, json } => {
            let v = c.get(&format!("/api/v1/timers/{}", q(&ref_or_id)))?;
            if json {
                output::json(&v);
            } else {
                output::record(
                    &v,
                    &["id", "ref", "uid", "name", "pack", "type", "parameters"],
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

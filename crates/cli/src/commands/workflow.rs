//! `gale workflow rehearse`: run a workflow against mocked action results and print its trace.
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct WorkflowArgs {
    #[command(subcommand)]
    cmd: WorkflowCmd,
}

#[derive(Subcommand)]
enum WorkflowCmd {
    /// Print the conductor trace for WORKFLOW.yaml with INPUT.json and MOCKS.json.
    Rehearse {
        workflow: PathBuf,
        input: PathBuf,
        mocks: PathBuf,
        #[arg(long)]
        context: Option<PathBuf>,
    },
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

pub fn run(args: WorkflowArgs) -> Result<ExitCode> {
    match args.cmd {
        WorkflowCmd::Rehearse {
            workflow,
            input,
            mocks,
            context,
        } => {
            let spec = std::fs::read_to_string(&workflow)
                .with_context(|| format!("reading {}", workflow.display()))?;
            let input = read_json(&input)?;
            let mocks = read_json(&mocks)?;
            let context = context.as_deref().map(read_json).transpose()?;
            let trace = gale_orquesta::rehearse::rehearse(&spec, &input, &mocks, context.as_ref());
            println!("{}", serde_json::to_string(&trace)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

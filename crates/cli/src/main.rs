//! The `gale` binary: `gale server` runs every service in one process; every other subcommand is
//! an HTTP client of a running server, except the offline tools (`expr eval`, `workflow rehearse`).

mod commands;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gale",
    version,
    about = "Event-driven automation, StackStorm-compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate YAQL / Jinja expressions offline.
    Expr(commands::expr::ExprArgs),
    /// Offline workflow tools.
    Workflow(commands::workflow::WorkflowArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Expr(args) => commands::expr::run(args),
        Command::Workflow(args) => commands::workflow::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ERROR: {err:#}");
            std::process::ExitCode::from(1)
        }
    }
}

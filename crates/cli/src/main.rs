//! The `gale` binary: `gale server` runs every service in one process; every other subcommand is
//! an HTTP client of a running server, except the offline tools (`expr eval`, `workflow rehearse`).

mod commands;

use clap::{Parser, Subcommand};
use commands::client::ClientOpts;

#[derive(Parser)]
#[command(
    name = "gale",
    version,
    about = "Event-driven automation, StackStorm-compatible"
)]
struct Cli {
    #[command(flatten)]
    client: ClientOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in and cache a token for later commands.
    Login(commands::auth::LoginArgs),
    /// Show who the current credentials belong to.
    Whoami {
        #[arg(short, long)]
        json: bool,
    },
    /// Run an action and (unless --async) wait for its result.
    Run(commands::run::RunArgs),
    /// Executions: list, get, cancel, output, re-run.
    Execution(commands::execution::ExecutionArgs),
    /// Actions: list, get, execute.
    Action(commands::resources::ActionArgs),
    /// Packs: list, get, register.
    Pack(commands::resources::PackArgs),
    /// Runner types: list, get.
    Runner(commands::resources::RunnerArgs),
    /// API keys: create, list, get, enable, disable, delete.
    Apikey(commands::auth::ApiKeyArgs),
    /// Datastore key-value pairs: list, get, set, delete, load.
    Key(commands::key::KeyArgs),
    /// Rules: list, get, create, update, delete, enable, disable.
    Rule(commands::events::RuleArgs),
    /// Trigger types: list, get.
    Trigger(commands::events::TriggerArgs),
    /// Trigger instances: list, get, re-emit.
    TriggerInstance(commands::events::TriggerInstanceArgs),
    /// Rule enforcements: list, get.
    RuleEnforcement(commands::events::RuleEnforcementArgs),
    /// Webhooks: list, get, post.
    Webhook(commands::events::WebhookArgs),
    /// Traces: list, get.
    Trace(commands::events::TraceArgs),
    /// Timers (interval, cron, date triggers of rules): list, get.
    Timer(commands::timer::TimerArgs),
    /// ExtremeCloud IQ Site Engine: configure the connection, run the simulator.
    Siteengine(commands::siteengine::SiteEngineArgs),
    /// Run the server: API, engine and runners in one process.
    Server(commands::server::ServerArgs),
    /// Benchmarks that print figures (server pipeline, expressions).
    Bench(commands::bench::BenchArgs),
    /// Evaluate YAQL / Jinja expressions offline.
    Expr(commands::expr::ExprArgs),
    /// Offline workflow tools.
    Workflow(commands::workflow::WorkflowArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let opts = cli.client;
    let result = match cli.command {
        Command::Login(args) => commands::auth::login(&opts, args),
        Command::Whoami { json } => commands::auth::whoami(&opts, json),
        Command::Run(args) => commands::run::run(&opts, args),
        Command::Execution(args) => commands::execution::execution(&opts, args),
        Command::Action(args) => commands::resources::action(&opts, args),
        Command::Pack(args) => commands::resources::pack(&opts, args),
        Command::Runner(args) => commands::resources::runner(&opts, args),
        Command::Apikey(args) => commands::auth::apikey(&opts, args),
        Command::Key(args) => commands::key::key(&opts, args),
        Command::Rule(args) => commands::events::rule(&opts, args),
        Command::Trigger(args) => commands::events::trigger(&opts, args),
        Command::TriggerInstance(args) => commands::events::trigger_instance(&opts, args),
        Command::RuleEnforcement(args) => commands::events::rule_enforcement(&opts, args),
        Command::Webhook(args) => commands::events::webhook(&opts, args),
        Command::Trace(args) => commands::events::trace(&opts, args),
        Command::Timer(args) => commands::timer::timer(&opts, args),
        Command::Siteengine(args) => commands::siteengine::run(&opts, args),
        Command::Server(args) => commands::server::run(args),
        Command::Bench(args) => commands::bench::run(args),
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

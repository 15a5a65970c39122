//! `cargo run -p gale-orquesta --example rehearse -- WORKFLOW INPUT MOCKS [--context CTX]`:
//! the rehearse trace without building the whole CLI (handy with the conformance checker).
use std::process::ExitCode;

fn read_json(path: &str) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: rehearse WORKFLOW INPUT MOCKS [--context CTX]");
        return ExitCode::from(2);
    }
    let run = || -> Result<serde_json::Value, String> {
        let yaml = std::fs::read_to_string(&args[0]).map_err(|e| format!("{}: {e}", args[0]))?;
        let input = read_json(&args[1])?;
        let mocks = read_json(&args[2])?;
        let context = match args.iter().position(|a| a == "--context") {
            Some(i) => Some(read_json(args.get(i + 1).ok_or("--context needs a file")?)?),
            None => None,
        };
        Ok(gale_orquesta::rehearse::rehearse(
            &yaml,
            &input,
            &mocks,
            context.as_ref(),
        ))
    };
    match run() {
        Ok(trace) => {
            println!("{trace}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

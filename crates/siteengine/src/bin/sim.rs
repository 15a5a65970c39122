//! `gale-siteengine-sim`: runs the Site Engine simulator until Ctrl-C, for demos and manual
//! tests. Prints one JSON line with the URL, the CA file to trust and the credentials.
//!
//! ```text
//! gale-siteengine-sim [--bind 127.0.0.1:8443] [--ca-out se-ca.pem] [--untrusted]
//!                     [--client-id ID] [--client-secret S] [--username U] [--password P]
//!                     [--token-lifetime SECS] [--running-polls N]
//! ```

use gale_siteengine::sim::{self, SimOptions};
use std::path::PathBuf;
use std::time::Duration;

fn usage(msg: &str) -> ! {
    eprintln!("gale-siteengine-sim: {msg}");
    eprintln!(
        "usage: gale-siteengine-sim [--bind ADDR:PORT] [--ca-out FILE] [--untrusted] \
         [--client-id ID] [--client-secret S] [--username U] [--password P] \
         [--token-lifetime SECS] [--running-polls N]"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut opts = SimOptions::default();
    let mut ca_out = PathBuf::from("siteengine-sim-ca.pem");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match flag.as_str() {
            "--bind" => {
                opts.bind = value("--bind")
                    .parse()
                    .unwrap_or_else(|_| usage("--bind takes ADDR:PORT"))
            }
            "--ca-out" => ca_out = PathBuf::from(value("--ca-out")),
            "--untrusted" => opts.untrusted_cert = true,
            "--client-id" => opts.client_id = value("--client-id"),
            "--client-secret" => opts.client_secret = value("--client-secret"),
            "--username" => opts.username = value("--username"),
            "--password" => opts.password = value("--password"),
            "--token-lifetime" => {
                let secs: u64 = value("--token-lifetime")
                    .parse()
                    .unwrap_or_else(|_| usage("--token-lifetime takes seconds"));
                opts.token_lifetime = Duration::from_secs(secs);
            }
            "--running-polls" => {
                opts.workflow_running_polls = value("--running-polls")
                    .parse()
                    .unwrap_or_else(|_| usage("--running-polls takes a number"))
            }
            "-h" | "--help" => usage("Site Engine simulator"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let se = match sim::start(opts).await {
        Ok(se) => se,
        Err(e) => {
            eprintln!("gale-siteengine-sim: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = std::fs::write(&ca_out, se.ca_pem()) {
        eprintln!(
            "gale-siteengine-sim: cannot write {}: {e}",
            ca_out.display()
        );
        std::process::exit(1);
    }
    let o = se.options();
    println!(
        "{}",
        serde_json::json!({
            "url": se.base_url(), "host": se.host(), "port": se.port(),
            "ca_file": ca_out.canonicalize().unwrap_or(ca_out.clone()),
            "client_id": o.client_id, "client_secret": o.client_secret,
            "username": o.username, "password": o.password,
            "calls": format!("{}/_sim/calls", se.base_url()),
        })
    );
    let _ = tokio::signal::ctrl_c().await;
    se.shutdown().await;
}

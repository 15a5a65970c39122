//! `gale-siteengine-sim`: runs the Site Engine simulator until Ctrl-C, for demos and manual
//! tests. Prints one JSON line with the URL, the CA file to trust and the credentials.
//!
//! ```text
//! gale-siteengine-sim [--bind 127.0.0.1:8443] [--ca-out se-ca.pem] [--untrusted]
//!                     [--client-id ID] [--client-secret S] [--username U] [--password P]
//!                     [--token-lifetime SECS] [--running-polls N]
//! gale-siteengine-sim fire --url URL --api-key KEY [--ca-file FILE] [--spool-dir DIR]
//!                     [alarm|trap|syslog|all]
//! ```
//!
//! `fire` sends the spec's example alarm, trap and syslog events to Gale through the real
//! `st2integration.py` sender (python3), as Site Engine's custom action would.

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

async fn fire(args: Vec<String>) -> i32 {
    use gale_siteengine::sender;
    let mut url = None;
    let mut api_key = std::env::var("ST2_API_KEY").unwrap_or_default();
    let mut ca_file = None;
    let mut spool_dir = std::env::temp_dir().join("gale-siteengine-sim-spool");
    let mut kinds = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "--url" => url = Some(value("--url")),
            "--api-key" => api_key = value("--api-key"),
            "--ca-file" => ca_file = Some(PathBuf::from(value("--ca-file"))),
            "--spool-dir" => spool_dir = PathBuf::from(value("--spool-dir")),
            "alarm" | "trap" | "syslog" => kinds.push(a),
            "all" => kinds.extend(["alarm", "trap", "syslog"].map(String::from)),
            other => usage(&format!("unknown fire argument {other}")),
        }
    }
    let Some(url) = url else {
        usage("fire needs --url (e.g. http://127.0.0.1:9101/api/v1/webhooks/siteengine)")
    };
    if kinds.is_empty() {
        kinds.extend(["alarm", "trap", "syslog"].map(String::from));
    }
    let dir = std::env::temp_dir().join(format!("gale-siteengine-sim-{}", std::process::id()));
    let script = match sender::install_script(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gale-siteengine-sim: cannot write the sender script: {e}");
            return 1;
        }
    };
    let opts = sender::SenderOptions {
        script,
        url,
        api_key,
        ca_file,
        spool_dir,
        retries: 3,
        backoff: 0.5,
        timeout: 10.0,
    };
    let mut worst = 0;
    for example in sender::example_envelopes() {
        let kind = example["event_type"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !kinds.contains(&kind) {
            continue;
        }
        match sender::run(&opts, &sender::envelope_args(&example)).await {
            Ok(run) => {
                eprint!("{}", run.stderr);
                println!("{kind}: exit {}", run.code);
                worst = worst.max(run.code);
            }
            Err(e) => {
                eprintln!("gale-siteengine-sim: {e}");
                worst = 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    worst
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("fire") {
        std::process::exit(fire(argv[1..].to_vec()).await);
    }
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

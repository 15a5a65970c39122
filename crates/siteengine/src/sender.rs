//! The `st2integration.py` sender seen from Rust: its text (so the binary can install it
//! without the source tree), the Site Engine custom-action argument line, the mapping from an
//! envelope back to its command-line arguments, and running it — what a `gale siteengine
//! simulate` command and end-to-end tests use to fire alarms, traps and syslog events at Gale
//! the way Site Engine does.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `packs/siteengine/bin/st2integration.py`.
pub const SCRIPT: &str = include_str!("../../../packs/siteengine/bin/st2integration.py");
/// Where Site Engine installs keep it (the product's `ST2Integration` directory).
pub const DEFAULT_INSTALL_DIR: &str = "/usr/local/Extreme_Networks/NetSight/ST2Integration";
/// Exit status of a spooled (not yet delivered) event.
pub const EXIT_SPOOLED: i32 = 75;
/// Exit status of a refused event or bad arguments.
pub const EXIT_REFUSED: i32 = 2;

/// The Custom Arguments line for an alarm action (docs/site-engine.md 2.2). `config` is the
/// sender's JSON config path on the Site Engine server. Keyword names other than
/// `$alarmName`/`$alarmSource` differ between releases; the docs say to check them.
pub fn custom_action_arguments(config: &str) -> String {
    format!(
        "--config {config} --event-type alarm --alarm-name \"$alarmName\" --alarm-source \"$alarmSource\" \
         --alarm-id \"$alarmId\" --severity \"$severity\" --condition \"$alarmCondition\" --time \"$time\" \
         --device-ip \"$deviceIP\" --device-name \"$deviceName\" --site \"$sitePath\" --message \"$message\""
    )
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The sender arguments that reproduce `envelope` (a section 1.4 body): what Site Engine's
/// substitution would have produced for that alarm. Unknown `extra` entries become `key=value`.
pub fn envelope_args(envelope: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |flag: &str, v: &Value| {
        if let Some(t) = text(v) {
            out.push(flag.to_string());
            out.push(t);
        }
    };
    add("--event-type", &envelope["event_type"]);
    add("--siteengine-ip", &envelope["siteengine"]["ip"]);
    add("--siteengine-version", &envelope["siteengine"]["version"]);
    let a = &envelope["alarm"];
    for (flag, key) in [
        ("--alarm-name", "name"),
        ("--alarm-id", "id"),
        ("--severity", "severity"),
        ("--condition", "condition"),
        ("--alarm-source", "source_component"),
        ("--alarm-state", "state"),
        ("--time", "time"),
        ("--count", "count"),
    ] {
        add(flag, &a[key]);
    }
    let d = &envelope["device"];
    for (flag, key) in [
        ("--device-ip", "ip"),
        ("--device-name", "name"),
        ("--device-nickname", "nickname"),
        ("--device-family", "family"),
        ("--device-type", "type"),
        ("--site", "site"),
        ("--serial", "serial"),
    ] {
        add(flag, &d[key]);
    }
    let i = &envelope["interface"];
    add("--if-index", &i["if_index"]);
    add("--if-name", &i["name"]);
    add("--if-alias", &i["alias"]);
    let t = &envelope["trap"];
    for (flag, key) in [
        ("--trap-oid", "oid"),
        ("--trap-name", "name"),
        ("--snmp-version", "snmp_version"),
        ("--enterprise", "enterprise"),
        ("--generic-trap", "generic_trap"),
        ("--specific-trap", "specific_trap"),
        ("--uptime", "uptime"),
    ] {
        add(flag, &t[key]);
    }
    if let Some(vbs) = t["varbinds"].as_array() {
        add(
            "--varbinds-json",
            &Value::String(Value::Array(vbs.clone()).to_string()),
        );
    }
    let s = &envelope["syslog"];
    for (flag, key) in [
        ("--syslog-message", "message"),
        ("--facility", "facility"),
        ("--syslog-severity", "severity"),
        ("--program", "program"),
        ("--hostname", "hostname"),
    ] {
        add(flag, &s[key]);
    }
    add("--message", &envelope["message"]);
    if let Some(extra) = envelope["extra"].as_object() {
        for (k, v) in extra {
            if let Some(t) = text(v) {
                out.push(format!("{k}={t}"));
            }
        }
    }
    out
}

/// Where and how the sender delivers.
#[derive(Clone, Debug)]
pub struct SenderOptions {
    /// The script file (write [`SCRIPT`] somewhere, or use the pack's copy).
    pub script: PathBuf,
    /// Webhook URL, e.g. `https://127.0.0.1:9101/api/v1/webhooks/siteengine`.
    pub url: String,
    pub api_key: String,
    /// CA file for Gale's certificate; `None` uses the system trust store.
    pub ca_file: Option<PathBuf>,
    pub spool_dir: PathBuf,
    pub retries: u32,
    /// First retry delay in seconds.
    pub backoff: f64,
    /// Seconds per request.
    pub timeout: f64,
}

/// What one run of the sender did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderRun {
    /// 0 delivered, [`EXIT_SPOOLED`], [`EXIT_REFUSED`], 1 other.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("cannot run python3 for {script}: {source}")]
    Spawn {
        script: PathBuf,
        source: std::io::Error,
    },
    #[error("the sender did not finish within {0:?}")]
    Hung(Duration),
}

/// Writes [`SCRIPT`] into `dir` (mode 0755) and returns its path.
pub fn install_script(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("st2integration.py");
    std::fs::write(&path, SCRIPT)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

/// Runs the sender with `args` (event arguments, or `--flush`) under python3.
pub async fn run(opts: &SenderOptions, args: &[String]) -> Result<SenderRun, SenderError> {
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(&opts.script)
        .arg("--url")
        .arg(&opts.url)
        .arg("--api-key")
        .arg(&opts.api_key)
        .arg("--spool-dir")
        .arg(&opts.spool_dir)
        .arg("--retries")
        .arg(opts.retries.max(1).to_string())
        .arg("--backoff")
        .arg(opts.backoff.to_string())
        .arg("--timeout")
        .arg(opts.timeout.to_string());
    if let Some(ca) = &opts.ca_file {
        cmd.arg("--ca-file").arg(ca);
    }
    cmd.args(args)
        .env_remove("ST2INTEGRATION_CONFIG")
        .kill_on_drop(true);
    // Bounded: every attempt is bounded by the timeout, plus the backoff waits.
    let limit = Duration::from_secs_f64(
        (opts.timeout + 1.0) * f64::from(opts.retries.max(1)) * 2.0
            + opts.backoff * 2f64.powi(opts.retries as i32)
            + 30.0,
    );
    let out = tokio::time::timeout(limit, cmd.output())
        .await
        .map_err(|_| SenderError::Hung(limit))?
        .map_err(|source| SenderError::Spawn {
            script: opts.script.clone(),
            source,
        })?;
    Ok(SenderRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The example envelopes of the spec (alarm, trap, syslog), for demos and tests.
pub fn example_envelopes() -> Vec<Value> {
    [
        include_str!("../data/examples/alarm-webhook.json"),
        include_str!("../data/examples/trap-webhook.json"),
        include_str!("../data/examples/syslog-webhook.json"),
    ]
    .iter()
    .filter_map(|t| serde_json::from_str(t).ok())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_line_names_the_config_and_quotes_keywords() {
        let line = custom_action_arguments("/opt/st2integration.json");
        assert!(line.starts_with("--config /opt/st2integration.json --event-type alarm"));
        assert!(line.contains("--alarm-name \"$alarmName\""));
        assert!(line.contains("--device-ip \"$deviceIP\""));
    }

    #[test]
    fn envelope_args_cover_the_trap_example() {
        let trap = &example_envelopes()[1];
        let args = envelope_args(trap);
        let pos = |f: &str| args.iter().position(|a| a == f).unwrap();
        assert_eq!(args[pos("--event-type") + 1], "trap");
        assert_eq!(args[pos("--if-index") + 1], "1021");
        assert_eq!(args[pos("--trap-oid") + 1], "1.3.6.1.6.3.1.1.5.3");
        let vbs: Value = serde_json::from_str(&args[pos("--varbinds-json") + 1]).unwrap();
        assert_eq!(vbs, trap["trap"]["varbinds"]);
        assert!(SCRIPT.starts_with("#!/usr/bin/env python3"));
    }
}

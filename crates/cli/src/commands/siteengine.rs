//! `gale siteengine configure|simulate`: connect Gale to ExtremeCloud IQ Site Engine.
//!
//! `configure` runs where the server runs (it writes `<data-dir>/configs/siteengine.yaml`): it
//! checks the northbound API credentials (serverInfo), keeps the secret only encrypted in the
//! datastore (the config refers to it with `{{ st2kv.system.<key> }}`, which config resolution
//! decrypts because the schema marks it secret), creates an API key for the
//! `st2integration.py` sender and prints what to paste into Site Engine. `simulate` runs the
//! Site Engine simulator in the foreground for demos.

use super::client::{Client, ClientOpts};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use gale_siteengine::nbi::{Auth, NbiClient, NbiConfig};
use gale_siteengine::sender;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Datastore key (system scope) of the OAuth2 client secret.
pub const CLIENT_SECRET_KEY: &str = "siteengine_client_secret";
/// Datastore key (system scope) of the Basic-auth password.
pub const PASSWORD_KEY: &str = "siteengine_password";

#[derive(Args)]
pub struct SiteEngineArgs {
    #[command(subcommand)]
    cmd: SiteEngineCmd,
}

#[derive(Subcommand)]
enum SiteEngineCmd {
    /// Check Site Engine northbound API credentials, store them (secret encrypted in the
    /// datastore, the rest in <data-dir>/configs/siteengine.yaml), create the sender's API key
    /// and print the Site Engine custom-action arguments.
    Configure(ConfigureArgs),
    /// Run the Site Engine simulator until Ctrl-C (prints its URL, CA file and credentials).
    Simulate(SimulateArgs),
}

#[derive(Args)]
struct ConfigureArgs {
    /// The server's data directory (the config goes to <data-dir>/configs/siteengine.yaml).
    #[arg(long, env = "GALE_DATA_DIR", default_value = "./gale-data")]
    data_dir: PathBuf,
    /// Site Engine host name or address.
    #[arg(long)]
    host: Option<String>,
    /// Site Engine HTTPS port.
    #[arg(long, default_value_t = 8443)]
    port: u16,
    /// oauth2 (an API client from Administration > Client API Access) or basic.
    #[arg(long, value_parser = ["oauth2", "basic"])]
    auth: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    /// The OAuth2 client secret (prefer --secret-stdin or the prompt: arguments are visible
    /// to other users of the machine).
    #[arg(long)]
    client_secret: Option<String>,
    #[arg(long)]
    username: Option<String>,
    /// The Basic-auth password (prefer --secret-stdin or the prompt).
    #[arg(long)]
    password: Option<String>,
    /// Read the client secret or password from the first line of stdin.
    #[arg(long)]
    secret_stdin: bool,
    /// PEM file of the CA that signed Site Engine's certificate.
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// Do not verify Site Engine's certificate (lab use only).
    #[arg(long)]
    insecure: bool,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Store without checking the credentials against Site Engine.
    #[arg(long)]
    no_check: bool,
    /// Webhook URL the sender posts to (default: <--url>/api/v1/webhooks/siteengine).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Where the sender's JSON config lives on the Site Engine server.
    #[arg(long, default_value_t = format!("{}/st2integration.json", sender::DEFAULT_INSTALL_DIR))]
    sender_config: String,
    /// Also write the sender's JSON config to this local file (to copy to Site Engine).
    #[arg(long)]
    write_sender_config: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(short, long)]
    json: bool,
}

#[derive(Args)]
struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    bind: std::net::SocketAddr,
    /// Where to write the simulator's CA certificate.
    #[arg(long, default_value = "siteengine-sim-ca.pem")]
    ca_out: PathBuf,
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    client_secret: Option<String>,
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    password: Option<String>,
}

pub fn run(opts: &ClientOpts, args: SiteEngineArgs) -> Result<ExitCode> {
    match args.cmd {
        SiteEngineCmd::Configure(a) => configure(opts, a),
        SiteEngineCmd::Simulate(a) => simulate(a),
    }
}

fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// `given`, else a prompt when interactive, else an error naming the flag.
fn ask(given: Option<String>, prompt: &str, flag: &str) -> Result<String> {
    if let Some(v) = given.filter(|v| !v.trim().is_empty()) {
        return Ok(v.trim().to_string());
    }
    if !interactive() {
        bail!("{flag} is required");
    }
    eprint!("{prompt}: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading stdin")?;
    let v = line.trim().to_string();
    if v.is_empty() {
        bail!("{flag} is required");
    }
    Ok(v)
}

fn ask_secret(given: Option<String>, stdin: bool, prompt: &str, flag: &str) -> Result<String> {
    if let Some(v) = given.filter(|v| !v.is_empty()) {
        return Ok(v);
    }
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the secret from stdin")?;
        let v = line.trim_end_matches(['\r', '\n']).to_string();
        if v.is_empty() {
            bail!("{flag}: stdin was empty");
        }
        return Ok(v);
    }
    if !interactive() {
        bail!("{flag} is required (or --secret-stdin)");
    }
    let v = rpassword::prompt_password(format!("{prompt}: ")).context("reading the secret")?;
    if v.is_empty() {
        bail!("{flag} is required");
    }
    Ok(v)
}

/// The pack config after configure: the existing file's other settings (ticket_url,
/// notify_url, ...) kept, the connection settings replaced.
fn merged_config(existing: Option<&str>, conn: &[(&str, Value)]) -> Result<serde_yaml::Mapping> {
    let mut map = match existing {
        Some(text) if !text.trim().is_empty() => {
            match serde_yaml::from_str(text).context("the existing siteengine.yaml is not YAML")? {
                serde_yaml::Value::Mapping(m) => m,
                serde_yaml::Value::Null => serde_yaml::Mapping::new(),
                _ => bail!("the existing siteengine.yaml is not a mapping"),
            }
        }
        _ => serde_yaml::Mapping::new(),
    };
    // Settings of the other auth method would be stale.
    for k in [
        "client_id",
        "client_secret",
        "username",
        "password",
        "ca_bundle",
    ] {
        map.remove(serde_yaml::Value::from(k));
    }
    for (k, v) in conn {
        if v.is_null() {
            continue;
        }
        let v = serde_yaml::to_value(v).context("config value")?;
        map.insert(serde_yaml::Value::from(*k), v);
    }
    Ok(map)
}

fn configure(opts: &ClientOpts, a: ConfigureArgs) -> Result<ExitCode> {
    let host = ask(a.host, "Site Engine host", "--host")?;
    let auth_kind = match a.auth {
        Some(k) => k,
        None if a.username.is_some() || a.password.is_some() => "basic".into(),
        None => "oauth2".into(),
    };
    let (auth, user, secret_key) = if auth_kind == "basic" {
        let username = ask(a.username, "Site Engine user", "--username")?;
        let password = ask_secret(a.password, a.secret_stdin, "Password", "--password")?;
        (
            Auth::Basic {
                username: username.clone(),
                password,
            },
            username,
            PASSWORD_KEY,
        )
    } else {
        let client_id = ask(a.client_id, "OAuth2 client id", "--client-id")?;
        let client_secret = ask_secret(
            a.client_secret,
            a.secret_stdin,
            "OAuth2 client secret",
            "--client-secret",
        )?;
        (
            Auth::OAuth2 {
                client_id: client_id.clone(),
                client_secret,
            },
            client_id,
            CLIENT_SECRET_KEY,
        )
    };
    let secret = match &auth {
        Auth::OAuth2 { client_secret, .. } => client_secret.clone(),
        Auth::Basic { password, .. } => password.clone(),
    };
    let ca_bundle = match &a.ca_bundle {
        Some(p) => {
            Some(std::fs::canonicalize(p).with_context(|| format!("--ca-bundle {}", p.display()))?)
        }
        None => None,
    };
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }

    let mut nbi = NbiConfig::new(host.clone(), auth);
    nbi.port = a.port;
    nbi.verify_tls = !a.insecure;
    nbi.ca_bundle = ca_bundle.as_ref().map(|p| p.display().to_string());
    nbi.timeout = Duration::from_secs_f64(a.timeout);

    // The check runs before anything is stored: wrong credentials leave no half-configuration.
    // Actions this Site Engine release cannot run (its schema.idl lacks their fields): a
    // warning, not a refusal — the other actions still work.
    let mut unsupported: Vec<Value> = Vec::new();
    let mut schema_checked = false;
    let server_info = if a.no_check {
        Value::Null
    } else {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("tokio runtime")?;
        let checked = rt.block_on(async {
            let client = NbiClient::new(nbi.clone())?;
            let info = client.server_info().await?;
            Ok::<_, gale_siteengine::NbiError>((info, client.schema().await))
        });
        match checked {
            Ok((info, schema)) => {
                match schema {
                    Ok(schema) => {
                        schema_checked = true;
                        for (op, reason) in gale_siteengine::schema::unsupported_operations(&schema)
                        {
                            unsupported.push(
                                json!({"action": format!("siteengine.{op}"), "reason": reason}),
                            );
                        }
                    }
                    Err(e) => eprintln!("warning: could not read Site Engine's NBI schema: {e}"),
                }
                info
            }
            Err(e) => bail!("Site Engine at {} refused the check: {e}", nbi.base_url()),
        }
    };

    let c = Client::new(opts)?;
    c.put(
        &format!("/api/v1/keys/{secret_key}"),
        &json!({"name": secret_key, "value": secret, "secret": true, "scope": "system",
                "description": "Site Engine northbound API secret (gale siteengine configure)"}),
    )
    .context("storing the secret in the datastore")?;

    let reference = json!(format!("{{{{ st2kv.system.{secret_key} }}}}"));
    let basic = secret_key == PASSWORD_KEY;
    let conn: Vec<(&str, Value)> = vec![
        ("host", json!(host)),
        ("port", json!(a.port)),
        ("auth", json!(if basic { "basic" } else { "oauth2" })),
        (if basic { "username" } else { "client_id" }, json!(user)),
        (if basic { "password" } else { "client_secret" }, reference),
        ("verify_tls", json!(!a.insecure)),
        (
            "ca_bundle",
            ca_bundle
                .as_ref()
                .map(|p| json!(p.display().to_string()))
                .unwrap_or(Value::Null),
        ),
        ("timeout", json!(a.timeout)),
    ];
    let config_path = a.data_dir.join("configs/siteengine.yaml");
    let existing = std::fs::read_to_string(&config_path).ok();
    let map = merged_config(existing.as_deref(), &conn)?;
    write_private(
        &config_path,
        &serde_yaml::to_string(&map).context("config YAML")?,
    )?;

    let key = c
        .post(
            "/api/v1/apikeys",
            &json!({"metadata": {"used_by": "siteengine st2integration.py", "siteengine": host}}),
        )
        .context("creating the sender's API key")?;
    let api_key = key
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let webhook_url = a.webhook_url.unwrap_or_else(|| {
        format!(
            "{}/api/v1/webhooks/siteengine",
            opts.url.trim_end_matches('/')
        )
    });
    let sender_config = json!({"url": webhook_url, "api_key": api_key});
    if let Some(p) = &a.write_sender_config {
        write_private(
            p,
            &format!(
                "{}\n",
                serde_json::to_string_pretty(&sender_config).context("sender config")?
            ),
        )?;
    }
    let arguments = sender::custom_action_arguments(&a.sender_config);

    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "server_info": server_info,
                "schema_checked": schema_checked,
                "unsupported_actions": unsupported,
                "config_file": config_path.display().to_string(),
                "secret_key": format!("st2kv.system.{secret_key}"),
                "api_key_id": key.get("id").cloned().unwrap_or(Value::Null),
                "sender_config": sender_config,
                "sender_config_path": a.sender_config,
                "custom_action_arguments": arguments,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !a.no_check {
        println!(
            "Site Engine {} answered (version {}).",
            nbi.base_url(),
            server_info["version"].as_str().unwrap_or("unknown")
        );
        for u in &unsupported {
            println!(
                "warning: {} cannot run on this Site Engine release: {}",
                u["action"].as_str().unwrap_or_default(),
                u["reason"].as_str().unwrap_or_default()
            );
        }
    }
    println!(
        "Secret stored encrypted as st2kv.system.{secret_key}; config written to {}.",
        config_path.display()
    );
    println!();
    println!(
        "1. Copy packs/siteengine/bin/st2integration.py to {}/ on the Site Engine server.",
        sender::DEFAULT_INSTALL_DIR
    );
    println!("2. Save this as {} there:", a.sender_config);
    println!("{}", serde_json::to_string_pretty(&sender_config)?);
    println!(
        "3. In the alarm's Custom Action (Script: {}/st2integration.py), set Custom Arguments to:",
        sender::DEFAULT_INSTALL_DIR
    );
    println!("{arguments}");
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path` (parents created), readable by the owner only: it names secrets'
/// locations and, for the sender config, an API key.
fn write_private(path: &Path, text: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("chmod {}", path.display()))?;
    }
    Ok(())
}

fn simulate(a: SimulateArgs) -> Result<ExitCode> {
    let mut o = gale_siteengine::SimOptions {
        bind: a.bind,
        ..Default::default()
    };
    if let Some(v) = a.client_id {
        o.client_id = v;
    }
    if let Some(v) = a.client_secret {
        o.client_secret = v;
    }
    if let Some(v) = a.username {
        o.username = v;
    }
    if let Some(v) = a.password {
        o.password = v;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let sim = gale_siteengine::sim::start(o)
            .await
            .context("starting the simulator")?;
        write_private(&a.ca_out, sim.ca_pem())?;
        let ca = std::fs::canonicalize(&a.ca_out).unwrap_or(a.ca_out.clone());
        let opts = sim.options().clone();
        println!(
            "{}",
            json!({
                "url": sim.base_url(),
                "host": sim.host(),
                "port": sim.port(),
                "ca_file": ca.display().to_string(),
                "client_id": opts.client_id,
                "client_secret": opts.client_secret,
                "username": opts.username,
                "password": opts.password,
            })
        );
        println!(
            "configure Gale with: gale siteengine configure --host {} --port {} --client-id {} --ca-bundle {} --secret-stdin",
            sim.host(),
            sim.port(),
            opts.client_id,
            ca.display()
        );
        std::io::stdout().flush().ok();
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        sim.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_config_keeps_other_settings_and_drops_the_other_auth() {
        let existing = "host: old\nusername: root\npassword: x\nticket_url: http://t/\nnotify_url: http://n/\n";
        let m = merged_config(
            Some(existing),
            &[
                ("host", json!("se.example")),
                ("client_id", json!("gale")),
                ("client_secret", json!("{{ st2kv.system.k }}")),
                ("ca_bundle", Value::Null),
            ],
        )
        .unwrap();
        let v: Value = serde_json::to_value(&m).unwrap();
        assert_eq!(v["host"], "se.example");
        assert_eq!(v["ticket_url"], "http://t/");
        assert_eq!(v["notify_url"], "http://n/");
        assert_eq!(v["client_secret"], "{{ st2kv.system.k }}");
        assert!(v.get("username").is_none() && v.get("password").is_none());
        assert!(v.get("ca_bundle").is_none());
    }

    #[test]
    fn merged_config_refuses_a_non_mapping() {
        assert!(merged_config(Some("- a\n- b\n"), &[]).is_err());
        assert!(merged_config(Some(""), &[("host", json!("h"))]).is_ok());
    }
}

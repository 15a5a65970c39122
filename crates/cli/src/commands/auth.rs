//! `gale login`, `gale whoami`, `gale apikey ...`.

use super::client::{config_dir, Client, ClientOpts};
use super::output;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Read;
use std::process::ExitCode;

#[derive(Args)]
pub struct LoginArgs {
    /// User name.
    pub username: String,
    /// Password (prefer --password-stdin or the prompt).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Token TTL in seconds.
    #[arg(short = 'l', long)]
    pub ttl: Option<u64>,
}

pub fn login(opts: &ClientOpts, args: LoginArgs) -> Result<ExitCode> {
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the password from stdin")?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            rpassword::prompt_password("Password: ").context("reading the password")?
        }
    };
    let client = Client::anonymous(opts)?;
    let token = client
        .create_token(&args.username, &password, args.ttl)
        .with_context(|| format!("Failed to log in as {}", args.username))?;
    let dir = config_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("token-{}", args.username));
    write_private(&path, &token.to_string())?;
    write_private(&dir.join("current-user"), &args.username)?;
    println!("Logged in as {}", args.username);
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &std::path::Path, content: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn whoami(opts: &ClientOpts, as_json: bool) -> Result<ExitCode> {
    let me = Client::new(opts)?.get("/api/v1/user")?;
    if as_json {
        output::json(&me);
    } else {
        output::record(&me, &["username", "authentication.method", "rbac.enabled"]);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ApiKeyArgs {
    #[command(subcommand)]
    cmd: ApiKeyCmd,
}

#[derive(Subcommand)]
enum ApiKeyCmd {
    /// Create an API key; the key is shown only now.
    Create {
        /// Metadata as a JSON object.
        #[arg(short, long)]
        metadata: Option<String>,
        /// Print only the key.
        #[arg(short = 'k', long)]
        only_key: bool,
        #[arg(short, long)]
        json: bool,
    },
    List {
        #[arg(short, long)]
        json: bool,
    },
    Get {
        id: String,
        #[arg(short, long)]
        json: bool,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    Delete {
        id: String,
    },
}

pub fn apikey(opts: &ClientOpts, args: ApiKeyArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        ApiKeyCmd::Create {
            metadata,
            only_key,
            json,
        } => {
            let metadata: Value = match metadata {
                Some(m) => serde_json::from_str(&m).context("--metadata is not valid JSON")?,
                None => json!({}),
            };
            if !metadata.is_object() {
                bail!("--metadata must be a JSON object");
            }
            let key = c.post("/api/v1/apikeys", &json!({ "metadata": metadata }))?;
            if only_key {
                println!(
                    "{}",
                    key.get("key").and_then(Value::as_str).unwrap_or_default()
                );
            } else if json {
                output::json(&key);
            } else {
                output::record(
                    &key,
                    &["id", "user", "key", "metadata", "enabled", "created_at"],
                );
            }
        }
        ApiKeyCmd::List { json } => {
            let keys = c.get("/api/v1/apikeys")?;
            if json {
                output::json(&keys);
            } else {
                output::table(
                    keys.as_array().map(Vec::as_slice).unwrap_or(&[]),
                    &["id", "user", "metadata", "enabled"],
                );
            }
        }
        ApiKeyCmd::Get { id, json } => {
            let k = c.get(&format!("/api/v1/apikeys/{id}"))?;
            if json {
                output::json(&k);
            } else {
                output::record(&k, &["id", "user", "metadata", "enabled", "created_at"]);
            }
        }
        ApiKeyCmd::Enable { id } => set_enabled(&c, &id, true)?,
        ApiKeyCmd::Disable { id } => set_enabled(&c, &id, false)?,
        ApiKeyCmd::Delete { id } => {
            c.delete(&format!("/api/v1/apikeys/{id}"))?;
            println!("Resource with id \"{id}\" has been successfully deleted.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn set_enabled(c: &Client, id: &str, enabled: bool) -> Result<()> {
    let mut k = c.get(&format!("/api/v1/apikeys/{id}"))?;
    if let Some(obj) = k.as_object_mut() {
        obj.insert("enabled".into(), Value::Bool(enabled));
    }
    let id = k
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(id)
        .to_string();
    let updated = c.put(&format!("/api/v1/apikeys/{id}"), &k)?;
    output::record(&updated, &["id", "user", "enabled"]);
    Ok(())
}

//! `gale key list|get|set|delete|load`: the datastore, with st2's flags (`--scope`, `--user`,
//! `--encrypt`, `--ttl`, `--decrypt`, `--prefix`) and its messages.

use super::client::{q, ApiError, Client, ClientOpts};
use super::output;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;

const LIST_COLUMNS: &[&str] = &[
    "name",
    "value",
    "secret",
    "encrypted",
    "scope",
    "user",
    "expire_timestamp",
];
const RECORD_ATTRS: &[&str] = &[
    "name",
    "value",
    "secret",
    "encrypted",
    "scope",
    "user",
    "expire_timestamp",
    "description",
];

#[derive(Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    cmd: KeyCmd,
}

#[derive(Args, Clone)]
struct ScopeOpts {
    /// system, user (or st2kv.system, st2kv.user).
    #[arg(short, long, default_value = "system")]
    scope: String,
    /// Act on this user's user-scope keys (admins only).
    #[arg(short, long)]
    user: Option<String>,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// List key-value pairs.
    List {
        /// Only keys whose name starts with this.
        #[arg(short, long)]
        prefix: Option<String>,
        /// system, user or all.
        #[arg(short, long, default_value = "system")]
        scope: String,
        #[arg(short, long)]
        user: Option<String>,
        /// Decrypt secret values.
        #[arg(short, long)]
        decrypt: bool,
        /// How many to list.
        #[arg(short = 'n', long = "last", default_value_t = 50)]
        last: i64,
        #[arg(short, long)]
        json: bool,
    },
    /// Show one key-value pair.
    Get {
        name: String,
        #[command(flatten)]
        scope: ScopeOpts,
        #[arg(short, long)]
        decrypt: bool,
        #[arg(short, long)]
        json: bool,
    },
    /// Create or replace a key-value pair.
    Set {
        name: String,
        value: String,
        #[command(flatten)]
        scope: ScopeOpts,
        /// Store the value encrypted.
        #[arg(short, long)]
        encrypt: bool,
        /// Expire after this many seconds.
        #[arg(short = 'l', long)]
        ttl: Option<i64>,
        #[arg(long)]
        description: Option<String>,
        #[arg(short, long)]
        json: bool,
    },
    /// Delete a key-value pair.
    Delete {
        name: String,
        #[command(flatten)]
        scope: ScopeOpts,
    },
    /// Delete every key-value pair whose name starts with a prefix.
    #[command(name = "delete_by_prefix", alias = "delete-by-prefix")]
    DeleteByPrefix {
        #[arg(short, long)]
        prefix: String,
        #[command(flatten)]
        scope: ScopeOpts,
    },
    /// Load key-value pairs from a JSON or YAML file (a list of pairs or a name → value map).
    Load {
        file: PathBuf,
        /// JSON-encode values that are not strings instead of refusing them.
        #[arg(short, long)]
        convert: bool,
        #[arg(short, long)]
        json: bool,
    },
}

fn path(name: &str) -> String {
    format!("/api/v1/keys/{}", q(name))
}

fn scope_query(s: &ScopeOpts) -> String {
    let mut out = format!("scope={}", q(&s.scope));
    if let Some(u) = &s.user {
        out.push_str(&format!("&user={}", q(u)));
    }
    out
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|a| a.status == StatusCode::NOT_FOUND)
}

pub fn key(opts: &ClientOpts, args: KeyArgs) -> Result<ExitCode> {
    let c = Client::new(opts)?;
    match args.cmd {
        KeyCmd::List {
            prefix,
            scope,
            user,
            decrypt,
            last,
            json,
        } => {
            let mut url = format!(
                "/api/v1/keys/?scope={}&decrypt={decrypt}&limit={last}",
                q(&scope)
            );
            if let Some(p) = prefix {
                url.push_str(&format!("&prefix={}", q(&p)));
            }
            if let Some(u) = user {
                url.push_str(&format!("&user={}", q(&u)));
            }
            let items = c.get(&url)?;
            if json {
                output::json(&items);
            } else {
                output::table(
                    items.as_array().map(Vec::as_slice).unwrap_or(&[]),
                    LIST_COLUMNS,
                );
            }
        }
        KeyCmd::Get {
            name,
            scope,
            decrypt,
            json,
        } => {
            let url = format!("{}?decrypt={decrypt}&{}", path(&name), scope_query(&scope));
            match c.get(&url) {
                Ok(v) if json => output::json(&v),
                Ok(v) => output::record(&v, RECORD_ATTRS),
                Err(e) if is_not_found(&e) => {
                    eprintln!("Key Value Pair \"{name}\" is not found.");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e),
            }
        }
        KeyCmd::Set {
            name,
            value,
            scope,
            encrypt,
            ttl,
            description,
            json,
        } => {
            let mut body = json!({"name": name, "value": value, "scope": scope.scope});
            if let Some(u) = &scope.user {
                body["user"] = json!(u);
            }
            if encrypt {
                body["secret"] = json!(true);
            }
            if let Some(t) = ttl {
                body["ttl"] = json!(t);
            }
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            let v = c.put(&path(&name), &body)?;
            if json {
                output::json(&v);
            } else {
                output::record(&v, RECORD_ATTRS);
            }
        }
        KeyCmd::Delete { name, scope } => {
            // As st2: look the pair up first, so a missing key is reported as such.
            let sq = scope_query(&scope);
            match c.get(&format!("{}?{sq}", path(&name))) {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {
                    eprintln!("Key Value Pair \"{name}\" is not found.");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e),
            }
            c.delete(&format!("{}?{sq}", path(&name)))?;
            println!("Resource with id \"{name}\" has been successfully deleted.");
        }
        KeyCmd::DeleteByPrefix { prefix, scope } => {
            let sq = scope_query(&scope);
            let items = c.get(&format!(
                "/api/v1/keys/?{sq}&prefix={}&limit=-1",
                q(&prefix)
            ))?;
            let mut deleted = Vec::new();
            for k in items.as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let Some(name) = k.get("name").and_then(Value::as_str) else {
                    continue;
                };
                c.delete(&format!("{}?{sq}", path(name)))?;
                deleted.push(name.to_string());
            }
            println!("Deleted {} keys", deleted.len());
            if !deleted.is_empty() {
                println!("Deleted key ids: {}", deleted.join(", "));
            }
        }
        KeyCmd::Load {
            file,
            convert,
            json,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let pairs = parse_load_file(&text, convert)
                .with_context(|| format!("invalid key file {}", file.display()))?;
            let mut stored = Vec::with_capacity(pairs.len());
            for body in pairs {
                let name = body
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                stored.push(c.put(&path(&name), &body)?);
            }
            if json {
                output::json(&Value::Array(stored));
            } else {
                output::table(&stored, LIST_COLUMNS);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bodies `key load` sends: a list of pair objects, one pair object, or a `{name: value}`
/// map. Values must be strings unless `convert` (then they are JSON-encoded, as st2 does).
fn parse_load_file(text: &str, convert: bool) -> Result<Vec<Value>> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => serde_yaml::from_str(text).context("neither JSON nor YAML")?,
    };
    let items: Vec<Value> = match doc {
        Value::Array(a) => a,
        Value::Object(m) if m.contains_key("name") => vec![Value::Object(m)],
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
        other => bail!("expected a list or a mapping, not {other}"),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut m) = item else {
            bail!("every item must be a mapping with \"name\" and \"value\"");
        };
        let name = match m.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => bail!("an item has no \"name\""),
        };
        let value = m.remove("value").unwrap_or(Value::Null);
        let value = match value {
            Value::String(s) => s,
            other if convert => other.to_string(),
            _ => bail!(
                "Item \"{name}\" has a value that is not a string; use -c/--convert to store it JSON-encoded"
            ),
        };
        m.insert("value".into(), Value::String(value));
        // Fields st2 sends; anything else in the file is dropped.
        let keep = [
            "name",
            "value",
            "secret",
            "encrypted",
            "scope",
            "user",
            "ttl",
            "description",
        ];
        let body: Map<String, Value> = m
            .into_iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .collect();
        out.push(Value::Object(body));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_file_shapes() {
        let list = parse_load_file(
            r#"[{"name": "a", "value": "1", "secret": true, "extra": 1}]"#,
            false,
        )
        .unwrap();
        assert_eq!(list, [json!({"name": "a", "value": "1", "secret": true})]);
        let map = parse_load_file("a: x\nb: y\n", false).unwrap();
        assert_eq!(
            map,
            [
                json!({"name": "a", "value": "x"}),
                json!({"name": "b", "value": "y"})
            ]
        );
        let one = parse_load_file("name: k\nvalue: v\nttl: 5\n", false).unwrap();
        assert_eq!(one, [json!({"name": "k", "value": "v", "ttl": 5})]);
        let err = parse_load_file(r#"{"n": 5}"#, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"n\""), "{err}");
        let conv = parse_load_file(r#"{"n": 5, "o": {"a": [1]}}"#, true).unwrap();
        assert_eq!(conv[0]["value"], "5");
        assert_eq!(conv[1]["value"], r#"{"a":[1]}"#);
        assert!(parse_load_file("[1]", false).is_err());
        assert!(parse_load_file("[{\"value\": \"x\"}]", false).is_err());
        assert!(parse_load_file("\"x\"", false).is_err());
    }
}

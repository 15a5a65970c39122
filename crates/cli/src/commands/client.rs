//! The HTTP client every client command goes through: base URL, credentials, and StackStorm's
//! error convention (`{"faultstring": ...}` bodies become the error message).

use anyhow::{anyhow, Context, Result};
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Connection options shared by all client commands.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientOpts {
    /// Gale server URL (the root that /api/v1 and /auth/v1 hang off).
    #[arg(
        long,
        env = "GALE_URL",
        default_value = "http://127.0.0.1:9101",
        global = true
    )]
    pub url: String,
}

/// A failed API call: HTTP status and StackStorm's faultstring.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}\nMESSAGE: {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            self.message
        )
    }
}
impl std::error::Error for ApiError {}

enum Cred {
    None,
    Token(String),
    ApiKey(String),
}

pub struct Client {
    http: Http,
    base: String,
    cred: Cred,
}

/// Where the CLI keeps its state: `$XDG_CONFIG_HOME/gale` or `~/.config/gale`.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("gale"));
    }
    let home =
        std::env::var_os("HOME").context("HOME is not set; cannot find the config directory")?;
    Ok(PathBuf::from(home).join(".config").join("gale"))
}

impl Client {
    /// A client with credentials from `ST2_AUTH_TOKEN`, `ST2_API_KEY`, or the token cached by
    /// `gale login` (in that order, as the st2 CLI does).
    pub fn new(opts: &ClientOpts) -> Result<Self> {
        let cred = if let Some(t) = env_nonempty("ST2_AUTH_TOKEN") {
            Cred::Token(t)
        } else if let Some(k) = env_nonempty("ST2_API_KEY") {
            Cred::ApiKey(k)
        } else if let Some(t) = cached_token()? {
            Cred::Token(t)
        } else {
            Cred::None
        };
        Self::with_cred(opts, cred)
    }

    /// A client without credentials (for `login`).
    pub fn anonymous(opts: &ClientOpts) -> Result<Self> {
        Self::with_cred(opts, Cred::None)
    }

    fn with_cred(opts: &ClientOpts, cred: Cred) -> Result<Self> {
        let http = Http::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: opts.url.trim_end_matches('/').to_string(),
            cred,
        })
    }

    fn auth(&self, rb: RequestBuilder) -> RequestBuilder {
        match &self.cred {
            Cred::None => rb,
            Cred::Token(t) => rb.header("X-Auth-Token", t),
            Cred::ApiKey(k) => rb.header("St2-Api-Key", k),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn send(&self, rb: RequestBuilder) -> Result<Response> {
        self.auth(rb)
            .send()
            .with_context(|| format!("cannot reach the Gale server at {}", self.base))
    }

    /// GET a JSON document; also returns the `X-Total-Count` header when present.
    pub fn get_with_total(&self, path: &str) -> Result<(Value, Option<u64>)> {
        let resp = self.send(self.http.get(self.url(path)))?;
        let total = resp
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((json_or_error(resp)?, total))
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        Ok(self.get_with_total(path)?.0)
    }

    pub fn get_text(&self, path: &str) -> Result<String> {
        let resp = self.send(self.http.get(self.url(path)))?;
        let status = resp.status();
        let text = resp.text().context("reading the response")?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(api_error(status, &text).into())
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        json_or_error(self.send(self.http.post(self.url(path)).json(body))?)
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value> {
        json_or_error(self.send(self.http.put(self.url(path)).json(body))?)
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        json_or_error(self.send(self.http.delete(self.url(path)))?)
    }

    /// POST /auth/v1/tokens with basic auth.
    pub fn create_token(&self, user: &str, password: &str, ttl: Option<u64>) -> Result<Value> {
        let body = match ttl {
            Some(t) => serde_json::json!({ "ttl": t }),
            None => serde_json::json!({}),
        };
        let rb = self
            .http
            .post(self.url("/auth/v1/tokens"))
            .basic_auth(user, Some(password))
            .json(&body);
        json_or_error(
            rb.send()
                .with_context(|| format!("cannot reach the Gale server at {}", self.base))?,
        )
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn api_error(status: StatusCode, body: &str) -> ApiError {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("faultstring")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().to_string());
    ApiError { status, message }
}

fn json_or_error(resp: Response) -> Result<Value> {
    let status = resp.status();
    let text = resp.text().context("reading the response")?;
    if !status.is_success() {
        return Err(api_error(status, &text).into());
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text)
        .map_err(|e| anyhow!("the server answered {status} with invalid JSON: {e}"))
}

/// The token cached by `gale login` for the current user, unless expired.
pub fn cached_token() -> Result<Option<String>> {
    let dir = config_dir()?;
    let Ok(user) = std::fs::read_to_string(dir.join("current-user")) else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(dir.join(format!("token-{}", user.trim()))) else {
        return Ok(None);
    };
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return Ok(None);
    };
    let expired = v
        .get("expiry")
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|exp| exp < chrono::Utc::now())
        .unwrap_or(false);
    if expired {
        return Ok(None);
    }
    Ok(v.get("token").and_then(Value::as_str).map(str::to_string))
}

/// Percent-encode a query value.
pub fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

//! Site Engine northbound interface (NBI) client: GraphQL over HTTPS (spec sections 2.1–2.2).
//!
//! Auth is OAuth2 client credentials (token cached, renewed at 90 % of the JWT's lifetime or
//! on a 401) or HTTP Basic. TLS is verified unless the config says otherwise; a CA bundle adds
//! trust anchors. A call fails when HTTP is not 200, when `errors` is non-empty, or — for a
//! mutation — when any returned `status` is not `SUCCESS`.
//!
//! Mutations put their arguments inline as GraphQL literals (the input type names a variable
//! declaration would need are not public, spec 2.2 GAP); strings are escaped with JSON's
//! rules, which GraphQL string literals share.

use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::error::Error as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const DEFAULT_PORT: u16 = 8443;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const TOKEN_PATH: &str = "/oauth/token/access-token";
pub const GRAPHQL_PATH: &str = "/nbi/graphql";

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// OAuth2 client credentials (an API client from *Administration → Client API Access*).
    OAuth2 {
        client_id: String,
        client_secret: String,
    },
    /// HTTP Basic with a Site Engine user.
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Auth {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::OAuth2 { client_id, .. } => f
                .debug_struct("OAuth2")
                .field("client_id", client_id)
                .field("client_secret", &"********")
                .finish(),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"********")
                .finish(),
        }
    }
}

/// Where and how to reach one Site Engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbiConfig {
    /// Host name or address (IPv6 without brackets is fine).
    pub host: String,
    pub port: u16,
    pub auth: Auth,
    /// Verify the server certificate (default true).
    pub verify_tls: bool,
    /// Extra trust anchors: PEM text, or the path of a PEM file.
    pub ca_bundle: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl NbiConfig {
    pub fn new(host: impl Into<String>, auth: Auth) -> Self {
        NbiConfig {
            host: host.into(),
            port: DEFAULT_PORT,
            auth,
            verify_tls: true,
            ca_bundle: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// `https://<host>:<port>`.
    pub fn base_url(&self) -> String {
        let host = self.host.trim();
        if host.contains(':') && !host.starts_with('[') {
            format!("https://[{host}]:{}", self.port)
        } else {
            format!("https://{host}:{}", self.port)
        }
    }
}

/// Why an NBI call failed. The `Display` text is what an action's `error` shows.
#[derive(Debug, thiserror::Error)]
pub enum NbiError {
    #[error("invalid Site Engine configuration: {0}")]
    Config(String),
    #[error("TLS failure talking to {url}: {reason} (check verify_tls / ca_bundle)")]
    Tls { url: String, reason: String },
    #[error("cannot reach Site Engine at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("Site Engine at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: f64 },
    #[error("Site Engine answered HTTP {status} for {url}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("Site Engine refused the credentials (HTTP 401) for {url}")]
    Unauthorized { url: String },
    #[error("Site Engine token response is unusable: {0}")]
    Token(String),
    #[error("Site Engine answered something that is not a GraphQL response: {0}")]
    BadResponse(String),
    #[error("GraphQL errors: {}", .0.join("; "))]
    GraphQl(Vec<String>),
    #[error("mutation {field} returned status {status}: {message}")]
    MutationFailed {
        field: String,
        status: String,
        message: String,
    },
    #[error("invalid argument '{field}': {reason}")]
    Argument { field: String, reason: String },
    #[error("Site Engine workflow execution {execution_id} ended {status}")]
    WorkflowFailed { execution_id: i64, status: String },
    #[error("Site Engine workflow execution {execution_id} still {status} after {secs} s")]
    WorkflowTimeout {
        execution_id: i64,
        status: String,
        secs: f64,
    },
}

struct Token {
    value: String,
    /// Unix seconds after which the token is renewed before use.
    renew_at: f64,
}

/// A client for one Site Engine. Cheap to share (`Arc`); the token cache is internal.
pub struct NbiClient {
    config: NbiConfig,
    base: String,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl std::fmt::Debug for NbiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NbiClient")
            .field("base", &self.base)
            .field("auth", &self.config.auth)
            .finish()
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Decodes the claims (middle part) of a JWT without verifying it: the client only needs
/// `iat`/`exp` to schedule renewal, and the server verifies its own tokens.
pub fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let mid = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(mid.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// When a token should be renewed: at `iat + 0.9 × (exp − iat)` (spec 2.1). Without `exp`
/// the token is kept until a 401.
pub fn renew_at(claims: Option<&Map<String, Value>>, now: f64) -> f64 {
    let get = |k: &str| claims.and_then(|c| c.get(k)).and_then(Value::as_f64);
    match (get("iat"), get("exp")) {
        (Some(iat), Some(exp)) if exp > iat => iat + 0.9 * (exp - iat),
        (None, Some(exp)) if exp > now => now + 0.9 * (exp - now),
        (_, Some(_)) => now, // already expired or nonsensical: renew on next use
        (_, None) => f64::INFINITY,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The operation keyword of a GraphQL document (`query`, `mutation`, `subscription`); a bare
/// selection set `{ ... }` is a query.
pub fn operation_kind(query: &str) -> &'static str {
    let mut rest = query;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('#') {
            rest = r.split_once('\n').map(|(_, r)| r).unwrap_or("");
            continue;
        }
        break;
    }
    if rest.starts_with("mutation") {
        "mutation"
    } else if rest.starts_with("subscription") {
        "subscription"
    } else {
        "query"
    }
}

/// Walks mutation results: any object with a string `status` other than `SUCCESS` fails the
/// call (spec 2.1).
fn check_mutation_status(data: &Value, path: &mut Vec<String>) -> Result<(), NbiError> {
    match data {
        Value::Object(m) => {
            if let Some(Value::String(status)) = m.get("status") {
                if status != "SUCCESS" {
                    let message = m
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let code = m
                        .get("errorCode")
                        .filter(|c| !c.is_null() && **c != json!(0))
                        .map(|c| format!(" (errorCode {c})"))
                        .unwrap_or_default();
                    return Err(NbiError::MutationFailed {
                        field: path.join("."),
                        status: status.clone(),
                        message: format!("{message}{code}"),
                    });
                }
            }
            for (k, v) in m {
                path.push(k.clone());
                let r = check_mutation_status(v, path);
                path.pop();
                r?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                let r = check_mutation_status(v, path);
                path.pop();
                r?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A GraphQL string literal.
pub fn gql_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A GraphQL enum value: upper-case letters, digits and `_` only (refuses injection).
fn gql_enum(field: &str, s: &str) -> Result<String, NbiError> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(s.to_string())
    } else {
        Err(NbiError::Argument {
            field: field.into(),
            reason: format!("{s:?} is not a GraphQL enum value (A-Z, 0-9, _)"),
        })
    }
}

/// A JSON object rendered as a GraphQL input object literal (keys unquoted, strings escaped).
fn gql_value(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let fields: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}: {}", gql_value(v)))
                .collect();
            format!("{{{}}}", fields.join(" "))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(gql_value).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

fn require_ip(field: &str, ip: &str) -> Result<(), NbiError> {
    if ip.trim().parse::<std::net::IpAddr>().is_ok() {
        Ok(())
    } else {
        Err(NbiError::Argument {
            field: field.into(),
            reason: format!("{ip:?} is not an IP address"),
        })
    }
}

/// Walks `data` along `path`.
fn pick<'a>(data: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .fold(data, |v, k| v.get(k).unwrap_or(&Value::Null))
}

/// Q2 selection.
pub const LIST_DEVICES: &str = "query { network { devices { ip deviceName nickName sysName up status sitePath policyDomain sysContact sysLocation deviceData { ipAddress serialNumber family macAddress } } } }";
/// Q3.
pub const GET_DEVICE: &str = "query Device($ip: String!) { network { device(ip: $ip) { id deviceId ip sysName nickName sysContact sysLocation sitePath firmware status up down baseMac nosIdName deviceData { serialNumber family subFamily profileName macAddress } userData1 userData2 userData3 userData4 customVariables { name value valueType scopeCategory globalAttribute } } } }";
/// Q4.
pub const GET_PORTS: &str = "query Ports($ip: String!) { network { device(ip: $ip) { entityData { allPorts { ifIndex ifName ifOperStatus vlanList } } } deviceVlans(ip: $ip) { vid } } }";
/// Q1.
pub const SERVER_INFO: &str = "query { administration { serverInfo { version uptime } } }";

/// M3 arguments: what to change on a device (absent fields are left alone).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceUpdate {
    pub ip: String,
    pub nick_name: Option<String>,
    pub note: Option<String>,
    pub user_data: [Option<String>; 4],
    pub topology_role: Option<String>,
    pub admin_profile: Option<String>,
}

/// M4 switches; `vlan` and `port_vlan` on by default (the common "push the VLAN model" use).
#[derive(Clone, Debug, PartialEq)]
pub struct EnforceOptions {
    pub flags: Vec<(String, bool)>,
    pub timeout_secs: u64,
}

impl Default for EnforceOptions {
    fn default() -> Self {
        let flags = [
            ("enforceVlan", true),
            ("enforcePortVlan", true),
            ("enforceAll", false),
            ("enforceSystem", false),
            ("enforceTopology", false),
            ("enforceVrf", false),
            ("enforceClip", false),
            ("enforceServices", false),
            ("enforceLag", false),
            ("enforcePortAlias", false),
            ("enforcePortFabric", false),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        EnforceOptions {
            flags,
            timeout_secs: 30,
        }
    }
}

/// Which Site Engine workflow M5 starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkflowRef {
    Path(String),
    Id(i64),
}

/// A finished Site Engine workflow run.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowRun {
    pub execution_id: i64,
    pub status: String,
    /// Status queries made before the terminal status was seen.
    pub polls: u32,
}

/// Terminal statuses of a workflow execution (anything else is still running).
pub fn is_terminal(status: &str) -> bool {
    !matches!(
        status.to_ascii_uppercase().as_str(),
        "RUNNING" | "PENDING" | "QUEUED" | "STARTED" | "WAITING" | "SCHEDULED"
    )
}

impl NbiClient {
    /// Builds the HTTPS client. Fails on an unreadable or invalid CA bundle.
    pub fn new(config: NbiConfig) -> Result<NbiClient, NbiError> {
        if config.host.trim().is_empty() {
            return Err(NbiError::Config("host is empty".into()));
        }
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("gale-siteengine/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if !config.verify_tls {
            tracing::warn!(host = %config.host, "Site Engine TLS verification is disabled");
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(bundle) = config.ca_bundle.as_deref().filter(|s| !s.trim().is_empty()) {
            let pem = if bundle.contains("-----BEGIN") {
                bundle.as_bytes().to_vec()
            } else {
                std::fs::read(bundle).map_err(|e| {
                    NbiError::Config(format!("cannot read ca_bundle {bundle:?}: {e}"))
                })?
            };
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| NbiError::Config(format!("ca_bundle is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(NbiError::Config(
                    "ca_bundle holds no certificate".to_string(),
                ));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().map_err(|e| NbiError::Config(error_chain(&e)))?;
        Ok(NbiClient {
            base: config.base_url(),
            config,
            http,
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> &NbiConfig {
        &self.config
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> NbiError {
        if e.is_timeout() {
            return NbiError::Timeout {
                url: url.into(),
                secs: self.config.timeout.as_secs_f64(),
            };
        }
        let reason = error_chain(&e);
        // Classify on the causes only: reqwest's own message quotes the URL.
        let causes = e
            .source()
            .map(|s| error_chain(s).to_ascii_lowercase())
            .unwrap_or_default();
        if causes.contains("certificate") || causes.contains("tls") || causes.contains("handshake")
        {
            NbiError::Tls {
                url: url.into(),
                reason,
            }
        } else {
            NbiError::Connect {
                url: url.into(),
                reason,
            }
        }
    }

    /// Fetches a new OAuth2 token (`POST /oauth/token/access-token?grant_type=client_credentials`).
    async fn fetch_token(&self, client_id: &str, secret: &str) -> Result<Token, NbiError> {
        let url = format!("{}{TOKEN_PATH}?grant_type=client_credentials", self.base);
        tracing::debug!(%url, client_id, "requesting Site Engine token");
        let resp = self
            .http
            .post(&url)
            .basic_auth(client_id, Some(secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body("")
            .send()
            .await
            .map_err(|e| self.transport_error(&url, e))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| self.transport_error(&url, e))?;
        match status {
            200 => {}
            401 | 403 => return Err(NbiError::Unauthorized { url }),
            _ => {
                return Err(NbiError::Http {
                    url,
                    status,
                    body: snippet(&text),
                })
            }
        }
        let body: Value = serde_json::from_str(&text)
            .map_err(|e| NbiError::Token(format!("not JSON ({e}): {}", snippet(&text))))?;
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| NbiError::Token("no access_token in the response".into()))?
            .to_string();
        let claims = jwt_claims(&value);
        Ok(Token {
            renew_at: renew_at(claims.as_ref(), unix_now()),
            value,
        })
    }

    /// The `Authorization` header value for the next request; `fresh` forces a new token.
    async fn authorization(&self, fresh: bool) -> Result<String, NbiError> {
        match &self.config.auth {
            Auth::Basic { username, password } => {
                let raw = format!("{username}:{password}");
                Ok(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
            Auth::OAuth2 {
                client_id,
                client_secret,
            } => {
                // Held across the fetch so concurrent callers share one renewal.
                let mut guard = self.token.lock().await;
                let usable = guard
                    .as_ref()
                    .filter(|t| !fresh && unix_now() < t.renew_at)
                    .map(|t| t.value.clone());
                if let Some(v) = usable {
                    return Ok(format!("Bearer {v}"));
                }
                let t = self.fetch_token(client_id, client_secret).await?;
                let v = t.value.clone();
                *guard = Some(t);
                Ok(format!("Bearer {v}"))
            }
        }
    }

    /// Runs any GraphQL document and returns its `data` (spec 2.1 failure rules; mutations are
    /// also checked for `status != SUCCESS`).
    pub async fn graphql(&self, query: &str, variables: Option<Value>) -> Result<Value, NbiError> {
        let url = format!("{}{GRAPHQL_PATH}", self.base);
        let mut body = json!({ "query": query });
        if let Some(v) = variables.filter(|v| !v.is_null()) {
            body["variables"] = v;
        }
        let mut fresh = false;
        let (status, text) = loop {
            let auth = self.authorization(fresh).await?;
            let resp = self
                .http
                .post(&url)
                .header("Authorization", auth)
                .header("Accept", "application/json")
                .json(&body)
                .send()
                .await
                .map_err(|e| self.transport_error(&url, e))?;
            let status = resp.status().as_u16();
            // A 401 with OAuth2 means the token was revoked or expired early: renew once.
            if status == 401 && !fresh && matches!(self.config.auth, Auth::OAuth2 { .. }) {
                tracing::info!(%url, "Site Engine refused the token; renewing");
                fresh = true;
                continue;
            }
            let text = resp
                .text()
                .await
                .map_err(|e| self.transport_error(&url, e))?;
            break (status, text);
        };
        match status {
            200 => {}
            401 | 403 => return Err(NbiError::Unauthorized { url }),
            _ => {
                return Err(NbiError::Http {
                    url,
                    status,
                    body: snippet(&text),
                })
            }
        }
        let resp: Value = serde_json::from_str(&text)
            .map_err(|e| NbiError::BadResponse(format!("{e}: {}", snippet(&text))))?;
        if let Some(errors) = resp.get("errors").and_then(Value::as_array) {
            if !errors.is_empty() {
                let messages = errors
                    .iter()
                    .map(|e| {
                        e.get("message")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| e.to_string())
                    })
                    .collect();
                return Err(NbiError::GraphQl(messages));
            }
        }
        let data = resp.get("data").cloned().unwrap_or(Value::Null);
        if operation_kind(query) == "mutation" {
            check_mutation_status(&data, &mut Vec::new())?;
        }
        Ok(data)
    }

    /// The server's schema (`GET /nbi/graphql/schema.idl`), to check which operations this
    /// release supports ([`crate::schema::unsupported_operations`]).
    pub async fn schema(&self) -> Result<crate::schema::NbiSchema, NbiError> {
        let url = format!("{}{GRAPHQL_PATH}/schema.idl", self.base);
        let mut fresh = false;
        loop {
            let auth = self.authorization(fresh).await?;
            let resp = self
                .http
                .get(&url)
                .header("Authorization", auth)
                .send()
                .await
                .map_err(|e| self.transport_error(&url, e))?;
            let status = resp.status().as_u16();
            if status == 401 && !fresh && matches!(self.config.auth, Auth::OAuth2 { .. }) {
                fresh = true;
                continue;
            }
            let text = resp
                .text()
                .await
                .map_err(|e| self.transport_error(&url, e))?;
            return match status {
                200 => Ok(crate::schema::NbiSchema::parse(&text)),
                401 | 403 => Err(NbiError::Unauthorized { url }),
                _ => Err(NbiError::Http {
                    url,
                    status,
                    body: snippet(&text),
                }),
            };
        }
    }

    /// Q1: `{version, uptime}`.
    pub async fn server_info(&self) -> Result<Value, NbiError> {
        let data = self.graphql(SERVER_INFO, None).await?;
        Ok(pick(&data, &["administration", "serverInfo"]).clone())
    }

    /// Q2: the managed devices.
    pub async fn list_devices(&self) -> Result<Vec<Value>, NbiError> {
        let data = self.graphql(LIST_DEVICES, None).await?;
        Ok(pick(&data, &["network", "devices"])
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Q3: the device, or `None` when Site Engine does not manage that address.
    pub async fn get_device(&self, ip: &str) -> Result<Option<Value>, NbiError> {
        require_ip("ip", ip)?;
        let data = self
            .graphql(GET_DEVICE, Some(json!({ "ip": ip.trim() })))
            .await?;
        let d = pick(&data, &["network", "device"]);
        Ok((!d.is_null()).then(|| d.clone()))
    }

    /// Q4: `{"ports": [...], "vlans": [...]}`, `None` when the device is unknown.
    pub async fn get_ports(&self, ip: &str) -> Result<Option<Value>, NbiError> {
        require_ip("ip", ip)?;
        let data = self
            .graphql(GET_PORTS, Some(json!({ "ip": ip.trim() })))
            .await?;
        let device = pick(&data, &["network", "device"]);
        if device.is_null() {
            return Ok(None);
        }
        Ok(Some(json!({
            "ports": pick(device, &["entityData", "allPorts"]).as_array().cloned().unwrap_or_default(),
            "vlans": pick(&data, &["network", "deviceVlans"]).as_array().cloned().unwrap_or_default(),
        })))
    }

    /// Runs a mutation and returns the object under `data.<ns>.<field>`.
    async fn mutate(&self, ns: &str, field: &str, text: String) -> Result<Value, NbiError> {
        let data = self.graphql(&text, None).await?;
        Ok(pick(&data, &[ns, field]).clone())
    }

    /// M1.
    pub async fn rediscover_device(&self, ip: &str) -> Result<Value, NbiError> {
        require_ip("ip", ip)?;
        let q = format!(
            "mutation {{ network {{ rediscoverDevices(input: {{devices: [{{ipAddress: {}}}]}}) {{ status message }} }} }}",
            gql_str(ip.trim())
        );
        self.mutate("network", "rediscoverDevices", q).await
    }

    /// M2 create.
    pub async fn create_device(
        &self,
        ip: &str,
        profile: &str,
        site: &str,
    ) -> Result<Value, NbiError> {
        require_ip("ip", ip)?;
        let q = format!(
            "mutation {{ network {{ createDevices(input: {{devices: {{ipAddress: {} profileName: {} siteLocation: {}}}}}) {{ status message results {{ deviceId ipAddress serialNumber status message }} }} }} }}",
            gql_str(ip.trim()),
            gql_str(profile),
            gql_str(site)
        );
        self.mutate("network", "createDevices", q).await
    }

    /// M2 delete.
    pub async fn delete_device(&self, ip: &str, remove_data: bool) -> Result<Value, NbiError> {
        require_ip("ip", ip)?;
        let q = format!(
            "mutation {{ network {{ deleteDevices(input: {{devices: [{{ipAddress: {}}}], removeData: {remove_data}}}) {{ status message }} }} }}",
            gql_str(ip.trim())
        );
        self.mutate("network", "deleteDevices", q).await
    }

    /// M3.
    pub async fn update_device(&self, u: &DeviceUpdate) -> Result<Value, NbiError> {
        require_ip("ip", &u.ip)?;
        let mut annotation = Vec::new();
        if let Some(v) = &u.nick_name {
            annotation.push(format!("nickName: {}", gql_str(v)));
        }
        if let Some(v) = &u.note {
            annotation.push(format!("note: {}", gql_str(v)));
        }
        for (i, v) in u.user_data.iter().enumerate() {
            if let Some(v) = v {
                annotation.push(format!("userData{}: {}", i + 1, gql_str(v)));
            }
        }
        let mut general = Vec::new();
        if let Some(v) = &u.topology_role {
            general.push(format!("topologyRole: {}", gql_enum("topology_role", v)?));
        }
        if let Some(v) = &u.admin_profile {
            general.push(format!("adminProfile: {}", gql_str(v)));
        }
        if annotation.is_empty() && general.is_empty() {
            return Err(NbiError::Argument {
                field: "update".into(),
                reason: "nothing to change (give a note, nickname, user data, role or profile)"
                    .into(),
            });
        }
        let mut config = vec![format!("ipAddress: {}", gql_str(u.ip.trim()))];
        if !annotation.is_empty() {
            config.push(format!(
                "deviceAnnotationConfig: {{ {} }}",
                annotation.join(" ")
            ));
        }
        if !general.is_empty() {
            config.push(format!("generalConfig: {{ {} }}", general.join(" ")));
        }
        let q = format!(
            "mutation {{ network {{ configureDevice(input: {{ deviceConfig: {{ {} }} }}) {{ status message }} }} }}",
            config.join(" ")
        );
        self.mutate("network", "configureDevice", q).await
    }

    /// M4.
    pub async fn enforce_device(&self, ip: &str, opts: &EnforceOptions) -> Result<Value, NbiError> {
        require_ip("ip", ip)?;
        let mut parts: Vec<String> = Vec::new();
        for (k, v) in &opts.flags {
            if !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(NbiError::Argument {
                    field: k.clone(),
                    reason: "not a GraphQL field name".into(),
                });
            }
            parts.push(format!("{k}: {v}"));
        }
        let q = format!(
            "mutation {{ network {{ configureDevice(input: {{ {} timeout: {} deviceConfig: {{ ipAddress: {} }} }}) {{ status message }} }} }}",
            parts.join(" "),
            opts.timeout_secs,
            gql_str(ip.trim())
        );
        self.mutate("network", "configureDevice", q).await
    }

    /// M5 start: returns the execution id.
    pub async fn start_workflow(
        &self,
        wf: &WorkflowRef,
        variables: &Value,
    ) -> Result<i64, NbiError> {
        let target = match wf {
            WorkflowRef::Path(p) => format!("path: {}", gql_str(p)),
            WorkflowRef::Id(id) => format!("id: {id}"),
        };
        let vars = match variables {
            Value::Null => "{}".to_string(),
            Value::Object(_) => variables.to_string(),
            Value::String(s) => s.clone(),
            _ => {
                return Err(NbiError::Argument {
                    field: "variables".into(),
                    reason: "must be an object".into(),
                })
            }
        };
        let q = format!(
            "mutation {{ workflows {{ startWorkflow(input: {{ {target} variables: {} }}) {{ status message executionId errorCode }} }} }}",
            gql_str(&vars)
        );
        let r = self.mutate("workflows", "startWorkflow", q).await?;
        r.get("executionId")
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .ok_or_else(|| {
                NbiError::BadResponse(format!("startWorkflow returned no executionId: {r}"))
            })
    }

    /// M5 poll: the execution's status (`RUNNING`, `SUCCESS`, `FAILED`, ...).
    pub async fn workflow_status(&self, execution_id: i64) -> Result<String, NbiError> {
        let q = format!(
            "query {{ workflows {{ execution(executionId: {execution_id}) {{ status }} }} }}"
        );
        let data = self.graphql(&q, None).await?;
        // An unknown execution id comes back as null: Site Engine's FAILED meaning.
        Ok(pick(&data, &["workflows", "execution", "status"])
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| "FAILED".to_string()))
    }

    /// M5 + polling every `poll_interval` until a terminal status or `timeout`. `FAILED` (or any
    /// terminal status other than `SUCCESS`) is an error.
    pub async fn run_workflow(
        &self,
        wf: &WorkflowRef,
        variables: &Value,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<WorkflowRun, NbiError> {
        let execution_id = self.start_workflow(wf, variables).await?;
        let started = tokio::time::Instant::now();
        let mut polls = 0u32;
        loop {
            let status = self.workflow_status(execution_id).await?;
            polls += 1;
            if is_terminal(&status) {
                if status.eq_ignore_ascii_case("SUCCESS") {
                    return Ok(WorkflowRun {
                        execution_id,
                        status,
                        polls,
                    });
                }
                return Err(NbiError::WorkflowFailed {
                    execution_id,
                    status,
                });
            }
            if started.elapsed() + poll_interval > timeout {
                return Err(NbiError::WorkflowTimeout {
                    execution_id,
                    status,
                    secs: timeout.as_secs_f64(),
                });
            }
            tokio::time::sleep(poll_interval).await;
        }
    }

    /// M6: pre-register devices for ZTP+. Each device is an object of M6 fields
    /// (`serialNumber`, `siteLocation`, `ipAddress`, ...).
    pub async fn preregister_devices(&self, devices: &[Value]) -> Result<Value, NbiError> {
        for (i, d) in devices.iter().enumerate() {
            let serial = d.get("serialNumber").and_then(Value::as_str).unwrap_or("");
            if serial.is_empty() {
                return Err(NbiError::Argument {
                    field: format!("devices[{i}].serialNumber"),
                    reason: "required".into(),
                });
            }
            if let Some(bad) = d.as_object().and_then(|m| {
                m.keys()
                    .find(|k| !k.bytes().all(|b| b.is_ascii_alphanumeric()))
            }) {
                return Err(NbiError::Argument {
                    field: format!("devices[{i}].{bad}"),
                    reason: "not a GraphQL field name".into(),
                });
            }
        }
        let q = format!(
            "mutation {{ network {{ preRegisterDevices(input: {{ devices: {} }}) {{ status message }} }} }}",
            gql_value(&Value::Array(devices.to_vec()))
        );
        self.mutate("network", "preRegisterDevices", q).await
    }

    /// M8: add a MAC to an end-system group (quarantine).
    pub async fn quarantine_mac(
        &self,
        mac: &str,
        group: &str,
        description: &str,
        reauthenticate: bool,
    ) -> Result<Value, NbiError> {
        let q = format!(
            "mutation {{ accessControl {{ addMACToEndSystemGroup(input: {{ group: {} value: {} description: {} reauthenticate: {reauthenticate} }}) {{ status message }} }} }}",
            gql_str(group),
            gql_str(&check_mac(mac)?),
            gql_str(description)
        );
        self.mutate("accessControl", "addMACToEndSystemGroup", q)
            .await
    }

    /// M8: remove a MAC from an end-system group (release).
    pub async fn release_mac(
        &self,
        mac: &str,
        group: &str,
        reauthenticate: bool,
    ) -> Result<Value, NbiError> {
        let q = format!(
            "mutation {{ accessControl {{ removeMACFromEndSystemGroup(input: {{ group: {} value: {} reauthenticate: {reauthenticate} }}) {{ status message }} }} }}",
            gql_str(group),
            gql_str(&check_mac(mac)?)
        );
        self.mutate("accessControl", "removeMACFromEndSystemGroup", q)
            .await
    }

    /// M8: force re-authentication of an end system.
    pub async fn reauthenticate_mac(&self, mac: &str) -> Result<Value, NbiError> {
        let q = format!(
            "mutation {{ accessControl {{ reauthenticate(input: {{macAddress: {}}}) {{ status message }} }} }}",
            gql_str(&check_mac(mac)?)
        );
        self.mutate("accessControl", "reauthenticate", q).await
    }
}

/// Normalises a MAC to `aa:bb:cc:dd:ee:ff` (accepts `-`, `.` and bare hex).
pub fn check_mac(mac: &str) -> Result<String, NbiError> {
    let hex: String = mac
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(NbiError::Argument {
            field: "mac".into(),
            reason: format!("{mac:?} is not a MAC address"),
        });
    }
    let lower = hex.to_ascii_lowercase();
    Ok((0..6)
        .map(|i| &lower[i * 2..i * 2 + 2])
        .collect::<Vec<_>>()
        .join(":"))
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() > 300 {
        format!("{}…", t.chars().take(300).collect::<String>())
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_token_claims_and_renewal_point() {
        let v: Value =
            serde_json::from_str(include_str!("../data/examples/nbi-token-response.json")).unwrap();
        let claims = jwt_claims(v["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims["sub"], "gale-client");
        assert_eq!(claims["iat"], 1714644900);
        assert_eq!(claims["exp"], 1714648500);
        // 3600 s lifetime: renew after 3240 s.
        assert_eq!(renew_at(Some(&claims), 0.0), 1714644900.0 + 3240.0);
        assert_eq!(renew_at(None, 5.0), f64::INFINITY);
        assert!(jwt_claims("not-a-jwt").is_none());
    }

    #[test]
    fn operation_kinds() {
        assert_eq!(operation_kind("  # c\n mutation { x }"), "mutation");
        assert_eq!(operation_kind("query Q { x }"), "query");
        assert_eq!(operation_kind("{ x }"), "query");
    }

    #[test]
    fn mutation_status_is_checked_everywhere() {
        let ok: Value =
            serde_json::from_str(include_str!("../data/examples/nbi-mutation-response.json"))
                .unwrap();
        check_mutation_status(&ok["data"], &mut Vec::new()).unwrap();
        let bad = json!({"network": {"createDevices": {"status": "SUCCESS", "results": [
            {"status": "SUCCESS"}, {"status": "ERROR", "message": "duplicate", "errorCode": 7}]}}});
        let err = check_mutation_status(&bad, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mutation network.createDevices.results.1 returned status ERROR: duplicate (errorCode 7)"
        );
    }

    #[test]
    fn literals_refuse_injection() {
        assert_eq!(gql_str("a\"b\\c"), r#""a\"b\\c""#);
        assert!(gql_enum("role", "L2_ACCESS").is_ok());
        assert!(gql_enum("role", "L2 } evil").is_err());
        assert_eq!(
            gql_value(&json!({"serialNumber": "X\"1", "useDiscoveredIP": false})),
            r#"{serialNumber: "X\"1" useDiscoveredIP: false}"#
        );
        assert_eq!(check_mac("00-11-22-33-44-AA").unwrap(), "00:11:22:33:44:aa");
        assert!(check_mac("00:11").is_err());
    }

    #[test]
    fn base_urls() {
        let auth = Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        assert_eq!(
            NbiConfig::new("se.example.net", auth.clone()).base_url(),
            "https://se.example.net:8443"
        );
        assert_eq!(
            NbiConfig::new("::1", auth.clone()).base_url(),
            "https://[::1]:8443"
        );
        let dbg = format!("{:?}", NbiConfig::new("h", auth));
        assert!(!dbg.contains("\"p\""), "{dbg}");
    }

    #[test]
    fn terminal_statuses() {
        assert!(!is_terminal("RUNNING"));
        assert!(is_terminal("SUCCESS"));
        assert!(is_terminal("FAILED"));
        assert!(is_terminal("CANCELED"));
    }
}

//! A Site Engine simulator for tests and demos: HTTPS on loopback with a CA generated at
//! start, the OAuth2 token endpoint, `/nbi/graphql` answering from the spec's example payloads,
//! a record of every call, and scriptable failures (5xx, slow answers, revoked tokens, an
//! untrusted certificate).
//!
//! GraphQL is not parsed: the simulator recognises each section 2.2 operation by its field
//! name, which is all the NBI client and the pack's actions send. Anything else gets a GraphQL
//! validation error, like a real server asked for a field its schema lacks.

use crate::nbi::{Auth, NbiConfig};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

const DEVICE_RESPONSE: &str = include_str!("../data/examples/nbi-device-response.json");
/// The schema the simulator serves at `/nbi/graphql/schema.idl`: the section 2.2 fields it
/// answers (a subset of a real release's schema).
pub const SCHEMA_IDL: &str = r#"schema { query: Query mutation: Mutation }
type Query { administration: Administration network: Network accessControl: AccessControl policy: Policy workflows: Workflows }
type Mutation { network: NetworkMutation accessControl: AccessControlMutation workflows: WorkflowsMutation }
type Administration { serverInfo: ServerInfo }
type ServerInfo { version: String uptime: String }
type Network {
  devices: [Device]
  device(ip: String!): Device
  deviceVlans(ip: String!): [Vlan]
  sites: [Site]
  siteByLocation(location: String!): Site
  discoveredDevices: [DiscoveredDevice]
}
type Device { id: Int deviceId: Int ip: String sysName: String nickName: String deviceName: String sitePath: String firmware: String up: Boolean status: Int sysContact: String sysLocation: String deviceData: DeviceData entityData: EntityData }
type DeviceData { ipAddress: String serialNumber: String family: String subFamily: String profileName: String macAddress: String }
type EntityData { allPorts: [Port] }
type Port { ifIndex: Int ifName: String ifOperStatus: String vlanList: String }
type Vlan { vid: Int name: String }
type Site { siteId: Int siteName: String location: String vlans: [Vlan] }
type DiscoveredDevice { serialNumber: String }
type NetworkMutation {
  rediscoverDevices(input: RediscoverDevicesInput!): MutationResult
  createDevices(input: CreateDevicesInput!): CreateDevicesResult
  deleteDevices(input: DeleteDevicesInput!): MutationResult
  configureDevice(input: ConfigureDeviceInput!): MutationResult
  preRegisterDevices(input: PreRegisterDevicesInput!): MutationResult
}
type AccessControl { endSystemInfoByMac(macAddress: String!): EndSystemInfoResult }
type AccessControlMutation {
  addMACToEndSystemGroup(input: EndSystemGroupInput!): MutationResult
  removeMACFromEndSystemGroup(input: EndSystemGroupInput!): MutationResult
  reauthenticate(input: ReauthenticateInput!): MutationResult
}
type Policy { domainNameByIp(ip: String!): String }
type Workflows { allWorkflows: [Workflow] execution(executionId: Long!): WorkflowExecution activeExecutions: [WorkflowExecution] }
type WorkflowsMutation { startWorkflow(input: StartWorkflowInput!): StartWorkflowResult }
type MutationResult { status: String message: String errorCode: Int }
"#;

/// The Site Engine version the simulator reports.
pub const SIM_VERSION: &str = "24.10.13";

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator certificate generation failed: {0}")]
    Certificate(String),
    #[error("simulator TLS setup failed: {0}")]
    Tls(String),
    #[error("simulator cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How to start the simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    /// `exp - iat` of issued tokens.
    pub token_lifetime: Duration,
    /// How many status polls of a workflow execution answer `RUNNING` before the final status.
    pub workflow_running_polls: u32,
    /// Present a certificate from a CA other than [`SimHandle::ca_pem`] (clients must refuse it).
    pub untrusted_cert: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            client_id: "gale-client".into(),
            client_secret: "gale-secret".into(),
            username: "root".into(),
            password: "sim-password".into(),
            token_lifetime: Duration::from_secs(3600),
            workflow_running_polls: 1,
            untrusted_cert: false,
        }
    }
}

/// One request the simulator received.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SimCall {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// `bearer`, `basic` or `none`.
    pub auth: String,
    /// The client id or user name of Basic auth, the `sub` of a bearer token.
    pub principal: Option<String>,
    /// JSON body (`null` when empty or not JSON).
    pub body: Value,
    /// The recognised NBI operation (`device`, `startWorkflow`, `token`, ...).
    pub operation: Option<String>,
    pub status: u16,
}

struct Execution {
    polls: u32,
    final_status: &'static str,
}

#[derive(Default)]
struct Script {
    fail_next: u32,
    fail_status: u16,
    delay_next: u32,
    delay: Duration,
}

#[derive(Default)]
struct Inner {
    calls: Vec<SimCall>,
    script: Script,
    /// token → sub
    tokens: HashMap<String, (String, u64)>,
    revoked: HashSet<String>,
    executions: HashMap<i64, Execution>,
    next_execution: i64,
    token_seq: u64,
}

struct State {
    opts: SimOptions,
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock only ever comes from a test assertion elsewhere; the
        // data is still consistent, so keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    server: HttpsServer,
    state: Arc<State>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
    pub fn port(&self) -> u16 {
        self.addr().port()
    }
    pub fn host(&self) -> String {
        self.addr().ip().to_string()
    }
    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr())
    }
    /// PEM of the CA that signed the served certificate (unless `untrusted_cert`).
    pub fn ca_pem(&self) -> &str {
        self.server.ca_pem()
    }
    pub fn options(&self) -> &SimOptions {
        &self.state.opts
    }

    /// A client config for this simulator with OAuth2 and the CA trusted.
    pub fn oauth_config(&self) -> NbiConfig {
        let mut c = NbiConfig::new(
            self.host(),
            Auth::OAuth2 {
                client_id: self.state.opts.client_id.clone(),
                client_secret: self.state.opts.client_secret.clone(),
            },
        );
        c.port = self.port();
        c.ca_bundle = Some(self.ca_pem().to_string());
        c
    }

    /// A client config for this simulator with HTTP Basic and the CA trusted.
    pub fn basic_config(&self) -> NbiConfig {
        let mut c = self.oauth_config();
        c.auth = Auth::Basic {
            username: self.state.opts.username.clone(),
            password: self.state.opts.password.clone(),
        };
        c
    }

    /// Every call so far, oldest first (also `GET /_sim/calls`).
    pub fn calls(&self) -> Vec<SimCall> {
        self.state.lock().calls.clone()
    }
    /// The recognised operations of the calls so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| c.operation)
            .collect()
    }
    pub fn clear_calls(&self) {
        self.state.lock().calls.clear();
    }
    /// The next `n` requests answer HTTP `status` (e.g. 503).
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut g = self.state.lock();
        g.script.fail_next = n;
        g.script.fail_status = status;
    }
    /// The next `n` requests wait `delay` before answering.
    pub fn delay_next(&self, n: u32, delay: Duration) {
        let mut g = self.state.lock();
        g.script.delay_next = n;
        g.script.delay = delay;
    }
    /// Invalidates every token issued so far: the next bearer call gets 401.
    pub fn revoke_tokens(&self) {
        let mut g = self.state.lock();
        let issued: Vec<String> = g.tokens.keys().cloned().collect();
        g.revoked.extend(issued);
    }
    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.state.lock().token_seq
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Pki {
    ca_pem: String,
    /// Leaf then issuer, PEM.
    chain_pem: String,
    key_pem: String,
}

fn make_ca(name: &str) -> Result<(rcgen::Certificate, rcgen::KeyPair), rcgen::Error> {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate()?;
    let cert = p.self_signed(&key)?;
    Ok((cert, key))
}

/// A CA (whose PEM is exposed) and a server certificate for localhost/127.0.0.1/::1 signed by
/// it — or, in untrusted mode, by a second CA nobody is told about.
fn make_pki(untrusted: bool) -> Result<Pki, rcgen::Error> {
    let (ca, ca_key) = make_ca("Gale Site Engine simulator CA")?;
    let (rogue, rogue_key) = make_ca("Untrusted simulator CA")?;
    let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new())?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "siteengine-sim");
    leaf.subject_alt_names = vec![
        rcgen::SanType::DnsName("localhost".try_into()?),
        rcgen::SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
        rcgen::SanType::IpAddress(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
    ];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = rcgen::KeyPair::generate()?;
    let (issuer, issuer_key) = if untrusted {
        (&rogue, &rogue_key)
    } else {
        (&ca, &ca_key)
    };
    let leaf_cert = leaf.signed_by(&leaf_key, issuer, issuer_key)?;
    Ok(Pki {
        ca_pem: ca.pem(),
        chain_pem: format!("{}{}", leaf_cert.pem(), issuer.pem()),
        key_pem: leaf_key.serialize_pem(),
    })
}

/// An HTTPS server on loopback with its own CA: the simulator's transport, also usable by
/// tests that need a real HTTPS endpoint (e.g. a webhook receiver for the sender script).
/// Dropping it stops the server.
pub struct HttpsServer {
    addr: SocketAddr,
    ca_pem: String,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HttpsServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// PEM of the CA clients should trust (not the issuer in untrusted mode).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
    /// Stops accepting, ends open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Serves `app` over HTTPS on `bind` with a CA generated now; `untrusted_cert` presents a
/// certificate from a different CA than [`HttpsServer::ca_pem`].
pub async fn serve_https(
    app: axum::Router,
    bind: SocketAddr,
    untrusted_cert: bool,
) -> Result<HttpsServer, SimError> {
    let pki = make_pki(untrusted_cert).map_err(|e| SimError::Certificate(e.to_string()))?;
    let tls = gale_tls::server_config(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes())
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| SimError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr: bind, source })?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    // No grace period: stopping the simulator ends open connections at once.
    let task = tokio::spawn(gale_tls::serve_tls(
        app,
        listener,
        tls,
        async move { stop.cancelled().await },
        Duration::ZERO,
    ));
    Ok(HttpsServer {
        addr,
        ca_pem: pki.ca_pem,
        cancel,
        task: Some(task),
    })
}

/// Starts the simulator on `opts.bind`.
pub async fn start(opts: SimOptions) -> Result<SimHandle, SimError> {
    let bind = opts.bind;
    let untrusted = opts.untrusted_cert;
    let state = Arc::new(State {
        opts,
        inner: Mutex::new(Inner {
            next_execution: 4567,
            ..Default::default()
        }),
    });
    let app = {
        let state = state.clone();
        axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { handle(state, method, uri, headers, body).await }
            },
        )
    };
    let server = serve_https(app, bind, untrusted).await?;
    tracing::info!(addr = %server.addr(), "Site Engine simulator listening");
    Ok(SimHandle { server, state })
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|s| s.trim().to_string())
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn handle(
    state: Arc<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if path.starts_with("/_sim/") {
        return control(&state, &method, &path, &body);
    }
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (auth, principal) = if let Some(t) = bearer(&headers) {
        let sub = state.lock().tokens.get(&t).map(|(s, _)| s.clone());
        ("bearer", sub)
    } else if let Some((u, _)) = basic_credentials(&headers) {
        ("basic", Some(u))
    } else {
        ("none", None)
    };
    let seq = {
        let mut g = state.lock();
        let seq = g.calls.len() as u64 + 1;
        g.calls.push(SimCall {
            seq,
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().map(str::to_string),
            auth: auth.into(),
            principal,
            body: body_json.clone(),
            operation: None,
            status: 0,
        });
        seq
    };
    let delay = {
        let mut g = state.lock();
        if g.script.delay_next > 0 {
            g.script.delay_next -= 1;
            Some(g.script.delay)
        } else {
            None
        }
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let failure = {
        let mut g = state.lock();
        if g.script.fail_next > 0 {
            g.script.fail_next -= 1;
            Some(g.script.fail_status)
        } else {
            None
        }
    };
    let (operation, response) = match failure {
        Some(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                None,
                (status, format!("simulated failure ({code})")).into_response(),
            )
        }
        None => route(&state, &method, &uri, &headers, &body_json),
    };
    let mut g = state.lock();
    if let Some(call) = g.calls.iter_mut().find(|c| c.seq == seq) {
        call.operation = operation;
        call.status = response.status().as_u16();
    }
    response
}

fn control(state: &State, method: &Method, path: &str, body: &Bytes) -> Response {
    match (method.as_str(), path) {
        ("GET", "/_sim/calls") => json_response(StatusCode::OK, json!(state.lock().calls)),
        ("DELETE", "/_sim/calls") => {
            state.lock().calls.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/_sim/script") => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let mut g = state.lock();
            let n = |k: &str| v.get(k).and_then(Value::as_u64);
            if let Some(x) = n("fail_next") {
                g.script.fail_next = x as u32;
                g.script.fail_status = n("fail_status").unwrap_or(503) as u16;
            }
            if let Some(x) = n("delay_next") {
                g.script.delay_next = x as u32;
                g.script.delay = Duration::from_millis(n("delay_ms").unwrap_or(0));
            }
            if v.get("revoke_tokens") == Some(&Value::Bool(true)) {
                let issued: Vec<String> = g.tokens.keys().cloned().collect();
                g.revoked.extend(issued);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn route(
    state: &State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Value,
) -> (Option<String>, Response) {
    let opts = &state.opts;
    match (method.as_str(), uri.path()) {
        ("POST", crate::nbi::TOKEN_PATH) => {
            let grant_ok = uri
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "grant_type=client_credentials"));
            if !grant_ok {
                return (
                    Some("token".into()),
                    json_response(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "unsupported_grant_type"}),
                    ),
                );
            }
            match basic_credentials(headers) {
                Some((id, secret)) if id == opts.client_id && secret == opts.client_secret => {
                    let token = issue_token(state, &id);
                    (
                        Some("token".into()),
                        json_response(StatusCode::OK, json!({"access_token": token})),
                    )
                }
                _ => (
                    Some("token".into()),
                    json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"})),
                ),
            }
        }
        ("POST", crate::nbi::GRAPHQL_PATH) => {
            if !authorized(state, headers) {
                return (
                    None,
                    (StatusCode::UNAUTHORIZED, "Unauthorized").into_response(),
                );
            }
            let query = body.get("query").and_then(Value::as_str).unwrap_or("");
            let vars = body.get("variables").cloned().unwrap_or(Value::Null);
            let (op, answer) = graphql(state, query, &vars);
            (Some(op), json_response(StatusCode::OK, answer))
        }
        ("GET", "/nbi/graphql/schema.idl") => {
            if !authorized(state, headers) {
                return (None, StatusCode::UNAUTHORIZED.into_response());
            }
            (Some("schema".into()), SCHEMA_IDL.into_response())
        }
        _ => (None, StatusCode::NOT_FOUND.into_response()),
    }
}

fn authorized(state: &State, headers: &HeaderMap) -> bool {
    if let Some(t) = bearer(headers) {
        let g = state.lock();
        return match g.tokens.get(&t) {
            Some((_, exp)) => !g.revoked.contains(&t) && now_secs() < *exp,
            None => false,
        };
    }
    matches!(basic_credentials(headers), Some((u, p)) if u == state.opts.username && p == state.opts.password)
}

fn issue_token(state: &State, sub: &str) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let mut g = state.lock();
    g.token_seq += 1;
    let iat = now_secs();
    let exp = iat + state.opts.token_lifetime.as_secs().max(1);
    let claims = json!({
        "iss": "xiqse-sim", "sub": sub, "jti": format!("{:04}", g.token_seq),
        "roles": ["NBI"], "iat": iat, "nbf": iat, "exp": exp
    });
    let token = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "RS256", "typ": "JWT"})),
        b64(&claims),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"simulator-signature")
    );
    g.tokens.insert(token.clone(), (sub.to_string(), exp));
    token
}

fn example_device() -> Value {
    serde_json::from_str::<Value>(DEVICE_RESPONSE)
        .map(|v| v["data"]["network"]["device"].clone())
        .unwrap_or(Value::Null)
}

fn example_vlans() -> Value {
    serde_json::from_str::<Value>(DEVICE_RESPONSE)
        .map(|v| v["data"]["network"]["deviceVlans"].clone())
        .unwrap_or(Value::Null)
}

fn capture(query: &str, pattern: &str) -> Option<String> {
    regex::Regex::new(pattern)
        .ok()?
        .captures(query)?
        .get(1)
        .map(|m| m.as_str().to_string())
}

/// The device address a query or mutation is about: `$ip`, or an inline `ip:`/`ipAddress:`.
fn target_ip(query: &str, vars: &Value) -> Option<String> {
    vars.get("ip")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| capture(query, r#"ip(?:Address)?:\s*"([^"]*)""#))
}

fn ok_status() -> Value {
    json!({"status": "SUCCESS", "message": ""})
}

/// `(operation, response body)` for one GraphQL document.
fn graphql(state: &State, query: &str, vars: &Value) -> (String, Value) {
    let device = example_device();
    let known_ip = device["ip"].as_str().unwrap_or_default().to_string();
    let mutation = crate::nbi::operation_kind(query) == "mutation";
    let device_status = |field: &str, ns: &str| -> (String, Value) {
        let ip = target_ip(query, vars).unwrap_or_default();
        let result = if ip == known_ip {
            ok_status()
        } else {
            json!({"status": "ERROR", "message": format!("Device {ip} not found"), "errorCode": 404})
        };
        (field.to_string(), json!({"data": {ns: {field: result}}}))
    };
    if mutation {
        for field in ["rediscoverDevices", "deleteDevices", "configureDevice"] {
            if query.contains(field) {
                return device_status(field, "network");
            }
        }
        if query.contains("createDevices") {
            let ip = target_ip(query, vars).unwrap_or_default();
            return (
                "createDevices".into(),
                json!({"data": {"network": {"createDevices": {"status": "SUCCESS", "message": "",
                    "results": [{"deviceId": 100, "ipAddress": ip, "serialNumber": null, "status": "SUCCESS", "message": ""}]}}}}),
            );
        }
        if query.contains("preRegisterDevices") {
            return (
                "preRegisterDevices".into(),
                json!({"data": {"network": {"preRegisterDevices": ok_status()}}}),
            );
        }
        for field in [
            "addMACToEndSystemGroup",
            "removeMACFromEndSystemGroup",
            "reauthenticate",
        ] {
            if query.contains(&format!("{field}(")) {
                return (
                    field.to_string(),
                    json!({"data": {"accessControl": {field: ok_status()}}}),
                );
            }
        }
        if query.contains("startWorkflow") {
            let path = capture(query, r#"path:\s*"((?:[^"\\]|\\.)*)""#);
            let id = capture(query, r"\bid:\s*(\d+)");
            if path.is_none() && id.is_none() {
                return (
                    "startWorkflow".into(),
                    json!({"data": {"workflows": {"startWorkflow": {"status": "ERROR",
                        "message": "workflow path or id required", "executionId": null, "errorCode": 400}}}}),
                );
            }
            // Workflows whose path says "Fail" end FAILED: the scripted failing remediation.
            let final_status = if path.as_deref().is_some_and(|p| p.contains("Fail")) {
                "FAILED"
            } else {
                "SUCCESS"
            };
            let mut g = state.lock();
            let eid = g.next_execution;
            g.next_execution += 1;
            g.executions.insert(
                eid,
                Execution {
                    polls: 0,
                    final_status,
                },
            );
            return (
                "startWorkflow".into(),
                json!({"data": {"workflows": {"startWorkflow": {"status": "SUCCESS", "message": "",
                    "executionId": eid, "errorCode": 0}}}}),
            );
        }
        return unknown_field();
    }
    if query.contains("serverInfo") {
        return (
            "serverInfo".into(),
            json!({"data": {"administration": {"serverInfo": {"version": SIM_VERSION, "uptime": "3 days, 4:05:06"}}}}),
        );
    }
    if query.contains("execution(") {
        let id = capture(query, r"executionId:\s*(\d+)")
            .or_else(|| vars.get("executionId").map(|v| v.to_string()))
            .and_then(|s| s.trim_matches('"').parse::<i64>().ok());
        let mut g = state.lock();
        let running_polls = state.opts.workflow_running_polls;
        let exec = id.and_then(|id| g.executions.get_mut(&id));
        let answer = match exec {
            Some(e) => {
                e.polls += 1;
                let status = if e.polls <= running_polls {
                    "RUNNING"
                } else {
                    e.final_status
                };
                json!({"status": status})
            }
            None => Value::Null,
        };
        return (
            "execution".into(),
            json!({"data": {"workflows": {"execution": answer}}}),
        );
    }
    if query.contains("allWorkflows") {
        return (
            "allWorkflows".into(),
            json!({"data": {"workflows": {"allWorkflows": [
                {"id": 101, "name": "Disable Port", "category": "Custom", "path": "Site Engine/Custom/Disable Port"},
                {"id": 102, "name": "Report Configuration Changes", "category": "Inventory", "path": "Site Engine/Inventory/Report Configuration Changes"},
                {"id": 103, "name": "Bounce PoE", "category": "Custom", "path": "Site Engine/Custom/Bounce PoE"}
            ]}}}),
        );
    }
    if query.contains("allPorts") || query.contains("deviceVlans") {
        let ip = target_ip(query, vars).unwrap_or_default();
        let network = if ip == known_ip {
            json!({"device": {"entityData": device["entityData"].clone()}, "deviceVlans": example_vlans()})
        } else {
            json!({"device": null, "deviceVlans": []})
        };
        return ("ports".into(), json!({"data": {"network": network}}));
    }
    if query.contains("device(") {
        let ip = target_ip(query, vars).unwrap_or_default();
        let d = if ip == known_ip {
            let mut d = device.clone();
            if let Some(m) = d.as_object_mut() {
                m.remove("entityData");
                m.insert(
                    "deviceId".into(),
                    m.get("id").cloned().unwrap_or(Value::Null),
                );
            }
            d
        } else {
            Value::Null
        };
        return ("device".into(), json!({"data": {"network": {"device": d}}}));
    }
    if query.contains("devices") {
        let d = &device;
        return (
            "devices".into(),
            json!({"data": {"network": {"devices": [{
                "ip": d["ip"], "deviceName": d["sysName"], "nickName": d["nickName"], "sysName": d["sysName"],
                "up": d["up"], "status": d["status"], "sitePath": d["sitePath"], "policyDomain": null,
                "sysContact": d["sysContact"], "sysLocation": d["sysLocation"],
                "deviceData": {"ipAddress": d["ip"], "serialNumber": d["deviceData"]["serialNumber"],
                    "family": d["deviceData"]["family"], "macAddress": d["deviceData"]["macAddress"]}
            }]}}}),
        );
    }
    if query.contains("siteByLocation") {
        return (
            "siteByLocation".into(),
            json!({"data": {"network": {"siteByLocation": {"siteId": 7, "siteName": "Building-A",
                "location": "/World/Campus/Building-A", "vlans": [{"name": "users", "vid": 10}, {"name": "voice", "vid": 20}]}}}}),
        );
    }
    if query.contains("sites") {
        return (
            "sites".into(),
            json!({"data": {"network": {"sites": [
                {"location": "/World", "siteName": "World"},
                {"location": "/World/Campus/Building-A", "siteName": "Building-A"}]}}}),
        );
    }
    if query.contains("endSystemInfoByMac") {
        return (
            "endSystemInfoByMac".into(),
            json!({"data": {"accessControl": {"endSystemInfoByMac": {"endSystemInfo": {
                "memberOfGroups": ["Allowed"], "custom1": "", "groupDescr1": ""}}}}}),
        );
    }
    if query.contains("domainNameByIp") {
        return (
            "domainNameByIp".into(),
            json!({"data": {"policy": {"domainNameByIp": "Default Policy Domain"}}}),
        );
    }
    unknown_field()
}

fn unknown_field() -> (String, Value) {
    (
        "unknown".into(),
        json!({"data": null, "errors": [{"message": "Validation error of type FieldUndefined: field not defined in the simulator's schema"}]}),
    )
}

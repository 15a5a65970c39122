//! `siteengine-nbi`: the runner behind the `siteengine` pack's actions (spec section 2.3).
//!
//! The operation comes from the action parameter `operation` (immutable in the pack's
//! metadata), falling back to the action's name. Connection settings are action parameters
//! too; the pack's metadata defaults them to `{{ config_context.* }}` so they come from the
//! pack config unless a rule or workflow overrides them. Clients are cached per connection
//! settings so an OAuth2 token is reused across executions.

use crate::nbi::{
    Auth, DeviceUpdate, EnforceOptions, NbiClient, NbiConfig, NbiError, WorkflowRef, DEFAULT_PORT,
    DEFAULT_TIMEOUT,
};
use async_trait::async_trait;
use gale_model::{ExecStatus, RunnerType};
use gale_runners::{RunContext, RunOutcome, RunRequest, Runner};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const NAME: &str = "siteengine-nbi";

/// Every operation the runner knows, as named in the pack (`siteengine.<operation>`).
pub const OPERATIONS: &[&str] = &[
    "graphql",
    "server_info",
    "list_devices",
    "get_device",
    "get_ports",
    "rediscover_device",
    "create_device",
    "delete_device",
    "update_device",
    "enforce_device",
    "run_workflow",
    "preregister_device",
    "quarantine_mac",
    "release_mac",
    "reauthenticate_mac",
];

/// The runner type record (`GET /api/v1/runnertypes`).
pub fn runner_type() -> RunnerType {
    let def = json!({
        "name": NAME,
        "description": "Runs ExtremeCloud IQ Site Engine northbound API (GraphQL) operations.",
        "enabled": true,
        "runner_package": "gale_siteengine",
        "runner_module": "siteengine_nbi",
        "runner_parameters": {},
        "output_schema": {},
        "uid": gale_model::RunnerType::uid_for(NAME),
    });
    // A literal definition: the unit test below proves it deserialises.
    serde_json::from_value(def).unwrap_or_else(|e| {
        tracing::error!(error = %e, "invalid siteengine-nbi runner definition");
        RunnerType {
            id: String::new(),
            name: NAME.into(),
            description: String::new(),
            enabled: false,
            runner_package: String::new(),
            runner_module: String::new(),
            runner_parameters: Default::default(),
            output_key: None,
            output_schema: Value::Null,
            uid: String::new(),
        }
    })
}

/// Parameter errors, named after the parameter.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("parameter '{0}' is required")]
    Missing(&'static str),
    #[error("parameter '{name}' is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("unknown Site Engine operation {0:?} (known: {known})", known = OPERATIONS.join(", "))]
    UnknownOperation(String),
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Nbi(#[from] NbiError),
}

struct Params<'a>(&'a Map<String, Value>);

impl<'a> Params<'a> {
    /// A string, with `""` and null meaning absent (an unset config key renders as "").
    fn str(&self, name: &'static str) -> Result<Option<String>, ParamError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(ParamError::Invalid {
                name,
                reason: format!("{other} is not a string"),
            }),
        }
    }
    fn req(&self, name: &'static str) -> Result<String, ParamError> {
        self.str(name)?.ok_or(ParamError::Missing(name))
    }
    fn bool(&self, name: &'static str, default: bool) -> Result<bool, ParamError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(default),
                "true" | "yes" | "1" | "on" => Ok(true),
                "false" | "no" | "0" | "off" => Ok(false),
                _ => Err(ParamError::Invalid {
                    name,
                    reason: format!("{s:?} is not a boolean"),
                }),
            },
            Some(other) => Err(ParamError::Invalid {
                name,
                reason: format!("{other} is not a boolean"),
            }),
        }
    }
    fn num(&self, name: &'static str) -> Result<Option<f64>, ParamError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => {
                s.trim()
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| ParamError::Invalid {
                        name,
                        reason: format!("{s:?} is not a number"),
                    })
            }
            Some(other) => Err(ParamError::Invalid {
                name,
                reason: format!("{other} is not a number"),
            }),
        }
    }
    fn positive_secs(&self, name: &'static str, default: Duration) -> Result<Duration, ParamError> {
        match self.num(name)? {
            None => Ok(default),
            Some(s) if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(ParamError::Invalid {
                name,
                reason: format!("{s} is not a positive number of seconds"),
            }),
        }
    }
    fn object(&self, name: &'static str) -> Result<Value, ParamError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(json!({})),
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(json!({})),
            // Jinja-rendered parameters sometimes arrive as JSON text.
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err(ParamError::Invalid {
                    name,
                    reason: "must be an object".into(),
                }),
            },
            Some(_) => Err(ParamError::Invalid {
                name,
                reason: "must be an object".into(),
            }),
        }
    }
}

/// The connection settings of an execution (pack config values, possibly overridden).
pub fn connection_config(params: &Map<String, Value>) -> Result<NbiConfig, ParamError> {
    let p = Params(params);
    let host = p.req("host")?;
    let port = match p.num("port")? {
        None => DEFAULT_PORT,
        Some(n) if (1.0..=65535.0).contains(&n) && n.fract() == 0.0 => n as u16,
        Some(n) => {
            return Err(ParamError::Invalid {
                name: "port",
                reason: format!("{n} is not a TCP port"),
            })
        }
    };
    let auth_kind = p
        .str("auth")?
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_else(|| {
            if p.str("client_id").ok().flatten().is_some() {
                "oauth2".into()
            } else {
                "basic".into()
            }
        });
    let auth = match auth_kind.as_str() {
        "oauth2" | "oauth" => Auth::OAuth2 {
            client_id: p.req("client_id")?,
            client_secret: p.req("client_secret")?,
        },
        "basic" => Auth::Basic {
            username: p.req("username")?,
            password: p.req("password")?,
        },
        other => {
            return Err(ParamError::Invalid {
                name: "auth",
                reason: format!("{other:?} is not one of oauth2, basic"),
            })
        }
    };
    let mut c = NbiConfig::new(host, auth);
    c.port = port;
    c.verify_tls = p.bool("verify_tls", true)?;
    c.ca_bundle = p.str("ca_bundle")?;
    c.timeout = p.positive_secs("timeout", DEFAULT_TIMEOUT)?;
    Ok(c)
}

fn cache_key(c: &NbiConfig) -> String {
    let (kind, user, secret) = match &c.auth {
        Auth::OAuth2 {
            client_id,
            client_secret,
        } => ("oauth2", client_id, client_secret),
        Auth::Basic { username, password } => ("basic", username, password),
    };
    let text = format!(
        "{}\0{}\0{kind}\0{user}\0{secret}\0{}\0{}\0{}",
        c.host,
        c.port,
        c.verify_tls,
        c.ca_bundle.as_deref().unwrap_or(""),
        c.timeout.as_millis()
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The `siteengine-nbi` runner. Register it with `Registry::register(Arc::new(SiteEngineRunner::default()))`.
#[derive(Default)]
pub struct SiteEngineRunner {
    clients: Mutex<HashMap<String, Arc<NbiClient>>>,
}

impl SiteEngineRunner {
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self, config: NbiConfig) -> Result<Arc<NbiClient>, NbiError> {
        let key = cache_key(&config);
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let c = Arc::new(NbiClient::new(config)?);
        // Bounded: settings rarely change; drop everything rather than track age.
        if map.len() >= 64 {
            map.clear();
        }
        map.insert(key, c.clone());
        Ok(c)
    }
}

fn operation_of(req: &RunRequest) -> Result<String, ParamError> {
    let op = Params(&req.action_parameters)
        .str("operation")?
        .unwrap_or_else(|| req.action.name.clone());
    if OPERATIONS.contains(&op.as_str()) {
        Ok(op)
    } else {
        Err(ParamError::UnknownOperation(op))
    }
}

fn found(key: &str, v: Option<Value>) -> Value {
    match v {
        Some(v) => json!({"found": true, key: v}),
        None => json!({"found": false, key: null}),
    }
}

async fn run_operation(
    client: &NbiClient,
    op: &str,
    params: &Map<String, Value>,
) -> Result<Value, RunError> {
    let p = Params(params);
    let result = match op {
        "graphql" => {
            let query = p.req("query")?;
            let vars = p.object("variables")?;
            json!({"data": client.graphql(&query, Some(vars)).await?})
        }
        "server_info" => client.server_info().await?,
        "list_devices" => Value::Array(client.list_devices().await?),
        "get_device" => found("device", client.get_device(&p.req("ip")?).await?),
        "get_ports" => match client.get_ports(&p.req("ip")?).await? {
            Some(mut v) => {
                v["found"] = json!(true);
                v
            }
            None => json!({"found": false, "ports": [], "vlans": []}),
        },
        "rediscover_device" => client.rediscover_device(&p.req("ip")?).await?,
        "create_device" => {
            client
                .create_device(
                    &p.req("ip")?,
                    &p.req("profile")?,
                    &p.str("site")?.unwrap_or_else(|| "/World".into()),
                )
                .await?
        }
        "delete_device" => {
            client
                .delete_device(&p.req("ip")?, p.bool("remove_data", true)?)
                .await?
        }
        "update_device" => {
            let u = DeviceUpdate {
                ip: p.req("ip")?,
                nick_name: p.str("nickname")?,
                note: p.str("note")?,
                user_data: [
                    p.str("user_data1")?,
                    p.str("user_data2")?,
                    p.str("user_data3")?,
                    p.str("user_data4")?,
                ],
                topology_role: p.str("topology_role")?,
                admin_profile: p.str("admin_profile")?,
            };
            client.update_device(&u).await?
        }
        "enforce_device" => {
            let mut opts = EnforceOptions::default();
            let overrides = p.object("options")?;
            for (k, v) in overrides.as_object().into_iter().flatten() {
                let Some(b) = v.as_bool() else {
                    return Err(ParamError::Invalid {
                        name: "options",
                        reason: format!("{k} must be a boolean"),
                    }
                    .into());
                };
                match opts.flags.iter_mut().find(|(name, _)| name == k) {
                    Some(slot) => slot.1 = b,
                    None => opts.flags.push((k.clone(), b)),
                }
            }
            if let Some(t) = p.num("enforce_timeout")? {
                opts.timeout_secs = t.max(1.0) as u64;
            }
            client.enforce_device(&p.req("ip")?, &opts).await?
        }
        "run_workflow" => {
            let wf = match (p.str("path")?, p.num("workflow_id")?) {
                (Some(path), _) => WorkflowRef::Path(path),
                (None, Some(id)) => WorkflowRef::Id(id as i64),
                (None, None) => return Err(ParamError::Missing("path").into()),
            };
            let vars = p.object("variables")?;
            let wait = p.positive_secs("wait_timeout", Duration::from_secs(600))?;
            let every = p.positive_secs("poll_interval", Duration::from_secs(5))?;
            let run = client.run_workflow(&wf, &vars, wait, every).await?;
            json!({"execution_id": run.execution_id, "status": run.status, "polls": run.polls})
        }
        "preregister_device" => {
            let mut d = Map::new();
            d.insert("serialNumber".into(), p.req("serial")?.into());
            d.insert(
                "siteLocation".into(),
                p.str("site")?.unwrap_or_else(|| "/World".into()).into(),
            );
            d.insert(
                "useDiscoveredIP".into(),
                p.bool("use_discovered_ip", false)?.into(),
            );
            for (param, field) in [
                ("name", "name"),
                ("ip_address", "ipAddress"),
                ("gateway", "gateway"),
                ("domain_name", "domainName"),
                ("dns_server", "dnsServer"),
            ] {
                if let Some(v) = p.str(param)? {
                    d.insert(field.into(), v.into());
                }
            }
            client.preregister_devices(&[Value::Object(d)]).await?
        }
        "quarantine_mac" => {
            client
                .quarantine_mac(
                    &p.req("mac")?,
                    &p.str("group")?.unwrap_or_else(|| "Quarantine".into()),
                    &p.str("description")?
                        .unwrap_or_else(|| "quarantined by Gale".into()),
                    p.bool("reauthenticate", true)?,
                )
                .await?
        }
        "release_mac" => {
            client
                .release_mac(
                    &p.req("mac")?,
                    &p.str("group")?.unwrap_or_else(|| "Quarantine".into()),
                    p.bool("reauthenticate", true)?,
                )
                .await?
        }
        "reauthenticate_mac" => client.reauthenticate_mac(&p.req("mac")?).await?,
        other => return Err(ParamError::UnknownOperation(other.into()).into()),
    };
    Ok(result)
}

#[async_trait]
impl Runner for SiteEngineRunner {
    fn runner_type(&self) -> RunnerType {
        runner_type()
    }

    async fn run(&self, req: RunRequest, ctx: RunContext) -> RunOutcome {
        if ctx.cancel.is_cancelled() {
            return RunOutcome {
                status: ExecStatus::Canceled,
                result: json!({}),
            };
        }
        let prepared = operation_of(&req).and_then(|op| {
            let config = connection_config(&req.action_parameters)?;
            Ok((op, config))
        });
        let (op, config) = match prepared {
            Ok(x) => x,
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        let client = match self.client(config) {
            Ok(c) => c,
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        tracing::info!(execution_id = %req.execution_id, operation = %op, host = %client.config().host, "siteengine-nbi");
        tokio::select! {
            _ = ctx.cancel.cancelled() => RunOutcome {
                status: ExecStatus::Canceled,
                result: json!({"error": "canceled", "operation": op}),
            },
            r = run_operation(&client, &op, &req.action_parameters) => match r {
                Ok(result) => RunOutcome { status: ExecStatus::Succeeded, result },
                Err(e) => RunOutcome::failure(e.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition() {
        let rt = runner_type();
        assert_eq!(rt.name, "siteengine-nbi");
        assert_eq!(rt.uid, "runner_type:siteengine-nbi");
        assert!(rt.enabled);
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn connection_settings_from_rendered_config() {
        // Unset config keys render as "", numbers and booleans may arrive as text.
        let c = connection_config(&params(json!({
            "host": "se.example.net", "port": "9443", "client_id": "gale", "client_secret": "s",
            "username": "", "password": "", "verify_tls": "false", "ca_bundle": "", "timeout": 5
        })))
        .unwrap();
        assert_eq!(c.port, 9443);
        assert!(matches!(c.auth, Auth::OAuth2 { .. }));
        assert!(!c.verify_tls);
        assert_eq!(c.ca_bundle, None);
        assert_eq!(c.timeout, Duration::from_secs(5));

        let c = connection_config(&params(json!({
            "host": "se", "auth": "basic", "username": "root", "password": "pw"
        })))
        .unwrap();
        assert_eq!(c.port, 8443);
        assert!(c.verify_tls, "TLS verification is on by default");
        assert!(matches!(c.auth, Auth::Basic { .. }));
    }

    #[test]
    fn connection_errors_name_the_parameter() {
        let e = connection_config(&params(json!({"host": ""}))).unwrap_err();
        assert_eq!(e.to_string(), "parameter 'host' is required");
        let e = connection_config(&params(
            json!({"host": "se", "auth": "oauth2", "client_id": "x"}),
        ))
        .unwrap_err();
        assert_eq!(e.to_string(), "parameter 'client_secret' is required");
        let e = connection_config(&params(
            json!({"host": "se", "port": 70000, "username": "u", "password": "p"}),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("'port'"), "{e}");
        let e = connection_config(&params(json!({"host": "se", "auth": "kerberos"}))).unwrap_err();
        assert!(e.to_string().contains("'auth'"), "{e}");
    }

    #[test]
    fn cache_key_changes_with_secrets() {
        let a = connection_config(&params(
            json!({"host": "se", "username": "u", "password": "p"}),
        ))
        .unwrap();
        let b = connection_config(&params(
            json!({"host": "se", "username": "u", "password": "q"}),
        ))
        .unwrap();
        assert_ne!(cache_key(&a), cache_key(&b));
        assert_eq!(cache_key(&a), cache_key(&a.clone()));
    }
}

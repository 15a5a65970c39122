//! The webhook envelope the `st2integration.py` sender posts (spec section 1.4) and its
//! normalisation into `siteengine.alarm|trap|syslog` trigger payloads (section 1.5).
//!
//! Pure: no I/O, no clock (the caller passes the receive time). Validation names the field
//! (`device.ip`, `trap.oid`, ...) so the webhook endpoint can answer 400 with it. Everything
//! the payload does not map is still reachable: `raw` is the body as received, and unknown
//! keys land under `extra`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Trigger type refs of the `siteengine` pack.
pub const ALARM_TRIGGER: &str = "siteengine.alarm";
pub const TRAP_TRIGGER: &str = "siteengine.trap";
pub const SYSLOG_TRIGGER: &str = "siteengine.syslog";
pub const APPLIANCE_STATUS_TRIGGER: &str = "siteengine.appliance_status";
/// Header the sender puts its idempotency key in (same value as [`Normalized::idempotency_key`]).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Why an envelope was refused. Every variant names the offending field as a dotted path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("'{0}' is a required field")]
    Missing(String),
    #[error("'{field}' is invalid: {reason}")]
    Invalid { field: String, reason: String },
    #[error("'event_type' {0:?} is not one of alarm, trap, syslog")]
    UnknownEventType(String),
}

impl EnvelopeError {
    /// The dotted field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            EnvelopeError::Missing(f) => Some(f),
            EnvelopeError::Invalid { field, .. } => Some(field),
            EnvelopeError::UnknownEventType(_) => Some("event_type"),
            _ => None,
        }
    }
}

/// Source kind of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Alarm,
    Trap,
    Syslog,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Alarm => "alarm",
            EventType::Trap => "trap",
            EventType::Syslog => "syslog",
        }
    }
    /// The trigger type this kind of event dispatches.
    pub fn trigger_ref(self) -> &'static str {
        match self {
            EventType::Alarm => ALARM_TRIGGER,
            EventType::Trap => TRAP_TRIGGER,
            EventType::Syslog => SYSLOG_TRIGGER,
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "alarm" => Some(EventType::Alarm),
            "trap" => Some(EventType::Trap),
            "syslog" => Some(EventType::Syslog),
            _ => None,
        }
    }
}

/// Normalised severity (section 1.5 enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Info,
    Clear,
    Unknown,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Clear => "clear",
            Severity::Unknown => "unknown",
        }
    }

    /// Site Engine's names (`Critical`, `Error`, `Warning`, `Info`, `Clear`) plus the syslog
    /// and ITU words senders use; anything else is `unknown` rather than an error, because an
    /// alarm must not be lost over a severity word.
    pub fn from_name(s: &str) -> Severity {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" | "emergency" | "emerg" | "alert" | "fatal" => Severity::Critical,
            "error" | "err" | "major" => Severity::Error,
            "warning" | "warn" | "minor" => Severity::Warning,
            "info" | "information" | "informational" | "notice" | "debug" => Severity::Info,
            "clear" | "cleared" | "normal" | "ok" => Severity::Clear,
            other => match other.parse::<i64>() {
                Ok(n) => Severity::from_syslog_level(n),
                Err(_) => Severity::Unknown,
            },
        }
    }

    /// Syslog levels 0–7 (RFC 5424).
    pub fn from_syslog_level(n: i64) -> Severity {
        match n {
            0..=2 => Severity::Critical,
            3 => Severity::Error,
            4 => Severity::Warning,
            5..=7 => Severity::Info,
            _ => Severity::Unknown,
        }
    }
}

/// An integer that senders may write as a number or as a numeric string (alarm variables are
/// strings on the Site Engine side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntLike(pub i64);

impl<'de> Deserialize<'de> for IntLike {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_i64()
                .map(IntLike)
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer"))),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(IntLike)
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer"))),
            other => Err(serde::de::Error::custom(format!(
                "{} is not an integer",
                json_type(&other)
            ))),
        }
    }
}

/// A string field that tolerates numbers (alarm ids are often sent as ints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrLike(pub String);

impl<'de> Deserialize<'de> for StrLike {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(StrLike(s)),
            Value::Number(n) => Ok(StrLike(n.to_string())),
            Value::Bool(b) => Ok(StrLike(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "{} is not a string",
                json_type(&other)
            ))),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SiteEngineInfo {
    pub ip: Option<StrLike>,
    pub version: Option<StrLike>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlarmInfo {
    pub name: Option<StrLike>,
    pub id: Option<StrLike>,
    pub severity: Option<StrLike>,
    pub condition: Option<StrLike>,
    pub source_component: Option<StrLike>,
    pub state: Option<StrLike>,
    pub time: Option<Value>,
    pub count: Option<IntLike>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeviceInfo {
    pub ip: Option<StrLike>,
    pub name: Option<StrLike>,
    pub nickname: Option<StrLike>,
    pub family: Option<StrLike>,
    #[serde(rename = "type")]
    pub device_type: Option<StrLike>,
    pub site: Option<StrLike>,
    pub serial: Option<StrLike>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InterfaceInfo {
    pub if_index: Option<IntLike>,
    pub name: Option<StrLike>,
    pub alias: Option<StrLike>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Varbind {
    pub oid: Option<StrLike>,
    pub name: Option<StrLike>,
    #[serde(rename = "type")]
    pub value_type: Option<StrLike>,
    pub value: Option<Value>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TrapInfo {
    pub oid: Option<StrLike>,
    pub name: Option<StrLike>,
    pub snmp_version: Option<StrLike>,
    pub enterprise: Option<StrLike>,
    pub generic_trap: Option<IntLike>,
    pub specific_trap: Option<IntLike>,
    pub uptime: Option<IntLike>,
    pub varbinds: Option<Vec<Varbind>>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SyslogInfo {
    pub facility: Option<Value>,
    pub severity: Option<Value>,
    pub program: Option<StrLike>,
    pub tag: Option<StrLike>,
    pub hostname: Option<StrLike>,
    pub message: Option<StrLike>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// The section 1.4 envelope, typed. Keys it does not know are kept in `unknown`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawEnvelope {
    pub event_type: Option<StrLike>,
    pub source: Option<StrLike>,
    pub siteengine: Option<SiteEngineInfo>,
    pub alarm: Option<AlarmInfo>,
    pub device: Option<DeviceInfo>,
    pub interface: Option<InterfaceInfo>,
    pub trap: Option<TrapInfo>,
    pub syslog: Option<SyslogInfo>,
    pub message: Option<StrLike>,
    /// Top-level fallback for senders that put the time outside `alarm`.
    pub time: Option<Value>,
    pub extra: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// A validated envelope: the typed form plus the body it came from.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub event_type: EventType,
    pub body: RawEnvelope,
    pub raw: Value,
}

/// What the webhook endpoint dispatches.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// `siteengine.alarm`, `siteengine.trap` or `siteengine.syslog`.
    pub trigger: &'static str,
    /// The section 1.5 payload.
    pub payload: Value,
    /// [`idempotency_key`] of the alarm id and time, when the envelope has both.
    pub idempotency_key: Option<String>,
    /// `siteengine-<event_type>-<alarm id>` (or without the id), for the trace.
    pub trace_tag: String,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn non_empty(v: &Option<StrLike>) -> Option<&str> {
    v.as_ref().map(|s| s.0.trim()).filter(|s| !s.is_empty())
}

/// The dedup key of a Site Engine event: `se-` and the first 32 hex digits of
/// SHA-256(`<alarm id>|<time as sent>`). The sender script computes the same value.
pub fn idempotency_key(alarm_id: &str, time: &str) -> String {
    let digest = Sha256::digest(format!("{alarm_id}|{time}").as_bytes());
    format!("se-{}", &hex::encode(digest)[..32])
}

/// Parses a time the way senders write it: RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]` (taken as UTC),
/// or epoch seconds / milliseconds. `None` when it is none of these.
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
                    return Some(Utc.from_utc_datetime(&t));
                }
            }
            s.parse::<f64>().ok().and_then(epoch)
        }
        Value::Number(n) => n.as_f64().and_then(epoch),
        _ => None,
    }
}

fn epoch(n: f64) -> Option<DateTime<Utc>> {
    // Above 1e11 seconds is year 5138: such a number is milliseconds.
    let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
    Utc.timestamp_millis_opt(ms as i64).single()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn looks_like_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

fn is_dotted_oid(s: &str) -> bool {
    let s = s.strip_prefix('.').unwrap_or(s);
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

impl Envelope {
    /// Parses raw body bytes (the webhook endpoint's input).
    pub fn from_slice(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        Envelope::from_value(value)
    }

    /// Parses and validates a JSON body: the required fields of its event type are present and
    /// every field has a usable type.
    pub fn from_value(value: Value) -> Result<Envelope, EnvelopeError> {
        if !value.is_object() {
            return Err(EnvelopeError::NotAnObject(json_type(&value)));
        }
        let body: RawEnvelope =
            serde_path_to_error::deserialize(&value).map_err(|e| EnvelopeError::Invalid {
                field: e.path().to_string(),
                reason: e.inner().to_string(),
            })?;
        let event_type = match non_empty(&body.event_type) {
            None => return Err(EnvelopeError::Missing("event_type".into())),
            Some(s) => {
                EventType::parse(s).ok_or_else(|| EnvelopeError::UnknownEventType(s.to_string()))?
            }
        };
        let device = body
            .device
            .as_ref()
            .ok_or_else(|| EnvelopeError::Missing("device".into()))?;
        let ip = non_empty(&device.ip).ok_or_else(|| EnvelopeError::Missing("device.ip".into()))?;
        if !looks_like_ip(ip) {
            return Err(EnvelopeError::Invalid {
                field: "device.ip".into(),
                reason: format!("{ip:?} is not an IPv4 or IPv6 address"),
            });
        }
        if let Some(state) = body.alarm.as_ref().and_then(|a| non_empty(&a.state)) {
            if alarm_state(state).is_none() {
                return Err(EnvelopeError::Invalid {
                    field: "alarm.state".into(),
                    reason: format!("{state:?} is not one of raised, cleared"),
                });
            }
        }
        match event_type {
            EventType::Alarm => {
                let alarm = body
                    .alarm
                    .as_ref()
                    .ok_or_else(|| EnvelopeError::Missing("alarm".into()))?;
                if non_empty(&alarm.name).is_none() {
                    return Err(EnvelopeError::Missing("alarm.name".into()));
                }
            }
            EventType::Trap => {
                let trap = body
                    .trap
                    .as_ref()
                    .ok_or_else(|| EnvelopeError::Missing("trap".into()))?;
                let oid = non_empty(&trap.oid)
                    .ok_or_else(|| EnvelopeError::Missing("trap.oid".into()))?;
                if !is_dotted_oid(oid) {
                    return Err(EnvelopeError::Invalid {
                        field: "trap.oid".into(),
                        reason: format!("{oid:?} is not a dotted OID"),
                    });
                }
                for (i, vb) in trap.varbinds.iter().flatten().enumerate() {
                    if non_empty(&vb.oid).is_none() {
                        return Err(EnvelopeError::Missing(format!("trap.varbinds[{i}].oid")));
                    }
                }
            }
            EventType::Syslog => {
                let syslog = body
                    .syslog
                    .as_ref()
                    .ok_or_else(|| EnvelopeError::Missing("syslog".into()))?;
                if non_empty(&syslog.message).is_none() {
                    return Err(EnvelopeError::Missing("syslog.message".into()));
                }
            }
        }
        Ok(Envelope {
            event_type,
            body,
            raw: value,
        })
    }

    /// The dedup key, when the envelope carries both an alarm id and an alarm time.
    pub fn idempotency_key(&self) -> Option<String> {
        let alarm = self.body.alarm.as_ref()?;
        let id = non_empty(&alarm.id)?;
        let time = match alarm.time.as_ref()? {
            Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(idempotency_key(id, &time))
    }

    /// The section 1.5 trigger payload. `received_at` fills `time` when the envelope has no
    /// usable time (the unusable text is kept as `time_raw`).
    pub fn normalize(&self, received_at: DateTime<Utc>) -> Normalized {
        let b = &self.body;
        let mut p = Map::new();
        let mut extra = b.extra.clone().unwrap_or_default();
        let put = |p: &mut Map<String, Value>, k: &str, v: &Option<StrLike>| {
            if let Some(s) = v {
                p.insert(k.into(), Value::String(s.0.clone()));
            }
        };
        p.insert("event_type".into(), self.event_type.as_str().into());

        let empty_device = DeviceInfo::default();
        let d = b.device.as_ref().unwrap_or(&empty_device);
        // Validation guarantees device.ip; trimmed because senders pad arguments.
        p.insert(
            "device_ip".into(),
            non_empty(&d.ip).unwrap_or_default().to_string().into(),
        );
        put(&mut p, "device_name", &d.name);
        put(&mut p, "device_nickname", &d.nickname);
        put(&mut p, "device_family", &d.family);
        put(&mut p, "device_type", &d.device_type);
        put(&mut p, "device_serial", &d.serial);
        put(&mut p, "site", &d.site);
        keep_unknown(&mut extra, "device", &d.unknown);

        let alarm = b.alarm.as_ref();
        let syslog = b.syslog.as_ref();
        let severity_raw: Option<Value> = alarm
            .and_then(|a| a.severity.as_ref())
            .map(|s| Value::String(s.0.clone()))
            .or_else(|| syslog.and_then(|s| s.severity.clone()));
        let severity = match &severity_raw {
            Some(Value::String(s)) => Severity::from_name(s),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Severity::from_syslog_level)
                .unwrap_or(Severity::Unknown),
            _ => Severity::Unknown,
        };
        p.insert("severity".into(), severity.as_str().into());
        if let Some(raw) = severity_raw {
            let text = match raw {
                Value::String(s) => s,
                other => other.to_string(),
            };
            p.insert("severity_raw".into(), text.into());
        }

        let time_value = alarm
            .and_then(|a| a.time.clone())
            .or_else(|| b.time.clone());
        let parsed = time_value.as_ref().and_then(parse_time);
        p.insert("time".into(), rfc3339(parsed.unwrap_or(received_at)).into());
        if let (None, Some(v)) = (parsed, &time_value) {
            if !v.is_null() {
                p.insert("time_raw".into(), v.clone());
            }
        }
        p.insert("received_at".into(), rfc3339(received_at).into());

        if let Some(se) = &b.siteengine {
            put(&mut p, "siteengine_ip", &se.ip);
            put(&mut p, "siteengine_version", &se.version);
            keep_unknown(&mut extra, "siteengine", &se.unknown);
        }
        put(&mut p, "source", &b.source);
        put(&mut p, "message", &b.message);
        if let Some(i) = &b.interface {
            let mut o = Map::new();
            if let Some(n) = i.if_index {
                o.insert("if_index".into(), n.0.into());
            }
            put(&mut o, "name", &i.name);
            put(&mut o, "alias", &i.alias);
            for (k, v) in &i.unknown {
                o.insert(k.clone(), v.clone());
            }
            p.insert("interface".into(), Value::Object(o));
        }

        if let Some(a) = alarm {
            put(&mut p, "alarm_name", &a.name);
            put(&mut p, "alarm_id", &a.id);
            put(&mut p, "alarm_condition", &a.condition);
            put(&mut p, "alarm_source", &a.source_component);
            if let Some(n) = a.count {
                p.insert("alarm_count".into(), n.0.into());
            }
            keep_unknown(&mut extra, "alarm", &a.unknown);
        }
        // Every event that came through an alarm carries its state; an alarm without an
        // explicit state is derived from its severity (Site Engine's "Clear" severity).
        let state = alarm
            .and_then(|a| non_empty(&a.state))
            .and_then(alarm_state)
            .unwrap_or(if severity == Severity::Clear {
                "cleared"
            } else {
                "raised"
            });
        if alarm.is_some() || self.event_type == EventType::Alarm {
            p.insert("alarm_state".into(), state.into());
        }

        if let Some(t) = &b.trap {
            put(&mut p, "trap_oid", &t.oid);
            put(&mut p, "trap_name", &t.name);
            if let Some(v) = &t.snmp_version {
                p.insert("snmp_version".into(), snmp_version(&v.0).into());
            }
            put(&mut p, "enterprise", &t.enterprise);
            for (k, v) in [
                ("generic_trap", t.generic_trap),
                ("specific_trap", t.specific_trap),
                ("uptime", t.uptime),
            ] {
                if let Some(n) = v {
                    p.insert(k.into(), n.0.into());
                }
            }
            let varbinds: Vec<Value> = t
                .varbinds
                .iter()
                .flatten()
                .map(|vb| {
                    let mut o = Map::new();
                    put(&mut o, "oid", &vb.oid);
                    put(&mut o, "name", &vb.name);
                    put(&mut o, "type", &vb.value_type);
                    o.insert("value".into(), vb.value.clone().unwrap_or(Value::Null));
                    for (k, v) in &vb.unknown {
                        o.insert(k.clone(), v.clone());
                    }
                    Value::Object(o)
                })
                .collect();
            p.insert("varbinds".into(), Value::Array(varbinds));
            keep_unknown(&mut extra, "trap", &t.unknown);
        }

        if let Some(s) = syslog {
            put(&mut p, "syslog_message", &s.message);
            if let Some(f) = &s.facility {
                p.insert("facility".into(), f.clone());
            }
            if let Some(sev) = &s.severity {
                p.insert("syslog_severity".into(), sev.clone());
            }
            put(&mut p, "program", &s.program);
            put(&mut p, "tag", &s.tag);
            put(&mut p, "hostname", &s.hostname);
            keep_unknown(&mut extra, "syslog", &s.unknown);
        }

        for (k, v) in &b.unknown {
            extra.insert(k.clone(), v.clone());
        }
        p.insert("extra".into(), Value::Object(extra));
        p.insert("raw".into(), self.raw.clone());

        let alarm_id = alarm.and_then(|a| non_empty(&a.id));
        let trace_tag = match alarm_id {
            Some(id) => format!("siteengine-{}-{id}", self.event_type.as_str()),
            None => format!("siteengine-{}", self.event_type.as_str()),
        };
        Normalized {
            trigger: self.event_type.trigger_ref(),
            payload: Value::Object(p),
            idempotency_key: self.idempotency_key(),
            trace_tag,
        }
    }
}

/// Parse, validate and normalise in one call (what the webhook endpoint does).
pub fn normalize(body: &[u8], received_at: DateTime<Utc>) -> Result<Normalized, EnvelopeError> {
    Ok(Envelope::from_slice(body)?.normalize(received_at))
}

/// [`normalize`] for an already-parsed body.
pub fn normalize_value(
    body: Value,
    received_at: DateTime<Utc>,
) -> Result<Normalized, EnvelopeError> {
    Ok(Envelope::from_value(body)?.normalize(received_at))
}

fn alarm_state(s: &str) -> Option<&'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "raised" | "raise" | "active" | "open" => Some("raised"),
        "cleared" | "clear" | "closed" => Some("cleared"),
        _ => None,
    }
}

fn snmp_version(s: &str) -> String {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "v1" | "snmpv1" => "v1".into(),
        "2" | "2c" | "v2" | "v2c" | "snmpv2c" => "v2c".into(),
        "3" | "v3" | "snmpv3" => "v3".into(),
        other => other.to_string(),
    }
}

/// Unknown keys of a section go to `extra.<section>` so nothing the sender added is lost
/// outside `raw`.
fn keep_unknown(extra: &mut Map<String, Value>, section: &str, unknown: &Map<String, Value>) {
    if unknown.is_empty() {
        return;
    }
    let slot = extra
        .entry(section.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = slot {
        for (k, v) in unknown {
            m.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALARM: &str = include_str!("../data/examples/alarm-webhook.json");
    const TRAP: &str = include_str!("../data/examples/trap-webhook.json");
    const SYSLOG: &str = include_str!("../data/examples/syslog-webhook.json");
    const ST2_SYSTEM: &str = include_str!("../data/examples/st2-system-webhook.json");

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 2, 12, 0, 0).unwrap()
    }

    fn body(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn alarm_example_matches_the_st2_system_webhook_payload() {
        let n = normalize(ALARM.as_bytes(), now()).unwrap();
        assert_eq!(n.trigger, "siteengine.alarm");
        let expected = body(ST2_SYSTEM)["payload"].clone();
        // Every field of the spec's normalised example is produced with the same value
        // (`raw` is the whole body here, the example elides it as {}).
        for (k, v) in expected.as_object().unwrap() {
            if k == "raw" {
                continue;
            }
            assert_eq!(&n.payload[k], v, "field {k}");
        }
        assert_eq!(n.payload["raw"], body(ALARM));
        assert_eq!(n.payload["device_nickname"], "dist-sw-01");
        assert_eq!(n.payload["device_type"], "5520-48T");
        assert_eq!(n.payload["device_serial"], "1234N-56789");
        assert_eq!(n.payload["extra"], json!({}));
        assert_eq!(n.payload["received_at"], "2024-05-02T12:00:00Z");
        assert_eq!(n.trace_tag, "siteengine-alarm-58213");
        assert_eq!(
            n.idempotency_key.as_deref(),
            Some(idempotency_key("58213", "2024-05-02T10:35:17Z").as_str())
        );
    }

    #[test]
    fn trap_example() {
        let n = normalize(TRAP.as_bytes(), now()).unwrap();
        assert_eq!(n.trigger, "siteengine.trap");
        let p = &n.payload;
        assert_eq!(p["event_type"], "trap");
        assert_eq!(p["severity"], "warning");
        assert_eq!(p["severity_raw"], "Warning");
        assert_eq!(p["time"], "2024-05-02T10:36:02Z");
        assert_eq!(p["trap_oid"], "1.3.6.1.6.3.1.1.5.3");
        assert_eq!(p["trap_name"], "linkDown");
        assert_eq!(p["snmp_version"], "v2c");
        assert_eq!(p["uptime"], 81234567);
        assert_eq!(
            p["interface"],
            json!({"if_index": 1021, "name": "1:21", "alias": "floor2-ap-07"})
        );
        assert_eq!(p["varbinds"].as_array().unwrap().len(), 3);
        assert_eq!(
            p["varbinds"][2],
            json!({"oid": "1.3.6.1.2.1.2.2.1.8.1021", "name": "ifOperStatus.1021", "type": "INTEGER", "value": "2"})
        );
        assert_eq!(p["alarm_name"], "Port Flapping");
        assert_eq!(p["alarm_count"], 6);
        assert_eq!(p["alarm_state"], "raised");
        assert_eq!(p["message"], "Port 1:21 link down");
        assert_eq!(p["raw"], body(TRAP));
    }

    #[test]
    fn syslog_example() {
        let n = normalize(SYSLOG.as_bytes(), now()).unwrap();
        assert_eq!(n.trigger, "siteengine.syslog");
        let p = &n.payload;
        assert_eq!(p["severity"], "info");
        assert_eq!(p["severity_raw"], "Info");
        assert_eq!(
            p["syslog_message"],
            "<Noti:cm.file.savedCfg> Configuration saved to primary.cfg successfully. (admin)"
        );
        assert_eq!(p["facility"], "local7");
        assert_eq!(p["syslog_severity"], 5);
        assert_eq!(p["program"], "cm");
        assert_eq!(p["hostname"], "dist-sw-01");
        assert_eq!(p["device_ip"], "10.10.1.21");
        assert_eq!(p["site"], "/World/Campus/Building-A");
        assert!(p.get("interface").is_none());
        assert_eq!(p["raw"], body(SYSLOG));
    }

    #[test]
    fn severity_mapping() {
        for (word, sev) in [
            ("Critical", "critical"),
            ("EMERGENCY", "critical"),
            ("Error", "error"),
            ("Major", "error"),
            ("Warning", "warning"),
            ("minor", "warning"),
            ("Info", "info"),
            ("Notice", "info"),
            ("Clear", "clear"),
            ("Cleared", "clear"),
            ("3", "error"),
            ("Purple", "unknown"),
            ("", "unknown"),
        ] {
            assert_eq!(Severity::from_name(word).as_str(), sev, "{word}");
        }
        let mut b = body(ALARM);
        b["alarm"].as_object_mut().unwrap().remove("severity");
        let n = normalize_value(b, now()).unwrap();
        assert_eq!(n.payload["severity"], "unknown");
        assert!(n.payload.get("severity_raw").is_none());
    }

    #[test]
    fn clear_severity_without_state_means_cleared() {
        let mut b = body(ALARM);
        b["alarm"]["severity"] = json!("Clear");
        b["alarm"].as_object_mut().unwrap().remove("state");
        let n = normalize_value(b, now()).unwrap();
        assert_eq!(n.payload["alarm_state"], "cleared");
        assert_eq!(n.payload["severity"], "clear");
    }

    #[test]
    fn time_fallbacks() {
        let mut b = body(ALARM);
        b["alarm"].as_object_mut().unwrap().remove("time");
        let n = normalize_value(b.clone(), now()).unwrap();
        assert_eq!(n.payload["time"], "2024-05-02T12:00:00Z");
        assert!(n.payload.get("time_raw").is_none());
        assert_eq!(n.idempotency_key, None, "no time, no key");

        b["alarm"]["time"] = json!("yesterday-ish");
        let n = normalize_value(b.clone(), now()).unwrap();
        assert_eq!(n.payload["time"], "2024-05-02T12:00:00Z");
        assert_eq!(n.payload["time_raw"], "yesterday-ish");

        b["alarm"]["time"] = json!("2024-05-02T12:35:17+02:00");
        let n = normalize_value(b.clone(), now()).unwrap();
        assert_eq!(n.payload["time"], "2024-05-02T10:35:17Z");

        b["alarm"]["time"] = json!("2024-05-02 10:35:17");
        let n = normalize_value(b.clone(), now()).unwrap();
        assert_eq!(n.payload["time"], "2024-05-02T10:35:17Z");

        b["alarm"]["time"] = json!(1714646117);
        let n = normalize_value(b.clone(), now()).unwrap();
        assert_eq!(n.payload["time"], "2024-05-02T10:35:17Z");
        b["alarm"]["time"] = json!(1714646117500i64);
        let n = normalize_value(b, now()).unwrap();
        assert_eq!(n.payload["time"], "2024-05-02T10:35:17.500Z");
    }

    #[test]
    fn unknown_fields_are_kept_under_extra_and_raw_is_untouched() {
        let mut b = body(TRAP);
        b["ticket_queue"] = json!("noc");
        b["device"]["rack"] = json!("R12");
        b["extra"] = json!({"sender": "st2integration.py 1.0"});
        let n = normalize_value(b.clone(), now()).unwrap();
        assert_eq!(
            n.payload["extra"],
            json!({"sender": "st2integration.py 1.0", "device": {"rack": "R12"}, "ticket_queue": "noc"})
        );
        assert_eq!(n.payload["raw"], b);
    }

    #[test]
    fn string_numbers_from_alarm_variables_are_accepted() {
        let mut b = body(TRAP);
        b["interface"]["if_index"] = json!("1021");
        b["alarm"]["count"] = json!("6");
        b["alarm"]["id"] = json!(58214);
        let n = normalize_value(b, now()).unwrap();
        assert_eq!(n.payload["interface"]["if_index"], 1021);
        assert_eq!(n.payload["alarm_count"], 6);
        assert_eq!(n.payload["alarm_id"], "58214");
    }

    #[test]
    fn refusals_name_the_field() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, &str, EnvelopeError)> = vec![
            (
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("event_type");
                }),
                ALARM,
                EnvelopeError::Missing("event_type".into()),
            ),
            (
                Box::new(|b| b["event_type"] = json!("netflow")),
                ALARM,
                EnvelopeError::UnknownEventType("netflow".into()),
            ),
            (
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("device");
                }),
                ALARM,
                EnvelopeError::Missing("device".into()),
            ),
            (
                Box::new(|b| {
                    b["device"].as_object_mut().unwrap().remove("ip");
                }),
                ALARM,
                EnvelopeError::Missing("device.ip".into()),
            ),
            (
                Box::new(|b| {
                    b["alarm"].as_object_mut().unwrap().remove("name");
                }),
                ALARM,
                EnvelopeError::Missing("alarm.name".into()),
            ),
            (
                Box::new(|b| {
                    b["trap"].as_object_mut().unwrap().remove("oid");
                }),
                TRAP,
                EnvelopeError::Missing("trap.oid".into()),
            ),
            (
                Box::new(|b| {
                    b["trap"]["varbinds"][1]
                        .as_object_mut()
                        .unwrap()
                        .remove("oid");
                }),
                TRAP,
                EnvelopeError::Missing("trap.varbinds[1].oid".into()),
            ),
            (
                Box::new(|b| {
                    b["syslog"].as_object_mut().unwrap().remove("message");
                }),
                SYSLOG,
                EnvelopeError::Missing("syslog.message".into()),
            ),
        ];
        for (edit, base, expected) in cases {
            let mut b = body(base);
            edit(&mut b);
            let err = normalize_value(b, now()).unwrap_err();
            assert_eq!(err, expected);
        }
    }

    #[test]
    fn invalid_values_name_the_field() {
        let mut b = body(ALARM);
        b["device"]["ip"] = json!("not-an-ip");
        let err = normalize_value(b, now()).unwrap_err();
        assert_eq!(err.field(), Some("device.ip"));

        let mut b = body(TRAP);
        b["trap"]["oid"] = json!("linkDown");
        assert_eq!(
            normalize_value(b, now()).unwrap_err().field(),
            Some("trap.oid")
        );

        let mut b = body(TRAP);
        b["interface"]["if_index"] = json!("port-21");
        let err = normalize_value(b, now()).unwrap_err();
        assert_eq!(err.field(), Some("interface.if_index"), "{err}");

        let mut b = body(ALARM);
        b["alarm"]["state"] = json!("snoozed");
        assert_eq!(
            normalize_value(b, now()).unwrap_err().field(),
            Some("alarm.state")
        );

        let mut b = body(ALARM);
        b["device"] = json!("10.10.1.21");
        assert_eq!(
            normalize_value(b, now()).unwrap_err().field(),
            Some("device")
        );
    }

    #[test]
    fn non_json_and_non_object_bodies() {
        assert!(matches!(
            normalize(b"alarm=1", now()),
            Err(EnvelopeError::NotJson(_))
        ));
        assert_eq!(
            normalize(b"[1]", now()),
            Err(EnvelopeError::NotAnObject("an array"))
        );
    }

    #[test]
    fn idempotency_key_is_stable_and_distinct() {
        let a = idempotency_key("58213", "2024-05-02T10:35:17Z");
        assert_eq!(a, idempotency_key("58213", "2024-05-02T10:35:17Z"));
        assert_ne!(a, idempotency_key("58213", "2024-05-02T10:35:18Z"));
        assert_ne!(a, idempotency_key("58214", "2024-05-02T10:35:17Z"));
        assert!(a.starts_with("se-") && a.len() == 35);
        // The value the sender script computes (hashlib.sha256(b"58213|2024-05-02T10:35:17Z")).
        let digest = hex::encode(Sha256::digest(b"58213|2024-05-02T10:35:17Z"));
        assert_eq!(a, format!("se-{}", &digest[..32]));
    }
}

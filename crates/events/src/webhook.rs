//! Webhooks (events.md §3): body parsing by content type, WSGI header names, the generic
//! `st2` hook and custom URLs registered by `core.st2.webhook` rules.

use crate::{EmitContext, Error, Events, Result};
use gale_model::events::TriggerInstance;
use serde_json::{json, Map, Value};

/// A parsed webhook request.
#[derive(Clone, Debug, Default)]
pub struct WebhookRequest {
    /// The path after `/webhooks/` (may contain `/`).
    pub hook: String,
    /// The parsed body ([`parse_body`]).
    pub body: Value,
    /// Request headers as received (names are canonicalised here).
    pub headers: Vec<(String, String)>,
}

/// Parse the body as its `Content-Type` says (parameters ignored). The result is an object or
/// an array; anything else is a 400 with StackStorm's message, and nothing is stored.
pub fn parse_body(content_type: Option<&str>, raw: &[u8]) -> Result<Value> {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let value = match ct.as_str() {
        // text/plain is read as JSON, as StackStorm's development server does.
        "" | "application/json" | "text/plain" => {
            if raw.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Map::new())
            } else {
                serde_json::from_slice(raw)
                    .map_err(|e| Error::Invalid(format!("Failed to parse request body: {e}")))?
            }
        }
        "application/x-www-form-urlencoded" | "multipart/form-data" => {
            let text = std::str::from_utf8(raw)
                .map_err(|e| Error::Invalid(format!("Failed to parse request body: {e}")))?;
            Value::Object(parse_qs(text))
        }
        other => {
            return Err(Error::Invalid(format!(
                "Failed to parse request body: Unsupported Content-Type: \"{other}\""
            )))
        }
    };
    match value {
        Value::Object(_) | Value::Array(_) => Ok(value),
        other => Err(Error::Invalid(format!(
            "Failed to parse request body: the body must be an object or an array, got: {}",
            json_type(&other)
        ))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `parse_qs`: every value a list of strings, blank values dropped.
pub fn parse_qs(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in text.split('&') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let entry = out
            .entry(percent_decode(k))
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(percent_decode(v)));
        }
    }
    out
}

/// WSGI's header name: `_` → `-`, then Python `str.title()`.
pub fn wsgi_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut prev_letter = false;
    for c in name.chars() {
        let c = if c == '_' { '-' } else { c };
        if c.is_alphabetic() {
            if prev_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_letter = true;
        } else {
            out.push(c);
            prev_letter = false;
        }
    }
    out
}

/// Payload headers (auth headers removed, repeated names comma-joined) and the
/// `St2-Trace-Tag` value.
pub fn payload_headers(headers: &[(String, String)]) -> (Map<String, Value>, Option<String>) {
    let mut out = Map::new();
    let mut tag = None;
    for (name, value) in headers {
        let name = wsgi_header_name(name);
        match name.as_str() {
            "X-Auth-Token" | "St2-Api-Key" | "Cookie" => continue,
            "St2-Trace-Tag" => {
                tag = Some(value.clone()).filter(|v| !v.is_empty());
                continue;
            }
            _ => {}
        }
        match out.get_mut(&name) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(value);
            }
            _ => {
                out.insert(name, Value::String(value.clone()));
            }
        }
    }
    (out, tag)
}

pub(crate) async fn fire(events: &Events, req: WebhookRequest) -> Result<Vec<TriggerInstance>> {
    let hook = req.hook.strip_suffix('/').unwrap_or(&req.hook).to_string();
    let (headers, tag) = payload_headers(&req.headers);
    let trace_tag =
        tag.unwrap_or_else(|| format!("webhook-{hook}-{}", uuid::Uuid::new_v4().simple()));
    let ctx = EmitContext {
        trace_tag: Some(trace_tag),
        ..Default::default()
    };
    if hook == "st2" {
        let Value::Object(body) = &req.body else {
            return Err(Error::Invalid(format!(
                "Webhook body needs to be an object, got: {}",
                json_type(&req.body)
            )));
        };
        let trigger = match body.get("trigger") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(Error::Invalid("Trigger not specified.".into())),
        };
        let payload = body.get("payload").cloned().unwrap_or(Value::Null);
        let ti = events.dispatch_validated(&trigger, payload, ctx).await?;
        return Ok(ti.into_iter().collect());
    }
    let triggers = events
        .inner
        .webhooks
        .read()
        .ok()
        .and_then(|m| m.get(&hook).cloned())
        .unwrap_or_default();
    if triggers.is_empty() {
        return Err(Error::WebhookNotFound(hook));
    }
    let headers_lower: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect();
    // The built-in webhook payload schema (headers: object, body: array or object) holds by
    // construction: the body parser only returns objects and arrays.
    let payload = json!({"headers": headers, "headers_lower": headers_lower, "body": req.body});
    let mut out = Vec::with_capacity(triggers.len());
    for t in &triggers {
        out.push(crate::emit_to(&events.inner, t, payload.clone(), ctx.clone()).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_wsgi_title_case() {
        assert_eq!(wsgi_header_name("x-github-event"), "X-Github-Event");
        assert_eq!(wsgi_header_name("X-GitHub-Event"), "X-Github-Event");
        assert_eq!(wsgi_header_name("x-md5sum"), "X-Md5Sum");
        assert_eq!(wsgi_header_name("content_type"), "Content-Type");
    }

    #[test]
    fn auth_headers_are_removed_and_trace_tag_popped() {
        let h = |k: &str, v: &str| (k.to_string(), v.to_string());
        let (m, tag) = payload_headers(&[
            h("x-auth-token", "secret"),
            h("st2-api-key", "k"),
            h("cookie", "c"),
            h("st2-trace-tag", "tag-1"),
            h("x-a", "1"),
            h("X-A", "2"),
        ]);
        assert_eq!(Value::Object(m), json!({"X-A": "1,2"}));
        assert_eq!(tag.as_deref(), Some("tag-1"));
    }

    #[test]
    fn bodies_by_content_type() {
        assert_eq!(parse_body(None, b"").unwrap(), json!({}));
        assert_eq!(
            parse_body(Some("application/json; charset=utf-8"), b"[1]").unwrap(),
            json!([1])
        );
        assert_eq!(
            parse_body(
                Some("application/x-www-form-urlencoded"),
                b"a=1&a=2&b=x+y%21&c="
            )
            .unwrap(),
            json!({"a": ["1", "2"], "b": ["x y!"]})
        );
        let e = parse_body(Some("application/json"), b"{bad").unwrap_err();
        assert!(e.to_string().starts_with("Failed to parse request body: "));
        assert_eq!(e.http_status(), 400);
        assert!(parse_body(Some("application/json"), b"5").is_err());
        let e = parse_body(Some("application/xml"), b"<a/>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Failed to parse request body: Unsupported Content-Type: \"application/xml\""
        );
        assert_eq!(
            parse_body(Some("text/plain"), b"{\"a\": 1}").unwrap(),
            json!({"a": 1})
        );
    }
}

//! `http-request`: one HTTP request with reqwest/rustls, shaped like StackStorm's
//! `http_runner.py` (actions.md §4.5): method selection, `User-Agent: st2/v<version>` and
//! `X-Stanley-Action` headers, JSON re-encoding of the body for `application/json`, basic auth,
//! host black/white-listing, redirects only on request, and the `{status_code, body, parsed,
//! headers}` result with 200..206 meaning success.

use crate::params::{json_type, seconds_to_duration, ParamError, Params};
use crate::pyfmt::{py_float_repr, py_str, py_truthy, python_literal};
use crate::runner_defs::runner_type_from_json;
use crate::{RunContext, RunOutcome, RunRequest, Runner};
use async_trait::async_trait;
use gale_model::{ExecStatus, RunnerType};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

pub const NAME: &str = "http-request";
/// The StackStorm version Gale reports in `User-Agent`.
pub const ST2_VERSION: &str = "3.9.0";
const DEFAULT_TIMEOUT: f64 = 60.0;
/// requests' default redirect limit.
const MAX_REDIRECTS: usize = 30;

/// StackStorm's `http-request` definition (`http_runner/runner.yaml`).
pub fn runner_type() -> RunnerType {
    runner_type_from_json(json!({
        "name": NAME,
        "description": "HTTP client for running HTTP actions.",
        "enabled": true,
        "runner_module": "http_runner",
        "runner_parameters": {
            "allow_redirects": {"default": false, "description": "Set to True if POST/PUT/DELETE redirect following is allowed.", "type": "boolean"},
            "cookies": {"description": "Optional cookies to send with the request.", "type": "object"},
            "headers": {"description": "HTTP headers for the request.", "type": "object"},
            "http_proxy": {"description": "URL of HTTP proxy to use (e.g. http://10.10.1.10:3128).", "type": "string"},
            "https_proxy": {"description": "URL of HTTPS proxy to use (e.g. http://10.10.1.10:3128).", "type": "string"},
            "password": {"description": "Password required by basic authentication.", "type": "string", "secret": true},
            "url": {"description": "URL to the HTTP endpoint.", "required": true, "type": "string"},
            "username": {"description": "Username required by basic authentication.", "type": "string"},
            "verify_ssl_cert": {"default": true, "description": "Certificate for HTTPS request is verified by default using requests CA bundle which comes from Mozilla. Verification using a custom CA bundle is not yet supported. Set to False to skip verification.", "type": "boolean"},
            "url_hosts_blacklist": {"description": "Optional list of hosts (network locations) to blacklist (e.g. example.com, 127.0.0.1, ::1, etc.). If action will try to access that endpoint, an exception will be thrown and action will be marked as failed.", "required": false, "type": "array", "items": {"type": "string"}},
            "url_hosts_whitelist": {"description": "Optional list of hosts (network locations) to whitelist (e.g. example.com, 127.0.0.1, ::1, etc.). If specified, actions will only be able to hit hosts on this whitelist.", "required": false, "type": "array", "items": {"type": "string"}}
        },
        "output_key": "body",
        "output_schema": {
            "type": "object",
            "properties": {
                "status_code": {"type": "integer"},
                "body": {"anyOf": [{"type": "object"}, {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "array"}, {"type": "null"}]},
                "parsed": {"type": "boolean"},
                "headers": {"type": "object"}
            },
            "additionalProperties": false
        }
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("URL must be specified.")]
    MissingUrl,
    #[error("\"url_hosts_blacklist\" and \"url_hosts_whitelist\" parameters are mutually exclusive. Only one should be provided.")]
    BothLists,
    #[error("URL \"{0}\" is blacklisted")]
    Blacklisted(String),
    #[error("URL \"{0}\" is not whitelisted")]
    NotWhitelisted(String),
    #[error("Invalid URL \"{url}\": {reason}")]
    BadUrl { url: String, reason: String },
    #[error("Invalid HTTP method \"{0}\"")]
    BadMethod(String),
    #[error("Header \"{name}\" is invalid: {reason}")]
    BadHeader { name: String, reason: String },
    #[error("Request body ({0}) can't be parsed as JSON")]
    BadJsonBody(String),
    #[error("Data must not be a string.")]
    StringDataWithFiles,
    #[error("Invalid proxy \"{url}\": {reason}")]
    BadProxy { url: String, reason: String },
    #[error("Unable to build the HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Request(String),
    #[error("{0}")]
    Timeout(String),
}

/// Sends the request with the given StackStorm version in `User-Agent`.
#[derive(Clone, Debug)]
pub struct HttpRequestRunner {
    pub st2_version: String,
}

impl Default for HttpRequestRunner {
    fn default() -> Self {
        HttpRequestRunner {
            st2_version: ST2_VERSION.to_string(),
        }
    }
}

/// Everything needed to send the request, derived from the parameters.
#[derive(Debug)]
struct Prepared {
    url: reqwest::Url,
    method: reqwest::Method,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    timeout: f64,
    allow_redirects: bool,
    verify: bool,
    http_proxy: Option<String>,
    https_proxy: Option<String>,
}

/// `_get_host_from_url`: the netloc with `[`/`]` removed and `:<port>` removed (userinfo, when
/// present, stays part of the host, as in Python's `urlparse(...).netloc`).
pub fn host_from_url(url: &str) -> String {
    let after_scheme = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => match url.strip_prefix("//") {
            Some(rest) => rest,
            None => return String::new(),
        },
    };
    let netloc_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let netloc = &after_scheme[..netloc_end];
    let hostinfo = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    // Port = digits after the last ':' outside an IPv6 literal.
    let port = match hostinfo.rfind(']') {
        Some(close) => hostinfo[close + 1..].strip_prefix(':'),
        None => hostinfo.rsplit_once(':').map(|(_, p)| p),
    }
    .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    .and_then(|p| p.parse::<u32>().ok());
    let mut host = netloc.replace(['[', ']'], "");
    if let Some(port) = port {
        host = host.replace(&format!(":{port}"), "");
    }
    host
}

/// Python-style `application/x-www-form-urlencoded` for a dict body (requests' `data=dict`).
fn form_encode(obj: &Map<String, Value>) -> String {
    let mut ser = Vec::new();
    for (k, v) in obj {
        match v {
            Value::Null => {}
            Value::Array(items) => {
                for item in items.iter().filter(|i| !i.is_null()) {
                    ser.push((k.clone(), py_str(item)));
                }
            }
            other => ser.push((k.clone(), py_str(other))),
        }
    }
    let mut url = reqwest::Url::parse("http://x/").expect("static URL parses");
    url.query_pairs_mut().extend_pairs(ser);
    url.query().unwrap_or_default().to_string()
}

fn multipart_body(
    fields: &[(String, String)],
    file_field: &str,
    filename: &str,
    content: &[u8],
    content_type: Option<&str>,
) -> (String, Vec<u8>) {
    let boundary = format!("gale{}", gale_model::new_id());
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{filename}\"\r\n").as_bytes(),
    );
    if let Some(ct) = content_type {
        body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn header_error(name: &str, reason: impl ToString) -> HttpError {
    HttpError::BadHeader {
        name: name.to_string(),
        reason: reason.to_string(),
    }
}

fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), HttpError> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| header_error(name, e))?;
    let v = HeaderValue::from_str(value).map_err(|e| header_error(name, e))?;
    headers.insert(n, v);
    Ok(())
}

impl HttpRequestRunner {
    fn prepare(&self, req: &RunRequest) -> Result<Prepared, HttpError> {
        let rp = Params(&req.runner_parameters);
        let ap = Params(&req.action_parameters);

        let url_text = rp.string("url")?.ok_or(HttpError::MissingUrl)?.to_string();
        let blacklist = rp.string_list("url_hosts_blacklist")?;
        let whitelist = rp.string_list("url_hosts_whitelist")?;
        if !blacklist.is_empty() && !whitelist.is_empty() {
            return Err(HttpError::BothLists);
        }

        let body = ap.raw("body");
        let timeout = match ap.raw("timeout") {
            None => DEFAULT_TIMEOUT,
            // float() also accepts numeric strings.
            Some(Value::String(s)) => {
                s.trim().parse::<f64>().map_err(|_| ParamError::WrongType {
                    name: "timeout".into(),
                    expected: "a number",
                    got: "string",
                })?
            }
            Some(_) => ap.seconds("timeout")?.unwrap_or(DEFAULT_TIMEOUT),
        };
        let file_name = ap.raw("file_name").filter(|v| py_truthy(v)).map(py_str);
        let file_content = ap.raw("file_content").filter(|v| py_truthy(v)).map(py_str);
        let file_content_type = ap
            .raw("file_content_type")
            .filter(|v| py_truthy(v))
            .map(py_str);
        let has_files = file_name.is_some() && file_content.is_some();

        let method_text = match ap.string("method")? {
            Some(m) => m.to_uppercase(),
            None if has_files || body.is_some_and(py_truthy) => "POST".to_string(),
            None => "GET".to_string(),
        };
        let method = reqwest::Method::from_bytes(method_text.as_bytes())
            .map_err(|_| HttpError::BadMethod(method_text.clone()))?;

        // Headers: the runner's, then ours (which win over any spelling of the same name).
        let mut headers = HeaderMap::new();
        let mut content_type: Option<String> = None;
        if let Some(h) = rp.object("headers")? {
            for (name, value) in h {
                let lower = name.to_ascii_lowercase();
                // requests recomputes Content-Length from the body it sends.
                if lower == "content-length" || lower == "user-agent" || lower == "x-stanley-action"
                {
                    continue;
                }
                let Value::String(v) = value else {
                    return Err(header_error(
                        name,
                        format!("value must be a string, got {}", json_type(value)),
                    ));
                };
                if lower == "content-type" {
                    content_type = Some(v.clone());
                }
                insert_header(&mut headers, name, v)?;
            }
        }
        insert_header(
            &mut headers,
            "User-Agent",
            &format!("st2/v{}", self.st2_version),
        )?;
        insert_header(&mut headers, "X-Stanley-Action", &req.action.name)?;
        if let Some(cookies) = rp.object("cookies")? {
            let text: Vec<String> = cookies
                .iter()
                .map(|(k, v)| format!("{k}={}", py_str(v)))
                .collect();
            if !text.is_empty() {
                insert_header(&mut headers, "Cookie", &text.join("; "))?;
            }
        }

        // Body.
        let json_content = content_type.as_deref() == Some("application/json");
        let data: Option<Value> = if json_content {
            let value = match body {
                Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                    Ok(v) => v,
                    Err(_) => python_literal(s).ok_or_else(|| HttpError::BadJsonBody(s.clone()))?,
                },
                Some(v) => v.clone(),
                None => Value::Null,
            };
            // json_encode(None) is "null": StackStorm sends it even without a body.
            Some(Value::String(
                serde_json::to_string(&value).unwrap_or_default(),
            ))
        } else {
            body.cloned()
        };
        let mut body_bytes = None;
        if has_files {
            let fields = match &data {
                None => Vec::new(),
                Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), py_str(v))).collect(),
                Some(v) if !py_truthy(v) => Vec::new(),
                Some(_) => return Err(HttpError::StringDataWithFiles),
            };
            let field = file_name.unwrap_or_default();
            let content = file_content.unwrap_or_default();
            // requests reads a 2-tuple `(file_content, file_content_type)` as (filename, data):
            // with a content type, the content becomes the file name and the type the data.
            let (ct, bytes) = match &file_content_type {
                Some(t) => multipart_body(&fields, &field, &content, t.as_bytes(), None),
                None => multipart_body(&fields, &field, &field, content.as_bytes(), None),
            };
            insert_header(&mut headers, "Content-Type", &ct)?;
            body_bytes = Some(bytes);
        } else {
            match data {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => body_bytes = Some(s.into_bytes()),
                Some(Value::Object(o)) => {
                    if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
                        insert_header(
                            &mut headers,
                            "Content-Type",
                            "application/x-www-form-urlencoded",
                        )?;
                    }
                    body_bytes = Some(form_encode(&o).into_bytes());
                }
                Some(other) => body_bytes = Some(py_str(&other).into_bytes()),
            }
        }

        // Basic auth: requests turns a missing half into the text "None".
        let username = rp.raw("username");
        let password = rp.raw("password");
        if username.is_some() || password.is_some() {
            let user = username.map(py_str).unwrap_or_else(|| "None".into());
            let pass = password.map(py_str).unwrap_or_else(|| "None".into());
            let token = base64_encode(format!("{user}:{pass}").as_bytes());
            insert_header(&mut headers, "Authorization", &format!("Basic {token}"))?;
        }

        // Host lists are checked on the URL text before anything is sent.
        let host = host_from_url(&url_text);
        if !blacklist.is_empty() && blacklist.contains(&host) {
            return Err(HttpError::Blacklisted(url_text));
        }
        if !whitelist.is_empty() && !whitelist.contains(&host) {
            return Err(HttpError::NotWhitelisted(url_text));
        }

        let mut url = reqwest::Url::parse(&url_text).map_err(|e| HttpError::BadUrl {
            url: url_text.clone(),
            reason: e.to_string(),
        })?;
        match ap.raw("params") {
            None => {}
            Some(Value::Object(q)) => {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in q {
                    match v {
                        Value::Null => {}
                        Value::Array(items) => {
                            for item in items.iter().filter(|i| !i.is_null()) {
                                pairs.append_pair(k, &py_str(item));
                            }
                        }
                        other => {
                            pairs.append_pair(k, &py_str(other));
                        }
                    }
                }
            }
            Some(Value::String(s)) if !s.is_empty() => {
                let q = match url.query() {
                    Some(existing) if !existing.is_empty() => format!("{existing}&{s}"),
                    _ => s.clone(),
                };
                url.set_query(Some(&q));
            }
            Some(_) => {}
        }

        Ok(Prepared {
            url,
            method,
            headers,
            body: body_bytes,
            timeout,
            allow_redirects: rp.boolean("allow_redirects", false)?,
            verify: rp.boolean("verify_ssl_cert", true)?,
            http_proxy: rp.string("http_proxy")?.map(str::to_string),
            https_proxy: rp.string("https_proxy")?.map(str::to_string),
        })
    }

    async fn send(&self, p: Prepared) -> Result<Value, HttpError> {
        let mut builder = reqwest::Client::builder()
            .timeout(seconds_to_duration(p.timeout))
            .redirect(if p.allow_redirects {
                reqwest::redirect::Policy::limited(MAX_REDIRECTS)
            } else {
                reqwest::redirect::Policy::none()
            })
            .danger_accept_invalid_certs(!p.verify);
        for (proxy_url, https) in [(&p.http_proxy, false), (&p.https_proxy, true)] {
            if let Some(u) = proxy_url {
                let proxy = if https {
                    reqwest::Proxy::https(u)
                } else {
                    reqwest::Proxy::http(u)
                }
                .map_err(|e| HttpError::BadProxy {
                    url: u.clone(),
                    reason: e.to_string(),
                })?;
                builder = builder.proxy(proxy);
            }
        }
        let client = builder
            .build()
            .map_err(|e| HttpError::Client(e.to_string()))?;
        let mut request = client.request(p.method, p.url.clone()).headers(p.headers);
        if let Some(b) = p.body {
            request = request.body(b);
        }
        let timeout_text = || {
            let pool = if p.url.scheme() == "https" {
                "HTTPSConnectionPool"
            } else {
                "HTTPConnectionPool"
            };
            format!(
                "{pool}(host='{}', port={}): Read timed out. (read timeout={})",
                p.url.host_str().unwrap_or_default(),
                p.url.port_or_known_default().unwrap_or(0),
                py_float_repr(p.timeout)
            )
        };
        let resp = request.send().await.map_err(|e| {
            if e.is_timeout() {
                HttpError::Timeout(timeout_text())
            } else {
                HttpError::Request(error_chain(&e))
            }
        })?;
        let status = resp.status().as_u16();
        let mut headers = Map::new();
        for (name, value) in resp.headers() {
            let key = title_case(name.as_str());
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            // urllib3 joins repeated headers with ", ".
            match headers.get_mut(&key) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    headers.insert(key, Value::String(value));
                }
            }
        }
        let text = resp.text().await.map_err(|e| {
            if e.is_timeout() {
                HttpError::Timeout(timeout_text())
            } else {
                HttpError::Request(error_chain(&e))
            }
        })?;
        let (body, parsed) = parse_body(&headers, text);
        Ok(json!({"status_code": status, "body": body, "parsed": parsed, "headers": headers}))
    }
}

/// `_parse_response_body`: JSON only for a content type (before `;`) of exactly
/// `application/json`.
pub fn parse_body(headers: &Map<String, Value>, text: String) -> (Value, bool) {
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| v.as_str());
    match content_type {
        Some(ct) if ct.split(';').next() == Some("application/json") => {
            match serde_json::from_str(&text) {
                Ok(v) => (v, true),
                Err(_) => (Value::String(text), false),
            }
        }
        _ => (Value::String(text), false),
    }
}

/// HTTP/1 header names arrive lowercased; most servers send them Title-Cased, which is what
/// StackStorm (keeping the original case) shows.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[async_trait]
impl Runner for HttpRequestRunner {
    fn runner_type(&self) -> RunnerType {
        runner_type()
    }

    async fn run(&self, req: RunRequest, ctx: RunContext) -> RunOutcome {
        let prepared = match self.prepare(&req) {
            Ok(p) => p,
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        tracing::info!(execution_id = %req.execution_id, method = %prepared.method, url = %prepared.url, "http-request");
        let outcome = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => return RunOutcome { status: ExecStatus::Canceled, result: json!({}) },
            r = self.send(prepared) => r,
        };
        match outcome {
            Ok(result) => {
                let code = result["status_code"].as_u64().unwrap_or(0);
                let status = if (200..=206).contains(&code) {
                    ExecStatus::Succeeded
                } else {
                    ExecStatus::Failed
                };
                RunOutcome { status, result }
            }
            Err(HttpError::Timeout(msg)) => RunOutcome {
                status: ExecStatus::Timeout,
                result: json!({"error": msg}),
            },
            Err(e) => RunOutcome::failure(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_extraction_matches_python() {
        assert_eq!(host_from_url("http://example.com/x"), "example.com");
        assert_eq!(host_from_url("http://example.com:8080/x"), "example.com");
        assert_eq!(host_from_url("http://127.0.0.1:9101"), "127.0.0.1");
        assert_eq!(host_from_url("http://[::1]:80/a"), "::1");
        assert_eq!(host_from_url("https://[::1]/a"), "::1");
        assert_eq!(host_from_url("http://user:pw@h.com:81/?q"), "user:pw@h.com");
        assert_eq!(host_from_url("http://h.com?x=1"), "h.com");
        // StackStorm's own blacklist cases all reduce to a listed host.
        let listed = [
            "example.com",
            "127.0.0.1",
            "::1",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ];
        for url in [
            "https://example.com",
            "http://example.com",
            "http://example.com:81",
            "http://example.com:80",
            "http://example.com:9000",
            "http://[::1]:80/",
            "http://[::1]",
            "http://[::1]:9000",
            "http://[2001:0db8:85a3:0000:0000:8a2e:0370:7334]",
            "https://[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:8000",
        ] {
            assert!(
                listed.contains(&host_from_url(url).as_str()),
                "{url} -> {}",
                host_from_url(url)
            );
        }
        for url in [
            "https://example2.com",
            "http://example3.com",
            "http://example4.com:81",
            "http://127.0.0.2",
        ] {
            assert!(!listed.contains(&host_from_url(url).as_str()), "{url}");
        }
        // Python's str.replace removes every ":<port>", even inside an IPv6 address.
        assert_eq!(host_from_url("http://[2001:80::1]:80/"), "2001::1");
    }

    #[test]
    fn body_parsing_rules() {
        let h = |ct: &str| json!({"Content-Type": ct}).as_object().unwrap().clone();
        assert_eq!(
            parse_body(&h("application/json"), "{\"a\":1}".into()),
            (json!({"a": 1}), true)
        );
        assert_eq!(
            parse_body(&h("application/json; charset=utf-8"), "[1]".into()),
            (json!([1]), true)
        );
        assert_eq!(
            parse_body(&h("application/json"), "nope".into()),
            (json!("nope"), false)
        );
        assert_eq!(
            parse_body(&h("text/plain"), "{\"a\":1}".into()),
            (json!("{\"a\":1}"), false)
        );
        assert_eq!(
            parse_body(&h("application/vnd.api+json"), "{}".into()),
            (json!("{}"), false)
        );
        assert_eq!(parse_body(&Map::new(), "x".into()), (json!("x"), false));
    }

    #[test]
    fn helpers() {
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-request-id"), "X-Request-Id");
        let f = form_encode(
            json!({"a": "x y", "b": [1, true], "c": null})
                .as_object()
                .unwrap(),
        );
        assert_eq!(f, "a=x+y&b=1&b=True");
    }

    fn prepare(runner_params: Value, action_params: Value) -> Result<Prepared, HttpError> {
        let req = crate::testutil::request(
            crate::testutil::action(NAME, "", json!({})),
            runner_params,
            action_params,
        );
        HttpRequestRunner::default().prepare(&req)
    }

    #[test]
    fn prepare_reads_transport_options() {
        let p = prepare(json!({"url": "https://h.example/x?a=1"}), json!({})).unwrap();
        assert!(p.verify);
        assert!(!p.allow_redirects);
        assert_eq!(p.timeout, 60.0);
        assert_eq!(p.method, reqwest::Method::GET);
        assert_eq!(p.body, None);
        let p = prepare(
            json!({"url": "https://h.example/x?a=1", "verify_ssl_cert": false, "allow_redirects": true,
                   "http_proxy": "http://proxy:3128", "https_proxy": "http://sproxy:3128"}),
            json!({"timeout": "2.5", "method": "patch", "params": "b=2"}),
        )
        .unwrap();
        assert!(!p.verify);
        assert!(p.allow_redirects);
        assert_eq!(p.timeout, 2.5);
        assert_eq!(p.method, reqwest::Method::PATCH);
        assert_eq!(p.url.as_str(), "https://h.example/x?a=1&b=2");
        assert_eq!(p.http_proxy.as_deref(), Some("http://proxy:3128"));
        assert_eq!(p.https_proxy.as_deref(), Some("http://sproxy:3128"));
    }

    #[test]
    fn prepare_json_content_without_body_sends_null() {
        // json_encode(None) == "null": StackStorm sends it whenever the type is JSON.
        let p = prepare(
            json!({"url": "http://h/", "headers": {"content-type": "application/json"}}),
            json!({}),
        )
        .unwrap();
        assert_eq!(p.body.as_deref(), Some(&b"null"[..]));
        assert_eq!(p.method, reqwest::Method::GET);
        // Only exactly "application/json" triggers re-encoding.
        let p = prepare(
            json!({"url": "http://h/", "headers": {"Content-Type": "application/json; charset=utf-8"}}),
            json!({"body": "{\"a\":  1}"}),
        )
        .unwrap();
        assert_eq!(p.body.as_deref(), Some(&b"{\"a\":  1}"[..]));
    }

    #[test]
    fn prepare_rejects_bad_headers_and_string_data_with_files() {
        let e = prepare(
            json!({"url": "http://h/", "headers": {"X-N": 1}}),
            json!({}),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Header \"X-N\" is invalid: value must be a string, got integer"
        );
        let e = prepare(
            json!({"url": "http://h/"}),
            json!({"body": "text", "file_name": "f", "file_content": "c"}),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "Data must not be a string.");
        let e = prepare(json!({}), json!({})).unwrap_err();
        assert_eq!(e.to_string(), "URL must be specified.");
    }

    #[test]
    fn definition_matches_stackstorm() {
        let rt = runner_type();
        assert_eq!(rt.name, "http-request");
        assert_eq!(rt.uid, "runner_type:http-request");
        assert_eq!(rt.runner_module, "http_runner");
        assert_eq!(rt.runner_package, "http_runner");
        assert_eq!(rt.output_key.as_deref(), Some("body"));
        assert!(rt.runner_parameters["url"].required());
        assert!(rt.runner_parameters["password"].secret());
        assert_eq!(
            rt.runner_parameters["allow_redirects"].default_value(),
            Some(&json!(false))
        );
        assert_eq!(
            rt.runner_parameters["verify_ssl_cert"].default_value(),
            Some(&json!(true))
        );
        assert_eq!(
            rt.runner_parameters["url_hosts_blacklist"].type_name(),
            Some("array")
        );
        let names: Vec<&str> = rt.runner_parameters.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "allow_redirects",
                "cookies",
                "headers",
                "http_proxy",
                "https_proxy",
                "password",
                "url",
                "username",
                "verify_ssl_cert",
                "url_hosts_blacklist",
                "url_hosts_whitelist"
            ]
        );
        assert_eq!(rt.output_schema["additionalProperties"], json!(false));
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;
    use crate::testutil::{action, ctx, request};
    use axum::extract::{Path as AxPath, State};
    use axum::http::{HeaderMap as AxHeaders, Method, StatusCode, Uri};
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::{any, get};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    async fn echo(
        State(hits): State<Arc<AtomicUsize>>,
        method: Method,
        uri: Uri,
        headers: AxHeaders,
        body: String,
    ) -> impl IntoResponse {
        hits.fetch_add(1, Ordering::SeqCst);
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let doc = json!({
            "method": method.as_str(), "query": uri.query(), "body": body,
            "user_agent": h("user-agent"), "action": h("x-stanley-action"), "auth": h("authorization"),
            "content_type": h("content-type"), "content_length": h("content-length"), "cookie": h("cookie"),
        });
        (
            [
                ("content-type", "application/json"),
                ("x-custom-header", "yes"),
            ],
            doc.to_string(),
        )
    }

    async fn server() -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new()
            .route("/echo", any(echo))
            .route(
                "/text",
                get(|| async { ([("content-type", "text/plain; charset=utf-8")], "hello") }),
            )
            .route(
                "/badjson",
                get(|| async { ([("content-type", "application/json")], "{oops") }),
            )
            .route("/redirect", get(|| async { Redirect::temporary("/text") }))
            .route(
                "/status/:code",
                get(|AxPath(code): AxPath<u16>| async move {
                    StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT)
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(20)).await;
                    "late"
                }),
            )
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), hits)
    }

    async fn run(runner_params: Value, action_params: Value) -> RunOutcome {
        let req = request(action(NAME, "", json!({})), runner_params, action_params);
        HttpRequestRunner::default().run(req, ctx()).await
    }

    #[tokio::test]
    async fn get_sends_st2_headers_and_parses_json() {
        let (base, _) = server().await;
        let out = run(
            json!({"url": format!("{base}/echo")}),
            json!({"params": {"a": "x y", "b": [1, true], "n": null}}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
        let r = &out.result;
        assert_eq!(r["status_code"], json!(200));
        assert_eq!(r["parsed"], json!(true));
        assert_eq!(r["body"]["method"], json!("GET"));
        assert_eq!(r["body"]["user_agent"], json!("st2/v3.9.0"));
        assert_eq!(r["body"]["action"], json!("act"));
        assert_eq!(r["body"]["query"], json!("a=x+y&b=1&b=True"));
        assert_eq!(r["body"]["body"], json!(""));
        assert_eq!(r["headers"]["Content-Type"], json!("application/json"));
        assert_eq!(r["headers"]["X-Custom-Header"], json!("yes"));
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["status_code", "body", "parsed", "headers"]);
    }

    #[tokio::test]
    async fn body_defaults_method_to_post_and_is_sent_as_is() {
        let (base, _) = server().await;
        let out = run(
            json!({"url": format!("{base}/echo")}),
            json!({"body": "raw {text}"}),
        )
        .await;
        assert_eq!(out.result["body"]["method"], json!("POST"));
        assert_eq!(out.result["body"]["body"], json!("raw {text}"));
        assert_eq!(out.result["body"]["content_length"], json!("10"));
        let out = run(
            json!({"url": format!("{base}/echo")}),
            json!({"body": "žžžžž"}),
        )
        .await;
        assert_eq!(out.result["body"]["body"], json!("žžžžž"));
        assert_eq!(out.result["body"]["content_length"], json!("10"));
        // A dict body with a content type that is not exactly application/json is form-encoded
        // (requests' data=dict), keeping the caller's content type.
        let headers = json!({"Content-Type": "application/json; charset=utf-8"});
        let out = run(
            json!({"url": format!("{base}/echo"), "headers": headers}),
            json!({"body": {"foo": "ažž"}}),
        )
        .await;
        assert_eq!(out.result["body"]["body"], json!("foo=a%C5%BE%C5%BE"));
        assert_eq!(
            out.result["body"]["content_type"],
            json!("application/json; charset=utf-8")
        );
        let out = run(
            json!({"url": format!("{base}/echo")}),
            json!({"body": "x", "method": "put"}),
        )
        .await;
        assert_eq!(out.result["body"]["method"], json!("PUT"));
    }

    #[tokio::test]
    async fn json_content_type_re_encodes_the_body() {
        let (base, _) = server().await;
        let headers =
            json!({"Content-Type": "application/json", "X-Extra": "1", "User-Agent": "mine"});
        let out = run(
            json!({"url": format!("{base}/echo"), "headers": headers}),
            json!({"body": "{\"a\": 1,  \"b\": [true]}"}),
        )
        .await;
        assert_eq!(out.result["body"]["body"], json!("{\"a\":1,\"b\":[true]}"));
        assert_eq!(out.result["body"]["user_agent"], json!("st2/v3.9.0"));
        // A Python-literal body is accepted too (ast.literal_eval fallback).
        let out = run(
            json!({"url": format!("{base}/echo"), "headers": headers}),
            json!({"body": "{'a': True}"}),
        )
        .await;
        assert_eq!(out.result["body"]["body"], json!("{\"a\":true}"));
        // An object body is serialized.
        let out = run(
            json!({"url": format!("{base}/echo"), "headers": headers}),
            json!({"body": {"k": [1, 2]}, "method": "POST"}),
        )
        .await;
        assert_eq!(out.result["body"]["body"], json!("{\"k\":[1,2]}"));
        // Neither JSON nor a literal: failure naming the body.
        let out = run(
            json!({"url": format!("{base}/echo"), "headers": headers}),
            json!({"body": "{nope"}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result["error"],
            json!("Request body ({nope) can't be parsed as JSON")
        );
    }

    #[tokio::test]
    async fn object_body_without_json_type_is_form_encoded() {
        let (base, _) = server().await;
        let out = run(
            json!({"url": format!("{base}/echo")}),
            json!({"body": {"a": "1 2", "b": true}}),
        )
        .await;
        assert_eq!(out.result["body"]["body"], json!("a=1+2&b=True"));
        assert_eq!(
            out.result["body"]["content_type"],
            json!("application/x-www-form-urlencoded")
        );
    }

    #[tokio::test]
    async fn basic_auth_and_cookies() {
        let (base, _) = server().await;
        let out = run(json!({"url": format!("{base}/echo"), "username": "user", "password": "pass", "cookies": {"s": "1", "t": "x"}}), json!({})).await;
        assert_eq!(out.result["body"]["auth"], json!("Basic dXNlcjpwYXNz"));
        assert_eq!(out.result["body"]["cookie"], json!("s=1; t=x"));
        let out = run(
            json!({"url": format!("{base}/echo"), "password": "pass"}),
            json!({}),
        )
        .await;
        // requests sends the missing user as the text "None".
        assert_eq!(
            out.result["body"]["auth"],
            json!(format!("Basic {}", base64_encode(b"None:pass")))
        );
    }

    #[tokio::test]
    async fn redirects_only_when_allowed() {
        let (base, _) = server().await;
        let out = run(json!({"url": format!("{base}/redirect")}), json!({})).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(out.result["status_code"], json!(307));
        assert_eq!(out.result["headers"]["Location"], json!("/text"));
        let out = run(
            json!({"url": format!("{base}/redirect"), "allow_redirects": true}),
            json!({}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Succeeded);
        assert_eq!(out.result["body"], json!("hello"));
        assert_eq!(out.result["parsed"], json!(false));
    }

    #[tokio::test]
    async fn status_code_mapping() {
        let (base, _) = server().await;
        let out = run(json!({"url": format!("{base}/nothing-here")}), json!({})).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(out.result["status_code"], json!(404));
        for (code, status) in [
            (200, ExecStatus::Succeeded),
            (204, ExecStatus::Succeeded),
            (206, ExecStatus::Succeeded),
            (207, ExecStatus::Failed),
            (500, ExecStatus::Failed),
        ] {
            let out = run(json!({"url": format!("{base}/status/{code}")}), json!({})).await;
            assert_eq!(out.status, status, "{code}");
            assert_eq!(out.result["status_code"], json!(code));
        }
        let out = run(json!({"url": format!("{base}/badjson")}), json!({})).await;
        assert_eq!(out.result["body"], json!("{oops"));
        assert_eq!(out.result["parsed"], json!(false));
    }

    #[tokio::test]
    async fn client_timeout_gives_timeout_status() {
        let (base, _) = server().await;
        let started = std::time::Instant::now();
        let out = run(
            json!({"url": format!("{base}/slow")}),
            json!({"timeout": 0.5}),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(out.status, ExecStatus::Timeout);
        let keys: Vec<&String> = out.result.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["error"]);
        assert!(
            out.result["error"]
                .as_str()
                .unwrap()
                .contains("Read timed out. (read timeout=0.5)"),
            "{}",
            out.result
        );
    }

    #[tokio::test]
    async fn black_and_white_lists() {
        let (base, hits) = server().await;
        let url = format!("{base}/echo");
        let out = run(
            json!({"url": url, "url_hosts_blacklist": ["127.0.0.1"]}),
            json!({}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result["error"],
            json!(format!("URL \"{url}\" is blacklisted"))
        );
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "a blacklisted host must not be contacted"
        );
        let out = run(
            json!({"url": url, "url_hosts_whitelist": ["example.com"]}),
            json!({}),
        )
        .await;
        assert_eq!(
            out.result["error"],
            json!(format!("URL \"{url}\" is not whitelisted"))
        );
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        let out = run(
            json!({"url": url, "url_hosts_whitelist": ["127.0.0.1"]}),
            json!({}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Succeeded);
        let out = run(
            json!({"url": url, "url_hosts_blacklist": ["example.com"]}),
            json!({}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Succeeded);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        let out = run(
            json!({"url": url, "url_hosts_blacklist": ["a"], "url_hosts_whitelist": ["b"]}),
            json!({}),
        )
        .await;
        assert_eq!(
            out.result["error"],
            json!("\"url_hosts_blacklist\" and \"url_hosts_whitelist\" parameters are mutually exclusive. Only one should be provided.")
        );
    }

    #[tokio::test]
    async fn file_upload_is_multipart() {
        let (base, _) = server().await;
        let out = run(
            json!({"url": format!("{base}/echo")}),
            json!({"file_name": "f.txt", "file_content": "DATA"}),
        )
        .await;
        let body = out.result["body"]["body"].as_str().unwrap().to_string();
        assert_eq!(out.result["body"]["method"], json!("POST"));
        assert!(out.result["body"]["content_type"]
            .as_str()
            .unwrap()
            .starts_with("multipart/form-data; boundary="));
        assert!(
            body.contains("name=\"f.txt\"; filename=\"f.txt\"\r\n\r\nDATA\r\n"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn connection_errors_fail_with_error() {
        // Bind then drop to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = run(
            json!({"url": format!("http://127.0.0.1:{port}/")}),
            json!({}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert!(
            out.result["error"].as_str().unwrap().contains("error"),
            "{}",
            out.result
        );
        assert!(out.result.get("traceback").is_some());
    }
}

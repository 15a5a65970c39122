//! The environment the engine gives process runners (actions.md §4 intro: `ST2_ACTION_*`) and the
//! temporary auth token behind `ST2_ACTION_AUTH_TOKEN`.

use gale_model::{Action, Timestamp, Token};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// This machine's host name (for `runner_info` and the default node id).
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..end]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "localhost".to_string()
}

/// Runners that start processes get a temporary API token; in-process runners do not need one
/// (and skipping it saves two store writes per execution).
pub(crate) fn wants_auth_token(runner_name: &str) -> bool {
    ["local-", "remote-", "python-", "winrm-"]
        .iter()
        .any(|p| runner_name.starts_with(p))
}

/// `ST2_ACTION_*` variables for one run. `debug` comes from the `debug` runner parameter.
pub(crate) fn action_env(
    action: &Action,
    execution_id: &str,
    api_url: &str,
    runner_params: &Map<String, Value>,
    auth_token: Option<&str>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("ST2_ACTION_PACK_NAME".into(), action.pack.clone());
    env.insert("ST2_ACTION_EXECUTION_ID".into(), execution_id.to_string());
    env.insert("ST2_ACTION_API_URL".into(), api_url.to_string());
    let debug = runner_params
        .get("debug")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    env.insert(
        "ST2_ACTION_DEBUG".into(),
        if debug { "True" } else { "False" }.into(),
    );
    if let Some(t) = auth_token {
        env.insert("ST2_ACTION_AUTH_TOKEN".into(), t.to_string());
    }
    env
}

/// A fresh token string and its stored record (only the SHA-256 hash is stored).
pub(crate) fn temporary_token(
    user: &str,
    execution_id: &str,
    expiry: Timestamp,
) -> (String, Token) {
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    let token = Token {
        id: gale_model::new_id(),
        user: user.to_string(),
        token_hash: hash,
        expiry,
        metadata: serde_json::json!({"execution_id": execution_id, "service": "actionrunner"}),
        service: true,
    };
    (secret, token)
}

/// `<webui base>/#/history/<id>/general`, the web UI base being the API URL's origin.
pub(crate) fn web_url(api_url: &str, execution_id: &str) -> String {
    let origin = match api_url.find("://") {
        Some(i) => {
            let rest = &api_url[i + 3..];
            let end = rest.find('/').map(|j| i + 3 + j).unwrap_or(api_url.len());
            &api_url[..end]
        }
        None => api_url.trim_end_matches('/'),
    };
    format!("{origin}/#/history/{execution_id}/general")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn web_url_uses_api_origin() {
        assert_eq!(
            web_url("http://127.0.0.1:9101/api/v1", "abc"),
            "http://127.0.0.1:9101/#/history/abc/general"
        );
        assert_eq!(
            web_url("https://gale.example", "x"),
            "https://gale.example/#/history/x/general"
        );
    }

    #[test]
    fn env_has_st2_action_vars() {
        let action: Action = serde_json::from_value(json!({
            "name": "echo", "pack": "demo", "ref": "demo.echo", "uid": "action:demo:echo", "runner_type": "local-shell-cmd"
        }))
        .unwrap();
        let mut rp = Map::new();
        rp.insert("debug".into(), json!(true));
        let env = action_env(&action, "e1", "http://h/api/v1", &rp, Some("tok"));
        assert_eq!(env["ST2_ACTION_PACK_NAME"], "demo");
        assert_eq!(env["ST2_ACTION_EXECUTION_ID"], "e1");
        assert_eq!(env["ST2_ACTION_API_URL"], "http://h/api/v1");
        assert_eq!(env["ST2_ACTION_DEBUG"], "True");
        assert_eq!(env["ST2_ACTION_AUTH_TOKEN"], "tok");
        let env = action_env(&action, "e1", "u", &Map::new(), None);
        assert_eq!(env["ST2_ACTION_DEBUG"], "False");
        assert!(!env.contains_key("ST2_ACTION_AUTH_TOKEN"));
    }

    #[test]
    fn token_stores_only_the_hash() {
        let (secret, tok) = temporary_token("stanley", "e1", gale_model::now());
        assert_eq!(secret.len(), 32);
        assert_ne!(tok.token_hash, secret);
        assert_eq!(
            tok.token_hash,
            hex::encode(Sha256::digest(secret.as_bytes()))
        );
        assert!(wants_auth_token("local-shell-cmd"));
        assert!(!wants_auth_token("noop"));
    }
}

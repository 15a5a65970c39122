//! StackStorm UIDs that hash something (events.md §1).

use md5::{Digest, Md5};
use serde_json::{Map, Value};

pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `trigger:<pack>:<name>:<md5 of json.dumps(parameters, sort_keys=True)>`.
pub fn trigger_uid(pack: &str, name: &str, parameters: &Map<String, Value>) -> String {
    let opts = gale_expr::functions::JsonOpts {
        sort_keys: true,
        ensure_ascii: true,
        ..Default::default()
    };
    let text = gale_expr::functions::py_json_dumps(&Value::Object(parameters.clone()), &opts);
    format!("trigger:{pack}:{name}:{}", md5_hex(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uids_match_stackstorm() {
        let m = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            trigger_uid("core", "st2.generic.actiontrigger", &Map::new()),
            "trigger:core:st2.generic.actiontrigger:99914b932bd37a50b983c5e7c90ae93b"
        );
        assert!(trigger_uid("core", "x", &m(json!({"url": "sample"})))
            .ends_with(":e28a4c1e331b040397255d188bf7ad86"));
        // Key order does not matter (sort_keys).
        assert!(
            trigger_uid("core", "x", &m(json!({"unit": "seconds", "delta": 30})))
                .ends_with(":c7cf86e43a8afaa09bf8b322bb91eaf9")
        );
    }
}

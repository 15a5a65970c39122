//! The datastore through the real binary: `gale key set|get|list|delete|load`, secrets
//! encrypted with StackStorm's key format, TTL expiry, and bad input.

use crate::harness::*;
use serde_json::{json, Value};

/// The StackStorm test key and one ciphertext made with it (events.md §7.6 vectors).
const VECTOR_KEY: &str = r#"{"hmacKey": {"hmacKeyString": "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM", "size": 256}, "aesKeyString": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "mode": "CBC", "size": 256}"#;
const VECTOR_CT: &str = "3030303030A0A1A2A3A4A5A6A7A8A9AAABACADAEAFDEA1A22A243F90E0D4237D019A62AC4200D9B085FA05FCC9E6917CC031D42B5F496615B9";

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|k| k["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn keys_set_get_list_delete_with_scopes_and_prefixes() {
    let s = Server::start();
    let v = s.gale_json(&["key", "set", "app.db.host", "db1"]);
    assert_eq!(v["value"], "db1", "{v}");
    assert_eq!(v["scope"], "st2kv.system");
    s.gale_json(&["key", "set", "app.db.port", "5432"]);
    s.gale_json(&["key", "set", "other", "x"]);
    let u = s.gale_json(&["key", "set", "mine", "u1", "--scope", "user"]);
    assert_eq!(
        (u["scope"].clone(), u["user"].clone()),
        (json!("st2kv.user"), json!("st2admin"))
    );

    let got = s.gale_json(&["key", "get", "app.db.host"]);
    assert_eq!(got["value"], "db1");
    assert_eq!(
        names(&s.gale_json(&["key", "list"])),
        ["app.db.host", "app.db.port", "other"]
    );
    assert_eq!(
        names(&s.gale_json(&["key", "list", "--prefix", "app.db"])),
        ["app.db.host", "app.db.port"]
    );
    assert_eq!(
        names(&s.gale_json(&["key", "list", "--scope", "user"])),
        ["mine"]
    );
    assert_eq!(
        names(&s.gale_json(&["key", "list", "--scope", "all"])).len(),
        4
    );
    // human output
    let o = s.gale(&["key", "list"]);
    assert!(stdout(&o).contains("| app.db.host"), "{}", stdout(&o));

    // upsert keeps the id
    let again = s.gale_json(&["key", "set", "app.db.host", "db2"]);
    assert_eq!(again["id"], got["id"]);
    assert_eq!(s.gale_json(&["key", "get", "app.db.host"])["value"], "db2");

    let o = s.gale(&["key", "delete", "app.db.host"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("successfully deleted"),
        "{}",
        stdout(&o)
    );
    let o = s.gale(&["key", "get", "app.db.host"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Key Value Pair \"app.db.host\" is not found."),
        "{}",
        stderr(&o)
    );
    let o = s.gale(&["key", "delete", "app.db.host"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // user-scope key deleted in its scope only
    let o = s.gale(&["key", "delete", "mine", "--scope", "user"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s
        .gale_json(&["key", "list", "--scope", "user"])
        .as_array()
        .unwrap()
        .is_empty());

    // load: a name → value map
    let file = s.dir.path().join("kv.yaml");
    write(&file, "loaded.a: one\nloaded.b: two\n");
    let o = s.gale(&["key", "load", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&s.gale_json(&["key", "list", "-p", "loaded."])),
        ["loaded.a", "loaded.b"]
    );
    let o = s.gale(&["key", "delete_by_prefix", "-p", "loaded."]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Deleted 2 keys"), "{}", stdout(&o));
    assert!(s
        .gale_json(&["key", "list", "-p", "loaded."])
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        names(&s.gale_json(&["key", "list"])),
        ["app.db.port", "other"]
    );
}

#[test]
fn secrets_are_encrypted_with_the_stackstorm_format() {
    let s = Server::start();
    let v = s.gale_json(&["key", "set", "db.password", "hunter2", "--encrypt"]);
    let ct = v["value"].as_str().expect("value").to_string();
    assert!(ct.starts_with("3030303030") && ct != "hunter2", "{v}");
    assert_eq!(
        (v["secret"].clone(), v["encrypted"].clone()),
        (json!(true), json!(true))
    );
    let masked = s.gale_json(&["key", "get", "db.password"]);
    assert_eq!(masked["value"], json!(ct));
    let plain = s.gale_json(&["key", "get", "db.password", "--decrypt"]);
    assert_eq!(plain["value"], "hunter2");
    assert_eq!(plain["encrypted"], false);
    let listed = s.gale_json(&["key", "list", "--decrypt"]);
    assert_eq!(listed[0]["value"], "hunter2");
    // the key file was generated on first start, in StackStorm's format
    let key_path = s.data_dir().join("keys/datastore_key.json");
    let key: Value = serde_json::from_str(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(key["mode"], "CBC");

    // A value StackStorm encrypted (with the test key) decrypts in Gale: install that key
    // (read on every use) and load the ciphertext pre-encrypted.
    std::fs::write(&key_path, VECTOR_KEY).unwrap();
    let file = s.dir.path().join("st2.json");
    write(
        &file,
        &json!([{"name": "from.st2", "value": VECTOR_CT, "encrypted": true}]).to_string(),
    );
    let o = s.gale(&["key", "load", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = s.gale_json(&["key", "get", "from.st2", "-d"]);
    assert_eq!(v["value"], "s3cr3t-p@ss", "{v}");
    // ... and a pre-encrypted value that does not verify is refused, naming the key
    write(
        &file,
        &json!([{"name": "forged", "value": format!("{}00", &VECTOR_CT[..VECTOR_CT.len() - 2]), "encrypted": true}]).to_string(),
    );
    let o = s.gale(&["key", "load", file.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o)
            .contains("Failed to verify the integrity of the provided value for key \"forged\""),
        "{}",
        stderr(&o)
    );
    // the earlier secret was encrypted with the old key: decrypting it now is a server error,
    // not garbage
    let o = s.gale(&["key", "get", "db.password", "-d"]);
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn ttl_expires_keys() {
    let s = Server::start();
    let v = s.gale_json(&["key", "set", "short", "v", "--ttl", "1"]);
    assert!(
        v["expire_timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{v}"
    );
    s.gale_json(&["key", "set", "long", "v", "-l", "3600"]);
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let o = s.gale(&["key", "get", "short"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(names(&s.gale_json(&["key", "list"])), ["long"]);
    // setting again without --ttl removes the expiry
    let v = s.gale_json(&["key", "set", "long", "v"]);
    assert!(v.get("expire_timestamp").is_none(), "{v}");
}

#[test]
fn key_bad_input_names_the_field() {
    let s = Server::start();
    let o = s.gale(&["key", "set", "k", "v", "--ttl", "0"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("\"ttl\""), "{}", stderr(&o));
    let o = s.gale(&["key", "set", "k", "v", "--scope", "bogus"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("st2kv.bogus"), "{}", stderr(&o));
    let o = s.gale(&["key", "list", "--scope", "bogus"]);
    assert!(
        stderr(&o).contains("Invalid scope: st2kv.bogus"),
        "{}",
        stderr(&o)
    );
    // naming another user is refused without RBAC, as in StackStorm
    let o = s.gale(&["key", "get", "k", "--user", "someone"]);
    assert!(
        stderr(&o).contains("\"user\" attribute can only be provided by admins"),
        "{}",
        stderr(&o)
    );
    // raw API: a numeric value and a missing value are 400s naming the field
    let token_dir = s.dir.path().join("config/gale");
    let user = std::fs::read_to_string(token_dir.join("current-user")).unwrap();
    let tok: Value = serde_json::from_str(
        &std::fs::read_to_string(token_dir.join(format!("token-{}", user.trim()))).unwrap(),
    )
    .unwrap();
    let token = tok["token"].as_str().unwrap();
    for (body, needle) in [
        (r#"{"name": "k", "value": 42}"#, "\"value\""),
        (r#"{"name": "k"}"#, "'value' is a required property"),
        (r#"{"name": "k", "value": "v", "ttl": "10"}"#, "\"ttl\""),
        ("not json", "Failed to parse request body"),
    ] {
        let o = std::process::Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/json",
            ])
            .args(["-H", &format!("X-Auth-Token: {token}"), "-d", body])
            .arg(format!("{}/api/v1/keys/k", s.url))
            .output()
            .expect("curl");
        let out = stdout(&o);
        let (json_body, code) = out.trim().rsplit_once('\n').expect("status line");
        assert_eq!(code, "400", "{body}: {out}");
        let fault: Value = serde_json::from_str(json_body).expect("json");
        assert!(
            fault["faultstring"].as_str().unwrap().contains(needle),
            "{body}: {fault}"
        );
    }
    // the secret path without a usable key: 400 with StackStorm's message
    std::fs::remove_file(s.data_dir().join("keys/datastore_key.json")).unwrap();
    let o = s.gale(&["key", "set", "k", "v", "-e"]);
    assert!(
        stderr(&o).contains("Crypto key not found in"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn keys_survive_a_restart() {
    let mut s = Server::start();
    s.gale_json(&["key", "set", "kept", "v1"]);
    s.gale_json(&["key", "set", "kept.secret", "pw", "-e"]);
    s.restart(); // kill -9, then start on the same data dir (and the same key file)
    assert_eq!(s.gale_json(&["key", "get", "kept"])["value"], "v1");
    assert_eq!(
        s.gale_json(&["key", "get", "kept.secret", "-d"])["value"],
        "pw"
    );
}

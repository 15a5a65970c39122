//! End-to-end flows through the real `gale` binary: a real server process on loopback, the real
//! CLI, real shell commands.

mod events;
mod harness;
mod keys;
mod siteengine;
mod timers;
mod tls;
mod workflow;

use harness::*;
use serde_json::Value;

#[test]
fn run_echo_waits_and_prints_the_result() {
    let s = Server::start();
    let ex = s.gale_json(&["run", "core.local", "cmd=echo hi"]);
    assert_eq!(ex["status"], "succeeded", "{ex}");
    assert_eq!(ex["result"]["stdout"], "hi");
    assert_eq!(ex["result"]["return_code"], 0);
    assert_eq!(ex["action"]["ref"], "core.local");
    // Human output too.
    let o = s.gale(&["run", "core.local", "cmd=echo hello"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("status: succeeded"), "{out}");
    assert!(out.contains("stdout: hello"), "{out}");
    // A bare command line becomes `cmd`, as with st2.
    let ex = s.gale_json(&["run", "core.local", "--", "echo", "a", "b"]);
    assert_eq!(ex["result"]["stdout"], "a b", "{ex}");
}

#[test]
fn failing_command_exits_non_zero_with_return_code() {
    let s = Server::start();
    let o = s.gale(&["run", "core.local", "cmd=echo oops >&2; exit 3", "-j"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let ex: Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    assert_eq!(ex["status"], "failed");
    assert_eq!(ex["result"]["return_code"], 3);
    assert_eq!(ex["result"]["stderr"], "oops");
}

#[test]
fn timeout_ends_in_timeout_status() {
    let s = Server::start();
    let o = s.gale(&["run", "core.local", "cmd=sleep 20", "timeout=1", "-j"]);
    // As st2: only `failed` exits 1.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ex: Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    assert_eq!(ex["status"], "timeout", "{ex}");
    assert_eq!(
        ex["result"]["error"],
        "Action failed to complete in 1 seconds"
    );
}

#[test]
fn async_run_then_cancel() {
    let s = Server::start();
    let o = s.gale(&["run", "core.local", "cmd=sleep 30", "--async"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = async_id(&o);
    s.wait_status(&id, |st| st == "running");
    let o = s.gale(&["execution", "cancel", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("canceled"), "{}", stdout(&o));
    let ex = s.wait_status(&id, |st| st == "canceled");
    assert_eq!(ex["status"], "canceled");
    // It is listed.
    let list = s.gale_json(&["execution", "list", "-n", "5"]);
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .any(|e| e["id"] == id.as_str()),
        "{list}"
    );
}

#[test]
fn restart_keeps_history_and_abandons_in_flight_work() {
    let mut s = Server::start();
    let done = s.gale_json(&["run", "core.local", "cmd=echo before"]);
    let done_id = done["id"].as_str().expect("id").to_string();
    let o = s.gale(&["run", "core.local", "cmd=sleep 60", "--async"]);
    let inflight = async_id(&o);
    s.wait_status(&inflight, |st| st == "running");
    s.restart(); // kill -9, then start again on the same data dir
    let ex = s.wait_status(&inflight, |st| st != "running");
    assert_eq!(ex["status"], "abandoned", "{ex}");
    let old = s.gale_json(&["execution", "get", &done_id]);
    assert_eq!(old["status"], "succeeded");
    assert_eq!(old["result"]["stdout"], "before");
    // The server still runs work after the restart.
    let ex = s.gale_json(&["run", "core.noop"]);
    assert_eq!(ex["status"], "succeeded", "{ex}");
}

#[test]
fn bad_inputs_get_clear_errors() {
    let s = Server::start();
    let o = s.gale(&["run", "nope.missing"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("nope.missing"), "{}", stderr(&o));

    let o = s.gale(&["run", "core.local", "cmd=true", "bogus=1"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("bogus"), "{}", stderr(&o));

    let o = s.gale(&["run", "core.local"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("'cmd' is a required property"),
        "{}",
        stderr(&o)
    );

    let o = s.gale(&["run", "core.local", "cmd=true", "timeout=soon"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("timeout"), "{}", stderr(&o));

    // The server kept serving.
    let ex = s.gale_json(&["run", "core.noop"]);
    assert_eq!(ex["status"], "succeeded");
}

#[test]
fn auth_refusals() {
    let s = Server::start();
    // Wrong password.
    let o = s.gale_stdin(&["login", "st2admin", "--password-stdin"], "wrong");
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Invalid or missing credentials"),
        "{}",
        stderr(&o)
    );
    // No token at all: a fresh config dir and no env credentials.
    let o = std::process::Command::new(gale_bin())
        .args(["--url", &s.url, "action", "list"])
        .env("XDG_CONFIG_HOME", s.dir.path().join("empty-config"))
        .env_remove("ST2_AUTH_TOKEN")
        .env_remove("ST2_API_KEY")
        .output()
        .expect("run");
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("Unauthorized"), "{}", stderr(&o));
    // A bogus token.
    let o = s
        .cmd(&["action", "list"])
        .env("ST2_AUTH_TOKEN", "0123456789abcdef0123456789abcdef")
        .output()
        .expect("run");
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("Unauthorized"), "{}", stderr(&o));
    // An API key works through ST2_API_KEY.
    let o = s.gale(&["apikey", "create", "-k"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = stdout(&o).trim().to_string();
    let o = std::process::Command::new(gale_bin())
        .args(["--url", &s.url, "action", "get", "core.noop", "-j"])
        .env("XDG_CONFIG_HOME", s.dir.path().join("empty-config"))
        .env("ST2_API_KEY", &key)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn pack_register_reports_bad_files_and_runs_scripts() {
    let s = Server::start();
    let pack = s.dir.path().join("packs/e2e_pack");
    write(
        &pack.join("pack.yaml"),
        "ref: e2e_pack\nname: e2e_pack\ndescription: test pack\nversion: 0.1.0\nauthor: gale\n",
    );
    write(
        &pack.join("actions/greet.yaml"),
        "name: greet\nrunner_type: local-shell-script\nentry_point: greet.sh\nenabled: yes\nparameters:\n  who:\n    type: string\n    position: 0\n    required: true\n  loud:\n    type: boolean\n    default: off\n",
    );
    write(
        &pack.join("actions/greet.sh"),
        "#!/bin/sh\necho \"hello $*\"\n",
    );
    let pack_dir = pack.to_str().expect("utf8").to_string();
    let o = s.gale(&["pack", "register", &pack_dir]);
    assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
    let ex = s.gale_json(&["run", "e2e_pack.greet", "who=world", "loud=true"]);
    assert_eq!(ex["status"], "succeeded", "{ex}");
    assert_eq!(ex["result"]["stdout"], "hello --loud world");
    // A malformed file is named in the error, and the rest stays registered.
    write(
        &pack.join("actions/broken.yaml"),
        "name: broken\nrunner_type: [unclosed\n",
    );
    write(
        &pack.join("actions/wrong_runner.yaml"),
        "name: wrong_runner\nrunner_type: no-such-runner\n",
    );
    write(
        &pack.join("actions/wave.yaml"),
        "name: wave\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: echo wave\n",
    );
    // StackStorm's mode: the first bad file aborts and nothing new is registered.
    let o = s.gale(&["pack", "register", "--fail-on-failure", &pack_dir]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("broken.yaml"), "{}", stderr(&o));
    let o = s.gale(&["action", "get", "e2e_pack.wave"]);
    assert_ne!(o.status.code(), Some(0), "wave must not be registered yet");
    // The default: every bad file is reported, the rest registered.
    let o = s.gale(&["pack", "register", &pack_dir]);
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("broken.yaml"), "{err}");
    assert!(
        err.contains("wrong_runner.yaml") && err.contains("no-such-runner"),
        "{err}"
    );
    let ex = s.gale_json(&["run", "e2e_pack.wave"]);
    assert_eq!(ex["result"]["stdout"], "wave", "{ex}");
    let a = s.gale_json(&["action", "get", "e2e_pack.greet"]);
    assert_eq!(a["ref"], "e2e_pack.greet");
    let list = s.gale_json(&["action", "list", "--pack", "core"]);
    let refs: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["ref"].as_str())
        .collect();
    for r in ["core.local", "core.noop", "core.http", "core.echo"] {
        assert!(refs.contains(&r), "{r} missing from {refs:?}");
    }
}

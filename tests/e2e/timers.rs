//! Timers through the real binary on a test clock (`GALE_TEST_CLOCK_FILE`, test only): an
//! IntervalTimer rule runs `core.local` once per interval as the test moves the clock, and
//! stops when the rule is disabled or deleted; a CronTimer with a timezone fires at that
//! zone's local time; a DateTimer fires once; a bad cron field is refused at rule creation;
//! `gale timer list|get` and their error paths.

use crate::harness::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const T0: &str = "2030-01-01T00:00:00Z";

/// A `gale server` whose timers read the time from `clock` (the harness's server cannot take
/// extra environment, so this starts its own).
struct ClockServer {
    dir: tempfile::TempDir,
    url: String,
    child: Option<Child>,
}

impl ClockServer {
    fn start() -> ClockServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let bind = format!("127.0.0.1:{port}");
        let s = ClockServer {
            url: format!("http://{bind}"),
            child: None,
            dir,
        };
        s.set_clock(T0);
        let log = std::fs::File::create(s.dir.path().join("server.log")).expect("log");
        let child = Command::new(gale_bin())
            .args(["server", "--data-dir"])
            .arg(s.dir.path().join("data"))
            .args(["--bind", &bind])
            .env("GALE_TEST_CLOCK_FILE", s.clock_path())
            .env("GALE_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn gale server");
        let mut s = s;
        s.child = Some(child);
        wait_until("healthz", 30, || {
            Command::new("curl")
                .args(["-sf", &format!("{}/healthz", s.url)])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let mut login = s
            .cmd(&["login", "st2admin", "--password-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("login");
        use std::io::Write;
        login
            .stdin
            .take()
            .expect("stdin")
            .write_all(PASSWORD.as_bytes())
            .expect("password");
        assert!(login.wait().expect("login").success());
        s
    }

    fn clock_path(&self) -> PathBuf {
        self.dir.path().join("clock")
    }

    /// Write the instant atomically (rename) so the server never reads half a line.
    fn set_clock(&self, at: &str) {
        let tmp = self.dir.path().join("clock.tmp");
        std::fs::write(&tmp, at).expect("clock");
        std::fs::rename(&tmp, self.clock_path()).expect("clock");
    }

    fn advance_to(&self, secs_after_t0: i64) {
        let t0: chrono::DateTime<chrono::Utc> = T0.parse().expect("t0");
        let at = t0 + chrono::Duration::seconds(secs_after_t0);
        self.set_clock(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(gale_bin());
        c.args(["--url", &self.url])
            .args(args)
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env_remove("ST2_AUTH_TOKEN")
            .env_remove("ST2_API_KEY");
        c
    }

    fn gale(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run gale")
    }

    fn gale_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("-j");
        let o = self.gale(&all);
        serde_json::from_str(stdout(&o).trim())
            .unwrap_or_else(|e| panic!("gale {args:?}: {e}: {} {}", stdout(&o), stderr(&o)))
    }

    fn create_rule(&self, name: &str, yaml: &str) -> Value {
        let path = self.dir.path().join(format!("{name}.yaml"));
        write(&path, yaml);
        let o = self.gale(&["rule", "create", path.to_str().expect("path"), "-j"]);
        assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
        serde_json::from_str(stdout(&o).trim()).expect("rule json")
    }

    /// The timer engine logged that it scheduled `n` timers (it re-reads the stored triggers
    /// asynchronously after a rule is created; the clock must not move before that).
    fn wait_scheduled(&self, n: usize) {
        wait_until("timers scheduled", 30, || {
            self.log().matches("timer scheduled").count() >= n
        });
    }

    /// The `core.local` executions with `stdout` == `out`, succeeded.
    fn runs(&self, out: &str) -> usize {
        let list = self.gale_json(&["execution", "list", "--action", "core.local", "-n", "100"]);
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["status"] == "succeeded" && e["result"]["stdout"] == out)
                    .count()
            })
            .unwrap_or(0)
    }

    fn wait_runs(&self, out: &str, n: usize) {
        wait_until(&format!("{n} runs printing {out}"), 30, || {
            self.runs(out) >= n
        });
        assert_eq!(self.runs(out), n, "runs printing {out}");
    }

    /// Nothing more happens for a while (the timer engine polls the clock every 100 ms).
    fn assert_stays(&self, out: &str, n: usize) {
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            self.runs(out),
            n,
            "runs printing {out}; log:\n{}",
            self.log()
        );
    }
}

impl Drop for ClockServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn interval_timer_runs_per_interval_until_disabled_or_deleted() {
    let s = ClockServer::start();
    let rule = s.create_rule(
        "tick",
        "name: tick\npack: e2e\nenabled: true\n\
         trigger:\n  type: core.st2.IntervalTimer\n  parameters: {unit: seconds, delta: 10}\n\
         action:\n  ref: core.local\n  parameters: {cmd: echo tick}\n",
    );
    let trigger = rule["trigger"]["ref"]
        .as_str()
        .expect("trigger ref")
        .to_string();
    s.wait_scheduled(1);
    // The timer is listed, by list and by ref.
    let timers = s.gale_json(&["timer", "list", "-t", "core.st2.IntervalTimer"]);
    let mine: Vec<&Value> = timers
        .as_array()
        .expect("timers")
        .iter()
        .filter(|t| t["ref"] == trigger.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{timers}");
    assert_eq!(mine[0]["parameters"]["delta"], 10);
    let one = s.gale_json(&["timer", "get", &trigger]);
    assert_eq!(one["type"], "core.st2.IntervalTimer", "{one}");

    s.assert_stays("tick", 0);
    for n in 1..=3 {
        s.advance_to(10 * n);
        s.wait_runs("tick", n as usize);
    }
    // The fire's trigger instance carries StackStorm's timer payload.
    let tis = s.gale_json(&["trigger-instance", "list", "--trigger", &trigger]);
    let fired: Vec<&str> = tis
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(|t| t["payload"]["executed_at"].as_str())
        .collect();
    assert!(fired.contains(&"2030-01-01 00:00:20+00:00"), "{tis}");

    // Disabled: the trigger stays (StackStorm keeps firing it) but nothing runs.
    let o = s.gale(&["rule", "disable", "e2e.tick"]);
    assert!(o.status.success(), "{}", stderr(&o));
    s.advance_to(40);
    s.assert_stays("tick", 3);
    // Enabled again: it runs on the next interval.
    let o = s.gale(&["rule", "enable", "e2e.tick"]);
    assert!(o.status.success(), "{}", stderr(&o));
    s.advance_to(50);
    s.wait_runs("tick", 4);
    // Deleted: the trigger and its timer are gone.
    let o = s.gale(&["rule", "delete", "e2e.tick"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let timers = s.gale_json(&["timer", "list"]);
    assert!(
        timers
            .as_array()
            .expect("timers")
            .iter()
            .all(|t| t["ref"] != trigger.as_str()),
        "{timers}"
    );
    let o = s.gale(&["timer", "get", &trigger]);
    assert_ne!(o.status.code(), Some(0));
    s.advance_to(60);
    s.assert_stays("tick", 4);
}

#[test]
fn cron_timer_fires_at_the_zone_local_time_and_date_timer_once() {
    let s = ClockServer::start();
    // 09:30 in Kolkata (UTC+05:30) is 04:00 UTC.
    s.create_rule(
        "cron",
        "name: cron\npack: e2e\nenabled: true\n\
         trigger:\n  type: core.st2.CronTimer\n  parameters: {hour: 9, minute: 30, timezone: Asia/Kolkata}\n\
         action:\n  ref: core.local\n  parameters: {cmd: echo cron}\n",
    );
    s.create_rule(
        "once",
        "name: once\npack: e2e\nenabled: true\n\
         trigger:\n  type: core.st2.DateTimer\n  parameters: {date: '2030-01-01 00:00:15', timezone: UTC}\n\
         action:\n  ref: core.local\n  parameters: {cmd: echo once}\n",
    );
    s.wait_scheduled(2);
    s.advance_to(14);
    s.assert_stays("once", 0);
    s.advance_to(15);
    s.wait_runs("once", 1);
    // 03:59:59 UTC: not yet 09:30 in Kolkata.
    s.advance_to(4 * 3600 - 1);
    s.assert_stays("cron", 0);
    s.advance_to(4 * 3600);
    s.wait_runs("cron", 1);
    // A day later: once more; the date timer never again.
    s.advance_to(28 * 3600);
    s.wait_runs("cron", 2);
    s.assert_stays("once", 1);
}

#[test]
fn bad_timer_rules_are_refused_naming_the_field() {
    let s = ClockServer::start();
    for (params, field) in [
        ("{hour: 25}", "hour"),
        ("{minute: '*/x'}", "minute"),
        ("{hour: 1, timezone: Mars/Olympus}", "timezone"),
    ] {
        let path = s.dir.path().join("bad.yaml");
        write(
            &path,
            &format!(
                "name: bad\npack: e2e\ntrigger:\n  type: core.st2.CronTimer\n  parameters: {params}\n\
                 action:\n  ref: core.local\n  parameters: {{cmd: echo bad}}\n"
            ),
        );
        let o = s.gale(&["rule", "create", path.to_str().expect("path")]);
        assert_ne!(o.status.code(), Some(0), "{params}");
        let err = stderr(&o);
        assert!(
            err.contains("trigger.parameters") && err.contains(field),
            "{params}: {err}"
        );
    }
    let path = s.dir.path().join("bad.yaml");
    write(
        &path,
        "name: bad\npack: e2e\ntrigger:\n  type: core.st2.IntervalTimer\n  parameters: {unit: fortnights, delta: 1}\n\
         action:\n  ref: core.local\n  parameters: {cmd: echo bad}\n",
    );
    let o = s.gale(&["rule", "create", path.to_str().expect("path")]);
    assert!(
        stderr(&o).contains("trigger.parameters.unit: 'fortnights' is not one of"),
        "{}",
        stderr(&o)
    );
    let rules = s.gale_json(&["rule", "list"]);
    assert!(
        rules
            .as_array()
            .expect("rules")
            .iter()
            .all(|r| r["pack"] != "e2e"),
        "{rules}"
    );
}

#[test]
fn timer_list_and_errors() {
    let s = Server::start();
    let list = s.gale_json(&["timer", "list"]);
    assert!(list.as_array().is_some(), "{list}");
    let list = s.gale_json(&["timer", "list", "-t", "core.st2.CronTimer"]);
    assert!(list.as_array().is_some(), "{list}");
    let o = s.gale(&["timer", "list", "-t", "core.st2.webhook"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Timer type core.st2.webhook not in supported types"),
        "{}",
        stderr(&o)
    );
    let o = s.gale(&["timer", "get", "core.nope"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Timer with ref or id \"core.nope\" not found."),
        "{}",
        stderr(&o)
    );
}

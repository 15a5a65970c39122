//! A real `gale server` on a loopback port with its own data dir, and the real `gale` CLI
//! pointed at it with its own config dir.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "e2e-Secret-pw";

pub fn gale_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gale"))
}

pub struct Server {
    pub dir: tempfile::TempDir,
    pub url: String,
    bind: String,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let bind = format!("127.0.0.1:{}", free_port());
        let mut s = Server {
            url: format!("http://{bind}"),
            bind,
            dir,
            child: None,
        };
        s.spawn();
        s.login();
        s
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        let child = Command::new(gale_bin())
            .args(["server", "--data-dir"])
            .arg(self.data_dir())
            .args(["--bind", &self.bind])
            .env("GALE_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn gale server");
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(o) = Command::new("curl")
                .args(["-sf", &format!("{}/healthz", self.url)])
                .output()
            {
                if o.status.success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become healthy; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// SIGKILL the server (no graceful shutdown), as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn login(&self) {
        let o = self.gale_stdin(&["login", "st2admin", "--password-stdin"], PASSWORD);
        assert!(
            o.status.success(),
            "login failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Run the CLI against this server as the logged-in admin.
    pub fn gale(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run gale")
    }

    pub fn gale_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gale");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait gale")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(gale_bin());
        c.args(["--url", &self.url])
            .args(args)
            .env("XDG_CONFIG_HOME", self.config_home())
            .env_remove("ST2_AUTH_TOKEN")
            .env_remove("ST2_API_KEY");
        c
    }

    /// `gale <args> -j` parsed as JSON; panics with the CLI's output otherwise.
    pub fn gale_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all: Vec<&str> = args.to_vec();
        all.push("-j");
        let o = self.gale(&all);
        let out = String::from_utf8_lossy(&o.stdout);
        serde_json::from_str(out.trim()).unwrap_or_else(|e| {
            panic!(
                "gale {args:?}: not JSON ({e}): stdout={out} stderr={}",
                String::from_utf8_lossy(&o.stderr)
            )
        })
    }

    /// Poll an execution until `pred` holds for its status (bounded).
    pub fn wait_status(&self, id: &str, pred: impl Fn(&str) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ex = self.gale_json(&["execution", "get", id]);
            let st = ex["status"].as_str().unwrap_or_default().to_string();
            if pred(&st) {
                return ex;
            }
            assert!(Instant::now() < deadline, "execution {id} stuck in {st}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_term(&c);
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

fn unsafe_term(c: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The id printed by `gale run --async`.
pub fn async_id(o: &Output) -> String {
    stdout(o)
        .split_whitespace()
        .last()
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no id in: {}", stdout(o)))
}

pub fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

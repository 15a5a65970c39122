//! Spawning a shell command in its own session, streaming its output line by line, and ending
//! it on timeout or cancellation by signalling the whole process group.
//!
//! The command runs as `/bin/sh -c <command>` after `setsid()`, so its pid is also its process
//! group and session id; every process it starts (unless it calls `setsid` itself) is killed
//! with it. Output is read concurrently from both pipes; each line (with its newline) goes to
//! the [`OutputSink`] as soon as it is read and into a buffer for the final result.

use crate::{OutputSink, OutputStream};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long processes get between SIGTERM and SIGKILL, and how long we then wait for pipes.
const KILL_GRACE: Duration = Duration::from_millis(1000);
/// How long we keep reading after the command exited while something else holds its pipes.
const PIPE_GRACE: Duration = Duration::from_millis(1000);

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct ProcessSpec {
    /// Passed to `/bin/sh -c`.
    pub command: String,
    pub cwd: Option<PathBuf>,
    /// Added on top of the inherited environment (later sources already merged by the caller).
    pub env: BTreeMap<String, String>,
    /// Written to stdin, which is then closed; without it stdin is `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// `None` waits forever; zero times out immediately (as Python's `wait(timeout=0)`).
    pub timeout: Option<Duration>,
}

/// How the process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Exited on its own: exit code, or minus the signal number (Python's `returncode`).
    Exited(i32),
    /// The timeout expired and the group was killed.
    TimedOut,
    /// The cancellation token fired and the group was killed.
    Canceled,
}

#[derive(Clone, Debug)]
pub struct ProcessOutput {
    pub ending: Ending,
    /// The exit status observed after the kill, if the process was reaped (`None` when it
    /// had to be abandoned to the background reaper).
    pub observed_code: Option<i32>,
    pub pid: u32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("Unable to start command{}: {source}", cwd_note(.cwd))]
    Spawn {
        cwd: Option<PathBuf>,
        #[source]
        source: std::io::Error,
    },
}

fn cwd_note(cwd: &Option<PathBuf>) -> String {
    match cwd {
        Some(p) => format!(" in \"{}\"", p.display()),
        None => String::new(),
    }
}

/// Sends `signal` to every process in group `pgid`, and to every other process of session
/// `pgid` (our command is a session leader, so its session id equals its pid). The session sweep
/// is what StackStorm's `pkill -s <pid>` does; it catches children that moved to their own
/// process group (e.g. bash job control). Never signals group 0 or 1 (our own group, or every
/// process we may signal).
fn signal_group(pgid: i32, signal: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid targets a group.
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc != 0 {
        tracing::debug!(pgid, signal, error = %std::io::Error::last_os_error(), "signalling process group");
    }
    for pid in session_members(pgid) {
        // SAFETY: as above; `pid` is a positive pid read from /proc.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Pids (other than group members already signalled) whose session id is `sid`.
fn session_members(sid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid > 1)
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // Fields after "(comm)": state ppid pgrp session ...
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let pgrp = fields.get(2).and_then(|f| f.parse::<i32>().ok());
            let session = fields.get(3).and_then(|f| f.parse::<i32>().ok());
            session == Some(sid) && pgrp != Some(sid)
        })
        .collect()
}

/// Kills the group if the run is abandoned (its future dropped) while the process still runs.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, libc::SIGKILL);
        }
    }
}

async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    stream: OutputStream,
    sink: Arc<dyn OutputSink>,
    buffer: Arc<Mutex<Vec<u8>>>,
) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) => break,
            Ok(_) => {
                if let Ok(mut buf) = buffer.lock() {
                    buf.extend_from_slice(&line);
                }
                sink.emit(stream, String::from_utf8_lossy(&line).into_owned());
            }
            Err(e) => {
                tracing::warn!(stream = stream.as_str(), error = %e, "reading process output");
                break;
            }
        }
    }
}

fn take_text(buffer: &Arc<Mutex<Vec<u8>>>) -> String {
    match buffer.lock() {
        Ok(buf) => String::from_utf8_lossy(&buf).into_owned(),
        Err(_) => String::new(),
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => -sig,
        (None, None) => -1,
    }
}

/// Runs the command to completion, timeout or cancellation.
pub async fn run_process(
    spec: ProcessSpec,
    cancel: &CancellationToken,
    sink: Arc<dyn OutputSink>,
) -> Result<ProcessOutput, ProcessError> {
    if cancel.is_cancelled() {
        // Canceled before it started: nothing to spawn, nothing to kill.
        return Ok(ProcessOutput {
            ending: Ending::Canceled,
            observed_code: None,
            pid: 0,
            stdout: String::new(),
            stderr: String::new(),
        });
    }
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(&spec.command);
    cmd.envs(&spec.env);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    cmd.stdin(if spec.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped());
    cmd.stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }

    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
        cwd: spec.cwd.clone(),
        source,
    })?;
    let pid = child.id().unwrap_or(0);
    let pgid = i32::try_from(pid).unwrap_or(0);
    let mut guard = GroupGuard { pgid, armed: true };
    tracing::debug!(pid, command = %spec.command, "started process");

    let out_buf = Arc::new(Mutex::new(Vec::new()));
    let err_buf = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let stdin = child.stdin.take();
    let stdin_data = spec.stdin.clone();

    let out_reader = {
        let (sink, buf) = (sink.clone(), out_buf.clone());
        async move {
            if let Some(s) = stdout {
                read_lines(s, OutputStream::Stdout, sink, buf).await
            }
        }
    };
    let err_reader = {
        let (sink, buf) = (sink.clone(), err_buf.clone());
        async move {
            if let Some(s) = stderr {
                read_lines(s, OutputStream::Stderr, sink, buf).await
            }
        }
    };
    let feeder = async move {
        if let (Some(mut si), Some(data)) = (stdin, stdin_data) {
            // A process that does not read stdin closes it: a broken pipe is not an error.
            let _ = si.write_all(&data).await;
            let _ = si.shutdown().await;
        }
    };
    let work = async {
        let streams = async {
            tokio::join!(out_reader, err_reader, feeder);
        };
        tokio::pin!(streams);
        let mut streams_done = false;
        let status = tokio::select! {
            status = child.wait() => status,
            () = &mut streams => {
                streams_done = true;
                child.wait().await
            }
        };
        if !streams_done {
            // A process left running in the background (`daemon &`) may still hold the pipes.
            // StackStorm would wait for it forever; we collect what arrives shortly and leave
            // it running, as its author intended.
            if tokio::time::timeout(PIPE_GRACE, &mut streams)
                .await
                .is_err()
            {
                tracing::debug!(
                    pid,
                    "output pipes still open after exit; not waiting for background processes"
                );
            }
        }
        status
    };
    tokio::pin!(work);

    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let sleep_deadline = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending::<()>().await,
        }
    };

    let first = tokio::select! {
        biased;
        status = &mut work => Ok(status),
        _ = cancel.cancelled() => Err(Ending::Canceled),
        _ = sleep_deadline => Err(Ending::TimedOut),
    };

    let (ending, observed_code) = match first {
        Ok(status) => {
            guard.armed = false;
            let code = match status {
                Ok(s) => exit_code(s),
                Err(e) => {
                    tracing::warn!(pid, error = %e, "waiting for process");
                    -1
                }
            };
            (Ending::Exited(code), Some(code))
        }
        Err(ending) => {
            tracing::info!(pid, ?ending, "killing process group");
            signal_group(pgid, libc::SIGTERM);
            let mut observed = tokio::time::timeout(KILL_GRACE, &mut work).await.ok();
            // Whatever ignored SIGTERM (possibly outliving the leader) is killed outright.
            signal_group(pgid, libc::SIGKILL);
            if observed.is_none() {
                observed = tokio::time::timeout(KILL_GRACE, &mut work).await.ok();
            }
            let code = match observed {
                Some(Ok(s)) => {
                    guard.armed = false;
                    Some(exit_code(s))
                }
                _ => None,
            };
            (ending, code)
        }
    };

    Ok(ProcessOutput {
        ending,
        observed_code,
        pid,
        stdout: take_text(&out_buf),
        stderr: take_text(&err_buf),
    })
}

/// Whether a process with this pid still exists and is not a zombie (test and diagnostics aid).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    // A zombie still answers kill(0) until its parent reaps it; it no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat.rsplit_once(')') {
            Some((_, rest)) => !rest.trim_start().starts_with(['Z', 'X']),
            None => true,
        },
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutputStream;
    use std::sync::Mutex as StdMutex;

    #[derive(Default)]
    struct Collect(StdMutex<Vec<(OutputStream, String, Instant)>>);
    impl OutputSink for Collect {
        fn emit(&self, stream: OutputStream, data: String) {
            self.0.lock().unwrap().push((stream, data, Instant::now()));
        }
    }

    fn spec(cmd: &str) -> ProcessSpec {
        ProcessSpec {
            command: cmd.into(),
            timeout: Some(Duration::from_secs(20)),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn exit_codes_and_signals() {
        let t = CancellationToken::new();
        let out = run_process(spec("exit 3"), &t, Arc::new(crate::NullSink))
            .await
            .unwrap();
        assert_eq!(out.ending, Ending::Exited(3));
        let out = run_process(spec("kill -TERM $$"), &t, Arc::new(crate::NullSink))
            .await
            .unwrap();
        assert_eq!(out.ending, Ending::Exited(-15));
    }

    #[tokio::test]
    async fn streams_lines_in_order_while_running() {
        let sink = Arc::new(Collect::default());
        let t = CancellationToken::new();
        let started = Instant::now();
        let out = run_process(
            spec("echo one; echo err1 >&2; echo two; sleep 0.6; printf 'three'"),
            &t,
            sink.clone(),
        )
        .await
        .unwrap();
        let finished = Instant::now();
        assert_eq!(out.stdout, "one\ntwo\nthree");
        assert_eq!(out.stderr, "err1\n");
        let got = sink.0.lock().unwrap();
        let stdout: Vec<&str> = got
            .iter()
            .filter(|e| e.0 == OutputStream::Stdout)
            .map(|e| e.1.as_str())
            .collect();
        assert_eq!(stdout, ["one\n", "two\n", "three"]);
        let stderr: Vec<&str> = got
            .iter()
            .filter(|e| e.0 == OutputStream::Stderr)
            .map(|e| e.1.as_str())
            .collect();
        assert_eq!(stderr, ["err1\n"]);
        // "one" was delivered before the process slept, i.e. streamed rather than at the end.
        let first = got.iter().find(|e| e.1 == "one\n").unwrap().2;
        assert!(
            first.duration_since(started)
                < finished.duration_since(started) - Duration::from_millis(400)
        );
    }

    #[tokio::test]
    async fn stdin_env_and_cwd_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec("read line; echo \"$line $GALE_T $(pwd)\"");
        s.stdin = Some(b"hello\n".to_vec());
        s.env.insert("GALE_T".into(), "v".into());
        s.cwd = Some(dir.path().to_path_buf());
        let out = run_process(s, &CancellationToken::new(), Arc::new(crate::NullSink))
            .await
            .unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(out.stdout, format!("hello v {}\n", cwd.display()));
    }

    #[tokio::test]
    async fn missing_cwd_is_a_spawn_error() {
        let mut s = spec("true");
        s.cwd = Some("/nonexistent/gale/dir".into());
        let err = run_process(s, &CancellationToken::new(), Arc::new(crate::NullSink))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/gale/dir"), "{err}");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child");
        let mut s = spec(&format!("sleep 30 & echo $! > {}; wait", pidfile.display()));
        s.timeout = Some(Duration::from_millis(500));
        let out = run_process(s, &CancellationToken::new(), Arc::new(crate::NullSink))
            .await
            .unwrap();
        assert_eq!(out.ending, Ending::TimedOut);
        let child: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        wait_gone(out.pid).await;
        wait_gone(child).await;
    }

    #[tokio::test]
    async fn processes_ignoring_sigterm_are_killed_too() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("stubborn");
        let mut s = spec(&format!(
            "sh -c \"trap '' TERM; exec sleep 30\" >/dev/null 2>&1 & echo $! > {}; wait",
            pidfile.display()
        ));
        s.timeout = Some(Duration::from_millis(500));
        let out = run_process(s, &CancellationToken::new(), Arc::new(crate::NullSink))
            .await
            .unwrap();
        assert_eq!(out.ending, Ending::TimedOut);
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        wait_gone(pid).await;
    }

    #[tokio::test]
    async fn dropping_the_run_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let s = spec(&format!("echo $$ > {}; sleep 30", pidfile.display()));
        let t = CancellationToken::new();
        let fut = run_process(s, &t, Arc::new(crate::NullSink));
        let _ = tokio::time::timeout(Duration::from_millis(500), fut).await;
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        wait_gone(pid).await;
    }

    #[tokio::test]
    async fn background_processes_do_not_hold_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("bg");
        let s = spec(&format!(
            "(sleep 0.2; echo late) & sleep 30 & echo $! > {}; echo early",
            pidfile.display()
        ));
        let started = Instant::now();
        let out = run_process(s, &CancellationToken::new(), Arc::new(crate::NullSink))
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert_eq!(out.ending, Ending::Exited(0));
        assert_eq!(out.stdout, "early\nlate\n");
        let bg: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(process_alive(bg), "a background process is left running");
        signal_group(out.pid as i32, libc::SIGKILL);
        wait_gone(bg).await;
    }

    #[tokio::test]
    async fn cancel_reaches_children_in_other_process_groups() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("job");
        // bash job control puts the background job in its own process group (same session).
        let s = spec(&format!(
            "bash -c 'set -m; sleep 30 & echo $! > {}; wait'",
            pidfile.display()
        ));
        let t = CancellationToken::new();
        let t2 = t.clone();
        let file = pidfile.clone();
        let canceller = async move {
            for _ in 0..100 {
                if std::fs::read_to_string(&file)
                    .map(|s| !s.trim().is_empty())
                    .unwrap_or(false)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            t2.cancel();
        };
        let (out, ()) = tokio::join!(run_process(s, &t, Arc::new(crate::NullSink)), canceller);
        let out = out.unwrap();
        assert_eq!(out.ending, Ending::Canceled);
        let job: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        wait_gone(job).await;
    }

    async fn wait_gone(pid: u32) {
        for _ in 0..50 {
            if !process_alive(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("process {pid} still alive");
    }
}

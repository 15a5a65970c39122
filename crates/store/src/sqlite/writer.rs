//! The single writer: one connection owned by one thread, fed by a channel.
//!
//! Group commit: the thread takes every job already waiting (up to [`MAX_BATCH`]) and runs them
//! in one `BEGIN IMMEDIATE … COMMIT`, each job inside its own savepoint so a failing job rolls
//! back only its own changes. Callers are answered only after the commit, so a reply means the
//! write is visible to every reader connection.

use crate::{Error, Result};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Upper bound on jobs per transaction, so one huge burst cannot delay its first caller for long.
const MAX_BATCH: usize = 512;

/// What a job leaves behind after running: whether to keep its savepoint, and how to answer its
/// caller once the commit outcome is known.
pub(crate) struct Done {
    ok: bool,
    finish: Finish,
}

/// Answers the caller, given the commit error if the batch's commit failed.
type Finish = Box<dyn FnOnce(Option<&Error>) + Send>;

/// Runs on the writer thread; given an error instead of the connection when the batch could not
/// start, so that the caller still gets an answer.
pub(crate) type Job = Box<dyn FnOnce(std::result::Result<&Connection, &Error>) -> Done + Send>;

pub(crate) struct Writer {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("gale-sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| Error::Backend(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Run `f` on the writer connection inside a transaction; resolves after the commit.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => match catch_unwind(AssertUnwindSafe(|| f(conn))) {
                    Ok(r) => r,
                    Err(_) => Err(Error::Backend("a storage write panicked".into())),
                },
                Err(e) => Err(Error::Backend(message(e))),
            };
            let ok = result.is_ok();
            Done {
                ok,
                finish: Box::new(move |commit_err| {
                    let result = match commit_err {
                        Some(e) if ok => {
                            Err(Error::Backend(format!("commit failed: {}", message(e))))
                        }
                        _ => result,
                    };
                    // The caller may have gone away (its future was dropped); nothing to do then.
                    let _ = reply_tx.send(result);
                }),
            }
        });
        let sender = self.tx.as_ref().ok_or_else(stopped)?;
        sender.send(job).map_err(|_| stopped())?;
        reply_rx.await.map_err(|_| stopped())?
    }
}

/// The text of a backend error without its "storage backend error" prefix, for re-wrapping.
fn message(e: &Error) -> String {
    match e {
        Error::Backend(m) => m.clone(),
        other => other.to_string(),
    }
}

fn stopped() -> Error {
    Error::Backend("the SQLite writer thread has stopped".into())
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread after it drains the queued jobs; joining means the
        // connection is closed (and the WAL checkpointed) before a reopen of the same file.
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the SQLite writer thread panicked");
            }
        }
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut done: Vec<Done> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
            let err = Error::Backend(format!("cannot begin a write transaction: {e}"));
            tracing::error!(error = %err, jobs = batch.len(), "SQLite write batch not started");
            for job in batch.drain(..) {
                (job(Err(&err)).finish)(None);
            }
            continue;
        }
        // A batch of one needs no savepoint: if its job fails, the whole transaction rolls back.
        let single = batch.len() == 1;
        // Set when a failed job's changes could not be undone: then nothing may be committed.
        let mut abort: Option<Error> = None;
        for job in batch.drain(..) {
            if single {
                let d = job(Ok(&conn));
                if !d.ok {
                    abort = Some(Error::Backend("write failed".into()));
                }
                done.push(d);
                continue;
            }
            if let Err(e) = exec(&conn, "SAVEPOINT job") {
                let err = Error::Backend(format!("cannot open a savepoint: {e}"));
                done.push(job(Err(&err)));
                continue;
            }
            let d = job(Ok(&conn));
            let closed = if d.ok {
                exec(&conn, "RELEASE job")
            } else {
                exec(&conn, "ROLLBACK TO job").and_then(|_| exec(&conn, "RELEASE job"))
            };
            if let Err(e) = closed {
                tracing::error!(error = %e, "SQLite savepoint release failed; abandoning the batch");
                abort.get_or_insert(Error::Backend(format!("savepoint release failed: {e}")));
            }
            done.push(d);
        }
        let outcome = match abort {
            None => exec(&conn, "COMMIT").err().map(|e| {
                let _ = exec(&conn, "ROLLBACK");
                tracing::error!(error = %e, jobs = done.len(), "SQLite group commit failed");
                Error::Backend(e.to_string())
            }),
            Some(err) => {
                if let Err(e) = exec(&conn, "ROLLBACK") {
                    tracing::error!(error = %e, "SQLite rollback failed");
                }
                Some(err)
            }
        };
        for d in done.drain(..) {
            (d.finish)(outcome.as_ref());
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

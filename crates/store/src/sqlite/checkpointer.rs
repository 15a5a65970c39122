//! Background WAL checkpoints, so the writer thread does not copy pages back into the database
//! file (and fsync it) in the middle of a commit. The writer keeps a high auto-checkpoint
//! threshold only as a backstop in case this thread falls behind.

use rusqlite::Connection;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is folded back into the database. Short enough that the WAL stays small
/// under full load (a few thousand pages at most), long enough to cost nothing when idle.
const INTERVAL: Duration = Duration::from_millis(250);

pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(conn: Connection) -> std::io::Result<Checkpointer> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("gale-sqlite-checkpoint".into())
            .spawn(move || run(conn, stopped))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the SQLite checkpoint thread panicked");
            }
        }
    }
}

fn run(conn: Connection, stopped: mpsc::Receiver<()>) {
    // Any message or a closed channel means stop; a timeout means "checkpoint now".
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        // PASSIVE never blocks the writer or readers; pages still in use by a reader are left
        // for the next round.
        let r = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        match r {
            Ok((_busy, log, done)) => {
                tracing::trace!(wal_frames = log, checkpointed = done, "WAL checkpoint")
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

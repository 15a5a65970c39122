//! A fixed pool of read-only connections. With WAL, readers see the last commit and never wait
//! for the writer, so API reads do not queue behind the engine's writes.
//!
//! The std mutex guarding the pool is only taken inside `spawn_blocking`, never across `.await`.

use crate::{Error, Result};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};

pub(crate) struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    available: Condvar,
}

impl ReaderPool {
    pub(crate) fn new(conns: Vec<Connection>) -> ReaderPool {
        ReaderPool {
            idle: Mutex::new(conns),
            available: Condvar::new(),
        }
    }

    /// Run `f` on an idle reader connection on the blocking pool, waiting for one if all are busy.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool.checkout()?;
            let result = catch_unwind(AssertUnwindSafe(|| f(&conn)))
                .unwrap_or_else(|_| Err(Error::Backend("a storage read panicked".into())));
            if !conn.is_autocommit() {
                // A read that failed inside a transaction must not leave it open for the next user.
                let _ = conn.execute_batch("ROLLBACK");
            }
            pool.checkin(conn);
            result
        })
        .await
        .map_err(|e| Error::Backend(format!("storage read task failed: {e}")))?
    }

    fn checkout(&self) -> Result<Connection> {
        let mut idle = self.idle.lock().map_err(|_| poisoned())?;
        loop {
            if let Some(c) = idle.pop() {
                return Ok(c);
            }
            idle = self.available.wait(idle).map_err(|_| poisoned())?;
        }
    }

    fn checkin(&self, conn: Connection) {
        // A poisoned pool loses this connection; the next checkout reports the poisoning.
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
            self.available.notify_one();
        }
    }
}

fn poisoned() -> Error {
    Error::Backend("SQLite reader pool lock poisoned".into())
}

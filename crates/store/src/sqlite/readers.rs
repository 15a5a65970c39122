//! A fixed pool of query-only connections. With WAL, readers see the last commit and never wait
//! for the writer, so API reads do not queue behind the engine's writes.
//!
//! An async semaphore with one permit per connection admits reads, so a waiting read parks a
//! task, not a blocking thread. The std mutex guarding the idle list is only taken inside
//! `spawn_blocking` and never across `.await`.

use crate::{Error, Result};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub(crate) struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    pub(crate) fn new(conns: Vec<Connection>) -> ReaderPool {
        let permits = Arc::new(Semaphore::new(conns.len()));
        ReaderPool {
            idle: Mutex::new(conns),
            permits,
        }
    }

    /// Run `f` on an idle reader connection on the blocking pool, waiting (asynchronously) for
    /// one if all are busy.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::Backend("SQLite reader pool closed".into()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
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

    /// The permit guarantees an idle connection, unless one was lost to a poisoned lock.
    fn checkout(&self) -> Result<Connection> {
        self.idle
            .lock()
            .map_err(|_| poisoned())?
            .pop()
            .ok_or_else(|| Error::Backend("no idle SQLite reader connection".into()))
    }

    fn checkin(&self, conn: Connection) {
        // A poisoned pool loses this connection; the next checkout reports the poisoning.
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

fn poisoned() -> Error {
    Error::Backend("SQLite reader pool lock poisoned".into())
}

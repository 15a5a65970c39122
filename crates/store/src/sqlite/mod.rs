//! The SQLite backend: the default, embedded store of a single Gale node.
//!
//! One writer connection on a dedicated thread (group commit, see [`writer`]) and a small pool
//! of reader connections (see [`readers`]); the database runs in WAL mode so reads never wait
//! behind writes, and a background thread checkpoints the WAL (see [`checkpointer`]). Records are JSON documents plus the columns that lookups and filters need
//! (see [`schema`]). All SQL of Gale lives in this module.

mod auth;
mod catalog;
mod checkpointer;
mod events;
mod executions;
mod kv;
mod queue;
mod readers;
mod schema;
mod workflows;
mod writer;

use crate::{Error, Result};
use gale_model::Timestamp;
use readers::ReaderPool;
use rusqlite::{Connection, OpenFlags};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use writer::Writer;

/// Reader connections of a file-backed store (readers are cheap; more than the cores helps
/// little).
const READERS: usize = 4;
/// How long a connection waits on a lock held by another process (e.g. a backup) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection; the execution list builds a few dozen shapes.
const STATEMENT_CACHE: usize = 128;

/// The SQLite store. Cheap to clone (shared handle); the writer thread stops when the last
/// clone is dropped, after finishing the writes already queued.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Background WAL checkpoints of a file-backed store; stopped first.
    _checkpointer: Option<checkpointer::Checkpointer>,
    /// `None` for an in-memory store: its one connection serves reads too. Declared before
    /// `writer` so the readers close first and the writer, closing last, checkpoints the WAL.
    readers: Option<Arc<ReaderPool>>,
    writer: Writer,
    /// Signalled after a commit that made queue work available (see `wait_for_work`).
    work: tokio::sync::Notify,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("readers", &self.inner.readers.is_some())
            .finish()
    }
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path` and bring its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref();
        let mut conn = Connection::open(path)
            .map_err(|e| Error::Backend(format!("cannot open {}: {e}", path.display())))?;
        configure(&conn, true)?;
        schema::migrate(&mut conn)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(path, OpenFlags::default())
                .map_err(|e| Error::Backend(format!("cannot open {}: {e}", path.display())))?;
            configure(&r, false)?;
            readers.push(r);
        }
        let cp = Connection::open(path)
            .map_err(|e| Error::Backend(format!("cannot open {}: {e}", path.display())))?;
        cp.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        let checkpointer = checkpointer::Checkpointer::start(cp).map_err(|e| {
            Error::Backend(format!("cannot start the SQLite checkpoint thread: {e}"))
        })?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                _checkpointer: Some(checkpointer),
                writer: Writer::start(conn)?,
                readers: Some(Arc::new(ReaderPool::new(readers))),
                work: tokio::sync::Notify::new(),
            }),
        })
    }

    /// A private, empty in-memory database (tests, `gale` one-shot commands). Reads and writes
    /// share its single connection.
    pub fn open_in_memory() -> Result<SqliteStore> {
        let mut conn = Connection::open_in_memory().map_err(db)?;
        configure(&conn, true)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Writer::start(conn)?,
                _checkpointer: None,
                readers: None,
                work: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Run `f` in a write transaction on the writer thread (batched with concurrent writes).
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.inner.writer.write(f).await
    }

    /// Wake the workers waiting in `wait_for_work`. The stored permit (`notify_one`) covers a
    /// worker that found the queue empty but has not started waiting yet.
    fn work_available(&self) {
        self.inner.work.notify_waiters();
        self.inner.work.notify_one();
    }

    /// Run `f` on a reader connection. `f` sees autocommit reads; use [`snapshot`] when two
    /// statements must see the same state.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        match &self.inner.readers {
            Some(pool) => pool.read(f).await,
            None => self.inner.writer.write(f).await,
        }
    }
}

fn configure(conn: &Connection, writer: bool) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if writer {
        // journal_mode answers with a row, so it is read rather than executed. In-memory
        // databases answer "memory" and keep it.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db)?;
        if mode != "wal" && mode != "memory" {
            // E.g. a file system without shared memory: correct, but reads wait for writes.
            tracing::warn!(journal_mode = %mode, "SQLite could not switch to WAL mode");
        }
        // NORMAL in WAL mode: a commit survives a process crash; a power cut may lose the last
        // commits but never corrupts the database.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
        )
        .map_err(db)?;
        // Checkpoints normally run on the checkpoint thread; this threshold (64 MiB of WAL) is
        // only the backstop that bounds the WAL if that thread falls behind.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 16384;")
            .map_err(db)?;
    } else {
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA query_only = ON;")
            .map_err(db)?;
    }
    Ok(())
}

/// Run `f` so that all its statements see one state of the database (a savepoint, which works
/// both on a reader connection and inside the writer's transaction).
pub(crate) fn snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    exec(conn, "SAVEPOINT snapshot")?;
    let r = f(conn);
    if r.is_err() {
        exec(conn, "ROLLBACK TO snapshot")?;
    }
    exec(conn, "RELEASE snapshot")?;
    r
}

/// Execute a parameterless statement through the statement cache.
pub(crate) fn exec(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map_err(db)?;
    Ok(())
}

pub(crate) fn db(e: rusqlite::Error) -> Error {
    Error::Backend(e.to_string())
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

pub(crate) fn to_doc<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Backend(format!("cannot encode a record: {e}")))
}

pub(crate) fn from_doc<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt(e.to_string()))
}

/// Decode every `doc` a query returns (the query's first column).
pub(crate) fn docs<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        let doc: String = row.get(0).map_err(db)?;
        out.push(from_doc(&doc)?);
    }
    Ok(out)
}

/// Decode the first `doc` a query returns, if any.
pub(crate) fn doc<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => {
            let doc: String = row.get(0).map_err(db)?;
            Ok(Some(from_doc(&doc)?))
        }
        None => Ok(None),
    }
}

/// Microseconds since the epoch: the column form of a timestamp.
pub(crate) fn micros(ts: &Timestamp) -> i64 {
    ts.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> Result<Timestamp> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::Corrupt(format!("timestamp out of range: {us}")))
}

#[cfg(test)]
mod tests;

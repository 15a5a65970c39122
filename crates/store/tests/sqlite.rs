//! The shared backend suite against SQLite: file-backed (WAL, reader pool) and in-memory.

use gale_store::sqlite::SqliteStore;
use gale_store::suite;

/// A file-backed store in its own temporary directory (removed when dropped).
struct FileStore {
    store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for FileStore {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

async fn file_store() -> FileStore {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("gale.db")).unwrap();
    FileStore { store, _dir: dir }
}

async fn memory_store() -> Box<SqliteStore> {
    Box::new(SqliteStore::open_in_memory().unwrap())
}

mod file {
    use super::file_store;
    gale_store::store_suite!(file_store);
}

mod memory {
    use super::memory_store;
    gale_store::store_suite!(memory_store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistence_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gale.db");
    suite::persistence_across_reopen(|| {
        let path = path.clone();
        async move { SqliteStore::open(path).unwrap() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_fresh_file_stores() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    suite::run_all(|| {
        let path = dir.path().join(format!(
            "db{}",
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { SqliteStore::open(path).unwrap() }
    })
    .await;
}

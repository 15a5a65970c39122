//! SQLite-specific behaviour (the shared suite runs in `tests/sqlite.rs`).

use super::*;
use crate::suite;
use crate::{ExecutionStore, PackStore, WorkQueue};

fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("gale.db")).unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_runs_wal_with_normal_sync() {
    let (_dir, s) = file_store();
    let mode: String = s
        .read(|c| {
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .map_err(db)
        })
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (sync, fk): (i64, i64) = s
        .write(|c| {
            let sync = c
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .map_err(db)?;
            let fk = c
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
                .map_err(db)?;
            Ok((sync, fk))
        })
        .await
        .unwrap();
    assert_eq!((sync, fk), (1, 1), "synchronous=NORMAL, foreign keys on");
    let ro = s
        .read(|c| c.execute_batch("DELETE FROM packs").map_err(db))
        .await;
    assert!(ro.is_err(), "reader connections are query-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_do_not_wait_for_an_open_write() {
    let (_dir, s) = file_store();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    // The write inserts, then holds its transaction open until the read below has finished.
    // If readers waited for the writer this would time out instead of committing.
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            s.write(move |c| {
                c.execute(
                    "INSERT INTO packs (id, ref, doc) VALUES ('i', 'held', '{}')",
                    [],
                )
                .map_err(db)?;
                done_rx
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| Error::Backend("the read never finished".into()))
            })
            .await
        })
    };
    // Give the writer time to start its transaction (if it has not, the read passes trivially,
    // so also check below that the write was not visible).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = s
        .read(|c| {
            c.query_row("SELECT COUNT(*) FROM packs", [], |r| r.get::<_, i64>(0))
                .map_err(db)
        })
        .await;
    done_tx.send(()).unwrap();
    assert_eq!(
        seen.unwrap(),
        0,
        "uncommitted writes are invisible to readers"
    );
    writer.await.unwrap().unwrap();
    let after = s
        .read(|c| {
            c.query_row("SELECT COUNT(*) FROM packs", [], |r| r.get::<_, i64>(0))
                .map_err(db)
        })
        .await;
    assert_eq!(after.unwrap(), 1, "a reply means committed and visible");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_rolls_back_alone_within_its_batch() {
    let (_dir, s) = file_store();
    // Hold the writer busy so that the next writes queue up and share one transaction.
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let gate = {
        let s = s.clone();
        tokio::spawn(async move {
            s.write(move |_| {
                go_rx
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| Error::Backend("gate".into()))
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let insert = |id: &'static str, fail: bool| {
        let s = s.clone();
        tokio::spawn(async move {
            s.write(move |c| {
                c.execute(
                    "INSERT INTO packs (id, ref, doc) VALUES (?1, ?1, '{}')",
                    [id],
                )
                .map_err(db)?;
                if fail {
                    return Err(Error::Backend("deliberate".into()));
                }
                Ok(())
            })
            .await
        })
    };
    let a = insert("a", false);
    let b = insert("b", true);
    let c = insert("c", false);
    tokio::time::sleep(Duration::from_millis(50)).await;
    go_tx.send(()).unwrap();
    gate.await.unwrap().unwrap();
    assert!(a.await.unwrap().is_ok());
    assert!(b.await.unwrap().is_err());
    assert!(c.await.unwrap().is_ok());
    let ids = s
        .read(|c| {
            let mut st = c.prepare("SELECT id FROM packs ORDER BY id").map_err(db)?;
            let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db)
        })
        .await
        .unwrap();
    assert_eq!(ids, ["a", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_documents_are_corrupt_not_missing() {
    let s = SqliteStore::open_in_memory().unwrap();
    s.write(|c| {
        c.execute(
            "INSERT INTO packs (id, ref, doc) VALUES ('x', 'bad', 'not json')",
            [],
        )
        .map_err(db)
    })
    .await
    .unwrap();
    assert!(matches!(s.get_pack("bad").await, Err(Error::Corrupt(_))));
}

#[tokio::test]
async fn refuses_a_database_from_a_newer_build() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gale.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 999")
        .unwrap();
    match SqliteStore::open(&path) {
        Err(Error::Backend(msg)) => assert!(msg.contains("999"), "{msg}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn open_reports_an_unusable_path() {
    let dir = tempfile::tempdir().unwrap();
    let r = SqliteStore::open(dir.path().join("missing-dir").join("gale.db"));
    assert!(matches!(r, Err(Error::Backend(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_one_database_and_the_last_drop_stops_the_writer() {
    let (dir, s) = file_store();
    let other = s.clone();
    s.create_execution(
        &suite::execution("e", "core.local", suite::at(0)),
        Some(suite::item("i", "e", suite::at(0))),
    )
    .await
    .unwrap();
    drop(s);
    assert_eq!(
        other.queue_len().await.unwrap(),
        1,
        "a clone keeps the store alive"
    );
    drop(other);
    // The writer thread has closed its connection: another process could now open the file.
    let reopened = SqliteStore::open(dir.path().join("gale.db")).unwrap();
    assert!(reopened.get_execution("e").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_wakes_a_waiting_worker() {
    let (_dir, s) = file_store();
    // Consume any stored permit so that the waits below really wait.
    s.wait_for_work(Duration::from_millis(1)).await;
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let t = std::time::Instant::now();
                s.wait_for_work(Duration::from_secs(30)).await;
                t.elapsed()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.enqueue(suite::item("i", "e", suite::at(0)))
        .await
        .unwrap();
    for w in waiters {
        // Far below the 30 s wait: the enqueue woke every waiter.
        let waited = tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .unwrap()
            .unwrap();
        assert!(waited < Duration::from_secs(10), "{waited:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_store_checkpoints_the_wal() {
    let (dir, s) = file_store();
    s.upsert_pack(suite::pack("core")).await.unwrap();
    assert!(
        dir.path().join("gale.db-wal").exists(),
        "WAL mode keeps a -wal file while open"
    );
    drop(s);
    // The writer closes last, checkpoints and removes the WAL: the .db file alone is complete.
    assert!(!dir.path().join("gale.db-wal").exists());
    let plain = Connection::open(dir.path().join("gale.db")).unwrap();
    let n: i64 = plain
        .query_row("SELECT COUNT(*) FROM packs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_concurrent_reads_than_reader_connections() {
    let (_dir, s) = file_store();
    s.upsert_pack(suite::pack("core")).await.unwrap();
    let reads: Vec<_> = (0..READERS * 10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.get_pack("core").await })
        })
        .collect();
    for r in reads {
        assert_eq!(r.await.unwrap().unwrap().unwrap().pack_ref, "core");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_thread_folds_the_wal_into_the_database() {
    let (dir, s) = file_store();
    for i in 0..50 {
        s.upsert_pack(suite::pack(&format!("p{i}"))).await.unwrap();
    }
    // The writer's own auto-checkpoint threshold is far away; only the background thread can
    // have copied the schema and the packs (dozens of pages) into the main file.
    let db_len = || std::fs::metadata(dir.path().join("gale.db")).unwrap().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db_len() < 20 * 4096 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(db_len() >= 20 * 4096, "main file still {} bytes", db_len());
}

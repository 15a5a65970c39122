//! The durable work queue: claims take a lease; ack deletes; nack reschedules; an expired lease
//! makes the item claimable again. Claims go through the single writer, so two workers can
//! never claim the same item.

use super::{db, from_micros, is_unique_violation, micros, SqliteStore};
use crate::{Error, QueueItem, Result, WorkQueue};
use async_trait::async_trait;
use gale_model::{new_id, Timestamp};
use rusqlite::{params, Connection};

/// Insert an item (shared with `create_execution`, which enqueues in the same transaction).
pub(super) fn insert(conn: &Connection, mut item: QueueItem) -> Result<()> {
    if item.id.is_empty() {
        item.id = new_id();
    }
    conn.prepare_cached(
        "INSERT INTO queue (id, execution_id, available_at, attempts) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            item.id,
            item.execution_id,
            micros(&item.available_at),
            item.attempts
        ])
    })
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::Conflict {
                kind: "queue item",
                key: item.id.clone(),
                existing_id: item.id.clone(),
            }
        } else {
            db(e)
        }
    })?;
    Ok(())
}

fn claim(
    conn: &Connection,
    worker: &str,
    now: i64,
    lease_until: i64,
    max: usize,
) -> Result<Vec<QueueItem>> {
    let mut picked: Vec<(i64, QueueItem)> = Vec::new();
    {
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, id, execution_id, available_at, attempts FROM queue
                 WHERE available_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
                 ORDER BY available_at, seq LIMIT ?2",
            )
            .map_err(db)?;
        let mut rows = stmt
            .query(params![now, max.min(i64::MAX as usize) as i64])
            .map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let available: i64 = r.get(3).map_err(db)?;
            picked.push((
                r.get(0).map_err(db)?,
                QueueItem {
                    id: r.get(1).map_err(db)?,
                    execution_id: r.get(2).map_err(db)?,
                    available_at: from_micros(available)?,
                    attempts: r.get(4).map_err(db)?,
                },
            ));
        }
    }
    let mut stmt = conn
        .prepare_cached("UPDATE queue SET claimed_by = ?2, lease_until = ?3, attempts = attempts + 1 WHERE seq = ?1")
        .map_err(db)?;
    for (seq, _) in &picked {
        stmt.execute(params![seq, worker, lease_until])
            .map_err(db)?;
    }
    Ok(picked.into_iter().map(|(_, item)| item).collect())
}

#[async_trait]
impl WorkQueue for SqliteStore {
    async fn enqueue(&self, item: QueueItem) -> Result<()> {
        self.write(move |conn| insert(conn, item)).await?;
        self.work_available();
        Ok(())
    }

    /// The returned `attempts` counts the claims before this one.
    async fn claim(
        &self,
        worker: &str,
        now: Timestamp,
        lease: std::time::Duration,
        max: usize,
    ) -> Result<Vec<QueueItem>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let worker = worker.to_string();
        let now = micros(&now);
        let lease_until = now.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
        self.write(move |conn| claim(conn, &worker, now, lease_until, max))
            .await
    }

    async fn ack(&self, item_id: &str) -> Result<()> {
        let id = item_id.to_string();
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM queue WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn nack(&self, item_id: &str, retry_at: Timestamp) -> Result<()> {
        let id = item_id.to_string();
        let at = micros(&retry_at);
        let changed = self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE queue SET available_at = ?2, claimed_by = NULL, lease_until = NULL WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id, at]))
            .map_err(db)
        })
        .await?;
        if changed > 0 {
            self.work_available();
        }
        Ok(())
    }

    async fn queue_len(&self) -> Result<u64> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM queue")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(db)?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn wait_for_work(&self, max_wait: std::time::Duration) {
        // Either way the caller claims next; a timeout is not an error.
        let _ = tokio::time::timeout(max_wait, self.inner.work.notified()).await;
    }
}

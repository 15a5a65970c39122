//! The datastore table: one row per `(scope, name)`, the expiry as a column so reads can treat
//! expired pairs as absent and the purge is one indexed delete.

use super::{db, doc, docs, micros, to_doc, SqliteStore};
use crate::{KeyValueRecord, KeyValueStore, Result};
use async_trait::async_trait;
use gale_model::Timestamp;
use rusqlite::{params, Connection};

/// `expire_at` column value: microseconds, or NULL for no expiry.
fn expire_col(kv: &KeyValueRecord) -> Option<i64> {
    kv.expire_timestamp.as_ref().map(micros)
}

const LIVE: &str = "(expire_at IS NULL OR expire_at > ?3)";

fn get_live(
    conn: &Connection,
    scope: &str,
    name: &str,
    now: i64,
) -> Result<Option<KeyValueRecord>> {
    doc(
        conn,
        &format!("SELECT doc FROM kv WHERE scope = ?1 AND name = ?2 AND {LIVE}"),
        params![scope, name, now],
    )
}

#[async_trait]
impl KeyValueStore for SqliteStore {
    async fn put_kv(
        &self,
        mut kv: KeyValueRecord,
        now: Timestamp,
    ) -> Result<(KeyValueRecord, Option<KeyValueRecord>)> {
        let now = micros(&now);
        self.write(move |conn| {
            let previous = get_live(conn, &kv.scope, &kv.name, now)?;
            if let Some(p) = &previous {
                kv.id = p.id.clone();
            }
            let json = to_doc(&kv)?;
            // REPLACE also drops an expired row with the same key (its id is not kept).
            conn.prepare_cached(
                "INSERT OR REPLACE INTO kv (scope, name, id, expire_at, doc) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![kv.scope, kv.name, kv.id, expire_col(&kv), json]))
            .map_err(db)?;
            Ok((kv, previous))
        })
        .await
    }

    async fn get_kv(
        &self,
        scope: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<KeyValueRecord>> {
        let (scope, name, now) = (scope.to_string(), name.to_string(), micros(&now));
        self.read(move |conn| get_live(conn, &scope, &name, now))
            .await
    }

    async fn list_kv(
        &self,
        scope: Option<&str>,
        prefix: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<KeyValueRecord>> {
        let scope = scope.map(str::to_string);
        let prefix = prefix.unwrap_or("").to_string();
        let now = micros(&now);
        self.read(move |conn| {
            // substr compares characters exactly (LIKE/GLOB would need escaping of `%`, `_`, `*`).
            docs(
                conn,
                &format!(
                    "SELECT doc FROM kv WHERE (?1 IS NULL OR scope = ?1) \
                     AND substr(name, 1, length(?2)) = ?2 AND {LIVE} ORDER BY scope, name"
                ),
                params![scope, prefix, now],
            )
        })
        .await
    }

    async fn delete_kv(
        &self,
        scope: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<KeyValueRecord>> {
        let (scope, name, now) = (scope.to_string(), name.to_string(), micros(&now));
        self.write(move |conn| {
            let found = get_live(conn, &scope, &name, now)?;
            conn.prepare_cached("DELETE FROM kv WHERE scope = ?1 AND name = ?2")
                .and_then(|mut s| s.execute(params![scope, name]))
                .map_err(db)?;
            Ok(found)
        })
        .await
    }

    async fn purge_expired_kv(&self, now: Timestamp) -> Result<u64> {
        let now = micros(&now);
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM kv WHERE expire_at IS NOT NULL AND expire_at <= ?1")
                .and_then(|mut s| s.execute([now]))
                .map_err(db)?;
            Ok(n as u64)
        })
        .await
    }
}

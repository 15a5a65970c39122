//! Packs, runner types and actions: upserts by ref/name that keep the existing id.

use super::{db, doc, docs, is_unique_violation, to_doc, SqliteStore};
use crate::{ActionStore, Error, PackStore, Result, RunnerTypeStore};
use async_trait::async_trait;
use gale_model::{new_id, Action, Pack, RunnerType};
use rusqlite::{params, Connection, OptionalExtension};

/// The id to store under: the id already stored for this key, else the record's own, else new.
fn resolve_id(conn: &Connection, sql: &str, key: &str, own: &str) -> Result<String> {
    let existing: Option<String> = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(db)?;
    Ok(match existing {
        Some(id) => id,
        None if own.is_empty() => new_id(),
        None => own.to_string(),
    })
}

#[async_trait]
impl PackStore for SqliteStore {
    async fn upsert_pack(&self, mut pack: Pack) -> Result<Pack> {
        self.write(move |conn| {
            pack.id = resolve_id(
                conn,
                "SELECT id FROM packs WHERE ref = ?1",
                &pack.pack_ref,
                &pack.id,
            )?;
            let json = to_doc(&pack)?;
            conn.prepare_cached(
                "INSERT INTO packs (id, ref, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET ref = excluded.ref, doc = excluded.doc",
            )
            .and_then(|mut s| s.execute(params![pack.id, pack.pack_ref, json]))
            .map_err(db)?;
            Ok(pack)
        })
        .await
    }

    async fn get_pack(&self, ref_or_id: &str) -> Result<Option<Pack>> {
        let key = ref_or_id.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM packs WHERE id = ?1 UNION ALL SELECT doc FROM packs WHERE ref = ?1 LIMIT 1",
                [key],
            )
        })
        .await
    }

    async fn list_packs(&self) -> Result<Vec<Pack>> {
        self.read(|conn| docs(conn, "SELECT doc FROM packs ORDER BY ref", []))
            .await
    }

    async fn delete_pack(&self, ref_or_id: &str) -> Result<bool> {
        let key = ref_or_id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM packs WHERE id = ?1 OR ref = ?1")
                .and_then(|mut s| s.execute([key]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}

#[async_trait]
impl RunnerTypeStore for SqliteStore {
    async fn upsert_runner_type(&self, mut runner: RunnerType) -> Result<RunnerType> {
        self.write(move |conn| {
            runner.id = resolve_id(
                conn,
                "SELECT id FROM runner_types WHERE name = ?1",
                &runner.name,
                &runner.id,
            )?;
            let json = to_doc(&runner)?;
            conn.prepare_cached(
                "INSERT INTO runner_types (id, name, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc",
            )
            .and_then(|mut s| s.execute(params![runner.id, runner.name, json]))
            .map_err(db)?;
            Ok(runner)
        })
        .await
    }

    async fn get_runner_type(&self, name_or_id: &str) -> Result<Option<RunnerType>> {
        let key = name_or_id.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM runner_types WHERE id = ?1
                 UNION ALL SELECT doc FROM runner_types WHERE name = ?1 LIMIT 1",
                [key],
            )
        })
        .await
    }

    async fn list_runner_types(&self) -> Result<Vec<RunnerType>> {
        self.read(|conn| docs(conn, "SELECT doc FROM runner_types ORDER BY name", []))
            .await
    }
}

fn write_action(conn: &Connection, action: &Action) -> Result<()> {
    let json = to_doc(action)?;
    conn.prepare_cached(
        "INSERT INTO actions (id, ref, pack, doc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET ref = excluded.ref, pack = excluded.pack, doc = excluded.doc",
    )
    .and_then(|mut s| s.execute(params![action.id, action.action_ref, action.pack, json]))
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl ActionStore for SqliteStore {
    async fn upsert_action(&self, mut action: Action) -> Result<Action> {
        self.write(move |conn| {
            action.id = resolve_id(
                conn,
                "SELECT id FROM actions WHERE ref = ?1",
                &action.action_ref,
                &action.id,
            )?;
            write_action(conn, &action)?;
            Ok(action)
        })
        .await
    }

    async fn create_action(&self, mut action: Action) -> Result<Action> {
        self.write(move |conn| {
            let existing: Option<String> = conn
                .prepare_cached("SELECT id FROM actions WHERE ref = ?1")
                .and_then(|mut s| s.query_row([&action.action_ref], |r| r.get(0)).optional())
                .map_err(db)?;
            if let Some(existing_id) = existing {
                return Err(Error::Conflict {
                    kind: "action",
                    key: action.action_ref.clone(),
                    existing_id,
                });
            }
            if action.id.is_empty() {
                action.id = new_id();
            }
            let json = to_doc(&action)?;
            // A plain INSERT: an id that is already taken is a conflict, not an update.
            conn.prepare_cached("INSERT INTO actions (id, ref, pack, doc) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut s| {
                    s.execute(params![action.id, action.action_ref, action.pack, json])
                })
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Error::Conflict {
                            kind: "action",
                            key: action.id.clone(),
                            existing_id: action.id.clone(),
                        }
                    } else {
                        db(e)
                    }
                })?;
            Ok(action)
        })
        .await
    }

    async fn get_action(&self, ref_or_id: &str) -> Result<Option<Action>> {
        let key = ref_or_id.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM actions WHERE id = ?1 UNION ALL SELECT doc FROM actions WHERE ref = ?1 LIMIT 1",
                [key],
            )
        })
        .await
    }

    async fn list_actions(&self, pack: Option<&str>) -> Result<Vec<Action>> {
        let pack = pack.map(str::to_string);
        self.read(move |conn| match pack {
            Some(p) => docs(
                conn,
                "SELECT doc FROM actions WHERE pack = ?1 ORDER BY ref",
                [p],
            ),
            None => docs(conn, "SELECT doc FROM actions ORDER BY ref", []),
        })
        .await
    }

    /// Accepts a ref as well as an id.
    async fn delete_action(&self, id: &str) -> Result<bool> {
        let key = id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM actions WHERE id = ?1 OR ref = ?1")
                .and_then(|mut s| s.execute([key]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}

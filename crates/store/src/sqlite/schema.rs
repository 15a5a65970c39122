//! Versioned schema. `PRAGMA user_version` holds the number of migrations applied; at open the
//! missing ones run, in order, in one transaction. Never edit a released migration: append one.
//!
//! Records are stored whole as JSON (`doc`), next to the columns that lookups and filters need.
//! Timestamps in columns are microseconds since the Unix epoch (UTC) so they sort as integers.

use crate::{Error, Result};
use rusqlite::Connection;

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE packs (
        id   TEXT PRIMARY KEY,
        ref  TEXT NOT NULL UNIQUE,
        doc  TEXT NOT NULL
    );
    CREATE TABLE runner_types (
        id   TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        doc  TEXT NOT NULL
    );
    CREATE TABLE actions (
        id   TEXT PRIMARY KEY,
        ref  TEXT NOT NULL UNIQUE,
        pack TEXT NOT NULL,
        doc  TEXT NOT NULL
    );
    CREATE INDEX actions_pack ON actions (pack, ref);

    -- seq breaks start_timestamp ties in insertion order.
    CREATE TABLE executions (
        seq              INTEGER PRIMARY KEY,
        id               TEXT NOT NULL UNIQUE,
        status           TEXT NOT NULL,
        action_ref       TEXT NOT NULL,
        runner           TEXT NOT NULL,
        parent           TEXT,
        user             TEXT,
        rule             TEXT,
        trigger_instance TEXT,
        start_ts         INTEGER NOT NULL,
        doc              TEXT NOT NULL
    );
    CREATE INDEX executions_start ON executions (start_ts, seq);
    CREATE INDEX executions_status ON executions (status, start_ts);
    CREATE INDEX executions_parent ON executions (parent, start_ts);
    CREATE INDEX executions_action ON executions (action_ref, start_ts);

    CREATE TABLE output (
        seq          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        output_type  TEXT NOT NULL,
        doc          TEXT NOT NULL
    );
    CREATE INDEX output_execution ON output (execution_id, seq);

    CREATE TABLE tokens (
        id         TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        doc        TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        seq      INTEGER PRIMARY KEY,
        id       TEXT NOT NULL UNIQUE,
        key_hash TEXT NOT NULL UNIQUE,
        doc      TEXT NOT NULL
    );

    -- The work queue. Claimable: available_at <= now and (lease_until IS NULL or expired).
    CREATE TABLE queue (
        seq          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        execution_id TEXT NOT NULL,
        available_at INTEGER NOT NULL,
        attempts     INTEGER NOT NULL,
        claimed_by   TEXT,
        lease_until  INTEGER
    );
    CREATE INDEX queue_order ON queue (available_at, seq);
    "#,
    // datastore key-value pairs (gale-datastore); expire_at in microseconds, NULL = never.
    r#"
    CREATE TABLE kv (
        scope     TEXT NOT NULL,
        name      TEXT NOT NULL,
        id        TEXT NOT NULL,
        expire_at INTEGER,
        doc       TEXT NOT NULL,
        PRIMARY KEY (scope, name)
    );
    CREATE INDEX kv_expire ON kv (expire_at) WHERE expire_at IS NOT NULL;
    "#,
    // workflow state (orquesta conductors, action-chain progress), one document per
    // workflow execution, versioned for compare-and-set.
    r#"
    CREATE TABLE workflows (
        execution_id TEXT PRIMARY KEY,
        version      INTEGER NOT NULL,
        doc          TEXT NOT NULL
    );
    "#,
    // event side (gale-events): trigger types, triggers, rules, trigger instances, rule
    // enforcements, traces and their membership links. Times in microseconds.
    r#"
    CREATE TABLE trigger_types (
        id   TEXT PRIMARY KEY,
        ref  TEXT NOT NULL UNIQUE,
        pack TEXT NOT NULL,
        doc  TEXT NOT NULL
    );
    CREATE TABLE triggers (
        id   TEXT PRIMARY KEY,
        ref  TEXT NOT NULL UNIQUE,
        uid  TEXT NOT NULL,
        type TEXT NOT NULL,
        doc  TEXT NOT NULL
    );
    CREATE INDEX triggers_uid ON triggers (uid);
    CREATE TABLE rules (
        id   TEXT PRIMARY KEY,
        ref  TEXT NOT NULL UNIQUE,
        pack TEXT NOT NULL,
        name TEXT NOT NULL,
        doc  TEXT NOT NULL
    );
    CREATE TABLE trigger_instances (
        seq             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        trigger         TEXT NOT NULL,
        status          TEXT NOT NULL,
        occurrence_time INTEGER NOT NULL,
        doc             TEXT NOT NULL
    );
    CREATE INDEX trigger_instances_status ON trigger_instances (status, seq);
    CREATE INDEX trigger_instances_time ON trigger_instances (occurrence_time);
    CREATE TABLE rule_enforcements (
        seq                 INTEGER PRIMARY KEY,
        id                  TEXT NOT NULL UNIQUE,
        trigger_instance_id TEXT NOT NULL,
        rule_ref            TEXT NOT NULL,
        rule_id             TEXT NOT NULL,
        execution_id        TEXT,
        enforced_at         INTEGER NOT NULL,
        doc                 TEXT NOT NULL
    );
    CREATE INDEX rule_enforcements_instance ON rule_enforcements (trigger_instance_id);
    CREATE INDEX rule_enforcements_time ON rule_enforcements (enforced_at);
    CREATE TABLE traces (
        seq       INTEGER PRIMARY KEY,
        id        TEXT NOT NULL UNIQUE,
        trace_tag TEXT NOT NULL,
        start_ts  INTEGER NOT NULL,
        doc       TEXT NOT NULL
    );
    CREATE INDEX traces_tag ON traces (trace_tag);
    CREATE TABLE trace_links (
        trace_id  TEXT NOT NULL,
        kind      TEXT NOT NULL,
        object_id TEXT NOT NULL,
        PRIMARY KEY (kind, object_id, trace_id)
    );
    "#,
];

/// Bring the schema up to date. Refuses a database written by a newer Gale.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| Error::Backend(format!("cannot read the schema version: {e}")))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(Error::Backend(format!(
            "the database schema is version {current}, newer than this build knows ({known})"
        )));
    }
    if current == known {
        return Ok(());
    }
    let tx = conn.transaction().map_err(backend)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)
            .map_err(|e| Error::Backend(format!("schema migration {} failed: {e}", i + 1)))?;
    }
    // user_version lives in the database header and is covered by the transaction.
    tx.execute_batch(&format!("PRAGMA user_version = {known}"))
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    tracing::info!(from = current, to = known, "SQLite schema migrated");
    Ok(())
}

fn backend(e: rusqlite::Error) -> Error {
    Error::Backend(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        // A second run is a no-op (re-running CREATE TABLE would fail).
        migrate(&mut conn).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        assert!(matches!(migrate(&mut conn), Err(Error::Backend(_))));
    }
}

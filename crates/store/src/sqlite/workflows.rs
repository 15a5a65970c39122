//! Workflow state (orquesta conductors, action-chain progress) and the two multi-record
//! commits the workflow engine relies on: a workflow step (state, the workflow execution, its
//! new children and their queue items, all or nothing) and a child's status write together with
//! its parent's work item.

use super::{db, is_unique_violation, micros, queue, to_doc, SqliteStore};
use crate::{Error, QueueItem, Result, WorkflowCommit, WorkflowRecord, WorkflowStore};
use async_trait::async_trait;
use gale_model::{ExecStatus, Execution};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

fn version_of(conn: &Connection, id: &str) -> Result<Option<u64>> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT version FROM workflows WHERE execution_id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(db)?;
    Ok(v.map(|v| v.max(0) as u64))
}

fn status_of(conn: &Connection, id: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT status FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(db)
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn get_workflow(&self, execution_id: &str) -> Result<Option<WorkflowRecord>> {
        let id = execution_id.to_string();
        self.read(move |conn| {
            let row: Option<(i64, String)> = conn
                .prepare_cached("SELECT version, doc FROM workflows WHERE execution_id = ?1")
                .and_then(|mut s| {
                    s.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(db)?;
            Ok(row.map(|(version, doc)| WorkflowRecord {
                execution_id: id,
                version: version.max(0) as u64,
                doc,
            }))
        })
        .await
    }

    async fn commit_workflow(&self, commit: WorkflowCommit) -> Result<bool> {
        let exec_row = match &commit.execution {
            Some((e, expected)) => Some((Row::of(e)?, *expected)),
            None => None,
        };
        let children = commit
            .children
            .iter()
            .map(|(e, item)| Ok((Row::of(e)?, item.clone())))
            .collect::<Result<Vec<_>>>()?;
        let queued = !commit.enqueue.is_empty() || children.iter().any(|(_, i)| i.is_some());
        let WorkflowCommit {
            record,
            expected_version,
            enqueue,
            ..
        } = commit;
        let ok = self
            .write(move |conn| {
                // Every condition is checked before anything is written, so a refused commit
                // leaves no partial write behind (the writer keeps a job's writes on Ok).
                if version_of(conn, &record.execution_id)? != expected_version {
                    return Ok(false);
                }
                if let Some((row, expected)) = &exec_row {
                    match status_of(conn, &row.id)? {
                        Some(s) if s == expected.as_str() => {}
                        Some(_) => return Ok(false),
                        None => {
                            return Err(Error::NotFound {
                                kind: "execution",
                                key: row.id.clone(),
                            })
                        }
                    }
                }
                let next = expected_version.map_or(1, |v| v + 1) as i64;
                conn.prepare_cached(
                    "INSERT INTO workflows (execution_id, version, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (execution_id) DO UPDATE SET version = ?2, doc = ?3",
                )
                .and_then(|mut s| s.execute(params![record.execution_id, next, record.doc]))
                .map_err(db)?;
                if let Some((row, _)) = &exec_row {
                    row.overwrite(conn)?;
                }
                for (row, item) in children {
                    row.insert(conn)?;
                    if let Some(item) = item {
                        queue::insert(conn, item)?;
                    }
                }
                for item in enqueue {
                    queue::insert(conn, item)?;
                }
                Ok(true)
            })
            .await?;
        if ok && queued {
            self.work_available();
        }
        Ok(ok)
    }

    async fn update_execution_and_enqueue(
        &self,
        exec: &Execution,
        expected: ExecStatus,
        item: QueueItem,
    ) -> Result<bool> {
        let row = Row::of(exec)?;
        let ok = self
            .write(move |conn| {
                match status_of(conn, &row.id)? {
                    Some(s) if s == expected.as_str() => {}
                    Some(_) => return Ok(false),
                    None => {
                        return Err(Error::NotFound {
                            kind: "execution",
                            key: row.id.clone(),
                        })
                    }
                }
                row.overwrite(conn)?;
                queue::insert(conn, item)?;
                Ok(true)
            })
            .await?;
        if ok {
            self.work_available();
        }
        Ok(ok)
    }

    async fn delete_workflow(&self, execution_id: &str) -> Result<bool> {
        let id = execution_id.to_string();
        let n = self
            .write(move |conn| {
                conn.prepare_cached("DELETE FROM workflows WHERE execution_id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(db)
            })
            .await?;
        Ok(n > 0)
    }
}

/// An execution in column form (the same columns `executions.rs` writes; kept here so the
/// workflow commits do not reach into that module's private helpers).
struct Row {
    id: String,
    status: &'static str,
    action_ref: String,
    runner: String,
    parent: Option<String>,
    user: Option<String>,
    rule: Option<String>,
    trigger_instance: Option<String>,
    start_ts: i64,
    doc: String,
}

impl Row {
    fn of(exec: &Execution) -> Result<Row> {
        let field = |v: &Option<Value>, key: &str| {
            v.as_ref()
                .and_then(|o| o.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Row {
            id: exec.id.clone(),
            status: exec.status.as_str(),
            action_ref: exec.action.action_ref.clone(),
            runner: exec.runner.name.clone(),
            parent: exec.parent.clone(),
            user: exec.user().map(str::to_string),
            rule: field(&exec.rule, "name"),
            trigger_instance: field(&exec.trigger_instance, "id"),
            start_ts: micros(&exec.start_timestamp),
            doc: to_doc(exec)?,
        })
    }

    fn insert(&self, conn: &Connection) -> Result<()> {
        conn.prepare_cached(
            "INSERT INTO executions
                 (id, status, action_ref, runner, parent, user, rule, trigger_instance, start_ts, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut s| {
            s.execute(params![
                self.id,
                self.status,
                self.action_ref,
                self.runner,
                self.parent,
                self.user,
                self.rule,
                self.trigger_instance,
                self.start_ts,
                self.doc
            ])
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::Conflict {
                    kind: "execution",
                    key: self.id.clone(),
                    existing_id: self.id.clone(),
                }
            } else {
                db(e)
            }
        })?;
        Ok(())
    }

    /// Unconditional overwrite; callers have checked the status in the same transaction.
    fn overwrite(&self, conn: &Connection) -> Result<()> {
        conn.prepare_cached(
            "UPDATE executions SET status = ?2, action_ref = ?3, runner = ?4, parent = ?5,
                 user = ?6, rule = ?7, trigger_instance = ?8, start_ts = ?9, doc = ?10
             WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                self.id,
                self.status,
                self.action_ref,
                self.runner,
                self.parent,
                self.user,
                self.rule,
                self.trigger_instance,
                self.start_ts,
                self.doc
            ])
        })
        .map_err(db)?;
        Ok(())
    }
}

//! Executions (compare-and-set updates, filtered newest-first listing) and their output.

use super::{db, doc, docs, is_unique_violation, micros, queue, snapshot, to_doc, SqliteStore};
use crate::{Error, ExecutionFilter, ExecutionStore, OutputStore, QueueItem, Result};
use async_trait::async_trait;
use gale_model::{ExecStatus, Execution, OutputRecord};
use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde_json::Value;

/// An execution in column form. Built (and the JSON encoded) by the caller's task, so the
/// writer thread only runs SQL.
struct Row {
    id: String,
    status: &'static str,
    action_ref: String,
    runner: String,
    parent: Option<String>,
    user: Option<String>,
    /// `rule.name`: StackStorm's `rule` filter matches the rule name.
    rule: Option<String>,
    /// `trigger_instance.id`.
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
}

fn insert(conn: &Connection, r: &Row) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO executions
             (id, status, action_ref, runner, parent, user, rule, trigger_instance, start_ts, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.id,
            r.status,
            r.action_ref,
            r.runner,
            r.parent,
            r.user,
            r.rule,
            r.trigger_instance,
            r.start_ts,
            r.doc
        ])
    })
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::Conflict {
                kind: "execution",
                key: r.id.clone(),
                existing_id: r.id.clone(),
            }
        } else {
            db(e)
        }
    })?;
    Ok(())
}

/// `WHERE …` and its parameters for a filter (without paging).
fn where_clause(f: &ExecutionFilter) -> (String, Vec<Sql>) {
    let mut conds: Vec<&str> = Vec::new();
    let mut args: Vec<Sql> = Vec::new();
    let mut eq = |cond: &'static str, v: &Option<String>| {
        if let Some(v) = v {
            conds.push(cond);
            args.push(Sql::Text(v.clone()));
        }
    };
    eq("action_ref = ?", &f.action);
    eq("runner = ?", &f.runner);
    eq("user = ?", &f.user);
    eq("rule = ?", &f.rule);
    eq("trigger_instance = ?", &f.trigger_instance);
    if let Some(s) = f.status {
        conds.push("status = ?");
        args.push(Sql::Text(s.as_str().to_string()));
    }
    match &f.parent {
        None => {}
        Some(None) => conds.push("parent IS NULL"),
        Some(Some(p)) => {
            conds.push("parent = ?");
            args.push(Sql::Text(p.clone()));
        }
    }
    if let Some(t) = &f.timestamp_gt {
        conds.push("start_ts > ?");
        args.push(Sql::Integer(micros(t)));
    }
    if let Some(t) = &f.timestamp_lt {
        conds.push("start_ts < ?");
        args.push(Sql::Integer(micros(t)));
    }
    let clause = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (clause, args)
}

#[async_trait]
impl ExecutionStore for SqliteStore {
    async fn create_execution(&self, exec: &Execution, enqueue: Option<QueueItem>) -> Result<()> {
        let row = Row::of(exec)?;
        let enqueued = enqueue.is_some();
        self.write(move |conn| {
            insert(conn, &row)?;
            if let Some(item) = enqueue {
                queue::insert(conn, item)?;
            }
            Ok(())
        })
        .await?;
        if enqueued {
            self.work_available();
        }
        Ok(())
    }

    async fn get_execution(&self, id: &str) -> Result<Option<Execution>> {
        let id = id.to_string();
        self.read(move |conn| doc(conn, "SELECT doc FROM executions WHERE id = ?1", [id]))
            .await
    }

    async fn last_execution(&self) -> Result<Option<Execution>> {
        self.read(|conn| {
            doc(
                conn,
                "SELECT doc FROM executions ORDER BY start_ts DESC, seq DESC LIMIT 1",
                [],
            )
        })
        .await
    }

    async fn update_execution(&self, exec: &Execution, expected: ExecStatus) -> Result<bool> {
        let row = Row::of(exec)?;
        self.write(move |conn| {
            // One statement is the compare-and-set: the status check and the write cannot be
            // separated by another writer.
            let n = conn
                .prepare_cached(
                    "UPDATE executions SET status = ?2, action_ref = ?3, runner = ?4, parent = ?5,
                         user = ?6, rule = ?7, trigger_instance = ?8, start_ts = ?9, doc = ?10
                     WHERE id = ?1 AND status = ?11",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        row.id,
                        row.status,
                        row.action_ref,
                        row.runner,
                        row.parent,
                        row.user,
                        row.rule,
                        row.trigger_instance,
                        row.start_ts,
                        row.doc,
                        expected.as_str()
                    ])
                })
                .map_err(db)?;
            if n > 0 {
                return Ok(true);
            }
            let exists = conn
                .prepare_cached("SELECT 1 FROM executions WHERE id = ?1")
                .and_then(|mut s| s.query_row([&row.id], |_| Ok(())).optional())
                .map_err(db)?
                .is_some();
            if exists {
                Ok(false)
            } else {
                Err(Error::NotFound {
                    kind: "execution",
                    key: row.id,
                })
            }
        })
        .await
    }

    async fn list_executions(&self, filter: &ExecutionFilter) -> Result<(Vec<Execution>, u64)> {
        let (clause, args) = where_clause(filter);
        let order = if filter.sort_asc {
            "start_ts ASC, seq ASC"
        } else {
            "start_ts DESC, seq DESC"
        };
        let count_sql = format!("SELECT COUNT(*) FROM executions{clause}");
        let page_sql =
            format!("SELECT doc FROM executions{clause} ORDER BY {order} LIMIT ? OFFSET ?");
        let limit = filter
            .limit
            .map(|l| l.min(i64::MAX as usize) as i64)
            .unwrap_or(-1);
        let offset = filter.offset.min(i64::MAX as usize) as i64;
        self.read(move |conn| {
            snapshot(conn, |conn| {
                let total: i64 = conn
                    .prepare_cached(&count_sql)
                    .and_then(|mut s| s.query_row(params_from_iter(args.iter()), |r| r.get(0)))
                    .map_err(db)?;
                let mut page_args = args;
                page_args.push(Sql::Integer(limit));
                page_args.push(Sql::Integer(offset));
                let page = docs(conn, &page_sql, params_from_iter(page_args.iter()))?;
                Ok((page, total.max(0) as u64))
            })
        })
        .await
    }

    async fn executions_with_status(&self, statuses: &[ExecStatus]) -> Result<Vec<Execution>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; statuses.len()].join(", ");
        let sql =
            format!("SELECT doc FROM executions WHERE status IN ({marks}) ORDER BY start_ts, seq");
        let args: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        self.read(move |conn| docs(conn, &sql, params_from_iter(args.iter())))
            .await
    }
}

#[async_trait]
impl OutputStore for SqliteStore {
    async fn append_output(&self, records: &[OutputRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = records
            .iter()
            .map(|r| {
                Ok((
                    r.id.clone(),
                    r.execution_id.clone(),
                    r.output_type.clone(),
                    to_doc(r)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.write(move |conn| {
            let mut stmt = conn
                .prepare_cached("INSERT INTO output (id, execution_id, output_type, doc) VALUES (?1, ?2, ?3, ?4)")
                .map_err(db)?;
            for (id, exec, kind, json) in &rows {
                stmt.execute(params![id, exec, kind, json]).map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_output(
        &self,
        execution_id: &str,
        output_type: Option<&str>,
    ) -> Result<Vec<OutputRecord>> {
        let exec = execution_id.to_string();
        let kind = output_type.map(str::to_string);
        self.read(move |conn| match kind {
            Some(k) => docs(
                conn,
                "SELECT doc FROM output WHERE execution_id = ?1 AND output_type = ?2 ORDER BY seq",
                params![exec, k],
            ),
            None => docs(
                conn,
                "SELECT doc FROM output WHERE execution_id = ?1 ORDER BY seq",
                [exec],
            ),
        })
        .await
    }
}

//! Trigger types, triggers, rules, trigger instances, rule enforcements and traces.
//!
//! Trace membership is also kept in `trace_links` (trace id, kind, object id) so the
//! `execution` / `rule` / `trigger_instance` filters and "the trace of this instance" are
//! index lookups instead of scans of trace documents.

use super::{db, doc, docs, from_doc, is_unique_violation, micros, to_doc, SqliteStore};
use crate::events::{
    EnforcementFilter, InstanceCompletion, RuleStore, TraceFilter, TraceWrite,
    TriggerInstanceFilter, TriggerInstanceStore, TriggerStore,
};
use crate::{Error, Result};
use async_trait::async_trait;
use gale_model::events::{
    RuleEnforcement, Trace, Trigger, TriggerInstance, TriggerInstanceStatus, TriggerType,
};
use gale_model::new_id;
use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde_json::Value;

fn existing_id(conn: &Connection, sql: &str, key: &str) -> Result<Option<String>> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(db)
}

fn field<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

#[async_trait]
impl TriggerStore for SqliteStore {
    async fn upsert_trigger_type(&self, mut tt: TriggerType) -> Result<TriggerType> {
        self.write(move |conn| {
            tt.compute_refs();
            tt.id = match existing_id(conn, "SELECT id FROM trigger_types WHERE ref = ?1", &tt.type_ref)? {
                Some(id) => id,
                None if tt.id.is_empty() => new_id(),
                None => tt.id.clone(),
            };
            let json = to_doc(&tt)?;
            conn.prepare_cached(
                "INSERT INTO trigger_types (id, ref, pack, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET ref = excluded.ref, pack = excluded.pack, doc = excluded.doc",
            )
            .and_then(|mut s| s.execute(params![tt.id, tt.type_ref, tt.pack, json]))
            .map_err(db)?;
            Ok(tt)
        })
        .await
    }

    async fn get_trigger_type(&self, ref_or_id: &str) -> Result<Option<TriggerType>> {
        let key = ref_or_id.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM trigger_types WHERE id = ?1 OR ref = ?1 LIMIT 1",
                [key],
            )
        })
        .await
    }

    async fn list_trigger_types(&self, pack: Option<&str>) -> Result<Vec<TriggerType>> {
        let pack = pack.map(str::to_string);
        self.read(move |conn| {
            docs(
                conn,
                "SELECT doc FROM trigger_types WHERE (?1 IS NULL OR pack = ?1) ORDER BY ref",
                [pack],
            )
        })
        .await
    }

    async fn delete_trigger_type(&self, ref_or_id: &str) -> Result<bool> {
        let key = ref_or_id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM trigger_types WHERE id = ?1 OR ref = ?1")
                .and_then(|mut s| s.execute([key]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn upsert_trigger(&self, mut t: Trigger) -> Result<Trigger> {
        self.write(move |conn| {
            t.id = match existing_id(
                conn,
                "SELECT id FROM triggers WHERE ref = ?1",
                &t.trigger_ref,
            )? {
                Some(id) => id,
                None if t.id.is_empty() => new_id(),
                None => t.id.clone(),
            };
            let json = to_doc(&t)?;
            conn.prepare_cached(
                "INSERT INTO triggers (id, ref, uid, type, doc) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET ref = excluded.ref, uid = excluded.uid,
                 type = excluded.type, doc = excluded.doc",
            )
            .and_then(|mut s| s.execute(params![t.id, t.trigger_ref, t.uid, t.trigger_type, json]))
            .map_err(db)?;
            Ok(t)
        })
        .await
    }

    async fn get_trigger(&self, key: &str) -> Result<Option<Trigger>> {
        let key = key.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM triggers WHERE id = ?1 OR ref = ?1 OR uid = ?1 LIMIT 1",
                [key],
            )
        })
        .await
    }

    async fn list_triggers(&self, trigger_type: Option<&str>) -> Result<Vec<Trigger>> {
        let ty = trigger_type.map(str::to_string);
        self.read(move |conn| {
            docs(
                conn,
                "SELECT doc FROM triggers WHERE (?1 IS NULL OR type = ?1) ORDER BY ref",
                [ty],
            )
        })
        .await
    }

    async fn delete_trigger(&self, ref_or_id: &str) -> Result<bool> {
        let key = ref_or_id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM triggers WHERE id = ?1 OR ref = ?1")
                .and_then(|mut s| s.execute([key]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}

fn put_rule(conn: &Connection, rule: &Value) -> Result<()> {
    let json = to_doc(rule)?;
    conn.prepare_cached(
        "INSERT INTO rules (id, ref, pack, name, doc) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET ref = excluded.ref, pack = excluded.pack,
         name = excluded.name, doc = excluded.doc",
    )
    .and_then(|mut s| {
        s.execute(params![
            field(rule, &["id"]),
            field(rule, &["ref"]),
            field(rule, &["pack"]),
            field(rule, &["name"]),
            json
        ])
    })
    .map_err(|e| match e {
        e if is_unique_violation(&e) => Error::Conflict {
            kind: "rule",
            key: field(rule, &["ref"]).to_string(),
            existing_id: String::new(),
        },
        e => db(e),
    })?;
    Ok(())
}

fn set_id(rule: &mut Value, id: String) {
    if let Value::Object(m) = rule {
        m.insert("id".into(), Value::String(id));
    }
}

#[async_trait]
impl RuleStore for SqliteStore {
    async fn upsert_rule(&self, mut rule: Value) -> Result<Value> {
        self.write(move |conn| {
            let id = match existing_id(
                conn,
                "SELECT id FROM rules WHERE ref = ?1",
                field(&rule, &["ref"]),
            )? {
                Some(id) => id,
                None if field(&rule, &["id"]).is_empty() => new_id(),
                None => field(&rule, &["id"]).to_string(),
            };
            set_id(&mut rule, id);
            put_rule(conn, &rule)?;
            Ok(rule)
        })
        .await
    }

    async fn create_rule(&self, mut rule: Value) -> Result<Value> {
        self.write(move |conn| {
            let r = field(&rule, &["ref"]).to_string();
            if let Some(existing) = existing_id(conn, "SELECT id FROM rules WHERE ref = ?1", &r)? {
                return Err(Error::Conflict {
                    kind: "rule",
                    key: r,
                    existing_id: existing,
                });
            }
            if field(&rule, &["id"]).is_empty() {
                set_id(&mut rule, new_id());
            }
            put_rule(conn, &rule)?;
            Ok(rule)
        })
        .await
    }

    async fn get_rule(&self, ref_or_id: &str) -> Result<Option<Value>> {
        let key = ref_or_id.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM rules WHERE id = ?1 OR ref = ?1 LIMIT 1",
                [key],
            )
        })
        .await
    }

    async fn list_rules(&self) -> Result<Vec<Value>> {
        self.read(|conn| docs(conn, "SELECT doc FROM rules ORDER BY pack, name", []))
            .await
    }

    async fn delete_rule(&self, ref_or_id: &str) -> Result<bool> {
        let key = ref_or_id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM rules WHERE id = ?1 OR ref = ?1")
                .and_then(|mut s| s.execute([key]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}

fn put_trace(conn: &Connection, t: &Trace) -> Result<()> {
    let json = to_doc(t)?;
    conn.prepare_cached(
        "INSERT INTO traces (id, trace_tag, start_ts, doc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
    )
    .and_then(|mut s| s.execute(params![t.id, t.trace_tag, micros(&t.start_timestamp), json]))
    .map_err(db)?;
    Ok(())
}

fn link(conn: &Connection, trace_id: &str, kind: &str, object_id: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO trace_links (trace_id, kind, object_id) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![trace_id, kind, object_id]))
    .map_err(db)?;
    Ok(())
}

fn get_trace_tx(conn: &Connection, id: &str) -> Result<Option<Trace>> {
    doc(conn, "SELECT doc FROM traces WHERE id = ?1", [id])
}

fn trace_by_link(conn: &Connection, kind: &str, object_id: &str) -> Result<Option<Trace>> {
    doc(
        conn,
        "SELECT t.doc FROM trace_links l JOIN traces t ON t.id = l.trace_id
         WHERE l.kind = ?1 AND l.object_id = ?2 ORDER BY t.seq DESC LIMIT 1",
        params![kind, object_id],
    )
}

fn instance_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
    r.get(0)
}

fn set_status(conn: &Connection, id: &str, status: TriggerInstanceStatus) -> Result<()> {
    conn.prepare_cached(
        "UPDATE trigger_instances SET status = ?2, doc = json_set(doc, '$.status', ?2) WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, status.as_str()]))
    .map_err(db)?;
    Ok(())
}

/// `WHERE` clause and parameters of a paged list; `ORDER BY` and `LIMIT` are the caller's.
struct Where {
    clauses: Vec<String>,
    params: Vec<Sql>,
}

impl Where {
    fn new() -> Self {
        Where {
            clauses: vec!["1 = 1".into()],
            params: Vec::new(),
        }
    }
    fn add(&mut self, clause: &str, v: Sql) {
        self.params.push(v);
        self.clauses
            .push(clause.replace('?', &format!("?{}", self.params.len())));
    }
    fn sql(&self) -> String {
        self.clauses.join(" AND ")
    }
}

fn page(
    conn: &Connection,
    table: &str,
    w: &Where,
    order: &str,
    offset: usize,
    limit: Option<usize>,
) -> Result<(Vec<String>, u64)> {
    let total: i64 = conn
        .prepare(&format!("SELECT count(*) FROM {table} WHERE {}", w.sql()))
        .and_then(|mut s| s.query_row(params_from_iter(w.params.iter()), |r| r.get(0)))
        .map_err(db)?;
    let limit = limit.map(|l| l as i64).unwrap_or(-1);
    let sql = format!(
        "SELECT doc FROM {table} WHERE {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        w.sql()
    );
    let mut stmt = conn.prepare(&sql).map_err(db)?;
    let rows = stmt
        .query_map(params_from_iter(w.params.iter()), instance_row)
        .map_err(db)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r.map_err(db)?);
    }
    Ok((out, total.max(0) as u64))
}

fn decode<T: serde::de::DeserializeOwned>(
    (docs, total): (Vec<String>, u64),
) -> Result<(Vec<T>, u64)> {
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        out.push(from_doc(&d)?);
    }
    Ok((out, total))
}

#[async_trait]
impl TriggerInstanceStore for SqliteStore {
    async fn create_trigger_instance(&self, ti: &TriggerInstance, trace: TraceWrite) -> Result<()> {
        let ti = ti.clone();
        self.write(move |conn| {
            let json = to_doc(&ti)?;
            conn.prepare_cached(
                "INSERT INTO trigger_instances (id, trigger, status, occurrence_time, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    ti.id,
                    ti.trigger,
                    ti.status.as_str(),
                    micros(&ti.occurrence_time),
                    json
                ])
            })
            .map_err(db)?;
            let trace_id = match trace {
                TraceWrite::New(t) => {
                    put_trace(conn, &t)?;
                    t.id
                }
                TraceWrite::Append {
                    trace_id,
                    component,
                } => match get_trace_tx(conn, &trace_id)? {
                    Some(mut t) => {
                        t.trigger_instances.push(component);
                        put_trace(conn, &t)?;
                        trace_id
                    }
                    None => {
                        let t = Trace {
                            id: trace_id.clone(),
                            uid: format!("trace:{trace_id}"),
                            trace_tag: format!("trigger_instance-{}", ti.id),
                            trigger_instances: vec![component],
                            rules: Vec::new(),
                            action_executions: Vec::new(),
                            start_timestamp: ti.occurrence_time,
                        };
                        put_trace(conn, &t)?;
                        trace_id
                    }
                },
            };
            link(conn, &trace_id, "trigger_instance", &ti.id)
        })
        .await?;
        self.work_available();
        Ok(())
    }

    async fn claim_trigger_instances(&self, max: usize) -> Result<Vec<TriggerInstance>> {
        self.write(move |conn| {
            let ids: Vec<String> = {
                let mut s = conn
                    .prepare_cached(
                        "SELECT id FROM trigger_instances WHERE status = 'pending' ORDER BY seq LIMIT ?1",
                    )
                    .map_err(db)?;
                let rows = s.query_map([max as i64], |r| r.get(0)).map_err(db)?;
                let mut v = Vec::new();
                for r in rows {
                    v.push(r.map_err(db)?);
                }
                v
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                set_status(conn, &id, TriggerInstanceStatus::Processing)?;
                if let Some(ti) = doc(conn, "SELECT doc FROM trigger_instances WHERE id = ?1", [&id])? {
                    out.push(ti);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn trigger_instances_with_status(
        &self,
        status: TriggerInstanceStatus,
    ) -> Result<Vec<TriggerInstance>> {
        self.read(move |conn| {
            docs(
                conn,
                "SELECT doc FROM trigger_instances WHERE status = ?1 ORDER BY seq",
                [status.as_str()],
            )
        })
        .await
    }

    async fn complete_trigger_instance(&self, done: InstanceCompletion) -> Result<()> {
        self.write(move |conn| {
            set_status(conn, &done.instance_id, done.status)?;
            for e in &done.enforcements {
                let json = to_doc(e)?;
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO rule_enforcements
                     (id, trigger_instance_id, rule_ref, rule_id, execution_id, enforced_at, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        e.id,
                        e.trigger_instance_id,
                        e.rule_ref(),
                        e.rule_id(),
                        e.execution_id,
                        micros(&e.enforced_at),
                        json
                    ])
                })
                .map_err(db)?;
            }
            if let Some(trace_id) = &done.trace_id {
                if done.rules.is_empty() && done.executions.is_empty() {
                    return Ok(());
                }
                if let Some(mut t) = get_trace_tx(conn, trace_id)? {
                    for c in &done.rules {
                        link(conn, trace_id, "rule", &c.object_id)?;
                    }
                    for c in &done.executions {
                        link(conn, trace_id, "execution", &c.object_id)?;
                    }
                    t.rules.extend(done.rules);
                    t.action_executions.extend(done.executions);
                    put_trace(conn, &t)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn get_trigger_instance(&self, id: &str) -> Result<Option<TriggerInstance>> {
        let id = id.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM trigger_instances WHERE id = ?1",
                [id],
            )
        })
        .await
    }

    async fn list_trigger_instances(
        &self,
        f: &TriggerInstanceFilter,
    ) -> Result<(Vec<TriggerInstance>, u64)> {
        let f = f.clone();
        self.read(move |conn| {
            let mut w = Where::new();
            if !f.trigger.is_empty() {
                let marks: Vec<String> = f
                    .trigger
                    .iter()
                    .map(|t| {
                        w.params.push(Sql::Text(t.clone()));
                        format!("?{}", w.params.len())
                    })
                    .collect();
                w.clauses.push(format!("trigger IN ({})", marks.join(", ")));
            }
            if let Some(s) = f.status {
                w.add("status = ?", Sql::Text(s.as_str().into()));
            }
            if let Some(t) = f.timestamp_gt {
                w.add("occurrence_time > ?", Sql::Integer(micros(&t)));
            }
            if let Some(t) = f.timestamp_lt {
                w.add("occurrence_time < ?", Sql::Integer(micros(&t)));
            }
            decode(page(
                conn,
                "trigger_instances",
                &w,
                "occurrence_time DESC, seq DESC",
                f.offset,
                f.limit,
            )?)
        })
        .await
    }

    async fn get_rule_enforcement(&self, id: &str) -> Result<Option<RuleEnforcement>> {
        let id = id.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM rule_enforcements WHERE id = ?1",
                [id],
            )
        })
        .await
    }

    async fn list_rule_enforcements(
        &self,
        f: &EnforcementFilter,
    ) -> Result<(Vec<RuleEnforcement>, u64)> {
        let f = f.clone();
        self.read(move |conn| {
            let mut w = Where::new();
            if let Some(r) = &f.rule {
                w.params.push(Sql::Text(r.clone()));
                let n = w.params.len();
                w.clauses
                    .push(format!("(rule_ref = ?{n} OR rule_id = ?{n})"));
            }
            if let Some(t) = &f.trigger_instance {
                w.add("trigger_instance_id = ?", Sql::Text(t.clone()));
            }
            if let Some(e) = &f.execution {
                w.add("execution_id = ?", Sql::Text(e.clone()));
            }
            if let Some(t) = f.enforced_at_gt {
                w.add("enforced_at > ?", Sql::Integer(micros(&t)));
            }
            if let Some(t) = f.enforced_at_lt {
                w.add("enforced_at < ?", Sql::Integer(micros(&t)));
            }
            decode(page(
                conn,
                "rule_enforcements",
                &w,
                "enforced_at DESC, seq DESC",
                f.offset,
                f.limit,
            )?)
        })
        .await
    }

    async fn get_trace(&self, id: &str) -> Result<Option<Trace>> {
        let id = id.to_string();
        self.read(move |conn| get_trace_tx(conn, &id)).await
    }

    async fn trace_of_trigger_instance(&self, instance_id: &str) -> Result<Option<Trace>> {
        let id = instance_id.to_string();
        self.read(move |conn| trace_by_link(conn, "trigger_instance", &id))
            .await
    }

    async fn trace_of_execution(&self, execution_id: &str) -> Result<Option<Trace>> {
        let id = execution_id.to_string();
        self.read(move |conn| trace_by_link(conn, "execution", &id))
            .await
    }

    async fn list_traces(&self, f: &TraceFilter) -> Result<(Vec<Trace>, u64)> {
        let f = f.clone();
        self.read(move |conn| {
            let mut w = Where::new();
            if let Some(t) = &f.trace_tag {
                w.add("trace_tag = ?", Sql::Text(t.clone()));
            }
            for (kind, v) in [
                ("execution", &f.execution),
                ("rule", &f.rule),
                ("trigger_instance", &f.trigger_instance),
            ] {
                if let Some(v) = v {
                    w.params.push(Sql::Text(v.clone()));
                    w.clauses.push(format!(
                        "id IN (SELECT trace_id FROM trace_links WHERE kind = '{kind}' AND object_id = ?{})",
                        w.params.len()
                    ));
                }
            }
            let order = if f.sort_asc {
                "start_ts ASC, seq ASC"
            } else {
                "start_ts DESC, seq DESC"
            };
            decode(page(conn, "traces", &w, order, f.offset, f.limit)?)
        })
        .await
    }
}

//! Trigger types, trigger binding and rule registration (events.md §2.1, §2.2, §5.2), the
//! in-memory rule index and webhook URL map that follow every change, and pack registration.

use crate::{systypes, uid, Error, Inner, Result};
use gale_model::events::{Trigger, TriggerType};
use gale_rules::{Rule, RuleCatalog, RuleError};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::Arc;

/// A rule document to create, replace or register.
#[derive(Clone, Debug)]
pub struct RuleRequest {
    /// The rule document (StackStorm API / file shape).
    pub doc: Value,
    /// The creating user, stored as `context.user` (API); `None` keeps the document's.
    pub user: Option<String>,
    /// Set for pack files: the pack directory's ref (the default pack, and a different
    /// `pack:` is rejected). API rules default to pack `default`.
    pub pack_dir: Option<String>,
}

impl RuleRequest {
    pub fn api(doc: Value, user: &str) -> Self {
        RuleRequest {
            doc,
            user: Some(user.to_string()),
            pack_dir: None,
        }
    }
}

/// What [`register_pack_dir`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackEventsReport {
    pub trigger_types: usize,
    pub rules: usize,
    /// Per-file messages of content that was skipped (`fail_on_failure = false`).
    pub errors: Vec<String>,
}

fn rule_error(e: RuleError) -> Error {
    Error::Invalid(e.to_string())
}

pub(crate) async fn register_system_types(inner: &Inner) -> Result<()> {
    for tt in systypes::system_trigger_types(inner.opts.action_sensor) {
        upsert_trigger_type(inner, tt).await?;
    }
    Ok(())
}

/// Upsert by ref; a parameter-less type gets (or keeps) its shadow trigger.
pub(crate) async fn upsert_trigger_type(inner: &Inner, mut tt: TriggerType) -> Result<TriggerType> {
    if tt.name.is_empty() || tt.pack.is_empty() {
        return Err(Error::Invalid(
            "TriggerType: 'name' and 'pack' are required properties".into(),
        ));
    }
    tt.compute_refs();
    let tt = inner.store.upsert_trigger_type(tt).await?;
    if let Ok(mut m) = inner.schemas.write() {
        m.remove(&tt.type_ref);
    }
    if !tt.is_parameterized() {
        inner.note_triggers_changed();
        let mut shadow = Trigger::shadow(&tt);
        shadow.uid = uid::trigger_uid(&tt.pack, &tt.name, &Map::new());
        if let Some(existing) = inner.store.get_trigger(&shadow.trigger_ref).await? {
            shadow.id = existing.id;
            shadow.ref_count = existing.ref_count;
        }
        inner.store.upsert_trigger(shadow).await?;
    }
    Ok(tt)
}

pub(crate) async fn load_rules(inner: &Inner) -> Result<()> {
    let docs = inner.store.list_rules().await?;
    let mut index = gale_rules::RuleIndex::new();
    for doc in docs {
        match serde_json::from_value::<Rule>(doc) {
            Ok(r) => index.upsert(r),
            Err(e) => tracing::error!(error = %e, "stored rule cannot be decoded; skipped"),
        }
    }
    if let Ok(mut i) = inner.index.write() {
        *i = index;
    }
    inner
        .rules_loaded
        .store(true, std::sync::atomic::Ordering::Release);
    refresh_webhooks(inner).await
}

/// Rebuild the custom-webhook URL map from the stored `core.st2.webhook` triggers.
pub(crate) async fn refresh_webhooks(inner: &Inner) -> Result<()> {
    let triggers = inner.store.list_triggers(Some(systypes::WEBHOOK)).await?;
    let mut map: std::collections::HashMap<String, Vec<Trigger>> = Default::default();
    for t in triggers {
        let Some(url) = t.parameters.get("url").and_then(Value::as_str) else {
            continue;
        };
        map.entry(url.trim_matches('/').to_string())
            .or_default()
            .push(t);
    }
    if let Ok(mut w) = inner.webhooks.write() {
        *w = map;
    }
    Ok(())
}

struct Catalog {
    trigger_type: Option<bool>,
    action: bool,
}

impl RuleCatalog for Catalog {
    fn trigger_type(&self, _type_ref: &str) -> Option<bool> {
        self.trigger_type
    }
    fn action_exists(&self, _action_ref: &str) -> bool {
        self.action
    }
}

/// Validate `instance` against a StackStorm-dialect schema; the message of the best error.
pub(crate) fn schema_error(schema: &Value, instance: &Value) -> Option<String> {
    schema_error_at(schema, instance).map(|(_, m)| m)
}

/// [`schema_error`] with the instance path of the failing value (`unit`, `a.0`; empty for
/// the instance itself), so registration errors can name the field.
pub(crate) fn schema_error_at(schema: &Value, instance: &Value) -> Option<(String, String)> {
    let empty = match schema {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    };
    if empty {
        return None;
    }
    let draft4 = gale_packs::schema::to_draft4(schema);
    match gale_packs::schema::best_error(&draft4, instance) {
        Ok(None) => None,
        Ok(Some(e)) => Some((e.path.join("."), e.message)),
        Err(e) => Some((String::new(), e)),
    }
}

/// A payload schema compiled once (the draft-4 form kept for error messages).
pub(crate) struct Compiled {
    draft4: Value,
    schema: Option<jsonschema::JSONSchema>,
}

fn compiled_payload_schema(inner: &Inner, tt: &TriggerType) -> Arc<Compiled> {
    if let Some(c) = inner
        .schemas
        .read()
        .ok()
        .and_then(|m| m.get(&tt.type_ref).cloned())
    {
        return c;
    }
    let empty = match &tt.payload_schema {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    };
    let draft4 = gale_packs::schema::to_draft4(&tt.payload_schema);
    let schema = if empty {
        None
    } else {
        gale_packs::schema::compile(&draft4).ok()
    };
    let c = Arc::new(Compiled { draft4, schema });
    if let Ok(mut m) = inner.schemas.write() {
        m.insert(tt.type_ref.clone(), c.clone());
    }
    c
}

/// The trigger type's schema for validation: built-in for system types, else the stored one.
async fn stored_or_builtin_type(inner: &Inner, type_ref: &str) -> Result<Option<TriggerType>> {
    if systypes::is_system_type(type_ref) {
        return Ok(systypes::system_trigger_types(true)
            .into_iter()
            .find(|t| t.type_ref == type_ref));
    }
    Ok(inner.store.get_trigger_type(type_ref).await?)
}

/// Resolve a dispatched trigger string to its type ref: a trigger ref whose last segment is
/// a UUID4 (a parameterized trigger) resolves through the stored trigger.
async fn dispatched_type(inner: &Inner, trigger: &str) -> Result<Option<String>> {
    let last = trigger.rsplit('.').next().unwrap_or("");
    let is_uuid4 = uuid::Uuid::parse_str(last)
        .map(|u| u.get_version_num() == 4)
        .unwrap_or(false);
    if is_uuid4 {
        return Ok(inner
            .store
            .get_trigger(trigger)
            .await?
            .map(|t| t.trigger_type));
    }
    Ok(Some(trigger.to_string()))
}

/// Payload validation of the service dispatch path (events.md §2.4 step 2).
pub(crate) async fn validate_payload(inner: &Inner, trigger: &str, payload: &Value) -> Result<()> {
    if !inner.opts.validate_trigger_payload {
        return Ok(());
    }
    let fail = |reason: String| {
        Error::Invalid(format!(
            "Trigger payload validation failed and validation is enabled, not dispatching a \
             trigger \"{trigger}\" ({}): {reason}",
            gale_model::py::py_repr(payload)
        ))
    };
    let Some(type_ref) = dispatched_type(inner, trigger).await? else {
        return Err(fail(format!("Trigger \"{trigger}\" doesn't exist")));
    };
    let Some(tt) = stored_or_builtin_type(inner, &type_ref).await? else {
        return Err(fail(format!(
            "Failed to load trigger type \"{type_ref}\" (trigger type doesn't exist)"
        )));
    };
    let compiled = compiled_payload_schema(inner, &tt);
    match &compiled.schema {
        Some(schema) if !schema.is_valid(payload) => {
            let reason = schema_error(&compiled.draft4, payload)
                .unwrap_or_else(|| "invalid payload".to_string());
            Err(fail(reason))
        }
        // An empty schema, or one that does not compile (stored as given), validates nothing.
        _ => Ok(()),
    }
}

enum Mode<'a> {
    Create,
    Update(&'a str),
    Upsert,
}

/// Find or create the trigger a rule binds to; returns its ref. Parameterized triggers gain
/// a reference.
async fn bind_trigger(inner: &Inner, rule: &Rule) -> Result<String> {
    let type_ref = &rule.trigger.trigger_type;
    if rule.trigger.parameters.is_empty() {
        if inner.store.get_trigger(type_ref).await?.is_none() {
            return Err(rule_error(RuleError::TriggerTypeMissing(type_ref.clone())));
        }
        return Ok(type_ref.clone());
    }
    let existing = inner
        .store
        .list_triggers(Some(type_ref))
        .await?
        .into_iter()
        // serde_json maps compare as maps: key order does not create a second trigger.
        .find(|t| t.parameters == rule.trigger.parameters);
    let trigger = match existing {
        Some(mut t) => {
            t.ref_count += 1;
            t
        }
        None => {
            let (pack, _) = type_ref.split_once('.').unwrap_or(("", type_ref));
            let name = uuid::Uuid::new_v4().to_string();
            Trigger {
                id: String::new(),
                trigger_ref: format!("{pack}.{name}"),
                uid: uid::trigger_uid(pack, &name, &rule.trigger.parameters),
                name,
                pack: pack.to_string(),
                trigger_type: type_ref.clone(),
                parameters: rule.trigger.parameters.clone(),
                description: rule.trigger.description.clone(),
                ref_count: 1,
            }
        }
    };
    let stored = inner.store.upsert_trigger(trigger).await?;
    Ok(stored.trigger_ref)
}

/// Drop one reference of a rule's parameterized trigger; delete it at zero.
async fn release_trigger(inner: &Inner, rule: &Rule) -> Result<()> {
    if rule.trigger.parameters.is_empty() {
        return Ok(());
    }
    let Some(r) = rule.trigger.r#ref.as_deref() else {
        return Ok(());
    };
    if let Some(mut t) = inner.store.get_trigger(r).await? {
        t.ref_count -= 1;
        if t.ref_count <= 0 {
            inner.store.delete_trigger(&t.id).await?;
        } else {
            inner.store.upsert_trigger(t).await?;
        }
    }
    Ok(())
}

fn parse_request(req: &RuleRequest) -> Result<Rule> {
    let mut doc = req.doc.clone();
    if let Value::Object(m) = &mut doc {
        // Computed fields may be sent back (e.g. a GET body edited and PUT); ignore them.
        for k in ["id", "ref", "uid"] {
            m.remove(k);
        }
        if let Some(Value::Object(t)) = m.get_mut("trigger") {
            t.remove("ref");
        }
    }
    let mut rule = match &req.pack_dir {
        Some(pack) => {
            let text = serde_json::to_string(&doc).map_err(|e| Error::Invalid(e.to_string()))?;
            Rule::from_pack_file(&text, pack).map_err(rule_error)?
        }
        None => Rule::from_value(doc, "default").map_err(rule_error)?,
    };
    if let Some(user) = &req.user {
        rule.context.insert("user".into(), json!(user));
    }
    Ok(rule)
}

pub(crate) async fn save_rule(
    inner: &Inner,
    req: RuleRequest,
    update: Option<&str>,
) -> Result<Rule> {
    let mode = match update {
        Some(key) => Mode::Update(key),
        None if req.pack_dir.is_some() => Mode::Upsert,
        None => Mode::Create,
    };
    save(inner, req, mode).await
}

async fn save(inner: &Inner, req: RuleRequest, mode: Mode<'_>) -> Result<Rule> {
    let mut rule = parse_request(&req)?;
    let _g = inner.registration.lock().await;
    let previous: Option<Rule> = match mode {
        Mode::Update(key) => {
            let doc = inner
                .store
                .get_rule(key)
                .await?
                .ok_or_else(|| Error::NotFound {
                    kind: "Rule",
                    key: key.to_string(),
                })?;
            Some(decode(doc)?)
        }
        Mode::Create | Mode::Upsert => match inner.store.get_rule(&rule.r#ref).await? {
            Some(doc) => {
                let old = decode(doc)?;
                if matches!(mode, Mode::Create) {
                    return Err(Error::Conflict {
                        message: format!(
                            "Tried to save duplicate unique keys (ref: \"{}\")",
                            rule.r#ref
                        ),
                        existing_id: old.id,
                    });
                }
                Some(old)
            }
            None => None,
        },
    };
    // Registration checks (events.md §5.2) against what exists.
    let tt = stored_or_builtin_type(inner, &rule.trigger.trigger_type).await?;
    let catalog = Catalog {
        trigger_type: tt.as_ref().map(TriggerType::is_parameterized),
        action: inner.store.get_action(&rule.action.r#ref).await?.is_some(),
    };
    rule.validate_with(&catalog).map_err(rule_error)?;
    if let Some(tt) = &tt {
        if tt.is_parameterized() || systypes::is_system_type(&tt.type_ref) {
            let params = Value::Object(rule.trigger.parameters.clone());
            if let Some((path, reason)) = schema_error_at(&tt.parameters_schema, &params) {
                let field = if path.is_empty() {
                    "trigger.parameters".to_string()
                } else {
                    format!("trigger.parameters.{path}")
                };
                return Err(Error::Invalid(format!("{field}: {reason}")));
            }
        }
    }
    let check = inner.params_check.read().ok().and_then(|c| c.clone());
    if let Some(check) = check {
        check(&rule.trigger.trigger_type, &rule.trigger.parameters)
            .map_err(|reason| Error::Invalid(format!("trigger.parameters: {reason}")))?;
    }
    rule.trigger.r#ref = Some(bind_trigger(inner, &rule).await?);
    if let Some(old) = &previous {
        rule.id = old.id.clone();
        if matches!(mode, Mode::Update(_)) && req.user.is_some() {
            // StackStorm keeps the creator on update.
            if let Some(u) = old.context.get("user") {
                rule.context.insert("user".into(), u.clone());
            }
        }
    }
    let doc = serde_json::to_value(&rule).map_err(|e| Error::Invalid(e.to_string()))?;
    let stored = match (&mode, &previous) {
        (Mode::Create, _) | (Mode::Upsert, None) => inner.store.create_rule(doc).await,
        _ => inner.store.upsert_rule(doc).await,
    };
    let stored = match stored {
        Ok(d) => d,
        Err(e) => {
            // Undo the reference taken above.
            let _ = release_trigger(inner, &rule).await;
            return Err(e.into());
        }
    };
    let rule = decode(stored)?;
    if let Some(old) = &previous {
        release_trigger(inner, old).await?;
        if old.r#ref != rule.r#ref {
            if let Ok(mut i) = inner.index.write() {
                i.remove(&old.r#ref);
            }
        }
    }
    if let Ok(mut i) = inner.index.write() {
        i.upsert(rule.clone());
    }
    inner.note_triggers_changed();
    let webhook_changed = rule.trigger.trigger_type == systypes::WEBHOOK
        || previous
            .as_ref()
            .is_some_and(|o| o.trigger.trigger_type == systypes::WEBHOOK);
    if webhook_changed {
        refresh_webhooks(inner).await?;
    }
    tracing::info!(rule = %rule.r#ref, trigger = %rule.trigger_ref(), "rule registered");
    Ok(rule)
}

fn decode(doc: Value) -> Result<Rule> {
    serde_json::from_value(doc)
        .map_err(|e| Error::Store(gale_store::Error::Corrupt(format!("stored rule: {e}"))))
}

pub(crate) async fn delete_rule(inner: &Inner, key: &str) -> Result<bool> {
    let _g = inner.registration.lock().await;
    let Some(doc) = inner.store.get_rule(key).await? else {
        return Ok(false);
    };
    let rule = decode(doc)?;
    inner.store.delete_rule(&rule.id).await?;
    release_trigger(inner, &rule).await?;
    if let Ok(mut i) = inner.index.write() {
        i.remove(&rule.r#ref);
    }
    inner.note_triggers_changed();
    if rule.trigger.trigger_type == systypes::WEBHOOK {
        refresh_webhooks(inner).await?;
    }
    Ok(true)
}

pub(crate) async fn register_pack_dir(
    inner: &Inner,
    dir: &Path,
    fail_on_failure: bool,
) -> Result<PackEventsReport> {
    let pack = gale_packs::load_pack_metadata(dir).map_err(Error::Invalid)?;
    let content = gale_packs::events::load_event_content(dir, &pack.pack_ref);
    let mut report = PackEventsReport::default();
    let fail = |report: &mut PackEventsReport, msg: String| -> Result<()> {
        if fail_on_failure {
            return Err(Error::Invalid(msg));
        }
        tracing::warn!(pack = %pack.pack_ref, error = %msg, "pack event content skipped");
        report.errors.push(msg);
        Ok(())
    };
    for f in &content.failures {
        fail(
            &mut report,
            format!("Failed to register {}: {}", f.path.display(), f.message),
        )?;
    }
    for tt in content.trigger_types {
        let _g = inner.registration.lock().await;
        upsert_trigger_type(inner, tt).await?;
        report.trigger_types += 1;
    }
    for (path, mut doc) in content.rules {
        if let (Some(dir), Some(map)) = (&inner.opts.overrides_dir, doc.as_object_mut()) {
            if let Err(e) =
                gale_packs::overrides::apply_overrides(dir, &pack.pack_ref, "rules", map)
            {
                fail(
                    &mut report,
                    format!(
                        "Failed to register rule \"{}\": enabled: {e}",
                        path.display()
                    ),
                )?;
                continue;
            }
        }
        let req = RuleRequest {
            doc,
            user: None,
            pack_dir: Some(pack.pack_ref.clone()),
        };
        match save(inner, req, Mode::Upsert).await {
            Ok(_) => report.rules += 1,
            Err(Error::Store(e)) => return Err(Error::Store(e)),
            Err(e) => fail(
                &mut report,
                format!("Failed to register rule \"{}\": {e}", path.display()),
            )?,
        }
    }
    Ok(report)
}

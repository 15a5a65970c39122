//! gale-events owns the event path of a Gale node: the built-in trigger types, triggers and
//! their binding to rules, the durable intake of trigger instances ([`Events::emit`], webhooks),
//! the rules engine service that evaluates the [`gale_rules::RuleIndex`] and requests
//! executions through [`gale_engine::Engine`], rule enforcement and trace records, and the
//! `actiontrigger` / `notifytrigger` instances emitted when executions complete.
//!
//! It must not write SQL (only `gale_store` traits) nor decide rule semantics (gale-rules does,
//! purely). The key choice: an instance is committed `pending` before anyone is told it exists
//! (a webhook is acknowledged only after the commit), the processor claims instances with one
//! atomic `pending → processing` write, and the final status is written together with the
//! enforcements. After a crash, `processing` instances are processed again, and a rule whose
//! execution already exists for that instance (found through the execution's `rule` and
//! `trigger_instance` context) is recorded, not requested twice — so every acknowledged
//! instance causes each of its executions exactly once. The timer engine (gale-sensors) is
//! driven from here ([`timers`]): it follows the stored timer triggers and emits its fires.

mod notify;
mod processor;
mod registry;
pub mod systypes;
pub mod timers;
pub mod uid;
pub mod webhook;

pub use registry::{PackEventsReport, RuleRequest};

use gale_engine::Engine;
use gale_expr::ContextProvider;
use gale_model::events::{
    Trace, TraceComponent, Trigger, TriggerInstance, TriggerInstanceStatus, TriggerType,
};
use gale_rules::RuleIndex;
use gale_store::{DynStore, TraceWrite};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Events service options, loaded once by the binary.
#[derive(Clone, Debug)]
pub struct EventsOptions {
    /// `system_user.user`: the user of rule-triggered executions.
    pub system_user: String,
    /// `action_sensor.enable`.
    pub action_sensor: bool,
    /// `action_sensor.emit_when`.
    pub emit_when: Vec<String>,
    /// `system.validate_trigger_payload` (webhook / service dispatch path).
    pub validate_trigger_payload: bool,
    /// Instances claimed per store write.
    pub batch: usize,
    /// Instances of one batch processed concurrently.
    pub concurrency: usize,
    /// `<system.base_path>/overrides`: pack registration applies its `rules` `enabled`
    /// overrides (packs.md §3). `None` = no overrides.
    pub overrides_dir: Option<std::path::PathBuf>,
}

impl Default for EventsOptions {
    fn default() -> Self {
        EventsOptions {
            system_user: "stanley".into(),
            action_sensor: true,
            emit_when: ["succeeded", "failed", "timeout", "canceled", "abandoned"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            validate_trigger_payload: true,
            batch: 256,
            concurrency: 32,
            overrides_dir: None,
        }
    }
}

/// Errors of the events service. [`Error::http_status`] is what the API answers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404.
    #[error("{kind} \"{key}\" not found")]
    NotFound { kind: &'static str, key: String },
    /// 404 on `POST /webhooks/{hook}`.
    #[error("Webhook {0} not registered with st2")]
    WebhookNotFound(String),
    /// 400: bad input (rule document, payload validation, webhook body), message names it.
    #[error("{0}")]
    Invalid(String),
    /// 409.
    #[error("{message}")]
    Conflict {
        message: String,
        existing_id: String,
    },
    /// 500.
    #[error(transparent)]
    Store(#[from] gale_store::Error),
}

impl Error {
    pub fn http_status(&self) -> u16 {
        match self {
            Error::NotFound { .. } | Error::WebhookNotFound(_) => 404,
            Error::Invalid(_) => 400,
            Error::Conflict { .. } => 409,
            Error::Store(_) => 500,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How an instance is emitted (dispatch message extras, events.md §2.4 and §9.1).
#[derive(Clone, Debug, Default)]
pub struct EmitContext {
    /// Trace tag for a new trace (default `trigger_instance-<id>`).
    pub trace_tag: Option<String>,
    /// Append the instance to this existing trace instead of creating one.
    pub trace_id: Option<String>,
    /// `caused_by` of the instance's trace component.
    pub caused_by: Option<Value>,
}

/// Extra trigger-parameter checks at rule registration, by trigger type ref (e.g. the timer
/// engine's cron expression check, events.md §4.4). `Err` is the reason, reported as a 400
/// naming `trigger.parameters`.
pub type TriggerParamsCheck =
    Arc<dyn Fn(&str, &Map<String, Value>) -> std::result::Result<(), String> + Send + Sync>;

/// Datastore lookups render as missing (empty) until the datastore plugs in its provider.
struct MissingKv;

impl ContextProvider for MissingKv {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(None)
    }
}

/// The events service handle; cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) store: DynStore,
    pub(crate) opts: EventsOptions,
    /// Enabled and disabled rules by trigger ref (never held across `.await`).
    pub(crate) index: RwLock<RuleIndex>,
    /// Custom webhook URL (slashes stripped) → triggers registered under it.
    pub(crate) webhooks: RwLock<HashMap<String, Vec<Trigger>>>,
    pub(crate) provider: RwLock<Arc<dyn ContextProvider>>,
    /// Wakes the processor when an instance was committed in this process.
    pub(crate) wake: Notify,
    pub(crate) stop: CancellationToken,
    pub(crate) tasks: tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Serializes rule/trigger registration (trigger ref counts are read-modify-write).
    pub(crate) registration: tokio::sync::Mutex<()>,
    /// Compiled payload schemas by trigger type ref (cleared when a type is registered).
    pub(crate) schemas: RwLock<HashMap<String, Arc<registry::Compiled>>>,
    pub(crate) params_check: RwLock<Option<TriggerParamsCheck>>,
    /// Set once the stored rules are in the index; before that every instance is `pending`.
    pub(crate) rules_loaded: std::sync::atomic::AtomicBool,
    /// Bumped after every change to the stored triggers (see [`Events::watch_triggers`]).
    pub(crate) triggers_changed: tokio::sync::watch::Sender<u64>,
    /// The timer engine, once [`Events::start_timers`] ran.
    pub(crate) timers: RwLock<Option<Arc<gale_sensors::timers::Timers>>>,
}

impl Inner {
    pub(crate) fn note_triggers_changed(&self) {
        self.triggers_changed
            .send_modify(|v| *v = v.wrapping_add(1));
    }
}

impl Events {
    pub fn new(engine: Engine, opts: EventsOptions) -> Events {
        let store = engine.store().clone();
        Events {
            inner: Arc::new(Inner {
                engine,
                store,
                opts,
                index: RwLock::new(RuleIndex::new()),
                webhooks: RwLock::new(HashMap::new()),
                provider: RwLock::new(Arc::new(MissingKv)),
                wake: Notify::new(),
                stop: CancellationToken::new(),
                tasks: tokio::sync::Mutex::new(Vec::new()),
                registration: tokio::sync::Mutex::new(()),
                schemas: RwLock::new(HashMap::new()),
                triggers_changed: tokio::sync::watch::channel(0).0,
                params_check: RwLock::new(None),
                rules_loaded: std::sync::atomic::AtomicBool::new(false),
                timers: RwLock::new(None),
            }),
        }
    }

    /// Datastore lookups (`st2kv`, `decrypt_kv`) for criteria patterns and parameters.
    pub fn set_context_provider(&self, provider: Arc<dyn ContextProvider>) {
        if let Ok(mut p) = self.inner.provider.write() {
            *p = provider;
        }
    }

    /// Install the extra trigger-parameter check of rule registration (the timer engine's
    /// `parse_spec` for the timer types).
    pub fn set_trigger_params_check(&self, check: TriggerParamsCheck) {
        if let Ok(mut c) = self.inner.params_check.write() {
            *c = Some(check);
        }
    }

    pub fn options(&self) -> &EventsOptions {
        &self.inner.opts
    }

    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    /// Register the built-in trigger types (with shadow triggers), load the rules into the
    /// index, recover instances left `processing` by a crash, then start the processor and the
    /// execution-completion listener. Calling it twice is a no-op.
    pub async fn start(&self) -> Result<()> {
        let mut tasks = self.inner.tasks.lock().await;
        if !tasks.is_empty() {
            return Ok(());
        }
        registry::register_system_types(&self.inner).await?;
        registry::load_rules(&self.inner).await?;
        // Subscribe before recovery so no completion published meanwhile is missed.
        let events = self.inner.engine.subscribe();
        processor::recover(&self.inner).await?;
        let inner = self.inner.clone();
        tasks.push(tokio::spawn(async move {
            processor::run(inner).await;
        }));
        if self.inner.opts.action_sensor {
            let inner = self.inner.clone();
            tasks.push(tokio::spawn(async move {
                notify::run(inner, events).await;
            }));
        }
        Ok(())
    }

    /// Stop the processor and listener (an instance being processed finishes first).
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        self.inner.wake.notify_waiters();
        let tasks: Vec<_> = std::mem::take(&mut *self.inner.tasks.lock().await);
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Store a trigger instance of `trigger` (a trigger ref; parameter-less types are
    /// dispatched by their type ref, which is their shadow trigger's ref) durably as
    /// `pending`, then wake the processor. `None` when no trigger has that ref: StackStorm's
    /// rules engine drops such a dispatch and stores nothing.
    pub async fn emit(
        &self,
        trigger: &str,
        payload: Value,
        ctx: EmitContext,
    ) -> Result<Option<TriggerInstance>> {
        emit(&self.inner, trigger, payload, ctx).await
    }

    /// [`Events::emit`] on the validated "service" path (sensors, the generic webhook): the
    /// payload must satisfy the trigger type's payload schema when
    /// `validate_trigger_payload` is on; an unknown trigger type is a validation error.
    pub async fn dispatch_validated(
        &self,
        trigger: &str,
        payload: Value,
        ctx: EmitContext,
    ) -> Result<Option<TriggerInstance>> {
        registry::validate_payload(&self.inner, trigger, &payload).await?;
        emit(&self.inner, trigger, payload, ctx).await
    }

    /// `POST /webhooks/{hook}` after body parsing (see [`webhook`]): the generic `st2` hook or
    /// one dispatch per trigger registered under the custom URL. Returns the instances.
    pub async fn fire_webhook(&self, req: webhook::WebhookRequest) -> Result<Vec<TriggerInstance>> {
        webhook::fire(self, req).await
    }

    /// Changes to the stored triggers (rule create/update/delete, trigger type registration,
    /// pack registration): the value is bumped after each one. Watchers (the timer engine,
    /// sensors) re-read `store.list_triggers(..)` for their types when it changes, as
    /// StackStorm's trigger watchers do (events.md §2.6).
    pub fn watch_triggers(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.triggers_changed.subscribe()
    }

    /// Triggers of custom webhooks (`GET /webhooks`), ordered by URL.
    pub fn webhook_triggers(&self) -> Vec<Trigger> {
        let map = match self.inner.webhooks.read() {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        let mut urls: Vec<_> = map.keys().cloned().collect();
        urls.sort();
        urls.iter()
            .flat_map(|u| map.get(u).cloned().unwrap_or_default())
            .collect()
    }

    /// `POST /triggerinstances/{id}/re_emit`: the stored trigger with a copy of the payload
    /// plus `__context.original_id`. Returns the new instance's payload.
    pub async fn re_emit(&self, id: &str) -> Result<(Option<TriggerInstance>, Value)> {
        let old = self
            .inner
            .store
            .get_trigger_instance(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "TriggerInstance",
                key: id.to_string(),
            })?;
        let mut payload = match old.payload {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        payload.insert("__context".into(), json!({"original_id": id}));
        let payload = Value::Object(payload);
        let ti = emit(
            &self.inner,
            &old.trigger,
            payload.clone(),
            EmitContext::default(),
        )
        .await?;
        Ok((ti, payload))
    }

    /// Create a rule (API `POST /rules`): validated, trigger bound, stored, indexed.
    pub async fn create_rule(&self, req: RuleRequest) -> Result<gale_rules::Rule> {
        registry::save_rule(&self.inner, req, None).await
    }

    /// Replace a rule (API `PUT /rules/{ref_or_id}`).
    pub async fn update_rule(&self, ref_or_id: &str, req: RuleRequest) -> Result<gale_rules::Rule> {
        registry::save_rule(&self.inner, req, Some(ref_or_id)).await
    }

    /// Delete a rule and release its trigger. `false` when it did not exist.
    pub async fn delete_rule(&self, ref_or_id: &str) -> Result<bool> {
        registry::delete_rule(&self.inner, ref_or_id).await
    }

    /// Create or replace a trigger type (API `POST /triggertypes`), with its shadow trigger
    /// when parameter-less.
    pub async fn register_trigger_type(&self, tt: TriggerType) -> Result<TriggerType> {
        let _g = self.inner.registration.lock().await;
        registry::upsert_trigger_type(&self.inner, tt).await
    }

    /// Register the trigger types and rules of a pack directory (after its actions): the API
    /// pack-register route and server start call this.
    pub async fn register_pack_dir(
        &self,
        dir: &std::path::Path,
        fail_on_failure: bool,
    ) -> Result<PackEventsReport> {
        registry::register_pack_dir(&self.inner, dir, fail_on_failure).await
    }

    /// Process every pending instance now and return how many were processed (tests and
    /// one-shot use; the running service does this on its own).
    pub async fn process_pending(&self) -> Result<usize> {
        processor::drain(&self.inner).await
    }
}

pub(crate) async fn emit(
    inner: &Inner,
    trigger: &str,
    payload: Value,
    ctx: EmitContext,
) -> Result<Option<TriggerInstance>> {
    let Some(t) = inner.store.get_trigger(trigger).await? else {
        tracing::warn!(trigger, "dispatch for an unknown trigger dropped");
        return Ok(None);
    };
    emit_to(inner, &t, payload, ctx).await.map(Some)
}

/// [`emit`] for an already resolved trigger.
pub(crate) async fn emit_to(
    inner: &Inner,
    t: &Trigger,
    payload: Value,
    ctx: EmitContext,
) -> Result<TriggerInstance> {
    let payload = match payload {
        Value::Null => Value::Object(Map::new()),
        p => p,
    };
    let now = inner.engine.clock().now();
    // With no enabled rule on the trigger, processing could only record `processed`: store it
    // so at once and save the claim and completion writes (every execution emits an
    // actiontrigger, usually with no rule on it).
    let has_rules = !inner
        .rules_loaded
        .load(std::sync::atomic::Ordering::Acquire)
        || inner
            .index
            .read()
            .map(|i| i.candidates(&t.trigger_ref).next().is_some())
            .unwrap_or(true);
    let ti = TriggerInstance {
        id: gale_model::new_id(),
        trigger: t.trigger_ref.clone(),
        payload,
        occurrence_time: now,
        status: if has_rules {
            TriggerInstanceStatus::Pending
        } else {
            TriggerInstanceStatus::Processed
        },
    };
    let component = TraceComponent {
        object_id: ti.id.clone(),
        component_ref: ti.trigger.clone(),
        updated_at: now,
        caused_by: ctx.caused_by.unwrap_or_else(|| json!({})),
    };
    let trace = match ctx.trace_id {
        Some(trace_id) => TraceWrite::Append {
            trace_id,
            component,
        },
        None => {
            let id = gale_model::new_id();
            TraceWrite::New(Trace {
                uid: format!("trace:{}", uid::md5_hex(id.as_bytes())),
                id,
                trace_tag: ctx
                    .trace_tag
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| format!("trigger_instance-{}", ti.id)),
                trigger_instances: vec![component],
                rules: Vec::new(),
                action_executions: Vec::new(),
                start_timestamp: now,
            })
        }
    };
    inner.store.create_trigger_instance(&ti, trace).await?;
    if has_rules {
        inner.wake.notify_one();
    }
    tracing::debug!(trigger_instance = %ti.id, trigger = %ti.trigger, "trigger instance stored");
    Ok(ti)
}

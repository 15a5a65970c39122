//! StackStorm's timer engine (events.md §4): one schedule per timer Trigger, fires delivered to
//! a [`TimerSink`] with StackStorm's payload `{"executed_at": str(utc_now), "schedule": null}`
//! and trace tag `<type name>-<trigger name>`.
//!
//! APScheduler behaviour kept: an interval's first fire is one interval after scheduling; a
//! date timer in the past is not scheduled; a fire more than 1 s late is dropped (misfire grace
//! time) and missed runs are coalesced into the next one; nothing is persisted (intervals
//! restart their phase after a restart).

pub mod cron;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use gale_model::events::Trigger;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use cron::CronSchedule;

pub const INTERVAL_TIMER: &str = "core.st2.IntervalTimer";
pub const CRON_TIMER: &str = "core.st2.CronTimer";
pub const DATE_TIMER: &str = "core.st2.DateTimer";
/// The trigger types the timer engine schedules.
pub const TIMER_TYPES: [&str; 3] = [INTERVAL_TIMER, CRON_TIMER, DATE_TIMER];

/// How late a fire may be and still run (APScheduler's default misfire grace time).
const MISFIRE_GRACE: Duration = Duration::seconds(1);

/// The clock seam: `Arc::new(gale_model::now)` in production, a manual clock in tests.
pub type NowFn = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TimerError {
    #[error("{0} is not a timer trigger type")]
    NotATimer(String),
    /// A parameter fails validation; `field` names it.
    #[error("Invalid \"{field}\": {message}")]
    Invalid { field: String, message: String },
}

fn invalid(field: &str, message: impl Into<String>) -> TimerError {
    TimerError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// What a timer trigger's parameters mean.
#[derive(Clone, Debug, PartialEq)]
pub enum TimerSpec {
    Interval(Duration),
    /// An instant (naive dates resolved in the trigger's or the host's zone).
    Date(DateTime<Utc>),
    Cron(CronSchedule),
}

/// Options of the timer engine.
#[derive(Clone, Debug)]
pub struct TimerOptions {
    /// The zone of parameters without `timezone` (StackStorm: the host's local zone).
    pub local_tz: Tz,
}

impl Default for TimerOptions {
    fn default() -> Self {
        TimerOptions {
            local_tz: host_timezone(),
        }
    }
}

/// The host's zone as `tzlocal` finds it: `TZ`, else `/etc/timezone`, else the
/// `/etc/localtime` link; UTC when none names a known zone.
pub fn host_timezone() -> Tz {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|s| s.trim_start_matches(':').to_string());
    let from_file = || {
        std::fs::read_to_string("/etc/timezone")
            .ok()
            .map(|s| s.trim().to_string())
    };
    let from_link = || {
        std::fs::read_link("/etc/localtime").ok().and_then(|p| {
            let s = p.to_string_lossy().to_string();
            s.split_once("zoneinfo/").map(|(_, z)| z.to_string())
        })
    };
    from_env
        .into_iter()
        .chain(from_file())
        .chain(from_link())
        .find_map(|z| z.parse::<Tz>().ok())
        .unwrap_or(chrono_tz::UTC)
}

fn only_keys(params: &Map<String, Value>, allowed: &[&str]) -> Result<(), TimerError> {
    if let Some(extra) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(
            extra,
            format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    Ok(())
}

fn timezone(params: &Map<String, Value>, opts: &TimerOptions) -> Result<Tz, TimerError> {
    match params.get("timezone") {
        None | Some(Value::Null) => Ok(opts.local_tz),
        Some(Value::String(s)) => s
            .parse::<Tz>()
            .map_err(|_| invalid("timezone", format!("Unknown time zone: '{s}'"))),
        Some(other) => Err(invalid(
            "timezone",
            format!("{other} is not of type 'string'"),
        )),
    }
}

/// dateutil-like parsing of the common forms: RFC 3339 / ISO 8601 with offset, or a naive
/// date-time (space or `T`, optional seconds and fraction), or a bare date.
fn parse_date(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let s = s
        .strip_suffix('Z')
        .map(str::to_string)
        .map_or_else(|| (s.to_string(), false), |x| (x, true));
    let (text, utc) = s;
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    if utc {
        return Some(Utc.from_utc_datetime(&naive));
    }
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

/// Validate a timer trigger's parameters against its type (as rule registration must) and
/// build its schedule.
pub fn parse_spec(
    trigger_type: &str,
    params: &Map<String, Value>,
    opts: &TimerOptions,
) -> Result<TimerSpec, TimerError> {
    match trigger_type {
        INTERVAL_TIMER => {
            only_keys(params, &["unit", "delta", "timezone"])?;
            timezone(params, opts)?;
            let unit = match params.get("unit") {
                None => return Err(invalid("unit", "'unit' is a required property")),
                Some(Value::String(u)) => u.as_str(),
                Some(other) => {
                    return Err(invalid("unit", format!("{other} is not of type 'string'")))
                }
            };
            let delta = match params.get("delta") {
                None => return Err(invalid("delta", "'delta' is a required property")),
                Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or(0),
                Some(other) => {
                    return Err(invalid(
                        "delta",
                        format!("{other} is not of type 'integer'"),
                    ))
                }
            };
            let secs_per = match unit {
                "weeks" => 604_800,
                "days" => 86_400,
                "hours" => 3_600,
                "minutes" => 60,
                "seconds" => 1,
                other => {
                    return Err(invalid(
                        "unit",
                        format!(
                        "'{other}' is not one of ['weeks', 'days', 'hours', 'minutes', 'seconds']"
                    ),
                    ))
                }
            };
            if delta <= 0 {
                return Err(invalid(
                    "delta",
                    format!("the interval must be positive, got {delta}"),
                ));
            }
            let secs = delta
                .checked_mul(secs_per)
                .ok_or_else(|| invalid("delta", "the interval is too long"))?;
            Ok(TimerSpec::Interval(Duration::seconds(secs)))
        }
        DATE_TIMER => {
            only_keys(params, &["date", "timezone"])?;
            let tz = timezone(params, opts)?;
            match params.get("date") {
                None => Err(invalid("date", "'date' is a required property")),
                Some(Value::String(d)) => parse_date(d, tz)
                    .map(TimerSpec::Date)
                    .ok_or_else(|| invalid("date", format!("'{d}' is not a 'date-time'"))),
                Some(other) => Err(invalid("date", format!("{other} is not of type 'string'"))),
            }
        }
        CRON_TIMER => {
            let mut allowed: Vec<&str> = cron::FIELDS.to_vec();
            allowed.push("timezone");
            only_keys(params, &allowed)?;
            let tz = timezone(params, opts)?;
            let mut fields = params.clone();
            fields.remove("timezone");
            Ok(TimerSpec::Cron(CronSchedule::from_params(&fields, tz)?))
        }
        other => Err(TimerError::NotATimer(other.to_string())),
    }
}

/// Python `str()` of an aware UTC datetime: `2024-01-10 12:35:00.001234+00:00`, without the
/// fraction when the microseconds are 0.
pub fn python_str(t: &DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
    }
}

/// One fire, as the events service dispatches it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fire {
    /// The trigger to dispatch (by id, as StackStorm does).
    pub trigger: Trigger,
    /// `{"executed_at": ..., "schedule": null}`.
    pub payload: Value,
    /// `<type name>-<trigger name>`, e.g. `st2.IntervalTimer-4b0f3d0e-...`.
    pub trace_tag: String,
    /// When the schedule said it was due.
    pub scheduled_for: DateTime<Utc>,
}

/// Where fires go (the events service: `Events::emit(&fire.trigger.trigger_ref,
/// fire.payload, EmitContext { trace_tag: Some(fire.trace_tag), .. })`).
#[async_trait]
pub trait TimerSink: Send + Sync {
    async fn fire(&self, fire: Fire) -> Result<(), String>;
}

/// Keeps every fire (tests).
#[derive(Default)]
pub struct MemoryTimerSink {
    pub fires: Mutex<Vec<Fire>>,
}

impl MemoryTimerSink {
    pub fn take(&self) -> Vec<Fire> {
        self.fires
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}

#[async_trait]
impl TimerSink for MemoryTimerSink {
    async fn fire(&self, fire: Fire) -> Result<(), String> {
        if let Ok(mut g) = self.fires.lock() {
            g.push(fire);
        }
        Ok(())
    }
}

/// A scheduled timer: its trigger, its schedule and the next due instant.
#[derive(Clone, Debug)]
pub struct Scheduled {
    pub trigger: Trigger,
    pub spec: TimerSpec,
    pub next: DateTime<Utc>,
}

/// What [`Timers::add`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Added {
    Scheduled {
        next: DateTime<Utc>,
    },
    /// A date timer whose date has passed, or a cron schedule that never fires again.
    NotScheduled {
        reason: String,
    },
}

fn next_after(
    spec: &TimerSpec,
    previous: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match spec {
        TimerSpec::Interval(d) => {
            // Coalesce: the next run strictly after now, on the original phase.
            let mut next = previous + *d;
            if next <= now {
                let behind = (now - next).num_microseconds().unwrap_or(i64::MAX);
                let step = d.num_microseconds().unwrap_or(i64::MAX).max(1);
                next += Duration::microseconds((behind / step + 1).saturating_mul(step));
            }
            Some(next)
        }
        TimerSpec::Date(_) => None,
        TimerSpec::Cron(c) => c.next_at_or_after(now.max(previous) + Duration::microseconds(1)),
    }
}

/// The timer engine: add/remove timer triggers, fire what is due on the injected clock.
pub struct Timers {
    opts: TimerOptions,
    now: NowFn,
    sink: Arc<dyn TimerSink>,
    timers: Mutex<HashMap<String, Scheduled>>,
    /// Wakes [`Timers::run`] when the schedule changed.
    changed: tokio::sync::Notify,
}

impl Timers {
    pub fn new(opts: TimerOptions, now: NowFn, sink: Arc<dyn TimerSink>) -> Arc<Timers> {
        Arc::new(Timers {
            opts,
            now,
            sink,
            timers: Mutex::new(HashMap::new()),
            changed: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Scheduled>> {
        match self.timers.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Schedule a timer trigger (create handler); replaces a timer with the same trigger id
    /// (update handler = add again). Parameters are validated first.
    pub fn add(&self, trigger: Trigger) -> Result<Added, TimerError> {
        let spec = parse_spec(&trigger.trigger_type, &trigger.parameters, &self.opts)?;
        let now = (self.now)();
        let next = match &spec {
            TimerSpec::Interval(d) => Some(now + *d),
            TimerSpec::Date(at) if *at < now => {
                let reason = format!("the date {} has passed", python_str(at));
                tracing::warn!(trigger = %trigger.trigger_ref, %reason, "date timer not scheduled");
                self.remove(&trigger.id);
                return Ok(Added::NotScheduled { reason });
            }
            TimerSpec::Date(at) => Some(*at),
            TimerSpec::Cron(c) => c.next_at_or_after(now),
        };
        let Some(next) = next else {
            self.remove(&trigger.id);
            return Ok(Added::NotScheduled {
                reason: "the cron schedule never fires".into(),
            });
        };
        tracing::info!(trigger = %trigger.trigger_ref, next = %next, "timer scheduled");
        self.lock().insert(
            trigger.id.clone(),
            Scheduled {
                trigger,
                spec,
                next,
            },
        );
        self.changed.notify_one();
        Ok(Added::Scheduled { next })
    }

    /// Unschedule (delete handler). Returns whether it was scheduled.
    pub fn remove(&self, trigger_id: &str) -> bool {
        let removed = self.lock().remove(trigger_id).is_some();
        if removed {
            self.changed.notify_one();
        }
        removed
    }

    /// Reconcile with the current set of timer triggers (e.g. `store.list_triggers` for the
    /// three [`TIMER_TYPES`] after any rule registration): new triggers and triggers whose
    /// type or parameters changed are (re)scheduled, unchanged ones keep their phase, and
    /// scheduled timers not in `triggers` are removed. Non-timer triggers are ignored. Returns
    /// the triggers whose parameters were refused.
    pub fn sync(&self, triggers: Vec<Trigger>) -> Vec<(Trigger, TimerError)> {
        let wanted: std::collections::HashSet<String> = triggers
            .iter()
            .filter(|t| TIMER_TYPES.contains(&t.trigger_type.as_str()))
            .map(|t| t.id.clone())
            .collect();
        let stale: Vec<String> = self
            .lock()
            .keys()
            .filter(|id| !wanted.contains(*id))
            .cloned()
            .collect();
        for id in stale {
            self.remove(&id);
        }
        let mut refused = Vec::new();
        for t in triggers {
            if !TIMER_TYPES.contains(&t.trigger_type.as_str()) {
                continue;
            }
            let unchanged = self.lock().get(&t.id).is_some_and(|s| {
                s.trigger.trigger_type == t.trigger_type && s.trigger.parameters == t.parameters
            });
            if unchanged {
                continue;
            }
            if let Err(e) = self.add(t.clone()) {
                tracing::error!(trigger = %t.trigger_ref, error = %e, "timer not scheduled");
                refused.push((t, e));
            }
        }
        refused
    }

    /// Every scheduled timer, soonest first (for `gale timer list`).
    pub fn list(&self) -> Vec<Scheduled> {
        let mut v: Vec<Scheduled> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| {
            a.next
                .cmp(&b.next)
                .then_with(|| a.trigger.id.cmp(&b.trigger.id))
        });
        v
    }

    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.lock().values().map(|s| s.next).min()
    }

    /// Take what is due now and move each schedule on; fires more than the grace time late
    /// are dropped. The sink is called outside the lock.
    fn take_due(&self, now: DateTime<Utc>) -> Vec<Fire> {
        let mut fires = Vec::new();
        let mut g = self.lock();
        let mut done = Vec::new();
        for (id, s) in g.iter_mut() {
            if s.next > now {
                continue;
            }
            let late = now - s.next;
            if late <= MISFIRE_GRACE {
                let type_name = s
                    .trigger
                    .trigger_type
                    .split_once('.')
                    .map(|(_, n)| n)
                    .unwrap_or(&s.trigger.trigger_type);
                fires.push(Fire {
                    trigger: s.trigger.clone(),
                    payload: json!({"executed_at": python_str(&now), "schedule": null}),
                    trace_tag: format!("{type_name}-{}", s.trigger.name),
                    scheduled_for: s.next,
                });
            } else {
                tracing::warn!(trigger = %s.trigger.trigger_ref, scheduled = %s.next, "timer fire missed by more than the grace time; skipped");
            }
            match next_after(&s.spec, s.next, now) {
                Some(n) => s.next = n,
                None => done.push(id.clone()),
            }
        }
        for id in done {
            g.remove(&id);
        }
        fires.sort_by_key(|f| f.scheduled_for);
        fires
    }

    /// Fire everything due at the clock's current time; returns how many fired.
    pub async fn tick(&self) -> usize {
        let fires = self.take_due((self.now)());
        let n = fires.len();
        for f in fires {
            let tag = f.trace_tag.clone();
            if let Err(e) = self.sink.fire(f).await {
                tracing::warn!(trace_tag = %tag, error = %e, "timer fire not dispatched");
            }
        }
        n
    }

    /// Run until `cancel`: tick, then sleep until the next due time by the clock (at most
    /// `poll`, so a manual or adjusted clock is noticed), or until the schedule changes.
    pub async fn run(
        self: Arc<Self>,
        poll: std::time::Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        loop {
            self.tick().await;
            let wait = self
                .next_due()
                .and_then(|n| (n - (self.now)()).to_std().ok())
                .map(|d| d.min(poll))
                .unwrap_or(poll);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;

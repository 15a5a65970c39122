//! The timer engine (gale-sensors) wired to the events service (events.md §4): fires become
//! trigger instances through [`Events::emit`], the schedule follows the stored timer triggers
//! (re-read on every [`Events::watch_triggers`] bump, as StackStorm's trigger watcher does),
//! and rule registration refuses timer parameters the engine could not schedule.

use crate::{EmitContext, Events};
// What the binary needs to start the timers, without depending on gale-sensors itself.
pub use gale_sensors::test_clock::file_clock;
pub use gale_sensors::timers::{NowFn, TimerOptions};

use async_trait::async_trait;
use gale_sensors::timers::{parse_spec, Fire, TimerSink, Timers, TIMER_TYPES};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Timer fires go to the events service as trigger instances with the timer's trace tag.
pub struct EventsTimerSink(pub Events);

#[async_trait]
impl TimerSink for EventsTimerSink {
    async fn fire(&self, fire: Fire) -> Result<(), String> {
        let ctx = EmitContext {
            trace_tag: Some(fire.trace_tag),
            ..Default::default()
        };
        match self
            .0
            .emit(&fire.trigger.trigger_ref, fire.payload, ctx)
            .await
        {
            Ok(Some(_)) => Ok(()),
            // The trigger was deleted between the schedule and the fire: nothing to do.
            Ok(None) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Events {
    /// Start the timer engine on `now` (the node's clock, or a test clock): install the
    /// timer-parameter check of rule registration, schedule the stored timer triggers, follow
    /// trigger changes and fire until `cancel`. `poll` bounds how long the engine sleeps
    /// without reading the clock (a clock that is moved by hand is noticed within it).
    pub async fn start_timers(
        &self,
        opts: TimerOptions,
        now: NowFn,
        poll: std::time::Duration,
        cancel: CancellationToken,
    ) -> crate::Result<Arc<Timers>> {
        let check_opts = opts.clone();
        self.set_trigger_params_check(Arc::new(move |ty, params| {
            if !TIMER_TYPES.contains(&ty) {
                return Ok(());
            }
            parse_spec(ty, params, &check_opts)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
        let timers = Timers::new(opts, now, Arc::new(EventsTimerSink(self.clone())));
        // Subscribe before the first read so a change made meanwhile is not missed.
        let mut changes = self.watch_triggers();
        changes.borrow_and_update();
        sync(self, &timers).await?;
        if let Ok(mut t) = self.inner.timers.write() {
            *t = Some(timers.clone());
        }
        let (events, watched, stop) = (self.clone(), timers.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if let Err(e) = sync(&events, &watched).await {
                            tracing::error!(error = %e, "cannot re-read the timer triggers");
                        }
                    }
                }
            }
        });
        tokio::spawn(timers.clone().run(poll, cancel));
        Ok(timers)
    }

    /// The running timer engine (`gale timer list` shows its schedule), once started.
    pub fn timers(&self) -> Option<Arc<Timers>> {
        self.inner.timers.read().ok().and_then(|t| t.clone())
    }
}

/// Reconcile the schedule with the stored triggers of the timer types.
async fn sync(events: &Events, timers: &Timers) -> crate::Result<()> {
    let mut all = Vec::new();
    for ty in TIMER_TYPES {
        all.extend(events.store().list_triggers(Some(ty)).await?);
    }
    for (t, e) in timers.sync(all) {
        tracing::warn!(trigger = %t.trigger_ref, error = %e, "stored timer trigger not scheduled");
    }
    Ok(())
}

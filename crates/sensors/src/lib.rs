//! Built-in sensors. Today: StackStorm's timers (`core.st2.IntervalTimer`,
//! `core.st2.CronTimer`, `core.st2.DateTimer`, events.md §4) in [`timers`].
//!
//! This crate decides *when* a trigger fires and with which payload; it does not store trigger
//! instances or run rules: every fire goes to a [`timers::TimerSink`] (the events service).
//! Time comes from an injected clock ([`timers::NowFn`]) so tests drive it by hand; the
//! binary's end-to-end tests use [`test_clock::file_clock`] (test only).
//!
//! Key choice: cron schedules follow APScheduler 3's `CronTrigger` (StackStorm's scheduler),
//! not Unix cron — `day_of_week` 0 is Monday, there is a `week` field, unspecified fields
//! below the least significant given one default to their minimum — so the evaluator is our
//! own, on `chrono-tz` for time zones and DST, rather than a Unix-cron library.

pub mod test_clock;
pub mod timers;

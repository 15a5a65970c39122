//! APScheduler 3 `CronTrigger` semantics (events.md §4.4): fields `year, month, day, week,
//! day_of_week, hour, minute, second`; expressions `*`, `*/a`, `a`, `a-b`, `a-b/c`, `a/c`,
//! lists, month and weekday names, and in `day`: `last`, `last <wd>`, `<nth> <wd>`.

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::TimerError;

pub(crate) const FIELDS: [&str; 8] = [
    "year",
    "month",
    "day",
    "week",
    "day_of_week",
    "hour",
    "minute",
    "second",
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn bounds(field: &str) -> (u32, u32) {
    match field {
        "year" => (1970, 9999),
        "month" => (1, 12),
        "day" => (1, 31),
        "week" => (1, 53),
        "day_of_week" => (0, 6),
        "hour" => (0, 23),
        _ => (0, 59),
    }
}

/// One comma-separated part of a field.
#[derive(Clone, Debug, PartialEq)]
enum Expr {
    /// `first..=last` (inclusive; `None` = the field's maximum) every `step`.
    Range {
        first: u32,
        last: Option<u32>,
        step: u32,
    },
    /// `last` (day field): the last day of the month.
    LastDay,
    /// `<nth> <weekday>` (1..=5) or `last <weekday>` (nth = 0) in the day field.
    Weekday { nth: u32, weekday: u32 },
}

/// One field: the union of its expressions.
#[derive(Clone, Debug, PartialEq)]
struct Field {
    name: &'static str,
    exprs: Vec<Expr>,
}

fn invalid(field: &str, msg: impl Into<String>) -> TimerError {
    TimerError::Invalid {
        field: field.to_string(),
        message: msg.into(),
    }
}

fn name_value(field: &str, s: &str) -> Option<u32> {
    let s = s.to_ascii_lowercase();
    match field {
        "month" => MONTHS.iter().position(|m| *m == s).map(|i| i as u32 + 1),
        "day_of_week" => WEEKDAYS.iter().position(|m| *m == s).map(|i| i as u32),
        _ => None,
    }
}

fn number(field: &'static str, s: &str) -> Result<u32, TimerError> {
    s.trim()
        .parse::<u32>()
        .ok()
        .or_else(|| name_value(field, s.trim()))
        .ok_or_else(|| {
            invalid(
                field,
                format!("Unrecognized expression \"{s}\" for field \"{field}\""),
            )
        })
}

fn parse_part(field: &'static str, part: &str) -> Result<Expr, TimerError> {
    let p = part.trim().to_ascii_lowercase();
    if field == "day" {
        if p == "last" {
            return Ok(Expr::LastDay);
        }
        if let Some((nth, wd)) = p.split_once(' ') {
            let weekday = WEEKDAYS
                .iter()
                .position(|w| *w == wd.trim())
                .ok_or_else(|| {
                    invalid(
                        field,
                        format!("Unrecognized expression \"{part}\" for field \"day\""),
                    )
                })? as u32;
            let nth = match nth {
                "last" => 0,
                "1st" => 1,
                "2nd" => 2,
                "3rd" => 3,
                "4th" => 4,
                "5th" => 5,
                _ => {
                    return Err(invalid(
                        field,
                        format!("Unrecognized expression \"{part}\" for field \"day\""),
                    ))
                }
            };
            return Ok(Expr::Weekday { nth, weekday });
        }
    }
    let (range, step) = match p.split_once('/') {
        Some((r, s)) => {
            let step = s.trim().parse::<u32>().map_err(|_| {
                invalid(
                    field,
                    format!("Unrecognized expression \"{part}\" for field \"{field}\""),
                )
            })?;
            if step == 0 {
                return Err(invalid(field, "step must be positive, got: 0"));
            }
            (r.trim(), Some(step))
        }
        None => (p.as_str(), None),
    };
    let (min, max) = bounds(field);
    let (first, last) = if range == "*" {
        (min, None)
    } else if let Some((a, b)) = range.split_once('-') {
        (number(field, a)?, Some(number(field, b)?))
    } else {
        let first = number(field, range)?;
        // `a` alone is exactly `a`; `a/c` runs to the maximum (APScheduler's RangeExpression).
        (first, if step.is_none() { Some(first) } else { None })
    };
    if first < min {
        return Err(invalid(
            field,
            format!("the first value ({first}) is lower than the minimum value ({min})"),
        ));
    }
    if let Some(l) = last {
        if l > max {
            return Err(invalid(
                field,
                format!("the last value ({l}) is higher than the maximum value ({max})"),
            ));
        }
        if l < first {
            return Err(invalid(field, format!("The minimum value in a range must not be higher than the maximum ({first} > {l})")));
        }
    }
    let step = step.unwrap_or(1);
    let span = last.unwrap_or(max) - first;
    if step > 1 && step > span {
        return Err(invalid(
            field,
            format!(
                "the step value ({step}) is higher than the total range of the expression ({span})"
            ),
        ));
    }
    Ok(Expr::Range { first, last, step })
}

impl Field {
    fn parse(name: &'static str, v: &Value) -> Result<Field, TimerError> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            other => {
                return Err(invalid(
                    name,
                    format!("{other} is not of type 'string', 'integer'"),
                ))
            }
        };
        let exprs = text
            .split(',')
            .map(|p| parse_part(name, p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Field { name, exprs })
    }

    fn star(name: &'static str) -> Field {
        Field {
            name,
            exprs: vec![Expr::Range {
                first: bounds(name).0,
                last: None,
                step: 1,
            }],
        }
    }

    fn fixed(name: &'static str, v: u32) -> Field {
        Field {
            name,
            exprs: vec![Expr::Range {
                first: v,
                last: Some(v),
                step: 1,
            }],
        }
    }

    /// Does `value` match? `date` gives the month context for `day` expressions.
    fn matches(&self, value: u32, date: Option<NaiveDate>) -> bool {
        let max = match (self.name, date) {
            ("day", Some(d)) => days_in_month(d.year(), d.month()),
            _ => bounds(self.name).1,
        };
        self.exprs.iter().any(|e| match *e {
            Expr::Range { first, last, step } => {
                let last = last.unwrap_or(max).min(max);
                value >= first && value <= last && (value - first).is_multiple_of(step)
            }
            Expr::LastDay => Some(value) == date.map(|d| days_in_month(d.year(), d.month())),
            Expr::Weekday { nth, weekday } => date.is_some_and(|d| {
                d.weekday().num_days_from_monday() == weekday
                    && if nth == 0 {
                        d.day() + 7 > days_in_month(d.year(), d.month())
                    } else {
                        (d.day() - 1) / 7 + 1 == nth
                    }
            }),
        })
    }

    /// Matching values of a time field (hour/minute/second), ascending.
    fn values(&self) -> Vec<u32> {
        let (min, max) = bounds(self.name);
        (min..=max).filter(|v| self.matches(*v, None)).collect()
    }
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

/// A parsed cron schedule in a time zone.
#[derive(Clone, Debug, PartialEq)]
pub struct CronSchedule {
    fields: Vec<Field>,
    pub tz: Tz,
}

impl CronSchedule {
    /// Build from the CronTimer parameters (everything but `timezone`), with APScheduler's
    /// defaults for unspecified fields.
    pub fn from_params(params: &Map<String, Value>, tz: Tz) -> Result<CronSchedule, TimerError> {
        let mut remaining: Vec<&str> = FIELDS
            .iter()
            .copied()
            .filter(|f| params.contains_key(*f))
            .collect();
        let mut assign_defaults = false;
        let mut fields = Vec::with_capacity(FIELDS.len());
        for name in FIELDS {
            let f = if let Some(v) = params.get(name) {
                remaining.retain(|r| *r != name);
                assign_defaults = remaining.is_empty();
                Field::parse(name, v)?
            } else if assign_defaults {
                match name {
                    "month" | "day" => Field::fixed(name, 1),
                    "hour" | "minute" | "second" => Field::fixed(name, 0),
                    _ => Field::star(name),
                }
            } else {
                Field::star(name)
            };
            fields.push(f);
        }
        Ok(CronSchedule { fields, tz })
    }

    fn field(&self, name: &str) -> &Field {
        // FIELDS order is fixed by from_params.
        let i = FIELDS.iter().position(|f| *f == name).unwrap_or(0);
        &self.fields[i]
    }

    fn date_matches(&self, d: NaiveDate) -> bool {
        let Ok(year) = u32::try_from(d.year()) else {
            return false;
        };
        self.field("year").matches(year, None)
            && self.field("month").matches(d.month(), None)
            && self.field("day").matches(d.day(), Some(d))
            && self.field("week").matches(d.iso_week().week(), None)
            && self
                .field("day_of_week")
                .matches(d.weekday().num_days_from_monday(), None)
    }

    /// The first fire time at or after `start` (rounded up to a whole second), or `None` when
    /// the schedule never fires again. Local times that do not exist (DST gap) are skipped; an
    /// ambiguous local time (DST fold) fires once, at its first occurrence.
    pub fn next_at_or_after(&self, start: chrono::DateTime<Utc>) -> Option<chrono::DateTime<Utc>> {
        let mut start = start;
        if start.timestamp_subsec_nanos() != 0 {
            start = start
                + Duration::nanoseconds(1_000_000_000 - i64::from(start.timestamp_subsec_nanos()));
        }
        let local_start = start.with_timezone(&self.tz).naive_local();
        let hours = self.field("hour").values();
        let minutes = self.field("minute").values();
        let seconds = self.field("second").values();
        if hours.is_empty() || minutes.is_empty() || seconds.is_empty() {
            return None;
        }
        let max_year = self
            .field("year")
            .exprs
            .iter()
            .try_fold(0u32, |acc, e| match e {
                Expr::Range { last: Some(l), .. } => Some(acc.max(*l)),
                _ => None,
            });
        // Impossible dates (Feb 30) are bounded by a horizon: 28 years repeat the calendar
        // (weekdays and leap years), so nothing new can match after that.
        let horizon = local_start.date().year() + 29;
        let end_year = max_year.map(|y| (y as i32).min(horizon)).unwrap_or(horizon);
        let mut day = local_start.date();
        while day.year() <= end_year {
            if self.date_matches(day) {
                for &h in &hours {
                    for &m in &minutes {
                        for &s in &seconds {
                            let Some(t) = NaiveTime::from_hms_opt(h, m, s) else {
                                continue;
                            };
                            let local = NaiveDateTime::new(day, t);
                            if local < local_start {
                                continue;
                            }
                            let utc = match self.tz.from_local_datetime(&local) {
                                LocalResult::Single(x) => x.with_timezone(&Utc),
                                LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
                                LocalResult::None => continue,
                            };
                            if utc >= start {
                                return Some(utc);
                            }
                        }
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sched(p: Value) -> CronSchedule {
        CronSchedule::from_params(p.as_object().unwrap(), chrono_tz::UTC).unwrap()
    }
    fn at(s: &str) -> chrono::DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The verified examples of events.md §4.4 (now = Wed 2024-01-10 12:34:56 UTC).
    #[test]
    fn spec_examples() {
        let now = at("2024-01-10T12:34:56Z");
        let cases = [
            (json!({"hour": 5}), "2024-01-11T05:00:00Z"),
            (json!({"minute": "*/5"}), "2024-01-10T12:35:00Z"),
            (
                json!({"day_of_week": "mon-fri", "hour": 9, "minute": 30}),
                "2024-01-11T09:30:00Z",
            ),
            (json!({"day_of_week": 0}), "2024-01-15T00:00:00Z"),
            (json!({"second": "*/10"}), "2024-01-10T12:35:00Z"),
            (json!({"day": "last"}), "2024-01-31T00:00:00Z"),
            (json!({"day": "2nd fri"}), "2024-01-12T00:00:00Z"),
            (json!({"week": 3}), "2024-01-15T00:00:00Z"),
            (json!({"year": 2025}), "2025-01-01T00:00:00Z"),
            (json!({"day": 15}), "2024-01-15T00:00:00Z"),
            (json!({"month": "feb"}), "2024-02-01T00:00:00Z"),
            (
                json!({"hour": "9-17/2", "day_of_week": "sat,sun"}),
                "2024-01-13T09:00:00Z",
            ),
            (json!({}), "2024-01-10T12:34:56Z"),
        ];
        for (p, want) in cases {
            // APScheduler's first fire is at or after `now` (a whole second); `{}` fires now.
            let got = sched(p.clone()).next_at_or_after(now);
            assert_eq!(got, Some(at(want)), "{p}");
        }
        // every second
        let s = sched(json!({}));
        assert_eq!(
            s.next_at_or_after(at("2024-01-10T12:34:56.5Z")),
            Some(at("2024-01-10T12:34:57Z"))
        );
    }

    #[test]
    fn more_expressions() {
        let now = at("2024-01-10T12:34:56Z");
        let n = |p: Value| sched(p).next_at_or_after(now);
        assert_eq!(
            n(json!({"day": "last fri"})),
            Some(at("2024-01-26T00:00:00Z"))
        );
        assert_eq!(
            n(json!({"day": "1st mon"})),
            Some(at("2024-02-05T00:00:00Z"))
        );
        assert_eq!(
            n(json!({"minute": "40/10"})),
            Some(at("2024-01-10T12:40:00Z"))
        );
        assert_eq!(
            n(json!({"minute": "10,20,50"})),
            Some(at("2024-01-10T12:50:00Z"))
        );
        assert_eq!(
            n(json!({"day_of_week": "sun", "hour": 0})),
            Some(at("2024-01-14T00:00:00Z"))
        );
        assert_eq!(
            n(json!({"month": 2, "day": 29})),
            Some(at("2024-02-29T00:00:00Z"))
        );
        // impossible date: never
        assert_eq!(n(json!({"month": 2, "day": 30})), None);
        // past year only: never
        assert_eq!(n(json!({"year": 2020})), None);
    }

    #[test]
    fn validation_messages() {
        let e = |p: Value| {
            CronSchedule::from_params(p.as_object().unwrap(), chrono_tz::UTC)
                .unwrap_err()
                .to_string()
        };
        assert!(e(json!({"hour": "25"}))
            .contains("the last value (25) is higher than the maximum value (23)"));
        assert!(e(json!({"hour": 25}))
            .contains("the last value (25) is higher than the maximum value (23)"));
        assert!(e(json!({"day": 0}))
            .contains("the first value (0) is lower than the minimum value (1)"));
        assert!(e(json!({"minute": "*/90"})).contains("step value (90)"));
        assert!(e(json!({"minute": "abc"})).contains("minute"));
        assert!(e(json!({"day": "9th fri"})).contains("day"));
        assert!(e(json!({"hour": true})).contains("hour"));
        assert!(e(json!({"hour": "5-3"})).contains("hour"));
    }

    #[test]
    fn time_zones_and_dst() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let s = CronSchedule::from_params(json!({"hour": 9}).as_object().unwrap(), ny).unwrap();
        // winter: 09:00 EST = 14:00 UTC; summer: 09:00 EDT = 13:00 UTC
        assert_eq!(
            s.next_at_or_after(at("2024-01-10T12:00:00Z")),
            Some(at("2024-01-10T14:00:00Z"))
        );
        assert_eq!(
            s.next_at_or_after(at("2024-07-10T12:00:00Z")),
            Some(at("2024-07-10T13:00:00Z"))
        );
        // spring forward (2024-03-10): 02:30 does not exist that day and is skipped
        let s =
            CronSchedule::from_params(json!({"hour": 2, "minute": 30}).as_object().unwrap(), ny)
                .unwrap();
        assert_eq!(
            s.next_at_or_after(at("2024-03-10T05:00:00Z")),
            Some(at("2024-03-11T06:30:00Z"))
        );
        // fall back (2024-11-03): 01:30 happens twice; it fires once, at the first (EDT)
        let s =
            CronSchedule::from_params(json!({"hour": 1, "minute": 30}).as_object().unwrap(), ny)
                .unwrap();
        let first = s.next_at_or_after(at("2024-11-03T04:00:00Z")).unwrap();
        assert_eq!(first, at("2024-11-03T05:30:00Z"));
        let next = s.next_at_or_after(first + Duration::seconds(1)).unwrap();
        assert_eq!(next, at("2024-11-04T06:30:00Z"));
    }
}

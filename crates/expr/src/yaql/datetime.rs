//! yaql's `date_time` library: `datetime`/`timespan` values, `now()`, `localtz()`, `utctz()`,
//! their properties (`$.year`, `$.hours`, ...), the `replace` and `format` methods and the
//! arithmetic and comparison operators between them.
//!
//! A yaql datetime is a Python `datetime` that always carries a fixed UTC offset (yaql attaches
//! UTC when none is given), so it is held as `chrono::DateTime<FixedOffset>`; a timespan is a
//! Python `timedelta`, held as whole microseconds within Python's range. The current time and
//! the local offset come from the [`ContextProvider`](crate::ContextProvider), so evaluation
//! stays deterministic wherever the caller wants it to be.

use std::fmt::Write;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};

use super::ast::{BinOp, UnOp};
use super::eval::{Call, R};
use super::value::Value;
use super::YaqlError;

pub type Dt = DateTime<FixedOffset>;

const US_PER_SEC: i128 = 1_000_000;
const US_PER_DAY: i128 = 86_400 * US_PER_SEC;
/// `timedelta.max.days`: Python refuses anything larger in magnitude.
const MAX_DAYS: i128 = 999_999_999;

/// Names of the functions defined here (callable as functions).
pub fn is_function(name: &str) -> bool {
    matches!(
        name,
        "datetime" | "timespan" | "now" | "localtz" | "utctz" | "isDatetime" | "isTimespan"
    )
}

fn err(class: &'static str, msg: impl Into<String>, pos: usize) -> YaqlError {
    YaqlError::new(class, msg.into(), Some(pos))
}

/// A timespan from microseconds, refused (as Python does) beyond ±999999999 days.
pub fn span(us: i128, pos: usize) -> R<'static> {
    if us.div_euclid(US_PER_DAY).abs() > MAX_DAYS {
        return Err(err(
            "OverflowError",
            format!(
                "days={}; must have magnitude <= {MAX_DAYS}",
                us.div_euclid(US_PER_DAY)
            ),
            pos,
        ));
    }
    Ok(Value::TimeSpan(us))
}

fn offset_of(us: i128, pos: usize) -> Result<FixedOffset, YaqlError> {
    // Python's tzinfo offsets must be strictly within one day.
    let secs = us / US_PER_SEC;
    if us % US_PER_SEC != 0 || secs.abs() >= 86_400 {
        return Err(err(
            "ValueError",
            format!(
                "offset must be a timedelta strictly between -timedelta(hours=24) and \
                 timedelta(hours=24), in whole seconds, not {}",
                span_str(us)
            ),
            pos,
        ));
    }
    FixedOffset::east_opt(secs as i32).ok_or_else(|| err("ValueError", "bad offset", pos))
}

/// Python's datetime range is years 1..=9999.
fn checked(dt: Dt, pos: usize) -> R<'static> {
    if !(1..=9999).contains(&dt.naive_local().year()) {
        return Err(err("OverflowError", "date value out of range", pos));
    }
    Ok(Value::DateTime(dt))
}

fn int_of(c: &Call, v: &Value) -> Result<i128, YaqlError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(c.nomatch_types(&[other])),
    }
}

/// Argument `i` positionally, else by keyword `name`.
fn arg<'a>(c: &Call<'a, '_>, i: usize, name: &str) -> Result<Option<Value<'a>>, YaqlError> {
    if i < c.n() {
        return Ok(Some(c.val(i)?));
    }
    c.kw(name)
}

fn timespan_arg(c: &Call, v: Option<Value>) -> Result<Option<i128>, YaqlError> {
    match v {
        None => Ok(None),
        Some(Value::TimeSpan(us)) => Ok(Some(us)),
        Some(other) => Err(c.nomatch_types(&[&other])),
    }
}

/// The function forms: `datetime(...)`, `timespan(...)`, `now()`, `localtz()`, `utctz()`,
/// `isDatetime()`, `isTimespan()`.
pub fn call<'a>(c: &Call<'a, '_>) -> R<'a> {
    match c.name {
        "datetime" => datetime_fn(c),
        "timespan" => {
            const NAMES: [&str; 6] = [
                "days",
                "hours",
                "minutes",
                "seconds",
                "milliseconds",
                "microseconds",
            ];
            const SCALE: [i128; 6] = [US_PER_DAY, 3_600_000_000, 60_000_000, US_PER_SEC, 1000, 1];
            if c.n() > NAMES.len() {
                return Err(c.nomatch());
            }
            c.only_kw(&NAMES)?;
            let mut us: i128 = 0;
            for (i, (name, scale)) in NAMES.iter().zip(SCALE).enumerate() {
                if let Some(v) = arg(c, i, name)? {
                    let n = int_of(c, &v)?;
                    us = n
                        .checked_mul(scale)
                        .and_then(|x| us.checked_add(x))
                        .ok_or_else(|| err("OverflowError", "timespan too large", c.pos))?;
                }
            }
            span(us, c.pos)
        }
        "now" => {
            if c.n() > 1 {
                return Err(c.nomatch());
            }
            c.only_kw(&["offset"])?;
            let off = timespan_arg(c, arg(c, 0, "offset")?)?.unwrap_or(0);
            let tz = offset_of(off, c.pos)?;
            checked(c.ev.provider.now().with_timezone(&tz), c.pos)
        }
        "localtz" => {
            c.arity(0, 0)?;
            Ok(Value::TimeSpan(
                c.ev.provider.local_offset_seconds() as i128 * US_PER_SEC,
            ))
        }
        "utctz" => {
            c.arity(0, 0)?;
            Ok(Value::TimeSpan(0))
        }
        "isDatetime" => {
            c.arity(1, 1)?;
            Ok(Value::Bool(matches!(c.val(0)?, Value::DateTime(_))))
        }
        "isTimespan" => {
            c.arity(1, 1)?;
            Ok(Value::Bool(matches!(c.val(0)?, Value::TimeSpan(_))))
        }
        _ => Err(c.nomatch()),
    }
}

fn datetime_fn<'a>(c: &Call<'a, '_>) -> R<'a> {
    let first = match arg(c, 0, "year")? {
        Some(v) => Some(v),
        None => match c.kw("timestamp")? {
            Some(v) => Some(v),
            None => c.kw("string")?,
        },
    };
    match first {
        // datetime(string, format => null)
        Some(Value::Str(s)) => {
            if c.n() > 2 {
                return Err(c.nomatch());
            }
            c.only_kw(&["string", "format"])?;
            let format = match arg(c, 1, "format")? {
                None | Some(Value::Null) => None,
                Some(Value::Str(f)) => Some(f.to_string()),
                Some(other) => return Err(c.nomatch_types(&[&other])),
            };
            let dt = match format {
                Some(f) if !f.is_empty() => strptime(&s, &f, c.pos)?,
                _ => parse_free(&s).ok_or_else(|| {
                    err(
                        "ParserError",
                        format!("Unknown string format: {}", &*s),
                        c.pos,
                    )
                })?,
            };
            checked(dt, c.pos)
        }
        // datetime(year, month, day, hour, minute, second, microsecond, offset)
        Some(Value::Int(year)) if c.n() >= 3 || c.kw("month")?.is_some() => {
            const NAMES: [&str; 7] = [
                "year",
                "month",
                "day",
                "hour",
                "minute",
                "second",
                "microsecond",
            ];
            if c.n() > 8 {
                return Err(c.nomatch());
            }
            c.only_kw(&[
                "year",
                "month",
                "day",
                "hour",
                "minute",
                "second",
                "microsecond",
                "offset",
            ])?;
            let mut parts = [year, 0, 0, 0, 0, 0, 0];
            for (i, name) in NAMES.iter().enumerate().skip(1) {
                match arg(c, i, name)? {
                    Some(v) => parts[i] = int_of(c, &v)?,
                    None if i < 3 => return Err(c.nomatch()),
                    None => {}
                }
            }
            let off = timespan_arg(c, arg(c, 7, "offset")?)?.unwrap_or(0);
            let tz = offset_of(off, c.pos)?;
            checked(local_datetime(parts, tz, c.pos)?, c.pos)
        }
        // datetime(timestamp, offset => timespan(0))
        Some(ts @ (Value::Int(_) | Value::Float(_))) => {
            if c.n() > 2 {
                return Err(c.nomatch());
            }
            c.only_kw(&["timestamp", "offset"])?;
            let off = timespan_arg(c, arg(c, 1, "offset")?)?.unwrap_or(0);
            let tz = offset_of(off, c.pos)?;
            let us = match ts {
                Value::Int(i) => i.checked_mul(US_PER_SEC),
                Value::Float(f) if f.is_finite() && f.abs() < 1e12 => {
                    Some(round_half_even(f * 1e6))
                }
                _ => None,
            }
            .and_then(|us| i64::try_from(us).ok())
            .and_then(DateTime::<Utc>::from_timestamp_micros)
            .ok_or_else(|| {
                err(
                    "OverflowError",
                    "timestamp out of range for platform time_t",
                    c.pos,
                )
            })?;
            checked(us.with_timezone(&tz), c.pos)
        }
        Some(other) => Err(c.nomatch_types(&[&other])),
        None => Err(c.nomatch()),
    }
}

fn round_half_even(x: f64) -> i128 {
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 && (r as i128) % 2 != 0 {
        r - x.signum()
    } else {
        r
    };
    r as i128
}

/// Translate Python `strftime`/`strptime` directives to chrono's where they differ: `%f` is
/// six digits of microseconds in Python (nanoseconds in chrono).
fn translate(fmt: &str, dt: Option<&Dt>) -> String {
    let mut out = String::with_capacity(fmt.len() + 4);
    let mut chars = fmt.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str("%6f"),
            // Python's %Z is the tzinfo name: "UTC" for yaql's UTC, empty for a bare offset.
            Some('Z') if dt.is_some() => {
                if dt.is_some_and(|d| d.offset().local_minus_utc() == 0) {
                    out.push_str("UTC");
                }
            }
            Some(flag @ ('-' | '_' | '0' | ':' | '.' | '#')) => {
                let spec: String = [flag].into_iter().chain(chars.next()).collect();
                push_directive(&mut out, &spec);
            }
            Some(other) => push_directive(&mut out, &other.to_string()),
            None => out.push_str("%%"),
        }
    }
    out
}

/// A directive chrono knows is passed on; an unknown one stays literal text, as glibc's
/// `strftime` (behind Python's) leaves it.
fn push_directive(out: &mut String, spec: &str) {
    let probe = format!("%{spec}");
    if StrftimeItems::new(&probe).any(|i| matches!(i, Item::Error)) {
        out.push_str("%%");
        out.push_str(spec);
    } else {
        out.push_str(&probe);
    }
}

fn items(fmt: &str, pos: usize) -> Result<Vec<Item<'_>>, YaqlError> {
    let items: Vec<Item> = StrftimeItems::new(fmt).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(err(
            "ValueError",
            format!("Invalid format string {fmt:?}"),
            pos,
        ));
    }
    Ok(items)
}

/// `dt.format(fmt)`: Python `strftime`.
pub fn strftime(dt: &Dt, fmt: &str, pos: usize) -> Result<String, YaqlError> {
    let fmt = translate(fmt, Some(dt));
    let items = items(&fmt, pos)?;
    let mut out = String::new();
    write!(out, "{}", dt.format_with_items(items.into_iter()))
        .map_err(|_| err("ValueError", format!("Invalid format string {fmt:?}"), pos))?;
    Ok(out)
}

/// `datetime(string, format)`: Python `strptime`; fields the format does not set take Python's
/// defaults (1900-01-01 00:00:00) and a missing offset means UTC, as yaql does.
fn strptime(s: &str, fmt: &str, pos: usize) -> Result<Dt, YaqlError> {
    let fmt_c = translate(fmt, None);
    let items = items(&fmt_c, pos)?;
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, s, items.into_iter()).map_err(|e| {
        err(
            "ValueError",
            format!("time data {s:?} does not match format {fmt:?} ({e})"),
            pos,
        )
    })?;
    let bad = || {
        err(
            "ValueError",
            format!("time data {s:?} is not a valid date"),
            pos,
        )
    };
    let year = parsed.year().unwrap_or(1900);
    let date =
        NaiveDate::from_ymd_opt(year, parsed.month().unwrap_or(1), parsed.day().unwrap_or(1))
            .ok_or_else(bad)?;
    let hour = match (parsed.hour_div_12(), parsed.hour_mod_12()) {
        (Some(d), Some(m)) => d * 12 + m,
        (None, Some(m)) => m,
        _ => 0,
    };
    let time = NaiveTime::from_hms_nano_opt(
        hour,
        parsed.minute().unwrap_or(0),
        parsed.second().unwrap_or(0),
        parsed.nanosecond().unwrap_or(0),
    )
    .ok_or_else(bad)?;
    let tz = FixedOffset::east_opt(parsed.offset().unwrap_or(0)).ok_or_else(bad)?;
    tz.from_local_datetime(&date.and_time(time))
        .single()
        .ok_or_else(bad)
}

/// `datetime(string)` without a format: yaql hands it to `dateutil.parser.parse`, which accepts
/// almost anything. Gale accepts the common unambiguous forms (ISO 8601 and its space-separated
/// variant, RFC 2822, `YYYY/MM/DD`, `DD.MM.YYYY`, `Mon DD YYYY`, with optional time); see
/// COMPATIBILITY.md. A missing offset means UTC.
fn parse_free(s: &str) -> Option<Dt> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt);
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(s) {
        return Some(dt);
    }
    const WITH_OFFSET: &[&str] = &[
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
    ];
    for f in WITH_OFFSET {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Some(dt);
        }
    }
    let utc = FixedOffset::east_opt(0)?;
    let s = s.strip_suffix('Z').unwrap_or(s);
    const NAIVE: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y%m%dT%H%M%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%b %d %Y %H:%M:%S",
        "%b %d %H:%M:%S %Y",
        "%a %b %d %H:%M:%S %Y",
    ];
    for f in NAIVE {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return utc.from_local_datetime(&n).single();
        }
    }
    const DATES: &[&str] = &[
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%Y%m%d",
        "%d.%m.%Y",
        "%b %d %Y",
        "%B %d %Y",
        "%b %d, %Y",
        "%B %d, %Y",
        "%d %b %Y",
        "%d %B %Y",
    ];
    for f in DATES {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return utc
                .from_local_datetime(&d.and_time(NaiveTime::MIN))
                .single();
        }
    }
    None
}

/// `dt.replace(year => ..., ..., offset => ...)`: the receiver is slot 0.
pub fn replace<'a>(c: &Call<'a, '_>, dt: &Dt) -> R<'a> {
    const NAMES: [&str; 8] = [
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "microsecond",
        "offset",
    ];
    if c.n() > 1 + NAMES.len() {
        return Err(c.nomatch());
    }
    c.only_kw(&NAMES)?;
    let local = dt.naive_local();
    let mut parts: [i128; 7] = [
        local.year() as i128,
        local.month() as i128,
        local.day() as i128,
        local.hour() as i128,
        local.minute() as i128,
        local.second() as i128,
        (local.nanosecond() / 1000) as i128,
    ];
    for (i, name) in NAMES.iter().take(7).enumerate() {
        match arg(c, i + 1, name)? {
            None | Some(Value::Null) => {}
            Some(v) => parts[i] = int_of(c, &v)?,
        }
    }
    let tz = match timespan_arg(
        c,
        arg(c, 8, "offset")?.filter(|v| !matches!(v, Value::Null)),
    )? {
        Some(off) => offset_of(off, c.pos)?,
        None => *dt.offset(),
    };
    checked(local_datetime(parts, tz, c.pos)?, c.pos)
}

/// A datetime from [year, month, day, hour, minute, second, microsecond] wall-clock fields at
/// offset `tz`, with Python's range checks.
fn local_datetime(parts: [i128; 7], tz: FixedOffset, pos: usize) -> Result<Dt, YaqlError> {
    let [y, mo, d, h, mi, s, us] = parts;
    let field = |v: i128| u32::try_from(v).ok();
    let date = i32::try_from(y)
        .ok()
        .filter(|y| (1..=9999).contains(y))
        .zip(field(mo).zip(field(d)))
        .and_then(|(y, (mo, d))| NaiveDate::from_ymd_opt(y, mo, d))
        .ok_or_else(|| err("ValueError", "year, month or day is out of range", pos))?;
    let time = field(h)
        .zip(field(mi))
        .zip(field(s).zip(field(us).filter(|us| *us < 1_000_000)))
        .and_then(|((h, mi), (s, us))| NaiveTime::from_hms_micro_opt(h, mi, s, us))
        .ok_or_else(|| {
            err(
                "ValueError",
                "hour, minute, second or microsecond is out of range",
                pos,
            )
        })?;
    tz.from_local_datetime(&date.and_time(time))
        .single()
        .ok_or_else(|| err("ValueError", "invalid local time", pos))
}

/// Microseconds of `dt` since the Unix epoch (UTC).
fn epoch_us(dt: &Dt) -> i128 {
    dt.timestamp() as i128 * US_PER_SEC + (dt.timestamp_subsec_micros() as i128)
}

fn add_us(dt: &Dt, us: i128, pos: usize) -> R<'static> {
    let d = i64::try_from(us)
        .ok()
        .map(Duration::microseconds)
        .and_then(|d| dt.checked_add_signed(d))
        .ok_or_else(|| err("OverflowError", "date value out of range", pos))?;
    checked(d, pos)
}

/// Properties of datetimes and timespans (`$.year`, `$.hours`, ...); `None` when `v` is
/// neither, so the caller falls back to dict keys.
pub fn property<'a>(v: &Value<'a>, name: &str, pos: usize) -> Option<R<'a>> {
    match v {
        Value::DateTime(dt) => Some(dt_property(dt, name, pos)),
        Value::TimeSpan(us) => Some(span_property(*us, name, pos)),
        _ => None,
    }
}

fn no_property(kind: &str, name: &str, pos: usize) -> YaqlError {
    err(
        "NoFunctionRegisteredException",
        format!("Unknown function \"#property#{name}\": a {kind} has no attribute '{name}'"),
        pos,
    )
}

fn dt_property<'a>(dt: &Dt, name: &str, pos: usize) -> R<'a> {
    let l = dt.naive_local();
    Ok(match name {
        "year" => Value::Int(l.year() as i128),
        "month" => Value::Int(l.month() as i128),
        "day" => Value::Int(l.day() as i128),
        "hour" => Value::Int(l.hour() as i128),
        "minute" => Value::Int(l.minute() as i128),
        "second" => Value::Int(l.second() as i128),
        "microsecond" => Value::Int((l.nanosecond() / 1000) as i128),
        "weekday" => Value::Int(l.weekday().num_days_from_monday() as i128),
        "date" => {
            let midnight = l.date().and_time(NaiveTime::MIN);
            Value::DateTime(
                dt.offset()
                    .from_local_datetime(&midnight)
                    .single()
                    .ok_or_else(|| err("ValueError", "invalid local time", pos))?,
            )
        }
        "time" => {
            let t = l.time();
            Value::TimeSpan(
                t.num_seconds_from_midnight() as i128 * US_PER_SEC
                    + (t.nanosecond() / 1000) as i128,
            )
        }
        // Python: dt - dt.utcoffset(), keeping the original tzinfo.
        "utc" => {
            let off = dt.offset().local_minus_utc() as i128 * US_PER_SEC;
            return add_us(dt, -off, pos);
        }
        "offset" => Value::TimeSpan(dt.offset().local_minus_utc() as i128 * US_PER_SEC),
        "timestamp" => Value::Float(epoch_us(dt) as f64 / 1e6),
        _ => return Err(no_property("datetime", name, pos)),
    })
}

fn span_property<'a>(us: i128, name: &str, pos: usize) -> R<'a> {
    let f = us as f64;
    Ok(match name {
        "microseconds" => Value::Int(us),
        "milliseconds" => Value::Float(f / 1e3),
        "seconds" => Value::Float(f / 1e6),
        "minutes" => Value::Float(f / 6e7),
        "hours" => Value::Float(f / 3.6e9),
        "days" => Value::Float(f / 8.64e10),
        _ => return Err(no_property("timespan", name, pos)),
    })
}

/// Operators with a datetime or timespan operand; `None` when neither operand is one.
pub fn binop<'a>(op: BinOp, a: &Value<'a>, b: &Value<'a>, pos: usize) -> Option<R<'a>> {
    use Value::{DateTime as D, Float as F, Int as I, TimeSpan as T};
    if !matches!(a, D(_) | T(_)) && !matches!(b, D(_) | T(_)) {
        return None;
    }
    let mul = |us: i128, n: &Value| -> R<'a> {
        match n {
            I(n) => span(
                us.checked_mul(*n)
                    .ok_or_else(|| err("OverflowError", "timespan too large", pos))?,
                pos,
            ),
            F(x) if x.is_finite() => span(round_half_even(us as f64 * x), pos),
            _ => Err(err(
                "OverflowError",
                "cannot convert float to timespan",
                pos,
            )),
        }
    };
    Some(match (op, a, b) {
        (BinOp::Add, D(dt), T(us)) | (BinOp::Add, T(us), D(dt)) => add_us(dt, *us, pos),
        (BinOp::Sub, D(dt), T(us)) => add_us(dt, -us, pos),
        (BinOp::Sub, D(x), D(y)) => span(epoch_us(x) - epoch_us(y), pos),
        (BinOp::Add, T(x), T(y)) => span(x + y, pos),
        (BinOp::Sub, T(x), T(y)) => span(x - y, pos),
        (BinOp::Mul, T(us), n @ (I(_) | F(_))) | (BinOp::Mul, n @ (I(_) | F(_)), T(us)) => {
            mul(*us, n)
        }
        (BinOp::Div, T(x), T(y)) => {
            if *y == 0 {
                Err(err("ZeroDivisionError", "float division by zero", pos))
            } else {
                Ok(F(*x as f64 / *y as f64))
            }
        }
        (BinOp::Div, T(us), I(n)) => {
            if *n == 0 {
                Err(err("ZeroDivisionError", "integer division by zero", pos))
            } else {
                span(round_half_even(*us as f64 / *n as f64), pos)
            }
        }
        (BinOp::Div, T(us), F(x)) => {
            if *x == 0.0 {
                Err(err("ZeroDivisionError", "float division by zero", pos))
            } else {
                span(round_half_even(*us as f64 / x), pos)
            }
        }
        _ => return None,
    })
}

pub fn unary<'a>(op: UnOp, v: &Value<'a>, pos: usize) -> Option<R<'a>> {
    match (op, v) {
        (UnOp::Neg, Value::TimeSpan(us)) => Some(span(-us, pos)),
        (UnOp::Plus, Value::TimeSpan(us)) => Some(Ok(Value::TimeSpan(*us))),
        _ => None,
    }
}

/// Equality/ordering between two datetimes (by instant, as Python compares aware datetimes)
/// or two timespans.
pub fn cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::DateTime(x), Value::DateTime(y)) => Some(epoch_us(x).cmp(&epoch_us(y))),
        (Value::TimeSpan(x), Value::TimeSpan(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

pub fn hash(v: &Value) -> Option<i128> {
    match v {
        Value::DateTime(dt) => Some(epoch_us(dt)),
        Value::TimeSpan(us) => Some(*us),
        _ => None,
    }
}

fn write_offset(out: &mut String, secs: i32) {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let _ = write!(out, "{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
    if a % 60 != 0 {
        let _ = write!(out, ":{:02}", a % 60);
    }
}

/// Python `str(datetime)`: `2015-09-29 00:00:00+00:00` (microseconds only when non-zero).
pub fn dt_str(dt: &Dt) -> String {
    let l = dt.naive_local();
    let mut out = l.format("%Y-%m-%d %H:%M:%S").to_string();
    let us = l.nanosecond() / 1000;
    if us != 0 {
        let _ = write!(out, ".{us:06}");
    }
    write_offset(&mut out, dt.offset().local_minus_utc());
    out
}

/// Python `repr(datetime)` with yaql's tzinfo objects (`tzutc()`, `tzoffset(None, s)`).
pub fn dt_repr(dt: &Dt) -> String {
    let l = dt.naive_local();
    let mut out = format!(
        "datetime.datetime({}, {}, {}, {}, {}",
        l.year(),
        l.month(),
        l.day(),
        l.hour(),
        l.minute()
    );
    let us = l.nanosecond() / 1000;
    if l.second() != 0 || us != 0 {
        let _ = write!(out, ", {}", l.second());
    }
    if us != 0 {
        let _ = write!(out, ", {us}");
    }
    match dt.offset().local_minus_utc() {
        0 => out.push_str(", tzinfo=tzutc())"),
        s => {
            let _ = write!(out, ", tzinfo=tzoffset(None, {s}))");
        }
    }
    out
}

/// A timedelta's normalised (days, seconds 0..86400, microseconds 0..1e6), as Python keeps it.
fn span_parts(us: i128) -> (i128, i128, i128) {
    let rest = us.rem_euclid(US_PER_DAY);
    (
        us.div_euclid(US_PER_DAY),
        rest / US_PER_SEC,
        rest % US_PER_SEC,
    )
}

/// Python `str(timedelta)`: `1 day, 2:03:04.000005`, `-1 day, 23:00:00`, `0:00:01`.
pub fn span_str(us: i128) -> String {
    let (days, secs, micros) = span_parts(us);
    let mut out = String::new();
    if days != 0 {
        let plural = if days.abs() != 1 { "s" } else { "" };
        let _ = write!(out, "{days} day{plural}, ");
    }
    let _ = write!(
        out,
        "{}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out
}

/// Python `repr(timedelta)`: `datetime.timedelta(days=1, seconds=5)`, `datetime.timedelta(0)`.
pub fn span_repr(us: i128) -> String {
    let (days, secs, micros) = span_parts(us);
    let mut parts = Vec::new();
    if days != 0 {
        parts.push(format!("days={days}"));
    }
    if secs != 0 {
        parts.push(format!("seconds={secs}"));
    }
    if micros != 0 {
        parts.push(format!("microseconds={micros}"));
    }
    if parts.is_empty() {
        "datetime.timedelta(0)".into()
    } else {
        format!("datetime.timedelta({})", parts.join(", "))
    }
}

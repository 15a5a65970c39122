//! `timediff_lt`/`td_lt`, `timediff_gt`/`td_gt`: seconds elapsed since the payload's date,
//! compared with the pattern. The value goes through Python `str()` and a permissive date
//! parser (dateutil-like); a date without zone is UTC.

use super::OpResult;
use crate::pyval::{py_str, PyError};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

pub fn timediff_lt(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let (elapsed, period) = elapsed_and_period(v, p, Utc::now())?;
    Ok(elapsed < period)
}

pub fn timediff_gt(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let (elapsed, period) = elapsed_and_period(v, p, Utc::now())?;
    Ok(elapsed > period)
}

fn elapsed_and_period(v: &Value, p: &Value, now: DateTime<Utc>) -> Result<(f64, f64), PyError> {
    let text = py_str(v);
    let at = parse_date(&text)
        .ok_or_else(|| PyError::value_error(format!("Unknown string format: {text}")))?;
    let period = match p {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
            PyError::value_error(format!("could not convert string to float: '{s}'"))
        })?,
        other => {
            return Err(PyError::type_error(format!(
                "float() argument must be a string or a number, not '{}'",
                crate::pyval::type_name(other)
            )))
        }
    };
    let elapsed = (now - at).num_microseconds().map_or_else(
        || (now - at).num_seconds() as f64,
        |us| us as f64 / 1_000_000.0,
    );
    Ok((elapsed, period))
}

/// ISO 8601 / RFC 3339 first, then common permissive forms. `None` when nothing fits.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    let zoned = [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%a, %d %b %Y %H:%M:%S %z",
    ];
    for f in zoned {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    let stripped = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix(" UTC"))
        .unwrap_or(s);
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y%m%dT%H%M%S",
        "%b %d %Y %H:%M:%S",
        "%b %d %Y %H:%M",
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%m/%d/%Y %H:%M:%S",
    ];
    for f in naive {
        if let Ok(dt) = NaiveDateTime::parse_from_str(stripped, f) {
            return Some(Utc.from_utc_datetime(&dt));
        }
    }
    let dates = [
        "%Y-%m-%d", "%Y%m%d", "%b %d %Y", "%d %b %Y", "%Y/%m/%d", "%m/%d/%Y",
    ];
    for f in dates {
        if let Ok(d) = NaiveDate::parse_from_str(stripped, f) {
            return d.and_hms_opt(0, 0, 0).map(|dt| Utc.from_utc_datetime(&dt));
        }
    }
    // dateutil reads a lone 4-digit number as a year (month and day from today).
    if stripped.len() == 4 && stripped.chars().all(|c| c.is_ascii_digit()) {
        let year: i32 = stripped.parse().ok()?;
        let today = Utc::now().date_naive();
        let d = NaiveDate::from_ymd_opt(year, today.month(), today.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, today.month(), 28))?;
        return d.and_hms_opt(0, 0, 0).map(|dt| Utc.from_utc_datetime(&dt));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_payload_formats() {
        for s in [
            "2024-01-11 08:30:00.000512+00:00",
            "2024-01-10T12:00:00Z",
            "2024-01-10 12:00:00",
            "Jan 10 2024 12:00",
            "20240110",
            "2024",
        ] {
            assert!(parse_date(s).is_some(), "{s}");
        }
        assert!(parse_date("1700000000").is_none());
        assert!(parse_date("None").is_none());
    }

    #[test]
    fn elapsed_is_measured_from_now() {
        let now = Utc.with_ymd_and_hms(2024, 1, 10, 12, 1, 0).unwrap();
        let (e, p) = elapsed_and_period(&json!("2024-01-10 12:00:00"), &json!("60"), now).unwrap();
        assert_eq!((e, p), (60.0, 60.0));
        assert!(elapsed_and_period(&json!(null), &json!(60), now).is_err());
        assert!(elapsed_and_period(&json!("2024-01-10"), &json!([1]), now).is_err());
        assert!(timediff_lt(&json!("2999-01-01T00:00:00Z"), &json!(1)).unwrap());
    }
}

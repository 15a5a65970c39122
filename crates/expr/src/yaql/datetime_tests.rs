//! yaql date_time library cases. Every expected value was produced by the real yaql 3 /
//! orquesta `YAQLEvaluator` (python-dateutil for parsing); the few Gale-only choices (JSON form
//! of datetime results, the clock behind `now()`) are tested separately below.

use super::*;
use crate::{ContextProvider, NoProvider};
use serde_json::{json, Value as J};

fn ev(src: &str) -> Result<J, Error> {
    evaluate(&format!("<% {src} %>"), &json!({}), &NoProvider)
}

#[test]
fn matches_python_yaql() {
    let cases: &[(&str, &str)] = &[
        (
            r#"let(datetime(2015, 9, 29)) -> [$.year, $.month, $.day]"#,
            r#"[2015, 9, 29]"#,
        ),
        (
            r#"datetime(2006, 11, 21, 16, 30).timestamp"#,
            r#"1164126600.0"#,
        ),
        (r#"datetime(2006, 11, 21, 16, 30).weekday"#, r#"1"#),
        (
            r#"datetime(2006, 11, 21, 16, 30, 2, 123).microsecond"#,
            r#"123"#,
        ),
        (
            r#"let(datetime(2006, 11, 21, 16, 30).time) -> [$.hours, $.minutes]"#,
            r#"[16.5, 990.0]"#,
        ),
        (
            r#"datetime(2006, 11, 21, 16, 30, offset => timespan(hours => 3)).utc.hour"#,
            r#"13"#,
        ),
        (
            r#"datetime(2006, 11, 21, 16, 30, offset => timespan(hours => 3)).offset.hours"#,
            r#"3.0"#,
        ),
        (
            r#"datetime(2015, 9, 29).replace(year => 2014).year"#,
            r#"2014"#,
        ),
        (
            r#"datetime(2015, 9, 29, 13, 5, 7).format('%Y-%m-%d %H:%M:%S %A %B %j %f %Z %z %p %I')"#,
            r#""2015-09-29 13:05:07 Tuesday September 272 000000 UTC +0000 PM 01""#,
        ),
        (
            r#"str(datetime(2015, 9, 29, 13, 5, 7))"#,
            r#""2015-09-29 13:05:07+00:00""#,
        ),
        (
            r#"str(datetime(2015, 9, 29, 13, 5, 7, 5))"#,
            r#""2015-09-29 13:05:07.000005+00:00""#,
        ),
        (
            r#"str(datetime(2015, 9, 29, 13, 5, 7, offset => timespan(hours => -5, minutes => -30)))"#,
            r#""2015-09-29 13:05:07-05:30""#,
        ),
        (
            r#"str([datetime(2015, 9, 29)])"#,
            r#""(datetime.datetime(2015, 9, 29, 0, 0, tzinfo=tzutc()),)""#,
        ),
        (
            r#"str([datetime(2015, 9, 29, 1, 2, 3, 4, offset => timespan(hours => 2))])"#,
            r#""(datetime.datetime(2015, 9, 29, 1, 2, 3, 4, tzinfo=tzoffset(None, 7200)),)""#,
        ),
        (
            r#"str(timespan(days => 1, hours => 2, minutes => 3))"#,
            r#""1 day, 2:03:00""#,
        ),
        (r#"str(timespan(hours => -1))"#, r#""-1 day, 23:00:00""#),
        (
            r#"str(timespan(days => 2, microseconds => 5))"#,
            r#""2 days, 0:00:00.000005""#,
        ),
        (
            r#"str([timespan(days => 1, seconds => 5)])"#,
            r#""(datetime.timedelta(days=1, seconds=5),)""#,
        ),
        (r#"str([timespan()])"#, r#""(datetime.timedelta(0),)""#),
        (
            r#"timespan(days => 1, hours => 2, minutes => 3).hours"#,
            r#"26.05"#,
        ),
        (r#"timespan(seconds => 1).microseconds"#, r#"1000000"#),
        (r#"timespan(seconds => 1).milliseconds"#, r#"1000.0"#),
        (r#"let(timespan(hours => 24) * 2) -> $.hours"#, r#"48.0"#),
        (r#"let(2 * timespan(hours => 24)) -> $.hours"#, r#"48.0"#),
        (r#"timespan(hours => 24) / timespan(hours => 12)"#, r#"2.0"#),
        (r#"let(timespan(hours => 24) / 2) -> $.hours"#, r#"12.0"#),
        (r#"let(-timespan(hours => 24)) -> $.hours"#, r#"-24.0"#),
        (r#"timespan(hours => 23) < timespan(days => 1)"#, r#"true"#),
        (
            r#"datetime(2011, 11, 11) > datetime(2010, 10, 10)"#,
            r#"true"#,
        ),
        (
            r#"datetime(2011, 11, 11) = datetime(2011, 11, 11, 3, offset => timespan(hours => 3))"#,
            r#"true"#,
        ),
        (
            r#"(datetime(2011, 11, 12) - datetime(2011, 11, 11)).hours"#,
            r#"24.0"#,
        ),
        (
            r#"let(datetime(2015, 9, 29) + timespan(days => 100)) -> [$.year, $.month, $.day]"#,
            r#"[2016, 1, 7]"#,
        ),
        (
            r#"let(datetime(2015, 9, 29) - timespan(days => 100)) -> [$.year, $.month, $.day]"#,
            r#"[2015, 6, 21]"#,
        ),
        (
            r#"let(datetime(1256953732)) -> [$.year, $.month, $.day, $.hour]"#,
            r#"[2009, 10, 31, 1]"#,
        ),
        (
            r#"let(datetime(1256953732.5)) -> [$.second, $.microsecond]"#,
            r#"[52, 500000]"#,
        ),
        (
            r#"let(datetime("29.8.2015")) -> [$.year, $.month, $.day]"#,
            r#"[2015, 8, 29]"#,
        ),
        (
            r#"let(datetime("2015-08-29T10:11:12Z")) -> [$.year, $.month, $.day, $.hour, $.offset.hours]"#,
            r#"[2015, 8, 29, 10, 0.0]"#,
        ),
        (
            r#"let(datetime("2015-08-29 10:11:12+02:00")) -> [$.hour, $.offset.hours]"#,
            r#"[10, 2.0]"#,
        ),
        (
            r#"let(datetime("29.8?2015", "%d.%m?%Y")) -> [$.year, $.month, $.day]"#,
            r#"[2015, 8, 29]"#,
        ),
        (r#"isDatetime(datetime(2010, 10, 10))"#, r#"true"#),
        (r#"isDatetime(1)"#, r#"false"#),
        (r#"isTimespan(timespan())"#, r#"true"#),
        (r#"utctz().hours"#, r#"0.0"#),
        (r#"bool(timespan())"#, r#"false"#),
        (r#"datetime(2015, 9, 29).date.hour"#, r#"0"#),
        (
            r#"datetime(year => 2015, month => 9, day => 29).day"#,
            r#"29"#,
        ),
        (r#"datetime(2015, 9, 29).format('%Q')"#, r#""%Q""#),
        (
            r#"datetime("2015-08-29 10:11:12.250000").microsecond"#,
            r#"250000"#,
        ),
        (r#"datetime("Aug 29 2015").day"#, r#"29"#),
    ];
    for (src, want) in cases {
        let want: J = serde_json::from_str(want).unwrap();
        let got = ev(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(got, want, "{src}");
    }
}

#[test]
fn errors_like_python_yaql() {
    // (expression, the Python exception class yaql raises)
    let cases: &[(&str, &str)] = &[
        (r#"datetime(2015, 13, 1)"#, r#"ValueError"#),
        (
            r#"datetime(2015, 9, 29).foo"#,
            r#"NoFunctionRegisteredException"#,
        ),
        (
            r#"timespan(days => 1) + 1"#,
            r#"NoMatchingFunctionException"#,
        ),
        (r#"timespan(days => 1000000000)"#, r#"OverflowError"#),
        (
            r#"datetime(9999, 12, 31) + timespan(days => 1)"#,
            r#"OverflowError"#,
        ),
        (r#"datetime("not a date")"#, r#"ParserError"#),
    ];
    for (src, class) in cases {
        match ev(src) {
            Ok(v) => panic!("{src}: expected {class}, got {v}"),
            Err(e) => assert!(e.to_string().contains(class), "{src}: {e} (want {class})"),
        }
    }
}

/// A provider with a pinned clock and a local offset, as the engine or a test supplies them.
struct Pinned;
impl ContextProvider for Pinned {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_700_000_000, 250_000_000).unwrap()
    }
    fn local_offset_seconds(&self) -> i32 {
        -5 * 3600
    }
}

fn pinned(src: &str) -> J {
    evaluate(&format!("<% {src} %>"), &json!({}), &Pinned).unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn now_and_localtz_come_from_the_provider() {
    assert_eq!(pinned("now().timestamp"), json!(1_700_000_000.25));
    assert_eq!(
        pinned("now().format('%Y-%m-%d %H:%M:%S.%f')"),
        json!("2023-11-14 22:13:20.250000")
    );
    assert_eq!(pinned("localtz().hours"), json!(-5.0));
    assert_eq!(pinned("now(offset => localtz()).hour"), json!(17));
    assert_eq!(pinned("now(offset => localtz()) = now()"), json!(true));
    assert_eq!(
        pinned("(now() - datetime(2023, 11, 14)).hours > 22"),
        json!(true)
    );
}

#[test]
fn datetime_results_leave_as_python_str() {
    // JSON has no date type; orquesta would hand back the Python object. Gale returns str().
    assert_eq!(
        ev("datetime(2015, 9, 29)").unwrap(),
        json!("2015-09-29 00:00:00+00:00")
    );
    assert_eq!(
        ev("timespan(days => 1, seconds => 5)").unwrap(),
        json!("1 day, 0:00:05")
    );
    assert_eq!(
        ev("[datetime(2015, 9, 29, 1, 2, 3, 4, offset => timespan(hours => 2))]").unwrap(),
        json!(["2015-09-29 01:02:03.000004+02:00"])
    );
    assert_eq!(
        ev("{a => timespan(hours => -1)}").unwrap(),
        json!({"a": "-1 day, 23:00:00"})
    );
    // Spliced into text, as str() does.
    assert_eq!(
        evaluate(
            "at <% datetime(2015, 9, 29, 13) %>",
            &json!({}),
            &NoProvider
        )
        .unwrap(),
        json!("at 2015-09-29 13:00:00+00:00")
    );
}

#[test]
fn datetimes_hash_and_compare_by_instant() {
    assert_eq!(
        ev("[datetime(2011, 11, 11), datetime(2011, 11, 11, 3, offset => timespan(hours => 3))].distinct().len()").unwrap(),
        json!(1)
    );
    assert_eq!(
        ev("[timespan(hours => 2), timespan(minutes => 30)].max().minutes").unwrap(),
        json!(120.0)
    );
    assert_eq!(ev("datetime(2011, 1, 1) < null").unwrap(), json!(false));
}

#[test]
fn strptime_defaults_and_bad_formats() {
    assert_eq!(ev("datetime('10:30', '%H:%M').year").unwrap(), json!(1900));
    assert_eq!(ev("datetime('07PM', '%I%p').hour").unwrap(), json!(19));
    assert!(ev("datetime('2015', '%Y-%m')").is_err());
    assert!(ev("datetime(2015, 9, 29, 24)").is_err());
    assert!(ev("datetime(2015, 9, 29, offset => timespan(hours => 24))").is_err());
    assert!(ev("datetime(2015, 9)").is_err());
}

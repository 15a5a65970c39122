//! Timestamps: UTC, rendered as StackStorm does (`2024-05-01T10:11:12.123456Z`).

use chrono::{DateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

/// Now, truncated to microseconds: the precision StackStorm shows and we store.
pub fn now() -> Timestamp {
    use chrono::DurationRound;
    let t = Utc::now();
    t.duration_trunc(chrono::Duration::microseconds(1))
        .unwrap_or(t)
}

/// ISO-8601 UTC with microseconds and a `Z` suffix.
pub fn format_ts(ts: &Timestamp) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parse the formats StackStorm clients send (RFC 3339, with or without fraction).
pub fn parse_ts(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Serde helpers so records serialize timestamps in StackStorm's format.
pub mod serde_ts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ts(ts))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        parse_ts(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}")))
    }

    pub mod option {
        use super::*;
        pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match ts {
                Some(t) => s.serialize_str(&format_ts(t)),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            match s {
                None => Ok(None),
                Some(s) => parse_ts(&s)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_with_micros_and_z() {
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 10, 11, 12).unwrap()
            + chrono::Duration::microseconds(123456);
        assert_eq!(format_ts(&t), "2024-05-01T10:11:12.123456Z");
        assert_eq!(parse_ts("2024-05-01T10:11:12.123456Z"), Some(t));
        assert_eq!(parse_ts("nope"), None);
    }
}

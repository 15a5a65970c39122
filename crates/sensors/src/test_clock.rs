//! A clock read from a file, for end-to-end tests through the real binary only
//! (`gale server --test-clock-file`): the test writes an instant (RFC 3339, e.g.
//! `2030-01-01T00:00:00Z`) and the timer engine sees that time until the file changes.
//! Never meant for production: time does not move unless someone rewrites the file.

use crate::timers::NowFn;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Read `path` on every call. Until the file first holds a valid instant the clock is the
/// system clock; after that, an unreadable or half-written file keeps the last valid instant
/// (the test may be rewriting it).
pub fn file_clock(path: PathBuf) -> NowFn {
    let last: Mutex<Option<DateTime<Utc>>> = Mutex::new(None);
    Arc::new(move || {
        let read = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|d| d.with_timezone(&Utc));
        let mut g = match last.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match read {
            Some(t) => {
                *g = Some(t);
                t
            }
            None => g.unwrap_or_else(gale_model::now),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_and_keeps_the_last_valid_instant() {
        let dir = std::env::temp_dir().join(format!("gale-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("clock");
        let _ = std::fs::remove_file(&path);
        let clock = file_clock(path.clone());
        let before = gale_model::now();
        assert!(clock() >= before, "no file yet: the system clock");
        std::fs::write(&path, "2030-01-01T00:00:00Z\n").unwrap();
        let t0: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(clock(), t0);
        assert_eq!(clock(), t0, "frozen until rewritten");
        std::fs::write(&path, "2030-01-01T05:30:00+05:30").unwrap();
        assert_eq!(clock(), t0, "offsets are honoured");
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(clock(), t0, "a bad write keeps the last instant");
        std::fs::write(&path, "2030-01-01T00:00:10Z").unwrap();
        assert_eq!(clock(), t0 + chrono::Duration::seconds(10));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

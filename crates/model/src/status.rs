//! Execution statuses and their legal transitions (actions.md §3.1).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecStatus {
    Requested,
    Scheduled,
    Delayed,
    Running,
    Pending,
    Pausing,
    Paused,
    Resuming,
    Canceling,
    Succeeded,
    Failed,
    Timeout,
    Canceled,
    Abandoned,
}

use ExecStatus::*;

impl ExecStatus {
    pub const ALL: [ExecStatus; 14] = [
        Requested, Scheduled, Delayed, Running, Pending, Pausing, Paused, Resuming, Canceling,
        Succeeded, Failed, Timeout, Canceled, Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Requested => "requested",
            Scheduled => "scheduled",
            Delayed => "delayed",
            Running => "running",
            Pending => "pending",
            Pausing => "pausing",
            Paused => "paused",
            Resuming => "resuming",
            Canceling => "canceling",
            Succeeded => "succeeded",
            Failed => "failed",
            Timeout => "timeout",
            Canceled => "canceled",
            Abandoned => "abandoned",
        }
    }

    /// COMPLETED: the execution will never change again.
    pub fn is_completed(self) -> bool {
        matches!(self, Succeeded | Failed | Timeout | Canceled | Abandoned)
    }

    /// FAILED-like statuses (on-failure notify, action-chain on-failure).
    pub fn is_failure(self) -> bool {
        matches!(self, Failed | Timeout | Abandoned)
    }

    /// CANCELABLE statuses.
    pub fn is_cancelable(self) -> bool {
        matches!(
            self,
            Requested | Scheduled | Delayed | Running | Pausing | Paused | Resuming | Pending
        )
    }

    /// Whether `self -> to` is a legal transition. Completed statuses are final; staying in the
    /// same status is allowed (idempotent updates).
    pub fn can_transition_to(self, to: ExecStatus) -> bool {
        if self == to {
            return true;
        }
        if self.is_completed() {
            return false;
        }
        match (self, to) {
            (_, Abandoned) => matches!(
                self,
                Running | Scheduled | Pending | Pausing | Paused | Resuming | Canceling
            ),
            (_, Canceled) => self.is_cancelable() || self == Canceling,
            (_, Canceling) => self.is_cancelable(),
            (Requested, Scheduled | Delayed) => true,
            (Delayed, Scheduled | Requested) => true,
            (Scheduled, Running | Delayed) => true,
            (Running, Succeeded | Failed | Timeout | Pending | Pausing | Paused) => true,
            (Pending, Succeeded | Failed | Timeout | Running) => true,
            (Pausing, Paused | Running | Succeeded | Failed | Timeout) => true,
            (Paused, Resuming | Running) => true,
            (Resuming, Running | Succeeded | Failed | Timeout | Paused | Pausing) => true,
            (Canceling, Succeeded | Failed | Timeout) => false,
            // A runner may finish before the scheduler's bookkeeping catches up.
            (Scheduled, Succeeded | Failed | Timeout) => true,
            _ => false,
        }
    }
}

impl fmt::Display for ExecStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ExecStatus::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown execution status \"{s}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_names() {
        for s in ExecStatus::ALL {
            assert_eq!(s.as_str().parse::<ExecStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert!("cancelled".parse::<ExecStatus>().is_err());
    }

    #[test]
    fn completed_is_final() {
        for from in ExecStatus::ALL.into_iter().filter(|s| s.is_completed()) {
            for to in ExecStatus::ALL {
                assert_eq!(from.can_transition_to(to), from == to, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn happy_paths() {
        assert!(Requested.can_transition_to(Scheduled));
        assert!(Requested.can_transition_to(Delayed));
        assert!(Delayed.can_transition_to(Scheduled));
        assert!(Scheduled.can_transition_to(Running));
        assert!(Running.can_transition_to(Succeeded));
        assert!(Running.can_transition_to(Timeout));
        assert!(Running.can_transition_to(Canceling));
        assert!(Canceling.can_transition_to(Canceled));
        assert!(Running.can_transition_to(Abandoned));
        assert!(Running.can_transition_to(Pausing));
        assert!(Pausing.can_transition_to(Paused));
        assert!(Paused.can_transition_to(Resuming));
        assert!(Resuming.can_transition_to(Running));
        assert!(Requested.can_transition_to(Canceled));
    }

    #[test]
    fn illegal_paths() {
        assert!(!Requested.can_transition_to(Succeeded));
        assert!(!Requested.can_transition_to(Abandoned));
        assert!(!Canceling.can_transition_to(Succeeded));
        assert!(!Paused.can_transition_to(Succeeded));
        assert!(!Succeeded.can_transition_to(Running));
    }
}

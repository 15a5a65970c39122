//! Workflow and task statuses, with the groupings Orquesta reasons with.
use serde::{Deserialize, Serialize};

/// A workflow or task status. Serialized as Orquesta spells it (`timeout` for expired,
/// `null` for unset) so persisted state and traces read the same as the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    #[serde(rename = "null")]
    Unset,
    Requested,
    Scheduled,
    Delayed,
    Running,
    Pending,
    Pausing,
    Paused,
    Resuming,
    Succeeded,
    Failed,
    #[serde(rename = "timeout")]
    Expired,
    Abandoned,
    Retrying,
    Canceling,
    Canceled,
}

const ALL: [Status; 16] = [
    Status::Unset,
    Status::Requested,
    Status::Scheduled,
    Status::Delayed,
    Status::Running,
    Status::Pending,
    Status::Pausing,
    Status::Paused,
    Status::Resuming,
    Status::Succeeded,
    Status::Failed,
    Status::Expired,
    Status::Abandoned,
    Status::Retrying,
    Status::Canceling,
    Status::Canceled,
];

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unset => "null",
            Status::Requested => "requested",
            Status::Scheduled => "scheduled",
            Status::Delayed => "delayed",
            Status::Running => "running",
            Status::Pending => "pending",
            Status::Pausing => "pausing",
            Status::Paused => "paused",
            Status::Resuming => "resuming",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Expired => "timeout",
            Status::Abandoned => "abandoned",
            Status::Retrying => "retrying",
            Status::Canceling => "canceling",
            Status::Canceled => "canceled",
        }
    }

    /// Parse a status name (`None` for names Orquesta does not know).
    pub fn parse(s: &str) -> Option<Status> {
        ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// Statuses an action starts in; a completed task receiving one of these starts a new
    /// execution of the task (loops).
    pub fn is_starting(self) -> bool {
        use Status::*;
        matches!(self, Requested | Scheduled | Delayed | Running | Pending)
    }

    pub fn is_running(self) -> bool {
        use Status::*;
        matches!(
            self,
            Requested | Scheduled | Delayed | Running | Resuming | Retrying
        )
    }

    pub fn is_active(self) -> bool {
        use Status::*;
        matches!(
            self,
            Requested | Scheduled | Delayed | Running | Resuming | Pausing | Canceling
        )
    }

    pub fn is_pause(self) -> bool {
        matches!(self, Status::Pausing | Status::Paused)
    }

    pub fn is_cancel(self) -> bool {
        matches!(self, Status::Canceling | Status::Canceled)
    }

    pub fn is_abended(self) -> bool {
        matches!(self, Status::Failed | Status::Expired | Status::Abandoned)
    }

    pub fn is_completed(self) -> bool {
        use Status::*;
        matches!(self, Succeeded | Failed | Expired | Abandoned | Canceled)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in ALL {
            assert_eq!(Status::parse(st.as_str()), Some(st));
            let json = serde_json::to_value(st).unwrap();
            assert_eq!(json, serde_json::Value::String(st.as_str().into()));
            let back: Status = serde_json::from_value(json).unwrap();
            assert_eq!(back, st);
        }
        assert_eq!(Status::parse("bogus"), None);
    }

    #[test]
    fn groups() {
        assert!(Status::Canceled.is_completed());
        assert!(!Status::Canceled.is_abended());
        assert!(Status::Expired.is_abended());
        assert!(Status::Retrying.is_running());
        assert!(!Status::Retrying.is_active());
        assert!(Status::Pausing.is_active());
    }
}

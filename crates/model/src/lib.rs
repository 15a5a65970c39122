//! Gale's domain model: StackStorm's records (packs, runner types, actions, executions, output
//! records, auth), with StackStorm's field names so that serializing a record gives the API shape.
//!
//! This crate is pure data and rules about data (status transitions, refs, ids, timestamps):
//! no I/O, no async. Parameter schemas are kept as raw JSON-schema fragments (StackStorm's
//! dialect) so unknown keywords survive a round trip; helpers read the StackStorm extensions.

pub mod action;
pub mod auth;
pub mod events;
pub mod execution;
pub mod id;
pub mod pack;
pub mod params;
pub mod py;
pub mod refs;
pub mod runner;
pub mod status;
pub mod time;

pub use action::Action;
pub use auth::{ApiKey, Token};
pub use execution::{Execution, LiveAction, LogEntry, OutputRecord};
pub use id::new_id;
pub use pack::Pack;
pub use params::{ParamSpec, ParameterSchema};
pub use refs::ResourceRef;
pub use runner::RunnerType;
pub use status::ExecStatus;
pub use time::{format_ts, now, Timestamp};

/// Errors from model-level rules (refs, transitions, schema definitions).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    #[error("invalid reference \"{0}\": expected <pack>.<name>")]
    InvalidRef(String),
    #[error("invalid status transition from \"{from}\" to \"{to}\"")]
    InvalidTransition { from: ExecStatus, to: ExecStatus },
    #[error("{0}")]
    InvalidSchema(String),
}

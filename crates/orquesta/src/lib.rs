//! Orquesta workflows: spec parsing, inspection and the conductor, as a pure, deterministic,
//! serializable state machine.
//!
//! This crate owns the Orquesta language (native v1.0 specs) and the conductor's
//! bookkeeping. It must not do I/O, read clocks or spawn threads: the engine feeds it events
//! and carries out what it asks for, and persists the [`Conductor`] (plain serde data) after
//! every event. The key choice is to keep Orquesta's data model (staged tasks, task state
//! sequence, routes, context list, `__state`) so that behaviour, traces and `task_status()`
//! match the reference conductor exactly; expressions are evaluated by `gale-expr`.
//!
//! # Driving a workflow (engine API)
//!
//! ```no_run
//! use gale_orquesta::{inspect, Conductor, NoRuntime, Status, TaskEvent, WorkflowSpec};
//! let spec = WorkflowSpec::from_yaml("version: 1.0\ntasks:\n  a:\n    action: core.noop\n").unwrap();
//! assert!(inspect::inspect(&spec, None).is_empty());          // refuse to start otherwise
//! let rt = NoRuntime; // implement `Runtime` for st2kv / task() results
//! let mut c = Conductor::new(spec, Default::default(), Default::default(), &rt);
//! c.request_workflow_status(Status::Running).unwrap();
//! for task in c.get_next_tasks(&rt) {                          // id, route, actions, delay
//!     for a in &task.actions {                                 // a.action, a.input, a.item_id
//!         c.update_task_state(&task.id, task.route, TaskEvent::action(Status::Running, serde_json::Value::Null), &rt).unwrap();
//!     }
//! }
//! // ... later, on completion of an action:
//! // c.update_task_state(id, route, TaskEvent::action(Status::Succeeded, result), &rt)
//! // with-items: TaskEvent::Item { item_id, status, result, accumulated }
//! let _status = c.get_workflow_status();
//! c.render_workflow_output(&rt);                               // once completed
//! let _output = c.get_workflow_output();
//! let _errors = c.errors();
//! let persisted = c.serialize().unwrap();                      // and Conductor::deserialize
//! # let _ = persisted;
//! ```

pub mod conductor;
pub mod expr;
pub mod graph;
pub mod inspect;
pub mod machines;
pub mod params;
pub mod rehearse;
pub mod spec;
pub mod status;
mod syntax;

pub use conductor::{
    ActionSpec, Conductor, ConductorError, NextTask, NoRuntime, Runtime, TaskEvent, TaskStateEntry,
    WorkflowState,
};
pub use inspect::{Inspection, Issue};
pub use spec::{SpecError, WorkflowSpec};
pub use status::Status;

//! Pack loading: a StackStorm pack directory (`pack.yaml`, `config.schema.yaml`,
//! `actions/*.yaml`) becomes validated [`gale_model::Pack`] and [`gale_model::Action`] records;
//! also pack discovery across base paths, `enabled` overrides ([`overrides`]), config values
//! checked against the config schema ([`config`]) and the packs shipped inside the binary
//! ([`builtin`]).
//!
//! This crate reads files and validates; it never touches storage, runs actions or knows the
//! runners crate (the runner catalogue is passed in as `&[RunnerType]`). Registration (upsert by
//! ref, fail-on-failure vs. skip) is the caller's: [`load_pack`] returns a [`PackReport`] with
//! the pack, the valid actions and every rejected file with StackStorm's message.
//!
//! Key choice: YAML is read with PyYAML's YAML 1.1 meaning ([`yaml`]), because pack content is
//! written for StackStorm (`enabled: yes`, `default: on`, unquoted `0777`), and every message a
//! user can see is worded as StackStorm words it ([`pyfmt`]).

pub mod action;
pub mod builtin;
pub mod config;
pub mod events;
pub mod loader;
pub mod overrides;
pub mod pack;
pub mod pyfmt;
pub mod schema;
pub mod yaml;

pub use action::{action_from_document, check_runner_overrides, validate_parameters, ActionError};
pub use loader::{
    discover_packs, find_pack, load_pack, load_pack_with, FileFailure, LoadOptions, PackReport,
};
pub use pack::{load_pack_metadata, resolve_pack_ref};

use std::path::PathBuf;

/// Errors of pack loading.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Directory \"{0}\" doesn't exist")]
    NotADirectory(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A registration failure in fail-on-failure mode (StackStorm's full message).
    #[error("{0}")]
    Registration(String),
}

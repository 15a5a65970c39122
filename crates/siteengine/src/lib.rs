//! ExtremeCloud IQ Site Engine integration (spec `site-engine.md`): the inbound webhook
//! envelope and its normalisation into `siteengine.*` trigger payloads ([`envelope`]), the
//! northbound GraphQL API client ([`nbi`]), the `siteengine-nbi` runner that runs the
//! `siteengine` pack's actions with it ([`runner`]), the `st2integration.py` sender as seen from
//! Rust — its text, argument line and a runner for tests and demos ([`sender`]) — and a Site
//! Engine simulator ([`sim`]).
//!
//! This crate must not touch storage, the events service or the HTTP API: the webhook endpoint
//! (in gale-api) calls [`envelope::normalize`] and dispatches the result; the server registers
//! [`runner::SiteEngineRunner`]. Key choice: TLS is verified by default everywhere (rustls,
//! optional CA bundle), and the simulator speaks real HTTPS with a CA made at start, so tests
//! exercise the same trust path an operator's Site Engine does.

pub mod dedup;
pub mod envelope;
pub mod nbi;
pub mod runner;
pub mod schema;
pub mod sender;
pub mod sim;

pub use envelope::{normalize, Envelope, EnvelopeError, Normalized};
pub use nbi::{Auth, NbiClient, NbiConfig, NbiError};
pub use runner::SiteEngineRunner;
pub use sim::{SimHandle, SimOptions};

//! Orquesta workflows: spec parsing, inspection and the conductor, as a pure, deterministic,
//! serializable state machine. No I/O: the engine feeds it events and carries out its commands.

pub mod rehearse;

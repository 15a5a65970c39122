//! The engine: execution requests → parameters → durable queue → worker pool → runner → result.

pub mod params;

//! The shared backend test suite (placeholder until it lands).

//! SQLite backend (placeholder until it lands).

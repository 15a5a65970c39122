//! SQLite-specific tests (the shared suite runs in tests/sqlite.rs).

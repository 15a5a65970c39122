//! The parameter pipeline of actions.md §2 (placeholder until it lands).

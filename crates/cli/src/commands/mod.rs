pub mod expr;
pub mod workflow;

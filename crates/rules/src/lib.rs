//! Rule matching for Gale: the StackStorm rule document and its registration checks, the
//! criteria operators with Python semantics, criteria key lookup and pattern rendering, an
//! index from trigger ref to candidate rules, and the plan for enforcing a matched rule
//! (rendered action parameters and execution context).
//!
//! This crate is pure decision logic: no I/O, no async, no store. Everything outside the rule
//! (datastore values behind `st2kv`, which trigger types and actions exist, action parameter
//! schemas) comes in through traits or arguments. The key choice: evaluation never panics or
//! bails on bad data — every StackStorm exception becomes a failure *reason* (the text of a
//! failed rule-enforcement record), and only what aborts the whole trigger instance in
//! StackStorm (an unknown top-level operator) is an `Err`.

pub mod criteria;
pub mod enforce;
pub mod index;
pub mod lookup;
pub mod operators;
pub mod pattern;
pub mod pyval;
pub mod rule;

pub use criteria::{criteria_context, evaluate_in, evaluate_rule, CriteriaAbort, RuleEvaluation};
pub use enforce::{
    action_missing_reason, plan_enforcement, EnforcementContext, EnforcementPlan, PlanError,
    PlanInput,
};
pub use index::{InstanceOutcome, RuleIndex, TriggerInstanceView};
pub use rule::{Rule, RuleAction, RuleCatalog, RuleError, RuleTrigger, RuleType, Tag};

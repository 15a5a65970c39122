//! Enforcement planning (events.md §5.9): placeholder replaced below.
pub struct EnforcementPlan;
pub struct EnforcementContext;
pub struct PlanInput;
pub fn plan_enforcement() {}

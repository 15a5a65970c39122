//! Candidate rules per trigger ref (events.md §5.3) and the two-pass evaluation with
//! backstop rules (§5.4). Rules on other triggers cost nothing.

use crate::criteria::{criteria_context, evaluate_in, CriteriaAbort};
use crate::rule::Rule;
use gale_expr::ContextProvider;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

/// The trigger instance fields evaluation needs.
#[derive(Debug, Clone, Copy)]
pub struct TriggerInstanceView<'a> {
    pub id: &'a str,
    /// Trigger ref (not the type ref).
    pub trigger: &'a str,
    pub payload: &'a Value,
}

/// Result of evaluating every candidate rule for one trigger instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceOutcome {
    /// Rules to enforce, in order.
    pub matched: Vec<Arc<Rule>>,
    /// Criteria failures: (rule, full reason), one failed enforcement record each.
    pub failures: Vec<(Arc<Rule>, String)>,
    /// Set when evaluation aborted (StackStorm `processing_failed`); `matched` is then empty.
    pub aborted: Option<CriteriaAbort>,
}

/// Rules grouped by trigger ref, each group in insertion order (creation order).
#[derive(Debug, Default, Clone)]
pub struct RuleIndex {
    by_trigger: IndexMap<String, Vec<Arc<Rule>>>,
    trigger_of: IndexMap<String, String>,
}

impl RuleIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces (by ref) a rule. A replaced rule keeps its position when it stays
    /// on the same trigger.
    pub fn upsert(&mut self, rule: Rule) {
        let trigger = rule.trigger_ref().to_string();
        let rule = Arc::new(rule);
        if let Some(old) = self.trigger_of.get(&rule.r#ref).cloned() {
            if old == trigger {
                if let Some(list) = self.by_trigger.get_mut(&trigger) {
                    if let Some(slot) = list.iter_mut().find(|r| r.r#ref == rule.r#ref) {
                        *slot = rule;
                        return;
                    }
                }
            }
            self.remove(&rule.r#ref);
        }
        self.trigger_of.insert(rule.r#ref.clone(), trigger.clone());
        self.by_trigger.entry(trigger).or_default().push(rule);
    }

    pub fn remove(&mut self, rule_ref: &str) -> Option<Arc<Rule>> {
        let trigger = self.trigger_of.shift_remove(rule_ref)?;
        let list = self.by_trigger.get_mut(&trigger)?;
        let pos = list.iter().position(|r| r.r#ref == rule_ref)?;
        let removed = list.remove(pos);
        if list.is_empty() {
            self.by_trigger.shift_remove(&trigger);
        }
        Some(removed)
    }

    /// Enables or disables a rule in place; false when the rule is unknown.
    pub fn set_enabled(&mut self, rule_ref: &str, enabled: bool) -> bool {
        let Some(trigger) = self.trigger_of.get(rule_ref) else {
            return false;
        };
        let Some(list) = self.by_trigger.get_mut(trigger) else {
            return false;
        };
        match list.iter_mut().find(|r| r.r#ref == rule_ref) {
            Some(slot) => {
                let mut r = (**slot).clone();
                r.enabled = enabled;
                *slot = Arc::new(r);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, rule_ref: &str) -> Option<&Arc<Rule>> {
        let trigger = self.trigger_of.get(rule_ref)?;
        self.by_trigger
            .get(trigger)?
            .iter()
            .find(|r| r.r#ref == rule_ref)
    }

    pub fn len(&self) -> usize {
        self.trigger_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trigger_of.is_empty()
    }

    /// Enabled rules bound to `trigger_ref`, in order.
    pub fn candidates(&self, trigger_ref: &str) -> impl Iterator<Item = &Arc<Rule>> {
        self.by_trigger
            .get(trigger_ref)
            .into_iter()
            .flatten()
            .filter(|r| r.enabled)
    }

    /// Standard rules first; backstop rules only when no standard rule matched.
    pub fn evaluate(
        &self,
        instance: TriggerInstanceView<'_>,
        provider: &dyn ContextProvider,
    ) -> InstanceOutcome {
        let mut out = InstanceOutcome::default();
        let ctx = criteria_context(instance.payload);
        for backstop in [false, true] {
            if backstop && !out.matched.is_empty() {
                break;
            }
            for rule in self.candidates(instance.trigger) {
                if rule.is_backstop() != backstop {
                    continue;
                }
                match evaluate_in(rule, instance.id, &ctx, provider) {
                    Ok(ev) => {
                        for f in ev.failures {
                            out.failures.push((rule.clone(), f));
                        }
                        if ev.matched {
                            out.matched.push(rule.clone());
                        }
                    }
                    Err(abort) => {
                        out.matched.clear();
                        out.aborted = Some(abort);
                        return out;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gale_expr::NoProvider;
    use serde_json::json;

    fn rule(name: &str, trigger: &str, backstop: bool, pattern: i64) -> Rule {
        let mut r = Rule::from_value(
            json!({"name": name, "enabled": true, "trigger": {"type": trigger},
                   "type": {"ref": if backstop {"backstop"} else {"standard"}},
                   "criteria": {"trigger.n": {"type": "equals", "pattern": pattern}},
                   "action": {"ref": "core.noop"}}),
            "p",
        )
        .unwrap();
        r.compute_refs();
        r
    }

    #[test]
    fn rules_on_other_triggers_are_not_candidates() {
        let mut idx = RuleIndex::new();
        for i in 0..5000 {
            idx.upsert(rule(&format!("r{i}"), &format!("t.{}", i % 50), false, 1));
        }
        assert_eq!(idx.candidates("t.7").count(), 100);
        assert_eq!(idx.candidates("t.none").count(), 0);
        // Replacing a rule moves it to its new trigger.
        idx.upsert(rule("r7", "t.none", false, 1));
        assert_eq!(idx.candidates("t.7").count(), 99);
        assert_eq!(idx.candidates("t.none").count(), 1);
        assert_eq!(idx.len(), 5000);
    }

    #[test]
    fn backstop_only_when_nothing_matched() {
        let mut idx = RuleIndex::new();
        idx.upsert(rule("a", "t.x", false, 1));
        idx.upsert(rule("b", "t.x", true, 1));
        idx.upsert(rule("c", "t.y", false, 1));
        let p1 = json!({"n": 1});
        let out = idx.evaluate(
            TriggerInstanceView {
                id: "i",
                trigger: "t.x",
                payload: &p1,
            },
            &NoProvider,
        );
        let refs: Vec<_> = out.matched.iter().map(|r| r.r#ref.as_str()).collect();
        assert_eq!(refs, ["p.a"]);
        idx.set_enabled("p.a", false);
        let out = idx.evaluate(
            TriggerInstanceView {
                id: "i",
                trigger: "t.x",
                payload: &p1,
            },
            &NoProvider,
        );
        let refs: Vec<_> = out.matched.iter().map(|r| r.r#ref.as_str()).collect();
        assert_eq!(refs, ["p.b"]);
        assert_eq!(idx.candidates("t.y").count(), 1);
        assert!(idx.remove("p.c").is_some());
        assert_eq!(idx.candidates("t.y").count(), 0);
        assert_eq!(idx.len(), 2);
    }
}

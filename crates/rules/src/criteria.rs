//! Criteria evaluation for one rule against one trigger payload (events.md §5.4, §5.8).
//!
//! Failures StackStorm records as failed rule enforcements come back as reason texts in
//! [`RuleEvaluation::failures`]; the rule then does not match. Only an unknown operator in a
//! top-level criterion escapes as [`CriteriaAbort`] (StackStorm: `processing_failed`).

use crate::lookup;
use crate::operators;
use crate::pattern::render_pattern;
use crate::pyval::py_str;
use crate::rule::Rule;
use gale_expr::ContextProvider;
use serde_json::{json, Map, Value};

/// The outcome of matching one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleEvaluation {
    pub matched: bool,
    /// Full failure reasons (`Failed to match rule "..." against trigger instance "...": ...`).
    pub failures: Vec<String>,
}

/// An error that aborts the whole trigger instance.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CriteriaAbort {
    #[error("Invalid operator: {0}")]
    InvalidOperator(String),
}

struct Eval<'a> {
    rule_ref: &'a str,
    instance_id: &'a str,
    provider: &'a dyn ContextProvider,
    failures: Vec<String>,
}

impl Eval<'_> {
    fn fail(&mut self, reason: &str, exc: &str) {
        self.failures.push(format!(
            "Failed to match rule \"{}\" against trigger instance \"{}\": {reason}: {exc}",
            self.rule_ref, self.instance_id
        ));
    }

    fn problem(&self) -> String {
        format!(
            "There might be a problem with the criteria in rule {}",
            self.rule_ref
        )
    }

    /// StackStorm `_check_criterion`; `ctx` is `{"trigger": ...}` or `{"item": ...}`.
    fn check(&mut self, key: &str, criterion: &Value, ctx: &Value) -> Result<bool, CriteriaAbort> {
        let Some(op) = criterion.get("type") else {
            return Ok(false);
        };
        let op = match op {
            Value::String(s) => s.to_lowercase(),
            other => py_str(other).to_lowercase(),
        };
        let raw_pattern = criterion.get("pattern").cloned().unwrap_or(Value::Null);
        let pattern = match render_pattern(&raw_pattern, ctx, self.provider) {
            Ok(p) => p,
            Err(e) => {
                let reason = format!(
                    "Failed to render pattern value \"{}\" for key \"{key}\"",
                    py_str(&raw_pattern)
                );
                self.fail(&reason, &e);
                return Ok(false);
            }
        };
        let value = match lookup::lookup(lookup::strip_tag(key), ctx) {
            Ok(v) => v,
            Err(e) => {
                self.fail(&format!("Failed transforming criteria key {key}"), &e.0);
                return Ok(false);
            }
        };
        let outcome = if op == operators::SEARCH {
            let condition = criterion.get("condition").cloned().unwrap_or(Value::Null);
            self.search(&value, &pattern, &condition)
        } else {
            let Some(f) = operators::simple(&op) else {
                return Err(CriteriaAbort::InvalidOperator(op));
            };
            f(&value, &pattern).map_err(|e| e.message)
        };
        match outcome {
            Ok(b) => Ok(b),
            Err(exc) => {
                let reason = self.problem();
                self.fail(&reason, &exc);
                Ok(false)
            }
        }
    }

    /// StackStorm `operators.search`. Every child is evaluated for every element, as the
    /// Python list comprehensions do, so failure records are the same.
    fn search(
        &mut self,
        value: &Value,
        pattern: &Value,
        condition: &Value,
    ) -> Result<bool, String> {
        let cond = condition.as_str().unwrap_or("");
        if !matches!(cond, "any" | "all" | "any2any" | "all2any") {
            return Err(format!(
                "The '{}' condition is not recognized for type search, 'any', 'all', 'any2any' and 'all2any' are allowed",
                py_str(condition)
            ));
        }
        let elements: Vec<Value> = match value {
            Value::Array(a) => a.clone(),
            Value::Object(_) => vec![value.clone()],
            // Quirk kept: a string is iterated per character.
            Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
            other => {
                return Err(format!(
                    "'{}' object is not iterable",
                    crate::pyval::type_name(other)
                ))
            }
        };
        let children: Map<String, Value> = match pattern {
            Value::Object(m) => m.clone(),
            _ if elements.is_empty() => Map::new(),
            other => {
                return Err(format!(
                    "'{}' object has no attribute 'items'",
                    crate::pyval::type_name(other)
                ))
            }
        };
        let mut per_element = Vec::with_capacity(elements.len());
        for element in elements {
            let ctx = json!({ "item": element });
            let mut results = Vec::with_capacity(children.len());
            for (k, c) in &children {
                results.push(self.check(k, c, &ctx).map_err(|e| e.to_string())?);
            }
            per_element.push(results);
        }
        let all_children = |r: &Vec<bool>| r.iter().all(|b| *b);
        let any_child = |r: &Vec<bool>| r.iter().any(|b| *b);
        Ok(match cond {
            "any" => per_element.iter().any(all_children),
            "all" => per_element.iter().all(all_children),
            "any2any" => per_element.iter().any(any_child),
            _ => per_element.iter().all(any_child),
        })
    }
}

/// Matches `rule`'s criteria against a trigger payload (StackStorm `RuleFilter.filter`).
/// Rendering context: `trigger` = payload, `st2kv` via `provider`.
pub fn evaluate_rule(
    rule: &Rule,
    instance_id: &str,
    payload: &Value,
    provider: &dyn ContextProvider,
) -> Result<RuleEvaluation, CriteriaAbort> {
    evaluate_in(rule, instance_id, &criteria_context(payload), provider)
}

/// The lookup/rendering context of top-level criteria: `{"trigger": payload}`. Built once per
/// trigger instance and shared by all candidate rules.
pub fn criteria_context(payload: &Value) -> Value {
    json!({ "trigger": payload })
}

/// [`evaluate_rule`] with a context from [`criteria_context`].
pub fn evaluate_in(
    rule: &Rule,
    instance_id: &str,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<RuleEvaluation, CriteriaAbort> {
    let mut ev = Eval {
        rule_ref: &rule.r#ref,
        instance_id,
        provider,
        failures: Vec::new(),
    };
    if rule.criteria.is_empty() {
        return Ok(RuleEvaluation {
            matched: true,
            failures: Vec::new(),
        });
    }
    let empty = match ctx.get("trigger") {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    };
    if empty {
        return Ok(RuleEvaluation {
            matched: false,
            failures: Vec::new(),
        });
    }
    let mut matched = true;
    for (key, criterion) in &rule.criteria {
        if !ev.check(key, criterion, ctx)? {
            matched = false;
            break;
        }
    }
    Ok(RuleEvaluation {
        matched,
        failures: ev.failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gale_expr::NoProvider;

    fn rule(criteria: Value) -> Rule {
        let mut r = Rule::from_value(
            json!({"name": "r", "trigger": {"type": "t.x"}, "action": {"ref": "a.b"}, "criteria": criteria}),
            "p",
        )
        .unwrap();
        r.enabled = true;
        r
    }

    #[test]
    fn stops_at_first_failing_criterion() {
        let r = rule(json!({
            "trigger.a": {"type": "equals", "pattern": 2},
            "trigger.b": {"type": "lt", "pattern": 1}
        }));
        let ev = evaluate_rule(&r, "i1", &json!({"a": 1}), &NoProvider).unwrap();
        assert!(!ev.matched);
        assert!(ev.failures.is_empty(), "lt on missing key never evaluated");
    }

    #[test]
    fn type_error_records_failure() {
        let r = rule(json!({"trigger.b": {"type": "lt", "pattern": 1}}));
        let ev = evaluate_rule(&r, "i1", &json!({"a": 1}), &NoProvider).unwrap();
        assert!(!ev.matched);
        assert_eq!(ev.failures.len(), 1);
        assert!(ev.failures[0].starts_with(
            "Failed to match rule \"p.r\" against trigger instance \"i1\": There might be a problem with the criteria in rule p.r: "
        ), "{}", ev.failures[0]);
    }

    #[test]
    fn unknown_top_level_operator_aborts() {
        let r = rule(json!({"trigger.a": {"type": "bogus", "pattern": 1}}));
        assert_eq!(
            evaluate_rule(&r, "i", &json!({"a": 1}), &NoProvider),
            Err(CriteriaAbort::InvalidOperator("bogus".into()))
        );
        let r = rule(json!({"trigger.a": {"type": "EQUALS", "pattern": 1}}));
        assert!(
            evaluate_rule(&r, "i", &json!({"a": 1}), &NoProvider)
                .unwrap()
                .matched
        );
    }

    #[test]
    fn empty_payload_never_matches_criteria() {
        let r = rule(json!({"trigger.a": {"type": "nexists", "pattern": ""}}));
        assert!(
            !evaluate_rule(&r, "i", &json!({}), &NoProvider)
                .unwrap()
                .matched
        );
        let r = rule(json!({}));
        assert!(
            evaluate_rule(&r, "i", &json!({}), &NoProvider)
                .unwrap()
                .matched
        );
    }
}

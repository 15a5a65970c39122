//! The workflow graph composed from a spec: task nodes (with join barriers and retry
//! settings) and transitions keyed per (source, target) pair, as Orquesta's composer builds
//! it. Transition ids are `<target>__t<key>`.
use crate::spec::{truthy, WorkflowSpec};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Node {
    /// `"*"` for `join: all`, else the join count.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub barrier: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry: Option<GraphRetry>,
    /// Reached by several transitions and not a join: runs once per route.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub split: bool,
    /// On a cycle of the graph (loops keep their route).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub cycle: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GraphRetry {
    pub when: Option<Value>,
    pub count: Option<Value>,
    pub delay: Option<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Transition {
    pub source: String,
    pub target: String,
    /// Index among the transitions between the same two tasks.
    pub key: usize,
    pub criteria: Vec<String>,
    /// Index of the `next` entry this transition comes from.
    #[serde(rename = "ref")]
    pub ref_: usize,
}

impl Transition {
    /// `<target>__t<key>`: the id under which the source records this transition.
    pub fn id(&self) -> String {
        format!("{}__t{}", self.target, self.key)
    }

    /// `<source>__t<key>`: how a route records that it went through this transition.
    pub fn route_id(&self) -> String {
        format!("{}__t{}", self.source, self.key)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkflowGraph {
    pub nodes: IndexMap<String, Node>,
    pub transitions: Vec<Transition>,
}

impl WorkflowGraph {
    /// Compose the graph: breadth-first from the start tasks over `next` targets.
    pub fn compose(spec: &WorkflowSpec) -> WorkflowGraph {
        let mut g = WorkflowGraph::default();
        let mut queue: VecDeque<String> = spec.start_tasks().into_iter().collect();
        let mut seen: Vec<String> = Vec::new();
        while let Some(name) = queue.pop_front() {
            g.nodes.entry(name.clone()).or_default();
            if let Some(task) = spec.task(&name) {
                if let Some(join) = &task.join {
                    let barrier = if join.as_str() == Some("all") {
                        Value::String("*".into())
                    } else {
                        join.clone()
                    };
                    g.nodes[&name].barrier = Some(barrier).filter(truthy);
                }
                if let Some(r) = &task.retry {
                    g.nodes[&name].retry = Some(GraphRetry {
                        when: r.when.clone(),
                        count: r.count.clone(),
                        delay: r.delay.clone(),
                    });
                }
            }
            for (target, cond, idx) in spec.next_tasks(&name) {
                if target == "retry" {
                    // `do: retry` is a retry policy on the task, not a transition.
                    g.nodes[&name].retry = Some(GraphRetry {
                        when: Some(Value::String(
                            cond.unwrap_or_else(|| "<% completed() %>".into()),
                        )),
                        count: Some(Value::from(3)),
                        delay: None,
                    });
                    continue;
                }
                if !seen.contains(&target) {
                    seen.push(target.clone());
                    queue.push_back(target.clone());
                }
                let criteria: Vec<String> = cond.into_iter().collect();
                let exists = g.transitions.iter().any(|t| {
                    t.source == name
                        && t.target == target
                        && t.criteria == criteria
                        && t.ref_ == idx
                });
                if !exists {
                    g.nodes.entry(target.clone()).or_default();
                    let key = g
                        .transitions
                        .iter()
                        .filter(|t| t.source == name && t.target == target)
                        .count();
                    g.transitions.push(Transition {
                        source: name.clone(),
                        target,
                        key,
                        criteria,
                        ref_: idx,
                    });
                }
            }
        }
        // Route decisions need these on every transition; compute them once.
        let names: Vec<String> = g.nodes.keys().cloned().collect();
        for name in names {
            let split = spec.is_split_task(&name);
            let cycle = g.in_cycle(&name);
            if let Some(n) = g.nodes.get_mut(&name) {
                n.split = split;
                n.cycle = cycle;
            }
        }
        g
    }

    /// Whether transitions into `id` start a new route.
    pub fn starts_route(&self, id: &str) -> bool {
        self.nodes.get(id).is_some_and(|n| n.split && !n.cycle)
    }

    pub fn has_task(&self, id: &str) -> bool {
        self.nodes.contains_key(id)
    }

    /// Tasks without inbound transitions, sorted by id.
    pub fn roots(&self) -> Vec<String> {
        let mut r: Vec<String> = self
            .nodes
            .keys()
            .filter(|n| !self.transitions.iter().any(|t| &t.target == *n))
            .cloned()
            .collect();
        r.sort();
        r
    }

    /// Outbound transitions sorted by target (stable).
    pub fn next_transitions(&self, id: &str) -> Vec<&Transition> {
        let mut v: Vec<&Transition> = self.transitions.iter().filter(|t| t.source == id).collect();
        v.sort_by(|a, b| a.target.cmp(&b.target));
        v
    }

    /// Inbound transitions.
    pub fn prev_transitions(&self, id: &str) -> Vec<&Transition> {
        self.transitions.iter().filter(|t| t.target == id).collect()
    }

    pub fn barrier(&self, id: &str) -> Option<&Value> {
        self.nodes.get(id).and_then(|n| n.barrier.as_ref())
    }

    pub fn has_barrier(&self, id: &str) -> bool {
        self.barrier(id).is_some_and(truthy)
    }

    /// Join tasks.
    pub fn barriers(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.barrier.as_ref().is_some_and(truthy))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    pub fn retry(&self, id: &str) -> Option<&GraphRetry> {
        self.nodes.get(id).and_then(|n| n.retry.as_ref())
    }

    /// Whether a task lies on a cycle of the graph.
    pub fn in_cycle(&self, id: &str) -> bool {
        let mut stack: Vec<&str> = vec![id];
        let mut visited: Vec<&str> = Vec::new();
        while let Some(cur) = stack.pop() {
            for t in self.transitions.iter().filter(|t| t.source == cur) {
                if t.target == id {
                    return true;
                }
                if !visited.contains(&t.target.as_str()) {
                    visited.push(&t.target);
                    stack.push(&t.target);
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_per_pair_and_retry_command() {
        let spec = WorkflowSpec::from_yaml(
            "tasks:\n  a:\n    next:\n      - when: <% succeeded() %>\n        do: b\n      - when: <% completed() %>\n        do: b\n      - when: <% failed() %>\n        do: retry\n  b:\n    join: all\n",
        )
        .unwrap();
        let g = WorkflowGraph::compose(&spec);
        let ids: Vec<String> = g.next_transitions("a").iter().map(|t| t.id()).collect();
        assert_eq!(ids, vec!["b__t0", "b__t1"]);
        assert_eq!(g.roots(), vec!["a"]);
        assert_eq!(g.barrier("b"), Some(&Value::String("*".into())));
        let r = g.retry("a").unwrap();
        assert_eq!(r.count, Some(Value::from(3)));
        assert_eq!(r.when, Some(Value::String("<% failed() %>".into())));
        assert!(!g.in_cycle("a"));
    }

    #[test]
    fn cycles_and_commands() {
        let spec = WorkflowSpec::from_yaml(
            "tasks:\n  init:\n    next:\n      - do: poll\n  poll:\n    next:\n      - when: <% failed() %>\n        do: poll\n      - when: <% succeeded() %>\n",
        )
        .unwrap();
        let g = WorkflowGraph::compose(&spec);
        assert!(g.in_cycle("poll"));
        assert!(!g.in_cycle("init"));
        assert!(g.has_task("continue"));
        let ids: Vec<String> = g.next_transitions("poll").iter().map(|t| t.id()).collect();
        assert_eq!(ids, vec!["continue__t0", "poll__t0"]);
    }
}

//! The native Orquesta v1.0 workflow spec as a lenient model over the parsed document.
//!
//! Values stay JSON: Orquesta duck-types its spec (a `delay` may be an integer or an
//! expression, `input` a dict or an inline string), and inspection must be able to report on
//! ill-typed documents rather than refuse to load them. Normalisation done here is the one
//! Orquesta does on load: inline action parameters, inline `publish`, `with` as a string,
//! `do` defaulting to `continue`.
use crate::params;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Engine commands usable in `do`; they are not real tasks.
pub const ENGINE_COMMANDS: [&str; 4] = ["continue", "fail", "noop", "retry"];

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("Failed to load workflow definition because {0}.")]
    Yaml(String),
    #[error("The spec is not type of json or yaml.")]
    NotAMapping,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ItemsSpec {
    pub items: Option<Value>,
    pub concurrency: Option<Value>,
}

impl ItemsSpec {
    /// The item variable names and the items expression, from `x in <expr>`,
    /// `x, y in <expr>` or a bare `<expr>`.
    pub fn split(&self) -> (Option<Vec<String>>, String) {
        let text = self.items.as_ref().and_then(Value::as_str).unwrap_or("");
        match text.find(" in ") {
            None => (None, text.trim().to_string()),
            Some(idx) => {
                let keys = text[..idx]
                    .replace(' ', "")
                    .split(',')
                    .map(str::to_string)
                    .collect();
                (Some(keys), text[idx + 4..].trim().to_string())
            }
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RetrySpec {
    pub when: Option<Value>,
    pub count: Option<Value>,
    pub delay: Option<Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TransitionSpec {
    pub when: Option<Value>,
    /// Normalised to a list of one-key dicts when given inline.
    pub publish: Option<Value>,
    /// As written (string or list); `continue` when absent or empty.
    #[serde(rename = "do")]
    pub do_: Value,
}

impl TransitionSpec {
    /// The condition, if any (an empty or non-string `when` counts as none).
    pub fn condition(&self) -> Option<&str> {
        self.when
            .as_ref()
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Target task names (comma lists split and trimmed).
    pub fn targets(&self) -> Vec<String> {
        match &self.do_ {
            Value::String(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            _ => vec!["continue".to_string()],
        }
    }

    /// Publish entries in order as (name, value expression).
    pub fn publish_entries(&self) -> Vec<(String, Value)> {
        one_key_entries(self.publish.as_ref())
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskSpec {
    pub action: Option<Value>,
    pub input: Option<Value>,
    pub delay: Option<Value>,
    pub join: Option<Value>,
    #[serde(rename = "with")]
    pub with_items: Option<ItemsSpec>,
    pub retry: Option<RetrySpec>,
    pub next: Vec<TransitionSpec>,
}

impl TaskSpec {
    pub fn has_items(&self) -> bool {
        self.with_items.is_some()
    }

    pub fn has_join(&self) -> bool {
        self.join.as_ref().is_some_and(truthy)
    }

    pub fn is_join(&self) -> bool {
        self.join.as_ref().is_some_and(|v| !v.is_null())
    }

    pub fn action_text(&self) -> Option<&str> {
        self.action
            .as_ref()
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    fn from_value(v: &Value) -> TaskSpec {
        let Some(m) = v.as_object() else {
            return TaskSpec::default();
        };
        let mut t = TaskSpec {
            action: non_null(m.get("action")),
            input: non_null(m.get("input")),
            delay: non_null(m.get("delay")),
            join: non_null(m.get("join")),
            ..Default::default()
        };
        match m.get("with") {
            Some(Value::String(s)) => {
                t.with_items = Some(ItemsSpec {
                    items: Some(Value::String(s.clone())),
                    concurrency: None,
                })
            }
            Some(Value::Object(w)) if !w.is_empty() => {
                t.with_items = Some(ItemsSpec {
                    items: non_null(w.get("items")),
                    concurrency: non_null(w.get("concurrency")),
                })
            }
            _ => {}
        }
        if let Some(Value::Object(r)) = m.get("retry") {
            if !r.is_empty() {
                t.retry = Some(RetrySpec {
                    when: non_null(r.get("when")),
                    count: non_null(r.get("count")),
                    delay: non_null(r.get("delay")),
                });
            }
        }
        if let Some(Value::Array(items)) = m.get("next") {
            t.next = items.iter().map(transition_from_value).collect();
        }
        // Inline action parameters replace any `input`; the action is cut at the first space.
        if let Some(Value::String(action)) = &t.action {
            let inline = params::parse_inline_map(action);
            if !inline.is_empty() {
                let name = action.split(' ').next().unwrap_or("").to_string();
                t.action = Some(Value::String(name));
                t.input = Some(Value::Object(inline.into_iter().collect()));
            }
        }
        t
    }
}

fn transition_from_value(v: &Value) -> TransitionSpec {
    let m = v.as_object().cloned().unwrap_or_default();
    let publish = match m.get("publish") {
        Some(Value::String(s)) => Some(Value::Array(
            params::parse_inline_list(s)
                .into_iter()
                .map(|(k, v)| {
                    let mut one = Map::new();
                    one.insert(k, v);
                    Value::Object(one)
                })
                .collect(),
        )),
        other => non_null(other),
    };
    let do_ = match m.get("do") {
        Some(d) if truthy(d) => d.clone(),
        _ => Value::String("continue".into()),
    };
    TransitionSpec {
        when: non_null(m.get("when")),
        publish,
        do_,
    }
}

/// A parsed workflow. `raw` is the document as loaded (after `with` normalisation) and is
/// what syntax inspection validates; it is not persisted with a conductor (inspection happens
/// before one is created), which keeps the per-event round-trip small.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WorkflowSpec {
    #[serde(skip)]
    pub raw: Value,
    pub input: Option<Value>,
    pub vars: Option<Value>,
    pub output: Option<Value>,
    pub tasks: IndexMap<String, TaskSpec>,
}

impl WorkflowSpec {
    /// Load a workflow from YAML (or JSON) text.
    pub fn from_yaml(text: &str) -> Result<WorkflowSpec, SpecError> {
        // PyYAML semantics (YAML 1.1: `yes`/`on` are booleans), as Orquesta loads specs.
        let value = gale_expr::functions::yaml::load(text).map_err(SpecError::Yaml)?;
        WorkflowSpec::from_value(value)
    }

    /// Build from an already parsed document.
    pub fn from_value(mut raw: Value) -> Result<WorkflowSpec, SpecError> {
        let Some(doc) = raw.as_object_mut() else {
            return Err(SpecError::NotAMapping);
        };
        if let Some(Value::Object(tasks)) = doc.get_mut("tasks") {
            for (_, task) in tasks.iter_mut() {
                if let Some(t) = task.as_object_mut() {
                    if let Some(Value::String(s)) = t.get("with") {
                        let mut w = Map::new();
                        w.insert("items".into(), Value::String(s.clone()));
                        t.insert("with".into(), Value::Object(w));
                    }
                }
            }
        }
        let mut tasks = IndexMap::new();
        if let Some(Value::Object(m)) = doc.get("tasks") {
            for (name, t) in m {
                tasks.insert(name.clone(), TaskSpec::from_value(t));
            }
        }
        Ok(WorkflowSpec {
            input: non_null(doc.get("input")),
            vars: non_null(doc.get("vars")),
            output: non_null(doc.get("output")),
            tasks,
            raw,
        })
    }

    /// A task spec; engine commands get an empty spec.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        static EMPTY: TaskSpec = TaskSpec {
            action: None,
            input: None,
            delay: None,
            join: None,
            with_items: None,
            retry: None,
            next: Vec::new(),
        };
        if ENGINE_COMMANDS.contains(&name) {
            return Some(&EMPTY);
        }
        self.tasks.get(name)
    }

    pub fn has_task(&self, name: &str) -> bool {
        ENGINE_COMMANDS.contains(&name) || self.tasks.contains_key(name)
    }

    /// Declared inputs as (name, default); a bare name has a `null` default.
    pub fn input_entries(&self) -> Vec<(String, Value)> {
        match &self.input {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some((s.clone(), Value::Null)),
                    Value::Object(m) => m.iter().next().map(|(k, v)| (k.clone(), v.clone())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn vars_entries(&self) -> Vec<(String, Value)> {
        one_key_entries(self.vars.as_ref())
    }

    pub fn output_entries(&self) -> Vec<(String, Value)> {
        one_key_entries(self.output.as_ref())
    }

    /// Next tasks of a task: (target, condition, index of the `next` entry), sorted by
    /// target name (stable).
    pub fn next_tasks(&self, name: &str) -> Vec<(String, Option<String>, usize)> {
        let Some(task) = self.task(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (idx, t) in task.next.iter().enumerate() {
            for target in t.targets() {
                out.push((target, t.condition().map(str::to_string), idx));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Tasks transitioning into `name`: (source, condition, index), sorted by source.
    pub fn prev_tasks(&self, name: &str) -> Vec<(String, Option<String>, usize)> {
        let mut out = Vec::new();
        for src in self.tasks.keys() {
            for (target, cond, idx) in self.next_tasks(src) {
                if target == name {
                    out.push((src.clone(), cond, idx));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Tasks nothing transitions into, sorted by name.
    pub fn start_tasks(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .tasks
            .keys()
            .filter(|t| self.prev_tasks(t).is_empty())
            .cloned()
            .collect();
        out.sort();
        out
    }

    pub fn is_join_task(&self, name: &str) -> bool {
        self.task(name).is_some_and(TaskSpec::is_join)
    }

    /// A task reached by more than one transition and not a join runs once per route.
    pub fn is_split_task(&self, name: &str) -> bool {
        !self.is_join_task(name) && self.prev_tasks(name).len() > 1
    }

    /// Whether a task can reach itself through `next` transitions.
    pub fn in_cycle(&self, name: &str) -> bool {
        let mut traversed: Vec<String> = Vec::new();
        let mut queue: std::collections::VecDeque<String> =
            self.next_tasks(name).into_iter().map(|t| t.0).collect();
        while let Some(next) = queue.pop_front() {
            if next == name {
                return true;
            }
            if traversed.contains(&next) {
                continue;
            }
            queue.extend(self.next_tasks(&next).into_iter().map(|t| t.0));
            traversed.push(next);
        }
        false
    }
}

/// Entries of a list of one-key dicts, in order.
pub fn one_key_entries(v: Option<&Value>) -> Vec<(String, Value)> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_object())
            .filter_map(|m| m.iter().next().map(|(k, v)| (k.clone(), v.clone())))
            .collect(),
        _ => Vec::new(),
    }
}

fn non_null(v: Option<&Value>) -> Option<Value> {
    v.filter(|v| !v.is_null()).cloned()
}

/// Python truthiness of a JSON value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WF: &str = r#"
version: 1.0
input:
  - a
  - b: 2
vars:
  - v: <% ctx(a) %>
tasks:
  one:
    action: core.echo message="hi" n=3 word=bare
    next:
      - when: <% succeeded() %>
        publish: x=1 y="s"
        do: two, three
      - publish:
          - z: <% result() %>
  two:
    action: core.noop
    input:
      k: v
    with: i in <% ctx(list) %>
    retry:
      count: 2
      delay: 1
  three:
    join: all
    action: core.noop
    next:
      - do:
          - fail
output:
  - out: <% ctx(x) %>
"#;

    #[test]
    fn parses_forms() {
        let s = WorkflowSpec::from_yaml(WF).unwrap();
        assert_eq!(
            s.input_entries(),
            vec![("a".into(), Value::Null), ("b".into(), json!(2))]
        );
        let one = s.task("one").unwrap();
        assert_eq!(one.action, Some(json!("core.echo")));
        assert_eq!(one.input, Some(json!({"message": "hi", "n": 3})));
        assert_eq!(one.next[0].targets(), vec!["two", "three"]);
        assert_eq!(
            one.next[0].publish_entries(),
            vec![("x".into(), json!(1)), ("y".into(), json!("s"))]
        );
        assert_eq!(one.next[1].targets(), vec!["continue"]);
        let two = s.task("two").unwrap();
        let (keys, expr) = two.with_items.as_ref().unwrap().split();
        assert_eq!(keys, Some(vec!["i".to_string()]));
        assert_eq!(expr, "<% ctx(list) %>");
        assert_eq!(two.retry.as_ref().unwrap().count, Some(json!(2)));
        assert!(s.is_join_task("three"));
        assert_eq!(s.start_tasks(), vec!["one"]);
        assert_eq!(
            s.output_entries(),
            vec![("out".into(), json!("<% ctx(x) %>"))]
        );
        assert!(s.has_task("noop"));
    }

    #[test]
    fn bare_word_only_param_keeps_whole_action() {
        let s = WorkflowSpec::from_yaml("tasks:\n  a:\n    action: x.y message=hello\n").unwrap();
        let a = s.task("a").unwrap();
        assert_eq!(a.action, Some(json!("x.y message=hello")));
        assert_eq!(a.input, None);
    }

    #[test]
    fn splits_and_cycles() {
        let s = WorkflowSpec::from_yaml(
            "tasks:\n  a:\n    next:\n      - do: b, c\n  b:\n    next:\n      - do: d\n  c:\n    next:\n      - do: d\n  d:\n    next:\n      - when: <% failed() %>\n        do: b\n",
        )
        .unwrap();
        assert!(s.is_split_task("d") || s.prev_tasks("d").len() == 2);
        assert!(s.in_cycle("b"));
        assert!(!s.in_cycle("a"));
        assert_eq!(s.start_tasks(), vec!["a"]);
    }

    #[test]
    fn yaml_1_1_booleans() {
        let s = WorkflowSpec::from_yaml(
            "vars:\n  - flag: yes\n  - off_: off\n  - quoted: 'yes'\ntasks:\n  a:\n    action: x\n",
        )
        .unwrap();
        assert_eq!(
            s.vars_entries(),
            vec![
                ("flag".into(), json!(true)),
                ("off_".into(), json!(false)),
                ("quoted".into(), json!("yes"))
            ]
        );
    }

    #[test]
    fn serde_round_trip() {
        let s = WorkflowSpec::from_yaml(WF).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        let back: WorkflowSpec = serde_json::from_value(v).unwrap();
        assert_eq!(back.tasks, s.tasks);
        assert_eq!(back.output_entries(), s.output_entries());
        assert_eq!(back.raw, Value::Null);
    }
}

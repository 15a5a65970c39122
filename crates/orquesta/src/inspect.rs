//! Spec inspection: the syntax (schema), semantics, expressions and context checks Orquesta
//! runs before a workflow may start, with its `spec_path`/`schema_path` addressing.
use crate::expr;
use crate::params;
use crate::spec::{truthy, WorkflowSpec, ENGINE_COMMANDS};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::OnceLock;

/// One inspection finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub message: String,
    pub spec_path: Option<String>,
    pub schema_path: Option<String>,
    /// `yaql`/`jinja` for expression and context issues.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expression: Option<String>,
}

impl Issue {
    fn plain(message: impl Into<String>, spec_path: &str, schema_path: &str) -> Issue {
        let opt = |s: &str| {
            if s.is_empty() {
                None
            } else {
                Some(s.to_string())
            }
        };
        Issue {
            message: message.into(),
            spec_path: opt(spec_path),
            schema_path: opt(schema_path),
            kind: None,
            expression: None,
        }
    }

    fn expression(
        kind: Option<&str>,
        expression: &str,
        message: impl Into<String>,
        spec_path: &str,
        schema_path: &str,
    ) -> Issue {
        Issue {
            message: message.into(),
            spec_path: Some(spec_path.to_string()),
            schema_path: Some(schema_path.to_string()),
            kind: Some(kind.map(str::to_string)),
            expression: Some(expression.to_string()),
        }
    }
}

/// All inspection findings by category; empty categories are left out of the JSON form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub syntax: Vec<Issue>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub semantics: Vec<Issue>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub expressions: Vec<Issue>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub context: Vec<Issue>,
}

impl Inspection {
    pub fn is_empty(&self) -> bool {
        self.syntax.is_empty()
            && self.semantics.is_empty()
            && self.expressions.is_empty()
            && self.context.is_empty()
    }
}

fn sort_issues(v: &mut [Issue]) {
    v.sort_by(|a, b| {
        (
            a.schema_path.as_deref().unwrap_or(""),
            a.spec_path.as_deref().unwrap_or(""),
        )
            .cmp(&(
                b.schema_path.as_deref().unwrap_or(""),
                b.spec_path.as_deref().unwrap_or(""),
            ))
    });
}

const TASKS_SCHEMA: &str = r"properties.tasks.patternProperties.^\w+$";

/// Inspect a workflow. `app_ctx` names the variables the caller's context provides.
pub fn inspect(spec: &WorkflowSpec, app_ctx: Option<&Map<String, Value>>) -> Inspection {
    let mut out = Inspection {
        syntax: syntax(&spec.raw),
        semantics: semantics(spec),
        expressions: expressions(spec),
        context: context(spec, app_ctx),
    };
    sort_issues(&mut out.syntax);
    sort_issues(&mut out.semantics);
    sort_issues(&mut out.expressions);
    sort_issues(&mut out.context);
    out
}

// ---------------------------------------------------------------------------------------
// Syntax: the subset of JSON-schema validation the native v1 schema needs.
// ---------------------------------------------------------------------------------------

struct Syn {
    out: Vec<Issue>,
}

fn join_spec(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

fn is_int(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}

fn type_name_ok(v: &Value, ty: &str) -> bool {
    match ty {
        "string" => v.is_string(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "integer" => is_int(v),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

fn word_key() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^\w+$").expect("static regex"))
}

fn items_pattern() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        let e = r"<%.*?%>|\{\{.*?\}\}";
        Regex::new(&format!(
            r"^(\s+)?({e})(\s+)?$|^(\s+)?((\w+,\s?|\s+)+)?(\w+)\s+in\s+({e})(\s+)?$"
        ))
        .expect("static regex")
    })
}

impl Syn {
    fn err(&mut self, msg: String, spec: &str, schema: &str) {
        self.out.push(Issue::plain(msg, spec, schema));
    }

    fn type_check(&mut self, v: &Value, ty: &str, spec: &str, schema: &str) -> bool {
        if type_name_ok(v, ty) {
            return true;
        }
        self.err(
            format!("{} is not of type '{ty}'", py_repr(v)),
            spec,
            &format!("{schema}.type"),
        );
        false
    }

    fn nonempty_string(&mut self, v: &Value, spec: &str, schema: &str) {
        if self.type_check(v, "string", spec, schema) && v.as_str() == Some("") {
            self.err(
                "'' is too short".into(),
                spec,
                &format!("{schema}.minLength"),
            );
        }
    }

    fn ok_nonempty_string(v: &Value) -> bool {
        v.as_str().is_some_and(|s| !s.is_empty())
    }

    fn ok_positive_int(v: &Value) -> bool {
        is_int(v) && v.as_f64().is_some_and(|f| f >= 0.0)
    }

    fn ok_one_key_dict(v: &Value) -> bool {
        v.as_object().is_some_and(|m| m.len() == 1)
    }

    fn one_of(&mut self, ok: bool, v: &Value, spec: &str, schema: &str) {
        if !ok {
            self.err(
                format!("{} is not valid under any of the given schemas", py_repr(v)),
                spec,
                &format!("{schema}.oneOf"),
            );
        }
    }

    fn additional(&mut self, m: &Map<String, Value>, allowed: &[&str], spec: &str, schema: &str) {
        let extra: Vec<String> = m
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| format!("'{k}'"))
            .collect();
        if !extra.is_empty() {
            let verb = if extra.len() == 1 { "was" } else { "were" };
            self.err(
                format!(
                    "Additional properties are not allowed ({} {verb} unexpected)",
                    extra.join(", ")
                ),
                spec,
                &join_spec(schema, "additionalProperties"),
            );
        }
    }

    fn unique_list(&mut self, v: &Value, spec: &str, schema: &str) -> bool {
        if !self.type_check(v, "array", spec, schema) {
            return false;
        }
        let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
        if items.is_empty() {
            self.err(
                "[] is too short".into(),
                spec,
                &format!("{schema}.minItems"),
            );
        }
        let dup = items
            .iter()
            .enumerate()
            .any(|(i, a)| items[..i].contains(a));
        if dup {
            self.err(
                format!("{v} has non-unique elements"),
                spec,
                &format!("{schema}.uniqueItems"),
            );
        }
        true
    }

    fn one_key_dict(&mut self, v: &Value, spec: &str, schema: &str) {
        if !self.type_check(v, "object", spec, schema) {
            return;
        }
        let n = v.as_object().map_or(0, Map::len);
        if n < 1 {
            self.err(
                "{} does not have enough properties".into(),
                spec,
                &format!("{schema}.minProperties"),
            );
        }
        if n > 1 {
            self.err(
                format!("{v} has too many properties"),
                spec,
                &format!("{schema}.maxProperties"),
            );
        }
    }

    fn one_key_dict_list(&mut self, v: &Value, spec: &str, schema: &str) {
        if self.unique_list(v, spec, schema) {
            for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                self.one_key_dict(item, &format!("{spec}[{i}]"), &format!("{schema}.items"));
            }
        }
    }

    fn string_or_positive_int(&mut self, v: &Value, spec: &str, schema: &str) {
        let ok = Self::ok_nonempty_string(v) || Self::ok_positive_int(v);
        self.one_of(ok, v, spec, schema);
    }

    fn workflow(&mut self, doc: &Value) {
        let Some(m) = doc.as_object() else {
            self.type_check(doc, "object", "", "");
            return;
        };
        self.additional(
            m,
            &[
                "name",
                "version",
                "description",
                "tags",
                "vars",
                "input",
                "output",
                "tasks",
            ],
            "",
            "",
        );
        if !m.contains_key("tasks") {
            self.err("'tasks' is a required property".into(), "", "required");
        }
        if let Some(v) = m.get("version") {
            let ok = v.as_str() == Some("1.0") || v.as_f64() == Some(1.0) && !v.is_boolean();
            if !ok {
                self.err(
                    format!("{} is not one of ['1.0', 1.0]", py_repr(v)),
                    "version",
                    "properties.version.enum",
                );
            }
        }
        for key in ["name", "description"] {
            if let Some(v) = m.get(key) {
                self.nonempty_string(v, key, &format!("properties.{key}"));
            }
        }
        if let Some(v) = m.get("tags") {
            if self.unique_list(v, "tags", "properties.tags") {
                for (i, t) in v.as_array().into_iter().flatten().enumerate() {
                    self.nonempty_string(t, &format!("tags[{i}]"), "properties.tags.items");
                }
            }
        }
        for key in ["vars", "output"] {
            if let Some(v) = m.get(key) {
                self.one_key_dict_list(v, key, &format!("properties.{key}"));
            }
        }
        if let Some(v) = m.get("input") {
            if self.unique_list(v, "input", "properties.input") {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    let ok = Self::ok_nonempty_string(item) || Self::ok_one_key_dict(item);
                    self.one_of(ok, item, &format!("input[{i}]"), "properties.input.items");
                }
            }
        }
        if let Some(tasks) = m.get("tasks") {
            if self.type_check(tasks, "object", "tasks", "properties.tasks") {
                let tm = tasks.as_object().cloned().unwrap_or_default();
                if tm.is_empty() {
                    self.err(
                        "{} does not have enough properties".into(),
                        "tasks",
                        "properties.tasks.minProperties",
                    );
                }
                for (name, task) in &tm {
                    if word_key().is_match(name) {
                        self.task(task, &format!("tasks.{name}"));
                    }
                }
            }
        }
    }

    fn task(&mut self, t: &Value, spec: &str) {
        let schema = TASKS_SCHEMA;
        let Some(m) = t.as_object() else {
            self.type_check(t, "object", spec, schema);
            return;
        };
        self.additional(
            m,
            &["delay", "join", "with", "action", "input", "retry", "next"],
            spec,
            schema,
        );
        let p = |k: &str| format!("{schema}.properties.{k}");
        let s = |k: &str| format!("{spec}.{k}");
        if let Some(v) = m.get("delay") {
            self.string_or_positive_int(v, &s("delay"), &p("delay"));
        }
        if let Some(v) = m.get("join") {
            let ok = v.as_str() == Some("all") || Self::ok_positive_int(v);
            self.one_of(ok, v, &s("join"), &p("join"));
        }
        if let Some(v) = m.get("action") {
            self.nonempty_string(v, &s("action"), &p("action"));
        }
        if let Some(v) = m.get("input") {
            let ok = Self::ok_nonempty_string(v) || v.as_object().is_some_and(|o| !o.is_empty());
            self.one_of(ok, v, &s("input"), &p("input"));
        }
        if let Some(w) = m.get("with") {
            let ws = p("with");
            if self.type_check(w, "object", &s("with"), &ws) {
                let wm = w.as_object().cloned().unwrap_or_default();
                self.additional(&wm, &["items", "concurrency"], &s("with"), &ws);
                if let Some(items) = wm.get("items") {
                    let is = format!("{ws}.properties.items");
                    let isp = format!("{}.items", s("with"));
                    if self.type_check(items, "string", &isp, &is) {
                        let text = items.as_str().unwrap_or("");
                        if text.is_empty() {
                            self.err("'' is too short".into(), &isp, &format!("{is}.minLength"));
                        } else if !items_pattern().is_match(text) {
                            self.err(
                                format!("'{text}' does not match"),
                                &isp,
                                &format!("{is}.pattern"),
                            );
                        }
                    }
                }
                if let Some(c) = wm.get("concurrency") {
                    self.string_or_positive_int(
                        c,
                        &format!("{}.concurrency", s("with")),
                        &format!("{ws}.properties.concurrency"),
                    );
                }
            }
        }
        if let Some(r) = m.get("retry") {
            let rs = p("retry");
            if self.type_check(r, "object", &s("retry"), &rs) {
                let rm = r.as_object().cloned().unwrap_or_default();
                self.additional(&rm, &["when", "count", "delay"], &s("retry"), &rs);
                if !rm.contains_key("count") {
                    self.err(
                        "'count' is a required property".into(),
                        &s("retry"),
                        &format!("{rs}.required"),
                    );
                }
                if let Some(v) = rm.get("when") {
                    self.nonempty_string(
                        v,
                        &format!("{}.when", s("retry")),
                        &format!("{rs}.properties.when"),
                    );
                }
                for k in ["count", "delay"] {
                    if let Some(v) = rm.get(k) {
                        self.string_or_positive_int(
                            v,
                            &format!("{}.{k}", s("retry")),
                            &format!("{rs}.properties.{k}"),
                        );
                    }
                }
            }
        }
        if let Some(n) = m.get("next") {
            let ns = p("next");
            if self.type_check(n, "array", &s("next"), &ns) {
                for (i, tr) in n.as_array().into_iter().flatten().enumerate() {
                    self.transition(tr, &format!("{}[{i}]", s("next")), &format!("{ns}.items"));
                }
            }
        }
    }

    fn transition(&mut self, t: &Value, spec: &str, schema: &str) {
        let Some(m) = t.as_object() else {
            self.type_check(t, "object", spec, schema);
            return;
        };
        self.additional(m, &["when", "publish", "do"], spec, schema);
        if let Some(v) = m.get("when") {
            self.nonempty_string(
                v,
                &format!("{spec}.when"),
                &format!("{schema}.properties.when"),
            );
        }
        if let Some(v) = m.get("publish") {
            let ok = Self::ok_nonempty_string(v)
                || v.as_array().is_some_and(|a| {
                    !a.is_empty()
                        && a.iter().all(Self::ok_one_key_dict)
                        && !a.iter().enumerate().any(|(i, x)| a[..i].contains(x))
                });
            self.one_of(
                ok,
                v,
                &format!("{spec}.publish"),
                &format!("{schema}.properties.publish"),
            );
        }
        if let Some(v) = m.get("do") {
            let ok = Self::ok_nonempty_string(v)
                || v.as_array().is_some_and(|a| {
                    !a.is_empty()
                        && a.iter().all(Self::ok_nonempty_string)
                        && !a.iter().enumerate().any(|(i, x)| a[..i].contains(x))
                });
            self.one_of(
                ok,
                v,
                &format!("{spec}.do"),
                &format!("{schema}.properties.do"),
            );
        }
    }
}

fn syntax(doc: &Value) -> Vec<Issue> {
    let mut s = Syn { out: Vec::new() };
    s.workflow(doc);
    s.out
}

// ---------------------------------------------------------------------------------------
// Semantics
// ---------------------------------------------------------------------------------------

fn semantics(spec: &WorkflowSpec) -> Vec<Issue> {
    let mut out = Vec::new();
    let task_schema = TASKS_SCHEMA;
    for name in spec.tasks.keys() {
        if ENGINE_COMMANDS.contains(&name.as_str()) {
            out.push(Issue::plain(
                format!("The task name \"{name}\" is reserved with special function."),
                &format!("tasks.{name}"),
                task_schema,
            ));
        }
    }
    if !spec.tasks.is_empty() && spec.start_tasks().is_empty() {
        out.push(Issue::plain(
            "Unable to identify any tasks to start the workflow. If the workflow has a loop, \
             please add a task that serves as an entry point (or lead) into the loop.",
            "tasks",
            "properties.tasks",
        ));
    }
    out.extend(undefined_tasks(spec));
    out.extend(unreachable_joins(spec));
    for (name, task) in &spec.tasks {
        if task.has_items() && task.action_text().is_none() {
            out.push(Issue::plain(
                "The action property is required for with items task.",
                &format!("tasks.{name}"),
                task_schema,
            ));
        }
    }
    out
}

fn undefined_tasks(spec: &WorkflowSpec) -> Vec<Issue> {
    let mut out = Vec::new();
    let mut traversed: Vec<String> = Vec::new();
    let mut queued: Vec<String> = Vec::new();
    let mut q: VecDeque<String> = spec.start_tasks().into();
    while let Some(name) = q.pop_front() {
        traversed.push(name.clone());
        let Some(task) = spec.task(&name) else {
            continue;
        };
        for (i, tr) in task.next.iter().enumerate() {
            for target in tr.targets() {
                if traversed.contains(&target) {
                    continue;
                }
                if spec.has_task(&target) {
                    if !ENGINE_COMMANDS.contains(&target.as_str()) && !queued.contains(&target) {
                        q.push_back(target.clone());
                        queued.push(target);
                    }
                } else {
                    out.push(Issue::plain(
                        format!("The task \"{target}\" is not defined."),
                        &format!("tasks.{name}.next[{i}].do"),
                        &format!("{TASKS_SCHEMA}.properties.next.items.properties.do"),
                    ));
                }
            }
        }
    }
    out
}

fn unreachable_joins(spec: &WorkflowSpec) -> Vec<Issue> {
    struct Meta {
        join: bool,
        splits: BTreeSet<String>,
        prev: BTreeSet<String>,
    }
    let mut staging: indexmap::IndexMap<String, Meta> = indexmap::IndexMap::new();
    let mut track: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut q: VecDeque<(Option<String>, String, Vec<String>)> = spec
        .start_tasks()
        .into_iter()
        .map(|t| (None, t, Vec::new()))
        .collect();
    while let Some((prev, name, mut splits)) = q.pop_front() {
        if !spec.tasks.contains_key(&name) {
            continue;
        }
        if spec.is_split_task(&name) && !spec.in_cycle(&name) {
            splits.push(name.clone());
        }
        let meta = staging.entry(name.clone()).or_insert_with(|| Meta {
            join: spec.is_join_task(&name),
            splits: BTreeSet::new(),
            prev: BTreeSet::new(),
        });
        meta.splits.extend(splits.iter().cloned());
        if let Some(p) = prev {
            meta.prev.insert(p);
        }
        for (next, _, _) in spec.next_tasks(&name) {
            if !staging.contains_key(&next) || !spec.in_cycle(&next) {
                let id = format!("{name}_{next}");
                let new: BTreeSet<String> = splits.iter().cloned().collect();
                match track.get_mut(&id) {
                    Some(existing) if !existing.is_empty() => {
                        if !new.is_subset(existing) {
                            q.push_back((Some(name.clone()), next, splits.clone()));
                            existing.extend(new);
                        }
                    }
                    _ => {
                        q.push_back((Some(name.clone()), next, splits.clone()));
                        track.insert(id, new);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (name, meta) in &staging {
        if !meta.join {
            continue;
        }
        for p in &meta.prev {
            let reachable = staging.get(p).is_some_and(|pm| pm.splits == meta.splits);
            if !reachable {
                out.push(Issue::plain(
                    format!(
                        "The join task \"{name}\" is unreachable. A join task is determined to be \
                         unreachable if there are nested forks from multi-referenced tasks that \
                         join on the said task. This is ambiguous to the workflow engine because \
                         it does not know at which level should the join occurs."
                    ),
                    &format!("tasks.{name}"),
                    TASKS_SCHEMA,
                ));
                break;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------

fn push_expr_issues(out: &mut Vec<Issue>, v: &Value, spec_path: &str, schema_path: &str) {
    for i in expr::validate(v) {
        out.push(Issue::expression(
            i.kind,
            &i.expression,
            i.message,
            spec_path,
            schema_path,
        ));
    }
}

fn expressions(spec: &WorkflowSpec) -> Vec<Issue> {
    let mut out = Vec::new();
    for (key, v) in [
        ("vars", &spec.vars),
        ("input", &spec.input),
        ("output", &spec.output),
    ] {
        if let Some(v) = v {
            push_expr_issues(&mut out, v, key, &format!("properties.{key}"));
        }
    }
    for (name, t) in &spec.tasks {
        let sp = format!("tasks.{name}");
        let sc = TASKS_SCHEMA;
        let props = [
            ("delay", &t.delay),
            ("join", &t.join),
            ("action", &t.action),
            ("input", &t.input),
        ];
        for (k, v) in props {
            if let Some(v) = v {
                push_expr_issues(
                    &mut out,
                    v,
                    &format!("{sp}.{k}"),
                    &format!("{sc}.properties.{k}"),
                );
            }
        }
        if let Some(w) = &t.with_items {
            for (k, v) in [("items", &w.items), ("concurrency", &w.concurrency)] {
                if let Some(v) = v {
                    push_expr_issues(
                        &mut out,
                        v,
                        &format!("{sp}.with.{k}"),
                        &format!("{sc}.properties.with.properties.{k}"),
                    );
                }
            }
        }
        if let Some(r) = &t.retry {
            for (k, v) in [("when", &r.when), ("count", &r.count), ("delay", &r.delay)] {
                if let Some(v) = v {
                    push_expr_issues(
                        &mut out,
                        v,
                        &format!("{sp}.retry.{k}"),
                        &format!("{sc}.properties.retry.properties.{k}"),
                    );
                }
            }
        }
        for (i, tr) in t.next.iter().enumerate() {
            let tsp = format!("{sp}.next[{i}]");
            let tsc = format!("{sc}.properties.next.items");
            for (k, v) in [
                ("when", tr.when.as_ref()),
                ("publish", tr.publish.as_ref()),
                ("do", Some(&tr.do_)),
            ] {
                if let Some(v) = v {
                    push_expr_issues(
                        &mut out,
                        v,
                        &format!("{tsp}.{k}"),
                        &format!("{tsc}.properties.{k}"),
                    );
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Context: every ctx() variable must be assigned before use along every path.
// ---------------------------------------------------------------------------------------

struct CtxInspector {
    errors: Vec<Issue>,
}

fn ctx_inputs(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .flat_map(|i| match i {
                Value::String(s) => vec![s.clone()],
                Value::Object(m) if m.len() == 1 => m.keys().cloned().collect(),
                _ => vec![],
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

fn add_all(set: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for m in more {
        if !set.contains(&m) {
            set.push(m);
        }
    }
}

impl CtxInspector {
    /// Check one property value; when `is_input`, the names it assigns join the context.
    fn check(
        &mut self,
        v: &Value,
        spec_path: &str,
        schema_path: &str,
        rolling: &mut Vec<String>,
        is_input: bool,
    ) {
        for (kind, statement, name) in expr::extract_vars(v) {
            if name.starts_with("__") {
                self.errors.push(Issue::expression(
                    Some(kind),
                    &statement,
                    format!(
                        "Variable \"{name}\" that is prefixed with double underscores is considered \
                         a private variable and cannot be referenced."
                    ),
                    spec_path,
                    schema_path,
                ));
            }
            if !rolling.contains(&name) {
                self.errors.push(Issue::expression(
                    Some(kind),
                    &statement,
                    format!("Variable \"{name}\" is referenced before assignment."),
                    spec_path,
                    schema_path,
                ));
            }
        }
        if is_input {
            add_all(rolling, ctx_inputs(v));
        }
    }

    /// A property as Orquesta walks it: inline-parameter strings become lists, lists are
    /// checked item by item.
    fn prop(
        &mut self,
        v: &Value,
        spec_path: &str,
        schema_path: &str,
        rolling: &mut Vec<String>,
        is_input: bool,
    ) {
        if !truthy(v) {
            return;
        }
        let mut value = v.clone();
        if let Value::String(s) = v {
            let inline = params::parse_inline_list(s);
            if !inline.is_empty() {
                value = Value::Array(
                    inline
                        .into_iter()
                        .map(|(k, v)| {
                            let mut m = Map::new();
                            m.insert(k, v);
                            Value::Object(m)
                        })
                        .collect(),
                );
            }
        }
        match &value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check(
                        item,
                        &format!("{spec_path}[{i}]"),
                        schema_path,
                        rolling,
                        is_input,
                    );
                }
            }
            other => self.check(other, spec_path, schema_path, rolling, is_input),
        }
    }

    fn task(&mut self, spec: &WorkflowSpec, name: &str, ctx: &[String]) -> Vec<String> {
        let mut rolling: Vec<String> = ctx.to_vec();
        let Some(t) = spec.task(name) else {
            return rolling;
        };
        let sp = format!("tasks.{name}");
        let sc = TASKS_SCHEMA;
        let before = self.errors.len();
        if let Some(v) = &t.delay {
            self.prop(
                v,
                &format!("{sp}.delay"),
                &format!("{sc}.properties.delay"),
                &mut rolling,
                false,
            );
        }
        if let Some(w) = &t.with_items {
            let mut inner = rolling.clone();
            for (k, v) in [("items", &w.items), ("concurrency", &w.concurrency)] {
                if let Some(v) = v {
                    self.prop(
                        v,
                        &format!("{sp}.with.{k}"),
                        &format!("{sc}.properties.with.properties.{k}"),
                        &mut inner,
                        false,
                    );
                }
            }
            add_all(&mut rolling, inner);
        }
        for (k, v) in [("action", &t.action), ("input", &t.input)] {
            if let Some(v) = v {
                self.prop(
                    v,
                    &format!("{sp}.{k}"),
                    &format!("{sc}.properties.{k}"),
                    &mut rolling,
                    false,
                );
            }
        }
        sort_by_spec_path(&mut self.errors[before..]);
        rolling
    }

    fn transition(
        &mut self,
        tr: &crate::spec::TransitionSpec,
        ctx: &[String],
        sp: &str,
        sc: &str,
    ) -> Vec<String> {
        let mut rolling: Vec<String> = ctx.to_vec();
        let before = self.errors.len();
        if let Some(v) = &tr.when {
            self.prop(
                v,
                &format!("{sp}.when"),
                &format!("{sc}.properties.when"),
                &mut rolling,
                false,
            );
        }
        if let Some(v) = &tr.publish {
            self.prop(
                v,
                &format!("{sp}.publish"),
                &format!("{sc}.properties.publish"),
                &mut rolling,
                true,
            );
        }
        self.prop(
            &tr.do_,
            &format!("{sp}.do"),
            &format!("{sc}.properties.do"),
            &mut rolling,
            false,
        );
        sort_by_spec_path(&mut self.errors[before..]);
        rolling
    }
}

fn sort_by_spec_path(v: &mut [Issue]) {
    v.sort_by(|a, b| a.spec_path.cmp(&b.spec_path));
}

fn context(spec: &WorkflowSpec, app_ctx: Option<&Map<String, Value>>) -> Vec<Issue> {
    let mut ins = CtxInspector { errors: Vec::new() };
    let mut rolling: Vec<String> = app_ctx
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(v) = &spec.input {
        ins.prop(v, "input", "properties.input", &mut rolling, true);
    }
    if let Some(v) = &spec.vars {
        ins.prop(v, "vars", "properties.vars", &mut rolling, true);
    }
    // Tasks, walked along transitions.
    let mut ctxs: HashMap<String, Vec<String>> = HashMap::new();
    let mut traversed: Vec<String> = Vec::new();
    let mut task_ctx_map: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut q: VecDeque<(String, Option<Vec<String>>)> = spec
        .start_tasks()
        .into_iter()
        .map(|t| (t, Some(rolling.clone())))
        .collect();
    let mut tasks_rolling = rolling.clone();
    while let Some((name, given)) = q.pop_front() {
        traversed.push(name.clone());
        let task_ctx = match given {
            Some(c) if !c.is_empty() => c,
            _ => ctxs.get(&name).cloned().unwrap_or_default(),
        };
        let produced = ins.task(spec, &name, &task_ctx);
        let mut task_ctx = task_ctx;
        add_all(&mut task_ctx, produced);
        add_all(&mut tasks_rolling, task_ctx.clone());
        let Some(t) = spec.task(&name) else { continue };
        let sp = format!("tasks.{name}");
        for (i, tr) in t.next.iter().enumerate() {
            let targets = tr.targets();
            for target in targets {
                let branch = ins.transition(
                    tr,
                    &task_ctx,
                    &format!("{sp}.next[{i}]"),
                    &format!("{TASKS_SCHEMA}.properties.next.items"),
                );
                let mut branch_ctx = task_ctx.clone();
                add_all(&mut branch_ctx, branch);
                if traversed.contains(&target) || !spec.has_task(&target) {
                    continue;
                }
                let Some(next_spec) = spec.task(&target) else {
                    continue;
                };
                if !next_spec.has_join() {
                    let set: BTreeSet<String> = branch_ctx.iter().cloned().collect();
                    if task_ctx_map.get(&target) != Some(&set) {
                        q.push_back((target.clone(), Some(branch_ctx)));
                        task_ctx_map.insert(target, set);
                    }
                } else {
                    let entry = ctxs.entry(target.clone()).or_default();
                    add_all(entry, branch_ctx);
                    q.push_back((target, None));
                }
            }
        }
    }
    add_all(&mut rolling, tasks_rolling);
    if let Some(v) = &spec.output {
        ins.prop(v, "output", "properties.output", &mut rolling, true);
    }
    ins.errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> Inspection {
        inspect(&WorkflowSpec::from_yaml(yaml).unwrap(), None)
    }

    #[test]
    fn clean_workflow_passes() {
        let i = run("version: 1.0\ninput:\n  - a\ntasks:\n  t:\n    action: core.echo message=<% ctx(a) %>\n    next:\n      - publish: b=<% result() %>\n        do: u\n  u:\n    action: core.echo message=<% ctx(b) %>\noutput:\n  - o: <% ctx(b) %>\n");
        assert!(i.is_empty(), "{i:?}");
    }

    #[test]
    fn syntax_errors() {
        let i = run("tasks:\n  a:\n    action: core.noop\n    join: sometimes\n    retries: 3\n");
        let paths: Vec<_> = i
            .syntax
            .iter()
            .map(|e| e.schema_path.clone().unwrap())
            .collect();
        assert_eq!(
            paths,
            vec![
                r"properties.tasks.patternProperties.^\w+$.additionalProperties".to_string(),
                r"properties.tasks.patternProperties.^\w+$.properties.join.oneOf".to_string()
            ]
        );
    }

    #[test]
    fn context_errors() {
        let i = run("input:\n  - known\ntasks:\n  a:\n    action: core.echo message=\"<% ctx(known) %> <% ctx(unknown) %>\"\n    next:\n      - publish:\n          - later: \"{{ ctx('also_unknown') }}\"\n");
        assert_eq!(i.context.len(), 2);
        assert_eq!(i.context[0].spec_path.as_deref(), Some("tasks.a.input"));
        assert_eq!(
            i.context[1].spec_path.as_deref(),
            Some("tasks.a.next[0].publish[0]")
        );
    }

    #[test]
    fn semantic_errors() {
        let i = run("tasks:\n  a:\n    next:\n      - do: b, ghost\n  b:\n    action: x\n");
        assert_eq!(i.semantics.len(), 1);
        assert_eq!(
            i.semantics[0].spec_path.as_deref(),
            Some("tasks.a.next[0].do")
        );
        let i = run("tasks:\n  a:\n    next:\n      - do: a\n");
        assert_eq!(i.semantics.len(), 1);
        assert_eq!(i.semantics[0].spec_path.as_deref(), Some("tasks"));
    }
}

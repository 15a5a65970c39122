//! Human output: tables for lists and `key: value` blocks for single records, as the st2 CLI
//! prints them; `-j` prints JSON instead.

use serde_json::Value;

/// Read a dotted path (`action.ref`, `context.user`) from a record.
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Print rows as a boxed table with the given dotted-path columns.
pub fn table(rows: &[Value], columns: &[&str]) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(lookup(r, c))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let sep: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+";
    println!("{sep}");
    let header: String = columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| format!("| {c:<w$} "))
        .collect::<String>()
        + "|";
    println!("{header}");
    println!("{sep}");
    for r in &cells {
        let line: String = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("| {c:<w$} "))
            .collect::<String>()
            + "|";
        println!("{line}");
    }
    println!("{sep}");
}

/// Print selected attributes of one record as `key: value`, nested values indented as YAML.
pub fn record(v: &Value, attrs: &[&str]) {
    for a in attrs {
        let Some(val) = lookup(v, a) else { continue };
        match val {
            Value::Object(_) | Value::Array(_) => {
                println!("{a}: ");
                let yaml = serde_yaml_like(val, 1);
                print!("{yaml}");
            }
            other => println!("{a}: {}", cell(Some(other))),
        }
    }
}

/// A small YAML-style dump (keys in order, scalars plain, strings quoted when needed).
fn serde_yaml_like(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    match v {
        Value::Object(m) if m.is_empty() => out.push_str(&format!("{pad}{{}}\n")),
        Value::Array(a) if a.is_empty() => out.push_str(&format!("{pad}[]\n")),
        Value::Object(m) => {
            for (k, val) in m {
                match val {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n{}", serde_yaml_like(val, indent + 1)))
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n{}", serde_yaml_like(val, indent + 1)))
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(val))),
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        let inner = serde_yaml_like(item, indent + 1);
                        let trimmed = inner.trim_start();
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) if s.is_empty() => "''".into(),
        Value::String(s) if s.contains('\n') => {
            format!(
                "|\n{}",
                s.lines()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        Value::String(s) => s.clone(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

pub fn json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_follows_dots() {
        let v = json!({"action": {"ref": "core.local"}, "status": "ok"});
        assert_eq!(lookup(&v, "action.ref"), Some(&json!("core.local")));
        assert_eq!(lookup(&v, "nope.x"), None);
    }

    #[test]
    fn yaml_dump_nests() {
        let v = json!({"stdout": "hi", "rc": 0, "list": [1, {"a": ""}]});
        let s = serde_yaml_like(&v, 0);
        assert_eq!(s, "stdout: hi\nrc: 0\nlist:\n  - 1\n  - a: ''\n");
    }
}

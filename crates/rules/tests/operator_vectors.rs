//! Every row of the first table of `operator-vectors.md` (StackStorm's operator module output,
//! copied from the spec) through `operators::simple`.

use gale_rules::operators;
use serde_json::Value;

fn cell(s: &str) -> &str {
    s.trim().trim_matches('`')
}

#[test]
fn every_vector_row_matches_stackstorm() {
    let text = include_str!("operator-vectors.md");
    let mut rows = 0;
    for line in text.lines() {
        let cols: Vec<&str> = line.split('|').collect();
        // | op | value | pattern | result |  → 6 pieces with the empty edges.
        if cols.len() != 6 || !cols[1].trim().starts_with('`') {
            continue;
        }
        let op = cell(cols[1]);
        let value: Value = serde_json::from_str(cell(cols[2])).unwrap();
        let pattern: Value = serde_json::from_str(cell(cols[3])).unwrap();
        let want = cols[4].trim();
        let f = operators::simple(op).unwrap_or_else(|| panic!("operator {op}"));
        let got = f(&value, &pattern);
        match want {
            "True" => assert_eq!(got, Ok(true), "{line}"),
            "False" => assert_eq!(got, Ok(false), "{line}"),
            w if w.starts_with("ERROR(") => {
                let class = w.trim_start_matches("ERROR(").trim_end_matches(')');
                let err = got.expect_err(line);
                assert_eq!(err.class, class, "{line}");
            }
            other => panic!("unexpected result cell {other}"),
        }
        rows += 1;
    }
    assert_eq!(rows, 45, "all rows of the vector table were read");
}

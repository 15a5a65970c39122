//! Interpreter tests: every standard-library function, the splicing rules and robustness.

use super::*;
use crate::NoProvider;
use serde_json::json;

fn ev(expr: &str, ctx: J) -> Result<J, Error> {
    evaluate(expr, &ctx, &NoProvider)
}

fn ok(expr: &str) -> J {
    ev(expr, json!({})).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[test]
fn smoke() {
    assert_eq!(ok("<% 1 + 2 * 3 %>"), json!(7));
}

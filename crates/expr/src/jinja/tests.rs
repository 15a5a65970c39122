use super::*;
use serde_json::json;

fn orq(text: &str, ctx: Value) -> Result<Value, Error> {
    evaluate_orquesta(text, &ctx, &NoProvider)
}

#[test]
fn typed_and_stringified() {
    assert_eq!(orq("{{ 1 + 1 }}", json!({})).unwrap(), json!(2));
    assert_eq!(
        orq("v={{ [1, 'a', none] }}", json!({})).unwrap(),
        json!("v=[1, 'a', None]")
    );
}


//! Actions (`actions/*.yaml`), with the computed `ref`/`uid` fields of the API shape.

use crate::params::ParameterSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub pack: String,
    #[serde(rename = "ref")]
    pub action_ref: String,
    pub uid: String,
    pub runner_type: String,
    #[serde(default)]
    pub entry_point: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub parameters: ParameterSchema,
    #[serde(default)]
    pub output_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Value>,
    #[serde(default)]
    pub tags: Vec<Value>,
    #[serde(default)]
    pub metadata_file: String,
}

fn yes() -> bool {
    true
}

impl Action {
    pub fn make_ref(pack: &str, name: &str) -> String {
        format!("{pack}.{name}")
    }
    pub fn uid_for(pack: &str, name: &str) -> String {
        format!("action:{pack}:{name}")
    }
}

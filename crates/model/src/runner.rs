//! Runner types (the API's `runnertypes` resource).

use crate::params::ParameterSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunnerType {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub runner_package: String,
    #[serde(default)]
    pub runner_module: String,
    #[serde(default)]
    pub runner_parameters: ParameterSchema,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_key: Option<String>,
    #[serde(default)]
    pub output_schema: Value,
    pub uid: String,
}

fn yes() -> bool {
    true
}

impl RunnerType {
    pub fn uid_for(name: &str) -> String {
        format!("runner_type:{name}")
    }
}

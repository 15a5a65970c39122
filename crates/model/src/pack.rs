//! Packs (`pack.yaml` plus computed fields).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pack {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "ref")]
    pub pack_ref: String,
    pub uid: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub python_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackstorm_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Absolute directory of the pack.
    #[serde(default)]
    pub path: String,
    /// The config schema (`config.schema.yaml`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<Value>,
    /// Unknown `pack.yaml` keys are allowed and kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Pack {
    pub fn uid_for(pack_ref: &str) -> String {
        format!("pack:{pack_ref}")
    }
}

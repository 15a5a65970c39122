//! Authentication records. Secrets (token strings, API keys) are stored only as SHA-256 hashes.

use crate::time::{serde_ts, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An issued auth token. `token_hash` is the hex SHA-256 of the token string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub id: String,
    pub user: String,
    pub token_hash: String,
    #[serde(with = "serde_ts")]
    pub expiry: Timestamp,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub service: bool,
}

/// An API key. `key_hash` is the hex SHA-256 of the key (StackStorm stores the hash too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub uid: String,
    pub user: String,
    pub key_hash: String,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(with = "serde_ts")]
    pub created_at: Timestamp,
}

fn yes() -> bool {
    true
}

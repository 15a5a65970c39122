//! A small cache of resolved actions (action + runner type + pack directory) so a request and its
//! run do not read three records from the store each. Entries expire after a short TTL because the
//! API may change actions in the store directly; registration through the engine clears it.

use gale_model::{Action, RunnerType};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 4096;

/// Everything the pipeline needs to know about an action.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub action: Action,
    pub runner: RunnerType,
    pub pack_path: Option<PathBuf>,
}

pub(crate) struct ActionCache {
    entries: RwLock<HashMap<String, (Instant, Arc<Resolved>)>>,
}

impl ActionCache {
    pub fn new() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, action_ref: &str) -> Option<Arc<Resolved>> {
        let g = self.entries.read().ok()?;
        let (at, r) = g.get(action_ref)?;
        (at.elapsed() < TTL).then(|| r.clone())
    }

    pub fn put(&self, action_ref: &str, r: Arc<Resolved>) {
        if let Ok(mut g) = self.entries.write() {
            if g.len() >= MAX_ENTRIES {
                g.retain(|_, (at, _)| at.elapsed() < TTL);
                if g.len() >= MAX_ENTRIES {
                    g.clear();
                }
            }
            g.insert(action_ref.to_string(), (Instant::now(), r));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut g) = self.entries.write() {
            g.clear();
        }
    }
}

//! The engine's only contact points with the parameter pipeline in [`crate::params`]: live
//! parameters at request time (render, cast, validate, immutable check) and final parameters at
//! run time (split into runner and action parameters), and where `config_context` comes from:
//! `<configs dir>/<pack>.yaml`, validated against the pack's `config.schema.yaml` and rendered
//! (`{{ st2kv.system.x }}`, secrets decrypted) through the same datastore view.
//!
//! The pack configs reach the stage through the datastore view the engine hands out
//! ([`StageKv`], from `Inner::datastore_for`), so the call sites keep their shape.

use crate::params::{self, RenderInput};
use gale_model::{Action, RunnerType};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Pack config files and the config schemas of registered packs.
#[derive(Debug, Default)]
pub(crate) struct PackConfigs {
    /// `<data-dir>/configs` in `gale server`; `None`: every pack's config is `{}`.
    dir: Option<PathBuf>,
    /// `config.schema.yaml` per pack, filled at start and at pack registration.
    schemas: RwLock<HashMap<String, Value>>,
    /// Validated file values per pack with the file's (modified time, length) when read: an
    /// unchanged file is not parsed and validated again on every execution.
    loaded: RwLock<HashMap<String, (std::time::SystemTime, u64, Value)>>,
}

impl PackConfigs {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        PackConfigs {
            dir,
            schemas: RwLock::new(HashMap::new()),
            loaded: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn set_schema(&self, pack: &str, schema: Option<Value>) {
        // Values were validated against the old schema.
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(pack);
        let mut g = self.schemas.write().unwrap_or_else(|p| p.into_inner());
        match schema {
            Some(s) => g.insert(pack.to_string(), s),
            None => g.remove(pack),
        };
    }

    /// `config_context` for `pack`: the file's values (or `{}`), validated, with schema
    /// defaults, dynamic values rendered. Read at each use so an edited file applies to the
    /// next execution, as StackStorm reads configs from its database at run time.
    pub(crate) fn config_context(
        &self,
        pack: &str,
        kv: &dyn gale_expr::ContextProvider,
    ) -> Result<Value, params::Error> {
        let schema = {
            let g = self.schemas.read().unwrap_or_else(|p| p.into_inner());
            g.get(pack).cloned()
        };
        let path = self.dir.as_ref().map(|d| d.join(format!("{pack}.yaml")));
        let meta = path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .filter(|m| m.is_file());
        let values = match (&path, meta) {
            (Some(p), Some(m)) => {
                let stamp = (m.modified().ok(), m.len());
                let cached = {
                    let g = self.loaded.read().unwrap_or_else(|p| p.into_inner());
                    g.get(pack)
                        .filter(|(t, len, _)| (Some(*t), *len) == stamp)
                        .map(|(_, _, v)| v.clone())
                };
                match cached {
                    Some(v) => Some(v),
                    None => {
                        let v = gale_packs::config::load_config_values(p)
                            .map_err(params::Error::Config)?;
                        let v = match &schema {
                            Some(s) => gale_packs::config::validate_config(
                                s,
                                &v,
                                &p.display().to_string(),
                                pack,
                            )
                            .map_err(params::Error::Config)?,
                            None => v,
                        };
                        if let (Some(t), len) = stamp {
                            self.loaded
                                .write()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(pack.to_string(), (t, len, v.clone()));
                        }
                        Some(v)
                    }
                }
            }
            _ => None,
        };
        if schema.is_none() && values.is_none() {
            return Ok(Value::Object(Map::new()));
        }
        params::resolve_config(schema.as_ref(), values.as_ref(), pack, kv)
    }
}

/// The datastore view of one execution's user plus the pack configs: what the engine passes
/// to [`live_params`] and [`final_params`].
pub(crate) struct StageKv {
    pub(crate) kv: Box<dyn gale_expr::ContextProvider>,
    pub(crate) configs: Arc<PackConfigs>,
}

impl gale_expr::ContextProvider for StageKv {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        self.kv.st2kv(key, decrypt)
    }
    fn task(&self, name: Option<&str>) -> Result<Value, String> {
        self.kv.task(name)
    }
    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        self.kv.decrypt(ciphertext)
    }
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.kv.now()
    }
    fn local_offset_seconds(&self) -> i32 {
        self.kv.local_offset_seconds()
    }
}

/// What the stage functions need from their datastore argument: lookups, and the pack config
/// when the caller has one (a bare provider, e.g. a workflow's input rendering, has none).
pub(crate) trait StageContext {
    fn provider(&self) -> &dyn gale_expr::ContextProvider;
    fn pack_config(&self, pack: &str) -> Result<Value, params::Error>;
}

impl StageContext for StageKv {
    fn provider(&self) -> &dyn gale_expr::ContextProvider {
        self
    }
    fn pack_config(&self, pack: &str) -> Result<Value, params::Error> {
        self.configs.config_context(pack, self.kv.as_ref())
    }
}

impl StageContext for dyn gale_expr::ContextProvider + '_ {
    fn provider(&self) -> &dyn gale_expr::ContextProvider {
        self
    }
    fn pack_config(&self, _pack: &str) -> Result<Value, params::Error> {
        Ok(Value::Object(Map::new()))
    }
}

/// The datastore as templates see it when none is attached ([`crate::Engine::set_datastore`]):
/// every key is missing, which StackStorm renders as `""` rather than an error.
pub(crate) struct EmptyDatastore;

impl gale_expr::ContextProvider for EmptyDatastore {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(None)
    }
}

/// Steps 3–5 of actions.md §2.1 on the caller's parameters; the result is what the execution
/// stores as `parameters` (without plain defaults, as StackStorm stores them).
pub(crate) fn live_params(
    action: &Action,
    runner: &RunnerType,
    supplied: &Map<String, Value>,
    context: &Map<String, Value>,
    kv: &(impl StageContext + ?Sized),
) -> Result<Map<String, Value>, params::Error> {
    let ctx = Value::Object(context.clone());
    let config = kv.pack_config(&action.pack)?;
    let input = RenderInput {
        runner,
        action,
        params: supplied,
        context: &ctx,
        config: &config,
        kv: kv.provider(),
    };
    let live = params::render_live_params(&input)?;
    params::validate_params(runner, action, &live)?;
    params::check_immutable(runner, action, &live)?;
    Ok(live)
}

/// Whether the failure is a rendering error, which still creates a failed execution record
/// (§2.1 step 3); validation, cast and immutable errors create nothing.
pub(crate) fn creates_failed_record(e: &params::Error) -> bool {
    e.creates_failed_execution()
}

/// Final rendering (§2.5), split into runner and action parameters.
pub(crate) fn final_params(
    action: &Action,
    runner: &RunnerType,
    live: &Map<String, Value>,
    context: &Map<String, Value>,
    kv: &(impl StageContext + ?Sized),
) -> Result<params::FinalParams, params::Error> {
    let ctx = Value::Object(context.clone());
    let config = kv.pack_config(&action.pack)?;
    let input = RenderInput {
        runner,
        action,
        params: live,
        context: &ctx,
        config: &config,
        kv: kv.provider(),
    };
    params::render_final_params(&input)
}

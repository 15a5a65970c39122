//! Registration (packs.md §3): runner types from the registry, and a pack directory's pack record
//! and actions, each an upsert by ref that keeps the existing id. With `fail_on_failure` (the
//! StackStorm default) the first bad file aborts before anything of the pack is written; without
//! it, bad files are reported and skipped.

use crate::{Error, Inner, RegisterReport};
use std::path::Path;

pub(crate) async fn register_runner_types(inner: &Inner) -> Result<usize, Error> {
    let mut n = 0;
    for rt in inner.runners.runner_types() {
        inner.store.upsert_runner_type(rt).await?;
        n += 1;
    }
    // Workflow runners are stepped by the engine, not run by a registry runner.
    for rt in crate::workflow::runner_types::runner_types() {
        if inner.runners.get(&rt.name).is_none() {
            inner.store.upsert_runner_type(rt).await?;
            n += 1;
        }
    }
    inner.cache.clear();
    Ok(n)
}

pub(crate) async fn register_pack_dir(
    inner: &Inner,
    dir: &Path,
    fail_on_failure: bool,
) -> Result<RegisterReport, Error> {
    // Registering actions (re)registers runners first; actions are checked against the
    // catalogue in the store (which may hold runner types this build cannot run).
    let runners = register_runner_types(inner).await?;
    let catalogue = inner.store.list_runner_types().await?;
    let dir_owned = dir.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || gale_packs::load_pack(&dir_owned, &catalogue))
        .await
        .map_err(|e| Error::Pack(format!("pack loader failed: {e}")))?
        .map_err(|e| Error::Pack(e.to_string()))?;

    let mut report = RegisterReport {
        runners,
        actions: 0,
        errors: Vec::new(),
    };
    let (pack, actions) = if fail_on_failure {
        loaded
            .into_strict()
            .map_err(|e| Error::Pack(e.to_string()))?
    } else {
        report.errors = loaded
            .all_failures()
            .iter()
            .map(|f| f.message.clone())
            .collect();
        for msg in &report.errors {
            tracing::warn!(pack_dir = %dir.display(), error = %msg, "skipped during registration");
        }
        match loaded.pack {
            Ok(p) => (p, loaded.actions),
            // Without its pack record nothing of the pack can be registered.
            Err(_) => return Ok(report),
        }
    };
    inner.store.upsert_pack(pack).await?;
    for action in actions {
        inner.store.upsert_action(action).await?;
        report.actions += 1;
    }
    inner.cache.clear();
    Ok(report)
}

//! Registration (packs.md §3): runner types from the registry, and a pack directory's pack record
//! and actions, each an upsert by ref that keeps the existing id.

use crate::{Error, Inner, RegisterReport};
use std::path::Path;

pub(crate) async fn register_runner_types(inner: &Inner) -> Result<usize, Error> {
    let mut n = 0;
    for rt in inner.runners.runner_types() {
        inner.store.upsert_runner_type(rt).await?;
        n += 1;
    }
    inner.cache.clear();
    Ok(n)
}

pub(crate) async fn register_pack_dir(
    inner: &Inner,
    dir: &Path,
    fail_on_failure: bool,
) -> Result<RegisterReport, Error> {
    let _ = (inner, fail_on_failure);
    // Waiting for the pack loader (crates/packs) to land.
    Err(Error::Pack(format!(
        "pack loader not available yet: {}",
        dir.display()
    )))
}

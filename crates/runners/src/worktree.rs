//! `content_version` support (StackStorm's `GitWorktreeActionRunner`): run a script from a given
//! git revision of its pack by checking that revision out in a temporary worktree under
//! `/tmp/st2-git-worktree-*`, removed after the run (kept when `debug` is set).

use std::path::{Path, PathBuf};

const PREFIX: &str = "st2-git-worktree-";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorktreeError {
    #[error("Failed to create git worktree for pack \"{pack}\". Pack directory \"{dir}\" doesn't exist.")]
    NoPackDir { pack: String, dir: String },
    #[error("Failed to create git worktree for pack \"{pack}\": {reason}")]
    Git { pack: String, reason: String },
    #[error("entry_point is not located inside the pack directory")]
    OutsidePack,
}

/// A checked-out revision; [`GitWorktree::remove`] cleans it up.
#[derive(Debug)]
pub struct GitWorktree {
    pub path: PathBuf,
    pack_dir: PathBuf,
}

impl GitWorktree {
    pub async fn create(
        pack: &str,
        pack_dir: &Path,
        content_version: &str,
    ) -> Result<Self, WorktreeError> {
        if !pack_dir.is_dir() {
            return Err(WorktreeError::NoPackDir {
                pack: pack.to_string(),
                dir: pack_dir.display().to_string(),
            });
        }
        let git_err = |reason: String| WorktreeError::Git {
            pack: pack.to_string(),
            reason,
        };
        let path = std::env::temp_dir().join(format!("{PREFIX}{}", gale_model::new_id()));
        std::fs::create_dir(&path)
            .map_err(|e| git_err(format!("cannot create \"{}\": {e}", path.display())))?;
        let out = tokio::process::Command::new("git")
            .arg("-C")
            .arg(pack_dir)
            .args(["worktree", "add", "--detach"])
            .arg(&path)
            .arg(content_version)
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        let tree = GitWorktree {
            path,
            pack_dir: pack_dir.to_path_buf(),
        };
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                tree.remove().await;
                return Err(git_err(format!("unable to run git: {e}")));
            }
        };
        if !out.status.success() {
            tree.remove().await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            let reason = if stderr.contains("git: 'worktree' is not a git command.") {
                "Installed git version doesn't support git worktree command. To be able to utilize this functionality you need to use git >= 2.5.0.".to_string()
            } else if stderr.to_lowercase().contains("not a git repository") {
                format!(
                    "Pack directory \"{}\" is not a git repository. To utilize this functionality, pack directory needs to be a git repository.",
                    pack_dir.display()
                )
            } else if stderr.contains("invalid reference") {
                format!(
                    "Invalid content_version \"{content_version}\" provided. Make sure that git repository is up to date and contains that revision."
                )
            } else {
                stderr.trim().to_string()
            };
            return Err(git_err(reason));
        }
        Ok(tree)
    }

    /// The entry point's counterpart inside the worktree.
    pub fn entry_point(&self, entry_point: &Path) -> Result<PathBuf, WorktreeError> {
        let rel = entry_point
            .strip_prefix(&self.pack_dir)
            .map_err(|_| WorktreeError::OutsidePack)?;
        if rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(WorktreeError::OutsidePack);
        }
        Ok(self.path.join(rel))
    }

    /// Deletes the checkout and lets git forget it.
    pub async fn remove(self) {
        // Only ever delete our own temporary directories.
        let ours = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX));
        if !ours {
            return;
        }
        if let Err(e) = tokio::fs::remove_dir_all(&self.path).await {
            tracing::warn!(path = %self.path.display(), error = %e, "removing git worktree");
        }
        let _ = tokio::process::Command::new("git")
            .arg("-C")
            .arg(&self.pack_dir)
            .args(["worktree", "prune"])
            .stdin(std::process::Stdio::null())
            .output()
            .await;
    }
}

//! Loading a pack directory into a [`PackReport`]: the pack record, the valid actions and every
//! rejected file, so callers can implement both StackStorm registration modes (fail on the
//! first failure — the default — or log and skip).

use crate::{action, pack, yaml, Error};
use gale_model::{Action, Pack, RunnerType};
use std::path::{Path, PathBuf};

/// One file that could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFailure {
    /// Absolute path of the file (what StackStorm prints).
    pub path: PathBuf,
    /// Offending field as a dotted path, when known (`parameters.cmd.type`, `pack`).
    pub field: Option<String>,
    /// The reason alone.
    pub reason: String,
    /// The full message, e.g. `Failed to register action "<file>" from pack "<pack>": <reason>`.
    pub message: String,
}

/// What loading one pack directory found.
#[derive(Debug, Clone)]
pub struct PackReport {
    /// The pack directory's name: the `pack` of every resource (st2's registrars use it, not the
    /// resolved ref; the two agree when the directory is named after the ref).
    pub pack_name: String,
    pub dir: PathBuf,
    /// The pack record, or why `pack.yaml` / `config.schema.yaml` was rejected.
    pub pack: Result<Pack, FileFailure>,
    /// Valid actions in file order.
    pub actions: Vec<Action>,
    /// Rejected action files in file order.
    pub failures: Vec<FileFailure>,
    /// Names of valid actions whose `enabled` an override changed (`actions(overridden)`).
    pub overridden: Vec<String>,
}

/// How to load a pack.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions<'a> {
    /// The runner catalogue actions are checked against.
    pub runners: &'a [RunnerType],
    /// `<system.base_path>/overrides`, when overrides apply.
    pub overrides_dir: Option<&'a Path>,
}

impl PackReport {
    /// Fail-on-failure mode: the first error (pack record first, then action files in sorted
    /// order), as StackStorm reports it.
    pub fn into_strict(self) -> Result<(Pack, Vec<Action>), Error> {
        let pack = self.pack.map_err(|f| Error::Registration(f.message))?;
        if let Some(f) = self.failures.into_iter().next() {
            return Err(Error::Registration(f.message));
        }
        Ok((pack, self.actions))
    }

    /// Every failure (pack first), for logging in no-fail mode.
    pub fn all_failures(&self) -> Vec<&FileFailure> {
        let mut out = Vec::new();
        if let Err(f) = &self.pack {
            out.push(f);
        }
        out.extend(self.failures.iter());
        out
    }
}

/// Load `dir` (a pack directory holding `pack.yaml`). Fails only when the directory itself
/// cannot be read; problems with the pack's files are in the report.
pub fn load_pack(dir: &Path, runners: &[RunnerType]) -> Result<PackReport, Error> {
    load_pack_with(
        dir,
        &LoadOptions {
            runners,
            overrides_dir: None,
        },
    )
}

/// [`load_pack`] with overrides.
pub fn load_pack_with(dir: &Path, opts: &LoadOptions<'_>) -> Result<PackReport, Error> {
    let runners = opts.runners;
    if !dir.is_dir() {
        return Err(Error::NotADirectory(dir.to_path_buf()));
    }
    let dir = dir.to_path_buf();
    let pack_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();

    let pack = pack::load_pack_metadata(&dir).map_err(|reason| FileFailure {
        path: dir.join("pack.yaml"),
        field: None,
        message: format!("Failed to register pack \"{pack_name}\": {reason}"),
        reason,
    });
    if let Err(f) = &pack {
        tracing::warn!(pack = %pack_name, error = %f.reason, "pack metadata rejected");
    }

    let mut actions = Vec::new();
    let mut failures = Vec::new();
    let mut overridden = Vec::new();
    for file in action_files(&dir)? {
        let rel = file
            .strip_prefix(&dir)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_else(|_| file.to_string_lossy().to_string());
        match load_action_file(&file, &pack_name, &rel, runners, opts.overrides_dir) {
            Ok((a, changed)) => {
                if changed {
                    overridden.push(a.name.clone());
                }
                actions.push(a)
            }
            Err((field, reason)) => {
                tracing::warn!(pack = %pack_name, file = %file.display(), error = %reason, "action rejected");
                failures.push(FileFailure {
                    message: format!(
                        "Failed to register action \"{}\" from pack \"{pack_name}\": {reason}",
                        file.display()
                    ),
                    path: file,
                    field,
                    reason,
                });
            }
        }
    }
    Ok(PackReport {
        pack_name,
        dir,
        pack,
        actions,
        failures,
        overridden,
    })
}

fn load_action_file(
    file: &Path,
    pack_name: &str,
    rel: &str,
    runners: &[RunnerType],
    overrides_dir: Option<&Path>,
) -> Result<(Action, bool), (Option<String>, String)> {
    let text = std::fs::read_to_string(file).map_err(|e| (None, e.to_string()))?;
    let mut doc = yaml::from_str(&text).map_err(|e| (None, e.to_string()))?;
    let mut changed = false;
    if let (Some(dir), Some(map)) = (overrides_dir, doc.as_object_mut()) {
        changed = crate::overrides::apply_overrides(dir, pack_name, "actions", map)
            .map_err(|e| (Some("enabled".to_string()), e))?;
    }
    action::action_from_document(&doc, pack_name, rel, runners)
        .map(|a| (a, changed))
        .map_err(|e| (e.field, e.reason))
}

/// Pack directories under the base paths, in search order (system path first): sub-directories
/// holding `pack.yaml`, sorted by name within each base, `__pycache__` skipped. A name found in
/// several bases is taken from the first one (as StackStorm resolves names to paths).
pub fn discover_packs(base_paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashMap::<String, PathBuf>::new();
    let mut out = Vec::new();
    for base in base_paths {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && p.join("pack.yaml").is_file())
            .filter(|p| p.file_name().map(|n| n != "__pycache__").unwrap_or(false))
            .collect();
        dirs.sort();
        for d in dirs {
            let name = d
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if let Some(first) = seen.get(&name) {
                tracing::warn!(pack = %name, first = %first.display(), ignored = %d.display(),
                    "Pack \"{name}\" already found in {}, ignoring {}", first.display(), d.display());
                continue;
            }
            seen.insert(name, d.clone());
            out.push(d);
        }
    }
    out
}

/// The directory of pack `name` under the base paths (first match wins).
pub fn find_pack(base_paths: &[PathBuf], name: &str) -> Option<PathBuf> {
    base_paths
        .iter()
        .map(|b| b.join(name))
        .find(|d| d.join("pack.yaml").is_file())
}

/// `actions/*.yaml|yml` directly inside the pack, sorted, without `actions/config.*`.
pub fn action_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let actions = dir.join("actions");
    if !actions.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&actions).map_err(|source| Error::Io {
        path: actions.clone(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml") | Some("yml")
            )
        })
        .filter(|p| {
            !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("config.yaml") | Some("config.yml")
            )
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn runners() -> Vec<RunnerType> {
        vec![RunnerType {
            id: String::new(),
            name: "local-shell-cmd".into(),
            description: String::new(),
            enabled: true,
            runner_package: String::new(),
            runner_module: String::new(),
            runner_parameters: serde_json::from_value(json!({
                "cmd": {"type": "string"},
                "sudo": {"type": "boolean", "default": false}
            }))
            .unwrap(),
            output_key: None,
            output_schema: Value::Null,
            uid: RunnerType::uid_for("local-shell-cmd"),
        }]
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn good_and_bad_files() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("demo");
        write(
            &d,
            "pack.yaml",
            "name: demo\ndescription: d\nversion: 0.1.0\nauthor: me\n",
        );
        write(
            &d,
            "actions/b_good.yaml",
            "name: b\nrunner_type: local-shell-cmd\nparameters:\n  sudo:\n    immutable: yes\n",
        );
        write(
            &d,
            "actions/a_good.yml",
            "name: a\nrunner_type: local-shell-cmd\nenabled: off\n",
        );
        write(
            &d,
            "actions/c_bad.yaml",
            "name: c\nrunner_type: local-shell-cmd\nbogus: 1\n",
        );
        write(
            &d,
            "actions/d_other_pack.yaml",
            "name: d\npack: other\nrunner_type: local-shell-cmd\n",
        );
        write(&d, "actions/e_syntax.yaml", "name: [e\n");
        write(&d, "actions/config.yaml", "not: an action\n");
        write(&d, "actions/notes.txt", "ignored");
        write(&d, "actions/workflows/w.yaml", "version: 1.0\n");

        let r = load_pack(&d, &runners()).unwrap();
        assert_eq!(r.pack_name, "demo");
        assert_eq!(r.pack.as_ref().unwrap().pack_ref, "demo");
        let names: Vec<_> = r.actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(!r.actions[0].enabled);
        assert!(r.actions[1].parameters["sudo"].immutable());
        assert_eq!(r.actions[0].metadata_file, "actions/a_good.yml");
        assert_eq!(r.failures.len(), 3);
        let f = &r.failures[0];
        assert!(f.path.ends_with("actions/c_bad.yaml"));
        assert_eq!(
            f.message,
            format!(
                "Failed to register action \"{}\" from pack \"demo\": Additional properties are not allowed ('bogus' was unexpected)",
                f.path.display()
            )
        );
        assert_eq!(r.failures[1].field.as_deref(), Some("pack"));
        assert!(r.failures[1]
            .reason
            .contains("Model is in pack \"demo\" but field \"pack\" is different: other"));
        assert!(r.failures[2].path.ends_with("actions/e_syntax.yaml"));

        let strict = r.clone().into_strict().unwrap_err().to_string();
        assert!(strict.contains("c_bad.yaml"), "{strict}");
        assert_eq!(r.all_failures().len(), 3);
    }

    #[test]
    fn bad_pack_yaml_still_loads_actions() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("demo");
        write(
            &d,
            "pack.yaml",
            "name: demo\ndescription: d\nversion: '1.0'\nauthor: me\n",
        );
        write(
            &d,
            "actions/a.yaml",
            "name: a\nrunner_type: local-shell-cmd\n",
        );
        let r = load_pack(&d, &runners()).unwrap();
        let f = r.pack.as_ref().unwrap_err();
        assert!(f.message.starts_with("Failed to register pack \"demo\": Pack version \"1.0\" doesn't follow a valid semver format."), "{}", f.message);
        assert_eq!(r.actions.len(), 1);
        assert!(r.into_strict().is_err());
    }

    #[test]
    fn discovery_prefers_the_first_base_path() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys");
        let user = t.path().join("user");
        let manifest = "name: x\ndescription: d\nversion: 1.0.0\nauthor: me\n";
        write(&sys.join("core"), "pack.yaml", manifest);
        write(&user.join("core"), "pack.yaml", manifest);
        write(&user.join("b"), "pack.yaml", manifest);
        write(&user.join("a"), "pack.yaml", manifest);
        write(&user.join("no_manifest"), "README.md", "x");
        write(&user.join("__pycache__"), "pack.yaml", manifest);
        let bases = vec![sys.clone(), user.clone()];
        assert_eq!(
            discover_packs(&bases),
            [sys.join("core"), user.join("a"), user.join("b")]
        );
        assert_eq!(find_pack(&bases, "core"), Some(sys.join("core")));
        assert_eq!(find_pack(&bases, "a"), Some(user.join("a")));
        assert_eq!(find_pack(&bases, "zzz"), None);
    }

    #[test]
    fn overrides_apply_during_loading() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("demo");
        write(
            &d,
            "pack.yaml",
            "name: demo\ndescription: d\nversion: 0.1.0\nauthor: me\n",
        );
        write(
            &d,
            "actions/a.yaml",
            "name: a\nrunner_type: local-shell-cmd\n",
        );
        write(
            &d,
            "actions/b.yaml",
            "name: b\nrunner_type: local-shell-cmd\n",
        );
        let o = t.path().join("overrides");
        write(&o, "demo.yaml", "actions:\n  defaults:\n    enabled: false\n  exceptions:\n    b:\n      enabled: true\n");
        let runners = runners();
        let r = load_pack_with(
            &d,
            &LoadOptions {
                runners: &runners,
                overrides_dir: Some(&o),
            },
        )
        .unwrap();
        assert!(!r.actions[0].enabled);
        assert!(r.actions[1].enabled);
        assert_eq!(r.overridden, ["a"]);
    }

    #[test]
    fn missing_directory_is_an_error() {
        assert!(load_pack(Path::new("/nonexistent/gale/pack"), &runners()).is_err());
    }
}

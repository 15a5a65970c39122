//! Packs shipped inside the binary (`packs/` at the repository root).
//!
//! Choice: a shipped pack is *extracted* to `<data-dir>/packs/<name>` at start-up and then
//! loaded like any other pack directory. Entry points such as `send_mail/send_mail` are run
//! from disk by the shell runners, and registration records a real `path`, so an in-memory
//! "virtual" pack would only move the problem. Extraction overwrites the shipped files (so an
//! upgrade replaces them) but leaves other files in the directory alone.

use crate::Error;
use std::path::{Path, PathBuf};

/// One file of a shipped pack.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinFile {
    /// Path relative to the pack directory, `/`-separated.
    pub path: &'static str,
    pub contents: &'static str,
    /// Written with mode 0755 (entry-point scripts).
    pub executable: bool,
}

/// A pack compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPack {
    pub name: &'static str,
    pub files: &'static [BuiltinFile],
}

macro_rules! file {
    ($pack:literal, $path:literal) => {
        BuiltinFile {
            path: $path,
            contents: include_str!(concat!("../../../packs/", $pack, "/", $path)),
            executable: false,
        }
    };
    ($pack:literal, $path:literal, exec) => {
        BuiltinFile {
            path: $path,
            contents: include_str!(concat!("../../../packs/", $pack, "/", $path)),
            executable: true,
        }
    };
}

static CORE_FILES: &[BuiltinFile] = &[
    file!("core", "pack.yaml"),
    file!("core", "actions/echo.yaml"),
    file!("core", "actions/error.yaml"),
    file!("core", "actions/http.yaml"),
    file!("core", "actions/local.yaml"),
    file!("core", "actions/local_sudo.yaml"),
    file!("core", "actions/noop.yaml"),
    file!("core", "actions/sendmail.yaml"),
    file!("core", "actions/send_mail/send_mail", exec),
];

/// The `core` pack (v1.0.1): the core actions whose runners Gale has.
pub fn core() -> BuiltinPack {
    BuiltinPack {
        name: "core",
        files: CORE_FILES,
    }
}

static SITEENGINE_FILES: &[BuiltinFile] = &[
    file!("siteengine", "pack.yaml"),
    file!("siteengine", "config.schema.yaml"),
    file!("siteengine", "triggers/alarm.yaml"),
    file!("siteengine", "triggers/trap.yaml"),
    file!("siteengine", "triggers/syslog.yaml"),
    file!("siteengine", "triggers/appliance_status.yaml"),
    file!("siteengine", "actions/graphql.yaml"),
    file!("siteengine", "actions/server_info.yaml"),
    file!("siteengine", "actions/list_devices.yaml"),
    file!("siteengine", "actions/get_device.yaml"),
    file!("siteengine", "actions/get_ports.yaml"),
    file!("siteengine", "actions/rediscover_device.yaml"),
    file!("siteengine", "actions/create_device.yaml"),
    file!("siteengine", "actions/delete_device.yaml"),
    file!("siteengine", "actions/update_device.yaml"),
    file!("siteengine", "actions/enforce_device.yaml"),
    file!("siteengine", "actions/run_workflow.yaml"),
    file!("siteengine", "actions/preregister_device.yaml"),
    file!("siteengine", "actions/quarantine_mac.yaml"),
    file!("siteengine", "actions/release_mac.yaml"),
    file!("siteengine", "actions/reauthenticate_mac.yaml"),
    file!("siteengine", "actions/device_down.yaml"),
    file!("siteengine", "actions/workflows/device_down.yaml"),
    file!("siteengine", "actions/port_flapping.yaml"),
    file!("siteengine", "actions/workflows/port_flapping.yaml"),
    file!("siteengine", "actions/config_changed.yaml"),
    file!("siteengine", "actions/workflows/config_changed.yaml"),
    file!("siteengine", "rules/device_down.yaml"),
    file!("siteengine", "rules/port_flapping.yaml"),
    file!("siteengine", "rules/port_flapping_alarm.yaml"),
    file!("siteengine", "rules/config_changed.yaml"),
    file!("siteengine", "rules/config_changed_syslog.yaml"),
    file!("siteengine", "bin/st2integration.py", exec),
];

/// The `siteengine` pack: ExtremeCloud IQ Site Engine trigger types, northbound API actions
/// (runner `siteengine-nbi`, which the server must register first) and the sender script.
pub fn siteengine() -> BuiltinPack {
    BuiltinPack {
        name: "siteengine",
        files: SITEENGINE_FILES,
    }
}

/// Every shipped pack.
pub fn all() -> Vec<BuiltinPack> {
    vec![core(), siteengine()]
}

impl BuiltinPack {
    /// Write the pack to `<packs_dir>/<name>` and return that directory.
    pub fn extract_to(&self, packs_dir: &Path) -> Result<PathBuf, Error> {
        let root = packs_dir.join(self.name);
        for f in self.files {
            let dest = root.join(f.path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&dest, f.contents).map_err(|source| Error::Io {
                path: dest.clone(),
                source,
            })?;
            #[cfg(unix)]
            if f.executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).map_err(
                    |source| Error::Io {
                        path: dest.clone(),
                        source,
                    },
                )?;
            }
        }
        Ok(root)
    }
}

/// Extract every shipped pack under `<data_dir>/packs` and return their directories.
pub fn install_all(data_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let packs_dir = data_dir.join("packs");
    all().iter().map(|p| p.extract_to(&packs_dir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_pack;
    use gale_model::RunnerType;
    use serde_json::json;

    /// The issue-3 runner catalogue, reduced to what the core actions override.
    fn runners() -> Vec<RunnerType> {
        let mk = |name: &str, params: serde_json::Value| RunnerType {
            id: String::new(),
            name: name.into(),
            description: String::new(),
            enabled: true,
            runner_package: String::new(),
            runner_module: String::new(),
            runner_parameters: serde_json::from_value(params).unwrap(),
            output_key: None,
            output_schema: serde_json::Value::Null,
            uid: RunnerType::uid_for(name),
        };
        let shell = json!({
            "cmd": {"type": "string"},
            "cwd": {"type": "string"},
            "env": {"type": "object"},
            "kwarg_op": {"type": "string", "default": "--"},
            "sudo": {"type": "boolean", "default": false},
            "sudo_password": {"type": "string", "default": null, "required": false, "secret": true},
            "timeout": {"type": "integer", "default": 60}
        });
        let mut script = shell.clone();
        script.as_object_mut().unwrap().remove("cmd");
        vec![
            mk("local-shell-cmd", shell),
            mk("local-shell-script", script),
            mk("noop", json!({})),
            mk(
                "http-request",
                json!({"url": {"type": "string", "required": true}}),
            ),
        ]
    }

    #[test]
    fn core_extracts_and_loads_cleanly() {
        let t = tempfile::tempdir().unwrap();
        let dirs = install_all(t.path()).unwrap();
        assert_eq!(
            dirs,
            [
                t.path().join("packs/core"),
                t.path().join("packs/siteengine")
            ]
        );
        let report = load_pack(&dirs[0], &runners()).unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let pack = report.pack.as_ref().unwrap();
        assert_eq!(pack.pack_ref, "core");
        assert_eq!(pack.version, "1.0.1");
        assert_eq!(pack.python_versions, ["2", "3"]);
        let names: Vec<_> = report
            .actions
            .iter()
            .map(|a| a.action_ref.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "core.echo",
                "core.error",
                "core.http",
                "core.local",
                "core.local_sudo",
                "core.noop",
                "core.sendmail"
            ]
        );
        let script = dirs[0].join("actions/send_mail/send_mail");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
    }

    /// Every file under `packs/<name>` is in the shipped list (a forgotten one would be
    /// missing from every installation), and nothing listed is absent.
    #[test]
    fn shipped_file_lists_are_complete() {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_string_lossy();
                    out.push(rel.replace('\\', "/"));
                }
            }
        }
        for pack in all() {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../packs")
                .join(pack.name);
            let mut on_disk = Vec::new();
            walk(&root, &root, &mut on_disk);
            on_disk.sort();
            let mut listed: Vec<String> = pack.files.iter().map(|f| f.path.to_string()).collect();
            listed.sort();
            assert_eq!(listed, on_disk, "pack {}", pack.name);
        }
    }

    #[test]
    fn core_parameter_definitions_match_stackstorm() {
        let t = tempfile::tempdir().unwrap();
        let dir = core().extract_to(t.path()).unwrap();
        let report = load_pack(&dir, &runners()).unwrap();
        let get = |name: &str| {
            report
                .actions
                .iter()
                .find(|a| a.name == name)
                .unwrap()
                .clone()
        };

        let echo = get("echo");
        assert_eq!(
            echo.parameters["cmd"].default_value(),
            Some(&json!("echo \"{{message}}\""))
        );
        assert!(echo.parameters["cmd"].immutable());
        assert!(echo.parameters["message"].required());
        for p in ["kwarg_op", "sudo", "sudo_password"] {
            assert!(echo.parameters[p].immutable(), "{p}");
        }
        assert_eq!(
            get("error").parameters["cmd"].default_value(),
            Some(&json!(">&2 echo \"{{message}}\""))
        );
        assert_eq!(
            get("local_sudo").parameters["sudo"].default_value(),
            Some(&json!(true))
        );
        assert!(get("local").parameters["sudo"].default_value().is_none());
        assert!(get("noop").parameters.is_empty());

        let http = get("http");
        assert_eq!(http.parameters["timeout"].default_value(), Some(&json!(60)));
        assert_eq!(http.parameters["timeout"].type_name(), Some("number"));
        assert_eq!(http.parameters["method"].enum_values().unwrap().len(), 9);
        let names: Vec<_> = http.parameters.keys().cloned().collect();
        assert_eq!(
            names,
            [
                "auth",
                "body",
                "file_content",
                "file_content_type",
                "file_name",
                "file_path",
                "headers",
                "method",
                "params",
                "timeout"
            ]
        );

        let mail = get("sendmail");
        assert_eq!(mail.entry_point, "send_mail/send_mail");
        let positions: Vec<_> = mail
            .parameters
            .iter()
            .filter_map(|(n, s)| s.position().map(|p| (n.as_str(), p as i64)))
            .collect();
        assert_eq!(
            positions,
            [
                ("sendmail_binary", 0),
                ("from", 1),
                ("to", 2),
                ("subject", 3),
                ("send_empty_body", 4),
                ("content_type", 5),
                ("body", 6),
                ("attachments", 7)
            ]
        );
        assert_eq!(
            mail.parameters["sendmail_binary"].default_value(),
            Some(&json!("None"))
        );
        assert_eq!(
            mail.parameters["send_empty_body"].default_value(),
            Some(&json!(true))
        );
        assert_eq!(
            mail.parameters["from"].default_value(),
            Some(&json!("stanley"))
        );
        assert_eq!(
            mail.parameters["content_type"].default_value(),
            Some(&json!("text/html"))
        );
        assert!(mail.parameters["sudo"].immutable());
        assert!(
            mail.parameters["to"].required()
                && mail.parameters["subject"].required()
                && mail.parameters["body"].required()
        );
    }

    #[test]
    fn send_mail_script_composes_and_pipes() {
        let t = tempfile::tempdir().unwrap();
        let dir = core().extract_to(t.path()).unwrap();
        let script = dir.join("actions/send_mail/send_mail");
        let out = std::process::Command::new(&script)
            .args([
                "cat",
                "stanley@example.com",
                "a@b",
                "Hello",
                "1",
                "text/plain",
                "Body",
                "",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("TO: a@b\nFROM: stanley@example.com\nSUBJECT: =?UTF-8?B?SGVsbG8=?=\n"),
            "{stdout}"
        );
        assert!(
            stdout.contains("Content-Type: text/plain; charset=UTF-8\n\nBody\n"),
            "{stdout}"
        );
        assert!(stdout.contains("This message was generated by StackStorm action send_mail"));
        assert!(stdout.ends_with("Successfully sent mail to a@b\n"));

        let empty = std::process::Command::new(&script)
            .args(["cat", "x", "a@b", "S", "0", "text/plain", " ", ""])
            .output()
            .unwrap();
        assert!(empty.status.success());
        assert_eq!(String::from_utf8_lossy(&empty.stdout), "Nothing to send\n");

        let failing = std::process::Command::new(&script)
            .args(["false", "x", "a@b", "S", "1", "text/plain", "B", ""])
            .output()
            .unwrap();
        assert_eq!(failing.status.code(), Some(2));
    }
}

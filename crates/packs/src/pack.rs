//! `pack.yaml` and `config.schema.yaml` (packs.md §2, §5).

use crate::{pyfmt, schema, yaml};
use gale_model::Pack;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Pack refs (and names usable as refs).
pub const PACK_REF_REGEX: &str = r"^[a-z0-9_]+$";
/// Strict semver with lowercase pre-release/build identifiers, as StackStorm's pattern.
pub const PACK_VERSION_REGEX: &str = r"^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-[\da-z\-]+(?:\.[\da-z\-]+)*)?(?:\+[\da-z\-]+(?:\.[\da-z\-]+)*)?$";
/// `stackstorm_version` constraints (`>=3.0.0`, `>2.9.0, <3.9.0`).
pub const ST2_VERSION_REGEX: &str = r"^((>?>|>=|=|<=|<?<)\s*[0-9]+\.[0-9]+\.[0-9]+?(\s*,)?\s*)+$";
/// Refs no pack may take.
pub const RESERVED_PACK_REFS: [&str; 1] = ["_global"];
/// Packs that run python actions without a virtualenv and cannot be removed.
pub const SYSTEM_PACKS: [&str; 4] = ["core", "packs", "linux", "chatops"];

/// The pack's ref: `ref` if set, else the directory name if it is a valid ref, else `name` if
/// it is, else an error.
pub fn resolve_pack_ref(
    meta: &Map<String, Value>,
    dir_name: Option<&str>,
) -> Result<String, String> {
    let re = regex::Regex::new(PACK_REF_REGEX).map_err(|e| e.to_string())?;
    let explicit = meta.get("ref").filter(|v| truthy(v)).map(pyfmt::py_str);
    let pack_ref = if let Some(r) = explicit {
        r
    } else if let Some(d) = dir_name.filter(|d| re.is_match(d)) {
        d.to_string()
    } else {
        let name = meta.get("name").map(pyfmt::py_str).unwrap_or_default();
        if re.is_match(&name) {
            name
        } else {
            return Err(format!(
                "Pack name \"{name}\" contains invalid characters and \"ref\" attribute is not \
                 available. You either need to add \"ref\" attribute which contains only word \
                 characters to the pack metadata file or update name attribute to contain \
                 onlyword characters."
            ));
        }
    };
    if RESERVED_PACK_REFS.contains(&pack_ref.as_str()) {
        return Err(format!(
            "{pack_ref} is a reserved name, and cannot be used as a pack name"
        ));
    }
    Ok(pack_ref)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
    }
}

/// StackStorm's `PackAPI.schema` (optional fields widened to accept `null`).
fn pack_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": ["string", "null"]},
            "name": {"type": "string", "required": true},
            "ref": {"type": ["string", "null"], "pattern": PACK_REF_REGEX},
            "uid": {"type": ["string", "null"]},
            "description": {"type": "string", "required": true},
            "keywords": {"type": "array", "items": {"type": "string"}},
            "version": {"type": "string", "pattern": PACK_VERSION_REGEX, "required": true},
            "stackstorm_version": {"type": ["string", "null"], "pattern": ST2_VERSION_REGEX},
            "python_versions": {
                "type": ["array", "null"],
                "items": {"type": "string", "enum": ["2", "3"]},
                "minItems": 1, "maxItems": 2, "uniqueItems": true, "additionalItems": true
            },
            "author": {"type": "string", "required": true},
            "email": {"type": ["string", "null"], "format": "email"},
            "contributors": {"type": ["array", "null"], "items": {"type": "string", "maxLength": 100}},
            "files": {"type": "array", "items": {"type": "string"}},
            "dependencies": {"type": "array", "items": {"type": "string"}},
            "system": {"type": "object"},
            "path": {"type": ["string", "null"]}
        },
        "additionalProperties": true
    })
}

/// Read `<dir>/pack.yaml` (and `config.schema.yaml`) into a validated pack record.
/// Errors carry StackStorm's text (without the `Failed to register pack` prefix).
pub fn load_pack_metadata(dir: &Path) -> Result<Pack, String> {
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let manifest = dir.join("pack.yaml");
    if !manifest.is_file() {
        return Err(format!(
            "Pack \"{}\" is missing pack.yaml file",
            dir.display()
        ));
    }
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("Failed to read {}: {e}", manifest.display()))?;
    let doc = yaml::from_str(&text)
        .map_err(|e| format!("Failed to parse {}: {e}", manifest.display()))?;
    let mut meta = match doc {
        Value::Object(m) if !m.is_empty() => m,
        Value::Null => return Err(format!("Pack \"{}\" metadata file is empty", dir.display())),
        Value::Object(_) => {
            return Err(format!("Pack \"{}\" metadata file is empty", dir.display()))
        }
        other => return Err(format!("{} is not of type 'object'", pyfmt::repr(&other))),
    };
    if !meta.contains_key("name") {
        return Err("'name' is a required property".into());
    }
    let pack_ref = resolve_pack_ref(&meta, Some(&dir_name))?;
    meta.insert("ref".into(), Value::String(pack_ref.clone()));
    // Unquoted versions are numbers in YAML; st2 stringifies them before validating.
    if let Some(v) = meta.get("version").filter(|v| truthy(v)).cloned() {
        meta.insert("version".into(), Value::String(pyfmt::py_str(&v)));
    }
    let files = list_files(dir);
    meta.insert(
        "files".into(),
        Value::Array(files.iter().cloned().map(Value::String).collect()),
    );
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    meta.insert("path".into(), Value::String(abs.display().to_string()));

    let schema = schema::to_draft4(&pack_schema());
    if let Some(err) = schema::best_error(&schema, &Value::Object(meta.clone()))? {
        let version = meta.get("version").map(pyfmt::py_str).unwrap_or_default();
        let msg = match err.path.first().map(String::as_str) {
            Some("version") if err.message.contains("does not match") => format!(
                "Pack version \"{version}\" doesn't follow a valid semver format. Valid versions \
                 and formats include: 0.1.0, 0.2.1, 1.1.0, etc.\n\n{}",
                err.message
            ),
            Some("ref") if err.message.contains("does not match") => format!(
                "Pack ref / name can only contain valid word characters (a-z, 0-9 and _), dashes \
                 are not allowed.\n\n{}",
                err.message
            ),
            _ => err.message,
        };
        return Err(msg);
    }

    if dir.join("config.yaml").is_file() {
        tracing::error!(pack = %pack_ref, path = %dir.join("config.yaml").display(),
            "pack contains a deprecated config.yaml file, which is ignored; use \
             config.schema.yaml and <configs>/<pack>.yaml instead");
    }
    let config_schema = load_config_schema(dir)?;

    let str_list = |k: &str| -> Vec<String> {
        meta.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(pyfmt::py_str).collect())
            .unwrap_or_default()
    };
    let get_str = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    let known = [
        "id",
        "ref",
        "uid",
        "name",
        "description",
        "version",
        "author",
        "email",
        "keywords",
        "dependencies",
        "python_versions",
        "stackstorm_version",
        "contributors",
        "files",
        "path",
        "config_schema",
    ];
    let extra: Map<String, Value> = meta
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Pack {
        id: String::new(),
        uid: Pack::uid_for(&pack_ref),
        pack_ref,
        name: get_str("name").unwrap_or_default(),
        description: get_str("description").unwrap_or_default(),
        version: get_str("version").unwrap_or_default(),
        author: get_str("author").unwrap_or_default(),
        email: get_str("email"),
        keywords: str_list("keywords"),
        dependencies: str_list("dependencies"),
        python_versions: str_list("python_versions"),
        stackstorm_version: get_str("stackstorm_version"),
        contributors: str_list("contributors"),
        files,
        path: abs.display().to_string(),
        config_schema,
        extra,
    })
}

/// `config.schema.yaml`: optional; when present it must be a non-empty map of
/// key → parameter-like schema.
pub fn load_config_schema(dir: &Path) -> Result<Option<Value>, String> {
    let path = dir.join("config.schema.yaml");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("Failed to read {}: {e}", path.display()))?;
    let doc =
        yaml::from_str(&text).map_err(|e| format!("Failed to parse {}: {e}", path.display()))?;
    let empty = match &doc {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    };
    if empty {
        return Err(format!(
            "Config schema \"{}\" is empty and invalid.",
            path.display()
        ));
    }
    let Value::Object(attrs) = &doc else {
        return Err(format!("{} is not of type 'object'", pyfmt::repr(&doc)));
    };
    for (k, v) in attrs {
        if !v.is_object() {
            return Err(format!(
                "{} is not of type 'object' (config schema attribute \"{k}\")",
                pyfmt::repr(v)
            ));
        }
    }
    Ok(Some(doc))
}

/// Files of the pack relative to its directory, sorted, without `*.pyc` and `.git/`.
pub fn list_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel_s = rel.to_string_lossy().to_string();
        if rel_s == ".git" || rel_s.starts_with(".git/") || rel_s.ends_with(".pyc") {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            out.push(rel_s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ref_resolution_order() {
        assert_eq!(
            resolve_pack_ref(&meta(json!({"name": "N", "ref": "r"})), Some("dir")).unwrap(),
            "r"
        );
        assert_eq!(
            resolve_pack_ref(&meta(json!({"name": "n"})), Some("dir_1")).unwrap(),
            "dir_1"
        );
        assert_eq!(
            resolve_pack_ref(&meta(json!({"name": "n"})), Some("Dir-X")).unwrap(),
            "n"
        );
        assert_eq!(
            resolve_pack_ref(&meta(json!({"name": "n", "ref": ""})), None).unwrap(),
            "n"
        );
        let e = resolve_pack_ref(&meta(json!({"name": "My Pack"})), Some("bad-dir")).unwrap_err();
        assert!(e.starts_with("Pack name \"My Pack\" contains invalid characters and \"ref\" attribute is not available."), "{e}");
        let e = resolve_pack_ref(&meta(json!({"name": "x", "ref": "_global"})), None).unwrap_err();
        assert_eq!(
            e,
            "_global is a reserved name, and cannot be used as a pack name"
        );
    }

    fn write_pack(dir: &Path, yaml_text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("pack.yaml"), yaml_text).unwrap();
    }

    const GOOD: &str = "name: demo\ndescription: d\nversion: 1.2.3\nauthor: me\n";

    #[test]
    fn loads_a_good_pack_with_extra_keys() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("demo");
        write_pack(
            &d,
            &format!("{GOOD}keywords: [a, b]\nfancy: yes\npython_versions: ['3']\n"),
        );
        std::fs::write(d.join("README.md"), "x").unwrap();
        std::fs::write(d.join("x.pyc"), "x").unwrap();
        let p = load_pack_metadata(&d).unwrap();
        assert_eq!(p.pack_ref, "demo");
        assert_eq!(p.uid, "pack:demo");
        assert_eq!(p.version, "1.2.3");
        assert_eq!(p.keywords, ["a", "b"]);
        assert_eq!(p.extra["fancy"], json!(true));
        assert_eq!(p.files, ["README.md", "pack.yaml"]);
        assert!(p.config_schema.is_none());
    }

    #[test]
    fn version_rules() {
        let t = tempfile::tempdir().unwrap();
        for (v, ok) in [
            ("1.0.0", true),
            ("1.0.0-rc1", true),
            ("1.0.0+build.5", true),
            ("1.0.0-RC1", false),
            ("0.1", false),
            ("01.0.0", false),
            ("'1.0'", false),
        ] {
            let d = t.path().join("p");
            write_pack(
                &d,
                &format!("name: p\ndescription: d\nversion: {v}\nauthor: me\n"),
            );
            let r = load_pack_metadata(&d);
            assert_eq!(r.is_ok(), ok, "{v}: {r:?}");
            if !ok {
                assert!(r.unwrap_err().starts_with("Pack version \""), "{v}");
            }
        }
    }

    #[test]
    fn required_fields_and_other_errors() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("p");
        write_pack(&d, "name: p\nversion: 1.0.0\nauthor: me\n");
        assert_eq!(
            load_pack_metadata(&d).unwrap_err(),
            "'description' is a required property"
        );

        write_pack(&d, "");
        assert!(load_pack_metadata(&d)
            .unwrap_err()
            .ends_with("metadata file is empty"));

        let missing = t.path().join("nothing");
        std::fs::create_dir_all(&missing).unwrap();
        assert!(load_pack_metadata(&missing)
            .unwrap_err()
            .ends_with("is missing pack.yaml file"));

        write_pack(&d, &format!("{GOOD}ref: Bad-Ref\n"));
        assert!(load_pack_metadata(&d)
            .unwrap_err()
            .starts_with("Pack ref / name can only contain valid word characters"));

        write_pack(
            &d,
            &format!("{GOOD}stackstorm_version: '>=3.0.0, <3.9.0'\n"),
        );
        assert!(load_pack_metadata(&d).is_ok());
        write_pack(&d, &format!("{GOOD}stackstorm_version: 'latest'\n"));
        assert!(load_pack_metadata(&d).is_err());
        write_pack(&d, &format!("{GOOD}python_versions: ['4']\n"));
        assert!(load_pack_metadata(&d).is_err());
        write_pack(&d, &format!("{GOOD}email: not-an-email\n"));
        assert!(load_pack_metadata(&d).is_ok());
    }

    #[test]
    fn config_schema_rules() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("p");
        write_pack(&d, GOOD);
        std::fs::write(d.join("config.schema.yaml"), "").unwrap();
        assert!(load_pack_metadata(&d)
            .unwrap_err()
            .ends_with("is empty and invalid."));
        std::fs::write(
            d.join("config.schema.yaml"),
            "api_key:\n  type: string\n  secret: yes\n",
        )
        .unwrap();
        let p = load_pack_metadata(&d).unwrap();
        assert_eq!(
            p.config_schema.unwrap(),
            json!({"api_key": {"type": "string", "secret": true}})
        );
    }
}

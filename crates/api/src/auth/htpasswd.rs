//! Users in an Apache-style htpasswd file (`user:$2y$...` bcrypt lines), as StackStorm's
//! standalone auth backend uses, and the first-start bootstrap of the `st2admin` user.

use rand::distributions::Alphanumeric;
use rand::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot hash password: {0}")]
    Hash(#[from] bcrypt::BcryptError),
}

/// Check `user`/`password` against the htpasswd file at `path`. A missing file, a missing user,
/// a non-bcrypt entry or a wrong password are all simply "no".
pub fn verify(path: &Path, user: &str, password: &str) -> Result<bool, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    Ok(verify_in(&text, user, password))
}

fn verify_in(text: &str, user: &str, password: &str) -> bool {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, hash)) = line.split_once(':') else {
            continue;
        };
        if name != user {
            continue;
        }
        // bcrypt understands $2a$/$2b$/$2x$/$2y$; other htpasswd schemes (MD5, SHA1) are refused.
        return hash.starts_with("$2") && bcrypt::verify(password, hash).unwrap_or(false);
    }
    false
}

/// One htpasswd line for `user` with a fresh bcrypt hash (`$2y$`, as `htpasswd -B` writes).
pub fn entry(user: &str, password: &str, cost: u32) -> Result<String, Error> {
    let hash = bcrypt::hash_with_result(password, cost)?.format_for_version(bcrypt::Version::TwoY);
    Ok(format!("{user}:{hash}\n"))
}

/// What the first-start bootstrap did.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// An htpasswd file already existed; nothing changed.
    Existing,
    /// Created with the given admin password (from the environment).
    CreatedWithGivenPassword,
    /// Created with a random password, written to this file (mode 0600).
    CreatedWithRandomPassword(PathBuf),
}

pub const ADMIN_USER: &str = "st2admin";

/// On first start (no htpasswd file in `data_dir`) create user `st2admin`, with `password` when
/// given, else a random one written to `<data_dir>/st2admin.password`.
pub fn bootstrap(data_dir: &Path, password: Option<&str>, cost: u32) -> Result<Bootstrap, Error> {
    let path = data_dir.join("htpasswd");
    if path.exists() {
        return Ok(Bootstrap::Existing);
    }
    std::fs::create_dir_all(data_dir).map_err(|source| io_err(data_dir, source))?;
    let (pw, generated) = match password {
        Some(p) if !p.is_empty() => (p.to_string(), false),
        _ => (
            rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(24)
                .map(char::from)
                .collect(),
            true,
        ),
    };
    let mut result = Bootstrap::CreatedWithGivenPassword;
    if generated {
        let pw_path = data_dir.join("st2admin.password");
        write_private(&pw_path, format!("{pw}\n").as_bytes())
            .map_err(|source| io_err(&pw_path, source))?;
        result = Bootstrap::CreatedWithRandomPassword(pw_path);
    }
    let line = entry(ADMIN_USER, &pw, cost)?;
    write_private(&path, line.as_bytes()).map_err(|source| io_err(&path, source))?;
    Ok(result)
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_2y_and_2b_entries() {
        let y = entry("alice", "pw1", 4).unwrap();
        assert!(y.starts_with("alice:$2y$04$"), "{y}");
        let b = bcrypt::hash_with_result("pw2", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        let text = format!("# users\n{y}bob:{b}\ncarol:{{SHA}}abc\n");
        assert!(verify_in(&text, "alice", "pw1"));
        assert!(!verify_in(&text, "alice", "pw2"));
        assert!(verify_in(&text, "bob", "pw2"));
        assert!(!verify_in(&text, "carol", "abc"));
        assert!(!verify_in(&text, "nobody", "pw1"));
    }

    #[test]
    fn bootstrap_random_then_existing() {
        let dir = tempfile::tempdir().unwrap();
        let r = bootstrap(dir.path(), None, 4).unwrap();
        let Bootstrap::CreatedWithRandomPassword(pw_path) = r else {
            panic!("{r:?}")
        };
        let pw = std::fs::read_to_string(&pw_path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&pw_path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let ht = dir.path().join("htpasswd");
        assert!(verify(&ht, ADMIN_USER, pw.trim()).unwrap());
        assert!(!verify(&ht, ADMIN_USER, "wrong").unwrap());
        assert_eq!(
            bootstrap(dir.path(), Some("other"), 4).unwrap(),
            Bootstrap::Existing
        );
    }

    #[test]
    fn bootstrap_with_given_password() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            bootstrap(dir.path(), Some("Ch@ngeMe"), 4).unwrap(),
            Bootstrap::CreatedWithGivenPassword
        );
        assert!(!dir.path().join("st2admin.password").exists());
        assert!(verify(&dir.path().join("htpasswd"), ADMIN_USER, "Ch@ngeMe").unwrap());
        assert!(!verify(&dir.path().join("missing"), ADMIN_USER, "x").unwrap());
    }
}

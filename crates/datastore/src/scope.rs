//! Scope spellings and stored names (events.md §7.1–7.2): `system`/`st2kv.system`,
//! `user`/`st2kv.user`, `all` for lists; user-scope pairs are stored as `<user>:<name>`.

use crate::Error;

pub const SYSTEM: &str = "st2kv.system";
pub const USER: &str = "st2kv.user";
pub const ALL: &str = "st2kv.all";

/// The scope of one pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    System,
    User,
}

/// The scope of a list request; on `GET`/`DELETE` of one key `all` means system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeFilter {
    System,
    User,
    All,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::System => SYSTEM,
            Scope::User => USER,
        }
    }
}

/// StackStorm's normalisation: a string containing `st2kv` is kept, anything else gets the
/// `st2kv.` prefix (`foo` → `st2kv.foo`).
pub fn normalize(s: &str) -> String {
    if s.contains("st2kv") {
        s.to_string()
    } else {
        format!("st2kv.{s}")
    }
}

fn not_allowed(normalized: &str) -> Error {
    Error::InvalidScope(format!(
        "Scope {normalized} is not in allowed scopes list: ['st2kv.system', 'st2kv.user', 'st2kv.all']."
    ))
}

impl ScopeFilter {
    /// Parse a scope parameter (`None`/empty = system).
    pub fn parse(s: Option<&str>) -> Result<ScopeFilter, Error> {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return Ok(ScopeFilter::System);
        };
        match normalize(s).as_str() {
            SYSTEM => Ok(ScopeFilter::System),
            USER => Ok(ScopeFilter::User),
            ALL => Ok(ScopeFilter::All),
            other => Err(not_allowed(other)),
        }
    }

    /// The list endpoint's own message for an unknown scope.
    pub fn parse_for_list(s: Option<&str>) -> Result<ScopeFilter, Error> {
        ScopeFilter::parse(s).map_err(|_| {
            Error::InvalidScope(format!(
                "Invalid scope: {}",
                normalize(s.unwrap_or_default())
            ))
        })
    }

    /// The scope of one pair for `GET`/`DELETE` (`all` reads as system).
    pub fn single(self) -> Scope {
        match self {
            ScopeFilter::User => Scope::User,
            ScopeFilter::System | ScopeFilter::All => Scope::System,
        }
    }
}

impl Scope {
    /// Parse the scope of a `PUT` body: `all` is refused.
    pub fn parse_for_write(s: Option<&str>) -> Result<Scope, Error> {
        match ScopeFilter::parse(s)? {
            ScopeFilter::System => Ok(Scope::System),
            ScopeFilter::User => Ok(Scope::User),
            ScopeFilter::All => Err(Error::InvalidScope(format!(
                "Scope {ALL} is not in allowed scopes list: ['st2kv.system', 'st2kv.user']."
            ))),
        }
    }
}

/// The stored name: user-scope names carry the owner.
pub fn stored_name(scope: Scope, name: &str, user: &str) -> String {
    match scope {
        Scope::System => name.to_string(),
        Scope::User => format!("{user}:{name}"),
    }
}

/// Split a stored user-scope name into `(user, name)` at the first `:`.
pub fn split_user(stored: &str) -> (Option<&str>, &str) {
    match stored.split_once(':') {
        Some((u, n)) => (Some(u), n),
        None => (None, stored),
    }
}

/// `st2kv('system.x')` / `st2kv.user.x` keys as the expression provider receives them: `system.`
/// selects the system scope; `user.` or no prefix selects the user scope (StackStorm's
/// `st2kv()` function treats a bare key as a user key).
pub fn expression_key(key: &str, user: &str) -> (Scope, String) {
    if let Some(rest) = key.strip_prefix("system.") {
        (Scope::System, rest.to_string())
    } else {
        let rest = key.strip_prefix("user.").unwrap_or(key);
        (Scope::User, stored_name(Scope::User, rest, user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(ScopeFilter::parse(None).unwrap(), ScopeFilter::System);
        assert_eq!(ScopeFilter::parse(Some("")).unwrap(), ScopeFilter::System);
        assert_eq!(
            ScopeFilter::parse(Some("system")).unwrap(),
            ScopeFilter::System
        );
        assert_eq!(
            ScopeFilter::parse(Some("st2kv.user")).unwrap(),
            ScopeFilter::User
        );
        assert_eq!(ScopeFilter::parse(Some("all")).unwrap(), ScopeFilter::All);
        let e = ScopeFilter::parse(Some("foo")).unwrap_err().to_string();
        assert!(
            e.starts_with("Scope st2kv.foo is not in allowed scopes list"),
            "{e}"
        );
        let e = ScopeFilter::parse_for_list(Some("foo"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "Invalid scope: st2kv.foo");
        assert!(Scope::parse_for_write(Some("all")).is_err());
        assert_eq!(Scope::parse_for_write(Some("user")).unwrap(), Scope::User);
        assert_eq!(ScopeFilter::All.single(), Scope::System);
    }

    #[test]
    fn names() {
        assert_eq!(stored_name(Scope::User, "a.b", "bob"), "bob:a.b");
        assert_eq!(stored_name(Scope::System, "a:b", "bob"), "a:b");
        assert_eq!(
            split_user("bob:pack.Sensor:x"),
            (Some("bob"), "pack.Sensor:x")
        );
        assert_eq!(
            expression_key("system.a.b", "u"),
            (Scope::System, "a.b".into())
        );
        assert_eq!(expression_key("user.k", "u"), (Scope::User, "u:k".into()));
        assert_eq!(expression_key("k", "u"), (Scope::User, "u:k".into()));
    }
}

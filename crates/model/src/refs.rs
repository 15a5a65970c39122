//! Refs are `<pack>.<name>`; the pack is everything before the first dot (names may contain
//! dots, e.g. `slack.chat.postMessage`).

use crate::Error;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    pub pack: String,
    pub name: String,
}

impl ResourceRef {
    pub fn new(pack: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            pack: pack.into(),
            name: name.into(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.split_once('.') {
            Some((p, n)) if !p.is_empty() && !n.is_empty() => Ok(Self::new(p, n)),
            _ => Err(Error::InvalidRef(s.to_string())),
        }
    }

    /// StackStorm uid, e.g. `action:core:local`.
    pub fn uid(&self, kind: &str) -> String {
        format!("{kind}:{}:{}", self.pack, self.name)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.pack, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_first_dot() {
        let r = ResourceRef::parse("slack.chat.postMessage").unwrap();
        assert_eq!(r.pack, "slack");
        assert_eq!(r.name, "chat.postMessage");
        assert_eq!(r.to_string(), "slack.chat.postMessage");
        assert_eq!(r.uid("action"), "action:slack:chat.postMessage");
        assert!(ResourceRef::parse("nodot").is_err());
        assert!(ResourceRef::parse(".x").is_err());
        assert!(ResourceRef::parse("x.").is_err());
    }
}

//! The subset of python-semver 3 (`semver.Version`) that StackStorm's version functions use.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Option<String>,
    pub build: Option<String>,
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Version {
    /// `Version.parse`: errors are python-semver's `ValueError` text.
    pub fn parse(text: &str) -> Result<Version, String> {
        let err = || format!("ValueError: {text} is not valid SemVer string");
        let (rest, build) = match text.split_once('+') {
            Some((a, b)) => (a, Some(b.to_string())),
            None => (text, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((a, b)) => (a, Some(b.to_string())),
            None => (rest, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err(err());
        }
        let major = num(parts[0]).ok_or_else(err)?;
        let minor = num(parts[1]).ok_or_else(err)?;
        let patch = num(parts[2]).ok_or_else(err)?;
        if pre.as_deref().is_some_and(|p| !ident_ok(p))
            || build.as_deref().is_some_and(|b| !ident_ok(b))
        {
            return Err(err());
        }
        Ok(Version {
            major,
            minor,
            patch,
            prerelease: pre,
            build,
        })
    }

    /// Precedence ordering (build metadata ignored).
    pub fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.prerelease, &other.prerelease) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => cmp_prerelease(a, b),
            })
    }

    /// `Version.match("<op><version>")`.
    pub fn matches(&self, expr: &str) -> Result<bool, String> {
        let (op, rest) = if let Some(p) = ["==", "!=", ">=", "<="]
            .iter()
            .find(|p| expr.starts_with(**p))
        {
            (*p, &expr[2..])
        } else if expr.starts_with('>') || expr.starts_with('<') {
            (&expr[..1], &expr[1..])
        } else if expr.starts_with(|c: char| c.is_ascii_digit()) {
            ("==", expr)
        } else {
            return Err(format!(
                "ValueError: match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', '>=', '!=']. You provided: '{expr}'"
            ));
        };
        let other = Version::parse(rest)?;
        let c = self.compare(&other);
        Ok(match op {
            "==" => c == Ordering::Equal,
            "!=" => c != Ordering::Equal,
            ">=" => c != Ordering::Less,
            "<=" => c != Ordering::Greater,
            ">" => c == Ordering::Greater,
            _ => c == Ordering::Less,
        })
    }

    pub fn bump_major(&self) -> Version {
        Version {
            major: self.major + 1,
            minor: 0,
            patch: 0,
            prerelease: None,
            build: None,
        }
    }
    pub fn bump_minor(&self) -> Version {
        Version {
            major: self.major,
            minor: self.minor + 1,
            patch: 0,
            prerelease: None,
            build: None,
        }
    }
    pub fn bump_patch(&self) -> Version {
        Version {
            major: self.major,
            minor: self.minor,
            patch: self.patch + 1,
            prerelease: None,
            build: None,
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.prerelease {
            write!(f, "-{p}")?;
        }
        if let Some(b) = &self.build {
            write!(f, "+{b}")?;
        }
        Ok(())
    }
}

fn cmp_prerelease(a: &str, b: &str) -> Ordering {
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let c = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(n), Ok(m)) => n.cmp(&m),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if c != Ordering::Equal {
                    return c;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn ordering() {
        assert_eq!(v("1.2.3").compare(&v("1.10.0")), Ordering::Less);
        assert_eq!(v("2.0.0").compare(&v("2.0.0-rc.1")), Ordering::Greater);
        assert_eq!(
            v("1.0.0-alpha").compare(&v("1.0.0-alpha.1")),
            Ordering::Less
        );
        assert_eq!(
            v("1.0.0-alpha.beta").compare(&v("1.0.0-beta")),
            Ordering::Less
        );
        assert_eq!(v("1.0.0-2").compare(&v("1.0.0-11")), Ordering::Less);
        assert_eq!(v("1.0.0").compare(&v("1.0.0+build.5")), Ordering::Equal);
    }

    #[test]
    fn parse_errors_and_bumps() {
        assert!(Version::parse("1.2").is_err());
        assert!(Version::parse("01.2.3").is_err());
        assert!(Version::parse("1.2.3-").is_err());
        assert_eq!(v("1.2.3-rc.1").bump_patch().to_string(), "1.2.4");
        assert_eq!(v("1.2.3").bump_minor().to_string(), "1.3.0");
        assert_eq!(v("1.2.3+b").bump_major().to_string(), "2.0.0");
        assert_eq!(v("1.2.3-rc.1+b.2").to_string(), "1.2.3-rc.1+b.2");
    }

    #[test]
    fn matching() {
        assert!(v("2.3.4").matches(">=2.0.0").unwrap());
        assert!(!v("2.3.4").matches("<2.3.4").unwrap());
        assert!(v("2.3.4").matches("2.3.4").unwrap());
        assert!(v("2.3.4").matches("!=2.3.5").unwrap());
        assert!(v("2.3.4").matches("~2.3.4").is_err());
    }
}

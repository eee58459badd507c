//! The process environment as dops reads it, without ever panicking on bytes that are not UTF-8
//! (`std::env::vars()` and `var()` would). A leaf: used by the command edge, the engine, dops-init
//! and the DNS server's configuration.
//!
//! The rule: a variable dops does not read is none of its business, whatever its bytes; a
//! variable dops reads and cannot decode is an error naming it, never a silent "unset".

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// A variable dops reads whose value is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} is not valid UTF-8: {shown}\nhint: set it to UTF-8 text, or unset it")]
pub struct NotUtf8 {
    pub name: String,
    /// The value, bytes that are not printable ASCII escaped (`"\xff"`).
    pub shown: String,
}

/// The variables dops itself reads on the host before anything else: checked once at the start
/// of every command, so a broken one is refused instead of being taken as unset.
pub const OWN: &[&str] = &[
    "DATA_DIR",
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_TLS",
    "DOCKER_CERT_PATH",
    "DOCKER_CONFIG",
    "DOCKER_CONTEXT",
    "DOPS_LOG",
];

/// Bytes as a quoted string, what is not printable ASCII escaped (`"a\xffb"`).
pub fn escaped(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

/// The value of `name`: None when unset, an error when set but not UTF-8.
pub fn var(name: &str) -> Result<Option<String>, NotUtf8> {
    decode(name, std::env::var_os(name).as_deref())
}

fn decode(name: &str, value: Option<&OsStr>) -> Result<Option<String>, NotUtf8> {
    match value {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(NotUtf8 {
                name: name.to_string(),
                shown: escaped(v.as_bytes()),
            }),
        },
    }
}

/// Check that each of `names` is unset or UTF-8.
pub fn check(names: &[&str]) -> Result<(), NotUtf8> {
    names.iter().try_for_each(|n| var(n).map(drop))
}

/// The whole environment, split: the variables that decode, and the (UTF-8) names of those whose
/// value does not. A variable whose very name is not UTF-8 cannot be named in a dops file: it is
/// left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub vars: BTreeMap<String, String>,
    pub not_utf8: BTreeSet<String>,
}

impl Snapshot {
    pub fn capture() -> Snapshot {
        Snapshot::of(std::env::vars_os())
    }

    /// The snapshot of these (name, value) pairs (tests, fuzzing).
    pub fn of<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Snapshot {
        let mut s = Snapshot::default();
        for (k, v) in vars {
            let Some(name) = k.as_ref().to_str() else {
                continue;
            };
            match v.as_ref().to_str() {
                Some(value) => {
                    s.vars.insert(name.to_string(), value.to_string());
                }
                None => {
                    s.not_utf8.insert(name.to_string());
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn not_utf8_values_are_named_and_escaped() {
        let bad = OsString::from_vec(b"a\xffb".to_vec());
        let e = decode("DATA_DIR", Some(&bad)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable DATA_DIR is not valid UTF-8: \"a\\xffb\"\nhint: set it to UTF-8 text, or unset it"
        );
        assert_eq!(decode("X", None), Ok(None));
        assert_eq!(
            decode("X", Some(OsStr::new("é"))),
            Ok(Some("é".to_string()))
        );
    }

    #[test]
    fn a_snapshot_sets_aside_what_does_not_decode() {
        let s = Snapshot::of([
            (OsString::from("A"), OsString::from("1")),
            (OsString::from("B"), OsString::from_vec(vec![0xff])),
            (OsString::from_vec(vec![0xfe]), OsString::from("x")),
        ]);
        assert_eq!(s.vars.len(), 1);
        assert_eq!(s.vars["A"], "1");
        assert!(s.not_utf8.contains("B"));
        assert_eq!(s.not_utf8.len(), 1);
    }
}

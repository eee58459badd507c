//! The project's TSIG key: generated on first use, stored in `<project>/.dops/dns.key` (mode 0600,
//! the folder gitignored), handed to the project's instances as `DNS_KEY`.
//!
//! The text form (file content and `DNS_KEY`) is the one `nsupdate -y` takes:
//! `hmac-sha256:<keyname>:<base64 secret>`.
//!
//! A leaf shared by the host side (commands), dops-init (which signs its updates) and the edge
//! that starts the DNS server; the server itself (`dns`) only sees a name and a secret.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::Name;
use hickory_proto::rr::TSigner;
use rand::RngCore as _;

/// A key that can't be parsed, or its file can't be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid dns key: {why} (hint: the form is hmac-sha256:<name>:<base64 secret>)")]
    BadKey { why: String },
    #[error("invalid dns key file {path}: {why} (hint: delete it to generate a new key)")]
    BadKeyFile { path: PathBuf, why: String },
    #[error("cannot access dns key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The only algorithm dops speaks.
pub const ALGORITHM: &str = "hmac-sha256";
/// Key name used for generated keys.
pub const DEFAULT_KEY_NAME: &str = "dops-key";
/// Largest clock difference (seconds) a signer announces (TSIG "fudge").
pub const FUDGE: u16 = 300;

/// A shared-secret TSIG key (hmac-sha256).
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// Key name, as a DNS name without the trailing dot (e.g. `dops-key`).
    pub name: String,
    /// The raw secret bytes.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl TsigKey {
    /// A new random 256-bit key.
    pub fn generate(name: &str) -> TsigKey {
        let mut secret = vec![0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        TsigKey {
            name: name.trim_end_matches('.').to_ascii_lowercase(),
            secret,
        }
    }

    /// `hmac-sha256:<name>:<base64 secret>`: the `DNS_KEY` form, also what `nsupdate -y` takes.
    pub fn to_env(&self) -> String {
        format!("{ALGORITHM}:{}:{}", self.name, B64.encode(&self.secret))
    }

    /// Parse `hmac-sha256:<name>:<base64>` (or `<name>:<base64>`, hmac-sha256 implied).
    pub fn parse(text: &str) -> Result<TsigKey, KeyError> {
        let text = text.trim();
        let bad = |why: &str| KeyError::BadKey {
            why: why.to_string(),
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (alg, name, secret) = match parts.as_slice() {
            [alg, name, secret] => (*alg, *name, *secret),
            [name, secret] => (ALGORITHM, *name, *secret),
            _ => return Err(bad("expected hmac-sha256:<name>:<base64 secret>")),
        };
        if !alg.eq_ignore_ascii_case(ALGORITHM) {
            return Err(bad(&format!(
                "unsupported algorithm {alg:?}: only hmac-sha256"
            )));
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || Name::from_ascii(&name).is_err() {
            return Err(bad(&format!("invalid key name {name:?}")));
        }
        let secret = B64
            .decode(secret)
            .map_err(|e| bad(&format!("secret is not base64: {e}")))?;
        if secret.len() < 16 {
            return Err(bad("secret shorter than 16 bytes"));
        }
        Ok(TsigKey { name, secret })
    }

    /// The key name as a fully qualified DNS name.
    pub fn dns_name(&self) -> Name {
        let mut n = Name::from_ascii(&self.name).unwrap_or_else(|_| Name::root());
        n.set_fqdn(true);
        n
    }

    /// A hickory signer for this key.
    pub fn signer(&self) -> Result<TSigner, KeyError> {
        TSigner::new(
            self.secret.clone(),
            TsigAlgorithm::HmacSha256,
            self.dns_name(),
            FUDGE,
        )
        .map_err(|e| KeyError::BadKey { why: e.to_string() })
    }
}

/// Where a project keeps its key.
pub fn key_path(project_dir: &Path) -> PathBuf {
    project_dir.join(".dops").join("dns.key")
}

/// The project's key for a plan, without creating one: None when there is no key file yet.
pub fn load(project_dir: &Path) -> Result<Option<TsigKey>, KeyError> {
    let path = key_path(project_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => TsigKey::parse(&text).map(Some).map_err(|e| match e {
            KeyError::BadKey { why } => KeyError::BadKeyFile { path, why },
            other => other,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeyError::KeyFile { path, source: e }),
    }
}

/// Load the project's key, creating it (mode 0600, `.dops/.gitignore` = `*`) on first use.
pub fn load_or_create(project_dir: &Path) -> Result<TsigKey, KeyError> {
    let dir = project_dir.join(".dops");
    let path = key_path(project_dir);
    let io = |path: &Path, e: std::io::Error| KeyError::KeyFile {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n").map_err(|e| io(&ignore, e))?;
    }
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            // Tighten permissions if someone loosened them.
            let meta = std::fs::metadata(&path).map_err(|e| io(&path, e))?;
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| io(&path, e))?;
            }
            TsigKey::parse(&text).map_err(|e| match e {
                KeyError::BadKey { why } => KeyError::BadKeyFile { path, why },
                other => other,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = TsigKey::generate(DEFAULT_KEY_NAME);
            let tmp = dir.join(".dns.key.tmp");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io(&tmp, e))?;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(&tmp, e))?;
            writeln!(f, "{}", key.to_env()).map_err(|e| io(&tmp, e))?;
            f.sync_all().map_err(|e| io(&tmp, e))?;
            drop(f);
            std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
            Ok(key)
        }
        Err(e) => Err(io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_form_round_trips() {
        let k = TsigKey::generate("dops-key");
        let text = k.to_env();
        assert!(text.starts_with("hmac-sha256:dops-key:"));
        assert_eq!(TsigKey::parse(&text).unwrap(), k);
        let short = text.trim_start_matches("hmac-sha256:");
        assert_eq!(TsigKey::parse(short).unwrap(), k);
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(TsigKey::parse("hmac-md5:k:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
        assert!(TsigKey::parse("hmac-sha256:k:not base64!").is_err());
        assert!(TsigKey::parse("hmac-sha256:k:AAAA").is_err());
        assert!(TsigKey::parse("justonepart").is_err());
        assert!(format!("{:?}", TsigKey::generate("x")).contains("redacted"));
    }

    #[test]
    fn load_or_create_is_stable_and_private() {
        let tmp = tempfile::tempdir().unwrap();
        let a = load_or_create(tmp.path()).unwrap();
        let b = load_or_create(tmp.path()).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(key_path(tmp.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let ignore = std::fs::read_to_string(tmp.path().join(".dops/.gitignore")).unwrap();
        assert_eq!(ignore.trim(), "*");
    }
}

//! The project's TSIG key and the keys derived from it for each instance.
//!
//! The **project key** is generated on first use and stored in `<project>/.dops/dns.key` (mode
//! 0600, the folder gitignored). It has every right on the zone: the DNS server and the host-side
//! tools (`nsupdate -y`, `dops dns:records --server`) use it.
//!
//! Every **instance key** is derived from it, so nothing but the project key is ever stored:
//!
//! - key name: `<service>.<instance>.<policy>.<project key name>`, e.g.
//!   `web.one.append.dops-key` (lowercase; `policy` is `append`, `replace` or `hide`, the
//!   instance's `DNS_UPDATE_POLICY`);
//! - secret: `HMAC-SHA256(project secret, "dops-instance-key-v1:" + key name)`.
//!
//! The key name is the whole identity: the server parses it back ([`credential`]) to know which
//! names the key may change, and recomputes the secret, so a key claiming another service,
//! instance or policy has another secret. The host writes an instance's key into its run folder
//! (`<project>/.dops/run/<service>-<instance>/dns.key`, mode 0400, [`write_key_file`]), which the
//! engine bind-mounts at `/run/dops`: dops-init reads it from `DNS_KEY_FILE`, never from the
//! environment.
//!
//! The text form (file content) is the one `nsupdate -y` takes: `hmac-sha256:<keyname>:<base64>`.
//!
//! A leaf shared by the host side (plan, engine, commands), dops-init (which signs its updates)
//! and the edge that starts the DNS server; the server itself (`dns`) only sees names, secrets
//! and scopes.

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
/// The key file's name in an instance's run folder (`/run/dops` in the container).
pub const KEY_FILE_NAME: &str = "dns.key";
/// What is mixed with the key name to derive an instance's secret (versioned: a new scheme gets a
/// new prefix, so old and new keys never collide).
const DERIVATION_PREFIX: &str = "dops-instance-key-v1:";

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

/// How an instance registers its service name (`DNS_UPDATE_POLICY`); it bounds what its key may
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdatePolicy {
    /// Join the service's round-robin set.
    Append,
    /// Be the only address of the service name (hot swap).
    Replace,
    /// Never register.
    Hide,
}

impl UpdatePolicy {
    /// The key-name label: `append`, `replace`, `hide`.
    pub fn label(self) -> &'static str {
        match self {
            UpdatePolicy::Append => "append",
            UpdatePolicy::Replace => "replace",
            UpdatePolicy::Hide => "hide",
        }
    }

    /// `APPEND`, `REPLACE`, `HIDE` in any case (surrounding blanks ignored); `None` otherwise.
    pub fn parse(text: &str) -> Option<UpdatePolicy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "append" => Some(UpdatePolicy::Append),
            "replace" => Some(UpdatePolicy::Replace),
            "hide" => Some(UpdatePolicy::Hide),
            _ => None,
        }
    }
}

/// Whom an instance key belongs to: what its key name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    /// Lowercase, as in the instance's DNS names.
    pub service: String,
    /// Lowercase, as in the instance's DNS names.
    pub instance: String,
    pub policy: UpdatePolicy,
}

impl InstanceIdentity {
    pub fn new(service: &str, instance: &str, policy: UpdatePolicy) -> InstanceIdentity {
        InstanceIdentity {
            service: service.to_ascii_lowercase(),
            instance: instance.to_ascii_lowercase(),
            policy,
        }
    }

    /// `<service>.<instance>.<policy>.<base>` (each of service and instance one label, escaped
    /// if needed), lowercase, without the trailing dot.
    pub fn key_name(&self, base: &str) -> Result<String, KeyError> {
        let bad = |why: String| KeyError::BadKey { why };
        let base = Name::from_ascii(base.trim_end_matches('.'))
            .map_err(|e| bad(format!("invalid key name {base:?}: {e}")))?;
        let mut labels: Vec<Vec<u8>> = vec![
            self.service.as_bytes().to_vec(),
            self.instance.as_bytes().to_vec(),
            self.policy.label().as_bytes().to_vec(),
        ];
        labels.extend(base.iter().map(|l| l.to_ascii_lowercase()));
        let name = Name::from_labels(labels).map_err(|e| {
            bad(format!(
                "no key name for {}-{}: {e}",
                self.service, self.instance
            ))
        })?;
        Ok(name.to_ascii().trim_end_matches('.').to_ascii_lowercase())
    }

    /// The identity an instance key name stands for, when it is one made from `base`.
    pub fn from_key_name(key_name: &str, base: &str) -> Option<InstanceIdentity> {
        let name = Name::from_ascii(key_name.trim_end_matches('.')).ok()?;
        let base = Name::from_ascii(base.trim_end_matches('.')).ok()?;
        let labels: Vec<&[u8]> = name.iter().collect();
        let base_labels: Vec<&[u8]> = base.iter().collect();
        if labels.len() != base_labels.len() + 3
            || !labels[3..]
                .iter()
                .zip(&base_labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
        {
            return None;
        }
        let text = |l: &[u8]| {
            std::str::from_utf8(l)
                .ok()
                .filter(|s| !s.is_empty())
                .map(str::to_ascii_lowercase)
        };
        let id = InstanceIdentity {
            service: text(labels[0])?,
            instance: text(labels[1])?,
            policy: UpdatePolicy::parse(std::str::from_utf8(labels[2]).ok()?)?,
        };
        // Only the canonical spelling is a key name dops made.
        (id.key_name(&base.to_ascii()).ok()? == key_name.trim_end_matches('.').to_ascii_lowercase())
            .then_some(id)
    }
}

/// The key of one instance: its key name and `HMAC-SHA256(project secret, prefix + key name)`.
pub fn instance_key(project: &TsigKey, id: &InstanceIdentity) -> Result<TsigKey, KeyError> {
    let name = id.key_name(&project.name)?;
    Ok(TsigKey {
        secret: derive_secret(&project.secret, &name),
        name,
    })
}

fn derive_secret(project_secret: &[u8], key_name: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, project_secret);
    let input = format!("{DERIVATION_PREFIX}{key_name}");
    ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
}

/// What a key name presented to the DNS server stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The project key: every right on the zone.
    Project,
    /// An instance key: only that instance's names.
    Instance(InstanceIdentity),
}

/// The secret and the holder of `key_name` (as sent in a TSIG record), when it is the project key
/// or an instance key derived from it; `None` for any other name.
pub fn credential(project: &TsigKey, key_name: &str) -> Option<(Vec<u8>, Holder)> {
    let wanted = key_name.trim_end_matches('.').to_ascii_lowercase();
    if wanted == project.name {
        return Some((project.secret.clone(), Holder::Project));
    }
    let id = InstanceIdentity::from_key_name(&wanted, &project.name)?;
    Some((
        derive_secret(&project.secret, &wanted),
        Holder::Instance(id),
    ))
}

/// Write `key` (the `nsupdate -y` form) to `path`, mode 0400, atomically (a temporary file in
/// the same folder, then renamed over the old one, which may be read-only or owned by root).
pub fn write_key_file(path: &Path, key: &TsigKey) -> Result<(), KeyError> {
    let io = |p: &Path, e: std::io::Error| KeyError::KeyFile {
        path: p.to_path_buf(),
        source: e,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| KEY_FILE_NAME.to_string())
    ));
    // A temporary file left by an interrupted write is read-only: remove it first.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&tmp, e)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o400))
        .map_err(|e| io(&tmp, e))?;
    writeln!(f, "{}", key.to_env()).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// Read a key file (`DNS_KEY_FILE`).
pub fn read_key_file(path: &Path) -> Result<TsigKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::KeyFile {
        path: path.to_path_buf(),
        source: e,
    })?;
    TsigKey::parse(&text).map_err(|e| match e {
        KeyError::BadKey { why } => KeyError::BadKeyFile {
            path: path.to_path_buf(),
            why,
        },
        other => other,
    })
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
    fn instance_keys_are_derived_and_parsed_back() {
        let project = TsigKey::generate("dops-key");
        let id = InstanceIdentity::new("Web", "one", UpdatePolicy::Append);
        let k = instance_key(&project, &id).unwrap();
        assert_eq!(k.name, "web.one.append.dops-key");
        assert_eq!(k.secret.len(), 32);
        assert_ne!(k.secret, project.secret);
        // deterministic, and another identity (even only the policy) gives another secret
        assert_eq!(instance_key(&project, &id).unwrap(), k);
        let replace = InstanceIdentity::new("web", "one", UpdatePolicy::Replace);
        assert_ne!(instance_key(&project, &replace).unwrap().secret, k.secret);
        let other = TsigKey::generate("dops-key");
        assert_ne!(instance_key(&other, &id).unwrap().secret, k.secret);
        // the server side finds the same secret and identity from the name alone
        assert_eq!(
            credential(&project, "WEB.one.append.dops-key."),
            Some((k.secret.clone(), Holder::Instance(id.clone())))
        );
        assert_eq!(
            credential(&project, "dops-key"),
            Some((project.secret.clone(), Holder::Project))
        );
        for stranger in [
            "web.one.sometimes.dops-key",
            "web.one.append.other-key",
            "one.append.dops-key",
            "x.web.one.append.dops-key",
            "stranger",
        ] {
            assert_eq!(credential(&project, stranger), None, "{stranger}");
        }
        // the file form is what nsupdate -y takes, and round-trips
        assert_eq!(TsigKey::parse(&k.to_env()).unwrap(), k);
        // names with a dot or an underscore stay one label each
        let odd = InstanceIdentity::new("my.svc", "a_1", UpdatePolicy::Hide);
        let ko = instance_key(&project, &odd).unwrap();
        assert_eq!(ko.name, "my\\.svc.a_1.hide.dops-key");
        assert_eq!(
            credential(&project, &ko.name),
            Some((ko.secret.clone(), Holder::Instance(odd)))
        );
    }

    #[test]
    fn key_files_are_read_only_and_replaced_atomically() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(KEY_FILE_NAME);
        let a = TsigKey::generate("a.dops-key");
        write_key_file(&path, &a).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o400);
        assert_eq!(read_key_file(&path).unwrap(), a);
        let b = TsigKey::generate("b.dops-key");
        write_key_file(&path, &b).unwrap();
        assert_eq!(read_key_file(&path).unwrap(), b);
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        let e = read_key_file(&tmp.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
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

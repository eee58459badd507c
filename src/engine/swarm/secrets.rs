//! An instance's DNS key on a swarm: a Docker secret, since no host folder reaches a node.
//!
//! The secret holds the key file's text (what the local engine writes into the run folder),
//! is named `<service name>-dnskey-<hash of the key>` (secrets are immutable: a new key is a new
//! secret), labelled with the instance's service (`io.dops.key_of`), and mounted in the task at
//! the plan's path (`/run/dops/dns.key`, `DNS_KEY_FILE`), owned by root, mode 0400. Secrets of an
//! instance other than the one its service uses go once a roll-out succeeded, all of them with the
//! service.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use bollard::models::{SecretSpec, TaskSpecContainerSpecFile, TaskSpecContainerSpecSecrets};
use bollard::query_parameters::ListSecretsOptions;

use super::target::Swarm;
use crate::engine::error::{is_not_found, EngineError};
use crate::labels;
use crate::plan::{short_hash, ContainerSpec};

/// Docker's limit on a secret's name.
const NAME_MAX: usize = 64;
const MARK: &str = "-dnskey-";

/// The secret a task mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySecret {
    pub id: String,
    pub name: String,
    /// Where the task reads it.
    pub target: String,
}

/// The key file's text, as the local engine writes it.
fn content(spec: &ContainerSpec) -> Option<String> {
    spec.dns_key
        .as_ref()
        .map(|k| format!("{}\n", k.key.to_env()))
}

/// `<service name>-dnskey-<16 hex of SHA-256 of the content>`, the service name cut so that the
/// whole stays within Docker's 64 characters.
pub fn secret_name(service: &str, content: &str) -> String {
    let hash = short_hash(content);
    let room = NAME_MAX - MARK.len() - hash.len();
    let mut prefix: String = service.chars().take(room).collect();
    // A name ends with a letter or digit before the mark; cut names never end with `-`, `_`, `.`.
    while prefix.ends_with(['-', '_', '.']) {
        prefix.pop();
    }
    format!("{prefix}{MARK}{hash}")
}

/// The task's reference to the secret: root's, mode 0400, at the plan's path.
pub fn reference(secret: &KeySecret) -> TaskSpecContainerSpecSecrets {
    TaskSpecContainerSpecSecrets {
        file: Some(TaskSpecContainerSpecFile {
            name: Some(secret.target.clone()),
            uid: Some("0".into()),
            gid: Some("0".into()),
            mode: Some(0o400),
        }),
        secret_id: Some(secret.id.clone()),
        secret_name: Some(secret.name.clone()),
    }
}

/// The secret of `spec`'s key, created unless it exists (same name, same content); None when the
/// spec has no key.
pub async fn ensure(swarm: &Swarm, spec: &ContainerSpec) -> Result<Option<KeySecret>, EngineError> {
    let (Some(k), Some(text)) = (&spec.dns_key, content(spec)) else {
        return Ok(None);
    };
    let name = secret_name(&spec.name, &text);
    let api = swarm.manager.api();
    let found = |id: String| KeySecret {
        id,
        name: name.clone(),
        target: k.container.clone(),
    };
    match api.inspect_secret(&name).await {
        Ok(s) => return Ok(Some(found(s.id.unwrap_or_default()))),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(EngineError::docker(format!("inspect secret {name}"), e)),
    }
    let mut secret_labels: HashMap<String, String> = HashMap::new();
    if let Some(p) = spec.labels.get(labels::PROJECT) {
        secret_labels.insert(labels::PROJECT.into(), p.clone());
    }
    secret_labels.insert(labels::KEY_OF.into(), spec.name.clone());
    let body = SecretSpec {
        name: Some(name.clone()),
        labels: Some(secret_labels),
        data: Some(base64::engine::general_purpose::STANDARD.encode(text)),
        ..Default::default()
    };
    match api.create_secret(body).await {
        Ok(r) => Ok(Some(found(r.id))),
        // Created meanwhile (by another dops): the same name is the same content.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => {
            let s = api
                .inspect_secret(&name)
                .await
                .map_err(|e| EngineError::docker(format!("inspect secret {name}"), e))?;
            Ok(Some(found(s.id.unwrap_or_default())))
        }
        Err(e) => Err(EngineError::docker(format!("create secret {name}"), e)),
    }
}

/// Remove the key secrets of `service` but `keep`. A secret still in use (a service being
/// removed, a roll-out that went back to it) is retried a few seconds, then left for the next
/// run; the ones removed.
pub async fn prune(
    swarm: &Swarm,
    service: &str,
    keep: Option<&str>,
) -> Result<Vec<String>, EngineError> {
    let api = swarm.manager.api();
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={service}", labels::KEY_OF)],
    )]);
    let list = api
        .list_secrets(Some(ListSecretsOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| EngineError::docker(format!("list the secrets of {service}"), e))?;
    let mut gone = Vec::new();
    for s in list {
        let name = s.spec.and_then(|sp| sp.name).unwrap_or_default();
        let Some(id) = s.id else { continue };
        if keep == Some(name.as_str()) {
            continue;
        }
        for attempt in 0..10 {
            match api.delete_secret(&id).await {
                Ok(()) => {
                    gone.push(name.clone());
                    break;
                }
                Err(e) if is_not_found(&e) => break,
                // In use: the service (or its task) is still going away.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 400 | 409 | 500,
                    ..
                }) if attempt < 9 => tokio::time::sleep(Duration::from_millis(300)).await,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 400 | 409 | 500,
                    ..
                }) => break,
                Err(e) => return Err(EngineError::docker(format!("remove secret {name}"), e)),
            }
        }
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_valid_and_follow_the_content() {
        let a = secret_name("demo-web-one", "hmac-sha256:k:AAAA\n");
        let b = secret_name("demo-web-one", "hmac-sha256:k:BBBB\n");
        assert!(a.starts_with("demo-web-one-dnskey-"), "{a}");
        assert_ne!(a, b, "a new key is a new secret");
        assert_eq!(a, secret_name("demo-web-one", "hmac-sha256:k:AAAA\n"));
        let long = secret_name(&format!("{}-x", "p".repeat(70)), "k");
        assert_eq!(long.len(), NAME_MAX, "{long}");
        let cut = secret_name(&format!("{}-{}", "a".repeat(39), "b".repeat(30)), "k");
        assert!(cut.len() <= NAME_MAX && !cut.contains("--"), "{cut}");
    }

    #[test]
    fn the_reference_is_roots_and_0400() {
        let r = reference(&KeySecret {
            id: "abc".into(),
            name: "demo-web-one-dnskey-1".into(),
            target: "/run/dops/dns.key".into(),
        });
        let f = r.file.unwrap();
        assert_eq!(f.name.as_deref(), Some("/run/dops/dns.key"));
        assert_eq!((f.uid.as_deref(), f.gid.as_deref()), (Some("0"), Some("0")));
        assert_eq!(f.mode, Some(0o400));
        assert_eq!(r.secret_id.as_deref(), Some("abc"));
    }
}

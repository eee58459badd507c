//! The desired state of one container, as dops records it on the container it creates (label
//! `io.dops.desired`, its hash in `io.dops.fingerprint`), and the differences between two of them
//! in words: the reasons of a replacement.
//!
//! Values are recorded as applied: the address a link resolved to, not the symbol. Secrets never
//! reach a label: the value of a variable whose name says it is secret is recorded as a hash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::step::{ContainerSpec, Reason};
use crate::project::env::EnvValue;
use crate::state_file::RUN_DIR_IN_CONTAINER;

/// Everything that defines a container, besides the image it was created from (that is compared
/// with the image id Docker reports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Desired {
    pub image: String,
    pub hostname: String,
    pub instance_type: String,
    /// The network's name, or `host`.
    pub network: String,
    pub env: BTreeMap<String, String>,
    /// `host:container[:ro]`, the run folder left out (it changes with every container).
    pub mounts: Vec<String>,
    /// `ip:host_port->port/proto`.
    pub ports: Vec<String>,
    /// `server zone`.
    pub dns: Option<String>,
    pub interactive: bool,
    pub safemode: bool,
    pub extra_args: Vec<String>,
    pub restart: String,
    pub log_opts: BTreeMap<String, String>,
    /// On a swarm: the placement constraints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement: Vec<String>,
}

/// A variable whose value must not be shown or recorded.
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n == "DNS_KEY"
        || n.ends_with("_KEY")
        || ["PASSWORD", "SECRET", "TOKEN", "PASSWD"]
            .iter()
            .any(|w| n.contains(w))
}

/// A short stable hash (hex) of some text: SHA-256, first 16 hex digits.
pub fn short_hash(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Desired {
    /// The desired state of a spec; `value` gives each variable's value (the engine: the address
    /// it resolved; the planner: what it expects).
    pub fn of(spec: &ContainerSpec, value: &dyn Fn(&EnvValue) -> String) -> Desired {
        let env = spec
            .env
            .iter()
            .map(|v| {
                let val = value(&v.value);
                let val = if is_secret(&v.name) {
                    format!("sha256:{}", short_hash(&val))
                } else {
                    val
                };
                (v.name.clone(), val)
            })
            .collect();
        let mut mounts: Vec<String> = spec
            .mounts
            .iter()
            .filter(|m| m.container != RUN_DIR_IN_CONTAINER)
            .map(|m| {
                let source = match &m.volume {
                    Some(v) => format!("volume {v}"),
                    None => m.host.display().to_string(),
                };
                format!(
                    "{source}:{}{}",
                    m.container,
                    if m.read_only { ":ro" } else { "" }
                )
            })
            .collect();
        mounts.sort();
        let mut ports: Vec<String> = spec
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{}:{}->{}/{}",
                    p.host_ip,
                    p.host_port,
                    p.container_port,
                    p.protocol.as_str()
                )
            })
            .collect();
        ports.sort();
        Desired {
            image: spec.image.clone(),
            hostname: spec.hostname.clone(),
            instance_type: spec.instance_type.clone(),
            network: spec.network.clone().unwrap_or_else(|| "host".into()),
            env,
            mounts,
            ports,
            dns: spec
                .dns
                .as_ref()
                .map(|d| format!("{} {}", value(&d.server), d.zone)),
            interactive: spec.interactive,
            safemode: spec.safemode,
            extra_args: spec.extra_args.args.clone(),
            restart: spec.restart.to_string(),
            log_opts: spec.log_opts.clone(),
            placement: spec
                .placement
                .as_ref()
                .map(|p| p.constraints.clone())
                .unwrap_or_default(),
        }
    }

    /// The label's text: compact JSON.
    pub fn to_label(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_label(text: &str) -> Option<Desired> {
        serde_json::from_str(text).ok()
    }

    /// The fingerprint label: a hash of everything recorded.
    pub fn fingerprint(&self) -> String {
        short_hash(&self.to_label())
    }

    /// What differs from `self` (what runs) to `new` (what is declared), in words.
    pub fn reasons_to(&self, new: &Desired) -> Vec<Reason> {
        let mut out = Vec::new();
        let setting = |out: &mut Vec<Reason>, what: &str, from: String, to: String| {
            if from != to {
                out.push(reason("setting", Some(what), Some(from), Some(to)));
            }
        };
        setting(&mut out, "image", self.image.clone(), new.image.clone());
        setting(
            &mut out,
            "instance type",
            self.instance_type.clone(),
            new.instance_type.clone(),
        );
        setting(
            &mut out,
            "hostname",
            self.hostname.clone(),
            new.hostname.clone(),
        );
        setting(
            &mut out,
            "network",
            self.network.clone(),
            new.network.clone(),
        );
        for (name, old) in &self.env {
            match new.env.get(name) {
                None => out.push(reason("env", Some(name), None, None).removed()),
                Some(v) if v != old => {
                    if is_secret(name) {
                        out.push(reason("env", Some(name), None, None).changed());
                    } else {
                        out.push(reason("env", Some(name), Some(quote(old)), Some(quote(v))));
                    }
                }
                Some(_) => {}
            }
        }
        for name in new.env.keys().filter(|n| !self.env.contains_key(*n)) {
            out.push(reason("env", Some(name), None, None).added());
        }
        for (kind, old, new) in [
            ("port", &self.ports, &new.ports),
            ("mount", &self.mounts, &new.mounts),
        ] {
            for p in old.iter().filter(|p| !new.contains(p)) {
                out.push(reason(kind, Some(p), None, None).removed());
            }
            for p in new.iter().filter(|p| !old.contains(p)) {
                out.push(reason(kind, Some(p), None, None).added());
            }
        }
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
        setting(&mut out, "dns", opt(&self.dns), opt(&new.dns));
        setting(
            &mut out,
            "interactive",
            self.interactive.to_string(),
            new.interactive.to_string(),
        );
        setting(
            &mut out,
            "safemode",
            self.safemode.to_string(),
            new.safemode.to_string(),
        );
        setting(
            &mut out,
            "extra_args",
            self.extra_args.join(" "),
            new.extra_args.join(" "),
        );
        setting(
            &mut out,
            "restart",
            self.restart.clone(),
            new.restart.clone(),
        );
        let opts = |o: &BTreeMap<String, String>| {
            o.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        setting(
            &mut out,
            "log_opts",
            opts(&self.log_opts),
            opts(&new.log_opts),
        );
        setting(
            &mut out,
            "placement",
            self.placement.join(" "),
            new.placement.join(" "),
        );
        out
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// A reason; its `text` is filled by the constructors below.
pub fn reason(
    kind: &str,
    subject: Option<&str>,
    from: Option<String>,
    to: Option<String>,
) -> Reason {
    let text = match (subject, &from, &to) {
        (Some(s), Some(f), Some(t)) => format!("{kind} {s}: {f} → {t}").replace("setting ", ""),
        (Some(s), _, _) => format!("{kind} {s}"),
        (None, _, _) => kind.to_string(),
    };
    Reason {
        kind: kind.to_string(),
        subject: subject.map(str::to_string),
        from,
        to,
        text,
    }
}

trait Worded {
    fn added(self) -> Reason;
    fn removed(self) -> Reason;
    fn changed(self) -> Reason;
}

impl Worded for Reason {
    fn added(mut self) -> Reason {
        self.text.push_str(" added");
        self
    }
    fn removed(mut self) -> Reason {
        self.text.push_str(" removed");
        self
    }
    fn changed(mut self) -> Reason {
        self.text.push_str(" changed");
        self
    }
}

/// `sha256:ab12cd34ef56…` → `sha256:ab12cd34ef56`: an image id as the reasons show it.
pub fn short_id(id: &str) -> String {
    let (algo, hex) = id.split_once(':').unwrap_or(("", id));
    let hex: String = hex.chars().take(12).collect();
    if algo.is_empty() {
        hex
    } else {
        format!("{algo}:{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(env: &[(&str, &str)], ports: &[&str]) -> Desired {
        Desired {
            image: "demo/web".into(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ports: ports.iter().map(|p| p.to_string()).collect(),
            restart: "unless-stopped".into(),
            ..Default::default()
        }
    }

    #[test]
    fn reasons_in_words() {
        let old = desired(
            &[
                ("VERSION", "v1"),
                ("GONE", "x"),
                ("DB_PASSWORD", "sha256:1"),
            ],
            &[],
        );
        let mut new = desired(
            &[("VERSION", "v2"), ("NEW", "y"), ("DB_PASSWORD", "sha256:2")],
            &["127.0.0.1:8080->80/tcp"],
        );
        new.restart = "no".into();
        let texts: Vec<String> = old.reasons_to(&new).into_iter().map(|r| r.text).collect();
        assert_eq!(
            texts,
            vec![
                "env DB_PASSWORD changed",
                "env GONE removed",
                "env VERSION: \"v1\" → \"v2\"",
                "env NEW added",
                "port 127.0.0.1:8080->80/tcp added",
                "restart: unless-stopped → no",
            ]
        );
        assert!(old.reasons_to(&old).is_empty());
        assert_eq!(Desired::from_label(&old.to_label()), Some(old.clone()));
        assert_eq!(old.fingerprint().len(), 16);
        assert_ne!(old.fingerprint(), new.fingerprint());
    }

    #[test]
    fn secrets_and_ids() {
        assert!(is_secret("DNS_KEY") && is_secret("db_password") && is_secret("API_TOKEN"));
        assert!(!is_secret("VERSION") && !is_secret("KEYBOARD"));
        assert_eq!(short_id("sha256:ab12cd34ef56aa77"), "sha256:ab12cd34ef56");
    }
}

//! The step model: what the planner decides and the engine carries out, one step at a time.
//! Its `Serialize` is the `--json` form of a plan (schema in the README, "Plans").

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::dockerfile::Protocol;
use crate::project::env::{EnvValue, EnvVar};
use crate::tsig_key::TsigKey;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub project: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Create the project's bridge network unless it exists.
    EnsureNetwork { name: String, labels: Labels },
    /// Build one service image (parents come earlier in the plan).
    Build(BuildStep),
    /// Create, seed persistent folders, and start one container.
    Run(Box<ContainerSpec>),
    /// Nothing to do: the instance already runs (shown so the user knows why).
    AlreadyRunning { container: String },
    /// Graceful stop (the init's stop timeout), then remove. Persistent data is never touched here.
    Remove {
        container: String,
        stop_timeout_s: u64,
    },
    /// Delete an instance's persistent folders: only planned for `clean --purge`.
    PurgeData { container: String, path: PathBuf },
    /// Remove the project network when no container uses it any more.
    RemoveNetwork { name: String },
    /// run.conf `sleep`: wait before the next step.
    Sleep { seconds: f64 },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BuildStep {
    pub service: String,
    /// `<project>/<service>`
    pub image: String,
    /// The service folder (build context).
    pub context: PathBuf,
    /// Services this one is built FROM (already earlier in the plan).
    pub parents: Vec<String>,
    pub no_cache: bool,
    pub labels: Labels,
    /// A service embedded in dops (the dops DNS): its folder is not in the project; the engine
    /// supplies the build context.
    pub builtin: bool,
}

/// Everything needed to create one container, fully resolved except `EnvValue::IpOf`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContainerSpec {
    /// `<project>-<service>-<instance>`
    pub name: String,
    /// `<service>-<instance>`
    pub hostname: String,
    /// `<project>/<service>`
    pub image: String,
    pub service: String,
    pub instance: String,
    pub instance_type: String,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<Mount>,
    pub ports: Vec<PortPublish>,
    pub labels: Labels,
    /// The project network, or None with `nethost`.
    pub network: Option<String>,
    pub nethost: bool,
    pub interactive: bool,
    pub safemode: bool,
    /// Resolver settings when the project runs the dops DNS.
    pub dns: Option<DnsSettings>,
    /// The instance's DNS key, written into its run folder before it starts (`DNS_KEY_FILE`).
    pub dns_key: Option<DnsKeyFile>,
    /// run.conf `extra_args`, as given (the engine supports a documented subset).
    pub extra_args: Vec<String>,
    /// Replace a running container of the same name (`--replace`, `rerun`).
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mount {
    /// Host folder (created if missing).
    pub host: PathBuf,
    /// Path inside the container.
    pub container: String,
    /// Seed the host folder from the image's content at `container` on first use (then mark it).
    pub seed: bool,
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortPublish {
    pub container_port: u16,
    pub protocol: Protocol,
    pub host_ip: String,
    pub host_port: u16,
}

/// A TSIG key file the engine writes (mode 0400) before the container starts: the instance's own
/// key (its names only), or the project key for the DNS server. The secret is never serialized
/// nor printed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsKeyFile {
    /// The host file, in the instance's run folder (bind-mounted at `/run/dops`).
    pub host: PathBuf,
    /// Where the instance reads it (`DNS_KEY_FILE`).
    pub container: String,
    /// `<service>.<instance>.<policy>.<project key name>`, or the project key's name.
    pub key_name: String,
    /// `instance` (its own names) or `project` (the whole zone: the DNS server).
    pub scope: String,
    #[serde(skip)]
    pub key: TsigKey,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsSettings {
    /// The DNS instance whose address becomes the resolver (resolved at apply time).
    pub server: EnvValue,
    pub zone: String,
}

//! The plan: the list of steps dops would take, computed by a pure function.
//!
//! `plan()` (project, observed state, action) → `Plan`. Its `Display` is the `dops plan:…` /
//! `--dry-run` output; its `Serialize` is the `--json` form. `engine::apply` executes one step
//! with one (or a few) Docker API calls and makes no decisions of its own.
//!
//! Values that only exist at apply time (the address of a container started earlier in the same
//! plan, for links and the DNS) are carried as `EnvValue::IpOf` and resolved by the engine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

pub type Labels = BTreeMap<String, String>;

/// Label keys put on everything dops creates.
pub mod labels {
    pub const PROJECT: &str = "io.dops.project";
    pub const SERVICE: &str = "io.dops.service";
    pub const INSTANCE: &str = "io.dops.instance";
    pub const INSTANCE_TYPE: &str = "io.dops.instance_type";
}

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
    /// run.conf `extra_args`, as given (the engine supports a documented subset).
    pub extra_args: Vec<String>,
    /// Replace a running container of the same name (`--replace`, `rerun`).
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
    pub origin: EnvOrigin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum EnvValue {
    Literal(String),
    /// The IPv4 address of this container on the project network, known at apply time.
    IpOf(String),
}

/// Where an environment variable's value came from, in resolution order.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EnvOrigin {
    RequiredEnvVars,
    RunConf,
    Fixed,
    Link,
    HostEnv,
    HostConf,
    CommandLine,
    Dns,
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

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortPublish {
    pub container_port: u16,
    pub protocol: Protocol,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsSettings {
    /// The DNS instance whose address becomes the resolver (resolved at apply time).
    pub server: EnvValue,
    pub zone: String,
}

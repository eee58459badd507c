//! The step model: what the planner decides and the engine carries out, one step at a time.
//! Its `Serialize` is the `--json` form of a plan (schema in the README, "Plans").

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

use crate::dockerfile::Protocol;
use crate::project::env::{EnvValue, EnvVar};
use crate::project::policies::{Condition, LogOpts, RestartPolicy, UpdateOrder};
use crate::project::ExtraArgs;

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
    /// Nothing to do: the instance runs as declared (shown so the user knows why).
    Keep {
        container: String,
        /// Why it is kept although it may differ (`--no-recreate`); empty when it is up to date.
        note: Option<String>,
    },
    /// Replace a running instance by a new container (a roll-out step: see [`Replacement`]).
    Replace(Box<Replacement>),
    /// Put back an instance a roll-out left aside (dops stopped mid-way): remove the container
    /// under its name if any, rename the old one back, start it if it is stopped.
    Restore {
        container: String,
        aside: String,
        remove_current: bool,
        start: bool,
    },
    /// Graceful stop (the init's stop timeout), then remove. Persistent data is never touched here.
    Remove {
        container: String,
        stop_timeout_s: u64,
    },
    /// Delete an instance's persistent folders: only planned for `clean --purge`. `path` is
    /// `<data_root>/<service>-<instance>`; the engine deletes it only if it really is inside
    /// `data_root` (symlinks resolved).
    PurgeData {
        container: String,
        path: PathBuf,
        data_root: PathBuf,
    },
    /// Remove the project network when no container uses it any more.
    RemoveNetwork { name: String },
    /// Wait until these instances meet their condition (run.conf `depends_on`) before going on.
    WaitFor {
        containers: Vec<String>,
        condition: Condition,
        timeout_s: u64,
    },
    /// run.conf `sleep`: wait before the next step.
    Sleep { seconds: f64 },
    /// On a swarm (`clean --purge`): delete a persistent instance's volumes on its node (those of
    /// `volumes` that exist), then its pin label.
    PurgeVolumes {
        container: String,
        node: String,
        volumes: Vec<String>,
        label: String,
    },
    /// On a swarm: record that a persistent instance's data lives on `node` (a node label the
    /// instance's placement requires), before its first start.
    Pin {
        container: String,
        node: String,
        label: String,
    },
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
    /// run.conf `extra_args`, checked and typed at load time (serialized as written).
    pub extra_args: ExtraArgs,
    /// Docker's restart policy.
    pub restart: RestartPolicy,
    /// json-file log options (bounded by default).
    pub log_opts: LogOpts,
    /// Containers of this plan that must be started before this one (links, run.conf
    /// `depends_on`): the engine never starts them together.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// The DNS server of the project: the engine gives it the network's reserved address, so it
    /// keeps its address across restarts of the engine and replacements.
    pub pinned: bool,
    /// On a swarm: where the instance may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

/// Where a swarm may run an instance (swarm constraints).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Placement {
    /// `node.labels.…==…` expressions, all required.
    pub constraints: Vec<String>,
    /// A persistent instance's node (its data is a volume there): never moved silently.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// One instance replaced by a new container, as a roll-out does it.
///
/// start-first: the old container is renamed `aside` and keeps serving; the new one starts under
/// the real name and must reach UP within `timeout_s`; then the old one is removed gracefully
/// (its dops-init withdraws it from the DNS and drains first). stop-first: the old one is
/// stopped and renamed aside first, then the new one starts. On failure (ERROR, exit, timeout)
/// with `rollback`: the new one is removed and the old one renamed back (and started again in
/// stop-first); the roll-out of the service stops there.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Replacement {
    /// The instance's container name (the old one runs under it now, the new one after).
    pub container: String,
    /// The old container's name during the roll-out.
    pub aside: String,
    pub order: UpdateOrder,
    pub reasons: Vec<Reason>,
    /// The new container.
    pub spec: ContainerSpec,
    pub timeout_s: u64,
    pub rollback: bool,
    pub stop_timeout_s: u64,
    /// Replacements of one service with the same wave go together (run.conf
    /// `update_parallelism`); waves go one after the other.
    pub wave: u32,
    /// A roll-out dops was interrupted in: the old one is already aside and the new one started;
    /// only the end is left (wait until UP, remove the old one, or roll back).
    pub resume: bool,
}

/// Why an instance is replaced: in words (`text`) and as data.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reason {
    /// image, env, port, mount, setting, state, link, forced, dops
    pub kind: String,
    /// What changed: the variable, the port, the setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub text: String,
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
    /// On a swarm: a named volume on the instance's node instead of a host folder (`host` is
    /// then empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortPublish {
    pub container_port: u16,
    pub protocol: Protocol,
    /// Typed: an address that is not one cannot reach Docker (which would bind every interface).
    pub host_ip: IpAddr,
    pub host_port: u16,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsSettings {
    /// The DNS instance whose address becomes the resolver (resolved at apply time).
    pub server: EnvValue,
    pub zone: String,
}

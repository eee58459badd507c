//! What the Docker engine holds for a project, as plain data.
//!
//! `engine::observe` fills it; `plan::plan` reads it. Keeping it free of bollard types is what
//! lets the planner stay pure and testable without a daemon.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;

use crate::state_file::LifecycleState;

/// Everything dops needs to know about the engine's current state for one project.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Observed {
    /// Containers labelled `io.dops.project=<project>`, running or not.
    pub containers: Vec<ObservedContainer>,
    /// Names of the networks labelled with the project.
    pub networks: Vec<String>,
    /// Images labelled with the project: tag → image id.
    pub images: BTreeMap<String, String>,
    /// Network → the address it reserves for the project's DNS server (see `labels::DNS_ADDRESS`).
    pub dns_addresses: BTreeMap<String, String>,
    /// On a swarm: its nodes (empty on a local engine).
    pub nodes: Vec<ObservedNode>,
}

/// One node of a swarm.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ObservedNode {
    pub id: String,
    pub hostname: String,
    /// The address the node is reached at (its engine, host-mode published ports).
    pub addr: String,
    /// manager or worker
    pub role: String,
    /// active, pause or drain
    pub availability: String,
    /// ready, down, unknown, disconnected
    pub state: String,
    pub labels: BTreeMap<String, String>,
    /// Tasks running there (all projects): the planner places new pinned instances on the least
    /// loaded node.
    pub running_tasks: usize,
}

impl ObservedNode {
    /// Ready and active: new work may go there.
    pub fn is_available(&self) -> bool {
        self.state == "ready" && self.availability == "active"
    }
}

/// One container of the project, as the engine reports it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ObservedContainer {
    pub id: String,
    /// Container name without Docker's leading slash: `<project>-<service>-<instance>`.
    pub name: String,
    pub service: String,
    pub instance: String,
    pub instance_type: String,
    pub image: String,
    /// The id of the image it was created from.
    pub image_id: String,
    /// Docker's state: created, running, exited, ...
    pub state: String,
    /// Docker's human status line ("Up 3 minutes (healthy)").
    pub status: String,
    /// Docker's health status when the image has a HEALTHCHECK: starting, healthy, unhealthy.
    pub health: Option<String>,
    /// The address on the project network, when running.
    pub ip: Option<IpAddr>,
    /// Published ports as `host_ip:host_port->container_port/proto`.
    pub ports: Vec<String>,
    /// Unix seconds of creation.
    pub created: i64,
    /// On a swarm: the node its current task runs on (hostname).
    pub node: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl ObservedContainer {
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// The host folder mounted at `/run/dops` (where dops-init writes `state.json`), from the
    /// label the engine puts on every container it creates.
    pub fn run_dir(&self) -> Option<&Path> {
        self.labels.get(crate::labels::RUN_DIR).map(Path::new)
    }

    /// What dops-init last wrote to its state file (no exec, no inspect); None when it has not
    /// written one (yet) or it can't be read.
    pub fn lifecycle(&self) -> Option<LifecycleState> {
        crate::state_file::read_in(self.run_dir()?)
    }
}

impl Observed {
    pub fn container(&self, name: &str) -> Option<&ObservedContainer> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Running containers of a service, in name order (the "first" of a link with `instance: null`).
    pub fn running_instances(&self, service: &str) -> Vec<&ObservedContainer> {
        let mut found: Vec<_> = self
            .containers
            .iter()
            .filter(|c| c.service == service && c.is_running())
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }
}

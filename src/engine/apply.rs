//! Executing a plan: one step = one (or a few) Docker API calls, no decisions.
//!
//! - `EnsureNetwork`: create the project's bridge network unless it exists.
//! - `Build`: consecutive build steps go to `build::build_all` together (parallel where allowed).
//! - `Run`: resolve `EnvValue::IpOf`, prepare the host folders (seeding persistent ones from the
//!   image on first use, then marking them), create the container (env, binds, ports, labels,
//!   hostname, network, DNS, `/run/dops`), start it.
//! - `Remove`: graceful stop with the step's timeout, then remove. Persistent data is untouched.
//! - `PurgeData`: delete an instance's persistent folders (only ever planned for `--purge`).
//! - `RemoveNetwork`: only when no container is attached any more.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, StopContainerOptions,
};

use super::build::{build_all, BuildOptions, Built};
use super::connect::Engine;
use super::error::{is_not_found, is_not_modified, EngineError};
use super::extra_args::apply_extra_args;
use super::key_file::write_dns_key;
use super::progress::{Progress, Reporter};
use super::seed::seed_mount;
use crate::labels;
use crate::plan::{ContainerSpec, Plan, Step};
use crate::project::env::EnvValue;
use crate::state_file::{host_run_dir, RUN_DIR_IN_CONTAINER};

/// What `apply` needs besides the plan.
pub struct ApplyContext {
    /// The project folder (`.dops/run/<service>-<instance>` lives there).
    pub project_dir: PathBuf,
    pub build: BuildOptions,
    /// Where progress goes (one event per step done, the builds' progress).
    pub report: Reporter,
}

impl ApplyContext {
    /// Default build options, progress dropped.
    pub fn new(project_dir: impl Into<PathBuf>) -> ApplyContext {
        ApplyContext {
            project_dir: project_dir.into(),
            build: BuildOptions::default(),
            report: super::progress::quiet(),
        }
    }

    fn done(&self, line: String) {
        (self.report)(Progress::Done(line));
    }
}

/// What a plan did.
#[derive(Debug, Default)]
pub struct Applied {
    pub built: Vec<Built>,
    /// Containers started, in order (interactive ones are only created: see `interactive`).
    pub started: Vec<String>,
    /// Interactive instances created and waiting for `exec::attach_and_start`.
    pub interactive: Vec<String>,
    pub already_running: Vec<String>,
    pub removed: Vec<String>,
}

/// Execute every step of the plan, in order; stops at the first error.
pub async fn apply(
    engine: &Engine,
    plan: &Plan,
    ctx: &ApplyContext,
) -> Result<Applied, EngineError> {
    let mut applied = Applied::default();
    let mut i = 0;
    while i < plan.steps.len() {
        if let Step::Build(_) = &plan.steps[i] {
            let mut builds = Vec::new();
            while let Some(Step::Build(b)) = plan.steps.get(i) {
                builds.push(b.clone());
                i += 1;
            }
            applied
                .built
                .extend(build_all(engine, &builds, &ctx.build, &ctx.report).await?);
            continue;
        }
        if let Step::Run(_) = &plan.steps[i] {
            // Consecutive runs start together, unless one needs the address of another started
            // in the same batch (a link or the DNS server): that one waits for the next batch.
            let mut batch: Vec<&ContainerSpec> = Vec::new();
            while let Some(Step::Run(spec)) = plan.steps.get(i) {
                let needs_batch_member = spec
                    .env
                    .iter()
                    .map(|v| &v.value)
                    .chain(spec.dns.iter().map(|d| &d.server))
                    .any(|v| matches!(v, EnvValue::IpOf(c) if batch.iter().any(|b| &b.name == c)));
                if needs_batch_member {
                    break;
                }
                batch.push(spec);
                i += 1;
            }
            run_batch(engine, &batch, ctx).await?;
            for spec in &batch {
                if spec.interactive {
                    applied.interactive.push(spec.name.clone());
                } else {
                    applied.started.push(spec.name.clone());
                }
            }
            continue;
        }
        if let Step::Remove { .. } = &plan.steps[i] {
            // Consecutive removals stop in parallel (each waits out its own grace period).
            let mut batch: Vec<(&String, u64)> = Vec::new();
            while let Some(Step::Remove {
                container,
                stop_timeout_s,
            }) = plan.steps.get(i)
            {
                batch.push((container, *stop_timeout_s));
                i += 1;
            }
            use futures_util::stream::{self, StreamExt as _};
            let results: Vec<Result<bool, EngineError>> =
                stream::iter(batch.iter().map(|(c, t)| remove_container(engine, c, *t)))
                    .buffered(PARALLEL_RUNS)
                    .collect()
                    .await;
            for ((container, _), r) in batch.iter().zip(results) {
                if r? {
                    ctx.done(format!("removed {container}"));
                    applied.removed.push((*container).clone());
                }
            }
            continue;
        }
        match &plan.steps[i] {
            Step::EnsureNetwork { name, labels } => {
                if ensure_network(engine, name, labels).await? {
                    ctx.done(format!("created network {name}"));
                }
            }
            Step::Build(_) => {}
            Step::Run(_) => {}
            Step::AlreadyRunning { container } => {
                ctx.done(format!(
                    "{container} already runs (nothing to do; --replace replaces it)"
                ));
                applied.already_running.push(container.clone());
            }
            Step::Remove { .. } => {}
            Step::PurgeData { container, path } => {
                purge(path)?;
                ctx.done(format!(
                    "deleted the persistent data of {container} ({})",
                    path.display()
                ));
            }
            Step::RemoveNetwork { name } => {
                if remove_network_if_empty(engine, name).await? {
                    ctx.done(format!("removed network {name}"));
                }
            }
            Step::Sleep { seconds } => {
                if *seconds > 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64(*seconds)).await;
                }
            }
        }
        i += 1;
    }
    Ok(applied)
}

/// How many containers are created and started at once.
const PARALLEL_RUNS: usize = 32;

/// Start a batch of independent containers concurrently; progress lines in plan order.
async fn run_batch(
    engine: &Engine,
    batch: &[&ContainerSpec],
    ctx: &ApplyContext,
) -> Result<(), EngineError> {
    use futures_util::stream::{self, StreamExt as _};
    let results: Vec<Result<(), EngineError>> = stream::iter(batch.iter().map(|spec| {
        let dir = ctx.project_dir.clone();
        async move { run_container(engine, spec, &dir).await }
    }))
    .buffered(PARALLEL_RUNS)
    .collect()
    .await;
    let mut first_err = None;
    for (spec, r) in batch.iter().zip(results) {
        match r {
            Ok(()) if spec.interactive => ctx.done(format!("created {}", spec.name)),
            Ok(()) => ctx.done(format!("started {}", spec.name)),
            Err(e) => {
                ctx.done(format!("✗ {} failed to start", spec.name));
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Create the network unless it exists; true when created.
pub async fn ensure_network(
    engine: &Engine,
    name: &str,
    labels: &crate::plan::Labels,
) -> Result<bool, EngineError> {
    match engine.api().inspect_network(name, None).await {
        Ok(_) => return Ok(false),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(EngineError::docker(format!("inspect network {name}"), e)),
    }
    let req = NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("bridge".into()),
        labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ..Default::default()
    };
    match engine.api().create_network(req).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(false),
        Err(e) => Err(EngineError::docker(format!("create network {name}"), e)),
    }
}

/// Remove the network when no container is attached; true when removed.
pub async fn remove_network_if_empty(engine: &Engine, name: &str) -> Result<bool, EngineError> {
    let net = match engine.api().inspect_network(name, None).await {
        Ok(n) => n,
        Err(e) if is_not_found(&e) => return Ok(false),
        Err(e) => return Err(EngineError::docker(format!("inspect network {name}"), e)),
    };
    if net.containers.is_some_and(|c| !c.is_empty()) {
        return Ok(false);
    }
    match engine.api().remove_network(name).await {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        // Someone attached a container meanwhile: leave it.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 403 | 409,
            ..
        }) => Ok(false),
        Err(e) => Err(EngineError::docker(format!("remove network {name}"), e)),
    }
}

/// Graceful stop (SIGTERM, then SIGKILL after `timeout_s`), then remove. True when it existed.
pub async fn remove_container(
    engine: &Engine,
    name: &str,
    timeout_s: u64,
) -> Result<bool, EngineError> {
    let stop = StopContainerOptions {
        t: Some(timeout_s.min(i32::MAX as u64) as i32),
        signal: None,
    };
    match engine.api().stop_container(name, Some(stop)).await {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => return Ok(false),
        Err(e) if is_not_modified(&e) => {}
        Err(e) => return Err(EngineError::docker(format!("stop {name}"), e)),
    }
    let rm = RemoveContainerOptions {
        v: true,
        force: true,
        link: false,
    };
    match engine.api().remove_container(name, Some(rm)).await {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(true),
        // Removal already in progress (e.g. a concurrent clean).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(true),
        Err(e) => Err(EngineError::docker(format!("remove {name}"), e)),
    }
}

fn purge(path: &Path) -> Result<(), EngineError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io(path, e)),
    }
}

/// The IPv4 address of a container (on `network` when given, else its first one).
pub async fn ip_of(
    engine: &Engine,
    container: &str,
    network: Option<&str>,
) -> Result<String, EngineError> {
    let info = match engine.api().inspect_container(container, None).await {
        Ok(i) => i,
        Err(e) if is_not_found(&e) => {
            return Err(EngineError::NoSuchContainer {
                name: container.to_string(),
            })
        }
        Err(e) => return Err(EngineError::docker(format!("inspect {container}"), e)),
    };
    let nets = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    let pick = |e: &EndpointSettings| e.ip_address.clone().filter(|s| !s.is_empty());
    let mut names: Vec<&String> = nets.keys().collect();
    names.sort();
    network
        .and_then(|n| nets.get(n).and_then(pick))
        .or_else(|| names.into_iter().find_map(|n| pick(&nets[n])))
        .ok_or_else(|| EngineError::NoAddress {
            name: container.to_string(),
        })
}

async fn resolve(
    engine: &Engine,
    value: &EnvValue,
    network: Option<&str>,
) -> Result<String, EngineError> {
    match value {
        EnvValue::Literal(s) => Ok(s.clone()),
        EnvValue::IpOf(c) => ip_of(engine, c, network).await,
    }
}

/// Create (seeding persistent folders first) and start one container.
pub async fn run_container(
    engine: &Engine,
    spec: &ContainerSpec,
    project_dir: &Path,
) -> Result<(), EngineError> {
    if spec.replace {
        remove_container(engine, &spec.name, 10).await?;
    }
    let network = if spec.nethost {
        None
    } else {
        spec.network.as_deref()
    };
    let mut env = Vec::with_capacity(spec.env.len());
    for var in &spec.env {
        env.push(format!(
            "{}={}",
            var.name,
            resolve(engine, &var.value, network).await?
        ));
    }
    // `/run/dops` (dops-init's state.json) is a host folder: the plan's mount, or the default.
    let planned_run = spec
        .mounts
        .iter()
        .find(|m| m.container == RUN_DIR_IN_CONTAINER);
    let run = planned_run
        .map(|m| m.host.clone())
        .unwrap_or_else(|| host_run_dir(project_dir, &spec.service, &spec.instance));
    std::fs::create_dir_all(&run).map_err(|e| EngineError::io(&run, e))?;
    // A state file left by the previous container would look like this one's lifecycle.
    let _ = std::fs::remove_file(run.join("state.json"));
    write_dns_key(spec)?;
    let project = spec
        .labels
        .get(labels::PROJECT)
        .cloned()
        .unwrap_or_default();
    let mut binds = Vec::new();
    if planned_run.is_none() {
        binds.push(format!("{}:{RUN_DIR_IN_CONTAINER}", run.display()));
    }
    for m in &spec.mounts {
        std::fs::create_dir_all(&m.host).map_err(|e| EngineError::io(&m.host, e))?;
        if m.seed {
            seed_mount(engine, &spec.image, &project, m).await?;
        }
        let mut b = format!("{}:{}", m.host.display(), m.container);
        if m.read_only {
            b.push_str(":ro");
        }
        binds.push(b);
    }
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.protocol.as_str());
        exposed.push(key.clone());
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    let mut host_config = HostConfig {
        binds: Some(binds),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        network_mode: Some(match (spec.nethost, network) {
            (true, _) => "host".to_string(),
            (false, Some(n)) => n.to_string(),
            (false, None) => "bridge".to_string(),
        }),
        ..Default::default()
    };
    if let Some(dns) = &spec.dns {
        host_config.dns = Some(vec![resolve(engine, &dns.server, network).await?]);
        host_config.dns_search = Some(vec![dns.zone.clone()]);
    }
    apply_extra_args(&spec.extra_args, &mut host_config)?;
    let mut container_labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    container_labels.insert(labels::RUN_DIR.to_string(), run.display().to_string());
    let networking_config = network.map(|n| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            n.to_string(),
            EndpointSettings {
                aliases: Some(vec![spec.hostname.clone()]),
                ..Default::default()
            },
        )])),
    });
    let body = ContainerCreateBody {
        hostname: (!spec.nethost).then(|| spec.hostname.clone()),
        image: Some(spec.image.clone()),
        env: Some(env),
        labels: Some(container_labels),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: Some(spec.interactive),
        open_stdin: Some(spec.interactive),
        attach_stdin: Some(spec.interactive),
        attach_stdout: Some(spec.interactive),
        attach_stderr: Some(spec.interactive),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(spec.name.clone()),
        platform: String::new(),
    };
    match engine
        .api()
        .create_container(Some(options.clone()), body.clone())
        .await
    {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => {
            // A stopped container of the same name (it crashed, or was stopped by hand): replace
            // it. A running one is reported, never duplicated.
            let running = engine
                .api()
                .inspect_container(&spec.name, None)
                .await
                .ok()
                .and_then(|c| c.state.and_then(|s| s.running))
                .unwrap_or(false);
            if running {
                return Err(EngineError::Other(format!(
                    "{} already runs\nhint: use --replace to replace it",
                    spec.name
                )));
            }
            remove_container(engine, &spec.name, 0).await?;
            engine
                .api()
                .create_container(Some(options), body)
                .await
                .map_err(|e| EngineError::docker(format!("create {}", spec.name), e))?;
        }
        Err(e) => return Err(EngineError::docker(format!("create {}", spec.name), e)),
    }
    if spec.interactive {
        // Started by whoever attaches the terminal (`exec::attach_and_start`): attaching to a
        // container that already exited would wait forever.
        return Ok(());
    }
    start_container(engine, &spec.name).await
}

/// Start a created container (already running is fine).
pub async fn start_container(engine: &Engine, name: &str) -> Result<(), EngineError> {
    match engine.api().start_container(name, None).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_modified(&e) => Ok(()),
        Err(e) => Err(EngineError::docker(format!("start {name}"), e)),
    }
}

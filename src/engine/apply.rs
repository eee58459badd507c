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
    ContainerCreateBody, DeviceMapping, EndpointSettings, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use futures_util::StreamExt;

use super::build::{build_all, BuildOptions, Built};
use super::connect::Engine;
use super::error::{is_not_found, is_not_modified, EngineError};
use super::progress::{Progress, Reporter};
use super::scratch::{create_unstarted_container, remove_unstarted_container};
use crate::labels;
use crate::plan::{ContainerSpec, Mount, Plan, Step};
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

/// The marker that says a persistent folder was seeded (beside it, not inside: the data stays
/// exactly what the service wrote).
pub fn seed_marker(host: &Path) -> PathBuf {
    let name = host
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    host.with_file_name(format!(".{name}.dops-seeded"))
}

/// Seed `mount.host` with the image's content at `mount.container`, once.
pub async fn seed_mount(
    engine: &Engine,
    image: &str,
    project: &str,
    mount: &Mount,
) -> Result<bool, EngineError> {
    let marker = seed_marker(&mount.host);
    if marker.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(&mount.host).map_err(|e| EngineError::io(&mount.host, e))?;
    let empty = std::fs::read_dir(&mount.host)
        .map_err(|e| EngineError::io(&mount.host, e))?
        .next()
        .is_none();
    let mut seeded = false;
    if empty {
        // A short-lived, never-started container gives the image's files through the archive API.
        let id = create_unstarted_container(engine, image, project, "seed").await?;
        let result = download_into(engine, &id, &mount.container, &mount.host).await;
        remove_unstarted_container(engine, &id).await;
        seeded = result?;
    }
    std::fs::write(&marker, "seeded by dops on first use\n")
        .map_err(|e| EngineError::io(&marker, e))?;
    Ok(seeded)
}

/// Copy `path` out of a container into the host folder `dest` (its content, not the folder).
async fn download_into(
    engine: &Engine,
    container: &str,
    path: &str,
    dest: &Path,
) -> Result<bool, EngineError> {
    let mut stream = engine.api().download_from_container(
        container,
        Some(DownloadFromContainerOptions {
            path: path.to_string(),
        }),
    );
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => data.extend_from_slice(&b),
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => {
                return Err(EngineError::docker(
                    format!("copy {path} out of the image"),
                    e,
                ))
            }
        }
    }
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || extract_content(&data, &dest))
        .await
        .map_err(|e| EngineError::Other(format!("extract task failed: {e}")))??;
    Ok(true)
}

/// Unpack a `GET /archive` tar (whose entries start with the folder's own name) into `dest`.
fn extract_content(data: &[u8], dest: &Path) -> Result<(), EngineError> {
    let mut archive = tar::Archive::new(data);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    let entries = archive.entries().map_err(|e| EngineError::io(dest, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| EngineError::io(dest, e))?;
        let path = entry
            .path()
            .map_err(|e| EngineError::io(dest, e))?
            .into_owned();
        let mut comps = path.components();
        comps.next();
        let rel: PathBuf = comps.collect();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
        }
        entry
            .unpack(&target)
            .map_err(|e| EngineError::io(&target, e))?;
    }
    Ok(())
}

/// run.conf `extra_args`: the documented subset of `docker run` flags, applied to the host config.
pub fn apply_extra_args(args: &[String], hc: &mut HostConfig) -> Result<(), EngineError> {
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let bad = || EngineError::ExtraArg {
            arg: arg.to_string(),
        };
        let mut value = || -> Result<String, EngineError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            args.get(i).cloned().ok_or_else(bad)
        };
        match flag {
            "--privileged" => hc.privileged = Some(true),
            "--read-only" => hc.readonly_rootfs = Some(true),
            "--cap-add" => hc.cap_add.get_or_insert_with(Vec::new).push(value()?),
            "--cap-drop" => hc.cap_drop.get_or_insert_with(Vec::new).push(value()?),
            "--add-host" => hc.extra_hosts.get_or_insert_with(Vec::new).push(value()?),
            "-v" | "--volume" => hc.binds.get_or_insert_with(Vec::new).push(value()?),
            "--device" => {
                let v = value()?;
                let mut parts = v.splitn(3, ':');
                let host = parts.next().unwrap_or_default().to_string();
                let inside = parts
                    .next()
                    .map(str::to_string)
                    .unwrap_or_else(|| host.clone());
                let perms = parts.next().unwrap_or("rwm").to_string();
                hc.devices.get_or_insert_with(Vec::new).push(DeviceMapping {
                    path_on_host: Some(host),
                    path_in_container: Some(inside),
                    cgroup_permissions: Some(perms),
                });
            }
            "--shm-size" => {
                let v = value()?;
                hc.shm_size = Some(parse_bytes(&v).ok_or_else(bad)?);
            }
            _ => return Err(bad()),
        }
        i += 1;
    }
    Ok(())
}

fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_lowercase();
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1024),
        'm' => (&s[..s.len() - 1], 1024 * 1024),
        'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        'b' => (&s[..s.len() - 1], 1),
        _ => (s.as_str(), 1),
    };
    num.parse::<i64>().ok().map(|n| n * mult)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_args_subset() {
        let mut hc = HostConfig::default();
        let args: Vec<String> = [
            "--privileged",
            "--cap-add",
            "NET_ADMIN",
            "--add-host=db:10.0.0.2",
            "--shm-size=64m",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        apply_extra_args(&args, &mut hc).unwrap();
        assert_eq!(hc.privileged, Some(true));
        assert_eq!(hc.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(hc.extra_hosts, Some(vec!["db:10.0.0.2".to_string()]));
        assert_eq!(hc.shm_size, Some(64 * 1024 * 1024));
        let err = apply_extra_args(&["--pid=host".to_string()], &mut hc).unwrap_err();
        assert!(err.to_string().contains("unsupported extra_args entry"));
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn the_seed_marker_sits_beside_the_folder() {
        assert_eq!(
            seed_marker(Path::new("/p/data/web-one/data")),
            PathBuf::from("/p/data/web-one/.data.dops-seeded")
        );
    }

    #[test]
    fn archive_content_is_unpacked_without_its_top_folder() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "data/", std::io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o600);
        h.set_size(5);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "data/sub/seed.txt", &b"hello"[..])
            .unwrap();
        let data = b.into_inner().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        extract_content(&data, tmp.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("sub/seed.txt")).unwrap(),
            "hello"
        );
    }
}

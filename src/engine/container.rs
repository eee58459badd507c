//! One container's life as the engine carries it out: create it from a spec (host folders,
//! seeding, env with the addresses resolved, ports, restart policy, bounded logs, the desired
//! state recorded in its labels), start, stop, rename, remove; the address of a container.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, HostConfigLogConfig,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, RenameContainerOptions, StopContainerOptions,
};

use super::connect::Engine;
use super::error::{is_not_found, is_not_modified, EngineError};
use super::extra_args::apply_extra_args;
use super::key_file::{remove_key_file, write_dns_key};
use super::seed::seed_mount;
use crate::labels;
use crate::plan::{ContainerSpec, Desired};
use crate::project::env::EnvValue;
use crate::state_file::{host_run_dir, RUN_DIR_IN_CONTAINER};

/// Create (seeding persistent folders first) and start one container.
pub async fn run_container(
    engine: &Engine,
    spec: &ContainerSpec,
    project_dir: &Path,
) -> Result<(), EngineError> {
    create_and_start(engine, spec, project_dir, false).await
}

/// The same, with the restart policy held back until [`release_restart`]: a replacement that
/// fails must stay down (with its state and log) to be rolled back, not restarted by the engine.
pub async fn run_held(
    engine: &Engine,
    spec: &ContainerSpec,
    project_dir: &Path,
) -> Result<(), EngineError> {
    create_and_start(engine, spec, project_dir, true).await
}

/// Give a container held by [`run_held`] its restart policy.
pub async fn release_restart(engine: &Engine, spec: &ContainerSpec) -> Result<(), EngineError> {
    let body = bollard::models::ContainerUpdateBody {
        restart_policy: Some(restart_policy(spec)),
        ..Default::default()
    };
    engine
        .api()
        .update_container(&spec.name, body)
        .await
        .map_err(|e| EngineError::docker(format!("set the restart policy of {}", spec.name), e))
}

fn restart_policy(spec: &ContainerSpec) -> RestartPolicy {
    RestartPolicy {
        name: Some(match spec.restart.name() {
            "always" => RestartPolicyNameEnum::ALWAYS,
            "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
            "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
            _ => RestartPolicyNameEnum::NO,
        }),
        maximum_retry_count: match spec.restart {
            crate::project::policies::RestartPolicy::OnFailure { max } if max > 0 => {
                Some(i64::from(max))
            }
            _ => None,
        },
    }
}

async fn create_and_start(
    engine: &Engine,
    spec: &ContainerSpec,
    project_dir: &Path,
    hold_restart: bool,
) -> Result<(), EngineError> {
    let network = if spec.nethost {
        None
    } else {
        spec.network.as_deref()
    };
    // Addresses known now: the values recorded in the desired state are these.
    let mut addresses: HashMap<String, String> = HashMap::new();
    let values = spec
        .env
        .iter()
        .map(|v| &v.value)
        .chain(spec.dns.iter().map(|d| &d.server));
    for value in values {
        if let EnvValue::IpOf(c) = value {
            if !addresses.contains_key(c) {
                let ip = resolve(engine, value, network).await?;
                addresses.insert(c.clone(), ip);
            }
        }
    }
    let value_of = |v: &EnvValue| match v {
        EnvValue::Literal(s) => s.clone(),
        EnvValue::IpOf(c) => addresses.get(c).cloned().unwrap_or_default(),
    };
    let env: Vec<String> = spec
        .env
        .iter()
        .map(|var| format!("{}={}", var.name, value_of(&var.value)))
        .collect();
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
    write_dns_key(spec, &run)?;
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
        // A missing host path becomes a folder (as `docker run -v` does); an existing file is
        // mounted as the file it is (a secret, a config).
        if !m.host.exists() {
            std::fs::create_dir_all(&m.host).map_err(|e| EngineError::io(&m.host, e))?;
        }
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
                host_ip: Some(p.host_ip.to_string()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    let mut host_config = HostConfig {
        binds: Some(binds),
        restart_policy: Some(if hold_restart {
            RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            }
        } else {
            restart_policy(spec)
        }),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(
                spec.log_opts
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        }),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        network_mode: Some(match (spec.nethost, network) {
            (true, _) => "host".to_string(),
            (false, Some(n)) => n.to_string(),
            (false, None) => "bridge".to_string(),
        }),
        ..Default::default()
    };
    if let Some(dns) = &spec.dns {
        host_config.dns = Some(vec![value_of(&dns.server)]);
        host_config.dns_search = Some(vec![dns.zone.clone()]);
    }
    apply_extra_args(&spec.extra_args, &mut host_config);
    let mut container_labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    container_labels.insert(labels::RUN_DIR.to_string(), run.display().to_string());
    let desired = Desired::of(spec, &value_of);
    container_labels.insert(labels::FINGERPRINT.to_string(), desired.fingerprint());
    container_labels.insert(labels::DESIRED.to_string(), desired.to_label());
    // The DNS server takes the address its network reserves for it (none on a network an
    // earlier dops made: then Docker's choice, as before).
    let pinned = match (spec.pinned, network) {
        (true, Some(n)) => super::network::dns_address(engine, n).await?,
        _ => None,
    };
    let networking_config = network.map(|n| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            n.to_string(),
            EndpointSettings {
                aliases: Some(vec![spec.hostname.clone()]),
                ipam_config: pinned.map(|ip| EndpointIpamConfig {
                    ipv4_address: Some(ip),
                    ..Default::default()
                }),
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
                    "{} already runs\nhint: `dops run:…` replaces it when it changed, --force-recreate anyway",
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

/// Graceful stop: SIGTERM (dops-init withdraws from the DNS, drains, stops its programs), then
/// SIGKILL after `timeout_s`. True when it existed.
pub async fn stop_container(
    engine: &Engine,
    name: &str,
    timeout_s: u64,
) -> Result<bool, EngineError> {
    let stop = StopContainerOptions {
        t: Some(timeout_s.min(i32::MAX as u64) as i32),
        signal: None,
    };
    match engine.api().stop_container(name, Some(stop)).await {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) if is_not_modified(&e) => Ok(true),
        Err(e) => Err(EngineError::docker(format!("stop {name}"), e)),
    }
}

/// Give a container another name.
pub async fn rename_container(engine: &Engine, name: &str, to: &str) -> Result<(), EngineError> {
    engine
        .api()
        .rename_container(
            name,
            RenameContainerOptions {
                name: to.to_string(),
            },
        )
        .await
        .map_err(|e| EngineError::docker(format!("rename {name} to {to}"), e))
}

/// Graceful stop (SIGTERM, then SIGKILL after `timeout_s`), then remove; the container's DNS
/// key file goes with it (its run folder stays: the state and logs of what ran). True when it
/// existed.
pub async fn remove_container(
    engine: &Engine,
    name: &str,
    timeout_s: u64,
) -> Result<bool, EngineError> {
    let run_dir = engine
        .api()
        .inspect_container(name, None)
        .await
        .ok()
        .and_then(|c| c.config?.labels?.remove(labels::RUN_DIR));
    if !stop_container(engine, name, timeout_s).await? {
        return Ok(false);
    }
    let rm = RemoveContainerOptions {
        v: true,
        force: true,
        link: false,
    };
    let removed = match engine.api().remove_container(name, Some(rm)).await {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(true),
        // Removal already in progress (e.g. a concurrent clean).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(true),
        Err(e) => Err(EngineError::docker(format!("remove {name}"), e)),
    }?;
    if let Some(dir) = run_dir {
        // Each container has its own run folder (a replacement gets a new one), so this is the
        // removed container's key only. Already gone is fine.
        remove_key_file(Path::new(&dir))?;
    }
    Ok(removed)
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

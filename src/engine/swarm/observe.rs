//! What a swarm holds for a project, as the same `Observed` data the planner reads for one
//! engine: one `ObservedContainer` per service (its current task's state and node), the overlay
//! network, the builder's images, and the nodes.
//!
//! A task is `running` only once its container is healthy (Swarm waits for the health check
//! before it calls a task running): with dops-init's health check, running means UP.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{Node, Service, Task, TaskState};
use bollard::query_parameters::{
    InspectNetworkOptions, ListImagesOptions, ListNetworksOptions, ListNodesOptions,
    ListServicesOptions, ListTasksOptions,
};

use super::target::Swarm;
use crate::engine::error::EngineError;
use crate::labels;
use crate::observed::{Observed, ObservedContainer, ObservedNode};

fn filter(key: &str, values: Vec<String>) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([(key.to_string(), values)]))
}

/// Services, tasks, networks and nodes of the swarm; images of the build engine.
pub async fn observe(swarm: &Swarm, project: &str) -> Result<Observed, EngineError> {
    let by_project = format!("{}={project}", labels::PROJECT);
    let api = swarm.manager.api();
    let (services, networks, nodes, running, images) = tokio::join!(
        api.list_services(Some(ListServicesOptions {
            filters: filter("label", vec![by_project.clone()]),
            ..Default::default()
        })),
        api.list_networks(Some(ListNetworksOptions {
            filters: filter("label", vec![by_project.clone()]),
        })),
        api.list_nodes(None::<ListNodesOptions>),
        api.list_tasks(Some(ListTasksOptions {
            filters: filter("desired-state", vec!["running".into()]),
        })),
        swarm.builder.api().list_images(Some(ListImagesOptions {
            filters: filter("label", vec![by_project]),
            ..Default::default()
        })),
    );
    let services = services.map_err(|e| EngineError::docker("list services", e))?;
    let networks = networks.map_err(|e| EngineError::docker("list networks", e))?;
    let nodes = nodes.map_err(|e| EngineError::docker("list nodes", e))?;
    let running = running.map_err(|e| EngineError::docker("list tasks", e))?;
    let images = images.map_err(|e| EngineError::docker("list images", e))?;

    let ids: Vec<String> = services.iter().filter_map(|s| s.id.clone()).collect();
    let tasks = if ids.is_empty() {
        Vec::new()
    } else {
        api.list_tasks(Some(ListTasksOptions {
            filters: filter("service", ids),
        }))
        .await
        .map_err(|e| EngineError::docker("list tasks", e))?
    };
    let node_names: HashMap<String, String> = nodes
        .iter()
        .filter_map(|n| Some((n.id.clone()?, n.description.as_ref()?.hostname.clone()?)))
        .collect();
    let network_names: Vec<String> = networks.iter().filter_map(|n| n.name.clone()).collect();
    let addresses = match network_names.iter().find(|n| *n == project) {
        Some(n) => task_addresses(swarm, n).await,
        None => HashMap::new(),
    };

    let mut observed = Observed {
        containers: services
            .iter()
            .map(|s| to_observed(s, &tasks, &node_names, &addresses))
            .collect(),
        networks: network_names,
        images: BTreeMap::new(),
        dns_addresses: BTreeMap::new(),
        nodes: nodes.iter().map(|n| to_node(n, &running)).collect(),
    };
    observed.containers.sort_by(|a, b| a.name.cmp(&b.name));
    observed.networks.sort();
    observed.nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    for img in images {
        for tag in &img.repo_tags {
            if tag != "<none>:<none>" {
                observed.images.insert(tag.clone(), img.id.clone());
            }
        }
    }
    Ok(observed)
}

/// Task name → address on the project network. Bollard's `Task` has no network attachments;
/// a verbose inspect of the overlay lists them (as the manager's network database knows them:
/// empty when no task of the network runs on the manager, then the addresses stay unknown).
async fn task_addresses(swarm: &Swarm, network: &str) -> HashMap<String, String> {
    let Ok(n) = swarm
        .manager
        .api()
        .inspect_network(
            network,
            Some(InspectNetworkOptions {
                verbose: true,
                scope: Some("swarm".into()),
            }),
        )
        .await
    else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for svc in n.services.unwrap_or_default().values() {
        for t in svc
            .get("Tasks")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            if let (Some(name), Some(ip)) = (
                t.get("Name").and_then(|v| v.as_str()),
                t.get("EndpointIP").and_then(|v| v.as_str()),
            ) {
                out.insert(name.to_string(), ip.to_string());
            }
        }
    }
    out
}

/// The task that stands for the instance now: the newest one Swarm wants running, else the
/// newest one.
pub(super) fn current_task<'a>(service_id: &str, tasks: &'a [Task]) -> Option<&'a Task> {
    let of_service = || {
        tasks
            .iter()
            .filter(move |t| t.service_id.as_deref() == Some(service_id))
    };
    let newest = |a: &&Task, b: &&Task| {
        (a.created_at.as_deref(), a.id.as_deref()).cmp(&(b.created_at.as_deref(), b.id.as_deref()))
    };
    of_service()
        .filter(|t| matches!(t.desired_state, Some(TaskState::RUNNING)))
        .max_by(newest)
        .or_else(|| of_service().max_by(newest))
}

/// A task's full name as the network database knows it: `<service>.<slot>.<task id>`.
fn task_name(service: &str, t: &Task) -> String {
    format!(
        "{service}.{}.{}",
        t.slot.unwrap_or(1),
        t.id.as_deref().unwrap_or_default()
    )
}

fn to_observed(
    s: &Service,
    tasks: &[Task],
    node_names: &HashMap<String, String>,
    addresses: &HashMap<String, String>,
) -> ObservedContainer {
    let spec = s.spec.clone().unwrap_or_default();
    let labels: BTreeMap<String, String> = spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let name = spec.name.clone().unwrap_or_default();
    let image = spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let image = image.split('@').next().unwrap_or_default().to_string();
    let task = current_task(s.id.as_deref().unwrap_or_default(), tasks);
    let status = task.and_then(|t| t.status.clone()).unwrap_or_default();
    let task_state = status
        .state
        .map(|s| s.to_string())
        .unwrap_or_else(|| "no task".into());
    let node = task
        .and_then(|t| t.node_id.as_ref())
        .and_then(|id| node_names.get(id).cloned());
    let state = match task_state.as_str() {
        "running" => "running".to_string(),
        // Its container runs, its health check has not passed yet.
        "starting" => "starting".to_string(),
        "complete" => "exited".to_string(),
        other => other.to_string(),
    };
    let mut line = format!("task {task_state}");
    if let Some(n) = &node {
        line.push_str(&format!(" on {n}"));
    }
    let why = status.err.clone().filter(|e| !e.is_empty()).or_else(|| {
        status
            .message
            .clone()
            .filter(|m| !m.is_empty() && task_state != "running")
    });
    if let Some(w) = why {
        line.push_str(&format!(": {w}"));
    }
    let ports = spec
        .endpoint_spec
        .as_ref()
        .and_then(|e| e.ports.clone())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            format!(
                "*:{}->{}/{}",
                p.published_port.unwrap_or_default(),
                p.target_port.unwrap_or_default(),
                p.protocol
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "tcp".into())
            )
        })
        .collect();
    let ip = task
        .and_then(|t| addresses.get(&task_name(&name, t)))
        .and_then(|ip| ip.parse().ok());
    ObservedContainer {
        id: s.id.clone().unwrap_or_default(),
        name,
        service: get(labels::SERVICE),
        instance: get(labels::INSTANCE),
        instance_type: get(labels::INSTANCE_TYPE),
        image,
        image_id: get(labels::IMAGE_ID),
        health: match state.as_str() {
            "running" => Some("healthy".into()),
            "starting" => Some("starting".into()),
            _ => None,
        },
        state,
        status: line,
        ip,
        ports,
        created: s
            .created_at
            .as_deref()
            .and_then(|c| {
                time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| t.unix_timestamp())
            .unwrap_or_default(),
        labels,
        node,
    }
}

fn to_node(n: &Node, running: &[Task]) -> ObservedNode {
    let spec = n.spec.clone().unwrap_or_default();
    let status = n.status.clone().unwrap_or_default();
    let id = n.id.clone().unwrap_or_default();
    ObservedNode {
        running_tasks: running
            .iter()
            .filter(|t| t.node_id.as_deref() == Some(id.as_str()))
            .filter(|t| {
                matches!(
                    t.status.as_ref().and_then(|s| s.state),
                    Some(TaskState::RUNNING | TaskState::STARTING)
                )
            })
            .count(),
        id,
        hostname: n
            .description
            .as_ref()
            .and_then(|d| d.hostname.clone())
            .unwrap_or_default(),
        addr: status.addr.unwrap_or_default(),
        role: spec.role.map(|r| r.to_string()).unwrap_or_default(),
        availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
        state: status.state.map(|s| s.to_string()).unwrap_or_default(),
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
    }
}

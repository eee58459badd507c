//! What the engine holds for a project, as plain `Observed` data: one list call per kind
//! (containers, networks, images), never a per-container inspect, so `dops ps` stays fast.
//! `ps` and `status` show containers only and ask for nothing else (`observe_containers`): the
//! image list alone costs a Docker 20.10 engine 40 to 300 ms, several times the container list.

use std::collections::{BTreeMap, HashMap};

use bollard::models::ContainerSummary;
use bollard::query_parameters::{ListContainersOptions, ListImagesOptions, ListNetworksOptions};

use super::connect::Engine;
use super::error::EngineError;
use crate::labels;
use crate::observed::{Observed, ObservedContainer};

fn label_filter(value: String) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![value])])
}

/// Containers, networks and images labelled `io.dops.project=<project>`.
pub async fn observe(engine: &Engine, project: &str) -> Result<Observed, EngineError> {
    let filter = label_filter(format!("{}={project}", labels::PROJECT));
    let api = engine.api();
    let (containers, networks, images) = tokio::join!(
        engine.list_containers(ListContainersOptions {
            all: true,
            filters: Some(filter.clone()),
            ..Default::default()
        }),
        api.list_networks(Some(ListNetworksOptions {
            filters: Some(filter.clone()),
        })),
        api.list_images(Some(ListImagesOptions {
            filters: Some(filter.clone()),
            ..Default::default()
        })),
    );
    let networks = networks.map_err(|e| EngineError::docker("list networks", e))?;
    let images = images.map_err(|e| EngineError::docker("list images", e))?;
    let mut tags = BTreeMap::new();
    for img in images {
        for tag in img.repo_tags {
            if tag != "<none>:<none>" {
                tags.insert(tag, img.id.clone());
            }
        }
    }
    Ok(assemble(containers?, networks, tags))
}

/// What a plan needs: as `observe`, but the images are only those named (the project's
/// services' images), each inspected by its name, rather than the engine's whole image list
/// filtered by label: Docker 20.10 lists images in 20 to 300 ms whatever the filter (it sizes
/// every image it holds), and inspects one in about a millisecond. An image counts only when it
/// carries the project's label, as in the filtered list. On a listing engine
/// (`connect_for_listing`) the container list comes first: it is the first contact, which
/// negotiates the API version when the engine refuses the one asked.
pub async fn observe_for_plan(
    engine: &Engine,
    project: &str,
    images: &[String],
) -> Result<Observed, EngineError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    /// Inspections at once (one connection each).
    const AT_ONCE: usize = 16;
    let filter = label_filter(format!("{}={project}", labels::PROJECT));
    let containers = engine
        .list_containers(ListContainersOptions {
            all: true,
            filters: Some(filter.clone()),
            ..Default::default()
        })
        .await?;
    let networks = engine.api().list_networks(Some(ListNetworksOptions {
        filters: Some(filter),
    }));
    let inspected = stream::iter(images)
        .map(|name| image_info(engine, name))
        .buffer_unordered(AT_ONCE)
        .try_collect::<Vec<_>>();
    let (networks, inspected) = tokio::join!(networks, inspected);
    let networks = networks.map_err(|e| EngineError::docker("list networks", e))?;
    let mut tags = BTreeMap::new();
    for info in inspected?.into_iter().flatten() {
        if info.labels.get(labels::PROJECT).map(String::as_str) == Some(project) {
            for tag in info.tags {
                tags.insert(tag, info.id.clone());
            }
        }
    }
    Ok(assemble(containers, networks, tags))
}

/// The observed state of listed containers and networks, and the images' tags.
fn assemble(
    containers: Vec<ContainerSummary>,
    networks: Vec<bollard::models::Network>,
    images: BTreeMap<String, String>,
) -> Observed {
    let dns_addresses = networks
        .iter()
        .filter_map(|n| {
            let address = n.labels.as_ref()?.get(labels::DNS_ADDRESS)?;
            Some((n.name.clone()?, address.clone()))
        })
        .collect();
    let mut observed = Observed {
        containers: containers.into_iter().map(to_observed).collect(),
        networks: networks.into_iter().filter_map(|n| n.name).collect(),
        images,
        dns_addresses,
        nodes: Vec::new(),
    };
    observed.containers.sort_by(|a, b| a.name.cmp(&b.name));
    observed.networks.sort();
    observed
}

/// The containers labelled `io.dops.project=<project>` alone (no network, no image), in name
/// order: one list call. For `dops ps` and `dops status`.
pub async fn observe_containers(engine: &Engine, project: &str) -> Result<Observed, EngineError> {
    let containers = engine
        .list_containers(ListContainersOptions {
            all: true,
            filters: Some(label_filter(format!("{}={project}", labels::PROJECT))),
            ..Default::default()
        })
        .await?;
    let mut containers: Vec<ObservedContainer> = containers.into_iter().map(to_observed).collect();
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Observed {
        containers,
        ..Observed::default()
    })
}

/// Every dops container on the engine (any project): one list call. For `dops ps --all`.
pub async fn observe_all(engine: &Engine) -> Result<Vec<ObservedContainer>, EngineError> {
    let containers = engine
        .list_containers(ListContainersOptions {
            all: true,
            filters: Some(label_filter(labels::PROJECT.to_string())),
            ..Default::default()
        })
        .await?;
    let mut out: Vec<ObservedContainer> = containers.into_iter().map(to_observed).collect();
    out.sort_by(|a, b| {
        let pa = a.labels.get(labels::PROJECT);
        let pb = b.labels.get(labels::PROJECT);
        pa.cmp(&pb).then(a.name.cmp(&b.name))
    });
    Ok(out)
}

fn health_of(status: &str) -> Option<String> {
    for h in ["healthy", "unhealthy", "health: starting"] {
        if status.contains(&format!("({h})")) {
            return Some(h.trim_start_matches("health: ").to_string());
        }
    }
    None
}

fn to_observed(c: ContainerSummary) -> ObservedContainer {
    let labels: BTreeMap<String, String> = c.labels.unwrap_or_default().into_iter().collect();
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let name = c
        .names
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let status = c.status.unwrap_or_default();
    let project = get(labels::PROJECT);
    let networks = c
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    // The address on the project network first, any network otherwise.
    let ip = networks
        .get(&project)
        .and_then(|e| e.ip_address.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let mut names: Vec<&String> = networks.keys().collect();
            names.sort();
            names
                .into_iter()
                .filter_map(|n| networks[n].ip_address.clone())
                .find(|s| !s.is_empty())
        })
        .and_then(|s| s.parse().ok());
    let mut ports: Vec<String> = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let proto = p
                .typ
                .map(|t| t.to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "tcp".into());
            let public = p.public_port?;
            let ip = p.ip.unwrap_or_default();
            // Docker lists an IPv6 twin of every IPv4 binding on 0.0.0.0: keep one.
            if ip == "::" {
                return None;
            }
            Some(format!("{ip}:{public}->{}/{proto}", p.private_port))
        })
        .collect();
    ports.sort();
    ports.dedup();
    let state = c.state.map(|s| s.to_string()).unwrap_or_default();
    ObservedContainer {
        id: c.id.unwrap_or_default(),
        name,
        service: get(labels::SERVICE),
        instance: get(labels::INSTANCE),
        instance_type: get(labels::INSTANCE_TYPE),
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        state,
        health: health_of(&status),
        status,
        ip,
        ports,
        created: c.created.unwrap_or_default(),
        labels,
        node: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_comes_from_the_status_line() {
        assert_eq!(
            health_of("Up 3 seconds (healthy)").as_deref(),
            Some("healthy")
        );
        assert_eq!(
            health_of("Up 1 second (health: starting)").as_deref(),
            Some("starting")
        );
        assert_eq!(health_of("Up 2 hours"), None);
    }
}

/// What `dops info` shows of an image, as plain data.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImageInfo {
    pub id: String,
    pub created: Option<String>,
    /// Its names (`repo:tag`); not shown (`dops info` names the image already).
    #[serde(skip)]
    pub tags: Vec<String>,
    /// The program dops-init runs (see `inject::main_program`).
    pub main_program: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// Inspect one image; None when it does not exist.
pub async fn image_info(engine: &Engine, image: &str) -> Result<Option<ImageInfo>, EngineError> {
    let i = match engine.api().inspect_image(image).await {
        Ok(i) => i,
        Err(e) if super::error::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(EngineError::docker(format!("inspect image {image}"), e)),
    };
    let config = i.config.unwrap_or_default();
    let mut exposed_ports = config.exposed_ports.unwrap_or_default();
    exposed_ports.sort();
    Ok(Some(ImageInfo {
        id: i.id.unwrap_or_default(),
        created: i.created.map(|c| c.to_string()),
        tags: i.repo_tags.unwrap_or_default(),
        main_program: super::inject::main_program(
            &config.entrypoint.unwrap_or_default(),
            &config.cmd.unwrap_or_default(),
        ),
        exposed_ports,
        labels: config.labels.unwrap_or_default().into_iter().collect(),
    }))
}

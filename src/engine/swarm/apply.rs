//! Executing a plan on a swarm: the same steps as on one engine, each one Swarm's way.
//!
//! - `EnsureNetwork`: an attachable overlay.
//! - `Build`: on the build engine (as on one engine); images are pushed when a service needs
//!   them (content tags: an unchanged image is not pushed twice).
//! - `Pin`: the node label that keeps a persistent instance on its node.
//! - `Run`: `create_service` (one replica), with the instance's DNS key as a secret (created
//!   first); an existing service that does not run is removed first (the plan says so with a
//!   `Remove`).
//! - `Replace`: `update_service` with the new spec and the roll-out settings, then wait for the
//!   update to end; rolled back or paused is a failure (the roll-out stops there). A new key is
//!   a new secret; the old one goes once the update succeeded.
//! - `Remove`: `delete_service`, then wait (bounded) until its task is gone, so that its name
//!   and the network are free again; its key secrets go. Volumes stay.
//! - `PurgeVolumes`: the volumes on the instance's node (through `NODE_ENGINE`), then the pin.
//! - `WaitFor`: the tasks running (UP).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::UpdateServiceOptions;

use super::images::{push, Pushed};
use super::nodes::set_label;
use super::secrets;
use super::service_spec::{service_spec, Rollout};
use super::target::Swarm;
use super::tasks::Located;
use super::wait::{wait_up, wait_update};
use crate::engine::apply::{builds_at, removals_at, wave_at, Applied, ApplyContext};
use crate::engine::build::build_all;
use crate::engine::error::{is_not_found, EngineError};
use crate::engine::progress::Progress;
use crate::plan::{ContainerSpec, Plan, Replacement, Step, STOP_TIMEOUT_S};
use crate::project::policies::{Condition, UpdateOrder};

/// How long a new instance may take to be UP before Swarm counts its task as failed.
const START_PERIOD_S: u64 = crate::plan::ROLLOUT_TIMEOUT_S;

/// Execute every step of the plan on the swarm, in order; stops at the first error.
pub async fn apply(swarm: &Swarm, plan: &Plan, ctx: &ApplyContext) -> Result<Applied, EngineError> {
    let mut applied = Applied::default();
    let mut pushed: HashMap<String, Pushed> = HashMap::new();
    let mut i = 0;
    while i < plan.steps.len() {
        if let Step::Build(_) = &plan.steps[i] {
            let builds = builds_at(&plan.steps, &mut i);
            applied
                .built
                .extend(build_all(&swarm.builder, &builds, &ctx.build, &ctx.report).await?);
            continue;
        }
        if let Step::Remove { .. } = &plan.steps[i] {
            // Consecutive removals go together (each task drains for its own grace period).
            let batch = removals_at(&plan.steps, &mut i);
            let results =
                futures_util::future::join_all(batch.iter().map(|(c, t)| remove(swarm, c, *t)))
                    .await;
            for ((container, _), r) in batch.iter().zip(results) {
                if r? {
                    ctx.done(format!("removed service {container}"));
                    applied.removed.push((*container).clone());
                }
            }
            continue;
        }
        if let Step::Replace(first) = &plan.steps[i] {
            // One wave of one service's roll-out: its updates go together.
            let wave = wave_at(&plan.steps, first, &mut i);
            for r in &wave {
                image_for(swarm, &r.spec, &mut pushed, ctx).await?;
            }
            let results = futures_util::future::join_all(
                wave.iter()
                    .map(|r| update(swarm, r, &pushed[&r.spec.image], ctx)),
            )
            .await;
            for (r, result) in wave.iter().zip(results) {
                result?;
                applied.replaced.push(r.container.clone());
            }
            continue;
        }
        match &plan.steps[i] {
            Step::EnsureNetwork { name, labels } => {
                if ensure_overlay(swarm, name, labels).await? {
                    ctx.done(format!("created overlay network {name}"));
                }
            }
            Step::Build(_) | Step::Replace(_) => {}
            Step::Pin {
                container,
                node,
                label,
            } => {
                set_label(swarm, node, label, Some("true")).await?;
                ctx.done(format!("pinned {container} to node {node}"));
            }
            Step::Run(spec) => {
                if spec.interactive {
                    return Err(EngineError::Other(format!(
                        "{}: interactive instances need a terminal dops attaches to; on a swarm run it with --engine local, or use `dops shell`",
                        spec.name
                    )));
                }
                let image = image_for(swarm, spec, &mut pushed, ctx).await?;
                create(swarm, spec, &image).await?;
                ctx.done(format!("created service {}", spec.name));
                applied.started.push(spec.name.clone());
            }
            Step::Keep { container, note } => {
                ctx.done(match note {
                    Some(n) => format!("{container} kept ({n})"),
                    None => format!("{container} is up to date"),
                });
                applied.kept.push(container.clone());
            }
            Step::Restore { container, .. } => {
                return Err(EngineError::Other(format!(
                    "{container}: a roll-out of one engine can't be finished on a swarm"
                )))
            }
            Step::Remove { .. } => {}
            Step::PurgeData { container, .. } => {
                return Err(EngineError::Other(format!(
                    "{container}: host folders are not a swarm's persistent data"
                )))
            }
            Step::PurgeVolumes {
                container,
                node,
                volumes,
                label,
            } => {
                let gone = purge_volumes(swarm, node, volumes).await?;
                set_label(swarm, node, label, None).await?;
                ctx.done(format!(
                    "deleted the persistent data of {container} on node {node} ({})",
                    if gone.is_empty() {
                        "no volume left".to_string()
                    } else {
                        gone.join(", ")
                    }
                ));
            }
            Step::RemoveNetwork { name } => {
                if remove_network(swarm, name).await? {
                    ctx.done(format!("removed overlay network {name}"));
                }
            }
            Step::WaitFor {
                containers,
                condition,
                timeout_s,
            } => match condition {
                Condition::Started => {}
                Condition::Up | Condition::Completed => {
                    wait_up(
                        swarm,
                        &plan.project,
                        containers,
                        Some(Duration::from_secs(*timeout_s)),
                        &ctx.report,
                    )
                    .await?
                }
            },
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

/// The pushed image of a spec (pushed once per command).
async fn image_for(
    swarm: &Swarm,
    spec: &ContainerSpec,
    pushed: &mut HashMap<String, Pushed>,
    ctx: &ApplyContext,
) -> Result<Pushed, EngineError> {
    if let Some(p) = pushed.get(&spec.image) {
        return Ok(p.clone());
    }
    let p = push(swarm, &spec.image).await?;
    ctx.done(format!("pushed {}", p.reference));
    pushed.insert(spec.image.clone(), p.clone());
    Ok(p)
}

async fn ensure_overlay(
    swarm: &Swarm,
    name: &str,
    labels: &crate::plan::Labels,
) -> Result<bool, EngineError> {
    let api = swarm.manager.api();
    match api.inspect_network(name, None).await {
        Ok(_) => return Ok(false),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(EngineError::docker(format!("inspect network {name}"), e)),
    }
    let req = NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("overlay".into()),
        attachable: Some(true),
        labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ..Default::default()
    };
    match api.create_network(req).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(false),
        Err(e) => Err(EngineError::docker(format!("create network {name}"), e)),
    }
}

fn new_rollout() -> Rollout {
    Rollout {
        order: UpdateOrder::StopFirst,
        rollback: true,
        timeout_s: START_PERIOD_S,
        stop_timeout_s: STOP_TIMEOUT_S,
    }
}

async fn create(swarm: &Swarm, spec: &ContainerSpec, image: &Pushed) -> Result<(), EngineError> {
    let key = secrets::ensure(swarm, spec).await?;
    let body = service_spec(
        spec,
        &image.reference,
        &image.id,
        key.as_ref(),
        new_rollout(),
    )
    .map_err(EngineError::Other)?;
    match swarm.manager.api().create_service(body, None).await {
        Ok(_) => {
            // Secrets of an earlier service of this name that could not go then.
            secrets::prune(swarm, &spec.name, key.as_ref().map(|k| k.name.as_str())).await?;
            Ok(())
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Err(EngineError::Other(format!(
            "service {} already exists\nhint: use --replace to replace it",
            spec.name
        ))),
        Err(e) => Err(EngineError::docker(
            format!("create service {}", spec.name),
            e,
        )),
    }
}

/// Swarm's roll-out of one instance: the new spec with the replacement's settings, then the
/// outcome.
async fn update(
    swarm: &Swarm,
    r: &Replacement,
    image: &Pushed,
    ctx: &ApplyContext,
) -> Result<(), EngineError> {
    let api = swarm.manager.api();
    let current = api
        .inspect_service(&r.container, None)
        .await
        .map_err(|e| EngineError::docker(format!("inspect service {}", r.container), e))?;
    let before = current.update_status.and_then(|u| u.started_at);
    // A replacement always means a new task, even when the spec is the same (rerun).
    let forced = current
        .spec
        .as_ref()
        .and_then(|s| s.task_template.as_ref())
        .and_then(|t| t.force_update)
        .unwrap_or(0)
        + 1;
    let version = current
        .version
        .and_then(|v| v.index)
        .map(|v| i32::try_from(v).unwrap_or(i32::MAX))
        .unwrap_or_default();
    let rollout = Rollout {
        order: r.order,
        rollback: r.rollback,
        timeout_s: r.timeout_s,
        stop_timeout_s: r.stop_timeout_s,
    };
    let key = secrets::ensure(swarm, &r.spec).await?;
    let mut body = service_spec(&r.spec, &image.reference, &image.id, key.as_ref(), rollout)
        .map_err(EngineError::Other)?;
    if let Some(t) = body.task_template.as_mut() {
        t.force_update = Some(forced);
    }
    (ctx.report)(Progress::Waiting {
        container: r.container.clone(),
        state: format!("updating ({})", r.order.as_str()),
    });
    api.update_service(
        &r.container,
        body,
        UpdateServiceOptions {
            version,
            ..Default::default()
        },
        None,
    )
    .await
    .map_err(|e| EngineError::docker(format!("update service {}", r.container), e))?;
    let result = wait_update(swarm, &r.container, before, r.timeout_s).await;
    (ctx.report)(Progress::WaitOver);
    result?;
    // Rolled out: the previous key's secret is no longer the service's (a rollback keeps it).
    secrets::prune(swarm, &r.container, key.as_ref().map(|k| k.name.as_str())).await?;
    ctx.done(format!("updated service {} (UP)", r.container));
    Ok(())
}

/// Delete a service and wait (bounded) until its tasks are gone; true when it existed.
pub(super) async fn remove(
    swarm: &Swarm,
    name: &str,
    stop_timeout_s: u64,
) -> Result<bool, EngineError> {
    let api = swarm.manager.api();
    // Where its task runs, found before the service goes (afterwards the manager forgets it
    // while the node still stops it).
    let at = super::tasks::locate(swarm, name).await.ok();
    match api.delete_service(name).await {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => {
            // Its key secrets go with it (left over from an interrupted removal too).
            secrets::prune(swarm, name, None).await?;
            return Ok(false);
        }
        Err(e) => return Err(EngineError::docker(format!("remove service {name}"), e)),
    }
    remove_after(swarm, at, stop_timeout_s).await;
    // The service is gone: its key secrets go with it.
    secrets::prune(swarm, name, None).await?;
    Ok(true)
}

/// Wait (bounded) until the task of a deleted service no longer runs, where its node's engine is
/// reachable.
async fn remove_after(swarm: &Swarm, at: Option<Located>, stop_timeout_s: u64) {
    // The task stops gracefully (dops-init withdraws from the DNS and drains) within the grace
    // period. Where the node's engine is reachable (NODE_ENGINE), wait until it is gone, so that
    // `clean` returns when the instance no longer runs.
    let (Some(at), Some(_)) = (at, &swarm.node_engine) else {
        return;
    };
    let Ok(node) = swarm.node(&at.node, &at.addr).await else {
        return;
    };
    let limit = std::time::Instant::now() + Duration::from_secs(stop_timeout_s + 20);
    while std::time::Instant::now() < limit {
        match node.api().inspect_container(&at.container_id, None).await {
            Ok(c) if c.state.as_ref().and_then(|s| s.running) == Some(true) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            _ => break,
        }
    }
}

async fn remove_network(swarm: &Swarm, name: &str) -> Result<bool, EngineError> {
    let api = swarm.manager.api();
    // Tasks leave the overlay a moment after they are gone: try for a few seconds.
    for _ in 0..20 {
        match api.remove_network(name).await {
            Ok(()) => return Ok(true),
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 403 | 409 | 500,
                ..
            }) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => return Err(EngineError::docker(format!("remove network {name}"), e)),
        }
    }
    Ok(false)
}

/// Remove those of `volumes` that exist on `node`; the ones removed.
async fn purge_volumes(
    swarm: &Swarm,
    node: &str,
    volumes: &[String],
) -> Result<Vec<String>, EngineError> {
    let n = swarm
        .manager
        .api()
        .inspect_node(node)
        .await
        .map_err(|e| EngineError::docker(format!("inspect node {node}"), e))?;
    let addr = n.status.and_then(|s| s.addr).unwrap_or_default();
    let engine = swarm.node(node, &addr).await?;
    let mut gone = Vec::new();
    for v in volumes {
        // The task's container may still be going away: a volume in use is retried briefly.
        let mut attempts = 0;
        loop {
            match engine
                .api()
                .remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>)
                .await
            {
                Ok(()) => {
                    gone.push(v.clone());
                    break;
                }
                Err(e) if is_not_found(&e) => break,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) if attempts < 20 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    return Err(EngineError::docker(
                        format!("remove volume {v} on node {node}"),
                        e,
                    ))
                }
            }
        }
    }
    Ok(gone)
}

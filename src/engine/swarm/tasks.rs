//! Where an instance of a swarm runs (its node and container, for a shell), and its logs (the
//! service's, across its tasks).

use std::sync::{Arc, Mutex};

use bollard::container::LogOutput;
use bollard::models::TaskState;
use bollard::query_parameters::{ListTasksOptions, LogsOptions};
use futures_util::StreamExt;

use super::target::Swarm;
use crate::engine::connect::Engine;
use crate::engine::error::{is_not_found, EngineError};
use crate::engine::logs::{emit, first_error, split_ts, LogLines, LogsOptionsDops, Shared};
use crate::engine::progress::Sink;

/// The running container of an instance: on which node, under which id.
#[derive(Debug, Clone)]
pub struct Located {
    pub node: String,
    pub addr: String,
    pub container_id: String,
}

/// Find the running task of a service.
pub async fn locate(swarm: &Swarm, service: &str) -> Result<Located, EngineError> {
    let api = swarm.manager.api();
    let tasks = api
        .list_tasks(Some(ListTasksOptions {
            filters: Some(
                [
                    ("service".to_string(), vec![service.to_string()]),
                    ("desired-state".to_string(), vec!["running".to_string()]),
                ]
                .into(),
            ),
        }))
        .await
        .map_err(|e| EngineError::docker(format!("tasks of {service}"), e))?;
    let task = tasks
        .iter()
        .filter(|t| {
            t.service_id.is_some()
                && matches!(
                    t.status.as_ref().and_then(|s| s.state),
                    Some(TaskState::RUNNING | TaskState::STARTING)
                )
        })
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
        .ok_or_else(|| EngineError::NotRunning {
            name: service.to_string(),
        })?;
    let container_id = task
        .status
        .as_ref()
        .and_then(|s| s.container_status.as_ref())
        .and_then(|c| c.container_id.clone())
        .ok_or_else(|| EngineError::NotRunning {
            name: service.to_string(),
        })?;
    let node_id = task.node_id.clone().unwrap_or_default();
    let node = api
        .inspect_node(&node_id)
        .await
        .map_err(|e| EngineError::docker(format!("inspect node {node_id}"), e))?;
    Ok(Located {
        node: node.description.and_then(|d| d.hostname).unwrap_or(node_id),
        addr: node.status.and_then(|s| s.addr).unwrap_or_default(),
        container_id,
    })
}

/// The engine of the node an instance runs on, and its container there.
pub async fn on_its_node(swarm: &Swarm, service: &str) -> Result<(Engine, String), EngineError> {
    let at = locate(swarm, service).await?;
    let engine = swarm.node(&at.node, &at.addr).await?;
    Ok((engine, at.container_id))
}

/// The logs of several services (name, prefix), as `engine::logs` does for containers.
pub async fn logs(
    swarm: &Swarm,
    services: Vec<(String, String)>,
    opts: LogsOptionsDops,
    sink: Arc<dyn Sink>,
) -> Result<(), EngineError> {
    let out: Arc<Shared> = Arc::new((Mutex::new(()), sink));
    let mut set = tokio::task::JoinSet::new();
    for (name, prefix) in services {
        let api = swarm.manager.clone();
        let opts = opts.clone();
        let out = out.clone();
        set.spawn(async move { one(&api, &name, &prefix, &opts, &out).await });
    }
    first_error(set).await
}

async fn one(
    manager: &Engine,
    name: &str,
    prefix: &str,
    opts: &LogsOptionsDops,
    out: &Shared,
) -> Result<(), EngineError> {
    // Swarm follows the service across its tasks by itself.
    let mut stream = manager.api().service_logs(
        name,
        Some(LogsOptions {
            follow: opts.follow,
            stdout: true,
            stderr: true,
            since: 0,
            until: 0,
            timestamps: true,
            tail: opts.tail.clone(),
        }),
    );
    let mut lines = LogLines::default();
    while let Some(item) = stream.next().await {
        let (is_err, bytes) = match item {
            Ok(LogOutput::StdErr { message }) => (true, message),
            Ok(o) => (false, o.into_bytes()),
            Err(e) if is_not_found(&e) => {
                return Err(EngineError::NoSuchContainer {
                    name: name.to_string(),
                })
            }
            Err(e) => return Err(EngineError::docker(format!("logs of {name}"), e)),
        };
        lines.push(is_err, &bytes, |line| {
            emit(out, prefix, is_err, split_ts(line).1)
        });
    }
    for (is_err, rest) in lines.rest() {
        emit(out, prefix, is_err, rest);
    }
    Ok(())
}

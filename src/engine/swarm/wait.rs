//! Waiting on a swarm: for instances to be UP (their task running, which Swarm says only once
//! dops-init's health check passes), and for a service update to end (completed, or rolled
//! back: a failure).

use std::time::{Duration, Instant};

use bollard::models::{ServiceUpdateStatusStateEnum, TaskState};
use bollard::query_parameters::{ListTasksOptions, LogsOptions};
use futures_util::StreamExt;

use super::observe::observe;
use super::target::Swarm;
use crate::engine::error::EngineError;
use crate::engine::progress::Reporter;
use crate::engine::wait::{wait_until_up, Waiting};
use crate::observed::ObservedContainer;

/// A task runs only once dops-init's health check passed: running is UP. Swarm replaces a
/// failed task by itself (the restart policy), so anything but gone or exited is on its way.
fn judge(c: Option<&ObservedContainer>) -> Waiting {
    match c {
        None => Waiting::Failed("gone".into()),
        Some(c) if c.state == "running" => Waiting::Up("UP".into()),
        Some(c) if c.state == "exited" => Waiting::Failed(c.status.clone()),
        Some(c) => Waiting::Pending(c.status.clone()),
    }
}

/// Wait until these services' tasks run (UP); report each change of state.
pub async fn wait_up(
    swarm: &Swarm,
    project: &str,
    services: &[String],
    timeout: Option<Duration>,
    report: &Reporter,
) -> Result<(), EngineError> {
    wait_until_up(services, timeout, report, || observe(swarm, project), judge).await
}

/// The state of a service's last update: (state, started at, message).
pub(super) async fn update_status(
    swarm: &Swarm,
    service: &str,
) -> Result<Option<(ServiceUpdateStatusStateEnum, String, String)>, EngineError> {
    let s = swarm
        .manager
        .api()
        .inspect_service(service, None)
        .await
        .map_err(|e| EngineError::docker(format!("inspect service {service}"), e))?;
    Ok(s.update_status.and_then(|u| {
        Some((
            u.state?,
            u.started_at.unwrap_or_default(),
            u.message.unwrap_or_default(),
        ))
    }))
}

/// Wait for the update Swarm started after `before` (the status seen before the update) to end.
/// Completed: Ok. Rolled back or paused: `RolloutFailed`, with the failed task's last lines.
pub async fn wait_update(
    swarm: &Swarm,
    service: &str,
    before: Option<String>,
    timeout_s: u64,
) -> Result<(), EngineError> {
    use ServiceUpdateStatusStateEnum as S;
    let start = Instant::now();
    // The roll-out itself may take the new task's whole start period, then the monitor period.
    let limit = Duration::from_secs(timeout_s + 30);
    loop {
        let status = update_status(swarm, service).await?;
        if let Some((state, started, message)) = status {
            let ours = before.as_deref() != Some(started.as_str());
            if ours {
                match state {
                    S::COMPLETED => return Ok(()),
                    S::ROLLBACK_COMPLETED | S::ROLLBACK_PAUSED | S::PAUSED => {
                        return Err(EngineError::RolloutFailed {
                            instance: service.to_string(),
                            state: if message.is_empty() {
                                state.to_string()
                            } else {
                                message
                            },
                            log: failed_task_log(swarm, service).await,
                            rolled_back: state != S::PAUSED,
                        })
                    }
                    _ => {}
                }
            }
        }
        if start.elapsed() >= limit {
            return Err(EngineError::Timeout {
                seconds: limit.as_secs(),
                waiting: format!("the update of service {service}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The last lines of the newest task of a service that did not run as wanted.
async fn failed_task_log(swarm: &Swarm, service: &str) -> String {
    let api = swarm.manager.api();
    let Ok(tasks) = api
        .list_tasks(Some(ListTasksOptions {
            filters: Some([("service".to_string(), vec![service.to_string()])].into()),
        }))
        .await
    else {
        return String::new();
    };
    let failed = tasks
        .iter()
        .filter(|t| {
            matches!(
                t.status.as_ref().and_then(|s| s.state),
                Some(TaskState::FAILED | TaskState::REJECTED | TaskState::SHUTDOWN)
            ) && t.status.as_ref().and_then(|s| s.err.as_ref()).is_some()
        })
        .max_by(|a, b| a.created_at.cmp(&b.created_at));
    let Some(t) = failed else {
        return String::new();
    };
    let mut text = String::new();
    if let Some(err) = t.status.as_ref().and_then(|s| s.err.clone()) {
        text.push_str(&format!("(task: {err})\n"));
    }
    let mut stream = api.task_logs(
        t.id.as_deref().unwrap_or_default(),
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            tail: "20".into(),
            ..Default::default()
        }),
    );
    let read = async {
        while let Some(Ok(item)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&item.into_bytes()));
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    text
}

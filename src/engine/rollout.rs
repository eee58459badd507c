//! Carrying out a replacement (see `plan::Replacement`): the sub-steps the plan shows, in order,
//! and the way back when the new container does not reach UP. The planner decided everything;
//! this only executes and reports.

use std::time::Duration;

use super::connect::Engine;
use super::container::{
    release_restart, remove_container, rename_container, run_held, start_container, stop_container,
};
use super::error::EngineError;
use super::progress::{Progress, Reporter};
use crate::plan::Replacement;
use crate::project::policies::{Condition, UpdateOrder};

/// How many lines of a failed container's log an error shows.
const LOG_LINES: usize = 20;

/// Replace one instance; Err when the new container did not come up (rolled back or kept).
pub async fn replace(
    engine: &Engine,
    r: &Replacement,
    project: &str,
    project_dir: &std::path::Path,
    report: &Reporter,
) -> Result<(), EngineError> {
    let say = |line: String| report(Progress::Done(line));
    let (name, aside) = (&r.container, &r.aside);
    let reasons: Vec<&str> = r.reasons.iter().map(|x| x.text.as_str()).collect();
    if !r.resume {
        say(format!(
            "replacing {name} ({}): {}",
            r.order.as_str(),
            reasons.join("; ")
        ));
        if r.order == UpdateOrder::StopFirst {
            stop_container(engine, name, r.stop_timeout_s).await?;
        }
        rename_container(engine, name, aside).await?;
        if let Err(e) = run_held(engine, &r.spec, project_dir).await {
            // Nothing new runs under the name: the old one goes back at once.
            let _ = remove_container(engine, name, 0).await;
            restore(engine, name, aside, r.order == UpdateOrder::StopFirst).await?;
            return Err(e);
        }
    } else {
        say(format!("finishing the interrupted roll-out of {name}"));
    }
    let timeout = Some(Duration::from_secs(r.timeout_s));
    match super::wait::wait_up(engine, project, std::slice::from_ref(name), timeout, report).await {
        Ok(()) => {
            release_restart(engine, &r.spec).await?;
            say(format!("{name} is UP; removing {aside}"));
            remove_container(engine, aside, r.stop_timeout_s).await?;
            Ok(())
        }
        Err(e) => {
            let state = last_state(engine, project, name)
                .await
                .unwrap_or_else(|| e.to_string().lines().next().unwrap_or_default().to_string());
            let log = super::logs::tail(engine, name, LOG_LINES).await;
            if r.rollback {
                say(format!("✗ {name} did not come up: rolling back to {aside}"));
                remove_container(engine, name, r.stop_timeout_s).await?;
                // In stop-first, and when resuming, the old one may be stopped: start it again.
                restore(engine, name, aside, true).await?;
            } else {
                say(format!(
                    "✗ {name} did not come up: kept for debugging, {aside} stays aside"
                ));
            }
            Err(EngineError::RolloutFailed {
                instance: name.clone(),
                state,
                log,
                rolled_back: r.rollback,
            })
        }
    }
}

/// Put the old container back under its name; `start`: start it when it is stopped.
pub async fn restore(
    engine: &Engine,
    name: &str,
    aside: &str,
    start: bool,
) -> Result<(), EngineError> {
    rename_container(engine, aside, name).await?;
    if start {
        start_container(engine, name).await?;
    }
    Ok(())
}

/// What the failed container last said: its lifecycle state (and error) or Docker's state.
async fn last_state(engine: &Engine, project: &str, name: &str) -> Option<String> {
    let observed = super::observe::observe(engine, project).await.ok()?;
    let c = observed.container(name)?;
    match c.lifecycle() {
        Some(l) => Some(match l.error {
            Some(e) => format!("{} ({e})", l.state),
            None => l.state,
        }),
        None => Some(format!("{} ({})", c.state, c.status)),
    }
}

/// Wait until these containers meet a `depends_on` condition.
pub async fn wait_for(
    engine: &Engine,
    project: &str,
    containers: &[String],
    condition: Condition,
    timeout_s: u64,
    report: &Reporter,
) -> Result<(), EngineError> {
    let timeout = Duration::from_secs(timeout_s);
    match condition {
        Condition::Started => Ok(()),
        Condition::Up => {
            super::wait::wait_up(engine, project, containers, Some(timeout), report).await
        }
        Condition::Completed => {
            let start = std::time::Instant::now();
            loop {
                let observed = super::observe::observe(engine, project).await?;
                let mut all = true;
                for name in containers {
                    match observed.container(name) {
                        Some(c) if c.state == "exited" => {
                            // Docker's status line: "Exited (0) 3 seconds ago".
                            if !c.status.starts_with("Exited (0)") {
                                return Err(EngineError::Other(format!(
                                    "{name} did not complete: {}\nhint: `dops logs:…` shows its output",
                                    c.status
                                )));
                            }
                        }
                        Some(_) => all = false,
                        None => return Err(EngineError::NoSuchContainer { name: name.clone() }),
                    }
                }
                if all {
                    return Ok(());
                }
                if start.elapsed() >= timeout {
                    return Err(EngineError::Timeout {
                        seconds: timeout_s,
                        waiting: format!("{} to complete", containers.join(", ")),
                    });
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

//! `run --wait`: wait until every started instance reports UP, showing each one's state live.
//!
//! The lifecycle comes from the host copy of the instance's `/run/dops/state.json` (written by
//! dops-init). Without one (an init that writes none), an instance counts as up once it runs and
//! Docker's health check, if any, says healthy. An instance that exits or reports ERROR fails the
//! wait at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::connect::Engine;
use super::error::EngineError;
use super::observe::observe;
use super::progress::{Progress, Reporter};
use crate::observed::{Observed, ObservedContainer};

/// The state shown for one instance while waiting.
#[derive(Debug, Clone, PartialEq)]
pub enum Waiting {
    Up(String),
    Pending(String),
    Failed(String),
}

fn judge(c: Option<&ObservedContainer>) -> Waiting {
    let Some(c) = c else {
        return Waiting::Failed("gone".into());
    };
    if !c.is_running() {
        return match c.state.as_str() {
            "created" => Waiting::Pending(c.state.clone()),
            // It exited, and the engine's restart policy runs it again: it did not come up.
            "restarting" => Waiting::Failed(format!("exited and restarting ({})", c.status)),
            _ => Waiting::Failed(format!("{} ({})", c.state, c.status)),
        };
    }
    match c.lifecycle() {
        Some(l) if l.state == "UP" => Waiting::Up(l.state),
        Some(l) if l.state == "ERROR" => Waiting::Failed(match l.error {
            Some(e) => format!("ERROR: {e}"),
            None => "ERROR".into(),
        }),
        // Its main program ended: it is going down, not up.
        Some(l) if l.state == "STOPPED" => Waiting::Failed("STOPPED".into()),
        Some(l) => Waiting::Pending(l.state),
        None => match c.health.as_deref() {
            None | Some("healthy") => Waiting::Up("running".into()),
            Some(h) => Waiting::Pending(format!("running ({h})")),
        },
    }
}

/// Wait for these containers (of `project`) to be up; `timeout` None = forever. Each change of
/// an instance's state is reported as it happens.
pub async fn wait_up(
    engine: &Engine,
    project: &str,
    containers: &[String],
    timeout: Option<Duration>,
    report: &Reporter,
) -> Result<(), EngineError> {
    wait_until_up(
        containers,
        timeout,
        report,
        || observe(engine, project),
        judge,
    )
    .await
}

/// The wait of every engine kind: `observe` what runs, `judge` each instance, until all are
/// up, one failed, or `timeout`.
pub(crate) async fn wait_until_up<F, Fut>(
    containers: &[String],
    timeout: Option<Duration>,
    report: &Reporter,
    observe: F,
    judge: fn(Option<&ObservedContainer>) -> Waiting,
) -> Result<(), EngineError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Observed, EngineError>>,
{
    if containers.is_empty() {
        return Ok(());
    }
    let result = wait_loop(containers, timeout, report, observe, judge).await;
    report(Progress::WaitOver);
    result
}

async fn wait_loop<F, Fut>(
    containers: &[String],
    timeout: Option<Duration>,
    report: &Reporter,
    observe: F,
    judge: fn(Option<&ObservedContainer>) -> Waiting,
) -> Result<(), EngineError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Observed, EngineError>>,
{
    let start = Instant::now();
    let mut last: BTreeMap<String, Waiting> = BTreeMap::new();
    loop {
        let observed = observe().await?;
        let mut all_up = true;
        for name in containers {
            let w = judge(observed.container(name));
            if last.get(name) != Some(&w) {
                let state = match &w {
                    Waiting::Up(s) => format!("{s} ✓"),
                    Waiting::Pending(s) => s.clone(),
                    Waiting::Failed(s) => format!("{s} ✗"),
                };
                report(Progress::Waiting {
                    container: name.clone(),
                    state,
                });
                last.insert(name.clone(), w.clone());
            }
            match w {
                Waiting::Up(_) => {}
                Waiting::Pending(_) => all_up = false,
                Waiting::Failed(s) => {
                    return Err(EngineError::Other(format!(
                        "{name} did not come up: {s}\nhint: `dops logs:…` shows its output"
                    )));
                }
            }
        }
        if all_up {
            return Ok(());
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                let pending: Vec<String> = last
                    .iter()
                    .filter(|(_, w)| matches!(w, Waiting::Pending(_)))
                    .map(|(n, w)| match w {
                        Waiting::Pending(s) => format!("{n} ({s})"),
                        _ => n.clone(),
                    })
                    .collect();
                return Err(EngineError::Timeout {
                    seconds: t.as_secs(),
                    waiting: pending.join(", "),
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

//! `dops run:<svc>[,…] | run:all | run:group=NAME [--replace] [--wait [--timeout S]]`, and
//! `dops rerun:<svc>[,…]` (the parser sets `replace`: each running instance is removed and
//! started again; persistent data stays).
//!
//! Under the project lock: observe, plan, apply (builds of missing images, the network, each
//! instance), then attach to an interactive instance or wait for every started one to be UP.

use std::time::Duration;

use serde::Serialize;

use super::session::Session;
use crate::action::{Action, RunAction};
use crate::engine;
use crate::output;
use crate::plan;

#[derive(Serialize)]
struct RunReport {
    project: String,
    built: Vec<String>,
    started: Vec<String>,
    /// Interactive instances (attached to this terminal after the report).
    interactive: Vec<String>,
    kept: Vec<String>,
    replaced: Vec<String>,
    removed: Vec<String>,
}

/// run and rerun.
pub fn execute(s: &Session, action: &Action, run: &RunAction) -> anyhow::Result<i32> {
    let project = s.project()?;
    s.block_on(async {
        let held = s.lock()?;
        let observed = s.observe().await?;
        let ctx = s.plan_context(s.dns_key_for_run(), rand::random());
        let planned = plan::plan(project, &observed, action, &ctx)?;
        for w in &planned.warnings {
            output::warn(w);
        }
        let applied = s.apply(&planned.plan).await?;
        drop(held);
        if s.global.json {
            output::json(&RunReport {
                project: project.name.clone(),
                built: applied.built.iter().map(|b| b.service.clone()).collect(),
                started: applied.started.clone(),
                interactive: applied.interactive.clone(),
                kept: applied.kept.clone(),
                replaced: applied.replaced.clone(),
                removed: applied.removed.clone(),
            });
        }
        // An interactive instance gets this terminal (it starts once attached).
        if let Some(name) = applied.interactive.first() {
            for other in applied.interactive.iter().skip(1) {
                output::warn(&format!(
                    "{other} is interactive too: it was created, not started (dops run it alone)"
                ));
            }
            let eng = s.engine().await?;
            let code = engine::exec::attach_and_start(eng, name, &output::Stdio).await?;
            return anyhow::Ok(code.clamp(0, 255) as i32);
        }
        if run.wait {
            let mut waiting = applied.started.clone();
            waiting.extend(applied.kept.iter().cloned());
            waiting.extend(applied.replaced.iter().cloned());
            s.wait_up(&waiting, run.timeout_s.map(Duration::from_secs))
                .await?;
        }
        Ok(0)
    })
}

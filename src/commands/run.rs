//! `dops run:<svc>[,…] | run:all | run:group=NAME [--replace] [--wait [--timeout S]]`.
//!
//! Under the project lock: observe, plan, apply (builds of missing images, the network, each
//! instance), then attach to an interactive instance or wait for every started one to be UP.

use std::time::Duration;

use serde::Serialize;

use super::engine_common::{project_dir, runtime};
use crate::action::{Invocation, RunAction};
use crate::engine::{self, ApplyContext, BuildOptions, ProjectLock};
use crate::plan::{self, PlanContext};
use crate::{output, project};

/// How long a command waits for another dops command on the same project.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

#[derive(Serialize)]
struct RunReport {
    project: String,
    built: Vec<String>,
    started: Vec<String>,
    /// Interactive instances (attached to this terminal after the report).
    interactive: Vec<String>,
    already_running: Vec<String>,
    removed: Vec<String>,
}

/// The DNS key for a real run: created on first use.
fn dns_key_for_run(project: &project::Project) -> Option<String> {
    match crate::tsig_key::load_or_create(&project.dir) {
        Ok(k) => Some(k.to_env()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the dns key");
            super::dns_key_for_plan(&project.dir)
        }
    }
}

/// Take the project lock, telling the user when another command holds it.
pub fn lock(project: &project::Project) -> anyhow::Result<ProjectLock> {
    Ok(ProjectLock::acquire(&project.dir, LOCK_WAIT, |pid| {
        eprintln!("waiting for another dops command (pid {pid}) working on this project…")
    })?)
}

/// The apply context of a command: progress lines on stderr.
pub fn apply_context(project: &project::Project, verbose: u8) -> ApplyContext {
    let mut ctx = ApplyContext::new(&project.dir);
    ctx.build = BuildOptions {
        verbose: verbose > 0,
        jobs: 0,
    };
    ctx
}

/// run and rerun.
pub fn execute(inv: &Invocation, action: &RunAction) -> anyhow::Result<i32> {
    let dir = project_dir(&inv.global)?;
    let project = project::load(&dir, &inv.global.conf)?;
    let rt = runtime()?;
    let code = rt.block_on(async {
        let eng = engine::connect().await?;
        let held = lock(&project)?;
        let observed = engine::observe(&eng, &project.name).await?;
        let ctx = PlanContext {
            host: super::host_context(),
            dns_key: dns_key_for_run(&project),
            seed: rand::random(),
        };
        let planned = plan::plan(&project, &observed, &inv.action, &ctx)?;
        for w in &planned.warnings {
            output::warn(w);
        }
        let applied = engine::apply(
            &eng,
            &planned.plan,
            &apply_context(&project, inv.global.verbose),
        )
        .await?;
        drop(held);
        if inv.global.json {
            let report = RunReport {
                project: project.name.clone(),
                built: applied.built.iter().map(|b| b.service.clone()).collect(),
                started: applied.started.clone(),
                interactive: applied.interactive.clone(),
                already_running: applied.already_running.clone(),
                removed: applied.removed.clone(),
            };
            output::out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
        }
        // An interactive instance gets this terminal (it starts once attached).
        if let Some(name) = applied.interactive.first() {
            for other in applied.interactive.iter().skip(1) {
                output::warn(&format!(
                    "{other} is interactive too: it was created, not started (dops run it alone)"
                ));
            }
            let code = engine::exec::attach_and_start(&eng, name).await?;
            return anyhow::Ok(code.clamp(0, 255) as i32);
        }
        if action.wait {
            let mut waiting = applied.started.clone();
            waiting.extend(applied.already_running.iter().cloned());
            engine::wait::wait_up(
                &eng,
                &project.name,
                &waiting,
                action.timeout_s.map(Duration::from_secs),
            )
            .await?;
        }
        Ok(0)
    })?;
    rt.shutdown_background();
    Ok(code)
}

//! What the engine-backed commands (build, run, rerun, clean, ps, logs, shell, info, getip)
//! share: the runtime, the project folder and name, instance selection, exit codes.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::action::{GlobalOpts, Target};
use crate::engine::{Engine, EngineError};
use crate::observed::{Observed, ObservedContainer};

/// A small runtime: the commands are I/O bound and start fast on one thread.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The project folder: `--project` or the current folder, absolute.
pub fn project_dir(global: &GlobalOpts) -> anyhow::Result<PathBuf> {
    let dir = match &global.project_dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let dir = std::fs::canonicalize(&dir)
        .with_context(|| format!("project folder {} not found", dir.display()))?;
    Ok(dir)
}

/// The project name of a folder: host.conf's PROJECT when the project loads, else the folder's
/// name as `project::name_from_dir` derives it.
pub fn project_name_of(dir: &Path) -> String {
    if let Ok(p) = crate::project::load(dir, "run.conf") {
        return p.name;
    }
    crate::project::name_from_dir(dir).unwrap_or_else(|| "dops".into())
}

/// What the engine holds, for `dops plan` and `--dry-run`; the empty state (with a warning) when
/// the engine cannot be asked.
pub fn observe_for_plan(inv: &crate::action::Invocation) -> Observed {
    // A project that does not load is reported by the plan itself.
    let Ok(dir) = project_dir(&inv.global) else {
        return Observed::default();
    };
    let Ok(project) = crate::project::load(&dir, &inv.global.conf) else {
        return Observed::default();
    };
    let found = (|| -> anyhow::Result<Observed> {
        let rt = runtime()?;
        rt.block_on(async {
            let eng = crate::engine::connect().await?;
            Ok(crate::engine::observe(&eng, &project.name).await?)
        })
    })();
    match found {
        Ok(o) => o,
        Err(e) => {
            crate::output::warn(&format!(
                "planning against an empty engine state ({})",
                e.to_string().lines().next().unwrap_or_default()
            ));
            Observed::default()
        }
    }
}

/// The process exit code for an error: 3 when the engine is unreachable, 2 for bad
/// configuration the engine found, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<EngineError>())
        .map(EngineError::exit_code)
        .unwrap_or(1)
}

/// The project's containers a target selects (all instances when the target names no instance).
pub fn selected<'a>(observed: &'a Observed, target: Option<&Target>) -> Vec<&'a ObservedContainer> {
    observed
        .containers
        .iter()
        .filter(|c| match target {
            None | Some(Target::All) => true,
            // Containers carry no group label: a group selects through the run conf (planner).
            Some(Target::Group { .. }) => true,
            Some(t) => t.matches(&c.service, &c.instance, None),
        })
        .collect()
}

/// The running containers a target selects, in name order.
pub fn selected_running<'a>(
    observed: &'a Observed,
    target: Option<&Target>,
) -> Vec<&'a ObservedContainer> {
    let mut running: Vec<&ObservedContainer> = selected(observed, target)
        .into_iter()
        .filter(|c| c.is_running())
        .collect();
    running.sort_by(|a, b| a.name.cmp(&b.name));
    running
}

/// The one running container a target means (shell, getip): the named instance, or the first
/// running instance of the service in name order (with a note when there are several).
pub async fn one_running(
    engine: &Engine,
    project: &str,
    target: Option<&Target>,
) -> anyhow::Result<ObservedContainer> {
    let observed = crate::engine::observe(engine, project).await?;
    let what = target
        .map(|t| t.to_string())
        .unwrap_or_else(|| "all".into());
    let running = selected_running(&observed, target);
    match running.len() {
        0 => {
            let stopped = selected(&observed, target);
            if let Some(c) = stopped.first() {
                anyhow::bail!(
                    "{} is not running ({})\nhint: start it with `dops run:{},instance={}`",
                    c.name,
                    c.state,
                    c.service,
                    c.instance
                );
            }
            anyhow::bail!(
                "no instance of {what} in project {project}\nhint: `dops ps` lists the instances, `dops run:{what}` starts them"
            )
        }
        1 => Ok(running[0].clone()),
        _ => {
            eprintln!(
                "dops: {} instances match {what}; using {} (name one with instance=…)",
                running.len(),
                running[0].instance
            );
            Ok(running[0].clone())
        }
    }
}

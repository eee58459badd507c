//! `dops clean:<svc>[,instance=…] | clean:all [--orphans] [--purge [--yes]]`: graceful stop, then
//! remove; the project network goes when it is empty. Containers of services the project no
//! longer has (orphans) are listed, and removed only with `--orphans`. Persistent data is deleted
//! only with `--purge`, after a confirmation (or `--yes`).

use std::io::{BufRead, IsTerminal};

use super::session::Session;
use crate::action::{Action, CleanAction, Target};
use crate::engine;
use crate::plan::{self, Step};
use crate::{output, project};

fn confirm(question: &str) -> bool {
    output::prompt(&format!("{question} [y/N] "));
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

pub fn execute(s: &Session, action: &Action, clean: &CleanAction) -> anyhow::Result<i32> {
    let project = s.project()?;
    s.block_on(async {
        let _held = s.lock()?;
        let observed = s.observe().await?;
        let ctx = s.plan_context(None, 0);
        let planned = plan::plan(project, &observed, action, &ctx)?;
        // Every folder to purge is checked before anything is stopped or deleted.
        for step in &planned.plan.steps {
            if let Step::PurgeData {
                path, data_root, ..
            } = step
            {
                engine::purge::check(path, data_root)?;
            }
        }
        let purges: Vec<String> = planned
            .plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::PurgeData { path, .. } if path.exists() => Some(path.display().to_string()),
                Step::PurgeVolumes {
                    container, node, ..
                } => Some(format!("the volumes of {container} on node {node}")),
                _ => None,
            })
            .collect();
        if !purges.is_empty() && !clean.yes {
            if !std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "--purge deletes persistent data ({}); confirm with --yes",
                    purges.join(", ")
                );
            }
            if !confirm(&format!(
                "delete the persistent data in {}?",
                purges.join(", ")
            )) {
                output::note(&"nothing done");
                return Ok(1);
            }
        }
        let applied = s.apply(&planned.plan).await?;
        // Orphans left in place: say so.
        if !clean.orphans && matches!(clean.target, Target::All) {
            let orphans: Vec<&str> = observed
                .containers
                .iter()
                .filter(|c| {
                    !project.services.contains_key(&c.service)
                        && c.service != project::DNS_SERVICE
                        && !applied.removed.contains(&c.name)
                })
                .map(|c| c.name.as_str())
                .collect();
            if !orphans.is_empty() {
                output::warn(&format!(
                    "kept {} container(s) of services this project no longer has: {} (remove them with --orphans)",
                    orphans.len(),
                    orphans.join(", ")
                ));
            }
        }
        if planned.plan.steps.is_empty() {
            output::note(&"nothing to clean");
        }
        Ok(0)
    })
}

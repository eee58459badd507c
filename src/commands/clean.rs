//! `dops clean:<svc>[,instance=…] | clean:all [--orphans] [--purge [--yes]]`: graceful stop, then
//! remove; the project network goes when it is empty. Containers of services the project no
//! longer has (orphans) are listed, and removed only with `--orphans`. Persistent data is deleted
//! only with `--purge`, after a confirmation (or `--yes`).

use std::io::{BufRead, IsTerminal, Write};

use super::engine_common::{project_dir, runtime};
use crate::action::{CleanAction, Invocation, Target};
use crate::engine;
use crate::plan::{self, PlanContext, Step};
use crate::{output, project};

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

pub fn execute(inv: &Invocation, action: &CleanAction) -> anyhow::Result<i32> {
    let dir = project_dir(&inv.global)?;
    let project = project::load(&dir, &inv.global.conf)?;
    let rt = runtime()?;
    rt.block_on(async {
        let eng = engine::connect().await?;
        let _held = super::run::lock(&project)?;
        let observed = engine::observe(&eng, &project.name).await?;
        let ctx = PlanContext {
            host: super::host_context(),
            dns_key: None,
            seed: 0,
        };
        let planned = plan::plan(&project, &observed, &inv.action, &ctx)?;
        let purges: Vec<String> = planned
            .plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::PurgeData { path, .. } if path.exists() => Some(path.display().to_string()),
                _ => None,
            })
            .collect();
        if !purges.is_empty() && !action.yes {
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
                eprintln!("nothing done");
                return Ok(1);
            }
        }
        let applied = engine::apply(
            &eng,
            &planned.plan,
            &super::run::apply_context(&project, inv.global.verbose),
        )
        .await?;
        // Orphans left in place: say so.
        if !action.orphans && matches!(action.target, Target::All) {
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
            eprintln!("nothing to clean");
        }
        Ok(0)
    })
}

//! `dops logs:<svc>[,instance=…] [-f] [--tail N]`: the logs of the selected instances, prefixed by
//! instance when there are several; `-f` follows them across restarts.

use std::sync::Arc;

use super::instances::selected;
use super::session::Session;
use crate::action::LogsAction;
use crate::engine::logs;
use crate::output;
use crate::project::EngineKind;

pub fn execute(s: &Session, action: &LogsAction) -> anyhow::Result<i32> {
    let project = s.project_name();
    s.block_on(async {
        let observed = s.observe().await?;
        let chosen = selected(&observed, Some(&action.target));
        if chosen.is_empty() {
            anyhow::bail!(
                "no instance of {} in project {project}\nhint: `dops ps` lists the instances",
                action.target
            );
        }
        let several = chosen.len() > 1;
        let width = chosen
            .iter()
            .map(|c| c.service.len() + c.instance.len() + 1)
            .max()
            .unwrap_or(0);
        let targets = chosen
            .iter()
            .map(|c| {
                let prefix = if several {
                    format!("{:width$} | ", format!("{}-{}", c.service, c.instance))
                } else {
                    String::new()
                };
                (c.name.clone(), prefix)
            })
            .collect();
        let opts = logs::LogsOptionsDops {
            follow: action.follow,
            tail: action
                .tail
                .map(|n| n.to_string())
                .unwrap_or_else(|| "all".into()),
        };
        match s.engine_kind() {
            EngineKind::Swarm => {
                crate::engine::swarm::tasks::logs(
                    s.swarm().await?,
                    targets,
                    opts,
                    Arc::new(output::Stdio),
                )
                .await?
            }
            EngineKind::Local => {
                logs::logs(s.engine().await?, targets, opts, Arc::new(output::Stdio)).await?
            }
        }
        Ok(0)
    })
}

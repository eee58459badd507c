//! `dops logs:<svc>[,instance=…] [-f] [--tail N]`: the logs of the selected instances, prefixed by
//! instance when there are several; `-f` follows them across restarts.

use super::engine_common::{project_dir, project_name_of, runtime, selected};
use crate::action::{GlobalOpts, LogsAction};
use crate::engine::{self, logs};

pub fn execute(global: &GlobalOpts, action: &LogsAction) -> anyhow::Result<i32> {
    let dir = project_dir(global)?;
    let project = project_name_of(&dir);
    let rt = runtime()?;
    rt.block_on(async {
        let eng = engine::connect().await?;
        let observed = engine::observe(&eng, &project).await?;
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
        logs::logs(&eng, targets, opts).await?;
        Ok(0)
    })
}

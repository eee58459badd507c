//! `clean`: graceful removal of what a target selects; data only with `purge`.

use super::context::{data_root, PlanContext, PlanError, Planned, STOP_TIMEOUT_S};
use super::step::{Plan, Step};
use crate::action::Target;
use crate::observed::{Observed, ObservedContainer};
use crate::project::runconf::check_name;
use crate::project::{EngineKind, Project, DNS_SERVICE};
use std::path::{Path, PathBuf};

/// `clean`: remove what the target selects from what exists (never data unless `purge`; orphans,
/// containers of services the project no longer has, only with `orphans`). The DNS goes last; the
/// network goes when nothing is left.
pub(super) fn plan_clean(
    project: &Project,
    observed: &Observed,
    target: &Target,
    orphans: bool,
    purge: bool,
    ctx: &PlanContext,
) -> Result<Planned, PlanError> {
    let known = |svc: &str| project.services.contains_key(svc) || svc == DNS_SERVICE;
    let group_of = |svc: &str, inst: &str| {
        project
            .entries
            .iter()
            .find(|e| e.service == svc && e.instance.as_deref() == Some(inst))
            .and_then(|e| e.group.as_deref())
    };
    let entry_index = |svc: &str, inst: &str| {
        project
            .entries
            .iter()
            .position(|e| e.service == svc && e.instance.as_deref() == Some(inst))
    };
    let mut selected: Vec<&ObservedContainer> = observed
        .containers
        .iter()
        .filter(|o| {
            let is_orphan = !known(&o.service);
            match target {
                Target::All => !is_orphan || orphans,
                _ => {
                    target.matches(&o.service, &o.instance, group_of(&o.service, &o.instance))
                        && (!is_orphan || orphans || matches!(target, Target::Select { .. }))
                }
            }
        })
        .collect();
    // reverse run order: later run.conf entries first, unknown ones before them, the DNS last
    selected.sort_by_key(|o| {
        (
            o.service == DNS_SERVICE,
            std::cmp::Reverse(
                entry_index(&o.service, &o.instance)
                    .map(|i| i as i64)
                    .unwrap_or(i64::MAX),
            ),
            o.name.clone(),
        )
    });
    let root = data_root(project, &ctx.host);
    let mut steps = Vec::new();
    for o in &selected {
        steps.push(Step::Remove {
            container: o.name.clone(),
            stop_timeout_s: STOP_TIMEOUT_S,
        });
        if purge && ctx.engine == EngineKind::Swarm {
            // The data of a swarm instance: volumes on the node its pin label names.
            let label = super::placement::pin_label(
                &project.name,
                &format!("{}-{}", o.service, o.instance),
            );
            if let Some(n) = observed
                .nodes
                .iter()
                .find(|n| n.labels.get(&label).map(String::as_str) == Some("true"))
            {
                steps.push(Step::PurgeVolumes {
                    container: o.name.clone(),
                    node: n.hostname.clone(),
                    volumes: ["data", "opt", "log", "home"]
                        .iter()
                        .map(|sub| format!("{}-{sub}", o.name))
                        .collect(),
                    label,
                });
            }
        } else if purge {
            steps.push(Step::PurgeData {
                container: o.name.clone(),
                path: purge_path(&root, o)?,
                data_root: root.clone(),
            });
        }
    }
    let left = observed
        .containers
        .iter()
        .filter(|o| !selected.iter().any(|s| s.name == o.name))
        .count();
    if left == 0 && observed.networks.contains(&project.name) {
        steps.push(Step::RemoveNetwork {
            name: project.name.clone(),
        });
    }
    Ok(Planned {
        plan: Plan {
            project: project.name.clone(),
            steps,
        },
        warnings: Vec::new(),
    })
}

/// `<root>/<service>-<instance>`, built from the container's labels: only from names dops itself
/// could have given (no `/`, no `..`), so the folder is one level inside the data folder.
fn purge_path(root: &Path, o: &ObservedContainer) -> Result<PathBuf, PlanError> {
    for (label, value) in [("service", &o.service), ("instance", &o.instance)] {
        check_name(value, false).map_err(|why| PlanError::UnsafePurge {
            container: o.name.clone(),
            why: format!("its {label} label {why}"),
        })?;
    }
    Ok(root.join(format!("{}-{}", o.service, o.instance)))
}

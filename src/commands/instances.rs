//! Which of the project's instances a target means, for the verbs that act on what runs
//! (logs, info, examine, validate, update, shell, getip).

use crate::action::Target;
use crate::observed::{Observed, ObservedContainer};
use crate::output;

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
pub fn one_running(
    observed: &Observed,
    project: &str,
    target: Option<&Target>,
) -> anyhow::Result<ObservedContainer> {
    let what = target
        .map(|t| t.to_string())
        .unwrap_or_else(|| "all".into());
    let running = selected_running(observed, target);
    match running.len() {
        0 => {
            let stopped = selected(observed, target);
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
            output::note(&format!(
                "dops: {} instances match {what}; using {} (name one with instance=…)",
                running.len(),
                running[0].instance
            ));
            Ok(running[0].clone())
        }
    }
}

//! The plan: the list of steps dops would take, computed by a pure function.
//!
//! `plan()` (project, observed state, action) → `Plan`. Its `Display` is the `dops plan:…` /
//! `--dry-run` output; its `Serialize` is the `--json` form. `engine::apply` executes one step
//! with one (or a few) Docker API calls and makes no decisions of its own.
//!
//! Values that only exist at apply time (the address of a container started earlier in the same
//! plan, for links and the DNS) are carried as `EnvValue::IpOf` and resolved by the engine.

//!
//! - [`step`]: the step model the engine executes
//! - [`context`]: the planner's inputs and outcome, and what the planners share
//! - [`select`]: which run.conf entries (and instance names) a target means
//! - [`run`], [`build`], [`clean`]: the planner of each verb
//! - [`spec`]: one instance's container, resolved
//! - [`display`]: the `dops plan` / `--dry-run` text

mod build;
mod clean;
mod context;
pub mod desired;
mod display;
mod order;
pub mod placement;
mod run;
mod select;
mod spec;
pub mod step;
#[cfg(test)]
mod tests;

pub use context::{data_root, PlanContext, PlanError, Planned, STOP_TIMEOUT_S};
pub use desired::{is_secret, short_hash, Desired};
pub use display::mask_secret;
pub use run::ROLLOUT_TIMEOUT_S;
pub use step::*;

use crate::action::{Action, PlanOf};
use crate::observed::Observed;
use crate::project::Project;

/// Compute the plan for an action against the observed state. Pure.
pub fn plan(
    project: &Project,
    observed: &Observed,
    action: &Action,
    ctx: &PlanContext,
) -> Result<Planned, PlanError> {
    let mut planned = plan_action(project, observed, action, ctx)?;
    add_load_warnings(project, &mut planned);
    Ok(planned)
}

/// The project's load-time warnings (a port a Dockerfile declares that dops will not publish)
/// about the services this plan builds or runs, first.
fn add_load_warnings(project: &Project, planned: &mut Planned) {
    let involved: std::collections::BTreeSet<&str> = planned
        .plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Build(b) => Some(b.service.as_str()),
            Step::Run(r) => Some(r.service.as_str()),
            _ => None,
        })
        .collect();
    let load: Vec<String> = project
        .warnings
        .iter()
        .filter(|w| involved.contains(w.service.as_str()))
        .map(|w| w.text.clone())
        .collect();
    planned.warnings.splice(0..0, load);
}

fn plan_action(
    project: &Project,
    observed: &Observed,
    action: &Action,
    ctx: &PlanContext,
) -> Result<Planned, PlanError> {
    match action {
        Action::Run(r) | Action::Rerun(r) | Action::Up(r) => {
            run::plan_run(project, observed, r, ctx)
        }
        Action::Build(b) => build::plan_build(project, observed, &b.target, b.no_cache, true),
        Action::Clean(c) => {
            clean::plan_clean(project, observed, &c.target, c.orphans, c.purge, ctx)
        }
        Action::Plan(p) => match p.of {
            PlanOf::Run => run::plan_run(project, observed, &p.run, ctx),
            PlanOf::Rerun => {
                let mut r = p.run.clone();
                r.recreate = crate::action::Recreate::Always;
                run::plan_run(project, observed, &r, ctx)
            }
            PlanOf::Build => build::plan_build(project, observed, &p.run.target, p.no_cache, true),
            PlanOf::Clean => {
                clean::plan_clean(project, observed, &p.run.target, p.orphans, p.purge, ctx)
            }
        },
        other => Err(PlanError::NotPlannable {
            verb: other.verb().to_string(),
        }),
    }
}

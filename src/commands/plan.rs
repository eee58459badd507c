//! `dops plan:…` and `--dry-run` of run, rerun, build and clean: load, plan, print. Changes nothing.

use crate::action::Invocation;
use crate::observed::Observed;
use crate::plan::{self, PlanContext};
use crate::{output, project};

/// Plan the invocation against `observed` (the lead feeds `engine::observe` here) and print it.
pub fn run(inv: &Invocation, observed: &Observed) -> anyhow::Result<i32> {
    let dir = super::project_dir(&inv.global)?;
    let project = project::load(&dir, &inv.global.conf)?;
    let ctx = PlanContext {
        host: super::host_context(),
        dns_key: super::dns_key_for_plan(&project.dir),
        seed: rand::random(),
    };
    let planned = plan::plan(&project, observed, &inv.action, &ctx)?;
    output::plan(&planned, inv.global.json);
    Ok(0)
}

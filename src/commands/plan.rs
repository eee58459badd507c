//! `dops plan:…` and `--dry-run` of run, rerun, build and clean: load, plan, print. Changes nothing.

use super::session::Session;
use crate::action::Action;
use crate::output;
use crate::plan;

/// Plan the action against what the engine holds (nothing, when it can't be asked) and print it.
pub fn run(s: &Session, action: &Action) -> anyhow::Result<i32> {
    let observed = s.observe_for_plan();
    let ctx = s.plan_context(s.dns_key_for_plan(), rand::random());
    let planned = plan::plan(s.project()?, &observed, action, &ctx)?;
    output::plan(&planned, s.global.json);
    Ok(0)
}

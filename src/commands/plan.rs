//! `dops plan:…` and `--dry-run` of run, rerun, build and clean: load, plan, print. Changes nothing.

use super::session::Session;
use crate::action::Action;
use crate::output;
use crate::plan;

/// Plan the action against what the engine holds (nothing, when it can't be asked) and print it.
/// The host's side (environment, hostname, interfaces: a netlink dump that grows with every
/// container's veth) is read on a thread while the engine answers, which is most of a plan's time.
pub fn run(s: &Session, action: &Action) -> anyhow::Result<i32> {
    let seed = rand::random();
    let (observed, ctx) = std::thread::scope(|scope| {
        let host = scope.spawn(|| s.plan_context(s.dns_key_for_plan(), seed));
        let observed = s.observe_for_plan();
        let ctx = host.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (observed, ctx)
    });
    let planned = plan::plan(s.project()?, &observed, action, &ctx)?;
    output::plan(&planned, s.global.json);
    Ok(0)
}

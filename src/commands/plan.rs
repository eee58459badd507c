//! `dops plan:…` and `--dry-run` of run, rerun, build and clean: load, plan, print. Changes nothing.

use super::session::Session;
use super::timing::Phases;
use crate::action::Action;
use crate::output;
use crate::plan;

/// Plan the action against what the engine holds (nothing, when it can't be asked) and print it.
/// The host's side (environment, hostname, interfaces: a netlink dump that grows with every
/// container's veth) is read on a thread while the engine answers, which is most of a plan's time.
/// Per-phase timings: `DOPS_LOG=dops::timing=debug dops plan:all`.
pub fn run(s: &Session, action: &Action) -> anyhow::Result<i32> {
    let t = Phases::start();
    let seed = rand::random();
    let (observed, ctx) = std::thread::scope(|scope| {
        let host = scope.spawn(|| {
            let ctx = s.plan_context(s.dns_key_for_plan(), seed);
            t.done("host context read");
            ctx
        });
        let observed = s.observe_for_plan();
        t.done("engine observed");
        let ctx = host.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (observed, ctx)
    });
    let project = s.project()?;
    t.done("project loaded");
    let planned = plan::plan(project, &observed, action, &ctx)?;
    t.done("planned");
    output::plan(&planned, s.global.json);
    t.done("printed");
    Ok(0)
}

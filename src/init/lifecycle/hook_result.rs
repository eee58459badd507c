//! What a hook run gives back, how it is described in a message, and the time limits of hooks.

use std::time::Duration;

use crate::init::reaper::Exit;

/// Limits for hooks that must not hold the lifecycle: `svcdown`, `lifecycle`, `pushstats`.
pub(super) const SIDE_HOOK_LIMIT: Duration = Duration::from_secs(10);
/// How long an interrupted hook gets between SIGTERM and SIGKILL.
pub(super) const HOOK_GRACE: Duration = Duration::from_secs(2);

pub(super) struct HookRun {
    pub exit: Exit,
    pub timed_out: bool,
    pub tail: String,
    pub stdout: Vec<u8>,
}

pub(super) fn describe(r: &HookRun) -> String {
    if r.tail.is_empty() {
        r.exit.to_string()
    } else {
        format!("{}; output:\n{}", r.exit, r.tail)
    }
}

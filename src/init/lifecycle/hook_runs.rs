//! Running hooks from the lifecycle: checked hooks (a failure stops the phase), side hooks
//! (bounded, never holding the lifecycle), and interrupting a hook when a stop arrives.

use super::hook_result::{HookRun, HOOK_GRACE, SIDE_HOOK_LIMIT};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::machine::{Init, Stop};
use crate::init::error::InitError;
use crate::init::hooks;
use crate::init::output::log;
use crate::init::reaper::Exit;

impl Init {
    /// A whaleware hook that must succeed (missing = nothing to do).
    pub(super) fn whaleware_checked(&mut self, name: &str) -> Result<(), Stop> {
        match hooks::find(&self.paths, name) {
            Some(p) => self.hook_checked(name, hooks::command(&p, &[])),
            None => self.check(),
        }
    }

    pub(super) fn hook_checked(&mut self, name: &str, cmd: Command) -> Result<(), Stop> {
        let r = self.run_hook(name, cmd, false, None, true)?;
        if !r.exit.success() {
            return Err(Stop::Fail(InitError::HookFailed {
                hook: name.to_string(),
                status: r.exit.to_string(),
                output: r.tail,
            }));
        }
        self.check()
    }

    /// Run a hook while the event loop keeps going. `interruptible`: a stop request ends it.
    pub(super) fn run_hook(
        &mut self,
        name: &str,
        cmd: Command,
        capture: bool,
        limit: Option<Duration>,
        interruptible: bool,
    ) -> Result<HookRun, Stop> {
        self.run_hook_with(name, cmd, capture, limit, interruptible, None)
    }

    /// A hook that must not hold the lifecycle (svcdown, lifecycle, the watches' commands):
    /// output not captured, bounded by [`SIDE_HOOK_LIMIT`], and a stop request does not end it.
    pub(super) fn run_side_hook(
        &mut self,
        name: &str,
        cmd: Command,
        stdin: Option<std::process::Stdio>,
    ) -> Result<HookRun, Stop> {
        self.run_hook_with(name, cmd, false, Some(SIDE_HOOK_LIMIT), false, stdin)
    }

    pub(super) fn run_hook_with(
        &mut self,
        name: &str,
        cmd: Command,
        capture: bool,
        limit: Option<Duration>,
        interruptible: bool,
        stdin: Option<std::process::Stdio>,
    ) -> Result<HookRun, Stop> {
        self.flush();
        let h = hooks::spawn(&self.exits, name, cmd, capture, stdin).map_err(Stop::Fail)?;
        let pid = h.pid;
        let deadline = limit.map(|l| Instant::now() + l);
        loop {
            if let Some(exit) = self.exits.take(pid) {
                let (tail, stdout) = h.finish(Duration::from_millis(200));
                return Ok(HookRun {
                    exit,
                    timed_out: false,
                    tail,
                    stdout,
                });
            }
            if interruptible && (self.stop || self.main_exit.is_some()) {
                log(&format!("stopping hook {name}"));
                self.end_hook(pid);
                h.finish(Duration::from_millis(50));
                return Err(self.stop_reason());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                log(&format!(
                    "hook {name} did not end within {limit:?}; stopping it"
                ));
                let exit = self.end_hook(pid);
                let (tail, stdout) = h.finish(Duration::from_millis(50));
                return Ok(HookRun {
                    exit,
                    timed_out: true,
                    tail,
                    stdout,
                });
            }
            self.pump(deadline);
        }
    }

    /// SIGTERM to the hook's process group, SIGKILL after the grace time.
    pub(super) fn end_hook(&mut self, pid: i32) -> Exit {
        for (sig, wait) in [
            (Signal::SIGTERM, HOOK_GRACE),
            (Signal::SIGKILL, Duration::from_secs(1)),
        ] {
            let _ = kill(Pid::from_raw(-pid), sig);
            let until = Instant::now() + wait;
            while Instant::now() < until {
                if let Some(e) = self.exits.take(pid) {
                    return e;
                }
                self.pump(Some(until));
            }
        }
        self.exits.forget(pid);
        Exit::Signal(Signal::SIGKILL as i32)
    }
}

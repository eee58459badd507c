//! Reaping: the main thread is the only caller of `waitpid`, for every child and every orphan
//! (PID 1, or a subreaper in tests). Processes started by other threads (notification `exec:`)
//! are tracked here and their exit statuses handed back through a condition variable.
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => {
                let name = nix::sys::signal::Signal::try_from(*s)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| s.to_string());
                write!(f, "killed by {name}")
            }
        }
    }
}

/// Reap every child that has ended; never blocks.
pub fn reap_all() -> Vec<(i32, Exit)> {
    let mut out = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => out.push((pid.as_raw(), Exit::Code(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                out.push((pid.as_raw(), Exit::Signal(sig as i32)))
            }
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => continue,
        }
    }
    out
}

#[derive(Default)]
struct Table {
    tracked: HashSet<i32>,
    done: HashMap<i32, Exit>,
}

/// Exit statuses of tracked processes (hooks, notification commands).
#[derive(Default)]
pub struct Exits {
    table: Mutex<Table>,
    cv: Condvar,
}

impl Exits {
    /// Spawn and track atomically, so the reaper cannot miss a process that ends at once.
    pub fn spawn(&self, cmd: &mut Command) -> std::io::Result<Child> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        t.tracked.insert(child.id() as i32);
        Ok(child)
    }

    /// Called by the reaper: true when the process was tracked.
    pub fn record(&self, pid: i32, exit: Exit) -> bool {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.tracked.remove(&pid) {
            t.done.insert(pid, exit);
            self.cv.notify_all();
            true
        } else {
            false
        }
    }

    /// The exit status, if the process has ended.
    pub fn take(&self, pid: i32) -> Option<Exit> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.done.remove(&pid)
    }

    /// Block until the process ends or the timeout passes (for threads other than the reaper).
    pub fn wait(&self, pid: i32, timeout: Duration) -> Option<Exit> {
        let deadline = Instant::now() + timeout;
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(e) = t.done.remove(&pid) {
                return Some(e);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            t = self
                .cv
                .wait_timeout(t, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stop caring about a process (its status will be dropped when it is reaped).
    pub fn forget(&self, pid: i32) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.tracked.remove(&pid);
        t.done.remove(&pid);
    }
}

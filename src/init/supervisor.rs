//! The supervisor: starts the programs in priority order, restarts them by their `autorestart`
//! rule (with `startsecs`/`startretries`), stops them in reverse priority with their stop signal
//! and grace time. It never blocks: the lifecycle's event loop feeds it exits and ticks.
use super::output::{self, Sink};
use super::program::{AutoRestart, Program};
use super::reaper::Exit;
use crate::state_file::ProgramState;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a SIGKILLed process may take to disappear before it is given up on.
const KILL_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PState {
    Stopped,
    Starting,
    Running,
    Backoff,
    Exited,
    Fatal,
    Stopping,
}

impl PState {
    pub fn as_str(self) -> &'static str {
        match self {
            PState::Stopped => "STOPPED",
            PState::Starting => "STARTING",
            PState::Running => "RUNNING",
            PState::Backoff => "BACKOFF",
            PState::Exited => "EXITED",
            PState::Fatal => "FATAL",
            PState::Stopping => "STOPPING",
        }
    }
}

#[derive(Debug)]
pub struct Proc {
    pub prog: Program,
    pub state: PState,
    pub pid: Option<i32>,
    started: Instant,
    retries: u32,
    pub restarts: u32,
    next_start: Option<Instant>,
    stop_deadline: Option<Instant>,
    killed: bool,
    /// Stopping only to be started again (a watch's `"restart": true`).
    restart_after_stop: bool,
    pub last_exit: Option<Exit>,
}

/// What the lifecycle must react to.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The command line given to dops-init ended: the container ends with its code.
    MainExited(Exit),
    /// A program could not be kept running (startretries spent).
    Fatal { name: String, msg: String },
}

pub struct Supervisor {
    pub procs: Vec<Proc>,
    prefix_width: Option<usize>,
    backoff: Duration,
    changed: bool,
}

impl Supervisor {
    /// `progs` in start order. Output is line-prefixed by program name when there are several.
    pub fn new(progs: Vec<Program>, backoff: Duration) -> Supervisor {
        let prefix_width = (progs.len() > 1).then(|| {
            progs
                .iter()
                .map(|p| p.name.chars().count())
                .max()
                .unwrap_or(0)
        });
        let now = Instant::now();
        Supervisor {
            procs: progs
                .into_iter()
                .map(|prog| Proc {
                    prog,
                    state: PState::Stopped,
                    pid: None,
                    started: now,
                    retries: 0,
                    restarts: 0,
                    next_start: None,
                    stop_deadline: None,
                    killed: false,
                    restart_after_stop: false,
                    last_exit: None,
                })
                .collect(),
            prefix_width,
            backoff,
            changed: true,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Start every program that is not running, in priority order.
    pub fn start_all(&mut self, now: Instant) -> Vec<Event> {
        let mut ev = Vec::new();
        for i in 0..self.procs.len() {
            if self.procs[i].pid.is_none() {
                self.procs[i].retries = 0;
                ev.extend(self.spawn(i, now));
            }
        }
        ev
    }

    fn spawn(&mut self, i: usize, now: Instant) -> Option<Event> {
        self.changed = true;
        let prefix = self
            .prefix_width
            .map(|w| format!("{:<w$} | ", self.procs[i].prog.name));
        let p = &self.procs[i].prog;
        let mut cmd = Command::new(&p.argv[0]);
        cmd.args(&p.argv[1..]).envs(&p.env);
        super::signals::reset_in_child(&mut cmd);
        if let Some(d) = &p.directory {
            cmd.current_dir(d);
        }
        if let Some(u) = &p.user {
            if let Some(h) = &u.home {
                cmd.env("HOME", h);
            }
            if let Some(n) = &u.name {
                cmd.env("USER", n).env("LOGNAME", n);
            }
            let (uid, gid, groups) = (u.uid, u.gid, u.groups.clone());
            // SAFETY: only async-signal-safe system calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        if p.main {
            // The image's own command: keeps the container's stdin and terminal, like tini.
        } else {
            cmd.stdin(Stdio::null()).process_group(0);
        }
        if prefix.is_some() {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let proc_ = &mut self.procs[i];
        proc_.started = now;
        proc_.next_start = None;
        proc_.killed = false;
        match cmd.spawn() {
            Ok(mut child) => {
                if let Some(pre) = prefix {
                    if let Some(o) = child.stdout.take() {
                        output::forward(o, pre.clone(), Sink::Stdout, None);
                    }
                    if let Some(e) = child.stderr.take() {
                        output::forward(e, pre, Sink::Stderr, None);
                    }
                }
                proc_.pid = Some(child.id() as i32);
                proc_.state = if proc_.prog.startsecs.is_zero() {
                    PState::Running
                } else {
                    PState::Starting
                };
                None
            }
            Err(e) => {
                output::log(&format!(
                    "cannot start program {} ({}): {e}",
                    proc_.prog.name, proc_.prog.argv[0]
                ));
                let code = if e.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
                proc_.state = PState::Starting;
                self.after_exit(i, Exit::Code(code), now)
            }
        }
    }

    /// A process ended: `None` when it is not one of the programs.
    pub fn on_exit(&mut self, pid: i32, exit: Exit, now: Instant) -> Option<Option<Event>> {
        let i = self.procs.iter().position(|p| p.pid == Some(pid))?;
        self.procs[i].pid = None;
        Some(self.after_exit(i, exit, now))
    }

    fn after_exit(&mut self, i: usize, exit: Exit, now: Instant) -> Option<Event> {
        self.changed = true;
        let backoff = self.backoff;
        let p = &mut self.procs[i];
        p.last_exit = Some(exit);
        match p.state {
            PState::Stopping | PState::Stopped => {
                p.state = PState::Stopped;
                if std::mem::take(&mut p.restart_after_stop) {
                    p.restarts += 1;
                    p.retries = 0;
                    return self.spawn(i, now);
                }
                None
            }
            _ if p.prog.main => {
                p.state = PState::Exited;
                Some(Event::MainExited(exit))
            }
            PState::Starting => {
                p.retries += 1;
                if p.retries > p.prog.startretries {
                    p.state = PState::Fatal;
                    let msg = format!(
                        "{exit} within startsecs ({:?}), {} start attempts",
                        p.prog.startsecs, p.retries
                    );
                    output::log(&format!("program {} is FATAL: {msg}", p.prog.name));
                    Some(Event::Fatal {
                        name: p.prog.name.clone(),
                        msg,
                    })
                } else {
                    p.state = PState::Backoff;
                    p.next_start = Some(now + backoff * p.retries);
                    output::log(&format!(
                        "program {} ended ({exit}) while starting; retry {} of {} in {:?}",
                        p.prog.name,
                        p.retries,
                        p.prog.startretries,
                        backoff * p.retries
                    ));
                    None
                }
            }
            PState::Running => {
                let expected = match exit {
                    Exit::Code(c) => p.prog.exitcodes.contains(&c),
                    Exit::Signal(_) => false,
                };
                let again = match p.prog.autorestart {
                    AutoRestart::Always => true,
                    AutoRestart::Never => false,
                    AutoRestart::Unexpected => !expected,
                };
                if again {
                    output::log(&format!(
                        "program {} ended ({exit}); restarting",
                        p.prog.name
                    ));
                    p.restarts += 1;
                    p.retries = 0;
                    self.spawn(i, now)
                } else {
                    output::log(&format!("program {} ended ({exit})", p.prog.name));
                    p.state = PState::Exited;
                    None
                }
            }
            PState::Backoff | PState::Exited | PState::Fatal => None,
        }
    }

    /// Timers: STARTING → RUNNING after startsecs, BACKOFF → start again, STOPPING → SIGKILL.
    pub fn tick(&mut self, now: Instant) -> Vec<Event> {
        let mut ev = Vec::new();
        for i in 0..self.procs.len() {
            let p = &mut self.procs[i];
            match p.state {
                PState::Starting if now >= p.started + p.prog.startsecs => {
                    p.state = PState::Running;
                    p.retries = 0;
                    self.changed = true;
                }
                PState::Backoff if p.next_start.is_some_and(|t| now >= t) => {
                    ev.extend(self.spawn(i, now));
                }
                PState::Stopping if p.stop_deadline.is_some_and(|t| now >= t) => {
                    if p.killed {
                        output::log(&format!(
                            "program {} did not go away after SIGKILL; giving up on it",
                            p.prog.name
                        ));
                        p.state = PState::Stopped;
                        p.restart_after_stop = false;
                        self.changed = true;
                    } else {
                        output::log(&format!(
                            "program {} did not stop within {:?}; sending SIGKILL",
                            p.prog.name, p.prog.stopwait
                        ));
                        Self::send(p, Signal::SIGKILL);
                        p.killed = true;
                        p.stop_deadline = Some(now + KILL_WAIT);
                    }
                }
                _ => {}
            }
        }
        ev
    }

    /// The next instant `tick` has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.procs
            .iter()
            .filter_map(|p| match p.state {
                PState::Starting => Some(p.started + p.prog.startsecs),
                PState::Backoff => p.next_start,
                PState::Stopping => p.stop_deadline,
                _ => None,
            })
            .min()
    }

    /// No program is still on its way up.
    pub fn startup_done(&self) -> bool {
        !self
            .procs
            .iter()
            .any(|p| matches!(p.state, PState::Starting | PState::Backoff))
    }

    pub fn fatal(&self) -> Option<String> {
        self.procs
            .iter()
            .find(|p| p.state == PState::Fatal)
            .map(|p| p.prog.name.clone())
    }

    /// Distinct priorities, highest first (the stop order).
    pub fn priorities_desc(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.procs.iter().map(|p| p.prog.priority).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.dedup();
        v
    }

    fn send(p: &Proc, sig: Signal) {
        if let Some(pid) = p.pid {
            // Programs have their own process group: signal all of it. The main command shares
            // ours, so only it is signalled.
            let target = if p.prog.main { pid } else { -pid };
            if kill(Pid::from_raw(target), sig).is_err() && !p.prog.main {
                let _ = kill(Pid::from_raw(pid), sig);
            }
        }
    }

    /// Ask the programs of one priority to stop (their stop signal, then SIGKILL after the grace).
    pub fn begin_stop(&mut self, priority: i32, now: Instant) {
        for p in self
            .procs
            .iter_mut()
            .filter(|p| p.prog.priority == priority)
        {
            match p.state {
                PState::Starting | PState::Running if p.pid.is_some() => {
                    Self::send(p, p.prog.stopsignal);
                    p.state = PState::Stopping;
                    p.restart_after_stop = false;
                    p.killed = false;
                    p.stop_deadline = Some(now + p.prog.stopwait);
                    self.changed = true;
                }
                PState::Backoff | PState::Fatal | PState::Exited => {
                    p.state = PState::Stopped;
                    self.changed = true;
                }
                _ => {}
            }
        }
    }

    /// Every program of this priority is gone.
    pub fn group_down(&self, priority: i32) -> bool {
        self.procs
            .iter()
            .filter(|p| p.prog.priority == priority)
            .all(|p| p.state != PState::Stopping)
    }

    /// SIGKILL everything still alive (a second stop request).
    pub fn kill_all(&mut self) {
        for p in self.procs.iter_mut() {
            if p.pid.is_some() {
                Self::send(p, Signal::SIGKILL);
                p.killed = true;
            }
        }
    }

    /// Pass a signal on to every live program.
    pub fn signal_all(&self, sig: Signal) {
        for p in &self.procs {
            Self::send(p, sig);
        }
    }

    /// The program's `reload_signal` (used by watches).
    pub fn reload(&self, name: &str) -> bool {
        match self.procs.iter().find(|p| p.prog.name == name) {
            Some(p) if p.pid.is_some() => {
                Self::send(p, p.prog.reload_signal);
                true
            }
            _ => false,
        }
    }

    /// Stop one program (its stop signal and grace) and start it again.
    pub fn restart_program(&mut self, name: &str, now: Instant) -> Option<Event> {
        let i = self.procs.iter().position(|p| p.prog.name == name)?;
        self.changed = true;
        let p = &mut self.procs[i];
        match p.state {
            PState::Starting | PState::Running if p.pid.is_some() => {
                Self::send(p, p.prog.stopsignal);
                p.state = PState::Stopping;
                p.killed = false;
                p.stop_deadline = Some(now + p.prog.stopwait);
                p.restart_after_stop = true;
                None
            }
            PState::Stopping => {
                p.restart_after_stop = true;
                None
            }
            _ => {
                p.retries = 0;
                self.spawn(i, now)
            }
        }
    }

    pub fn has_program(&self, name: &str) -> bool {
        self.procs.iter().any(|p| p.prog.name == name)
    }

    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The programs as the state file shows them.
    pub fn states(&self) -> Vec<ProgramState> {
        self.procs
            .iter()
            .map(|p| ProgramState {
                name: p.prog.name.clone(),
                state: p.state.as_str().to_string(),
                pid: p.pid,
                restarts: p.restarts,
                last_exit: p.last_exit.map(|e| e.code()),
            })
            .collect()
    }
}

//! The state machine: the `Init` of one container, its event loop and its phases.

use super::hook_result::{describe, SIDE_HOOK_LIMIT};
use crate::init::config;
use crate::init::error::InitError;
use crate::init::hooks;
use crate::init::initd::{self, Settings};
use crate::init::notify::Notifier;
use crate::init::output::log;
use crate::init::paths::{self, Paths};
use crate::init::program::Program;
use crate::init::reaper::{self, Exit, Exits};
use crate::init::signals::{Signals, FORWARDED};
use crate::init::state::{rfc3339, State, StateDoc, StateFile};
use crate::init::supervisor::{Event, Supervisor};
use crate::init::watch::{Watch, WatchMsg};
use crate::state_file::DnsState as DnsStatus;
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The longest restart backoff.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often a pending DNS registration's status is looked at.
pub(super) const DNS_POLL: Duration = Duration::from_millis(100);

/// Why the lifecycle ends.
#[derive(Debug)]
pub enum Stop {
    /// SIGTERM, SIGINT or SIGQUIT.
    Term,
    /// The command line given to dops-init ended on its own.
    Main(Exit),
    /// ERROR.
    Fail(InitError),
}

pub struct Init {
    pub(super) paths: Paths,
    pub(super) sig: Signals,
    pub(super) exits: Arc<Exits>,
    pub(super) sup: Supervisor,
    pub(super) doc: StateDoc,
    pub(super) file: StateFile,
    pub(super) notify: Notifier,
    pub(super) settings: Settings,
    pub(super) stop: bool,
    pub(super) forced: bool,
    pub(super) hup: bool,
    pub(super) failure: Option<String>,
    pub(super) main_exit: Option<Exit>,
    pub(super) services_started: bool,
    pub(super) dns: crate::init::dns_hook::Dns,
    pub(super) watches: Vec<Watch>,
    pub(super) watch_tx: Sender<WatchMsg>,
    pub(super) watch_rx: Receiver<WatchMsg>,
    pub(super) watch_stop: Arc<AtomicBool>,
    pub(super) watches_started: bool,
    /// Changes waiting for the UP loop (latest per watch).
    pub(super) watch_pending: Vec<WatchMsg>,
    /// state.json is behind: written before dops-init waits or runs a hook, not on every
    /// transition (a start with no hooks then costs one write, not six).
    pub(super) dirty: bool,
}

/// Run dops-init as the init of a container. `sig` must have been installed first of all.
pub fn run(sig: Signals, argv: Vec<String>) -> i32 {
    if nix::unistd::getpid().as_raw() != 1 {
        // Orphans come to us even when we are not PID 1 (tests, `docker run --init`).
        // SAFETY: plain prctl with an integer argument.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let paths = Paths::from_env();
    let exits = Arc::new(Exits::default());
    let mut doc = StateDoc::new();
    let mut file = StateFile::new(paths.state_json());
    // At once: the host folder may still hold the previous container's UP or STOPPED.
    file.write(&doc);
    let loaded = initd::load(&paths).and_then(|d| {
        let settings = d.settings(&paths)?;
        let progs = d.programs(&paths)?;
        let mut names: Vec<String> = progs.iter().map(|p| p.name.clone()).collect();
        if progs.is_empty() && !argv.is_empty() {
            names.push(Program::main_command(argv.clone()).name);
        }
        let watches = d.watches(&names)?;
        Ok((settings, progs, watches))
    });
    let (settings, progs, watches) = match loaded {
        Ok(x) => x,
        Err(e) => {
            // Nothing runs yet: report and leave.
            let n = Notifier::new(&["stdout".to_string()], &paths, &exits);
            log(&e.to_string());
            doc.state = State::Error;
            doc.since = SystemTime::now();
            doc.error = Some(e.to_string());
            file.write(&doc);
            n.send(&json!({"event": "lifecycle", "state": "ERROR", "time": rfc3339(doc.since), "error": e.to_string()}));
            return e.exit_code();
        }
    };
    let progs = if progs.is_empty() {
        if argv.is_empty() {
            vec![]
        } else {
            vec![Program::main_command(argv)]
        }
    } else {
        if !argv.is_empty() {
            log(&format!(
                "init.d declares programs; the command {argv:?} is not run (hint: declare it as a program)"
            ));
        }
        progs
    };
    let notify = Notifier::new(&settings.notify, &paths, &exits);
    let (watch_tx, watch_rx) = std::sync::mpsc::channel();
    let mut init = Init {
        watches,
        watch_tx,
        watch_rx,
        watch_stop: Arc::new(AtomicBool::new(false)),
        watches_started: false,
        watch_pending: Vec::new(),
        sup: Supervisor::new(progs, settings.backoff_base),
        dns: crate::init::dns_hook::Dns::from_env(),
        paths,
        sig,
        exits,
        doc,
        file,
        notify,
        settings,
        stop: false,
        forced: false,
        hup: false,
        failure: None,
        main_exit: None,
        services_started: false,
        dirty: true,
    };
    let code = init.main();
    init.flush();
    code
}

impl Init {
    pub(super) fn main(&mut self) -> i32 {
        let end = match self.lifecycle() {
            Ok(never) => match never {},
            Err(s) => s,
        };
        match end {
            Stop::Term | Stop::Main(_) => {
                if let Stop::Main(e) = &end {
                    log(&format!("the command ended ({e}); stopping"));
                } else {
                    log("stop requested; stopping");
                }
                let was_registered = self.registered_now();
                self.set_state(State::Stopped);
                self.stop_dns(was_registered);
                self.services_down();
                match end {
                    Stop::Main(e) => e.code(),
                    _ => self
                        .sup
                        .procs
                        .iter()
                        .find(|p| p.prog.main)
                        .and_then(|p| p.last_exit)
                        .map(Exit::code)
                        .unwrap_or(0),
                }
            }
            Stop::Fail(e) => {
                log(&format!("ERROR: {e}"));
                self.doc.error = Some(e.to_string());
                let was_registered = self.registered_now();
                self.set_state(State::Error);
                self.stop_dns(was_registered);
                self.services_down();
                e.exit_code()
            }
        }
    }

    pub(super) fn lifecycle(&mut self) -> Result<std::convert::Infallible, Stop> {
        let r = self.lifecycle_inner();
        self.watch_stop.store(true, Ordering::Relaxed);
        r
    }

    pub(super) fn lifecycle_inner(&mut self) -> Result<std::convert::Infallible, Stop> {
        let cfg = std::env::var("CFG").ok();
        config::build(&self.paths, cfg.as_deref()).map_err(Stop::Fail)?;
        self.check()?;
        if paths::env_true("SAFEMODE") {
            log("SAFEMODE: entry point hooks skipped");
        } else {
            for ep in hooks::entrypoints(&self.paths) {
                let name = format!(
                    "entrypoint {}",
                    ep.file_name().unwrap_or_default().to_string_lossy()
                );
                self.hook_checked(&name, hooks::command(&ep, &[]))?;
            }
        }
        self.set_state(State::Boot);
        self.whaleware_checked("boot")?;
        if !self.paths.init_marker().exists() {
            self.set_state(State::FirstBoot);
            self.whaleware_checked("firstboot")?;
            let marker = self.paths.init_marker();
            let written = std::fs::create_dir_all(self.paths.data_dir())
                .and_then(|_| std::fs::write(&marker, format!("{}\n", rfc3339(SystemTime::now()))));
            if let Err(e) = written {
                // whaleware: without a writable /data every start is a first boot.
                log(&format!(
                    "cannot write {}: {e}; the next start will run firstboot again",
                    marker.display()
                ));
            }
        }
        self.set_state(State::Upgrading);
        self.whaleware_checked("upgrade")?;
        self.set_state(State::Warmup);
        self.start_watches()?;
        self.services_up()?;
        self.whaleware_checked("warmup")?;
        self.set_state(State::Up);
        self.flush();
        crate::init::memory::trim();
        self.run_up()
    }

    /// UP: the monitor loop, SIGHUP restarts, program failures.
    pub(super) fn run_up(&mut self) -> Result<std::convert::Infallible, Stop> {
        let mut failures: u32 = 0;
        let interval = self.settings.monitor_interval;
        let mut next_monitor = Instant::now() + interval;
        loop {
            self.check()?;
            if self.hup {
                self.hup = false;
                log("SIGHUP: restarting the programs");
                if let Err(e) = self.restart(Duration::ZERO) {
                    let msg = recoverable(e)?;
                    self.on_failure(&mut failures, msg)?;
                }
                next_monitor = Instant::now() + interval;
                continue;
            }
            if let Some(msg) = self.failure.take() {
                self.on_failure(&mut failures, msg)?;
                next_monitor = Instant::now() + interval;
                continue;
            }
            if !self.watch_pending.is_empty() {
                self.run_watch_changes()?;
                crate::init::memory::trim_heap();
                continue;
            }
            if Instant::now() >= next_monitor {
                match self.monitor()? {
                    Ok(()) => failures = 0,
                    Err(msg) => self.on_failure(&mut failures, msg)?,
                }
                next_monitor = Instant::now() + interval;
                self.flush();
                crate::init::memory::trim();
                continue;
            }
            self.pump(Some(next_monitor));
        }
    }

    /// A failure while UP: restart with exponential backoff, or ERROR when the budget is spent.
    pub(super) fn on_failure(&mut self, failures: &mut u32, mut msg: String) -> Result<(), Stop> {
        loop {
            *failures += 1;
            if *failures > self.settings.restart_budget {
                return Err(Stop::Fail(InitError::BudgetSpent {
                    restarts: *failures - 1,
                    last: msg,
                }));
            }
            let backoff = backoff(self.settings.backoff_base, *failures);
            log(&format!(
                "{msg}; restart {} of {} in {backoff:?}",
                *failures, self.settings.restart_budget
            ));
            match self.restart(backoff) {
                Ok(()) => return Ok(()),
                Err(e) => msg = recoverable(e)?,
            }
        }
    }

    /// RESTARTING → svcdown, programs stopped → backoff → svcup, programs started → UP.
    pub(super) fn restart(&mut self, backoff: Duration) -> Result<(), Stop> {
        self.doc.restarts += 1;
        self.set_state(State::Restarting);
        self.services_down();
        self.check()?;
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            self.pump(Some(until));
            self.check()?;
        }
        self.services_up()?;
        self.failure = None;
        self.set_state(State::Up);
        self.flush();
        crate::init::memory::trim();
        Ok(())
    }

    /// `svcup`, then the programs; waits until none is still starting.
    pub(super) fn services_up(&mut self) -> Result<(), Stop> {
        self.services_started = true;
        self.whaleware_checked("svcup")?;
        let ev = self.sup.start_all(Instant::now());
        self.handle_events(ev);
        loop {
            self.check()?;
            if let Some(name) = self.sup.fatal() {
                self.failure = None;
                return Err(Stop::Fail(InitError::ProgramFailed {
                    name,
                    msg: "it kept ending while starting (see startsecs, startretries)".into(),
                }));
            }
            if self.sup.startup_done() {
                return Ok(());
            }
            self.pump(None);
        }
    }

    /// `svcdown` (bounded), then the programs in reverse priority. Not interruptible.
    pub(super) fn services_down(&mut self) {
        if !self.services_started {
            return;
        }
        self.services_started = false;
        if let Some(p) = hooks::find(&self.paths, "svcdown") {
            if let Ok(r) = self.run_side_hook("svcdown", hooks::command(&p, &[]), None) {
                if !r.exit.success() {
                    log(&format!("hook svcdown failed ({})", describe(&r)));
                }
            }
        }
        for prio in self.sup.priorities_desc() {
            self.sup.begin_stop(prio, Instant::now());
            self.sync_programs();
            while !self.sup.group_down(prio) {
                self.pump(None);
            }
        }
        self.sync_programs();
    }

    /// Run `monitor`; on success its JSON goes to the state, the sinks and `pushstats`.
    pub(super) fn monitor(&mut self) -> Result<Result<(), String>, Stop> {
        // The whaleware hook first; else the init.d MONITOR method; else nothing to check.
        let cmd = match (
            hooks::find(&self.paths, "monitor"),
            &self.settings.monitor_method,
        ) {
            (Some(path), _) => hooks::command(&path, &[]),
            (None, Some(method)) => hooks::shell_command(method),
            (None, None) => return Ok(Ok(())),
        };
        let r = self.run_hook(
            "monitor",
            cmd,
            true,
            Some(self.settings.monitor_timeout),
            true,
        )?;
        if r.timed_out {
            return Ok(Err(format!(
                "monitor did not answer within {:?}",
                self.settings.monitor_timeout
            )));
        }
        if !r.exit.success() {
            return Ok(Err(format!("monitor failed ({})", describe(&r))));
        }
        let text = String::from_utf8_lossy(&r.stdout).trim().to_string();
        let stats = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let now = SystemTime::now();
        self.doc.last_stats = stats.clone();
        self.doc.last_stats_at = Some(now);
        self.dirty = true;
        let mut ev = self.event("stats");
        ev["stats"] = stats.clone();
        self.notify.send(&ev);
        if let Some(p) = hooks::find(&self.paths, "pushstats") {
            let r = self.run_hook(
                "pushstats",
                hooks::command(&p, &[stats.to_string()]),
                false,
                Some(SIDE_HOOK_LIMIT),
                true,
            )?;
            if !r.exit.success() {
                log(&format!("hook pushstats failed ({})", describe(&r)));
            }
        }
        Ok(Ok(()))
    }

    /// Enter a state: state.json, the sinks, the DNS registration, the `lifecycle` hook.
    pub(super) fn set_state(&mut self, s: State) {
        self.doc.state = s;
        self.doc.since = SystemTime::now();
        if s != State::Error {
            self.doc.error = None;
        }
        self.doc.programs = self.sup.states();
        self.sync_dns();
        self.dirty = true;
        let mut ev = self.event("lifecycle");
        if let Some(e) = &self.doc.error {
            ev["error"] = json!(e);
        }
        self.notify.send(&ev);
        if let Some(p) = hooks::find(&self.paths, "lifecycle") {
            let cmd = hooks::command(&p, &[s.as_str().to_string()]);
            match self.run_side_hook("lifecycle", cmd, None) {
                Ok(r) if !r.exit.success() => {
                    log(&format!("hook lifecycle failed ({})", describe(&r)))
                }
                _ => {}
            }
        }
    }

    /// Whether the names are registered at this moment (read before a state change withdraws).
    pub(super) fn registered_now(&self) -> bool {
        self.dns.status().is_some_and(|s| s.registered)
    }

    /// STOPPED/ERROR: withdraw from DNS now (bounded), before the programs go; then, if the
    /// instance was registered when the stop began (`was_registered`, read before entering
    /// STOPPED/ERROR: that state change already asks the registration thread to withdraw, and
    /// the thread may be done before we get here), let the programs serve `stop_drain_s` more
    /// so that whoever follows the name (a load balancer's watch) drops it before it stops
    /// answering.
    pub(super) fn stop_dns(&mut self, was_registered: bool) {
        let still_registered = self.dns.stop();
        self.doc.dns = self.dns.status();
        self.dirty = true;
        let drain = self.settings.stop_drain;
        if (was_registered || still_registered) && !drain.is_zero() {
            self.flush();
            log(&format!(
                "withdrawn from DNS; draining {:.1} s before stopping",
                drain.as_secs_f64()
            ));
            std::thread::sleep(drain);
        }
    }

    /// Tell the registration what it should be: registered only when UP and not in maintenance.
    pub(super) fn sync_dns(&mut self) {
        let want = self.doc.state == State::Up && !self.doc.maintenance;
        self.dns.set_registered(want);
        self.doc.dns = self.dns.status();
    }

    pub(super) fn event(&self, kind: &str) -> Value {
        json!({
            "event": kind,
            "state": self.doc.state.as_str(),
            "time": rfc3339(SystemTime::now()),
            "service": std::env::var("SERVICE").ok(),
            "instance": std::env::var("INSTANCE").ok(),
            "restarts": self.doc.restarts,
            "maintenance": self.doc.maintenance,
        })
    }

    pub(super) fn stop_reason(&self) -> Stop {
        match self.main_exit {
            Some(e) => Stop::Main(e),
            None => Stop::Term,
        }
    }

    /// Handle whatever is pending, without waiting; `Err` when the lifecycle must end.
    pub(super) fn check(&mut self) -> Result<(), Stop> {
        self.pump(Some(Instant::now()));
        if self.stop || self.main_exit.is_some() {
            return Err(self.stop_reason());
        }
        Ok(())
    }

    /// Wait for one batch of events (signals, exits, supervisor timers) until `deadline`.
    pub(super) fn pump(&mut self, deadline: Option<Instant>) {
        let now = Instant::now();
        let mut wake = deadline;
        if let Some(t) = self.sup.next_deadline() {
            wake = Some(wake.map_or(t, |w| w.min(t)));
        }
        let mut timeout = wake.map(|w| w.saturating_duration_since(now));
        if self.dns.pending() {
            // The registration thread cannot wake us: look at its status now and then.
            timeout = Some(timeout.map_or(DNS_POLL, |t| t.min(DNS_POLL)));
        }
        if timeout != Some(Duration::ZERO) {
            self.flush();
        }
        for s in self.sig.wait(timeout) {
            match s {
                Signal::SIGCHLD => {}
                Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT => {
                    if self.stop && !self.forced {
                        log(&format!("{} again: killing everything", s.as_str()));
                        self.forced = true;
                        self.sup.kill_all();
                    } else if !self.stop {
                        log(&format!("{} received", s.as_str()));
                        self.stop = true;
                    }
                }
                Signal::SIGHUP => self.hup = true,
                Signal::SIGUSR1 => self.toggle_maintenance(),
                s if FORWARDED.contains(&s) => self.sup.signal_all(s),
                _ => {}
            }
        }
        let now = Instant::now();
        for (pid, exit) in reaper::reap_all() {
            match self.sup.on_exit(pid, exit, now) {
                Some(ev) => self.handle_events(ev),
                None => {
                    self.exits.record(pid, exit);
                }
            }
        }
        let ev = self.sup.tick(Instant::now());
        self.handle_events(ev);
        self.sync_programs();
        while let Ok(m) = self.watch_rx.try_recv() {
            let name = match &m {
                WatchMsg::Changed { name, .. } | WatchMsg::Failed { name, .. } => name.clone(),
            };
            // A newer change replaces an older one; a failure report never hides a change.
            self.watch_pending.retain(|p| match p {
                WatchMsg::Changed { name: n, .. } => {
                    *n != name || matches!(m, WatchMsg::Failed { .. })
                }
                WatchMsg::Failed { name: n, .. } => *n != name,
            });
            self.watch_pending.push(m);
        }
        let dns = self.dns.status();
        if dns != self.doc.dns {
            let err = |v: &Option<DnsStatus>| v.as_ref().and_then(|d| d.error.clone());
            if let Some(e) = err(&dns).filter(|e| Some(e) != err(&self.doc.dns).as_ref()) {
                log(&format!("DNS registration: {e}"));
            }
            self.doc.dns = dns;
            self.dirty = true;
        }
    }

    pub(super) fn flush(&mut self) {
        if std::mem::take(&mut self.dirty) {
            self.file.write(&self.doc);
        }
    }

    pub(super) fn sync_programs(&mut self) {
        if self.sup.take_changed() {
            self.doc.programs = self.sup.states();
            self.dirty = true;
        }
    }

    pub(super) fn handle_events(&mut self, ev: impl IntoIterator<Item = Event>) {
        for e in ev {
            match e {
                Event::MainExited(x) => {
                    self.main_exit.get_or_insert(x);
                }
                Event::Fatal { name, msg } => {
                    self.failure = Some(format!("program {name} could not be kept running: {msg}"));
                }
            }
        }
    }

    pub(super) fn toggle_maintenance(&mut self) {
        self.doc.maintenance = !self.doc.maintenance;
        log(&format!(
            "SIGUSR1: maintenance {}",
            if self.doc.maintenance { "on" } else { "off" }
        ));
        self.sync_dns();
        self.dirty = true;
        let ev = self.event("maintenance");
        self.notify.send(&ev);
    }
}

/// The wait before the n-th consecutive restart (n ≥ 1): base × 2^(n-1), at most 300 s.
pub fn backoff(base: Duration, n: u32) -> Duration {
    base.saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(MAX_BACKOFF)
}

/// Failures of a restart that count against the budget (others end the lifecycle).
fn recoverable(s: Stop) -> Result<String, Stop> {
    match s {
        Stop::Fail(e @ InitError::ProgramFailed { .. }) => Ok(e.to_string()),
        Stop::Fail(e @ InitError::HookFailed { .. }) => Ok(e.to_string()),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn backoff_doubles_and_is_capped() {
        let b = Duration::from_millis(500);
        assert_eq!(backoff(b, 1), Duration::from_millis(500));
        assert_eq!(backoff(b, 2), Duration::from_secs(1));
        assert_eq!(backoff(b, 4), Duration::from_secs(4));
        assert_eq!(backoff(b, 30), MAX_BACKOFF);
        assert_eq!(backoff(Duration::ZERO, 3), Duration::ZERO);
    }

    #[test]
    pub(super) fn only_program_and_hook_failures_count_against_the_budget() {
        let hook = Stop::Fail(InitError::HookFailed {
            hook: "svcup".into(),
            status: "exit code 1".into(),
            output: String::new(),
        });
        assert!(recoverable(hook).is_ok());
        let prog = Stop::Fail(InitError::ProgramFailed {
            name: "a".into(),
            msg: "x".into(),
        });
        assert!(recoverable(prog).is_ok());
        assert!(matches!(recoverable(Stop::Term), Err(Stop::Term)));
        assert!(recoverable(Stop::Fail(InitError::Usage("x".into()))).is_err());
    }
}

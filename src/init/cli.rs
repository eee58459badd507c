//! `dops-init [--] [COMMAND...]` and its subcommands. No clap: the init stays small and starts fast.
use super::config;
use super::health;
use super::hooks;
use super::lifecycle;
use super::output::{log, out};
use super::paths::{self, Paths};
use super::signals::Signals;
use std::os::unix::process::CommandExt;

const USAGE: &str = "dops-init: the init (PID 1) of dops containers

usage:
  dops-init [--] [COMMAND [ARG...]]   run the lifecycle; COMMAND is the program when
                                      /dops/init.d declares none
  dops-init cfg [path.to.key]         print the merged configuration (or one value)
  dops-init status [--json]           print the lifecycle state
  dops-init health                    exit 0 only when the state is UP
  dops-init health --swarm            the same until the first UP; then also while dops-init
                                      restarts its program or is in maintenance (a swarm kills
                                      an unhealthy task; dops-init supervises its own)
  /ww/cfg [path.to.key]               same as `dops-init cfg` (a link to dops-init)

environment: CFG, SAFEMODE, INTERACTIVE, DOPS_INIT_ROOT (moves /ww, /dops, /entrypoints, /data,
/run/dops, /etc under another folder), DOPS_INIT_MONITOR_INTERVAL, DOPS_INIT_MONITOR_TIMEOUT,
DOPS_INIT_BACKOFF_BASE, DOPS_INIT_RESTART_BUDGET, DOPS_INIT_STOPWAIT (seconds)";

pub fn main() -> i32 {
    // An argument that is not UTF-8 is refused rather than altered: it would run another command.
    let mut args: Vec<String> = Vec::new();
    for a in std::env::args_os() {
        match a.into_string() {
            Ok(a) => args.push(a),
            Err(a) => {
                use std::os::unix::ffi::OsStrExt;
                return usage_error(&format!(
                    "argument {} is not valid UTF-8",
                    crate::host_env::escaped(a.as_bytes())
                ));
            }
        }
    }
    let argv0 = args.first().cloned().unwrap_or_default();
    let rest: Vec<String> = args.into_iter().skip(1).collect();
    if std::path::Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        == Some("cfg")
    {
        return cfg(&rest);
    }
    match rest.first().map(String::as_str) {
        Some("cfg") => cfg(&rest[1..]),
        Some("status") => match &rest[1..] {
            [] => health::status(&Paths::from_env(), false),
            [j] if j == "--json" => health::status(&Paths::from_env(), true),
            _ => usage_error("status takes only --json"),
        },
        Some("health") => match &rest[1..] {
            [] => health::health(&Paths::from_env()),
            [s] if s == "--swarm" => health::health_swarm(&Paths::from_env()),
            _ => usage_error("health takes only --swarm"),
        },
        Some("-h") | Some("--help") | Some("help") => {
            out(USAGE);
            0
        }
        Some("-V") | Some("--version") => {
            out(&format!("dops-init {}", env!("CARGO_PKG_VERSION")));
            0
        }
        Some("--") => init(rest[1..].to_vec()),
        _ => init(rest),
    }
}

fn usage_error(msg: &str) -> i32 {
    log(&format!("{msg}\n\n{USAGE}"));
    2
}

fn cfg(args: &[String]) -> i32 {
    if args.len() > 1 {
        return usage_error("cfg takes one key, e.g. `dops-init cfg db.port`");
    }
    match config::cmd(&Paths::from_env(), args.first().map(String::as_str)) {
        Ok(v) => {
            out(&v.to_string());
            0
        }
        Err(e) => {
            log(&e.to_string());
            e.exit_code().max(1)
        }
    }
}

/// The variables the lifecycle reads: one that is not UTF-8 is bad configuration, never taken as
/// unset (the DNS variables are the registration's: it reports them in state.json).
const LIFECYCLE_ENV: &[&str] = &[
    "CFG",
    "SAFEMODE",
    "INTERACTIVE",
    "SERVICE",
    "INSTANCE",
    "DOPS_INIT_MONITOR_INTERVAL",
    "DOPS_INIT_MONITOR_TIMEOUT",
    "DOPS_INIT_BACKOFF_BASE",
    "DOPS_INIT_RESTART_BUDGET",
    "DOPS_INIT_STOP_DRAIN",
    "DOPS_INIT_STOPWAIT",
    "DOPS_INIT_NOTIFY_TIMEOUT",
];

fn init(argv: Vec<String>) -> i32 {
    if let Err(e) = crate::host_env::check(LIFECYCLE_ENV) {
        log(&e.to_string());
        return 2;
    }
    if paths::env_true("INTERACTIVE") {
        return interactive(argv);
    }
    super::memory::tune_allocator();
    // First of all: from here on no signal can be lost or kill us by its default action.
    let sig = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            log(&format!("cannot install the signal handlers: {e}"));
            return 1;
        }
    };
    lifecycle::run(sig, argv)
}

/// INTERACTIVE=True: the entry point hooks (unless SAFEMODE=True), then exec the command
/// (default `/bin/sh`): no lifecycle, no supervisor.
fn interactive(argv: Vec<String>) -> i32 {
    let paths = Paths::from_env();
    if !paths::env_true("SAFEMODE") {
        for ep in hooks::entrypoints(&paths) {
            match hooks::command(&ep, &[]).status() {
                Ok(s) if s.success() => {}
                Ok(s) => {
                    log(&format!("entrypoint {} failed ({s})", ep.display()));
                    return 1;
                }
                Err(e) => {
                    log(&format!("cannot run entrypoint {}: {e}", ep.display()));
                    return 1;
                }
            }
        }
    }
    let argv = if argv.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        argv
    };
    // exec resets the signal mask and SIGPIPE, like every child dops-init starts.
    let e = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    log(&format!("cannot exec {}: {e}", argv[0]));
    if e.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

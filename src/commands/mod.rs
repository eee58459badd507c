//! The command edge: parse, set up tracing, dispatch to one file per verb, map errors to exit
//! codes (0 ok, 1 failed, 2 bad usage or configuration, 3 Docker engine unreachable).

pub mod build;
pub mod clean;
pub mod demo;
pub mod dns;
pub mod engine_common;
// --- meta (issue 8) ---
pub mod examine;
pub mod status;
pub mod update;
pub mod validate;
// --- end meta ---
pub mod getip;
pub mod info;
pub mod install_demo;
pub mod logs;
pub mod plan;
pub mod ps;
pub mod rerun;
pub mod run;
pub mod shell;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::action::{Action, GlobalOpts, Invocation};
use crate::cli::{self, UsageError};
use crate::output;
use crate::project::HostContext;

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = match cli::parse(&args) {
        Ok(inv) => inv,
        Err(UsageError::Help(text)) => {
            output::out(&text);
            return 0;
        }
        Err(e) => {
            output::error(&e);
            return 2;
        }
    };
    init_tracing(inv.global.verbose);
    tracing::debug!(?inv, "invocation");
    // A command whose output goes into a closed pipe (`dops ps | head`) ends quietly, as Unix
    // tools do, instead of panicking in println!. Not the DNS server: a peer closing a socket
    // must never end it.
    if !matches!(
        inv.action,
        Action::Dns(crate::action::DnsAction::Serve { .. })
    ) {
        // SAFETY: restoring the default disposition of one signal before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match dispatch(&inv) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            exit_code(&e)
        }
    }
}

/// 3 when the Docker engine is unreachable, 2 for bad usage or configuration, 1 for everything else.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if let Some(engine_error) = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::engine::EngineError>())
    {
        return engine_error.exit_code();
    }
    if e.downcast_ref::<UsageError>().is_some()
        || e.downcast_ref::<crate::project::ProjectError>().is_some()
        || e.downcast_ref::<crate::plan::PlanError>().is_some()
    {
        2
    } else {
        1
    }
}

/// `-v` → info, `-vv` → debug, `-vvv` → trace; `DOPS_LOG` (an env-filter) wins. Logs go to stderr.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("DOPS_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

// =============================================================================================
// DISPATCH — the lead wires the other verbs here at merge.
//
// Verbs implemented elsewhere (src/commands/<verb>.rs: build, run, rerun, clean, ps, logs, shell,
// info, getip, examine, validate, update, status, install_demo, demo, dns) currently return the
// usage error "verb 'x' is not available in this build". `plan` and every `--dry-run` work here,
// against `Observed::default()` until `engine::observe` is fed in.
// =============================================================================================
fn dispatch(inv: &Invocation) -> anyhow::Result<i32> {
    let g = &inv.global;
    match &inv.action {
        Action::Plan(_) => plan::run(inv, &engine_common::observe_for_plan(inv)),
        Action::Run(r) | Action::Rerun(r) if r.dry_run => {
            plan::run(inv, &engine_common::observe_for_plan(inv))
        }
        Action::Build(b) if b.dry_run => plan::run(inv, &engine_common::observe_for_plan(inv)),
        Action::Clean(c) if c.dry_run => plan::run(inv, &engine_common::observe_for_plan(inv)),
        Action::Build(a) => build::execute(inv, a),
        Action::Run(a) => run::execute(inv, a),
        Action::Rerun(a) => rerun::execute(inv, a),
        Action::Clean(a) => clean::execute(inv, a),
        Action::Ps(a) => ps::execute(g, a),
        Action::Shell(a) => shell::execute(g, a),
        Action::Logs(a) => logs::execute(g, a),
        Action::Info(a) => info::execute(g, a),
        Action::Getip(a) => getip::execute(g, a),
        // meta (issue 8)
        Action::Examine(a) => examine::execute(g, a),
        Action::Validate(a) => validate::execute(g, a),
        Action::Update(a) => update::execute(g, a),
        Action::Status(a) => status::execute(g, a),
        // demo (issue 7)
        Action::InstallDemo(a) => install_demo::execute(g, a),
        Action::Demo(a) => demo::execute(g, a),
        // dns (issue 6)
        Action::Dns(crate::action::DnsAction::Serve {
            listen,
            zone,
            ttl,
            lease,
            upstream,
        }) => {
            let listen = match listen.first() {
                Some(l) => Some(l.parse::<std::net::SocketAddr>().map_err(|_| {
                    UsageError::Other(format!("invalid --listen {l:?}: expected ip:port"))
                })?),
                None => None,
            };
            dns::serve(dns::ServeArgs {
                listen,
                zone: zone.clone(),
                ttl: *ttl,
                lease: lease.map(|l| l as f64),
                upstreams: upstream.clone(),
                ..Default::default()
            })?;
            Ok(0)
        }
        Action::Dns(crate::action::DnsAction::Records { .. }) => {
            dns::records(dns::RecordsArgs {
                project_dir: project_dir(g)?,
                json: g.json,
            })?;
            Ok(0)
        }
    }
}

/// The project folder: `--project DIR` or the current folder.
pub fn project_dir(global: &GlobalOpts) -> anyhow::Result<PathBuf> {
    match &global.project_dir {
        Some(d) => Ok(d.clone()),
        None => Ok(std::env::current_dir()?),
    }
}

/// What the planner needs to know about the host (I/O kept here, at the edge): the environment,
/// the hostname, and each interface's first IPv4 address (for `from_<iface>` values).
pub fn host_context() -> HostContext {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let interfaces = crate::local_addr::interfaces();
    HostContext {
        env,
        hostname,
        interfaces,
    }
}

/// The DNS key for a plan, without creating one (`DNS_KEY` form), when the project has one.
pub fn dns_key_for_plan(project_dir: &Path) -> Option<String> {
    match crate::tsig_key::load(project_dir) {
        Ok(key) => key.map(|k| k.to_env()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the dns key");
            None
        }
    }
}

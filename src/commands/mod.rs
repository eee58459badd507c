//! The command edge: parse, set up tracing, dispatch to one file per verb, map errors to exit
//! codes (0 ok, 1 failed, 2 bad usage or configuration, 3 Docker engine unreachable).

pub mod build;
pub mod clean;
pub mod completions;
pub mod demo;
pub mod dns;
pub mod events;
pub mod examine;
pub mod getip;
pub mod import;
pub mod info;
pub mod install_demo;
pub mod instances;
pub mod logs;
pub mod nodes;
pub mod plan;
pub mod ps;
pub mod run;
pub mod session;
pub mod shell;
pub mod status;
pub mod stop_signal;
pub mod timing;
pub mod ui;
pub mod update;
pub mod validate;

use std::ffi::OsString;

use crate::action::{Action, DnsAction, Invocation};
use crate::cli::{self, UsageError};
use crate::output;
pub use session::Session;

/// Run dops with these arguments (without the program name) and return its exit code. The
/// binary passes `std::env::args_os()`; tests may call it with chosen arguments.
pub fn run(args: Vec<OsString>) -> i32 {
    // The completion scripts' helper: the words are the shell's, not a dops command line.
    if args.first().is_some_and(|a| a == "__complete") {
        let words: Vec<String> = args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return completions::names(&words);
    }
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
    // dops' own variables: refused when they do not decode, never taken as unset.
    if let Err(e) = crate::host_env::check(crate::host_env::OWN) {
        output::error(&e);
        return 2;
    }
    init_tracing(inv.global.verbose);
    tracing::debug!(?inv, "invocation");
    // A command whose output goes into a closed pipe (`dops ps | head`) ends quietly, as Unix
    // tools do, instead of panicking in println!. Not the DNS server: a peer closing a socket
    // must never end it.
    if !matches!(inv.action, Action::Dns(DnsAction::Serve { .. })) {
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
        || e.downcast_ref::<session::NotLoaded>().is_some()
        || e.downcast_ref::<crate::plan::PlanError>().is_some()
        || e.downcast_ref::<crate::compose::ComposeError>().is_some()
        || e.downcast_ref::<import::ImportError>().is_some()
        || e.downcast_ref::<crate::host_env::NotUtf8>().is_some()
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}

/// One verb, with the session built once for it.
fn dispatch(inv: &Invocation) -> anyhow::Result<i32> {
    let session = || Session::of(inv);
    match &inv.action {
        Action::Plan(_) => plan::run(&session()?, &inv.action),
        Action::Run(r) | Action::Rerun(r) | Action::Up(r) if r.dry_run => {
            plan::run(&session()?, &inv.action)
        }
        Action::Build(b) if b.dry_run => plan::run(&session()?, &inv.action),
        Action::Clean(c) if c.dry_run => plan::run(&session()?, &inv.action),
        Action::Build(a) => build::execute(&session()?, &inv.action, a),
        Action::Run(a) | Action::Rerun(a) | Action::Up(a) => {
            run::execute(&session()?, &inv.action, a)
        }
        Action::Clean(a) => clean::execute(&session()?, &inv.action, a),
        Action::Ps(a) => ps::execute(&session()?, a),
        Action::Shell(a) => shell::execute(&session()?, a),
        Action::Logs(a) => logs::execute(&session()?, a),
        Action::Info(a) => info::execute(&session()?, a),
        Action::Getip(a) => getip::execute(&session()?, a),
        Action::Examine(a) => examine::execute(&session()?, a),
        Action::Validate(a) => validate::execute(&session()?, a),
        Action::Update(a) => update::execute(&session()?, a),
        Action::Status(a) => status::execute(&session()?, a),
        Action::Events(a) => events::execute(&session()?, a),
        Action::Ui(a) => ui::execute(&session()?, a),
        Action::Dns(DnsAction::Records { server, zone }) => {
            let server = match server {
                Some(text) => Some(dns::parse_server(text).ok_or_else(|| {
                    UsageError::Other(format!("invalid --server {text:?}: expected ip or ip:port"))
                })?),
                None => None,
            };
            dns::records(&session()?, server, zone.as_deref())
        }
        Action::Dns(DnsAction::Serve {
            listen,
            zone,
            ttl,
            lease,
            upstream,
        }) => {
            let listen = listen
                .iter()
                .map(|l| {
                    l.parse::<std::net::SocketAddr>().map_err(|_| {
                        UsageError::Other(format!("invalid --listen {l:?}: expected ip:port"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
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
        // No project folder needed: they make one.
        Action::InstallDemo(a) => install_demo::execute(&inv.global, a),
        Action::Demo(a) => demo::execute(&inv.global, a),
        Action::Import(a) => import::execute(&inv.global, a),
        Action::Completions(a) => completions::execute(a),
        Action::Nodes => nodes::execute(&session()?),
    }
}

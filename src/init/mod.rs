//! dops-init: the PID 1 of every dops container: the whaleware lifecycle, a supervisor, a
//! watchdog, signals, configuration merge, notifications and the state file.
//!
//! Small and boring on purpose: std threads and nix/libc only (no tokio, no bollard, no
//! hickory-server, no NSS). The file-system layout is in `paths`, the `/dops/init.d` schema in
//! `initd`, the state file in `state`.
pub mod cli;
pub mod config;
// meta (issue 8): the `container` personality (container --metadata/--examine/--validate/--update).
pub mod container;
pub mod dns_hook;
pub mod dns_server;
pub mod dns_wire;
pub mod error;
pub mod health;
pub mod hooks;
pub mod initd;
pub mod lifecycle;
pub mod memory;
pub mod notify;
pub mod output;
pub mod paths;
pub mod program;
pub mod reaper;
pub mod register;
pub mod register_error;
pub mod signals;
pub mod state;
pub mod supervisor;
pub mod watch;

pub use error::InitError;

/// The `dops-init` binary.
pub fn main() -> i32 {
    memory::one_arena();
    // meta (issue 8): answer as `container` (argv[0] name, or `dops-init container …`) first.
    if let Some(code) = container::dispatch() {
        return code;
    }
    cli::main()
}

//! The whaleware lifecycle, driven by one event loop on the main thread:
//!
//! DOCKERUP (entry points) → BOOT → FIRSTBOOT (no marker in /data) → UPGRADING → WARMUP (svcup,
//! programs, warmup) → UP → every `monitor_interval_s`: monitor → pushstats; a failure →
//! RESTARTING (svcdown, programs stopped, backoff, svcup, programs started) → UP, until the restart
//! budget is spent → ERROR. SIGTERM/SIGINT/SIGQUIT at any point → STOPPED → svcdown → programs
//! stopped in reverse priority → exit. SIGHUP → RESTARTING → UP (no warmup). SIGUSR1 →
//! maintenance on/off.
//!
//! - [`machine`]: the state machine (`Init`), its event loop and phases
//! - [`hook_runs`]: running the hooks it calls; [`hook_result`]: what a hook run gives back
//! - [`watches`]: applying DNS watch changes (templates, reloads) once UP

mod hook_result;
mod hook_runs;
mod machine;
mod watches;

pub use machine::{backoff, run, Stop};

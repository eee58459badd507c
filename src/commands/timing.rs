//! Per-phase timings of a command, logged at debug level under the `dops::timing` target:
//! `DOPS_LOG=dops::timing=debug dops ps` shows where a command's time goes.

use std::time::Instant;

/// The clock of one command, started when it is made.
pub struct Phases(Instant);

impl Phases {
    pub fn start() -> Phases {
        Phases(Instant::now())
    }

    /// Log the time from the start to the end of the phase `what`.
    pub fn done(&self, what: &str) {
        tracing::debug!(target: "dops::timing", "{what}: {:.1} ms", self.0.elapsed().as_secs_f64() * 1000.0);
    }
}

//! What the engine tells while it works. The engine never prints: the command edge hands it a
//! [`Reporter`] and decides how each event is shown (`output::progress`: bars on a terminal,
//! plain lines otherwise).

use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A step carried out: "created network demo", "removed demo-web-one".
    Done(String),
    /// A build began.
    BuildStarted { service: String },
    /// The step a build is at: "Step 3/5 : RUN make".
    BuildStep { service: String, step: String },
    /// One line of a build's output (shown with `-v`).
    BuildOutput { service: String, line: String },
    /// A build ended; `summary` says how ("✓ built …", "✗ build of web failed").
    BuildEnded { service: String, summary: String },
    /// A build was not attempted, or some other line about the builds.
    BuildNote(String),
    /// The builds of one batch are over.
    BuildsOver,
    /// The lifecycle of an instance `--wait` waits for, each time it changes.
    Waiting { container: String, state: String },
    /// The wait is over (every instance up, or one failed, or the time ran out).
    WaitOver,
}

/// Where the engine sends its progress.
pub type Reporter = Arc<dyn Fn(Progress) + Send + Sync>;

/// A reporter that drops everything (tests, and callers with nothing to show).
pub fn quiet() -> Reporter {
    Arc::new(|_| {})
}

/// Where the output of a container goes (its logs, an exec, an attached terminal): the
/// command's stdout and stderr, as the command edge decides. Bytes are passed through as they
/// come; the sink flushes what it is given.
pub trait Sink: Send + Sync {
    fn out(&self, bytes: &[u8]);
    fn err(&self, bytes: &[u8]);
}

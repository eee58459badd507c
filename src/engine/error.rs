//! Everything that can go wrong while talking to Docker, and how bollard's errors are read
//! (unreachable, 404, 304).

use std::path::PathBuf;

/// Everything that can go wrong while talking to Docker.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the docker engine is unreachable ({detail})\nhint: start it with `sudo systemctl start docker` (or `sudo dockerd &`), and check that DOCKER_HOST points at it")]
    Unreachable { detail: String },
    #[error("{what}: {why}")]
    BadHost { what: String, why: String },
    #[error("docker: {context}: {source}")]
    Docker {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("build of {service} failed{}\n{output}", step.as_ref().map(|s| format!(" at {s}")).unwrap_or_default())]
    BuildFailed {
        service: String,
        /// "Dockerfile:7: RUN make" when known.
        step: Option<String>,
        /// The failing step's output and Docker's error message.
        output: String,
    },
    #[error("build of {service} skipped: its parent {parent} failed")]
    ParentFailed { service: String, parent: String },
    #[error("the dops-init binary was not found (looked for {looked})\nhint: build it with `cargo build --bin dops-init`, install it next to dops, or set DOPS_INIT_BIN")]
    InitNotFound { looked: String },
    #[error("no container {name}\nhint: `dops ps` lists the running instances")]
    NoSuchContainer { name: String },
    #[error("{name} is not running\nhint: start it with `dops run:…`")]
    NotRunning { name: String },
    #[error("cannot resolve the address of {name}: it has no IPv4 address on a network")]
    NoAddress { name: String },
    #[error("refusing to delete {}: {why} (only folders of the data folder {} are purged); nothing was deleted", path.display(), root.display())]
    UnsafePurge {
        path: PathBuf,
        root: PathBuf,
        why: String,
    },
    #[error("seeding {} from {from} failed: {what}\nhint: nothing was marked as seeded: the next run tries again", host.display())]
    Seed {
        host: PathBuf,
        /// `image:/path`
        from: String,
        what: String,
    },
    #[error("another dops command (pid {pid}) holds the project lock {path}\nhint: wait for it to finish; the lock is released when that process exits")]
    Locked { path: PathBuf, pid: String },
    #[error("timed out after {seconds}s waiting for {waiting}")]
    Timeout { seconds: u64, waiting: String },
    #[error("{instance} did not come up: {state}{}\nthe last lines of its log:\n{log}", if *.rolled_back { format!("\nrolled back: the previous {instance} serves again; the roll-out of its service stopped") } else { "\nkept for debugging (--no-rollback); the previous one stays aside".to_string() })]
    RolloutFailed {
        instance: String,
        /// Its last lifecycle state (and error), or Docker's state.
        state: String,
        log: String,
        rolled_back: bool,
    },
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    pub(crate) fn docker(context: impl Into<String>, source: bollard::errors::Error) -> Self {
        if is_unreachable(&source) {
            return EngineError::Unreachable {
                detail: source.to_string(),
            };
        }
        EngineError::Docker {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code this error maps to (3 when the engine is unreachable).
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Unreachable { .. } => 3,
            EngineError::BadHost { .. } => 2,
            _ => 1,
        }
    }
}

impl From<crate::dockerignore::IgnoreError> for EngineError {
    fn from(e: crate::dockerignore::IgnoreError) -> Self {
        EngineError::io(e.path, e.source)
    }
}

/// Errors that mean "nobody answers on the socket" rather than "Docker said no".
pub(crate) fn is_unreachable(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    match e {
        E::SocketNotFoundError(_) | E::RequestTimeoutError => true,
        E::IOError { err } => matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::NotFound
                | std::io::ErrorKind::PermissionDenied
        ),
        E::HyperResponseError { .. } | E::HyperLegacyError { .. } => {
            let s = e.to_string().to_lowercase();
            s.contains("connect") || s.contains("refused")
        }
        _ => false,
    }
}

/// True when a bollard error is Docker's 404.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// True when a streamed answer (build, push) lost its tail in transit rather than the work
/// failing. Docker ends each of those messages with "\r\n"; when one read of the answer ends
/// between a message's `}` and its "\r\n", bollard's line decoder (0.21) keeps a lone "\r" in
/// front of what follows, and at the end of the answer it fails with tokio-util's "bytes
/// remaining on stream", dropping the messages still buffered (often the last ones: the image
/// id, or the error). The outcome is then unknown: callers confirm it from the engine or redo
/// the call, which the engine's cache makes cheap.
pub(crate) fn is_lost_tail(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::IOError { err } if err.to_string() == "bytes remaining on stream")
}

/// True when a bollard error is Docker's 304 (already started / already stopped).
pub(crate) fn is_not_modified(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 304,
            ..
        }
    )
}

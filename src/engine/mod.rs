//! The engine: the only module that talks to Docker (through bollard).
//!
//! It executes what the planner decided and makes no decisions of its own:
//! - `connect`: the connection (API version negotiated; unreachable → `EngineError::Unreachable`)
//! - `observe`: the project's containers, networks and images as plain `Observed` data
//! - `context`: the build context tar, honouring `.dockerignore` with Docker's semantics
//! - `inject`: the final layer that puts dops-init in every image
//! - `build`: image builds (parents first, independent ones in parallel, progress lines)
//! - `apply`: one plan step = one (or a few) Docker API calls
//! - `exec`, `logs`: shells and logs of running instances
//! - `lock`: the project lock (`.dops/lock`) that keeps two dops commands from racing
//! - `progress`: what the engine reports while it works (it never prints)

pub mod apply;
pub mod build;
pub mod connect;
pub mod context;
pub mod exec;
pub mod inject;
pub mod lock;
pub mod logs;
pub mod observe;
pub mod progress;
pub mod wait;

pub use apply::{apply, ApplyContext};
pub use build::{build_all, BuildOptions, Built};
pub use connect::connect;
pub use lock::ProjectLock;
pub use observe::{observe, observe_all};
pub use progress::{Progress, Reporter, Sink};
pub use wait::wait_up;

use std::path::PathBuf;

/// A connected Docker engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) docker: bollard::Docker,
}

/// Everything that can go wrong while talking to Docker.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the docker engine is unreachable ({detail})\nhint: start it with `sudo systemctl start docker` (or `sudo dockerd &`), and check that DOCKER_HOST points at it")]
    Unreachable { detail: String },
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
    #[error("unsupported extra_args entry {arg:?}\nhint: supported: --privileged, --cap-add=CAP, --cap-drop=CAP, --add-host=HOST:IP, --device=PATH, --shm-size=BYTES, --init, --read-only, -v/--volume=HOST:CTR[:ro]")]
    ExtraArg { arg: String },
    #[error("another dops command (pid {pid}) holds the project lock {path}\nhint: wait for it to finish; the lock is released when that process exits")]
    Locked { path: PathBuf, pid: String },
    #[error("timed out after {seconds}s waiting for {waiting}")]
    Timeout { seconds: u64, waiting: String },
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    pub(crate) fn docker(context: impl Into<String>, source: bollard::errors::Error) -> Self {
        if connect::is_unreachable(&source) {
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
            EngineError::ExtraArg { .. } => 2,
            _ => 1,
        }
    }
}

/// Create a container from `image` that is never started, only read through the archive API
/// (entrypoint dops-init, no network, labelled with `project`). `role` names it in the error
/// ("seed", "probe"). Returns the container id; remove it with [`remove_unstarted_container`].
pub(crate) async fn create_unstarted_container(
    engine: &Engine,
    image: &str,
    project: &str,
    role: &str,
) -> Result<String, EngineError> {
    let body = bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec![inject::INIT_PATH.into()]),
        cmd: Some(vec!["true".into()]),
        labels: Some(std::collections::HashMap::from([(
            crate::labels::PROJECT.to_string(),
            project.to_string(),
        )])),
        network_disabled: Some(true),
        ..Default::default()
    };
    let created = engine
        .api()
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await
        .map_err(|e| EngineError::docker(format!("create a {role} container from {image}"), e))?;
    Ok(created.id)
}

/// Force-remove a container made by [`create_unstarted_container`], with its anonymous
/// volumes; best effort, a failure is ignored.
pub(crate) async fn remove_unstarted_container(engine: &Engine, id: &str) {
    let _ = engine
        .api()
        .remove_container(
            id,
            Some(bollard::query_parameters::RemoveContainerOptions {
                v: true,
                force: true,
                link: false,
            }),
        )
        .await;
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

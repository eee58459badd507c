//! The connection to the Docker engine.
//!
//! `connect_with_defaults()` (DOCKER_HOST as the docker CLI reads it: `unix://`, `tcp://`; the
//! local socket without it), then `negotiate_version()`: bollard's default API version is newer
//! than Docker 20.10's 1.41. An engine that does not answer becomes
//! `EngineError::Unreachable`, which the CLI maps to exit code 3 with a hint how to start it.

use std::time::Duration;

use super::error::EngineError;

/// Connect to the local engine (DOCKER_HOST or the unix socket) and negotiate the API version.
pub async fn connect() -> Result<Engine, EngineError> {
    let docker =
        bollard::Docker::connect_with_defaults().map_err(|e| EngineError::Unreachable {
            detail: e.to_string(),
        })?;
    negotiate(docker).await
}

/// Connect to the engine at `url` (`unix://…`, `tcp://…`): a swarm's build engine or one node.
pub async fn connect_to(url: &str) -> Result<Engine, EngineError> {
    let docker = bollard::Docker::connect_with_host(url).map_err(|e| EngineError::Unreachable {
        detail: format!("{url}: {e}"),
    })?;
    negotiate(docker).await.map_err(|e| match e {
        EngineError::Unreachable { detail } => EngineError::Unreachable {
            detail: format!("{url}: {detail}"),
        },
        other => other,
    })
}

async fn negotiate(docker: bollard::Docker) -> Result<Engine, EngineError> {
    // A dead socket must not hang the command: the version negotiation is bounded.
    let docker =
        match tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version()).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                return Err(EngineError::Unreachable {
                    detail: e.to_string(),
                })
            }
            Err(_) => {
                return Err(EngineError::Unreachable {
                    detail: "no answer within 10s".into(),
                })
            }
        };
    Ok(Engine { docker })
}

/// A connected Docker engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) docker: bollard::Docker,
}

impl Engine {
    /// The raw bollard client, for the engine's own files.
    pub(crate) fn api(&self) -> &bollard::Docker {
        &self.docker
    }
}

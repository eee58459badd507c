//! The engines a swarm project talks to, and the registry between them.

use crate::engine::connect::{connect, connect_to, Engine};
use crate::engine::error::EngineError;
use crate::project::EngineConf;

/// A swarm, as one command reaches it.
#[derive(Clone)]
pub struct Swarm {
    /// A manager (`DOCKER_HOST`): services, tasks, nodes, networks.
    pub manager: Engine,
    /// The engine that builds and pushes the images (host.conf `BUILD_ENGINE`, else the manager).
    pub builder: Engine,
    /// The registry as the nodes pull from it.
    pub registry: String,
    /// The same registry as the builder pushes to it.
    pub registry_push: String,
    /// How to reach one node's engine (`tcp://{addr}:2375`), when configured.
    pub node_engine: Option<String>,
}

impl Swarm {
    /// Connect to the manager (and the build engine), checking that it is a swarm manager.
    pub async fn connect(conf: &EngineConf) -> Result<Swarm, EngineError> {
        let registry = conf.registry.clone().ok_or_else(|| {
            EngineError::Other(
                "host.conf: ENGINE is swarm but REGISTRY is not set\nhint: add \"REGISTRY\": \"<host:port of a registry every node reaches>\" to host.conf".into(),
            )
        })?;
        let manager = connect().await?;
        let info = manager
            .api()
            .info()
            .await
            .map_err(|e| EngineError::docker("engine info", e))?;
        let swarm = info.swarm.unwrap_or_default();
        if !swarm.control_available.unwrap_or(false) {
            let state = swarm
                .local_node_state
                .map(|s| s.to_string())
                .unwrap_or_else(|| "inactive".into());
            return Err(EngineError::Other(format!(
                "the engine DOCKER_HOST names is not a swarm manager (swarm: {})\nhint: point DOCKER_HOST at a manager (`docker node ls` works there), or run with --engine local",
                if state.is_empty() { "inactive".to_string() } else { state }
            )));
        }
        let builder = match &conf.build_engine {
            Some(url) => connect_to(url).await?,
            None => manager.clone(),
        };
        Ok(Swarm {
            manager,
            builder,
            registry_push: conf
                .registry_push
                .clone()
                .unwrap_or_else(|| registry.clone()),
            registry,
            node_engine: conf.node_engine.clone(),
        })
    }

    /// The engine of one node (for a shell, or its volumes).
    pub async fn node(&self, hostname: &str, addr: &str) -> Result<Engine, EngineError> {
        let Some(template) = &self.node_engine else {
            return Err(EngineError::Other(format!(
                "dops can't reach the engine of node {hostname}: host.conf has no NODE_ENGINE\nhint: add \"NODE_ENGINE\": \"tcp://{{addr}}:2375\" (how each node's engine is reached) to host.conf"
            )));
        };
        let url = template.replace("{node}", hostname).replace("{addr}", addr);
        connect_to(&url).await
    }
}

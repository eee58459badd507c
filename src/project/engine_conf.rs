//! Which engine runs the project, from host.conf's reserved keys (never exported to instances):
//!
//! - `ENGINE`: `"local"` (default: the engine `DOCKER_HOST` names, containers on one machine) or
//!   `"swarm"` (`DOCKER_HOST` names a manager: one Swarm service per instance);
//! - `REGISTRY`: the registry every node pulls from (`host:port[/path]`), required by `swarm`;
//! - `REGISTRY_PUSH`: the same registry as the building engine reaches it (default `REGISTRY`);
//! - `BUILD_ENGINE`: the engine that builds and pushes the images (`unix://…`, `tcp://…`;
//!   default: `DOCKER_HOST`, i.e. the manager);
//! - `NODE_ENGINE`: how to reach one node's engine, for `shell`, and `clean --purge` of a pinned
//!   instance's volumes: a template with `{node}` (its hostname) and `{addr}` (its address), e.g.
//!   `tcp://{addr}:2375`.
//!
//! `--engine local|swarm` on the command line overrides `ENGINE`.

use serde::Serialize;

/// The kind of engine a project runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    #[default]
    Local,
    Swarm,
}

impl EngineKind {
    pub fn parse(s: &str) -> Option<EngineKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" | "docker" => Some(EngineKind::Local),
            "swarm" => Some(EngineKind::Swarm),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Local => "local",
            EngineKind::Swarm => "swarm",
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// host.conf's engine keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineConf {
    pub kind: EngineKind,
    pub registry: Option<String>,
    pub registry_push: Option<String>,
    pub build_engine: Option<String>,
    pub node_engine: Option<String>,
}

/// The host.conf keys that configure the engine (reserved: not instance variables).
pub const ENGINE_KEYS: &[&str] = &[
    "ENGINE",
    "REGISTRY",
    "REGISTRY_PUSH",
    "BUILD_ENGINE",
    "NODE_ENGINE",
];

impl EngineConf {
    /// Take one reserved key's value; `Err(expected)` when the value can't be used.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        match key {
            "ENGINE" => {
                self.kind = EngineKind::parse(value)
                    .ok_or_else(|| "expected \"local\" or \"swarm\"".to_string())?
            }
            "REGISTRY" => self.registry = Some(check_registry(value)?),
            "REGISTRY_PUSH" => self.registry_push = Some(check_registry(value)?),
            "BUILD_ENGINE" => self.build_engine = Some(check_engine_url(value)?),
            "NODE_ENGINE" => {
                check_engine_url(&value.replace("{node}", "n").replace("{addr}", "1.2.3.4"))?;
                self.node_engine = Some(value.to_string())
            }
            _ => return Err(format!("{key} is not an engine key")),
        }
        Ok(())
    }
}

/// `host[:port][/path]`: what goes before `/<project>/<service>:<tag>` in an image reference.
fn check_registry(v: &str) -> Result<String, String> {
    let v = v.trim_end_matches('/');
    let ok = !v.is_empty()
        && !v.contains("://")
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:/".contains(c))
        && v.split('/').all(|p| !p.is_empty());
    if ok {
        Ok(v.to_string())
    } else {
        Err("expected a registry address like \"registry.example:5000\" (no scheme)".into())
    }
}

/// `unix:///path` or `tcp://host:port` (what bollard and the docker CLI understand).
fn check_engine_url(v: &str) -> Result<String, String> {
    let ok = match v.split_once("://") {
        Some(("unix", path)) => path.starts_with('/'),
        Some(("tcp" | "http" | "https", rest)) => !rest.is_empty() && !rest.contains(' '),
        _ => false,
    };
    if ok {
        Ok(v.to_string())
    } else {
        Err("expected an engine address like \"tcp://host:2375\" or \"unix:///var/run/docker.sock\"".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_refusals() {
        let mut c = EngineConf::default();
        c.set("ENGINE", "Swarm").unwrap();
        c.set("REGISTRY", "reg:5000/").unwrap();
        c.set("NODE_ENGINE", "tcp://{addr}:2375").unwrap();
        assert_eq!(c.kind, EngineKind::Swarm);
        assert_eq!(c.registry.as_deref(), Some("reg:5000"));
        assert!(c.set("ENGINE", "k8s").is_err());
        assert!(c.set("REGISTRY", "http://reg:5000").is_err());
        assert!(c.set("REGISTRY", "reg 5000").is_err());
        assert!(c.set("BUILD_ENGINE", "/var/run/docker.sock").is_err());
        assert!(c.set("BUILD_ENGINE", "unix:///var/run/docker.sock").is_ok());
    }
}

//! host.conf: a JSON object (comments allowed) of per-host settings, kept out of version control.
//!
//! Every key is an environment variable that fills what is still unset in each instance (the last
//! step of env resolution), except two reserved keys that configure dops itself:
//! - `"DNS"`: `"off"` (or false) disables the built-in dops DNS for this host;
//! - `"PROJECT"`: overrides the project name (default: the folder name, lowercased);
//! - `ENGINE`, `REGISTRY`, `REGISTRY_PUSH`, `BUILD_ENGINE`, `NODE_ENGINE`: the engine the project
//!   runs on (see `engine_conf`).
//!
//! `DNS_ZONE` (the zone, default `local.zone`) and `DATA_DIR` (where persistent folders live,
//! default `<project>/data`) are read by the planner and also exported like any other key.

use serde::Serialize;

use super::engine_conf::{EngineConf, ENGINE_KEYS};
use super::json::Value;
use super::runconf::{check_env_name, check_name, ConfigError, Ctx};
use super::values::check_env_value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostConf {
    /// Variables, in file order.
    pub vars: Vec<(String, String)>,
    /// false when `"DNS": "off"`.
    pub dns: bool,
    pub project: Option<String>,
    pub engine: EngineConf,
}

impl Default for HostConf {
    fn default() -> Self {
        HostConf {
            vars: Vec::new(),
            dns: true,
            project: None,
            engine: EngineConf::default(),
        }
    }
}

impl HostConf {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn parse(file: &str, text: &str) -> Result<HostConf, ConfigError> {
    let cx = Ctx { file };
    let root = cx.parse(text)?;
    let members = match &root.value {
        Value::Obj(m) => m,
        _ => return Err(cx.expected(&root, "", "an object of variables")),
    };
    let mut hc = HostConf::default();
    for m in members {
        let path = m.key.clone();
        match m.key.as_str() {
            "DNS" => {
                hc.dns = match &m.value.value {
                    Value::Str(s) if s.eq_ignore_ascii_case("on") => true,
                    Value::Str(s) if s.eq_ignore_ascii_case("off") => false,
                    _ => cx
                        .boolean(&m.value, &path)
                        .map_err(|_| cx.expected(&m.value, &path, "\"on\" or \"off\""))?,
                }
            }
            "PROJECT" => {
                let s = cx.string(&m.value, &path)?;
                check_name(s, true).map_err(|msg| cx.err(m.value.pos, &path, msg))?;
                hc.project = Some(s.to_string());
            }
            key if ENGINE_KEYS.contains(&key) => {
                let value = cx.string(&m.value, &path)?;
                hc.engine
                    .set(key, value)
                    .map_err(|msg| cx.err(m.value.pos, &path, msg))?;
            }
            key => {
                check_env_name(key).map_err(|msg| cx.err(m.key_pos, &path, msg))?;
                let value = cx.scalar(&m.value, &path)?;
                check_env_value(key, &value).map_err(|msg| cx.err(m.value.pos, &path, msg))?;
                hc.vars.push((key.to_string(), value));
            }
        }
    }
    Ok(hc)
}

/// `services/<svc>/required_env_vars.json`: the names that must end up set, as a list
/// (`["DB_PASSWORD"]`) or an object whose values are defaults (`{"DB_PORT": "5432", "X": null}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequiredVar {
    pub name: String,
    pub default: Option<String>,
}

pub fn parse_required(file: &str, text: &str) -> Result<Vec<RequiredVar>, ConfigError> {
    let cx = Ctx { file };
    let root = cx.parse(text)?;
    let mut out = Vec::new();
    match &root.value {
        Value::Arr(items) => {
            for (i, n) in items.iter().enumerate() {
                let path = format!("[{i}]");
                let name = cx.string(n, &path)?;
                check_env_name(name).map_err(|msg| cx.err(n.pos, &path, msg))?;
                out.push(RequiredVar {
                    name: name.to_string(),
                    default: None,
                });
            }
        }
        Value::Obj(members) => {
            for m in members {
                check_env_name(&m.key).map_err(|msg| cx.err(m.key_pos, &m.key, msg))?;
                let default = match &m.value.value {
                    Value::Null => None,
                    _ => {
                        let value = cx.scalar(&m.value, &m.key)?;
                        check_env_value(&m.key, &value)
                            .map_err(|msg| cx.err(m.value.pos, &m.key, msg))?;
                        Some(value)
                    }
                };
                out.push(RequiredVar {
                    name: m.key.clone(),
                    default,
                });
            }
        }
        _ => {
            return Err(cx.expected(&root, "", "a list of variable names or an object"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_conf_vars_and_reserved_keys() {
        let hc = parse(
            "host.conf",
            "# this host\n{\"DNS\": \"off\", \"PROJECT\": \"demo2\", \"SERVICE_IP\": \"from_eth0\", \"N\": 3}",
        )
        .unwrap();
        assert!(!hc.dns);
        assert_eq!(hc.project.as_deref(), Some("demo2"));
        assert_eq!(hc.get("SERVICE_IP"), Some("from_eth0"));
        assert_eq!(hc.get("N"), Some("3"));
        assert!(parse("host.conf", "{}").unwrap().dns);
        assert!(parse("host.conf", "{\"DNS\": true}").unwrap().dns);
        let hc = parse(
            "host.conf",
            "{\"ENGINE\": \"swarm\", \"REGISTRY\": \"r:5000\"}",
        )
        .unwrap();
        assert_eq!(hc.engine.kind, super::super::EngineKind::Swarm);
        assert!(hc.vars.is_empty(), "engine keys are not instance variables");
        assert_eq!(
            parse("host.conf", "{\"ENGINE\": \"k8s\"}")
                .unwrap_err()
                .to_string(),
            "host.conf: line 1, col 12: ENGINE: expected \"local\" or \"swarm\""
        );
    }

    #[test]
    fn host_conf_errors() {
        assert_eq!(
            parse("host.conf", "[]").unwrap_err().to_string(),
            "host.conf: line 1, col 1: expected an object of variables, found a list"
        );
        assert_eq!(
            parse("host.conf", "{\"DNS\": \"maybe\"}")
                .unwrap_err()
                .to_string(),
            "host.conf: line 1, col 9: DNS: expected \"on\" or \"off\", found \"maybe\""
        );
        assert_eq!(
            parse("host.conf", "{\"A-B\": \"x\"}").unwrap_err().to_string(),
            "host.conf: line 1, col 2: A-B: invalid variable name \"A-B\" (letters, digits and '_', not starting with a digit)"
        );
    }

    #[test]
    fn required_forms() {
        let l = parse_required("r.json", "[\"A\", \"B\"]").unwrap();
        assert_eq!(
            l[1],
            RequiredVar {
                name: "B".into(),
                default: None
            }
        );
        let o = parse_required("r.json", "{\"A\": \"1\", \"B\": null}").unwrap();
        assert_eq!(o[0].default.as_deref(), Some("1"));
        assert_eq!(o[1].default, None);
        assert_eq!(
            parse_required("r.json", "[1]").unwrap_err().to_string(),
            "r.json: line 1, col 2: [0]: expected a string, found 1"
        );
    }
}

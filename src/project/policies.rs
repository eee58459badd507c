//! How an instance lives and changes, as run.conf says it: its restart policy (`restart`), its
//! log rotation (`log_opts`), how a change is rolled out to it (`update_order`,
//! `update_parallelism`) and what must run before it (`depends_on`). Values and their parsing;
//! the planner decides with them.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Docker's restart policy, by the names `docker run --restart` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    /// Restart after a non-zero exit, at most `max` times (0 = no limit).
    OnFailure {
        max: u32,
    },
}

impl RestartPolicy {
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let expected =
            || format!("expected one of no, always, unless-stopped, on-failure[:N], found {s:?}");
        match s {
            "no" => Ok(RestartPolicy::No),
            "always" => Ok(RestartPolicy::Always),
            "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            "on-failure" => Ok(RestartPolicy::OnFailure { max: 0 }),
            _ => match s.strip_prefix("on-failure:") {
                Some(n) => n
                    .parse::<u32>()
                    .map(|max| RestartPolicy::OnFailure { max })
                    .map_err(|_| expected()),
                None => Err(expected()),
            },
        }
    }

    /// The engine's name for the policy.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::OnFailure { max } if *max > 0 => write!(f, "on-failure:{max}"),
            other => f.write_str(other.name()),
        }
    }
}

/// The json-file log driver's options (`max-size`, `max-file`, …): bounded by default.
pub type LogOpts = BTreeMap<String, String>;

/// The log options dops sets when run.conf says nothing: 3 files of 10 MB at most.
pub fn default_log_opts() -> LogOpts {
    LogOpts::from([
        ("max-size".to_string(), "10m".to_string()),
        ("max-file".to_string(), "3".to_string()),
    ])
}

/// In which order a changed instance is replaced, as Swarm's `update_config.order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// The new container starts (and reaches UP) while the old one still serves.
    StartFirst,
    /// The old container stops first (persistent data, fixed host ports).
    StopFirst,
}

impl UpdateOrder {
    pub fn parse(s: &str) -> Result<UpdateOrder, String> {
        match s {
            "start-first" => Ok(UpdateOrder::StartFirst),
            "stop-first" => Ok(UpdateOrder::StopFirst),
            _ => Err(format!(
                "expected one of start-first, stop-first, found {s:?}"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateOrder::StartFirst => "start-first",
            UpdateOrder::StopFirst => "stop-first",
        }
    }
}

/// When a dependency counts as there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Its container was started.
    Started,
    /// Its lifecycle reached UP.
    Up,
    /// It ran and exited 0.
    Completed,
}

impl Condition {
    pub fn parse(s: &str) -> Result<Condition, String> {
        match s {
            "started" => Ok(Condition::Started),
            "up" => Ok(Condition::Up),
            "completed" => Ok(Condition::Completed),
            _ => Err(format!(
                "expected one of started, up, completed, found {s:?}"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Up => "up",
            Condition::Completed => "completed",
        }
    }
}

/// run.conf `depends_on`: this entry starts after the instances it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub service: String,
    /// None: every instance of the service this plan runs (or that runs).
    pub instance: Option<String>,
    pub condition: Condition,
}

impl Dependency {
    /// "db" (every instance of db) or "db-master" (the service's instance named master, when db
    /// is a service) — `known` tells which services exist.
    pub fn from_name(name: &str, known: &dyn Fn(&str) -> bool) -> Dependency {
        if !known(name) {
            if let Some((service, instance)) = name.rsplit_once('-') {
                if known(service) {
                    return Dependency {
                        service: service.to_string(),
                        instance: Some(instance.to_string()),
                        condition: Condition::Started,
                    };
                }
            }
        }
        Dependency {
            service: name.to_string(),
            instance: None,
            condition: Condition::Started,
        }
    }

    /// "db", "db-master" or "db (up)" in messages.
    pub fn describe(&self) -> String {
        let who = match &self.instance {
            Some(i) => format!("{}-{i}", self.service),
            None => self.service.clone(),
        };
        match self.condition {
            Condition::Started => who,
            c => format!("{who} ({})", c.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_by_docker_names() {
        assert_eq!(RestartPolicy::parse("no"), Ok(RestartPolicy::No));
        assert_eq!(
            RestartPolicy::parse("on-failure:5"),
            Ok(RestartPolicy::OnFailure { max: 5 })
        );
        assert_eq!(
            RestartPolicy::parse("on-failure").unwrap().to_string(),
            "on-failure"
        );
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap().to_string(),
            "on-failure:3"
        );
        assert!(RestartPolicy::parse("sometimes")
            .unwrap_err()
            .contains("unless-stopped"));
        assert!(RestartPolicy::parse("on-failure:x").is_err());
        assert_eq!(UpdateOrder::parse("stop-first"), Ok(UpdateOrder::StopFirst));
        assert!(UpdateOrder::parse("first").is_err());
        assert_eq!(Condition::parse("up"), Ok(Condition::Up));
    }

    #[test]
    fn dependency_names() {
        let known = |s: &str| s == "db" || s == "web-api";
        let d = Dependency::from_name("db-master", &known);
        assert_eq!(
            (d.service.as_str(), d.instance.as_deref()),
            ("db", Some("master"))
        );
        let d = Dependency::from_name("web-api", &known);
        assert_eq!((d.service.as_str(), d.instance), ("web-api", None));
        let d = Dependency::from_name("db", &known);
        assert_eq!(d.describe(), "db");
    }
}

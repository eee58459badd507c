//! `/dops/init.d/*.json`: the declaration of what dops-init runs, owned and documented here.
//!
//! Fragments are merged in file-name order with the same rules as the configuration (objects
//! merge recursively, `null` deletes, arrays and scalars replace), so a parent image ships
//! `10-base.json`, a child adds `50-app.json`, and the child can change or remove (`null`) a
//! parent's program. Top-level keys:
//!
//! ```json
//! {
//!   "programs": {"web": {"command": ["/usr/sbin/nginx", "-g", "daemon off;"],
//!                        "env": {"K": "v"}, "user": "www-data", "directory": "/srv",
//!                        "autorestart": "unexpected", "startsecs": 1, "startretries": 3,
//!                        "stopsignal": "TERM", "stopwaitsecs": 5, "priority": 999,
//!                        "reload_signal": "HUP", "exitcodes": [0]}},
//!   "watches": {},            // issue 7
//!   "methods": {"start": "…", "update": "…", "validate": "…", "monitor": "…"},  // issue 8
//!   "monitor_interval_s": 30, "monitor_timeout_s": 30,
//!   "restart_budget": 5, "restart_backoff_s": 1,
//!   "stop_drain_s": 1.5,      // STOPPED: after the DNS withdrawal, keep serving this long
//!   "notify": ["stdout", "file:/var/log/lifecycle.jsonl", "http://10.0.0.5:8080/hook", "exec:/bin/logger"]
//! }
//! ```
use super::config;
use super::error::InitError;
use super::paths::{self, Paths};
use super::program::{Program, ProgramSpec};
use super::watch::{Watch, WatchSpec};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitD {
    #[serde(default)]
    pub programs: BTreeMap<String, ProgramSpec>,
    #[serde(default)]
    pub watches: BTreeMap<String, WatchSpec>,
    #[serde(default)]
    pub methods: BTreeMap<String, String>,
    pub monitor_interval_s: Option<f64>,
    pub monitor_timeout_s: Option<f64>,
    pub restart_budget: Option<u32>,
    pub restart_backoff_s: Option<f64>,
    pub notify: Option<Vec<String>>,
    pub stop_drain_s: Option<f64>,
}

/// The time constants and limits of the lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub monitor_interval: Duration,
    pub monitor_timeout: Duration,
    pub restart_budget: u32,
    pub backoff_base: Duration,
    pub notify: Vec<String>,
    /// The init.d `methods.monitor` command: the monitor when the image has no /ww/usr/monitor
    /// hook, so the MONITOR method its metadata advertises is the one that runs.
    pub monitor_method: Option<String>,
    /// STOPPED/ERROR of a registered instance: how long the programs keep serving after the DNS
    /// withdrawal, so that watchers (a load balancer) drop it before it stops answering.
    pub stop_drain: Duration,
}

pub const DEFAULT_MONITOR_INTERVAL_S: f64 = 30.0;
pub const DEFAULT_RESTART_BUDGET: u32 = 5;
pub const DEFAULT_BACKOFF_S: f64 = 1.0;

/// Read and merge every `*.json` of the folder (missing folder: nothing declared).
pub fn load(p: &Paths) -> Result<InitD, InitError> {
    let dir = p.initd_dir();
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("json"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(InitD::default()),
        Err(source) => return Err(InitError::Read { path: dir, source }),
    };
    files.sort();
    let mut merged = Value::Object(Map::new());
    for f in &files {
        if let Some(v) = config::parse_file(f)? {
            if !v.is_object() {
                return Err(InitError::BadInitD {
                    dir,
                    msg: format!("{} must hold a JSON object", f.display()),
                });
            }
            config::merge(&mut merged, v);
        }
    }
    serde_json::from_value(merged).map_err(|e| InitError::BadInitD {
        dir,
        msg: e.to_string(),
    })
}

impl InitD {
    /// The declared programs, resolved, in start order (priority, then name).
    pub fn programs(&self, p: &Paths) -> Result<Vec<Program>, InitError> {
        let mut out = self
            .programs
            .iter()
            .map(|(name, spec)| Program::from_spec(name, spec, p))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        Ok(out)
    }

    /// The declared watches, resolved; `programs` are the names a reload may name.
    pub fn watches(&self, programs: &[String]) -> Result<Vec<Watch>, InitError> {
        self.watches
            .iter()
            .map(|(name, spec)| Watch::from_spec(name, spec, programs))
            .collect()
    }

    /// Settings, with the environment overriding the file (tests shorten the times):
    /// `DOPS_INIT_MONITOR_INTERVAL`, `DOPS_INIT_MONITOR_TIMEOUT`, `DOPS_INIT_BACKOFF_BASE`
    /// (seconds, fractions allowed), `DOPS_INIT_RESTART_BUDGET` and `DOPS_INIT_STOP_DRAIN`.
    pub fn settings(&self, p: &Paths) -> Result<Settings, InitError> {
        let bad = |key: &str| InitError::BadInitD {
            dir: p.initd_dir(),
            msg: format!("{key} must be a number of seconds ≥ 0"),
        };
        let interval = match paths::env_secs("DOPS_INIT_MONITOR_INTERVAL") {
            Some(d) => d,
            None => paths::secs(
                self.monitor_interval_s
                    .unwrap_or(DEFAULT_MONITOR_INTERVAL_S),
            )
            .ok_or_else(|| bad("monitor_interval_s"))?,
        };
        let timeout = match paths::env_secs("DOPS_INIT_MONITOR_TIMEOUT") {
            Some(d) => d,
            None => match self.monitor_timeout_s {
                Some(s) => paths::secs(s).ok_or_else(|| bad("monitor_timeout_s"))?,
                None => interval.max(Duration::from_secs(10)),
            },
        };
        let backoff = match paths::env_secs("DOPS_INIT_BACKOFF_BASE") {
            Some(d) => d,
            None => paths::secs(self.restart_backoff_s.unwrap_or(DEFAULT_BACKOFF_S))
                .ok_or_else(|| bad("restart_backoff_s"))?,
        };
        let budget = std::env::var("DOPS_INIT_RESTART_BUDGET")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .or(self.restart_budget)
            .unwrap_or(DEFAULT_RESTART_BUDGET);
        let stop_drain = match paths::env_secs("DOPS_INIT_STOP_DRAIN") {
            Some(d) => d,
            None => {
                paths::secs(self.stop_drain_s.unwrap_or(0.0)).ok_or_else(|| bad("stop_drain_s"))?
            }
        };
        Ok(Settings {
            stop_drain,
            monitor_interval: interval.max(Duration::from_millis(10)),
            monitor_timeout: timeout.max(Duration::from_millis(10)),
            restart_budget: budget,
            backoff_base: backoff,
            notify: self
                .notify
                .clone()
                .unwrap_or_else(|| vec!["stdout".to_string()]),
            monitor_method: self
                .methods
                .get("monitor")
                .filter(|m| !m.trim().is_empty())
                .cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_merge_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("dops/init.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("10-base.json"),
            r#"{"programs":{"a":{"command":"sleep 1","priority":5},"b":{"command":["x"]}},"notify":["stdout"]}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("50-app.json"),
            r#"{"programs":{"a":{"priority":1},"b":null,"c":{"command":"c"}},"notify":["file:/x"]}"#,
        )
        .unwrap();
        std::fs::write(d.join("README.txt"), "not json").unwrap();
        let p = Paths::new(dir.path());
        let i = load(&p).unwrap();
        let progs = i.programs(&p).unwrap();
        let names: Vec<_> = progs
            .iter()
            .map(|p| (p.name.as_str(), p.priority))
            .collect();
        assert_eq!(names, vec![("a", 1), ("c", 999)]);
        assert_eq!(i.notify, Some(vec!["file:/x".to_string()]));
    }

    #[test]
    fn errors_name_the_file_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("dops/init.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("10.json"), "{\n  \"programs\": {,}\n}").unwrap();
        let e = load(&Paths::new(dir.path())).unwrap_err().to_string();
        assert!(e.contains("10.json") && e.contains("line 2"), "{e}");
        std::fs::write(d.join("10.json"), r#"{"programz":{}}"#).unwrap();
        let e = load(&Paths::new(dir.path())).unwrap_err().to_string();
        assert!(e.contains("programz"), "{e}");
    }
}

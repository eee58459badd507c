//! The lifecycle state file: the contract between dops-init, which writes it, and the host side
//! (`ps`, `status`, `run --wait`, `events`), which reads it without exec.
//!
//! dops-init rewrites `/run/dops/state.json` atomically on every change; the engine bind-mounts
//! that folder from the host folder `<project>/.dops/run/<service>-<instance>/` (and records it
//! in the container label `io.dops.run_dir`). One typed struct describes the file for both
//! sides. Reading is lenient: unknown fields are ignored and missing ones take defaults, so an
//! older or newer init still shows.
//!
//! ```json
//! {"state":"UP","since":"<RFC3339>","since_epoch":<secs>,"restarts":N,"maintenance":false,
//!  "last_stats":<monitor JSON or null>,"last_stats_at":"<RFC3339>"|null,"error":null|"…",
//!  "dns":{"registered":bool,"names":[…],"error":null|"…"}|null,"pid":<dops-init pid>,
//!  "programs":[{"name","state","pid","restarts","last_exit"}…],
//!  "watches":{"<name>":{"dns","members":[{"ip","host"}…],"changed_at","error"}}}
//! ```
//!
//! A leaf: used by `init`, `engine` and `commands`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the folder is mounted inside every dops container.
pub const RUN_DIR_IN_CONTAINER: &str = "/run/dops";
/// The file's name in that folder.
pub const FILE_NAME: &str = "state.json";

/// The host folder bind-mounted at `/run/dops` for one instance:
/// `<project>/.dops/run/<service>-<instance>`.
pub fn host_run_dir(project_dir: &Path, service: &str, instance: &str) -> PathBuf {
    project_dir
        .join(".dops")
        .join("run")
        .join(format!("{service}-{instance}"))
}

/// The run folder of a new container replacing one that used `old`: every container has its own
/// (the old one keeps writing its state while the new one starts): `<base>`, `<base>.1`, …
pub fn next_run_dir(base: &Path, old: Option<PathBuf>) -> PathBuf {
    let n = old
        .as_deref()
        .and_then(|o| o.file_name())
        .and_then(|f| f.to_str())
        .and_then(|f| f.rsplit_once('.'))
        .and_then(|(_, n)| n.parse::<u32>().ok())
        .unwrap_or(0);
    let name = base
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    base.with_file_name(format!("{name}.{}", n + 1))
}

/// What dops-init publishes about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleState {
    /// DOCKERUP, BOOT, FIRSTBOOT, UPGRADING, WARMUP, UP, RESTARTING, STOPPED, ERROR.
    pub state: String,
    /// When the current state began, RFC 3339.
    pub since: Option<String>,
    pub since_epoch: Option<i64>,
    pub restarts: u64,
    /// SIGUSR1 maintenance: the instance keeps running, withdrawn from the DNS.
    pub maintenance: bool,
    /// The last monitor JSON (null before the first one).
    pub last_stats: Option<Value>,
    pub last_stats_at: Option<String>,
    pub error: Option<String>,
    /// The DNS registration; null when the instance has no DNS.
    pub dns: Option<DnsState>,
    /// dops-init's own pid (in the container's pid namespace).
    pub pid: Option<u32>,
    pub programs: Vec<ProgramState>,
    pub watches: BTreeMap<String, WatchState>,
}

/// The DNS registration of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsState {
    pub registered: bool,
    pub names: Vec<String>,
    /// The last registration error, if the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One supervised program.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgramState {
    pub name: String,
    pub state: String,
    pub pid: Option<i32>,
    pub restarts: u32,
    pub last_exit: Option<i32>,
}

/// One DNS watch: the members it last saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchState {
    /// The watched name.
    pub dns: String,
    pub members: Vec<WatchMember>,
    pub changed_at: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchMember {
    pub ip: String,
    pub host: String,
}

/// Read a state file: Ok(None) when there is none (yet), Err with the path and the reason when
/// it can't be read or isn't valid.
pub fn read(path: &Path) -> Result<Option<LifecycleState>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: not valid JSON: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Read the state file of a run folder (`<run_dir>/state.json`); None when absent or unreadable.
pub fn read_in(run_dir: &Path) -> Option<LifecycleState> {
    read(&run_dir.join(FILE_NAME)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_reading_and_a_stable_form() {
        let s: LifecycleState =
            serde_json::from_str(r#"{"state":"UP","restarts":2,"future":1}"#).unwrap();
        assert_eq!(s.state, "UP");
        assert_eq!(s.restarts, 2);
        assert!(!s.maintenance);
        let text = serde_json::to_string(&LifecycleState {
            state: "UP".into(),
            ..Default::default()
        })
        .unwrap();
        assert!(
            text.starts_with(r#"{"state":"UP","since":null,"since_epoch":null,"restarts":0,"maintenance":false,"last_stats":null"#),
            "{text}"
        );
        assert_eq!(
            host_run_dir(Path::new("/p"), "web", "one"),
            PathBuf::from("/p/.dops/run/web-one")
        );
    }
}

//! The lifecycle states and `/run/dops/state.json`, rewritten atomically on every change. The
//! file's form is the shared contract [`crate::state_file::LifecycleState`].
use std::collections::BTreeMap;

use serde_json::Value;

use crate::state_file::{DnsState, LifecycleState, ProgramState, WatchState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The whaleware lifecycle (DOCKERUP while the entrypoint hooks run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    DockerUp,
    Boot,
    FirstBoot,
    Upgrading,
    Warmup,
    Up,
    Restarting,
    Stopped,
    Error,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::DockerUp => "DOCKERUP",
            State::Boot => "BOOT",
            State::FirstBoot => "FIRSTBOOT",
            State::Upgrading => "UPGRADING",
            State::Warmup => "WARMUP",
            State::Up => "UP",
            State::Restarting => "RESTARTING",
            State::Stopped => "STOPPED",
            State::Error => "ERROR",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 3339 UTC time, e.g. `2026-11-23T16:40:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What dops-init publishes about itself.
#[derive(Debug, Clone)]
pub struct StateDoc {
    pub state: State,
    pub since: SystemTime,
    pub restarts: u32,
    pub maintenance: bool,
    pub last_stats: Value,
    pub last_stats_at: Option<SystemTime>,
    pub error: Option<String>,
    pub dns: Option<DnsState>,
    pub programs: Vec<ProgramState>,
    pub watches: BTreeMap<String, WatchState>,
}

impl StateDoc {
    pub fn new() -> StateDoc {
        StateDoc {
            state: State::DockerUp,
            since: SystemTime::now(),
            restarts: 0,
            maintenance: false,
            last_stats: Value::Null,
            last_stats_at: None,
            error: None,
            dns: None,
            programs: Vec::new(),
            watches: BTreeMap::new(),
        }
    }

    /// The file's form.
    pub fn to_state(&self) -> LifecycleState {
        LifecycleState {
            state: self.state.as_str().to_string(),
            since: Some(rfc3339(self.since)),
            since_epoch: Some(epoch(self.since) as i64),
            restarts: u64::from(self.restarts),
            maintenance: self.maintenance,
            last_stats: Some(self.last_stats.clone()),
            last_stats_at: self.last_stats_at.map(rfc3339),
            error: self.error.clone(),
            dns: self.dns.clone(),
            pid: Some(std::process::id()),
            programs: self.programs.clone(),
            watches: self.watches.clone(),
        }
    }
}

impl Default for StateDoc {
    fn default() -> Self {
        StateDoc::new()
    }
}

/// Write a file atomically: a temporary file in the same folder, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp: PathBuf = path.to_path_buf();
    let name = format!(
        ".{}.tmp.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    );
    tmp.set_file_name(name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Writes `state.json`; a failure is reported once, never fatal (the lifecycle goes on).
pub struct StateFile {
    path: PathBuf,
    warned: bool,
}

impl StateFile {
    pub fn new(path: PathBuf) -> StateFile {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        StateFile {
            path,
            warned: false,
        }
    }

    pub fn write(&mut self, doc: &StateDoc) {
        let mut text = serde_json::to_string(&doc.to_state()).unwrap_or_default();
        text.push('\n');
        if let Err(e) = write_atomic(&self.path, text.as_bytes()) {
            if !self.warned {
                self.warned = true;
                super::output::log(&format!(
                    "cannot write {}: {e} (status and health will not work)",
                    self.path.display()
                ));
            }
        }
    }
}

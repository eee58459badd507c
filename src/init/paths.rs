//! Where dops-init finds things. Every root path moves under `DOPS_INIT_ROOT` (used by the tests),
//! and the time constants can be shortened through the environment.
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file-system layout seen by dops-init: `/ww`, `/dops`, `/entrypoints`, `/data`, `/run/dops`
/// and `/etc/{passwd,group,hosts}`, all below `root` (`/` in a container).
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    /// `DOPS_INIT_ROOT` (default `/`).
    pub fn from_env() -> Paths {
        let root = std::env::var_os("DOPS_INIT_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        Paths { root }
    }

    pub fn new(root: &Path) -> Paths {
        Paths {
            root: root.to_path_buf(),
        }
    }

    /// An absolute container path moved under the root.
    pub fn at(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    pub fn hook(&self, name: &str) -> PathBuf {
        self.at("ww/usr").join(name)
    }
    pub fn defaults_json(&self) -> PathBuf {
        self.at("ww/etc/defaults.json")
    }
    pub fn cfg_json(&self) -> PathBuf {
        self.at("ww/etc/cfg.json")
    }
    pub fn cfg_link(&self) -> PathBuf {
        self.at("ww/cfg")
    }
    pub fn initd_dir(&self) -> PathBuf {
        self.at("dops/init.d")
    }
    pub fn entrypoints_dir(&self) -> PathBuf {
        self.at("entrypoints")
    }
    pub fn data_dir(&self) -> PathBuf {
        self.at("data")
    }
    /// The marker written after a successful FIRSTBOOT.
    pub fn init_marker(&self) -> PathBuf {
        self.at("data/.dops-initialized")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.at("run/dops")
    }
    pub fn state_json(&self) -> PathBuf {
        self.at("run/dops/state.json")
    }
    pub fn etc(&self, name: &str) -> PathBuf {
        self.at("etc").join(name)
    }
}

/// A duration in seconds from the environment (fractions allowed), e.g. `DOPS_INIT_MONITOR_INTERVAL=0.2`.
pub fn env_secs(name: &str) -> Option<Duration> {
    let v = std::env::var(name).ok()?;
    secs(v.trim().parse::<f64>().ok()?)
}

/// Seconds as a `Duration`; negative or non-finite values are rejected.
pub fn secs(s: f64) -> Option<Duration> {
    if s.is_finite() && s >= 0.0 {
        Some(Duration::from_secs_f64(s))
    } else {
        None
    }
}

/// `True`, `true`, `1`, `yes`: the DockerOps booleans (`SAFEMODE=True`, `INTERACTIVE=True`).
pub fn env_true(name: &str) -> bool {
    matches!(
        std::env::var(name)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str(),
        "true" | "1" | "yes" | "on"
    )
}

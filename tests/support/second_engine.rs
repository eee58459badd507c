//! A Docker engine of the test's own, to restart without disturbing anybody: a second dockerd
//! with its own socket, data-root and exec-root, in its own network namespace (so its bridges
//! and iptables rules never touch the shared engine's). The file system is shared, so dops
//! bind-mounts the project's folders exactly as with the shared engine. Everything is stopped
//! and removed when the value is dropped, even after a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::eventually;

pub struct SecondEngine {
    pub dir: PathBuf,
    pub netns: String,
    /// More dockerd arguments (e.g. a TCP listener in its network namespace, TLS).
    extra: Vec<String>,
    /// The dockerd this value started (waited for when it stops).
    daemon: std::sync::Mutex<Option<std::process::Child>>,
    _tmp: tempfile::TempDir,
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.stdin(Stdio::null()).output().expect("run a command")
}

impl SecondEngine {
    /// Start it (bounded: 60 s) and load the images the tests build from.
    pub fn start(tag: &str) -> SecondEngine {
        Self::start_with(tag, &[])
    }

    /// The same, with more dockerd arguments (kept for restarts).
    pub fn start_with(tag: &str, extra: &[&str]) -> SecondEngine {
        let tmp = tempfile::tempdir().expect("temp dir");
        let netns = format!("dops-{tag}-{}", std::process::id());
        let status = run(Command::new("ip").args(["netns", "add", &netns]));
        assert!(status.status.success(), "ip netns add: {status:?}");
        run(Command::new("ip").args(["-n", &netns, "link", "set", "lo", "up"]));
        let engine = SecondEngine {
            dir: tmp.path().to_path_buf(),
            netns,
            extra: extra.iter().map(|a| a.to_string()).collect(),
            daemon: std::sync::Mutex::new(None),
            _tmp: tmp,
        };
        engine.start_daemon();
        // The images come from the shared engine.
        let mut save = Command::new("docker")
            .args(["save", "dops-test/busybox"])
            .env_remove("DOCKER_HOST")
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let load = Command::new("docker")
            .args(["load", "-q"])
            .env("DOCKER_HOST", engine.host())
            .stdin(save.stdout.take().expect("pipe"))
            .output()
            .expect("docker load");
        let saved = save.wait().expect("docker save");
        assert!(
            saved.success() && load.status.success(),
            "docker load: {load:?}"
        );
        engine
    }

    /// `unix://…/docker.sock`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.join("docker.pid")
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.pidfile())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn answers(&self) -> bool {
        Command::new("docker")
            .arg("info")
            .env("DOCKER_HOST", self.host())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn start_daemon(&self) {
        let d = |p: &str| self.dir.join(p).display().to_string();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dockerd.log"))
            .expect("log file");
        // Detached (its own session, no pipe of ours), as any daemon a test starts.
        // nsenter enters the network namespace only: `ip netns exec` would also remount /sys and
        // hide the cgroups dockerd needs.
        let child = Command::new("setsid")
            .args([
                "nsenter",
                &format!("--net=/var/run/netns/{}", self.netns),
                "dockerd",
            ])
            .args(["--data-root", &d("data"), "--exec-root", &d("exec")])
            .args(["-H", &self.host(), "--pidfile", &d("docker.pid")])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        *self.daemon.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        let up = eventually(Duration::from_secs(60), || self.answers());
        assert!(up, "the second dockerd did not answer:\n{}", self.log());
    }

    fn stop_daemon(&self) {
        let Some(pid) = self.pid() else { return };
        // SAFETY: kill(2) of the dockerd this value started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        // dockerd is our child (setsid and nsenter exec it): once it exits it stays a zombie,
        // which kill(pid, 0) still finds, until it is waited for.
        let gone = eventually(Duration::from_secs(60), || {
            let mut daemon = self.daemon.lock().unwrap_or_else(|e| e.into_inner());
            match daemon.as_mut() {
                Some(child) if child.id() as i32 == pid => {
                    child.try_wait().map(|s| s.is_some()).unwrap_or(true)
                }
                // SAFETY: signal 0 only asks whether the process exists.
                _ => unsafe { libc::kill(pid, 0) != 0 },
            }
        });
        if !gone {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if let Some(mut child) = self.daemon.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the engine (its containers stop with it) and start it again.
    pub fn restart(&self) {
        self.stop_daemon();
        self.start_daemon();
    }

    /// A command in the engine's network namespace (to reach its containers and ports).
    pub fn in_netns(&self, args: &[&str]) -> std::process::Output {
        run(Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{}", self.netns))
            .args(args))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq"])
            .env("DOCKER_HOST", self.host())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .env("DOCKER_HOST", self.host())
                .output();
        }
        self.stop_daemon();
        let _ = run(Command::new("ip").args(["netns", "del", &self.netns]));
        // Mounts a killed daemon may leave under its roots, before the folder goes.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let root = self.dir.display().to_string();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ours {
            let _ = run(Command::new("umount").args(["-l", m]));
        }
    }
}

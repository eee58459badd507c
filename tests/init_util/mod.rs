//! Helpers for the dops-init tests: a temporary root (DOPS_INIT_ROOT) with hooks and init.d
//! fragments, the real dops-init binary run as a child (it makes itself a subreaper), its
//! output collected, its state file polled.
#![allow(dead_code)]

#[path = "../support/eventually.rs"]
mod eventually;
#[allow(unused_imports)]
pub use eventually::eventually;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_dops-init");

pub struct Root {
    pub tmp: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Root {
        let tmp = tempfile::tempdir().expect("temp dir");
        for d in [
            "ww/usr",
            "ww/etc",
            "entrypoints",
            "dops/init.d",
            "data",
            "etc",
        ] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        // Programs running as another user write here.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        Root { tmp }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// A path as a string, for scripts.
    pub fn p(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    pub fn write(&self, rel: &str, content: &str) -> &Root {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        self
    }

    /// An executable `/bin/sh` script.
    pub fn script(&self, rel: &str, body: &str) -> &Root {
        self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// A whaleware hook that appends its name (and arguments) to `order`, then runs `extra`.
    pub fn hook(&self, name: &str, extra: &str) -> &Root {
        let order = self.p("order");
        self.script(
            &format!("ww/usr/{name}"),
            &format!("echo \"{name}$*\" >> {order}\n{extra}"),
        )
    }

    pub fn initd(&self, file: &str, json: &str) -> &Root {
        self.write(&format!("dops/init.d/{file}"), json)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    pub fn lines(&self, rel: &str) -> Vec<String> {
        self.read(rel).lines().map(str::to_string).collect()
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&self.read("run/dops/state.json")).unwrap_or(Value::Null)
    }

    /// dops-init with this root, fast time constants and a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("DOPS_INIT_ROOT", self.tmp.path())
            .env("DOPS_INIT_MONITOR_INTERVAL", "0.1")
            .env("DOPS_INIT_BACKOFF_BASE", "0.05")
            .env_remove("CFG")
            .env_remove("SAFEMODE")
            .env_remove("INTERACTIVE")
            .env_remove("DNS_SERVICE_IP")
            .env_remove("DOPS_INIT_RESTART_BUDGET")
            .stdin(Stdio::null());
        c
    }

    pub fn spawn(&self, args: &[&str]) -> Running {
        self.spawn_with(self.command(args))
    }

    pub fn spawn_with(&self, mut c: Command) -> Running {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("start dops-init");
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let o = child.stdout.take().unwrap();
        let e = child.stderr.take().unwrap();
        let (oc, ec) = (out.clone(), err.clone());
        let readers = vec![
            std::thread::spawn(move || collect(o, oc)),
            std::thread::spawn(move || collect(e, ec)),
        ];
        Running {
            child,
            readers,
            out,
            err,
            state_path: self.path("run/dops/state.json"),
            started: Instant::now(),
        }
    }

    /// Run to the end (with a limit) and return the exit status and output.
    pub fn run(&self, args: &[&str], limit: Duration) -> (ExitStatus, String, String) {
        let mut r = self.spawn(args);
        let st = r.wait_exit(limit).expect("dops-init did not exit in time");
        (st, r.stdout(), r.stderr())
    }
}

fn collect<R: std::io::Read>(r: R, into: Arc<Mutex<Vec<String>>>) {
    for line in BufReader::new(r).lines() {
        match line {
            Ok(l) => into.lock().unwrap().push(l),
            Err(_) => break,
        }
    }
}

pub struct Running {
    pub child: Child,
    readers: Vec<std::thread::JoinHandle<()>>,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
    state_path: PathBuf,
    pub started: Instant,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().join("\n")
    }

    /// True when stderr shows `needle` within `limit`: its reader thread may lag behind the
    /// state file, or behind stdout's reader.
    pub fn stderr_shows(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.stderr().contains(needle))
    }

    pub fn state(&self) -> Value {
        std::fs::read_to_string(&self.state_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    /// Poll state.json until `pred` holds.
    pub fn wait_for(&self, limit: Duration, pred: impl Fn(&Value) -> bool) -> bool {
        eventually(limit, || pred(&self.state()))
    }

    pub fn wait_state(&self, state: &str, limit: Duration) {
        let ok = self.wait_for(limit, |v| v["state"] == state);
        assert!(
            ok,
            "never reached {state}; state: {}\nstdout:\n{}\nstderr:\n{}",
            self.state(),
            self.stdout(),
            self.stderr()
        );
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // Let the readers drain what is left in the pipes.
                let drain = Instant::now() + Duration::from_secs(1);
                while Instant::now() < drain && self.readers.iter().any(|r| !r.is_finished()) {
                    std::thread::sleep(Duration::from_millis(2));
                }
                return Some(st);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The lifecycle states announced on stdout (the default notification sink), in order.
    pub fn states(&self) -> Vec<String> {
        lifecycle_states(&self.stdout())
    }
}

pub fn lifecycle_states(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "lifecycle")
        .map(|v| v["state"].as_str().unwrap_or("").to_string())
        .collect()
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Children of `pid` as (pid, state letter, command name), read from /proc.
pub fn children_of(pid: i32) -> Vec<(i32, char, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let mut rest = stat[close + 2..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: i32 = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push((p, state, comm));
        }
    }
    out
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// A dops DNS server in this process on 127.0.0.1 (zone local.zone, one thread) with a fresh
/// key "dops-key". It serves until the returned server is dropped.
pub fn start_local_dns() -> (dops::dns::DnsServer, dops::tsig_key::TsigKey) {
    let key = dops::tsig_key::TsigKey::generate("dops-key");
    let mut c = dops::dns::DnsConfig::new("local.zone", key.clone());
    c.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.threads = 1;
    let server = dops::dns::start(c).expect("dns server");
    (server, key)
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

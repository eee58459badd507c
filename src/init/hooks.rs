//! Hooks: the whaleware scripts `/ww/usr/{boot,firstboot,upgrade,warmup,monitor,svcup,svcdown,
//! lifecycle,pushstats}` (missing or empty = nothing to do) and the DockerOps entry points
//! `/entrypoints/*.sh`: parents' first by image ancestry, as `/dops/meta` records it, then name
//! order within one image (see `meta::ancestry_order`).
//!
//! An executable hook is executed; a non-executable one is run with `/bin/sh`. Hooks run in
//! their own process group (so a stop can end a hook and what it started), stdin is
//! `/dev/null`, and their output is copied to the container's output and its tail kept.
use super::error::InitError;
use super::output::{self, Sink, Tail};
use super::paths::Paths;
use super::reaper::Exits;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const WHALEWARE: &[&str] = &[
    "boot",
    "firstboot",
    "upgrade",
    "warmup",
    "monitor",
    "svcup",
    "svcdown",
    "lifecycle",
    "pushstats",
];

/// The hook file, when present and not empty.
pub fn find(paths: &Paths, name: &str) -> Option<PathBuf> {
    let p = paths.hook(name);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() && m.len() > 0 => Some(p),
        _ => None,
    }
}

/// `/entrypoints/*.sh`, parents' first (by the image metadata chain of `/dops/meta`), then in
/// name order. Unreadable metadata leaves name order: the entry points still run.
pub fn entrypoints(paths: &Paths) -> Vec<PathBuf> {
    let dir = paths.entrypoints_dir();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| crate::meta::is_entrypoint_name(n))
                .collect()
        })
        .unwrap_or_default();
    let chain = crate::meta::read_meta_dir(&paths.at(crate::meta::META_DIR)).unwrap_or_default();
    crate::meta::ancestry_order(&names, &chain)
        .into_iter()
        .map(|n| dir.join(n))
        .collect()
}

/// The command that runs a hook file.
pub fn command(path: &Path, args: &[String]) -> Command {
    let exec = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    let mut c = if exec {
        Command::new(path)
    } else {
        let mut c = Command::new("/bin/sh");
        c.arg(path);
        c
    };
    c.args(args);
    super::signals::reset_in_child(&mut c);
    c
}

/// The command that runs a one-line method (init.d `methods`) with `/bin/sh -c`.
pub fn shell_command(line: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(line);
    super::signals::reset_in_child(&mut c);
    c
}

/// A running hook.
pub struct Spawned {
    pub pid: i32,
    pub name: String,
    tail: Arc<Mutex<Tail>>,
    stdout: Option<Arc<Mutex<Vec<u8>>>>,
    threads: Vec<JoinHandle<()>>,
}

/// Start a hook. With `capture_stdout` its stdout is kept as data (the `monitor` JSON) instead
/// of being printed.
pub fn spawn(
    exits: &Exits,
    name: &str,
    mut cmd: Command,
    capture_stdout: bool,
    stdin: Option<Stdio>,
) -> Result<Spawned, InitError> {
    cmd.stdin(stdin.unwrap_or_else(Stdio::null))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = exits.spawn(&mut cmd).map_err(|source| InitError::Spawn {
        what: format!("hook {name}"),
        source,
    })?;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut threads = Vec::new();
    let stdout = capture_stdout.then(|| Arc::new(Mutex::new(Vec::new())));
    if let Some(o) = child.stdout.take() {
        let sink = match &stdout {
            Some(buf) => Sink::Capture(buf.clone()),
            None => Sink::Stdout,
        };
        let t = if capture_stdout {
            None
        } else {
            Some(tail.clone())
        };
        threads.extend(output::forward(o, String::new(), sink, t));
    }
    if let Some(e) = child.stderr.take() {
        threads.extend(output::forward(
            e,
            String::new(),
            Sink::Stderr,
            Some(tail.clone()),
        ));
    }
    Ok(Spawned {
        pid: child.id() as i32,
        name: name.to_string(),
        tail,
        stdout,
        threads,
    })
}

impl Spawned {
    /// After the process ended: wait a little for its pipes to drain (a daemon it started may
    /// keep them open; its output then keeps flowing in the background) and return the tail of
    /// its output and its captured stdout.
    pub fn finish(self, grace: Duration) -> (String, Vec<u8>) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && self.threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(2));
        }
        let tail = self.tail.lock().map(|t| t.text()).unwrap_or_default();
        let out = self
            .stdout
            .map(|b| b.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        (tail, out)
    }
}

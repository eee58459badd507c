//! Helpers shared by the real-engine tests (`tests/engine_*.rs`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// A pass-through stand-in for dops-init, used only while the package's `dops-init` is the
/// skeleton's placeholder (which exits at once): it answers `health`, writes an UP `state.json` like the
/// real init does, and runs the main program. The injection mechanism under test is the real
/// one either way. `DOPS_TEST_REAL_INIT=1` injects the package's `dops-init` instead, and a
/// `DOPS_INIT_BIN` already set names the init to inject.
const STAND_IN: &str = r#"#!/bin/sh
# dops-init test stand-in: runs the main program, reports BOOT then UP after 1 s, forwards TERM.
[ "$1" = health ] && exit 0
[ "$INTERACTIVE" = True ] && exec "$@"
state() {
  [ -d /run/dops ] || return 0
  printf '{"state":"%s","since":"%s","since_epoch":%s,"restarts":0,"maintenance":false,"last_stats":null,"last_stats_at":null,"error":null,"dns":null}\n' \
    "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(date +%s)" > /run/dops/state.json.tmp && mv /run/dops/state.json.tmp /run/dops/state.json
}
state BOOT
"$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM INT
sleep 1
kill -0 $pid 2>/dev/null && state UP
wait $pid
code=$?
state STOPPED
exit $code
"#;

/// The skeleton's `src/init/mod.rs` (an init that exits at once) until the init lands: the
/// stand-in is used only then, so the real dops-init is tested as soon as it is in the package.
fn init_is_placeholder() -> bool {
    const INIT_SRC: &str = include_str!("../../src/init/mod.rs");
    INIT_SRC.len() < 200
        && INIT_SRC
            .trim_end()
            .ends_with("pub fn main() -> i32 {\n    0\n}")
}

/// Point `DOPS_INIT_BIN` (read by the engine, inherited by the `dops` processes the tests start)
/// at the init the tests inject.
pub fn use_test_init() {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    let path = DONE.get_or_init(|| {
        // An init named by the caller (e.g. a dops-init built elsewhere) is used as it is.
        if let Some(given) = std::env::var_os("DOPS_INIT_BIN") {
            return PathBuf::from(given);
        }
        if std::env::var_os("DOPS_TEST_REAL_INIT").is_some() || !init_is_placeholder() {
            return PathBuf::from(env!("CARGO_BIN_EXE_dops-init"));
        }
        let path = std::env::temp_dir().join(format!("dops-test-init-{}.sh", std::process::id()));
        std::fs::write(&path, STAND_IN).expect("write the init stand-in");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    });
    std::env::set_var("DOPS_INIT_BIN", path);
}

/// A free TCP port on 127.0.0.1 (bound then released; good enough for a test's published port).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// `docker inspect --format FORMAT WHAT`, trimmed ("" when it does not exist).
pub fn inspect(format: &str, what: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", format, what])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Names of the project's containers (any state), sorted.
pub fn containers_of(project: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.dops.project={project}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// A project without the dops DNS (these tests are about the engine, not the DNS).
pub const NO_DNS: &str = "{\"DNS\": false}\n";

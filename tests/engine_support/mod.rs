//! Helpers shared by the real-engine tests (`tests/engine_*.rs`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// A pass-through stand-in for dops-init, used while the package's `dops-init` is the skeleton's
/// placeholder (which exits at once): it answers `health`, writes an UP `state.json` like the
/// real init does, and execs the main program. The injection mechanism under test is the real
/// one either way. `DOPS_TEST_REAL_INIT=1` injects the package's `dops-init` instead.
const STAND_IN: &str = r#"#!/bin/sh
# dops-init test stand-in: pass-through
[ "$1" = health ] && exit 0
if [ -d /run/dops ]; then
  printf '{"state":"UP","since":"%s","since_epoch":%s,"restarts":0,"maintenance":false,"last_stats":null,"last_stats_at":null,"error":null,"dns":null}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(date +%s)" > /run/dops/state.json.tmp && mv /run/dops/state.json.tmp /run/dops/state.json
fi
exec "$@"
"#;

/// Point `DOPS_INIT_BIN` (read by the engine, inherited by the `dops` processes the tests start)
/// at the init the tests inject.
pub fn use_test_init() {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    let path = DONE.get_or_init(|| {
        if std::env::var_os("DOPS_TEST_REAL_INIT").is_some() {
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

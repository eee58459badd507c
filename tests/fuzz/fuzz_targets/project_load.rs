//! The project loader on real files, through the planner: the input is split at NUL bytes into
//! run.conf, host.conf, `services/web/Dockerfile` and `services/web/required_env_vars.json`
//! (a missing part: no such file), written to a folder of this process, loaded with
//! `dops::project::load` (size limit, UTF-8, JSON, the model) and planned for run, rerun, one
//! instance and clean --purge against a fixed engine state. Nothing may panic.
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use dops::action::{Action, CleanAction, Overrides, RunAction, Target};
use libfuzzer_sys::fuzz_target;

/// One project folder per fuzzing process (in memory when /dev/shm exists).
static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base
        .join(format!("dops-fuzz-{}", std::process::id()))
        .join("fz");
    std::fs::create_dir_all(dir.join("services/web")).unwrap();
    std::fs::create_dir_all(dir.join("services/base")).unwrap();
    std::fs::write(
        dir.join("services/base/Dockerfile"),
        "FROM debian\nEXPOSE 22\n",
    )
    .unwrap();
    dir
});

fn actions() -> Vec<Action> {
    let run = |target: Target, replace: bool| {
        Action::Run(RunAction {
            target,
            overrides: Overrides::default(),
            replace,
            wait: false,
            timeout_s: None,
            dry_run: true,
        })
    };
    vec![
        run(Target::All, false),
        run(Target::All, true),
        run(
            Target::Select {
                service: "web".into(),
                instance: Some("one".into()),
            },
            false,
        ),
        Action::Clean(CleanAction {
            target: Target::All,
            orphans: true,
            purge: true,
            yes: true,
            dry_run: true,
        }),
    ]
}

fuzz_target!(|data: &[u8]| {
    let dir = &*DIR;
    let files = [
        "run.conf",
        "host.conf",
        "services/web/Dockerfile",
        "services/web/required_env_vars.json",
    ];
    let mut parts = data.split(|b| *b == 0);
    for f in files {
        let path = dir.join(f);
        match parts.next() {
            Some(bytes) => std::fs::write(&path, bytes).unwrap(),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let project = match dops::project::load(dir, "run.conf") {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let observed = common::observed(&project.name);
    for action in actions() {
        match dops::plan::plan(&project, &observed, &action, &common::ctx()) {
            Ok(planned) => {
                let _ = planned.plan.to_string();
                let _ = dops::output::plan_json(&planned);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});

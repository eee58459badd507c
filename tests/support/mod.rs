//! Integration-test support: a project folder with its own project name, the real `dops` binary,
//! and a guard that removes everything labelled with the project when the test ends, even on panic.
//!
//! Cleanup goes through the `docker` CLI on purpose: it must not depend on the code under test.
#![allow(dead_code)]

mod eventually;
pub mod load;
mod running;
mod second_engine;
mod split_answers;
mod test;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

#[allow(unused_imports)]
pub use eventually::{eventually, until_some, within};
#[allow(unused_imports)]
pub use running::{now_ms, Running};
#[allow(unused_imports)]
pub use second_engine::SecondEngine;
#[allow(unused_imports)]
pub use split_answers::SplitAnswers;
#[allow(unused_imports)]
pub use test::Test;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temporary project folder whose name (the project name) is unique to this test.
pub struct TestProject {
    pub name: String,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl TestProject {
    /// `tag` names the test; the project is `dt-<tag>-<pid>-<n>` (lowercase, unique per test).
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("dt-{}-{}-{}", tag, std::process::id(), n).to_lowercase();
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join(&name);
        std::fs::create_dir_all(&dir).expect("project dir");
        TestProject {
            name,
            dir,
            _tmp: tmp,
        }
    }

    /// Write a file relative to the project folder (parents created).
    pub fn write(&self, rel: &str, content: &str) -> &Self {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Run the real `dops` binary in the project folder.
    pub fn dops(&self, args: &[&str]) -> Output {
        dops_in(&self.dir, args)
    }

    /// Run `dops` and panic with its output unless it exits 0.
    pub fn dops_ok(&self, args: &[&str]) -> Output {
        let out = self.dops(args);
        assert!(
            out.status.success(),
            "dops {:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            args,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The name of an instance's container.
    pub fn container(&self, service: &str, instance: &str) -> String {
        format!("{}-{}-{}", self.name, service, instance)
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        cleanup_project(&self.name);
    }
}

/// Remove every container, network, volume and image labelled `io.dops.project=<name>`.
pub fn cleanup_project(name: &str) {
    let filter = format!("label=io.dops.project={name}");
    let ids = |args: &[&str]| -> Vec<String> {
        Command::new("docker")
            .args(args)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let rm = |cmd: &[&str], items: Vec<String>| {
        if !items.is_empty() {
            let _ = Command::new("docker").args(cmd).args(&items).output();
        }
    };
    rm(
        &["rm", "-f", "-v"],
        ids(&["ps", "-aq", "--filter", &filter]),
    );
    rm(
        &["network", "rm"],
        ids(&["network", "ls", "-q", "--filter", &filter]),
    );
    rm(
        &["volume", "rm", "-f"],
        ids(&["volume", "ls", "-q", "--filter", &filter]),
    );
    // --no-prune: the untagged parents of this project's images may be the build cache another
    // test's build is using at this moment (the same Dockerfile lines); pruning them made that
    // build fail with "failed to get digest". They are reused by the next run's builds.
    //
    // The project's images, then those left untagged: its services' own builds (which dops does
    // not tag) and those a rebuild replaced. Their labels name the project, so no other
    // project's build has them as its cache. A parent is only untagged while a child of it is
    // there, whatever the order `docker image rm` is given: a pass per generation, and a build
    // chain is many generations deep (every step of every service's own build).
    let mut before = Vec::new();
    for _ in 0..30 {
        let mut images = ids(&["image", "ls", "-q", "--filter", &filter]);
        images.extend(ids(&[
            "image",
            "ls",
            "-q",
            "--filter",
            "dangling=true",
            "--filter",
            &filter,
        ]));
        images.sort();
        images.dedup();
        if images.is_empty() || images == before {
            break;
        }
        rm(&["image", "rm", "-f", "--no-prune"], images.clone());
        before = images;
    }
}

/// The dops-init the tests inject: `DOPS_INIT_BIN` when the runner names one (a release
/// build), else the package's own.
pub fn test_init() -> PathBuf {
    std::env::var_os("DOPS_INIT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_dops-init")))
}

/// The real `dops` binary, run in `dir`, injecting [`test_init`] (set on the child only).
pub fn dops_command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dops"));
    c.current_dir(dir)
        .env("DOPS_LOG", "warn")
        .env("DOPS_INIT_BIN", test_init());
    c
}

/// Run the real `dops` binary with `dir` as the current folder.
pub fn dops_in(dir: &Path, args: &[&str]) -> Output {
    dops_command(dir).args(args).output().expect("run dops")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `docker` CLI helper for assertions from outside dops (never used by dops itself).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

/// The `dops` arguments that run `sql` in the demo's postgres: as the postgres user, values only
/// (one row per line), stopping at the first error.
pub fn demo_psql(sql: &str) -> [&str; 14] {
    [
        "shell:postgres,instance=master",
        "--",
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-d",
        "demo",
        "-qAtX",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
    ]
}

/// `git -C dir ARGS` with a test identity; panics unless it succeeds; its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

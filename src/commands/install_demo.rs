//! `dops install_demo [DIR] [--force]`: copy the demo project (embedded in the dops binary, so it
//! works from an installed binary with no source tree) into DIR (default: the current folder).
//!
//! The files come from the repository's `demo/` folder, embedded at compile time with
//! `include_dir`. `include_dir` keeps no file modes, so the mode is derived from the content: a
//! file that starts with `#!` is a script and is written 0755, everything else 0644
//! (`tests/demo_files.rs` checks that this rule matches the modes in `demo/`).
//!
//! Existing files are never overwritten without `--force`; a file that already holds exactly the
//! demo's content is left as it is (so `dops demo` can be run again in the same folder).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir, DirEntry};
use serde::Serialize;

use crate::action::{DemoAction, GlobalOpts};
use crate::output;

/// The demo project, embedded at compile time.
pub static DEMO: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/demo");

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{dir} already has {count} file(s) of the demo with other content: {list}\n  hint: use --force to overwrite them, or choose another folder (dops install_demo DIR)", count = .paths.len(), list = short_list(.paths))]
    Exists { dir: PathBuf, paths: Vec<String> },
    #[error("{path} exists and is not a folder")]
    NotAFolder { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn short_list(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        s.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    s
}

/// One file of the demo: its path relative to the project folder, content and mode.
#[derive(Debug, Clone)]
pub struct DemoFile {
    pub path: String,
    pub contents: &'static [u8],
    pub mode: u32,
}

/// The mode a demo file is written with: scripts (`#!`) are executable.
pub fn mode_for(contents: &[u8]) -> u32 {
    if contents.starts_with(b"#!") {
        0o755
    } else {
        0o644
    }
}

/// Every embedded file, sorted by path.
pub fn files() -> Vec<DemoFile> {
    fn walk(dir: &'static Dir<'static>, out: &mut Vec<DemoFile>) {
        for entry in dir.entries() {
            match entry {
                DirEntry::Dir(d) => walk(d, out),
                DirEntry::File(f) => out.push(DemoFile {
                    path: f.path().to_string_lossy().into_owned(),
                    contents: f.contents(),
                    mode: mode_for(f.contents()),
                }),
            }
        }
    }
    let mut out = Vec::new();
    walk(&DEMO, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// What an installation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Installed {
    pub dir: PathBuf,
    pub project: String,
    /// Files written (new, or overwritten with --force).
    pub written: Vec<String>,
    /// Files that already held the demo's content.
    pub unchanged: Vec<String>,
}

/// Install the demo into `dir` (created if needed).
pub fn install(dir: &Path, force: bool) -> Result<Installed, InstallError> {
    if dir.exists() && !dir.is_dir() {
        return Err(InstallError::NotAFolder {
            path: dir.to_path_buf(),
        });
    }
    let files = files();
    // Check everything before writing anything: a refusal leaves the folder untouched.
    let mut conflicts = Vec::new();
    let mut unchanged = Vec::new();
    for f in &files {
        let target = dir.join(&f.path);
        match std::fs::symlink_metadata(&target) {
            Err(_) => {}
            Ok(meta) => {
                let same = meta.is_file()
                    && std::fs::read(&target).is_ok_and(|have| have == f.contents)
                    && meta.permissions().mode() & 0o777 == f.mode;
                if same {
                    unchanged.push(f.path.clone());
                } else {
                    conflicts.push(f.path.clone());
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(InstallError::Exists {
            dir: dir.to_path_buf(),
            paths: conflicts,
        });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    let mut written = Vec::new();
    for f in &files {
        if unchanged.contains(&f.path) {
            continue;
        }
        let target = dir.join(&f.path);
        let parent = target.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        // Replace (not truncate in place): a symlink or a read-only file is swapped out whole.
        let tmp = parent.join(format!(
            ".{}.dops-tmp",
            target.file_name().unwrap_or_default().to_string_lossy()
        ));
        {
            let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            out.write_all(f.contents).map_err(io(&tmp))?;
            out.set_permissions(std::fs::Permissions::from_mode(f.mode))
                .map_err(io(&tmp))?;
        }
        if let Err(e) = std::fs::rename(&tmp, &target) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&target)(e));
        }
        written.push(f.path.clone());
    }
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    Ok(Installed {
        project: crate::project::name_of(&dir, "run.conf"),
        dir,
        written,
        unchanged,
    })
}

/// A refusal to overwrite is a usage error (exit 2: add --force or choose another folder).
pub fn usage_if_refused(e: InstallError) -> anyhow::Error {
    match e {
        InstallError::Exists { .. } => crate::cli::UsageError::Other(e.to_string()).into(),
        other => other.into(),
    }
}

/// `dops install_demo [DIR] [--force]`.
pub fn execute(global: &GlobalOpts, action: &DemoAction) -> anyhow::Result<i32> {
    let dir = match &action.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let done = install(&dir, action.force).map_err(usage_if_refused)?;
    if global.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(&done)?));
    } else {
        output::out(&format!(
            "installed the dops demo in {} (project {}): {} file(s) written, {} already there\n\
             next: cd {} && dops build:all && dops run:all --wait   (or: dops demo {})\n",
            done.dir.display(),
            done.project,
            done.written.len(),
            done.unchanged.len(),
            done.dir.display(),
            done.dir.display(),
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_embedded() {
        let files = files();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for must in [
            "run.conf",
            "services/web/Dockerfile",
            "services/lb/Dockerfile",
            "services/lb/config/haproxy.cfg.hb",
            "services/postgres/ww/firstboot",
        ] {
            assert!(paths.contains(&must), "{must} missing from {paths:?}");
        }
        let firstboot = files
            .iter()
            .find(|f| f.path == "services/postgres/ww/firstboot")
            .unwrap();
        assert_eq!(firstboot.mode, 0o755);
        let conf = files.iter().find(|f| f.path == "run.conf").unwrap();
        assert_eq!(conf.mode, 0o644);
    }

    #[test]
    fn refuses_to_overwrite_then_force_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mydemo");
        let first = install(&dir, false).unwrap();
        assert_eq!(first.written.len(), files().len());
        assert_eq!(first.project, "mydemo");
        let exe = dir.join("services/web/web-serve");
        assert_eq!(
            std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // Again: everything is already there, nothing is written.
        let again = install(&dir, false).unwrap();
        assert!(again.written.is_empty());
        assert_eq!(again.unchanged.len(), files().len());
        // A user's change is never overwritten silently.
        std::fs::write(dir.join("run.conf"), "[]\n").unwrap();
        let err = install(&dir, false).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("run.conf") && msg.contains("--force"), "{msg}");
        assert_eq!(
            std::fs::read_to_string(dir.join("run.conf")).unwrap(),
            "[]\n"
        );
        let forced = install(&dir, true).unwrap();
        assert_eq!(forced.written, vec!["run.conf".to_string()]);
        assert!(std::fs::read_to_string(dir.join("run.conf"))
            .unwrap()
            .contains("\"service\": \"web\""));
    }
}

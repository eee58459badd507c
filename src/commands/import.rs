//! `dops import compose [--file PATH] [--into DIR] [--force] [--strict]` (also
//! `dops import:compose,file=PATH,into=DIR`): find and read the Compose file, let the pure
//! importer (`compose`) map it, then write the project: the build contexts copied (honouring
//! their `.dockerignore`), the generated files, and what did not carry over as warnings.
//!
//! Nothing is written when the import fails, when `--strict` finds anything, or when the target
//! folder already has files and `--force` is not given.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::action::{GlobalOpts, ImportAction};
use crate::compose::{self, ContextCopy, Finding, Input, Source};
use crate::output;

/// Compose's own file names, in its lookup order.
pub const COMPOSE_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Refusals (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no Compose file in {dir} (looked for {})\n  hint: name it with --file PATH", COMPOSE_FILES.join(", "))]
    NoComposeFile { dir: String },
    #[error("{path}: no such file")]
    NotFound { path: String },
    #[error("{dir} already has files: the import would overwrite them\n  hint: use --force to write into it, or --into DIR for another folder")]
    Exists { dir: String },
    #[error("{count} thing(s) in {file} do not carry over (--strict): nothing written")]
    Strict { count: usize, file: String },
}

/// The real file system, for the importer.
struct Fs;

impl Source for Fs {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
}

#[derive(Serialize)]
struct Report<'a> {
    compose_file: String,
    compose_project: &'a str,
    dir: &'a Path,
    project: String,
    services: &'a [String],
    instances: usize,
    files: Vec<&'a str>,
    copied_contexts: Vec<&'a str>,
    findings: &'a [Finding],
}

pub fn execute(global: &GlobalOpts, action: &ImportAction) -> anyhow::Result<i32> {
    let ImportAction::Compose {
        file,
        into,
        force,
        strict,
    } = action;
    let cwd = std::env::current_dir().context("the current folder")?;
    let file = match file {
        Some(f) => {
            let f = cwd.join(f);
            if !f.is_file() {
                return Err(ImportError::NotFound {
                    path: f.display().to_string(),
                }
                .into());
            }
            f
        }
        None => COMPOSE_FILES
            .iter()
            .map(|n| cwd.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| ImportError::NoComposeFile {
                dir: cwd.display().to_string(),
            })?,
    };
    let file = file.canonicalize().unwrap_or(file);
    let text = std::fs::read(&file)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .with_context(|| format!("cannot read {}", file.display()))?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let into = into.as_ref().map(|d| cwd.join(d));
    let imported = compose::import(&Input {
        file: &file,
        text: &text,
        env: &env,
        into: into.as_deref(),
        source: &Fs,
    })?;
    let shown = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    if *strict && !imported.findings.is_empty() {
        for f in &imported.findings {
            output::error(f);
        }
        return Err(ImportError::Strict {
            count: imported.findings.len(),
            file: shown,
        }
        .into());
    }
    let dir = &imported.dir;
    let has_files = std::fs::read_dir(dir).is_ok_and(|mut rd| rd.next().is_some());
    if has_files && !force {
        return Err(ImportError::Exists {
            dir: dir.display().to_string(),
        }
        .into());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for c in &imported.copies {
        copy_context(c, dir)?;
    }
    for f in &imported.files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // A copied symlink must not redirect a generated file elsewhere.
        if path.is_symlink() {
            let _ = std::fs::remove_file(&path);
        }
        std::fs::write(&path, &f.content)
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    }

    let project = crate::project::name_from_dir(dir).unwrap_or_default();
    if global.json {
        output::json(&Report {
            compose_file: file.display().to_string(),
            compose_project: &imported.compose_project,
            dir,
            project,
            services: &imported.services,
            instances: imported.instances,
            files: imported.files.iter().map(|f| f.path.as_str()).collect(),
            copied_contexts: imported.copies.iter().map(|c| c.to.as_str()).collect(),
            findings: &imported.findings,
        });
        return Ok(0);
    }
    for f in &imported.findings {
        output::warn(f);
    }
    output::out(&format!(
        "imported {} into {}: project {project}, {} service(s), {} instance(s){}\n\
         next: cd {} && dops plan:all && dops build:all && dops run:all --wait\n",
        file.display(),
        dir.display(),
        imported.services.len(),
        imported.instances,
        match imported.findings.len() {
            0 => String::new(),
            n => format!("; {n} thing(s) did not carry over (warnings above)"),
        },
        dir.display(),
    ));
    Ok(0)
}

/// Copy a build context into the project, honouring its `.dockerignore`.
fn copy_context(c: &ContextCopy, dir: &Path) -> anyhow::Result<()> {
    let to = dir.join(&c.to);
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    let matcher = c.matcher();
    let files = crate::dockerignore::context_files(&c.from, &matcher)?;
    let skipped: Vec<PathBuf> = c.skip.clone();
    for rel in files {
        let src = c.from.join(&rel);
        if skipped.iter().any(|s| src.starts_with(s)) {
            continue;
        }
        let dst = to.join(&rel);
        let meta = std::fs::symlink_metadata(&src)
            .with_context(|| format!("cannot read {}", src.display()))?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&src)?;
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(&target, &dst)
                .with_context(|| format!("cannot write {}", dst.display()))?;
        } else if meta.is_dir() {
            std::fs::create_dir_all(&dst)
                .with_context(|| format!("cannot create {}", dst.display()))?;
        } else if meta.is_file() {
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

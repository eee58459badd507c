//! The build context: a tar of the service folder honouring `.dockerignore` (the matcher is the
//! leaf `dockerignore`, shared with the Compose importer).

use std::path::{Path, PathBuf};

pub use crate::dockerignore::{clean, context_files, Ignore, Pattern};

use super::error::EngineError;

/// A tar builder for contexts: entries owned by root, modes and mtimes kept.
pub struct ContextTar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for ContextTar {
    fn default() -> Self {
        Self::new()
    }
}

impl ContextTar {
    pub fn new() -> ContextTar {
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        ContextTar { builder }
    }

    /// Add a file or folder from disk under `name`.
    pub fn add_path(&mut self, disk: &Path, name: &str) -> Result<(), EngineError> {
        let meta = std::fs::symlink_metadata(disk).map_err(|e| EngineError::io(disk, e))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        header.set_uid(0);
        header.set_gid(0);
        let _ = header.set_username("");
        let _ = header.set_groupname("");
        let io = |e| EngineError::io(disk, e);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(disk).map_err(io)?;
            self.builder
                .append_link(&mut header, name, &target)
                .map_err(io)?;
        } else if meta.is_dir() {
            header.set_size(0);
            self.builder
                .append_data(&mut header, format!("{name}/"), std::io::empty())
                .map_err(io)?;
        } else if meta.is_file() {
            let f = std::fs::File::open(disk).map_err(io)?;
            self.builder.append_data(&mut header, name, f).map_err(io)?;
        }
        // Sockets, fifos and devices are not sent (docker build refuses most of them too).
        Ok(())
    }

    /// Add an in-memory file.
    pub fn add_bytes(&mut self, name: &str, data: &[u8], mode: u32) -> Result<(), EngineError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder
            .append_data(&mut header, name, data)
            .map_err(|e| EngineError::io(PathBuf::from(name), e))
    }

    /// Add a symbolic link `name` → `target` (meta, issue 8: the `container` links).
    pub fn add_symlink(&mut self, name: &str, target: &str) -> Result<(), EngineError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o777);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Symlink);
        self.builder
            .append_link(&mut header, name, target)
            .map_err(|e| EngineError::io(PathBuf::from(name), e))
    }

    pub fn finish(self) -> Result<Vec<u8>, EngineError> {
        self.builder
            .into_inner()
            .map_err(|e| EngineError::io(PathBuf::from("<context>"), e))
    }
}

/// The tar of a service folder, honouring its `.dockerignore`.
pub fn service_context(dir: &Path, dockerfile: &str) -> Result<Vec<u8>, EngineError> {
    let ignore = Ignore::load(dir, dockerfile)?;
    let mut tar = ContextTar::new();
    for rel in context_files(dir, &ignore)? {
        tar.add_path(&dir.join(&rel), &rel)?;
    }
    tar.finish()
}

/// The entry names of a tar, in order (for the tests of what a build context holds).
#[cfg(test)]
pub(crate) fn tar_entry_names(tar: &[u8]) -> Vec<String> {
    tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_walk_skips_excluded_folders_unless_an_exception_starts_there() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            "Dockerfile",
            "app.py",
            "notes.md",
            "README.md",
            "node_modules/x/index.js",
            "docs/a.txt",
            "docs/keep.txt",
            "logs/today.log",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::write(
            d.join(".dockerignore"),
            "Dockerfile\n.dockerignore\nnode_modules\n*.md\n!README.md\ndocs\n!docs/keep.txt\nlogs/*.log\n",
        )
        .unwrap();
        let ig = Ignore::load(d, "Dockerfile").unwrap();
        let files = context_files(d, &ig).unwrap();
        assert_eq!(
            files,
            vec![
                ".dockerignore",
                "Dockerfile",
                "README.md",
                "app.py",
                "docs/keep.txt",
                "logs"
            ]
        );
        // And the tar holds exactly those entries.
        let tar = service_context(d, "Dockerfile").unwrap();
        let names = tar_entry_names(&tar);
        assert_eq!(
            names,
            vec![
                ".dockerignore",
                "Dockerfile",
                "README.md",
                "app.py",
                "docs/keep.txt",
                "logs/"
            ]
        );
    }
}

//! `clean --purge`: deleting an instance's persistent folder, and only that. The planner builds the
//! path from the container's labels (checked names); here it must also really be inside the data
//! folder once symbolic links are resolved, or nothing is deleted.

use std::path::{Path, PathBuf};

use super::error::EngineError;

/// Delete `path` (a folder directly inside `data_root`) and everything in it. Missing is fine.
/// Refused, deleting nothing, when [`check`] refuses it.
pub fn purge_data(path: &Path, data_root: &Path) -> Result<(), EngineError> {
    let Some(real) = check(path, data_root)? else {
        return Ok(());
    };
    match std::fs::remove_dir_all(&real) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io(&real, e)),
    }
}

/// The real folder `path` names, if it exists, when it may be purged: it must resolve to a folder
/// directly inside `data_root` (symbolic links resolved, `data_root` itself may be one) and not
/// be a symbolic link itself. Checked before anything is done (`clean` checks every purge first).
pub fn check(path: &Path, data_root: &Path) -> Result<Option<PathBuf>, EngineError> {
    let refuse = |why: String| EngineError::UnsafePurge {
        path: path.to_path_buf(),
        root: data_root.to_path_buf(),
        why,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io(path, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link".into()));
    }
    let root = canonical(data_root)?;
    let real = canonical(path)?;
    if real.parent() != Some(root.as_path()) {
        return Err(refuse(format!(
            "it resolves to {}, which is not a folder of the data folder {}",
            real.display(),
            root.display()
        )));
    }
    Ok(Some(real))
}

fn canonical(p: &Path) -> Result<PathBuf, EngineError> {
    std::fs::canonicalize(p).map_err(|e| EngineError::io(p, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn deletes_a_folder_of_the_data_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        std::fs::create_dir_all(root.join("web-one/data")).unwrap();
        std::fs::write(root.join("web-one/data/f"), "x").unwrap();
        purge_data(&root.join("web-one"), &root).unwrap();
        assert!(!root.join("web-one").exists());
        assert!(root.exists());
        // missing: nothing to do
        purge_data(&root.join("web-two"), &root).unwrap();
    }

    #[test]
    fn refuses_what_resolves_elsewhere() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        let outside = tmp.path().join("precious");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(outside.join("x")).unwrap();
        // the instance folder is a link out of the data folder
        symlink(&outside, root.join("web-one")).unwrap();
        let e = purge_data(&root.join("web-one"), &root).unwrap_err();
        assert!(e.to_string().contains("it is a symbolic link"), "{e}");
        // a link on the way
        symlink(&outside, root.join("up")).unwrap();
        let e = purge_data(&root.join("up/x"), &root).unwrap_err();
        assert!(
            e.to_string().contains("not a folder of the data folder"),
            "{e}"
        );
        // the data folder itself
        std::fs::create_dir_all(root.join("web-x")).unwrap();
        let e = purge_data(&root.join("web-x/.."), &root).unwrap_err();
        assert!(
            e.to_string().contains("not a folder of the data folder"),
            "{e}"
        );
        assert!(outside.join("x").exists());
        // a data folder that is itself a link is fine: its folders are inside its target
        let moved = tmp.path().join("moved");
        std::fs::create_dir_all(moved.join("db-one")).unwrap();
        symlink(&moved, tmp.path().join("data2")).unwrap();
        purge_data(&tmp.path().join("data2/db-one"), &tmp.path().join("data2")).unwrap();
        assert!(!moved.join("db-one").exists());
    }
}

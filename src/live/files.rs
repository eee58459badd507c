//! Watching the run folders (`<project>/.dops/run/*/`) for the files dops-init and the project
//! DNS write: `state.json` and `dns-records.json`. inotify through the `notify` crate: a change
//! is seen within milliseconds, with no polling and no exec.
//!
//! Both files are written atomically (a temporary file renamed over the old one), so the events
//! that matter name the final file. A folder that appears (a new container's) is read at once
//! too: its first file may be written before the watch on it is in place.

use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use crate::dns::records::RECORDS_FILE;
use crate::state_file::FILE_NAME as STATE_FILE;

/// What the watcher tells: a file to read again, or everything (the kernel's queue overflowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    File(PathBuf),
    Rescan,
}

/// A running watch; dropping it stops it.
pub struct FileWatch {
    _watcher: notify::RecommendedWatcher,
}

fn interesting(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|f| f == STATE_FILE || f == RECORDS_FILE)
}

/// Watch `root` (created when missing) and everything under it.
pub fn watch(root: &Path, tx: UnboundedSender<Changed>) -> notify::Result<FileWatch> {
    std::fs::create_dir_all(root).map_err(notify::Error::io)?;
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let ev = match res {
            Ok(ev) => ev,
            Err(_) => {
                let _ = tx.send(Changed::Rescan);
                return;
            }
        };
        if ev.need_rescan() {
            let _ = tx.send(Changed::Rescan);
            return;
        }
        // inotify also reports opens, reads and closes without a write: reading the file we
        // were told about would tell us again, a loop that spun a core and queued without end.
        if matches!(ev.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write)) {
            return;
        }
        for p in &ev.paths {
            if interesting(p) {
                let _ = tx.send(Changed::File(p.clone()));
            } else if matches!(ev.kind, EventKind::Create(_)) && p.is_dir() {
                for f in [STATE_FILE, RECORDS_FILE] {
                    let _ = tx.send(Changed::File(p.join(f)));
                }
            }
        }
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok(FileWatch { _watcher: watcher })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sees_atomic_writes_and_new_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(".dops/run");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = watch(&root, tx).unwrap();
        let dir = root.join("web-one.1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".state.json.tmp.1"), "{}").unwrap();
        std::fs::rename(dir.join(".state.json.tmp.1"), dir.join("state.json")).unwrap();
        let want = Changed::File(dir.join("state.json"));
        let found = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(c) = rx.recv().await {
                if c == want {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true));
    }

    /// Reading a watched file is no change: no event comes of it (else every read of a state
    /// file would make another, without end).
    #[tokio::test]
    async fn reading_a_file_tells_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(".dops/run");
        let dir = root.join("web-one");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("state.json"), "{}").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = watch(&root, tx).unwrap();
        for _ in 0..3 {
            let _ = std::fs::read(dir.join("state.json")).unwrap();
        }
        let got = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
        assert!(got.is_err(), "a read told {got:?}");
        // a write still does
        std::fs::write(dir.join("state.json"), "{ }").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(got, Ok(Some(Changed::File(dir.join("state.json")))));
    }
}

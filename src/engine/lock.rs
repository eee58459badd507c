//! The project lock: `<project>/.dops/lock`, an exclusive `flock` held for the whole command.
//!
//! Two dops commands on one project at once would otherwise both observe "not running" and both
//! create the container. The lock is taken before observing, so the second command sees what the
//! first one did. A lock is released by the kernel when its process exits: it can never go stale.
//! The holder's pid is written into the file for the message the waiting command prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::EngineError;

/// A held project lock; dropping it releases the lock.
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    path: PathBuf,
}

impl ProjectLock {
    /// Take the lock without waiting: `EngineError::Locked` (naming the holder) when it is held.
    pub fn try_acquire(project_dir: &Path) -> Result<ProjectLock, EngineError> {
        Self::acquire(project_dir, Duration::ZERO, |_| {})
    }

    /// Take the lock, waiting up to `wait` for another dops command to finish. `on_wait` is called
    /// once, with the holder's pid, when the lock is found held (so the user knows why we wait).
    pub fn acquire(
        project_dir: &Path,
        wait: Duration,
        mut on_wait: impl FnMut(&str),
    ) -> Result<ProjectLock, EngineError> {
        let dir = project_dir.join(".dops");
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        let gitignore = dir.join(".gitignore");
        if !gitignore.exists() {
            let _ = std::fs::write(&gitignore, "*\n");
        }
        let path = dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| EngineError::io(&path, e))?;
        let start = Instant::now();
        let mut told = false;
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                let _ = file.set_len(0);
                let _ = file.seek(SeekFrom::Start(0));
                let _ = write!(file, "{}", std::process::id());
                let _ = file.flush();
                return Ok(ProjectLock { file, path });
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(EngineError::io(&path, err));
            }
            let pid = holder(&mut file);
            if start.elapsed() >= wait {
                return Err(EngineError::Locked { path, pid });
            }
            if !told {
                on_wait(&pid);
                told = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut s);
    let s = s.trim();
    if s.is_empty() {
        "unknown".into()
    } else {
        s.to_string()
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // SAFETY: unlocking a descriptor we own.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_pid_then_gets_it_after_release() {
        let tmp = tempfile::tempdir().unwrap();
        let first = ProjectLock::try_acquire(tmp.path()).unwrap();
        // flock locks belong to the open file description: a second open in the same process
        // conflicts just like another process would.
        let err = ProjectLock::try_acquire(tmp.path()).unwrap_err();
        match &err {
            EngineError::Locked { pid, .. } => assert_eq!(pid, &std::process::id().to_string()),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("holds the project lock"));
        drop(first);
        let again = ProjectLock::try_acquire(tmp.path()).unwrap();
        assert!(again.path().ends_with(".dops/lock"));
    }

    #[test]
    fn waiting_acquire_gets_the_lock_when_released() {
        let tmp = tempfile::tempdir().unwrap();
        let first = ProjectLock::try_acquire(tmp.path()).unwrap();
        let dir = tmp.path().to_path_buf();
        let t = std::thread::spawn(move || {
            let mut waited = false;
            let l = ProjectLock::acquire(&dir, Duration::from_secs(10), |_| waited = true);
            (l.is_ok(), waited)
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
        let (ok, waited) = t.join().unwrap();
        assert!(ok && waited);
    }
}

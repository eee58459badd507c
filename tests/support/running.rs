//! A long-running `dops` (events, ui) for a test: its stdout lines are collected with the time
//! each arrived, and it is ended (by its pid) when the guard is dropped, even on panic.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub struct Running {
    child: Child,
    /// (arrival time in ms since the epoch, line), in order.
    lines: Arc<Mutex<Vec<(i64, String)>>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Start `dops ARGS` in `dir` (with the test's dops-init, see `dops_command`).
    pub fn start(dir: &Path, args: &[&str]) -> Running {
        let mut child = super::dops_command(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dops");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push((now_ms(), line));
            }
        });
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<(i64, String)> {
        self.lines.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// True when stderr shows `needle` within `limit`. Stdout and stderr are read by two
    /// threads, so a line printed on stderr before one on stdout may still be unread when the
    /// stdout line is seen.
    pub fn stderr_shows(&self, needle: &str, limit: Duration) -> bool {
        super::eventually(limit, || self.stderr().contains(needle))
    }

    /// The first stdout line, waiting at most `limit`.
    pub fn first_line(&self, limit: Duration) -> Option<String> {
        super::within(limit, || !self.lines.lock().unwrap().is_empty())?;
        Some(self.lines.lock().unwrap()[0].1.clone())
    }

    /// Is it still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Ask it to stop (SIGTERM) and wait at most 5 s; then SIGKILL. Its exit code, if it exited.
    pub fn stop(&mut self) -> Option<i32> {
        self.interrupt(libc::SIGTERM)
    }

    /// Send it `signal` and wait at most 5 s; then SIGKILL. Its exit code, if it exited.
    pub fn interrupt(&mut self, signal: i32) -> Option<i32> {
        // SAFETY: a signal to our own child, by its pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        let mut code = None;
        super::within(Duration::from_secs(5), || match self.child.try_wait() {
            Ok(Some(s)) => {
                code = s.code();
                true
            }
            _ => false,
        });
        if code.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        code
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

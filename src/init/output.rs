//! Output forwarding: one small thread per pipe copies lines to the container's stdout/stderr,
//! optionally prefixed (several programs) and optionally remembered (the tail of a hook's
//! output, shown when it fails; the stdout of `monitor`, which is data).
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const TAIL_LINES: usize = 40;
const CAPTURE_MAX: usize = 1 << 20;

/// The last lines of a process's output.
#[derive(Default)]
pub struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_string());
    }
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub enum Sink {
    Stdout,
    Stderr,
    /// Keep the bytes, print nothing.
    Capture(Arc<Mutex<Vec<u8>>>),
}

/// Start a forwarding thread for one pipe.
pub fn forward<R: Read + Send + 'static>(
    reader: R,
    prefix: String,
    sink: Sink,
    tail: Option<Arc<Mutex<Tail>>>,
) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("dops-init-out".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut r = BufReader::with_capacity(4096, reader);
            let mut line = Vec::with_capacity(256);
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if let Some(t) = &tail {
                    let text = String::from_utf8_lossy(&line);
                    if let Ok(mut t) = t.lock() {
                        t.push(text.trim_end_matches(['\n', '\r']));
                    }
                }
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                match &sink {
                    Sink::Stdout => {
                        let mut o = std::io::stdout().lock();
                        let _ = o.write_all(prefix.as_bytes());
                        let _ = o.write_all(&line);
                        let _ = o.flush();
                    }
                    Sink::Stderr => {
                        let mut o = std::io::stderr().lock();
                        let _ = o.write_all(prefix.as_bytes());
                        let _ = o.write_all(&line);
                    }
                    Sink::Capture(buf) => {
                        if let Ok(mut b) = buf.lock() {
                            if b.len() < CAPTURE_MAX {
                                b.extend_from_slice(&line);
                            }
                        }
                    }
                }
            }
        })
        .ok()
}

/// A line from dops-init itself, on stderr.
pub fn log(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "dops-init: {msg}");
}

/// A result of a dops-init command (`status`, `health`, `cfg`, `container …`): text on stdout
/// (a line end is added when missing). A closed pipe is ignored.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = o.write_all(b"\n");
    }
    let _ = o.flush();
}

/// Text on stderr as given (a usage text, a message with its own prefix).
pub fn err(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = e.write_all(b"\n");
    }
}

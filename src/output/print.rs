//! The primitives every printed line goes through: results on stdout; notes, prompts, warnings
//! and errors on stderr; JSON documents; the output of containers as the engine's sink.

use std::io::Write;

pub fn error(msg: &dyn std::fmt::Display) {
    eprintln!("dops: error: {msg}");
}

pub fn warn(msg: &dyn std::fmt::Display) {
    eprintln!("dops: warning: {msg}");
}

/// Write to stdout, ignoring a closed pipe (`dops plan:all | head`).
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// A line for the user that is not the result (what was done, what is waiting): stderr.
pub fn note(msg: &dyn std::fmt::Display) {
    eprintln!("{msg}");
}

/// Text without a line end on stderr (a question before the answer is read).
pub fn prompt(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(msg.as_bytes());
    let _ = e.flush();
}

/// A value as pretty JSON on stdout, one document.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => out(&format!("{text}\n")),
        Err(e) => error(&format!("cannot write JSON: {e}")),
    }
}

/// The command's stdout and stderr as the engine's [`Sink`](crate::engine::Sink): the output of
/// containers (logs, a shell) passes through unchanged, a closed pipe is ignored.
pub struct Stdio;

impl crate::engine::Sink for Stdio {
    fn out(&self, bytes: &[u8]) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(bytes);
        let _ = o.flush();
    }

    fn err(&self, bytes: &[u8]) {
        let _ = std::io::stderr().lock().write_all(bytes);
    }
}

//! What did not carry over (a finding, located in the file that says it), and the errors that
//! stop an import.

use serde::Serialize;

use super::yaml::Pos;

/// Something of the Compose project that dops does not do, or does differently: reported, never
/// dropped silently. `--strict` makes any finding an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file that says it, as the user names it (`compose.yaml`, `app/Dockerfile`, `.env`).
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// Where in the file: `services.web.ports[1]`.
    pub key: String,
    pub message: String,
}

impl Finding {
    pub fn new(file: &str, pos: Pos, key: &str, message: impl Into<String>) -> Finding {
        Finding {
            file: file.to_string(),
            line: pos.line,
            col: pos.col,
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a Compose file could not be imported (exit code 2: the input is wrong).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// Located in a file: a YAML error, a value of the wrong shape, a required variable unset.
    #[error("{}", located(.file, .line, .col, .key, .msg))]
    At {
        file: String,
        line: usize,
        col: usize,
        /// `services.web.ports[0]`; empty for YAML syntax errors.
        key: String,
        msg: String,
    },
    #[error("cannot read {path}: {msg}")]
    Read { path: String, msg: String },
    #[error("{0}")]
    Other(String),
}

fn located(file: &str, line: &usize, col: &usize, key: &str, msg: &str) -> String {
    if key.is_empty() {
        format!("{file}:{line}:{col}: {msg}")
    } else {
        format!("{file}:{line}:{col}: {key}: {msg}")
    }
}

impl ComposeError {
    pub fn at(file: &str, pos: Pos, key: &str, msg: impl Into<String>) -> ComposeError {
        ComposeError::At {
            file: file.to_string(),
            line: pos.line,
            col: pos.col,
            key: key.to_string(),
            msg: msg.into(),
        }
    }
}

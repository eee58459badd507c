//! The errors of dops-init. Configuration errors exit 2, everything else 1.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("invalid JSON in CFG at line {line}, column {column}: {msg} (hint: CFG must be a JSON object, e.g. CFG='{{\"memory\":400}}')")]
    BadCfg {
        line: usize,
        column: usize,
        msg: String,
    },
    #[error("invalid JSON in {} at line {line}, column {column}: {msg}", path.display())]
    BadJson {
        path: PathBuf,
        line: usize,
        column: usize,
        msg: String,
    },
    #[error("invalid init.d configuration ({}): {msg}", dir.display())]
    BadInitD { dir: PathBuf, msg: String },
    #[error("program {name}: {msg}")]
    BadProgram { name: String, msg: String },
    #[error("watch {name}: {msg}")]
    BadWatch { name: String, msg: String },
    #[error("unknown user {user} (hint: it is not in {}; use a numeric uid[:gid])", passwd.display())]
    UnknownUser { user: String, passwd: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("hook {hook} failed ({status}){}", if output.is_empty() { String::new() } else { format!("; its output:\n{output}") })]
    HookFailed {
        hook: String,
        status: String,
        output: String,
    },
    #[error("program {name} could not be kept running: {msg}")]
    ProgramFailed { name: String, msg: String },
    #[error("restart budget spent: {restarts} restarts without a successful monitor run; last failure: {last}")]
    BudgetSpent { restarts: u32, last: String },
    #[error("key {key} not found in {}", path.display())]
    NoKey { key: String, path: PathBuf },
    #[error("cannot install the signal handlers: {0}")]
    Signals(nix::Error),
    #[error("{0}")]
    Usage(String),
}

impl InitError {
    /// 2 for bad usage or bad configuration, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            InitError::BadCfg { .. }
            | InitError::BadJson { .. }
            | InitError::BadInitD { .. }
            | InitError::BadProgram { .. }
            | InitError::BadWatch { .. }
            | InitError::UnknownUser { .. }
            | InitError::Usage(_) => 2,
            _ => 1,
        }
    }
}

//! The usage errors of the command line: what the user reads after `dops: error: `.

/// A command line dops cannot run. Messages are what the user reads after `dops: error: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    /// `--help` / `--version`: not an error; print the text on stdout and exit 0.
    #[error("{0}")]
    Help(String),
    #[error("missing command (try 'dops --help')")]
    MissingVerb,
    #[error("unknown command '{found}'{}", did_you_mean(.suggestion))]
    UnknownVerb {
        found: String,
        suggestion: Option<String>,
    },
    #[error("unknown key '{key}' for '{verb}'{}", did_you_mean(.suggestion))]
    UnknownKey {
        verb: String,
        key: String,
        suggestion: Option<String>,
    },
    #[error("unknown option '{option}' for '{verb}'{}", did_you_mean(.suggestion))]
    UnknownOption {
        verb: String,
        option: String,
        suggestion: Option<String>,
    },
    #[error("invalid value '{value}' for '{key}': expected one of True/False, yes/no, 1/0")]
    BadBool { key: String, value: String },
    #[error("invalid value '{value}' for '{key}': {reason}")]
    BadValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("empty key in '{0}' (expected key=value)")]
    EmptyKey(String),
    #[error("key '{key}' given twice")]
    DuplicateKey { key: String },
    #[error("missing target for '{verb}' (e.g. 'dops {verb}:all' or 'dops {verb} <service>')")]
    MissingTarget { verb: String },
    #[error("'{verb}' needs one service, not '{target}' (e.g. 'dops {verb}:web,instance=one')")]
    NeedOneService { verb: String, target: String },
    #[error("argument {0:?} is not valid UTF-8")]
    NotUtf8(String),
    #[error("{0}")]
    Other(String),
}

pub(super) fn did_you_mean(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

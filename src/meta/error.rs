//! What can go wrong reading or parsing image metadata.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} is not valid JSON: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("{file}: \"methods\" must be an object of command strings, e.g. {{\"validate\": \"/srv/validate.sh\"}}")]
    MethodsShape { file: String },
    #[error("{file}: unknown method \"{name}\" (known: start, update, validate, monitor)")]
    UnknownMethod { file: String, name: String },
    #[error("image label {key} is invalid: {reason}")]
    BadLabel { key: &'static str, reason: String },
    #[error("cannot read the init.d archive: {0}")]
    Tar(std::io::Error),
}

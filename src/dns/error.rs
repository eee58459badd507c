//! The errors of the DNS server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors of the DNS server and its key.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("invalid dns key: {why}")]
    BadKey { why: String },
    /// The key given to the server could not be read or parsed (the message says why).
    #[error("{0}")]
    Key(String),
    #[error("invalid dns {what}: {why}")]
    BadConfig { what: String, why: String },
    #[error("cannot listen on {addr}: {source} (hint: is another dns server using the port?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("dns server failed: {0}")]
    Runtime(String),
    #[error("no upstream resolver configured")]
    NoUpstream,
    #[error("upstream {upstream} failed: {why}")]
    Upstream { upstream: SocketAddr, why: String },
    #[error("no dns records at {path} (hint: is the dops-dns-master instance running?)")]
    NoRecords { path: PathBuf },
    #[error("zone transfer from {server} failed: {why}")]
    Transfer { server: SocketAddr, why: String },
    #[error("cannot read dns records {path}: {why}")]
    BadRecords { path: PathBuf, why: String },
}

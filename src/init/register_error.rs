//! What can go wrong registering an instance in the DNS or looking a name up.

use std::net::SocketAddr;
use std::time::Duration;

/// Errors of registration and lookups.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{var} is required when DNS_SERVICE_IP is set")]
    MissingEnv { var: &'static str },
    #[error("invalid {var}: {why}")]
    BadEnv { var: &'static str, why: String },
    #[error("no non-loopback ipv4 address found (hint: set SERVICE_IP)")]
    NoAddress,
    #[error("dns server {server} did not answer within {timeout:?}")]
    Timeout {
        server: SocketAddr,
        timeout: Duration,
    },
    #[error("dns server {server} refused the update: {rcode} (hint: the key of DNS_KEY_FILE may change only this instance's names; is it this project's, for this instance?)")]
    Refused { server: SocketAddr, rcode: String },
    #[error("dns server {server} failed: {rcode}")]
    Failed { server: SocketAddr, rcode: String },
    #[error("dns answer from {server} is not authentic: {why}")]
    BadAnswer { server: SocketAddr, why: String },
    #[error("dns i/o with {server}: {source}")]
    Io {
        server: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build dns message: {0}")]
    Message(String),
}

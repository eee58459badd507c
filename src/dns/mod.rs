//! The embedded dynamic DNS (`dops dns serve`), built on hickory-server.
//!
//! - [`registry`]: records with leases; APPEND / REPLACE / HIDE semantics of RFC 2136 UPDATEs.
//! - [`handler`]: the hickory `RequestHandler`: authoritative answers, PTR, forwarding, updates.
//! - [`tsig`]: TSIG hmac-sha256 verification, replay protection, response signing.
//! - [`forward`]: forwarding of names outside the zone to the upstream resolvers.
//! - [`server`]: UDP + TCP listeners, lease expiry, the records file.
//! - [`udp`]: the UDP receive loop (hickory `Request`/`RequestHandler`, answers sent directly).
//! - [`records`]: the records file the server writes and `dops dns:records` reads.
//!
//! This module never calls Docker: it learns names only from registrations. It imports nothing
//! from the rest of dops: the edge that starts it (`commands::dns`) hands it a [`SharedKey`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub mod forward;
pub mod handler;
pub mod records;
pub mod registry;
pub mod server;
pub mod tsig;
pub mod udp;

pub use server::{serve, start, DnsConfig, DnsServer};
pub use tsig::SharedKey;

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
    #[error("cannot read dns records {path}: {why}")]
    BadRecords { path: PathBuf, why: String },
}

/// The server's log of refusals and changes: to `tracing`, and the last events kept in memory
/// (tests and diagnostics read them).
#[derive(Clone, Default)]
pub struct DnsLog {
    events: Arc<Mutex<VecDeque<String>>>,
}

impl DnsLog {
    const KEEP: usize = 256;

    fn push(&self, line: String) {
        if let Ok(mut ev) = self.events.lock() {
            if ev.len() >= Self::KEEP {
                ev.pop_front();
            }
            ev.push_back(line);
        }
    }

    /// A refused request (unsigned update, bad key, bad signature, replay, failed update).
    pub fn refused(&self, src: SocketAddr, why: &str) {
        tracing::warn!(%src, "refused: {why}");
        self.push(format!("refused {src}: {why}"));
    }

    /// An applied update.
    pub fn updated(
        &self,
        src: SocketAddr,
        records: &[hickory_proto::rr::Record],
        summary: &registry::UpdateSummary,
    ) {
        if summary.added == 0 && summary.deleted == 0 && summary.pinned.is_empty() {
            tracing::debug!(%src, refreshed = summary.refreshed, "lease refreshed");
            return;
        }
        let what: Vec<String> = records
            .iter()
            .map(|r| format!("{} {} {}", r.dns_class, r.name, r.data))
            .collect();
        let line = format!(
            "update {src}: +{} -{} refreshed {} pinned {:?}: {}",
            summary.added,
            summary.deleted,
            summary.refreshed,
            summary.pinned,
            what.join("; ")
        );
        tracing::info!("{line}");
        self.push(line);
    }

    /// Records whose lease ran out.
    pub fn expired(&self, gone: &[(String, String)]) {
        for (name, value) in gone {
            tracing::info!("lease expired: {name} {value}");
            self.push(format!("expired {name} {value}"));
        }
    }

    /// The kept events, oldest first.
    pub fn events(&self) -> Vec<String> {
        self.events
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }
}

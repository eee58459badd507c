//! The server's log of refusals and changes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::registry;

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

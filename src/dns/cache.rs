//! The UDP response cache: encoded answers keyed by the request itself.
//!
//! Key: the whole request datagram except its id (flags, question with its letter case, EDNS
//! with its payload size and options). The same bytes make the same answer, so a hit copies the
//! stored response and puts the request's id in it; nothing is parsed. Only unsigned queries the
//! zone or the registry answers are stored (never updates, signed messages or forwarded names).
//!
//! An entry keeps every rotation of its answer and the RRset counter the registry uses, so a
//! name with several addresses still starts one further on every answer, cached or not.
//!
//! An entry is used only while nothing changed in the registry (its change counter, bumped on
//! every add, delete, pin and expiry) and before the earliest lease end it saw (after which a
//! record may stop being answered even before the expiry ticker removes it). Each UDP socket's
//! loop has its own cache (no lock); its size is bounded, and it is emptied when full.
//!
//! Keys are hashed with foldhash (randomly seeded per process): SipHash was a seventh of what a
//! cached answer cost in user space; with the size bound, a flood of colliding keys can slow one
//! loop only until the cache is emptied.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// An answer to store: every rotation, and how to pick one.
pub struct CacheFill {
    /// The encoded responses; variant `i` starts the rotating RRset at its record `i`.
    pub variants: Vec<Box<[u8]>>,
    /// The rotating RRset's counter (None: one variant).
    pub rotation: Option<Arc<AtomicUsize>>,
    /// The registry's change counter when the answer was made.
    pub changes: u64,
    /// The earliest lease end then (None: no record at all).
    pub valid_until: Option<Instant>,
}

/// Entries kept at most (then the cache is emptied).
const MAX_ENTRIES: usize = 4096;
/// Bytes of keys and responses kept at most (then the cache is emptied).
const MAX_BYTES: usize = 4 << 20;

/// One socket loop's cache.
pub struct ResponseCache {
    map: HashMap<Box<[u8]>, CacheFill, foldhash::fast::RandomState>,
    bytes: usize,
    changes: Arc<AtomicU64>,
    /// The change counter the entries were made at.
    seen: u64,
}

impl ResponseCache {
    pub fn new(changes: Arc<AtomicU64>) -> ResponseCache {
        let seen = changes.load(Ordering::Acquire);
        ResponseCache {
            map: HashMap::default(),
            bytes: 0,
            changes,
            seen,
        }
    }

    /// The stored answer to `request` (a whole datagram) appended to `out`, with the request's
    /// id; false when there is none that is still right at `now`.
    pub fn answer(&mut self, request: &[u8], now: Instant, out: &mut Vec<u8>) -> bool {
        if request.len() < 12 {
            return false;
        }
        let changes = self.changes.load(Ordering::Acquire);
        if changes != self.seen {
            self.clear();
            self.seen = changes;
            return false;
        }
        let Some(e) = self.map.get(&request[2..]) else {
            return false;
        };
        if e.changes != changes || e.valid_until.is_some_and(|t| now >= t) {
            return false;
        }
        let n = e.variants.len();
        let i = match &e.rotation {
            Some(c) if n > 1 => c.fetch_add(1, Ordering::Relaxed) % n,
            _ => 0,
        };
        let start = out.len();
        out.extend_from_slice(&e.variants[i]);
        if out.len() >= start + 2 {
            out[start..start + 2].copy_from_slice(&request[..2]);
        }
        true
    }

    /// Store the answer to `request` (a whole datagram).
    pub fn insert(&mut self, request: &[u8], fill: CacheFill) {
        if request.len() < 12 || fill.variants.is_empty() {
            return;
        }
        if fill.changes != self.changes.load(Ordering::Acquire) {
            return; // already out of date
        }
        if fill.changes != self.seen {
            self.clear();
            self.seen = fill.changes;
        }
        let size = request.len() + fill.variants.iter().map(|v| v.len()).sum::<usize>();
        if self.map.len() >= MAX_ENTRIES || self.bytes + size > MAX_BYTES {
            self.clear();
        }
        if size > MAX_BYTES {
            return;
        }
        if let Some(old) = self.map.insert(request[2..].into(), fill) {
            self.bytes -= request.len() + old.variants.iter().map(|v| v.len()).sum::<usize>();
        }
        self.bytes += size;
    }

    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }

    /// Entries held (tests).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fill(variants: &[&[u8]], changes: u64, rotation: Option<Arc<AtomicUsize>>) -> CacheFill {
        CacheFill {
            variants: variants
                .iter()
                .map(|v| v.to_vec().into_boxed_slice())
                .collect(),
            rotation,
            changes,
            valid_until: None,
        }
    }

    #[test]
    fn hits_patch_the_id_rotate_and_follow_changes() {
        let changes = Arc::new(AtomicU64::new(1));
        let mut c = ResponseCache::new(changes.clone());
        let now = Instant::now();
        let req_a = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03web\x00\x00\x01\x00\x01";
        let mut out = Vec::new();
        assert!(!c.answer(req_a, now, &mut out));
        let counter = Arc::new(AtomicUsize::new(0));
        c.insert(
            req_a,
            fill(
                &[b"\x00\x01 first", b"\x00\x01 second"],
                1,
                Some(counter.clone()),
            ),
        );
        // another id, same question: a hit with that id, rotating through the variants
        let mut req_b = req_a.to_vec();
        req_b[..2].copy_from_slice(&[0xab, 0xcd]);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let mut out = Vec::new();
            assert!(c.answer(&req_b, now, &mut out));
            assert_eq!(&out[..2], &[0xab, 0xcd]);
            seen.push(out[2..].to_vec());
        }
        assert_eq!(seen[0], b" first");
        assert_eq!(seen[1], b" second");
        assert_eq!(seen[2], b" first");
        assert_eq!(
            counter.load(Ordering::Relaxed),
            4,
            "the registry's counter moved"
        );
        // another letter case is another request
        let mut upper = req_a.to_vec();
        upper[13] = b'W';
        assert!(!c.answer(&upper, now, &mut Vec::new()));
        // a change in the registry empties the cache
        changes.fetch_add(1, Ordering::Release);
        assert!(!c.answer(req_a, now, &mut Vec::new()));
        assert!(c.is_empty());
        // a fill made before a change is not stored
        c.insert(req_a, fill(&[b"\x00\x01 old"], 1, None));
        assert!(c.is_empty());
        // an entry is not used once a lease may have run out
        let mut f = fill(&[b"\x00\x01 leased"], 2, None);
        f.valid_until = Some(now + Duration::from_secs(1));
        c.insert(req_a, f);
        assert!(c.answer(req_a, now, &mut Vec::new()));
        assert!(!c.answer(req_a, now + Duration::from_secs(1), &mut Vec::new()));
    }
}

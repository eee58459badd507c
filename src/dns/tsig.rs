//! TSIG (RFC 8945, hmac-sha256) on the server side: verify a request against the project key,
//! refuse replays, and produce the context that signs the response.
//!
//! Replay protection: a signed request is accepted only if its "time signed" lies within
//! `window` seconds of the server clock (the smaller of the server window and the message's own
//! fudge) and its MAC has not been seen before. Seen MACs are remembered for twice the window, so
//! a replay is caught either by the cache (inside the window) or by the clock (outside it).

use std::collections::HashMap;
use std::sync::Mutex;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::{signed_bitmessage_to_buf, TsigAlgorithm, TsigError, TSIG};
use hickory_proto::rr::{Name, Record, TSigResponseContext, TSigner};

use super::error::DnsError;

/// The shared secret the server checks updates against (the project's TSIG key, hmac-sha256).
#[derive(Clone, PartialEq, Eq)]
pub struct SharedKey {
    /// Key name, a DNS name without the trailing dot.
    pub name: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("SharedKey")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SharedKey {
    fn signer(&self) -> Result<TSigner, DnsError> {
        let mut name = Name::from_ascii(&self.name).map_err(|e| DnsError::BadKey {
            why: format!("key name {:?}: {e}", self.name),
        })?;
        name.set_fqdn(true);
        TSigner::new(self.secret.clone(), TsigAlgorithm::HmacSha256, name, FUDGE)
            .map_err(|e| DnsError::BadKey { why: e.to_string() })
    }
}

/// Largest clock difference (seconds) a signer announces (TSIG "fudge").
const FUDGE: u16 = 300;

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Signed with a key name (or algorithm) this server does not hold.
    UnknownKey,
    /// The MAC does not match: tampered with, or another secret.
    BadSignature,
    /// Signed too long ago (or in the future): outside the time window.
    BadTime,
    /// Exactly this signed message was already accepted once.
    Replayed,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rejection::UnknownKey => "unknown tsig key",
            Rejection::BadSignature => "bad tsig signature",
            Rejection::BadTime => "tsig time outside the allowed window",
            Rejection::Replayed => "replayed message (mac already seen)",
        })
    }
}

/// The outcome of checking a request's TSIG record.
pub enum Verdict {
    /// No TSIG record at all.
    Unsigned,
    /// Valid, fresh, first use: sign the response with this context.
    Valid(TSigResponseContext),
    /// Refused: answer NOTAUTH with this (possibly unsigned) TSIG context.
    Rejected(Rejection, TSigResponseContext),
}

impl Verdict {
    /// The response code for a rejected request.
    pub fn rcode() -> ResponseCode {
        ResponseCode::NotAuth
    }
}

/// Verifies requests signed with the project key and remembers MACs already used.
pub struct TsigGuard {
    signer: TSigner,
    window: u64,
    seen: Mutex<Seen>,
}

/// MACs already accepted, with the time (epoch seconds) until which they are kept.
#[derive(Default)]
struct Seen {
    macs: HashMap<Vec<u8>, u64>,
    last_prune: u64,
}

impl TsigGuard {
    /// `window_s`: the largest accepted difference between the signer's clock and ours.
    pub fn new(key: &SharedKey, window_s: u64) -> Result<TsigGuard, DnsError> {
        Ok(TsigGuard {
            signer: key.signer()?,
            window: window_s.max(1),
            seen: Mutex::new(Seen::default()),
        })
    }

    /// The key name this guard accepts.
    pub fn key_name(&self) -> &Name {
        self.signer.signer_name()
    }

    /// Check the TSIG of a raw request (`raw` is the whole message as received).
    pub fn check(
        &self,
        raw: &[u8],
        signature: Option<&Record<TSIG>>,
        request_id: u16,
        now: u64,
    ) -> Verdict {
        let Some(sig) = signature else {
            return Verdict::Unsigned;
        };
        if sig.name != *self.signer.signer_name() || sig.data.algorithm != TsigAlgorithm::HmacSha256
        {
            return Verdict::Rejected(
                Rejection::UnknownKey,
                TSigResponseContext::unknown_key(request_id, now, sig.name.clone()),
            );
        }
        let bad_sig = || {
            Verdict::Rejected(
                Rejection::BadSignature,
                TSigResponseContext::bad_signature(request_id, now, self.signer.clone()),
            )
        };
        let Ok((tbv, record)) = signed_bitmessage_to_buf(raw, None, true) else {
            return bad_sig();
        };
        // Full-length MACs only (no truncation), constant-time compare.
        if record.data.mac.len() != 32 || self.signer.verify(&tbv, &record.data.mac).is_err() {
            return bad_sig();
        }
        let mac = record.data.mac.clone();
        // A stale or replayed request is answered with a signed BADTIME error.
        let rejected_badtime = |why: Rejection, mac: Vec<u8>| {
            Verdict::Rejected(
                why,
                TSigResponseContext::new(
                    request_id,
                    now,
                    self.signer.clone(),
                    mac,
                    Some(TsigError::BadTime),
                ),
            )
        };
        let window = self.window.min(u64::from(record.data.fudge));
        let signed_at = record.data.time;
        if signed_at.abs_diff(now) > window {
            return rejected_badtime(Rejection::BadTime, mac);
        }
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            // Forget MACs past their window, at most once a second.
            if seen.last_prune != now {
                seen.last_prune = now;
                seen.macs.retain(|_, until| *until >= now);
            }
            if seen.macs.contains_key(&mac) {
                return rejected_badtime(Rejection::Replayed, mac);
            }
            seen.macs.insert(mac.clone(), now + 2 * self.window + 1);
        }
        Verdict::Valid(TSigResponseContext::new(
            request_id,
            now,
            self.signer.clone(),
            mac,
            None,
        ))
    }

    /// How many MACs are remembered (for tests and diagnostics).
    pub fn seen_count(&self) -> usize {
        self.seen.lock().map(|s| s.macs.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::RecordType;

    /// A random 256-bit key (what the project's key file holds).
    fn random_key(name: &str) -> SharedKey {
        let mut secret = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        SharedKey {
            name: name.to_string(),
            secret,
        }
    }

    fn signed(key: &SharedKey, time: u64) -> (Vec<u8>, Message) {
        let mut m = Message::new(7, MessageType::Query, OpCode::Update);
        m.add_query(Query::query(
            Name::from_ascii("local.zone.").unwrap(),
            RecordType::SOA,
        ));
        m.finalize(&key.signer().unwrap(), time).unwrap();
        let bytes = m.to_vec().unwrap();
        (bytes.clone(), Message::from_vec(&bytes).unwrap())
    }

    fn verdict(g: &TsigGuard, raw: &[u8], m: &Message, now: u64) -> Option<Rejection> {
        match g.check(raw, m.signature(), 7, now) {
            Verdict::Unsigned => panic!("signed"),
            Verdict::Valid(_) => None,
            Verdict::Rejected(r, _) => Some(r),
        }
    }

    #[test]
    fn window_replay_and_forgetting() {
        let key = random_key("dops-key");
        let g = TsigGuard::new(&key, 60).unwrap();
        let t = 1_000_000;
        let (raw, m) = signed(&key, t);
        assert_eq!(verdict(&g, &raw, &m, t + 30), None);
        assert_eq!(verdict(&g, &raw, &m, t + 31), Some(Rejection::Replayed));
        // outside the window the clock refuses it even once the MAC is forgotten
        assert_eq!(verdict(&g, &raw, &m, t + 61), Some(Rejection::BadTime));
        assert_eq!(g.seen_count(), 1);
        let (raw2, m2) = signed(&key, t + 200);
        assert_eq!(verdict(&g, &raw2, &m2, t + 200), None);
        assert_eq!(
            g.seen_count(),
            1,
            "the first MAC was forgotten after 2 windows"
        );
        let other = random_key("dops-key");
        let (raw3, m3) = signed(&other, t + 200);
        assert_eq!(
            verdict(&g, &raw3, &m3, t + 200),
            Some(Rejection::BadSignature)
        );
        let stranger = random_key("stranger");
        let (raw4, m4) = signed(&stranger, t + 200);
        assert_eq!(
            verdict(&g, &raw4, &m4, t + 200),
            Some(Rejection::UnknownKey)
        );
        let mut m5 = Message::new(7, MessageType::Query, OpCode::Query);
        m5.add_query(Query::query(Name::root(), RecordType::A));
        assert!(matches!(
            g.check(&m5.to_vec().unwrap(), None, 7, t),
            Verdict::Unsigned
        ));
    }
}

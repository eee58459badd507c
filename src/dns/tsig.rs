//! TSIG (RFC 8945, hmac-sha256) on the server side: find the key a request names, verify it,
//! refuse replays, and sign the response.
//!
//! Keys: the server holds no key list. The edge that starts it hands it [`Credentials`], a lookup
//! from a key name to a secret and a [`Scope`] (what the key may change). dops builds it from the
//! project key: the project key has the whole zone, every instance key (derived from the project
//! key, see `tsig_key` on the host side) only its instance's names.
//!
//! Replay protection: a signed request is accepted only if its "time signed" lies within
//! `window` seconds of the server clock (the smaller of the server window and the message's own
//! fudge) and its MAC has not been seen before. Seen MACs are remembered for twice the window, so
//! a replay is caught either by the cache (inside the window) or by the clock (outside it).
//!
//! Responses ([`ResponseSigner`]): a valid request gets a response signed with the same key
//! (request MAC, response, TSIG variables, RFC 8945 §5.3). A request whose MAC verified but
//! whose time is off (or which is a replay) gets a signed BADTIME error whose Time Signed is the
//! request's and whose Other Data is the server's current time (48 bits, RFC 8945 §4.2 and
//! §5.2.3, as BIND does): the client can verify it and learn the server's clock. A bad MAC or an
//! unknown key gets an unsigned error (BADSIG, BADKEY; RFC 8945 §5.3.2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::{
    make_tsig_record, signed_bitmessage_to_buf, TsigAlgorithm, TsigError, TSIG,
};
use hickory_proto::rr::{Name, Record, TSigner};
use hickory_proto::ProtoError;

use super::error::DnsError;

/// A shared secret with every right on the zone (the project's TSIG key, hmac-sha256).
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

/// How an instance registers its service name; bounds what its key may do there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServicePolicy {
    /// Add and withdraw its own addresses.
    Append,
    /// Also delete the service's address RRset (and its SRV RRset) first: a hot swap.
    Replace,
    /// Nothing on the service name.
    Hide,
}

/// What a key may change in the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every name (the project key).
    Zone,
    /// One instance's names: `<service>-<instance>.<zone>`, `<service>.<zone>` as its policy
    /// allows, and `_<port>._tcp.<service>.<zone>` SRV records pointing at its instance name.
    Instance {
        service: String,
        instance: String,
        policy: ServicePolicy,
    },
}

/// A key the server accepts: its secret and what it may change.
#[derive(Clone)]
pub struct Credential {
    pub secret: Vec<u8>,
    pub scope: Scope,
}

type Lookup = dyn Fn(&str) -> Option<Credential> + Send + Sync;

/// The keys the server accepts: key name (lowercase, no trailing dot) → credential.
#[derive(Clone)]
pub struct Credentials(Arc<Lookup>);

impl Credentials {
    pub fn new(lookup: impl Fn(&str) -> Option<Credential> + Send + Sync + 'static) -> Self {
        Credentials(Arc::new(lookup))
    }

    /// Only `key`, with every right.
    pub fn single(key: SharedKey) -> Self {
        let name = key.name.trim_end_matches('.').to_ascii_lowercase();
        Credentials::new(move |n| {
            (n == name).then(|| Credential {
                secret: key.secret.clone(),
                scope: Scope::Zone,
            })
        })
    }

    pub fn lookup(&self, key_name: &str) -> Option<Credential> {
        (self.0)(key_name)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<lookup>)")
    }
}

impl From<SharedKey> for Credentials {
    fn from(k: SharedKey) -> Credentials {
        Credentials::single(k)
    }
}

/// Largest clock difference (seconds) a signer announces (TSIG "fudge").
const FUDGE: u16 = 300;

fn signer(secret: &[u8], name: &Name) -> Result<TSigner, DnsError> {
    TSigner::new(
        secret.to_vec(),
        TsigAlgorithm::HmacSha256,
        name.clone(),
        FUDGE,
    )
    .map_err(|e| DnsError::BadKey { why: e.to_string() })
}

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

/// How to add the TSIG record to a response.
#[derive(Clone)]
pub struct ResponseSigner {
    /// The request's id (the TSIG "original id").
    request_id: u16,
    kind: SignKind,
}

#[derive(Clone)]
enum SignKind {
    /// A MAC over the request MAC, the response and the TSIG variables.
    Signed {
        signer: TSigner,
        request_mac: Vec<u8>,
        time: u64,
        error: Option<TsigError>,
        other: Vec<u8>,
    },
    /// An empty MAC (BADSIG, BADKEY).
    Unsigned {
        key_name: Name,
        time: u64,
        error: TsigError,
    },
}

impl ResponseSigner {
    /// The TSIG error the response carries, if any.
    pub fn error(&self) -> Option<TsigError> {
        match &self.kind {
            SignKind::Signed { error, .. } => *error,
            SignKind::Unsigned { error, .. } => Some(*error),
        }
    }

    /// The TSIG record for `response`, the response exactly as sent, without its TSIG record
    /// (its id is the request's).
    pub fn record(&self, response: &[u8]) -> Result<Record<TSIG>, ProtoError> {
        match &self.kind {
            SignKind::Signed {
                signer,
                request_mac,
                time,
                error,
                other,
            } => {
                let stub = TSIG::new(
                    TsigAlgorithm::HmacSha256,
                    *time,
                    FUDGE,
                    Vec::new(),
                    self.request_id,
                    *error,
                    other.clone(),
                );
                let tbs = signer.encode_response_tbs(request_mac, response, &stub)?;
                let mac = signer
                    .sign(&tbs)
                    .map_err(|e| ProtoError::from(e.to_string()))?;
                Ok(make_tsig_record(
                    signer.signer_name().clone(),
                    stub.set_mac(mac),
                ))
            }
            SignKind::Unsigned {
                key_name,
                time,
                error,
            } => Ok(make_tsig_record(
                key_name.clone(),
                TSIG::new(
                    TsigAlgorithm::HmacSha256,
                    *time,
                    FUDGE,
                    Vec::new(),
                    self.request_id,
                    Some(*error),
                    Vec::new(),
                ),
            )),
        }
    }
}

/// The outcome of checking a request's TSIG record.
pub enum Verdict {
    /// No TSIG record at all.
    Unsigned,
    /// Valid, fresh, first use: sign the response with this; the key may change `Scope`.
    Valid(ResponseSigner, Scope),
    /// Refused: answer NOTAUTH with this TSIG (signed for BADTIME, unsigned otherwise).
    Rejected(Rejection, ResponseSigner),
}

impl Verdict {
    /// The response code for a rejected request.
    pub fn rcode() -> ResponseCode {
        ResponseCode::NotAuth
    }
}

/// Verifies signed requests against the credentials and remembers MACs already used.
pub struct TsigGuard {
    credentials: Credentials,
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
    pub fn new(credentials: impl Into<Credentials>, window_s: u64) -> TsigGuard {
        TsigGuard {
            credentials: credentials.into(),
            window: window_s.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Check the TSIG of a raw request (`raw` is the whole message as received) at `now` (epoch
    /// seconds).
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
        let unknown = || {
            Verdict::Rejected(
                Rejection::UnknownKey,
                ResponseSigner {
                    request_id,
                    kind: SignKind::Unsigned {
                        key_name: sig.name.clone(),
                        time: now,
                        error: TsigError::BadKey,
                    },
                },
            )
        };
        if sig.data.algorithm != TsigAlgorithm::HmacSha256 {
            return unknown();
        }
        let key_name = sig
            .name
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let Some(credential) = self.credentials.lookup(&key_name) else {
            return unknown();
        };
        let Ok(signer) = signer(&credential.secret, &sig.name) else {
            return unknown();
        };
        let bad_sig = || {
            Verdict::Rejected(
                Rejection::BadSignature,
                ResponseSigner {
                    request_id,
                    kind: SignKind::Unsigned {
                        key_name: sig.name.clone(),
                        time: now,
                        error: TsigError::BadSig,
                    },
                },
            )
        };
        let Ok((tbv, record)) = signed_bitmessage_to_buf(raw, None, true) else {
            return bad_sig();
        };
        // Full-length MACs only (no truncation), constant-time compare.
        if record.data.mac.len() != 32 || signer.verify(&tbv, &record.data.mac).is_err() {
            return bad_sig();
        }
        let mac = record.data.mac.clone();
        let signed_at = record.data.time;
        // A stale or replayed request: a signed BADTIME error, Time Signed the request's, the
        // server's time in Other Data.
        let badtime = |why: Rejection, mac: Vec<u8>| {
            Verdict::Rejected(
                why,
                ResponseSigner {
                    request_id,
                    kind: SignKind::Signed {
                        signer: signer.clone(),
                        request_mac: mac,
                        time: signed_at,
                        error: Some(TsigError::BadTime),
                        other: now.to_be_bytes()[2..].to_vec(),
                    },
                },
            )
        };
        let window = self.window.min(u64::from(record.data.fudge));
        if signed_at.abs_diff(now) > window {
            return badtime(Rejection::BadTime, mac);
        }
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            // Forget MACs past their window, at most once a second.
            if seen.last_prune != now {
                seen.last_prune = now;
                seen.macs.retain(|_, until| *until >= now);
            }
            if seen.macs.contains_key(&mac) {
                return badtime(Rejection::Replayed, mac);
            }
            seen.macs.insert(mac.clone(), now + 2 * self.window + 1);
        }
        Verdict::Valid(
            ResponseSigner {
                request_id,
                kind: SignKind::Signed {
                    signer,
                    request_mac: mac,
                    time: now,
                    error: None,
                    other: Vec::new(),
                },
            },
            credential.scope,
        )
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
        let name = Name::from_ascii(&key.name).unwrap();
        m.finalize(&signer(&key.secret, &name).unwrap(), time)
            .unwrap();
        let bytes = m.to_vec().unwrap();
        (bytes.clone(), Message::from_vec(&bytes).unwrap())
    }

    fn verdict(g: &TsigGuard, raw: &[u8], m: &Message, now: u64) -> Option<Rejection> {
        match g.check(raw, m.signature(), 7, now) {
            Verdict::Unsigned => panic!("signed"),
            Verdict::Valid(..) => None,
            Verdict::Rejected(r, _) => Some(r),
        }
    }

    #[test]
    fn window_replay_and_forgetting() {
        let key = random_key("dops-key");
        let g = TsigGuard::new(key.clone(), 60);
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

    #[test]
    fn badtime_carries_the_request_time_and_the_server_clock() {
        let key = random_key("dops-key");
        let g = TsigGuard::new(key.clone(), 300);
        let t = 1_700_000_000;
        let (raw, m) = signed(&key, t);
        let now = t + 3600;
        let Verdict::Rejected(Rejection::BadTime, s) = g.check(&raw, m.signature(), 7, now) else {
            panic!("badtime expected");
        };
        let rec = s.record(b"response bytes").unwrap();
        assert_eq!(rec.data.error, Some(TsigError::BadTime));
        assert_eq!(rec.data.time, t, "time signed is the request's");
        assert_eq!(rec.data.other, now.to_be_bytes()[2..].to_vec());
        assert_eq!(rec.data.mac.len(), 32, "signed");
    }

    #[test]
    fn scopes_come_from_the_credentials() {
        let project = random_key("dops-key");
        let inst = random_key("web.one.append.dops-key");
        let (p, i) = (project.clone(), inst.clone());
        let creds = Credentials::new(move |n| {
            if n == p.name {
                Some(Credential {
                    secret: p.secret.clone(),
                    scope: Scope::Zone,
                })
            } else if n == i.name {
                Some(Credential {
                    secret: i.secret.clone(),
                    scope: Scope::Instance {
                        service: "web".into(),
                        instance: "one".into(),
                        policy: ServicePolicy::Append,
                    },
                })
            } else {
                None
            }
        });
        let g = TsigGuard::new(creds, 300);
        let t = 1_700_000_000;
        let (raw, m) = signed(&inst, t);
        match g.check(&raw, m.signature(), 7, t) {
            Verdict::Valid(_, Scope::Instance { service, .. }) => assert_eq!(service, "web"),
            _ => panic!("instance scope expected"),
        }
        let (raw, m) = signed(&project, t);
        assert!(matches!(
            g.check(&raw, m.signature(), 7, t),
            Verdict::Valid(_, Scope::Zone)
        ));
    }
}

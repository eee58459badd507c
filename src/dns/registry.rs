//! The records the server holds: every record lives for a lease unless refreshed.
//!
//! Semantics of RFC 2136 UPDATE messages on this registry (documented in services/dops-dns/README.md):
//! - **add** (class IN): add the record, or refresh its lease if it is already there. The TTL in
//!   the update is ignored: answers carry the server's TTL, the record lives for the server lease.
//! - **delete RRset** (class ANY, type T), **delete name** (class ANY, type ANY), **delete RR**
//!   (class NONE): as in RFC 2136.
//! - **APPEND** (the default policy) is a plain add: the address joins the service's set.
//! - **REPLACE** is "delete RRset + add" of the same name and type in *one* UPDATE. Besides the
//!   standard effect, the name is *pinned* to the records that message added: while one of them is
//!   alive, adds of other records to that name are kept (with their leases) but not answered. So a
//!   hot-swapped instance wins even though the old instances keep refreshing; when the replacing
//!   instance withdraws or its lease runs out, the others are answered again at once.
//! - **HIDE** sends nothing: the instance resolves names but is never registered.
//!
//! Every function takes `now` so the lease logic is testable without sleeping.
//!
//! Answers of a name with several records rotate: each RRset has a counter, and every answer
//! starts one record further ([`Turn::Next`]). The response cache renders every rotation of an
//! answer once ([`Turn::At`]) and then takes the same counter to pick one, so cached and fresh
//! answers rotate together. Every change that can alter an answer (add, delete, pin, expiry)
//! bumps [`Registry::changes`], which invalidates the cache; so does the earliest lease end
//! ([`Registry::earliest_expiry`]), after which a record may no longer be answered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordData as _, RecordType};

/// Record types the registry stores.
pub const STORABLE: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::TXT,
];

#[derive(Debug)]
struct Entry {
    data: RData,
    expires: Instant,
    since: SystemTime,
}

#[derive(Debug, Default)]
struct RrSet {
    /// The owner name as first written (for display).
    name: Name,
    entries: Vec<Entry>,
    /// REPLACE pin: only these records are answered while one of them is alive.
    pin: Vec<RData>,
    /// Where the next answer starts (shared with the response cache).
    rotation: Arc<AtomicUsize>,
}

impl RrSet {
    fn alive(&self, now: Instant) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.expires > now)
    }

    fn pin_alive(&self, now: Instant) -> bool {
        !self.pin.is_empty() && self.alive(now).any(|e| self.pin.contains(&e.data))
    }

    /// The entries answered now: all alive ones, or only the pinned ones while the pin holds.
    fn visible(&self, now: Instant) -> Vec<&Entry> {
        let pinned = self.pin_alive(now);
        self.alive(now)
            .filter(|e| !pinned || self.pin.contains(&e.data))
            .collect()
    }
}

/// One record as shown by `dops dns:records`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordView {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
    pub instance: String,
    pub lease_left_ms: u64,
    pub registered_at_epoch: u64,
    /// false while a REPLACE pin hides it.
    pub answered: bool,
}

/// Which rotation of the answer to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// The next one: each RRset's counter moves on (a fresh answer).
    Next,
    /// Start every RRset at this index (modulo its size), counters untouched (the cache renders
    /// every rotation of an answer this way).
    At(usize),
}

/// The RRsets of more than one record an answer used: their counters and sizes.
#[derive(Debug, Default)]
pub struct Rotations {
    pub sets: Vec<(Arc<AtomicUsize>, usize)>,
}

impl Rotations {
    fn note(&mut self, counter: &Arc<AtomicUsize>, len: usize) {
        if len > 1 && !self.sets.iter().any(|(c, _)| Arc::ptr_eq(c, counter)) {
            self.sets.push((counter.clone(), len));
        }
    }
}

/// What an UPDATE changed (for logs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UpdateSummary {
    pub added: usize,
    pub refreshed: usize,
    pub deleted: usize,
    pub pinned: Vec<String>,
}

/// The registry of one zone.
#[derive(Debug)]
pub struct Registry {
    zone: LowerName,
    lease: Duration,
    sets: HashMap<(LowerName, RecordType), RrSet>,
    serial: u32,
    /// Bumped on every change that can alter an answer (read without the lock by the cache).
    changes: Arc<AtomicU64>,
}

impl Registry {
    pub fn new(zone: &Name, lease: Duration) -> Registry {
        Registry {
            zone: LowerName::new(zone),
            lease,
            sets: HashMap::new(),
            serial: 1,
            changes: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The change counter: differs from a remembered value once any answer may have changed.
    pub fn changes(&self) -> Arc<AtomicU64> {
        self.changes.clone()
    }

    /// The earliest lease end of any record held: until then (and without a change) every answer
    /// stays the same. None when the registry is empty.
    pub fn earliest_expiry(&self) -> Option<Instant> {
        self.sets
            .values()
            .flat_map(|s| s.entries.iter().map(|e| e.expires))
            .min()
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// SOA serial: bumped on every change.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    fn bump(&mut self) {
        self.serial = self.serial.wrapping_add(1).max(1);
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// Apply an UPDATE's prerequisite and update sections, all or nothing.
    pub fn apply_update(
        &mut self,
        prereqs: &[Record],
        updates: &[Record],
        now: Instant,
    ) -> Result<UpdateSummary, ResponseCode> {
        self.check_prereqs(prereqs, now)?;
        self.prescan(updates)?;
        let mut summary = UpdateSummary::default();
        // (name,type) whose RRset this message deleted: adds to them afterwards form a REPLACE pin.
        let mut deleted_sets: Vec<(LowerName, RecordType)> = Vec::new();
        let mut new_pins: HashMap<(LowerName, RecordType), Vec<RData>> = HashMap::new();
        for rr in updates {
            let name = LowerName::new(&rr.name);
            let rtype = rr.record_type();
            if name == self.zone && matches!(rtype, RecordType::SOA | RecordType::NS) {
                continue; // RFC 2136 3.4.2.3/4: apex SOA/NS are not ours to change
            }
            match rr.dns_class {
                DNSClass::IN => {
                    let key = (name.clone(), rtype);
                    let set = self.sets.entry(key.clone()).or_insert_with(|| RrSet {
                        name: rr.name.to_lowercase(),
                        ..RrSet::default()
                    });
                    let expires = now + self.lease;
                    match set.entries.iter_mut().find(|e| e.data == rr.data) {
                        Some(e) if e.expires > now => {
                            e.expires = expires;
                            summary.refreshed += 1;
                        }
                        Some(e) => {
                            e.expires = expires;
                            e.since = SystemTime::now();
                            summary.added += 1;
                        }
                        None => {
                            set.entries.push(Entry {
                                data: rr.data.clone(),
                                expires,
                                since: SystemTime::now(),
                            });
                            summary.added += 1;
                        }
                    }
                    if deleted_sets.contains(&key) {
                        new_pins.entry(key).or_default().push(rr.data.clone());
                    }
                }
                DNSClass::ANY if rtype == RecordType::ANY => {
                    let keys: Vec<_> = self
                        .sets
                        .keys()
                        .filter(|(n, t)| {
                            *n == name
                                && !(name == self.zone
                                    && matches!(t, RecordType::SOA | RecordType::NS))
                        })
                        .cloned()
                        .collect();
                    for k in keys {
                        if let Some(set) = self.sets.remove(&k) {
                            summary.deleted += set.entries.len();
                        }
                        new_pins.remove(&k);
                        deleted_sets.push(k);
                    }
                }
                DNSClass::ANY => {
                    let key = (name, rtype);
                    if let Some(set) = self.sets.remove(&key) {
                        summary.deleted += set.entries.len();
                    }
                    new_pins.remove(&key);
                    deleted_sets.push(key);
                }
                DNSClass::NONE => {
                    let key = (name, rtype);
                    if let Some(set) = self.sets.get_mut(&key) {
                        let before = set.entries.len();
                        set.entries.retain(|e| e.data != rr.data);
                        set.pin.retain(|d| *d != rr.data);
                        summary.deleted += before - set.entries.len();
                        if set.entries.is_empty() {
                            self.sets.remove(&key);
                        }
                    }
                    if let Some(p) = new_pins.get_mut(&key) {
                        p.retain(|d| *d != rr.data);
                    }
                }
                _ => return Err(ResponseCode::FormErr),
            }
        }
        for (key, pin) in new_pins {
            if pin.is_empty() {
                continue;
            }
            if let Some(set) = self.sets.get_mut(&key) {
                summary.pinned.push(set.name.to_ascii());
                set.pin = pin;
            }
        }
        if summary.added + summary.deleted > 0 || !summary.pinned.is_empty() {
            self.bump();
        }
        Ok(summary)
    }

    /// RFC 2136 3.4.1.3: reject malformed update records before touching anything.
    fn prescan(&self, updates: &[Record]) -> Result<(), ResponseCode> {
        for rr in updates {
            let name = LowerName::new(&rr.name);
            if !self.zone.zone_of(&name) {
                return Err(ResponseCode::NotZone);
            }
            let rtype = rr.record_type();
            match rr.dns_class {
                DNSClass::IN => {
                    if rr.data.is_update() {
                        return Err(ResponseCode::FormErr);
                    }
                    let apex_meta =
                        name == self.zone && matches!(rtype, RecordType::SOA | RecordType::NS);
                    if !(STORABLE.contains(&rtype) || apex_meta) {
                        return Err(ResponseCode::Refused);
                    }
                }
                DNSClass::ANY => {
                    if rr.ttl != 0 || !rr.data.is_update() {
                        return Err(ResponseCode::FormErr);
                    }
                }
                DNSClass::NONE => {
                    if rr.ttl != 0 || rr.data.is_update() || rtype == RecordType::ANY {
                        return Err(ResponseCode::FormErr);
                    }
                }
                _ => return Err(ResponseCode::FormErr),
            }
        }
        Ok(())
    }

    /// RFC 2136 3.2: prerequisites.
    fn check_prereqs(&self, prereqs: &[Record], now: Instant) -> Result<(), ResponseCode> {
        let mut value_dependent: HashMap<(LowerName, RecordType), Vec<&RData>> = HashMap::new();
        for rr in prereqs {
            let name = LowerName::new(&rr.name);
            if rr.ttl != 0 {
                return Err(ResponseCode::FormErr);
            }
            if !self.zone.zone_of(&name) {
                return Err(ResponseCode::NotZone);
            }
            let rtype = rr.record_type();
            match rr.dns_class {
                DNSClass::ANY => {
                    if !rr.data.is_update() {
                        return Err(ResponseCode::FormErr);
                    }
                    if rtype == RecordType::ANY {
                        if !self.name_in_use(&name, now) {
                            return Err(ResponseCode::NXDomain);
                        }
                    } else if !self.rrset_exists(&name, rtype, now) {
                        return Err(ResponseCode::NXRRSet);
                    }
                }
                DNSClass::NONE => {
                    if !rr.data.is_update() {
                        return Err(ResponseCode::FormErr);
                    }
                    if rtype == RecordType::ANY {
                        if self.name_in_use(&name, now) {
                            return Err(ResponseCode::YXDomain);
                        }
                    } else if self.rrset_exists(&name, rtype, now) {
                        return Err(ResponseCode::YXRRSet);
                    }
                }
                DNSClass::IN => {
                    if rr.data.is_update() {
                        return Err(ResponseCode::FormErr);
                    }
                    value_dependent
                        .entry((name, rtype))
                        .or_default()
                        .push(&rr.data);
                }
                _ => return Err(ResponseCode::FormErr),
            }
        }
        for ((name, rtype), wanted) in value_dependent {
            let have: Vec<&RData> = self
                .sets
                .get(&(name, rtype))
                .map(|s| s.visible(now).into_iter().map(|e| &e.data).collect())
                .unwrap_or_default();
            let same = have.len() == wanted.len()
                && wanted.iter().all(|w| have.contains(w))
                && have.iter().all(|h| wanted.contains(h));
            if !same {
                return Err(ResponseCode::NXRRSet);
            }
        }
        Ok(())
    }

    fn rrset_exists(&self, name: &LowerName, rtype: RecordType, now: Instant) -> bool {
        self.sets
            .get(&(name.clone(), rtype))
            .is_some_and(|s| s.alive(now).next().is_some())
    }

    /// Does any alive record live at `name`?
    pub fn name_in_use(&self, name: &LowerName, now: Instant) -> bool {
        self.sets
            .iter()
            .any(|((n, _), s)| n == name && s.alive(now).next().is_some())
    }

    /// Does `name` exist (own records, or records below it: an empty non-terminal)?
    pub fn name_exists(&self, name: &LowerName, now: Instant) -> bool {
        self.sets
            .iter()
            .any(|((n, _), s)| name.zone_of(n) && s.alive(now).next().is_some())
    }

    /// The answer records for `name`/`rtype` (ANY: every type), rotated on every call.
    pub fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        ttl: u32,
        now: Instant,
    ) -> Vec<Record> {
        self.lookup_turn(name, rtype, ttl, now, Turn::Next, &mut Rotations::default())
    }

    /// The answer records for `name`/`rtype` (ANY: every type), in the rotation `turn` says;
    /// every RRset of more than one record used is noted in `rotations`.
    pub fn lookup_turn(
        &self,
        name: &LowerName,
        rtype: RecordType,
        ttl: u32,
        now: Instant,
        turn: Turn,
        rotations: &mut Rotations,
    ) -> Vec<Record> {
        let mut out = Vec::new();
        let types: &[RecordType] = if rtype == RecordType::ANY {
            STORABLE
        } else {
            std::slice::from_ref(&rtype)
        };
        let mut key = (name.clone(), RecordType::A);
        for t in types {
            key.1 = *t;
            let Some(set) = self.sets.get(&key) else {
                continue;
            };
            let visible = set.visible(now);
            if visible.is_empty() {
                continue;
            }
            rotations.note(&set.rotation, visible.len());
            let start = match turn {
                Turn::Next => set.rotation.fetch_add(1, Ordering::Relaxed),
                Turn::At(i) => i,
            } % visible.len();
            let owner: Name = name.into();
            for i in 0..visible.len() {
                let e = visible[(start + i) % visible.len()];
                out.push(Record::from_rdata(owner.clone(), ttl, e.data.clone()));
            }
        }
        out
    }

    /// The most specific name holding `ip`: the one whose first label is longest (the instance
    /// name `<service>-<instance>` wins over the service name).
    pub fn name_of_address(&self, ip: IpAddr, now: Instant) -> Option<Name> {
        let want = match ip {
            IpAddr::V4(v4) => RData::A(v4.into()),
            IpAddr::V6(v6) => RData::AAAA(v6.into()),
        };
        let rtype = want.record_type();
        self.sets
            .iter()
            .filter(|((_, t), s)| *t == rtype && s.alive(now).any(|e| e.data == want))
            .map(|(_, s)| &s.name)
            .max_by(|a, b| {
                first_label_len(a)
                    .cmp(&first_label_len(b))
                    .then_with(|| b.to_ascii().cmp(&a.to_ascii()))
            })
            .cloned()
    }

    /// Remove expired records and dead pins; returns what expired (name, value).
    pub fn expire(&mut self, now: Instant) -> Vec<(String, String)> {
        let mut gone = Vec::new();
        for set in self.sets.values_mut() {
            let name = set.name.to_ascii();
            set.entries.retain(|e| {
                if e.expires > now {
                    true
                } else {
                    gone.push((name.clone(), e.data.to_string()));
                    false
                }
            });
            if !set.pin_alive(now) {
                set.pin.clear();
            }
        }
        self.sets.retain(|_, s| !s.entries.is_empty());
        if !gone.is_empty() {
            self.bump();
        }
        gone
    }

    /// Every record answered now (pinned-away ones left out), sorted by name, type and value:
    /// the body of a zone transfer.
    pub fn answered(&self, ttl: u32, now: Instant) -> Vec<Record> {
        let mut out: Vec<Record> = self
            .sets
            .values()
            .flat_map(|set| {
                set.visible(now)
                    .into_iter()
                    .map(|e| Record::from_rdata(set.name.clone(), ttl, e.data.clone()))
            })
            .collect();
        out.sort_by_cached_key(|r| {
            (
                r.name.to_ascii(),
                u16::from(r.record_type()),
                r.data.to_string(),
            )
        });
        out
    }

    /// Everything held, for `dops dns:records`.
    pub fn snapshot(&self, now: Instant) -> Vec<RecordView> {
        let mut out = Vec::new();
        for ((_, rtype), set) in &self.sets {
            let visible: Vec<&RData> = set.visible(now).into_iter().map(|e| &e.data).collect();
            for e in set.alive(now) {
                let instance = match &e.data {
                    RData::A(a) => self.name_of_address(IpAddr::V4(a.0), now),
                    RData::AAAA(a) => self.name_of_address(IpAddr::V6(a.0), now),
                    RData::SRV(srv) => Some(srv.target.clone()),
                    _ => Some(set.name.clone()),
                }
                .map(|n| instance_label(&n))
                .unwrap_or_default();
                out.push(RecordView {
                    name: set.name.to_ascii(),
                    rtype: rtype.to_string(),
                    value: e.data.to_string(),
                    instance,
                    lease_left_ms: e.expires.saturating_duration_since(now).as_millis() as u64,
                    registered_at_epoch: e
                        .since
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                    answered: visible.contains(&&e.data),
                });
            }
        }
        out.sort_by(|a, b| (&a.name, &a.rtype, &a.value).cmp(&(&b.name, &b.rtype, &b.value)));
        out
    }

    /// Number of alive records.
    pub fn len(&self, now: Instant) -> usize {
        self.sets.values().map(|s| s.alive(now).count()).sum()
    }

    pub fn is_empty(&self, now: Instant) -> bool {
        self.len(now) == 0
    }
}

fn first_label_len(n: &Name) -> usize {
    n.iter().next().map(|l| l.len()).unwrap_or(0)
}

fn instance_label(n: &Name) -> String {
    n.iter()
        .next()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, SRV};
    use std::net::Ipv4Addr;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }
    fn ln(s: &str) -> LowerName {
        LowerName::new(&n(s))
    }
    fn add(name: &str, ip: [u8; 4]) -> Record {
        Record::from_rdata(n(name), 2, RData::A(A(Ipv4Addr::from(ip))))
    }
    fn del_set(name: &str, t: RecordType) -> Record {
        let mut r = Record::update0(n(name), 0, t);
        r.dns_class = DNSClass::ANY;
        r
    }
    fn del_rr(name: &str, ip: [u8; 4]) -> Record {
        let mut r = add(name, ip);
        r.dns_class = DNSClass::NONE;
        r.ttl = 0;
        r
    }
    fn addrs(reg: &Registry, name: &str, now: Instant) -> Vec<String> {
        let mut v: Vec<String> = reg
            .lookup(&ln(name), RecordType::A, 2, now)
            .iter()
            .map(|r| r.data.to_string())
            .collect();
        v.sort();
        v
    }
    fn reg() -> Registry {
        Registry::new(&n("local.zone."), Duration::from_secs(6))
    }

    /// A registry where web.local.zone. has 10.0.0.1 and 10.0.0.2, each added by its own
    /// update at `t`.
    fn reg_with_web_1_and_2(t: Instant) -> Registry {
        let mut r = reg();
        r.apply_update(&[], &[add("web.local.zone.", [10, 0, 0, 1])], t)
            .unwrap();
        r.apply_update(&[], &[add("web.local.zone.", [10, 0, 0, 2])], t)
            .unwrap();
        r
    }

    #[test]
    fn append_collects_and_rotates() {
        let mut r = reg();
        let t = Instant::now();
        for i in 1..=3 {
            r.apply_update(&[], &[add("web.local.zone.", [10, 0, 0, i])], t)
                .unwrap();
        }
        assert_eq!(
            addrs(&r, "web.local.zone.", t),
            ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        );
        let firsts: Vec<String> = (0..3)
            .map(|_| {
                r.lookup(&ln("web.local.zone."), RecordType::A, 2, t)[0]
                    .data
                    .to_string()
            })
            .collect();
        let mut uniq = firsts.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(
            uniq.len(),
            3,
            "each answer starts with another address: {firsts:?}"
        );
    }

    #[test]
    fn leases_expire_and_refresh() {
        let t = Instant::now();
        let mut r = reg_with_web_1_and_2(t);
        // refresh .1 at +4 s; .2 is not refreshed
        let s = r
            .apply_update(
                &[],
                &[add("web.local.zone.", [10, 0, 0, 1])],
                t + Duration::from_secs(4),
            )
            .unwrap();
        assert_eq!(s.refreshed, 1);
        let later = t + Duration::from_secs(7);
        assert_eq!(addrs(&r, "web.local.zone.", later), ["10.0.0.1"]);
        let gone = r.expire(later);
        assert_eq!(
            gone,
            vec![("web.local.zone.".to_string(), "10.0.0.2".to_string())]
        );
        assert!(r.expire(t + Duration::from_secs(11)).len() == 1);
        assert!(r.is_empty(t + Duration::from_secs(11)));
    }

    #[test]
    fn replace_pins_until_holder_withdraws_or_expires() {
        let t = Instant::now();
        let mut r = reg_with_web_1_and_2(t);
        let s = r
            .apply_update(
                &[],
                &[
                    del_set("web.local.zone.", RecordType::A),
                    add("web.local.zone.", [10, 0, 0, 9]),
                ],
                t,
            )
            .unwrap();
        assert_eq!(s.pinned, vec!["web.local.zone.".to_string()]);
        assert_eq!(addrs(&r, "web.local.zone.", t), ["10.0.0.9"]);
        // old instances keep refreshing (APPEND): held back while the pin holds
        let t1 = t + Duration::from_secs(2);
        r.apply_update(&[], &[add("web.local.zone.", [10, 0, 0, 1])], t1)
            .unwrap();
        r.apply_update(&[], &[add("web.local.zone.", [10, 0, 0, 9])], t1)
            .unwrap();
        assert_eq!(addrs(&r, "web.local.zone.", t1), ["10.0.0.9"]);
        // the replacing instance withdraws: the others come back at once
        r.apply_update(&[], &[del_rr("web.local.zone.", [10, 0, 0, 9])], t1)
            .unwrap();
        assert_eq!(addrs(&r, "web.local.zone.", t1), ["10.0.0.1"]);
        // pin again, then let the holder's lease run out
        r.apply_update(
            &[],
            &[
                del_set("web.local.zone.", RecordType::A),
                add("web.local.zone.", [10, 0, 0, 9]),
            ],
            t1,
        )
        .unwrap();
        let t2 = t1 + Duration::from_secs(4);
        r.apply_update(&[], &[add("web.local.zone.", [10, 0, 0, 1])], t2)
            .unwrap();
        assert_eq!(addrs(&r, "web.local.zone.", t2), ["10.0.0.9"]);
        let t3 = t1 + Duration::from_secs(7);
        assert_eq!(addrs(&r, "web.local.zone.", t3), ["10.0.0.1"]);
    }

    #[test]
    fn prescan_and_prereqs() {
        let mut r = reg();
        let t = Instant::now();
        assert_eq!(
            r.apply_update(&[], &[add("web.other.zone.", [1, 1, 1, 1])], t),
            Err(ResponseCode::NotZone)
        );
        let mut bad = del_set("web.local.zone.", RecordType::A);
        bad.ttl = 5;
        assert_eq!(r.apply_update(&[], &[bad], t), Err(ResponseCode::FormErr));
        let mx = Record::from_rdata(
            n("web.local.zone."),
            2,
            RData::MX(hickory_proto::rr::rdata::MX::new(1, n("x.local.zone."))),
        );
        assert_eq!(r.apply_update(&[], &[mx], t), Err(ResponseCode::Refused));
        // nothing applied by failed messages
        assert!(r.is_empty(t));
        // prereq: name not in use (NONE/ANY) then add
        let mut nx = Record::update0(n("db.local.zone."), 0, RecordType::ANY);
        nx.dns_class = DNSClass::NONE;
        r.apply_update(&[nx.clone()], &[add("db.local.zone.", [10, 0, 0, 5])], t)
            .unwrap();
        assert_eq!(
            r.apply_update(&[nx], &[add("db.local.zone.", [10, 0, 0, 6])], t),
            Err(ResponseCode::YXDomain)
        );
        let exact = add("db.local.zone.", [10, 0, 0, 5]);
        let mut exact0 = exact.clone();
        exact0.ttl = 0;
        r.apply_update(&[exact0], &[], t).unwrap();
    }

    #[test]
    fn ptr_prefers_instance_name_and_snapshot_names_it() {
        let mut r = reg();
        let t = Instant::now();
        let srv = Record::from_rdata(
            n("_80._tcp.web.local.zone."),
            2,
            RData::SRV(SRV::new(0, 0, 80, n("web-one.local.zone."))),
        );
        r.apply_update(
            &[],
            &[
                add("web.local.zone.", [10, 0, 0, 1]),
                add("web-one.local.zone.", [10, 0, 0, 1]),
                srv,
            ],
            t,
        )
        .unwrap();
        assert_eq!(
            r.name_of_address("10.0.0.1".parse().unwrap(), t),
            Some(n("web-one.local.zone."))
        );
        let snap = r.snapshot(t);
        assert_eq!(snap.len(), 3);
        assert!(snap.iter().all(|v| v.instance == "web-one"), "{snap:?}");
        assert!(r.name_exists(&ln("_tcp.web.local.zone."), t));
        assert!(!r.name_exists(&ln("nope.local.zone."), t));
    }
}

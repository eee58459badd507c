//! The request handler: authoritative answers for the zone, PTR for registered addresses,
//! forwarding for everything else, TSIG-signed RFC 2136 UPDATEs limited to each key's scope, and
//! zone transfers for the project key.
//!
//! One request becomes a [`Reply`] (header, sections, how to sign), then bytes ([`wire::encode`]).
//! UDP ([`DnsHandler::udp`]) answers what memory knows at once and hands the answer, with every
//! rotation of it, to the response cache; a name outside the zone becomes a [`Pending`] that a
//! task of its own forwards ([`DnsHandler::finish`]). TCP goes through hickory's `Server` and the
//! `RequestHandler` implementation below.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{
    Edns, Header, HeaderCounts, LowerQuery, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::cache::CacheFill;
use super::error::DnsError;
use super::forward::Forwarder;
use super::log::DnsLog;
use super::registry::{Registry, Rotations, Turn};
use super::scope::{self, ZoneNames};
use super::tsig::{ResponseSigner, Scope, TsigGuard, Verdict};
use super::wire::{self, Reply};

/// A query for a name outside the zone, waiting for the upstream resolver.
pub struct Pending {
    query: hickory_proto::op::Query,
    recursion_desired: bool,
    base: Reply,
}

/// What [`DnsHandler::udp`] made of a datagram.
pub enum Udp {
    /// Send this; with a fill, the cache may answer the same request from now on.
    Send(Vec<u8>, Option<CacheFill>),
    /// Forward, then answer ([`DnsHandler::finish`]).
    Upstream(Box<Pending>),
}

enum Step {
    Reply(Reply),
    Upstream(Pending),
}

/// Largest number of rotations of one answer the cache keeps.
const MAX_VARIANTS: usize = 64;

/// Handles every request the server receives.
pub struct DnsHandler {
    names: ZoneNames,
    zone: LowerName,
    ttl: u32,
    registry: Arc<RwLock<Registry>>,
    changes: Arc<AtomicU64>,
    tsig: TsigGuard,
    forwarder: Forwarder,
    self_ip: Option<IpAddr>,
    log: DnsLog,
}

impl DnsHandler {
    pub fn new(
        zone: &Name,
        ttl: u32,
        registry: Arc<RwLock<Registry>>,
        tsig: TsigGuard,
        forwarder: Forwarder,
        self_ip: Option<IpAddr>,
        log: DnsLog,
    ) -> Result<DnsHandler, DnsError> {
        let changes = registry
            .read()
            .map(|r| r.changes())
            .map_err(|_| DnsError::Runtime("registry lock poisoned".into()))?;
        Ok(DnsHandler {
            names: ZoneNames::new(zone)?,
            zone: LowerName::new(zone),
            ttl,
            registry,
            changes,
            tsig,
            forwarder,
            self_ip,
            log,
        })
    }

    pub fn registry(&self) -> &Arc<RwLock<Registry>> {
        &self.registry
    }

    /// The registry's change counter (the response cache compares it).
    pub fn changes(&self) -> &Arc<AtomicU64> {
        &self.changes
    }

    /// Answer a request in full (forwarding when needed): TCP, tests, the fuzz target.
    pub async fn reply(&self, request: &Request) -> Reply {
        match self.start(request) {
            Step::Reply(r) => r,
            Step::Upstream(p) => self.finish(p).await,
        }
    }

    /// Answer a UDP datagram at once, or say it must be forwarded. Unsigned queries answered from
    /// memory come with every rotation of the answer, for the cache.
    pub fn udp(&self, request: &Request, max_size: u16) -> Udp {
        if self.cacheable(request) {
            if let Some(out) = self.udp_cached(request, max_size) {
                return out;
            }
        }
        match self.start(request) {
            Step::Reply(r) => Udp::Send(wire::encode(request, r, max_size), None),
            Step::Upstream(p) => Udp::Upstream(Box::new(p)),
        }
    }

    /// Forward a pending query and build its answer.
    pub async fn finish(&self, p: Pending) -> Reply {
        let Pending {
            query,
            recursion_desired,
            mut base,
        } = p;
        match self.forwarder.forward(&query, recursion_desired).await {
            Ok(answer) => {
                base.meta.response_code = answer.metadata.response_code;
                base.meta.recursion_available = answer.metadata.recursion_available;
                base.meta.truncation = answer.metadata.truncation;
                base.answers = answer.answers;
                base.authorities = answer.authorities;
                base.additionals = answer.additionals;
                base
            }
            Err(DnsError::NoUpstream) => {
                base.meta.response_code = ResponseCode::Refused;
                base
            }
            Err(e) => {
                tracing::debug!(error = %e, name = %query.name(), "forwarding failed");
                base.meta.response_code = ResponseCode::ServFail;
                base
            }
        }
    }

    /// An unsigned, well-formed query for one name the zone or the registry answers.
    fn cacheable(&self, request: &Request) -> bool {
        if request.signature.is_some()
            || request.metadata.message_type != MessageType::Query
            || request.metadata.op_code != OpCode::Query
        {
            return false;
        }
        match request.queries.queries() {
            [q] => {
                !matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR)
                    && (self.zone.zone_of(q.name())
                        || matches!(q.query_type(), RecordType::PTR | RecordType::ANY))
            }
            _ => false,
        }
    }

    /// Every rotation of the answer, one registry view; None when it cannot be cached (it is
    /// forwarded, or several RRsets rotate in it).
    fn udp_cached(&self, request: &Request, max_size: u16) -> Option<Udp> {
        let reg = self.registry.read().ok()?;
        let now = Instant::now();
        let edns = response_edns(request);
        let mut rot = Rotations::default();
        let Step::Reply(first) = self.query(
            &reg,
            request,
            edns.clone(),
            None,
            None,
            Turn::At(0),
            &mut rot,
            now,
        ) else {
            return None;
        };
        let (n, rotation) = match rot.sets.as_slice() {
            [] => (1, None),
            [(counter, n)] if *n <= MAX_VARIANTS => (*n, Some(counter.clone())),
            _ => return None,
        };
        let mut variants = Vec::with_capacity(n);
        variants.push(wire::encode(request, first, max_size).into_boxed_slice());
        for i in 1..n {
            let Step::Reply(r) = self.query(
                &reg,
                request,
                edns.clone(),
                None,
                None,
                Turn::At(i),
                &mut Rotations::default(),
                now,
            ) else {
                return None;
            };
            variants.push(wire::encode(request, r, max_size).into_boxed_slice());
        }
        let pick = rotation
            .as_ref()
            .map(|c| c.fetch_add(1, Ordering::Relaxed) % n)
            .unwrap_or(0);
        let bytes = variants[pick].to_vec();
        let fill = CacheFill {
            variants,
            rotation,
            changes: self.changes.load(Ordering::Acquire),
            valid_until: reg.earliest_expiry(),
        };
        Some(Udp::Send(bytes, Some(fill)))
    }

    /// Checks, TSIG, updates; a query is answered from memory or becomes pending.
    fn start(&self, request: &Request) -> Step {
        let edns = response_edns(request);
        if request.metadata.message_type != MessageType::Query {
            return Step::Reply(error(request, ResponseCode::FormErr, edns, None));
        }
        // The clock is only needed to check a signature.
        let now = if request.signature.is_some() {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        } else {
            0
        };
        let (signer, scope) = match self.tsig.check(
            request.as_slice(),
            request.signature.as_deref(),
            request.metadata.id,
            now,
        ) {
            Verdict::Unsigned => (None, None),
            Verdict::Valid(signer, scope) => (Some(signer), Some(scope)),
            Verdict::Rejected(why, signer) => {
                self.log
                    .refused(request.src(), &format!("{why} (key {})", key_name(request)));
                return Step::Reply(error(request, Verdict::rcode(), edns, Some(signer)));
            }
        };
        match request.metadata.op_code {
            OpCode::Query => match self.registry.read() {
                Ok(reg) => self.query(
                    &reg,
                    request,
                    edns,
                    signer,
                    scope.as_ref(),
                    Turn::Next,
                    &mut Rotations::default(),
                    Instant::now(),
                ),
                Err(_) => Step::Reply(error(request, ResponseCode::ServFail, edns, signer)),
            },
            OpCode::Update => Step::Reply(self.update(request, edns, signer, scope)),
            _ => Step::Reply(error(request, ResponseCode::NotImp, edns, signer)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn query(
        &self,
        reg: &Registry,
        request: &Request,
        edns: Option<Edns>,
        signer: Option<ResponseSigner>,
        scope: Option<&Scope>,
        turn: Turn,
        rot: &mut Rotations,
        now: Instant,
    ) -> Step {
        let queries = request.queries.queries();
        if queries.len() != 1 {
            return Step::Reply(error(request, ResponseCode::FormErr, edns, signer));
        }
        let q = &queries[0];
        if self.zone.zone_of(q.name()) {
            return Step::Reply(
                self.authoritative(reg, request, q, edns, signer, scope, turn, rot, now),
            );
        }
        let mut meta = Metadata::response_from_request(&request.metadata);
        if let Some(ptr) = self.reverse(reg, q, now) {
            meta.authoritative = true;
            meta.recursion_available = true;
            let mut r = Reply::new(meta, edns, signer);
            r.answers.push(ptr);
            return Step::Reply(r);
        }
        Step::Upstream(Pending {
            query: q.original().clone(),
            recursion_desired: request.metadata.recursion_desired,
            base: Reply::new(meta, edns, signer),
        })
    }

    fn soa(&self, reg: &Registry) -> Record {
        Record::from_rdata(
            self.names.apex.clone(),
            self.ttl,
            RData::SOA(SOA::new(
                self.names.ns.clone(),
                self.names.hostmaster.clone(),
                reg.serial(),
                60,
                30,
                3600,
                self.ttl,
            )),
        )
    }

    fn ns(&self) -> Record {
        Record::from_rdata(
            self.names.apex.clone(),
            self.ttl,
            RData::NS(NS(self.names.ns.clone())),
        )
    }

    /// The server's own address records (`ns.<zone>`, `dns.<zone>`), when it knows its address.
    fn self_records(&self, name: &Name, rtype: RecordType) -> Vec<Record> {
        let Some(ip) = self.self_ip else {
            return Vec::new();
        };
        let rdata = match (ip, rtype) {
            (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => RData::A(A(v4)),
            (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => RData::AAAA(AAAA(v6)),
            _ => return Vec::new(),
        };
        vec![Record::from_rdata(name.clone(), self.ttl, rdata)]
    }

    fn is_self_name(&self, name: &LowerName) -> bool {
        self.self_ip.is_some()
            && (*name == LowerName::new(&self.names.ns)
                || *name == LowerName::new(&self.names.dns_alias))
    }

    /// PTR for a registered address (`d.c.b.a.in-addr.arpa.` and the ip6.arpa form).
    fn reverse(&self, reg: &Registry, q: &LowerQuery, now: Instant) -> Option<Record> {
        if !matches!(q.query_type(), RecordType::PTR | RecordType::ANY) {
            return None;
        }
        let name: Name = q.name().into();
        let net = name.parse_arpa_name().ok()?;
        if net.prefix_len() != net.max_prefix_len() {
            return None;
        }
        let target = reg.name_of_address(net.addr(), now)?;
        Some(Record::from_rdata(name, self.ttl, RData::PTR(PTR(target))))
    }

    #[allow(clippy::too_many_arguments)]
    fn authoritative(
        &self,
        reg: &Registry,
        request: &Request,
        q: &LowerQuery,
        edns: Option<Edns>,
        signer: Option<ResponseSigner>,
        scope: Option<&Scope>,
        turn: Turn,
        rot: &mut Rotations,
        now: Instant,
    ) -> Reply {
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = true;
        meta.recursion_available = true;
        if !matches!(q.query_class(), DNSClass::IN | DNSClass::ANY) {
            return error(request, ResponseCode::Refused, edns, signer);
        }
        let rtype = q.query_type();
        if matches!(rtype, RecordType::AXFR | RecordType::IXFR) {
            return self.transfer(reg, request, q, meta, edns, signer, scope, now);
        }
        let name = q.name();
        let mut r = Reply::new(meta, edns, signer);
        let exists;
        if *name == self.zone {
            exists = true;
            if matches!(rtype, RecordType::SOA | RecordType::ANY) {
                r.answers.push(self.soa(reg));
            }
            if matches!(rtype, RecordType::NS | RecordType::ANY) {
                r.answers.push(self.ns());
                r.additionals
                    .extend(self.self_records(&self.names.ns, RecordType::ANY));
            }
        } else {
            r.answers = reg.lookup_turn(name, rtype, self.ttl, now, turn, rot);
            let targets: Vec<LowerName> = r
                .answers
                .iter()
                .filter_map(|a| match &a.data {
                    RData::SRV(s) => Some(LowerName::new(&s.target)),
                    _ => None,
                })
                .collect();
            for target in targets {
                for t in [RecordType::A, RecordType::AAAA] {
                    r.additionals
                        .extend(reg.lookup_turn(&target, t, self.ttl, now, turn, rot));
                }
            }
            exists = !r.answers.is_empty() || reg.name_exists(name, now) || self.is_self_name(name);
            if r.answers.is_empty() && self.is_self_name(name) {
                r.answers = self.self_records(&name.into(), rtype);
            }
        }
        if r.answers.is_empty() {
            r.authorities.push(self.soa(reg));
            if !exists {
                r.meta.response_code = ResponseCode::NXDomain;
            }
        }
        r
    }

    /// AXFR of the zone: what queries are answered now, between two SOAs. Only over TCP and only
    /// for the project key.
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        reg: &Registry,
        request: &Request,
        q: &LowerQuery,
        meta: Metadata,
        edns: Option<Edns>,
        signer: Option<ResponseSigner>,
        scope: Option<&Scope>,
        now: Instant,
    ) -> Reply {
        let why = match (scope, request.protocol()) {
            (_, Protocol::Udp) => Some("zone transfer over udp"),
            (None, _) => Some("unsigned zone transfer"),
            (Some(Scope::Instance { .. }), _) => {
                Some("zone transfer with an instance key (only the project key may)")
            }
            (Some(Scope::Zone), _) if q.query_type() != RecordType::AXFR => {
                Some("incremental zone transfer (only AXFR)")
            }
            _ => None,
        };
        if let Some(why) = why {
            self.log
                .refused(request.src(), &format!("{why} (key {})", key_name(request)));
            return error(request, ResponseCode::Refused, edns, signer);
        }
        let mut r = Reply::new(meta, edns, signer);
        r.answers.push(self.soa(reg));
        r.answers.push(self.ns());
        for n in [&self.names.ns, &self.names.dns_alias] {
            r.answers.extend(self.self_records(n, RecordType::A));
            r.answers.extend(self.self_records(n, RecordType::AAAA));
        }
        r.answers.extend(reg.answered(self.ttl, now));
        r.answers.push(self.soa(reg));
        r
    }

    fn update(
        &self,
        request: &Request,
        edns: Option<Edns>,
        signer: Option<ResponseSigner>,
        scope: Option<Scope>,
    ) -> Reply {
        let (Some(signer), Some(scope)) = (signer, scope) else {
            self.log.refused(
                request.src(),
                "unsigned update (a tsig hmac-sha256 signature with a key of the project is required)",
            );
            return error(request, ResponseCode::Refused, edns, None);
        };
        // Zone section: exactly one SOA question naming our zone.
        let zones = request.queries.queries();
        if zones.len() != 1 || zones[0].query_type() != RecordType::SOA {
            return error(request, ResponseCode::FormErr, edns, Some(signer));
        }
        if *zones[0].name() != self.zone {
            self.log.refused(
                request.src(),
                &format!(
                    "update for zone {} (we serve {})",
                    zones[0].name(),
                    self.zone
                ),
            );
            return error(request, ResponseCode::NotAuth, edns, Some(signer));
        }
        // Only the names the key may change (RFC 2136 §3.3: REFUSED).
        if let Some(why) = scope::refusal(&scope, &self.names, &request.authorities) {
            self.log
                .refused(request.src(), &format!("key {} {why}", key_name(request)));
            return error(request, ResponseCode::Refused, edns, Some(signer));
        }
        // Prerequisites travel in the answer section, updates in the authority section.
        let result = match self.registry.write() {
            Ok(mut reg) => reg.apply_update(&request.answers, &request.authorities, Instant::now()),
            Err(_) => Err(ResponseCode::ServFail),
        };
        let rcode = match result {
            Ok(summary) => {
                self.log
                    .updated(request.src(), &request.authorities, &summary);
                ResponseCode::NoError
            }
            Err(code) => {
                self.log
                    .refused(request.src(), &format!("update failed: {code}"));
                code
            }
        };
        error(request, rcode, edns, Some(signer))
    }
}

/// The TSIG key name of a request, for the log.
fn key_name(request: &Request) -> String {
    request
        .signature
        .as_ref()
        .map(|s| s.name.to_ascii())
        .unwrap_or_default()
}

/// The response's EDNS: advertised when the request had it.
fn response_edns(request: &Request) -> Option<Edns> {
    request.edns.as_ref().map(|req| {
        let mut e = Edns::new();
        e.set_max_payload(req.max_payload().max(512));
        e.set_version(0);
        e
    })
}

/// A reply with no records and this code.
fn error(
    request: &Request,
    code: ResponseCode,
    edns: Option<Edns>,
    signer: Option<ResponseSigner>,
) -> Reply {
    let mut meta = Metadata::response_from_request(&request.metadata);
    meta.response_code = code;
    Reply::new(meta, edns, signer)
}

/// TCP (hickory's `Server`): the whole answer in one message, signed over exactly what is sent.
impl RequestHandler for DnsHandler {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: ResponseHandler + 'async_trait,
        T: Time + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let reply = self.reply(request).await;
            send(request, reply, response_handle).await
        })
    }
}

async fn send<R: ResponseHandler>(request: &Request, reply: Reply, mut rh: R) -> ResponseInfo {
    let Reply {
        meta,
        answers,
        authorities,
        additionals,
        edns,
        signer,
    } = reply;
    let build = || {
        MessageResponseBuilder::new(&request.queries, edns.as_ref()).build(
            meta,
            answers.iter(),
            authorities.iter(),
            std::iter::empty(),
            additionals.iter(),
        )
    };
    let mut response = build();
    if let Some(signer) = signer {
        let mut tbs = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut tbs);
        let signed = build()
            .destructive_emit(&mut encoder)
            .map_err(|e| e.to_string())
            .and_then(|_| signer.record(&tbs).map_err(|e| e.to_string()));
        match signed {
            Ok(sig) => response.set_signature(Box::new(sig)),
            Err(e) => tracing::warn!(error = %e, "could not sign the response"),
        }
    }
    match rh.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "could not send the response");
            let mut m = Metadata::response_from_request(&request.metadata);
            m.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata: m,
                counts: HeaderCounts::default(),
            })
        }
    }
}

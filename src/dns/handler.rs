//! The request handler plugged into hickory-server: authoritative answers for the zone, PTR for
//! registered addresses, forwarding for everything else, and TSIG-signed RFC 2136 UPDATEs.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{
    Edns, Header, HeaderCounts, LowerQuery, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA};
use hickory_proto::rr::{
    DNSClass, LowerName, Name, RData, Record, RecordType, TSigResponseContext,
};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::error::DnsError;
use super::forward::Forwarder;
use super::log::DnsLog;
use super::registry::Registry;
use super::tsig::{TsigGuard, Verdict};

/// The zone's fixed names.
pub struct ZoneNames {
    pub apex: Name,
    pub ns: Name,
    pub dns_alias: Name,
    pub hostmaster: Name,
}

impl ZoneNames {
    pub fn new(zone: &Name) -> Result<ZoneNames, DnsError> {
        let bad = |e: hickory_proto::ProtoError| DnsError::BadConfig {
            what: "zone".into(),
            why: e.to_string(),
        };
        Ok(ZoneNames {
            apex: zone.clone(),
            ns: zone.prepend_label("ns").map_err(bad)?,
            dns_alias: zone.prepend_label("dns").map_err(bad)?,
            hostmaster: zone.prepend_label("hostmaster").map_err(bad)?,
        })
    }
}

/// Handles every request the server receives.
pub struct DnsHandler {
    names: ZoneNames,
    zone: LowerName,
    ttl: u32,
    registry: Arc<RwLock<Registry>>,
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
        Ok(DnsHandler {
            names: ZoneNames::new(zone)?,
            zone: LowerName::new(zone),
            ttl,
            registry,
            tsig,
            forwarder,
            self_ip,
            log,
        })
    }

    pub fn registry(&self) -> &Arc<RwLock<Registry>> {
        &self.registry
    }

    fn soa(&self) -> Record {
        let serial = self.registry.read().map(|r| r.serial()).unwrap_or(1);
        Record::from_rdata(
            self.names.apex.clone(),
            self.ttl,
            RData::SOA(SOA::new(
                self.names.ns.clone(),
                self.names.hostmaster.clone(),
                serial,
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

    /// Will answering this request wait on an upstream resolver (so it deserves its own task)?
    pub fn needs_upstream(&self, request: &Request) -> bool {
        if request.metadata.op_code != OpCode::Query {
            return false;
        }
        match request.queries.queries() {
            [q] => !self.zone.zone_of(q.name()) && self.reverse(q).is_none(),
            _ => false,
        }
    }

    async fn handle<R: ResponseHandler>(&self, request: &Request, mut rh: R) -> ResponseInfo {
        let response_edns = request.edns.as_ref().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().max(512));
            e.set_version(0);
            e
        });
        let edns = response_edns.as_ref();
        if request.metadata.message_type != MessageType::Query {
            return self
                .error(request, &mut rh, ResponseCode::FormErr, edns, None)
                .await;
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
        let ctx = match self.tsig.check(
            request.as_slice(),
            request.signature.as_deref(),
            request.metadata.id,
            now,
        ) {
            Verdict::Unsigned => None,
            Verdict::Valid(ctx) => Some(ctx),
            Verdict::Rejected(why, ctx) => {
                let key = request
                    .signature
                    .as_ref()
                    .map(|s| s.name.to_ascii())
                    .unwrap_or_default();
                self.log
                    .refused(request.src(), &format!("{why} (key {key})"));
                return self
                    .error(request, &mut rh, Verdict::rcode(), edns, Some(ctx))
                    .await;
            }
        };
        match request.metadata.op_code {
            OpCode::Query => self.query(request, rh, edns, ctx).await,
            OpCode::Update => self.update(request, rh, edns, ctx).await,
            _ => {
                self.error(request, &mut rh, ResponseCode::NotImp, edns, ctx)
                    .await
            }
        }
    }

    async fn query<R: ResponseHandler>(
        &self,
        request: &Request,
        mut rh: R,
        edns: Option<&Edns>,
        ctx: Option<TSigResponseContext>,
    ) -> ResponseInfo {
        let queries = request.queries.queries();
        if queries.len() != 1 {
            return self
                .error(request, &mut rh, ResponseCode::FormErr, edns, ctx)
                .await;
        }
        let q = &queries[0];
        if self.zone.zone_of(q.name()) {
            return self.authoritative(request, q, rh, edns, ctx).await;
        }
        if let Some(ptr) = self.reverse(q) {
            let mut meta = Metadata::response_from_request(&request.metadata);
            meta.authoritative = true;
            meta.recursion_available = true;
            return self
                .respond(request, &mut rh, meta, &[ptr], &[], &[], edns, ctx)
                .await;
        }
        let mut meta = Metadata::response_from_request(&request.metadata);
        match self
            .forwarder
            .forward(q.original(), request.metadata.recursion_desired)
            .await
        {
            Ok(answer) => {
                meta.response_code = answer.metadata.response_code;
                meta.recursion_available = answer.metadata.recursion_available;
                meta.truncation = answer.metadata.truncation;
                self.respond(
                    request,
                    &mut rh,
                    meta,
                    &answer.answers,
                    &answer.authorities,
                    &answer.additionals,
                    edns,
                    ctx,
                )
                .await
            }
            Err(DnsError::NoUpstream) => {
                self.error(request, &mut rh, ResponseCode::Refused, edns, ctx)
                    .await
            }
            Err(e) => {
                tracing::debug!(error = %e, name = %q.name(), "forwarding failed");
                self.error(request, &mut rh, ResponseCode::ServFail, edns, ctx)
                    .await
            }
        }
    }

    /// PTR for a registered address (`d.c.b.a.in-addr.arpa.` and the ip6.arpa form).
    fn reverse(&self, q: &LowerQuery) -> Option<Record> {
        if !matches!(q.query_type(), RecordType::PTR | RecordType::ANY) {
            return None;
        }
        let name: Name = q.name().into();
        let net = name.parse_arpa_name().ok()?;
        if net.prefix_len() != net.max_prefix_len() {
            return None;
        }
        let target = self
            .registry
            .read()
            .ok()?
            .name_of_address(net.addr(), Instant::now())?;
        Some(Record::from_rdata(name, self.ttl, RData::PTR(PTR(target))))
    }

    async fn authoritative<R: ResponseHandler>(
        &self,
        request: &Request,
        q: &LowerQuery,
        mut rh: R,
        edns: Option<&Edns>,
        ctx: Option<TSigResponseContext>,
    ) -> ResponseInfo {
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = true;
        meta.recursion_available = true;
        if !matches!(q.query_class(), DNSClass::IN | DNSClass::ANY) {
            return self
                .error(request, &mut rh, ResponseCode::Refused, edns, ctx)
                .await;
        }
        let rtype = q.query_type();
        if matches!(rtype, RecordType::AXFR | RecordType::IXFR) {
            return self
                .error(request, &mut rh, ResponseCode::Refused, edns, ctx)
                .await;
        }
        let name = q.name();
        let now = Instant::now();
        let mut answers = Vec::new();
        let mut additionals = Vec::new();
        let exists;
        if *name == self.zone {
            exists = true;
            if matches!(rtype, RecordType::SOA | RecordType::ANY) {
                answers.push(self.soa());
            }
            if matches!(rtype, RecordType::NS | RecordType::ANY) {
                answers.push(self.ns());
                additionals.extend(self.self_records(&self.names.ns, RecordType::ANY));
            }
        } else {
            let Ok(reg) = self.registry.read() else {
                return self
                    .error(request, &mut rh, ResponseCode::ServFail, edns, ctx)
                    .await;
            };
            answers = reg.lookup(name, rtype, self.ttl, now);
            for srv in answers.iter().filter_map(|r| match &r.data {
                RData::SRV(s) => Some(s.target.clone()),
                _ => None,
            }) {
                let target = LowerName::new(&srv);
                additionals.extend(reg.lookup(&target, RecordType::A, self.ttl, now));
                additionals.extend(reg.lookup(&target, RecordType::AAAA, self.ttl, now));
            }
            exists = !answers.is_empty() || reg.name_exists(name, now) || self.is_self_name(name);
            drop(reg);
            if answers.is_empty() && self.is_self_name(name) {
                answers = self.self_records(&name.into(), rtype);
            }
        }
        let mut authorities = Vec::new();
        if answers.is_empty() {
            authorities.push(self.soa());
            if !exists {
                meta.response_code = ResponseCode::NXDomain;
            }
        }
        self.respond(
            request,
            &mut rh,
            meta,
            &answers,
            &authorities,
            &additionals,
            edns,
            ctx,
        )
        .await
    }

    async fn update<R: ResponseHandler>(
        &self,
        request: &Request,
        mut rh: R,
        edns: Option<&Edns>,
        ctx: Option<TSigResponseContext>,
    ) -> ResponseInfo {
        let Some(ctx) = ctx else {
            self.log.refused(
                request.src(),
                "unsigned update (a tsig hmac-sha256 signature with the project key is required)",
            );
            return self
                .error(request, &mut rh, ResponseCode::Refused, edns, None)
                .await;
        };
        // Zone section: exactly one SOA question naming our zone.
        let zones = request.queries.queries();
        if zones.len() != 1 || zones[0].query_type() != RecordType::SOA {
            return self
                .error(request, &mut rh, ResponseCode::FormErr, edns, Some(ctx))
                .await;
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
            return self
                .error(request, &mut rh, ResponseCode::NotAuth, edns, Some(ctx))
                .await;
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
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.response_code = rcode;
        self.respond(request, &mut rh, meta, &[], &[], &[], edns, Some(ctx))
            .await
    }

    async fn error<R: ResponseHandler>(
        &self,
        request: &Request,
        rh: &mut R,
        code: ResponseCode,
        edns: Option<&Edns>,
        ctx: Option<TSigResponseContext>,
    ) -> ResponseInfo {
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.response_code = code;
        self.respond(request, rh, meta, &[], &[], &[], edns, ctx)
            .await
    }

    /// Send a response; with a TSIG context, sign it (MAC over the unsigned encoding).
    #[allow(clippy::too_many_arguments)]
    async fn respond<R: ResponseHandler>(
        &self,
        request: &Request,
        rh: &mut R,
        meta: Metadata,
        answers: &[Record],
        authorities: &[Record],
        additionals: &[Record],
        edns: Option<&Edns>,
        ctx: Option<TSigResponseContext>,
    ) -> ResponseInfo {
        let mut response = MessageResponseBuilder::new(&request.queries, edns).build(
            meta,
            answers.iter(),
            authorities.iter(),
            std::iter::empty(),
            additionals.iter(),
        );
        if let Some(ctx) = ctx {
            let mut tbs = Vec::with_capacity(512);
            let mut encoder = BinEncoder::new(&mut tbs);
            let unsigned = MessageResponseBuilder::new(&request.queries, edns).build(
                meta,
                answers.iter(),
                authorities.iter(),
                std::iter::empty(),
                additionals.iter(),
            );
            let signed = unsigned
                .destructive_emit(&mut encoder)
                .map_err(|e| e.to_string())
                .and_then(|_| ctx.sign(&tbs).map_err(|e| e.to_string()));
            match signed {
                Ok(sig) => response.set_signature(sig),
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
}

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
        Box::pin(self.handle(request, response_handle))
    }
}

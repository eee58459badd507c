//! Fuzz the dops DNS request handler with arbitrary packets, exactly as the server runs it:
//! decode (`Request::from_bytes`, as UDP and as TCP); the UDP path (`DnsHandler::udp`: answers
//! from memory, every rotation for the response cache, then the cache itself answering the same
//! bytes; forwarding with no upstream) and the TCP path (`RequestHandler`, signed responses).
//! The keys are the real ones: the project key and every instance key derived from it, each
//! limited to its names. Also applies any decodable message's sections to a registry as an
//! UPDATE would. Any panic is a crash.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, Instant};

use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use libfuzzer_sys::fuzz_target;

use dops::dns::cache::ResponseCache;
use dops::dns::forward::Forwarder;
use dops::dns::handler::{DnsHandler, Udp};
use dops::dns::registry::Registry;
use dops::dns::tsig::TsigGuard;
use dops::dns::{wire, DnsLog};
use dops::tsig_key::TsigKey;

#[derive(Clone)]
struct Capture;

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut buf = Vec::with_capacity(512);
        let mut enc = BinEncoder::new(&mut buf);
        enc.set_max_size(u16::MAX);
        let info = response.destructive_emit(&mut enc)?;
        // The response must decode again.
        let _ = hickory_proto::op::Message::from_vec(&buf);
        Ok(info)
    }
}

struct World {
    rt: tokio::runtime::Runtime,
    handler: Arc<DnsHandler>,
    cache: Mutex<ResponseCache>,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let zone = hickory_proto::rr::Name::from_ascii("local.zone.").unwrap();
    let key = TsigKey::parse("hmac-sha256:dops-key:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=").unwrap();
    let registry = Arc::new(RwLock::new(Registry::new(&zone, Duration::from_secs(6))));
    let handler = DnsHandler::new(
        &zone,
        2,
        registry,
        TsigGuard::new(dops::commands::dns::credentials(key), 300),
        Forwarder::new(Vec::new(), Duration::from_millis(10)),
        Some("127.0.0.1".parse().unwrap()),
        DnsLog::default(),
    )
    .unwrap();
    let handler = Arc::new(handler);
    World {
        rt: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        cache: Mutex::new(ResponseCache::new(handler.changes().clone())),
        handler,
    }
});

fuzz_target!(|data: &[u8]| {
    let w = &*WORLD;
    let src: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    if let Ok(req) = Request::from_bytes(data.to_vec(), src, Protocol::Udp) {
        let max = req.edns.as_ref().map(|e| e.max_payload().max(512)).unwrap_or(512);
        let bytes = match w.handler.udp(&req, max) {
            Udp::Send(bytes, fill) => {
                if let Some(fill) = fill {
                    let mut cache = w.cache.lock().unwrap();
                    cache.insert(data, fill);
                    let mut again = Vec::new();
                    if cache.answer(data, Instant::now(), &mut again) {
                        assert_eq!(again.len() >= 2, true);
                        assert_eq!(&again[..2], &data[..2], "the cache answers with the id");
                    }
                }
                bytes
            }
            Udp::Upstream(p) => {
                let reply = w.rt.block_on(w.handler.finish(*p));
                wire::encode(&req, reply, max)
            }
        };
        assert!(bytes.len() <= usize::from(max.max(512)), "the answer fits the requester's size");
        let _ = hickory_proto::op::Message::from_vec(&bytes);
    }
    if let Ok(req) = Request::from_bytes(data.to_vec(), src, Protocol::Tcp) {
        w.rt.block_on(w.handler.handle_request::<_, TokioTime>(&req, Capture));
    }
    if let Ok(msg) = hickory_proto::op::Message::from_vec(data) {
        let zone = hickory_proto::rr::Name::from_ascii("local.zone.").unwrap();
        let mut reg = Registry::new(&zone, Duration::from_secs(6));
        let now = Instant::now();
        let _ = reg.apply_update(&msg.answers, &msg.authorities, now);
        let _ = reg.apply_update(&[], &msg.additionals, now);
        let _ = reg.snapshot(now);
        let _ = reg.answered(2, now);
        let _ = reg.expire(now + Duration::from_secs(7));
    }
});

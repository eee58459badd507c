//! Fuzz the dops DNS request handler with arbitrary packets: decode exactly as the server does
//! (`Request::from_bytes`), run the handler (queries, updates, TSIG checks), encode the response.
//! Also applies any decodable message's sections to a registry as an UPDATE would.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use libfuzzer_sys::fuzz_target;

use dops::dns::forward::Forwarder;
use dops::dns::handler::DnsHandler;
use dops::dns::registry::Registry;
use dops::dns::tsig::TsigGuard;
use dops::dns::{DnsLog, SharedKey};
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
        enc.set_max_size(4096);
        let info = response.destructive_emit(&mut enc)?;
        // The response must decode again.
        let _ = hickory_proto::op::Message::from_vec(&buf);
        Ok(info)
    }
}

struct World {
    rt: tokio::runtime::Runtime,
    handler: DnsHandler,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let zone = hickory_proto::rr::Name::from_ascii("local.zone.").unwrap();
    let key = TsigKey::parse("hmac-sha256:dops-key:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=").unwrap();
    let registry = Arc::new(RwLock::new(Registry::new(&zone, Duration::from_secs(6))));
    let handler = DnsHandler::new(
        &zone,
        2,
        registry,
        TsigGuard::new(&SharedKey::from(key.clone()), 300).unwrap(),
        Forwarder::new(Vec::new(), Duration::from_millis(10)),
        Some("127.0.0.1".parse().unwrap()),
        DnsLog::default(),
    )
    .unwrap();
    World {
        rt: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        handler,
    }
});

fuzz_target!(|data: &[u8]| {
    let w = &*WORLD;
    let src: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    for proto in [Protocol::Udp, Protocol::Tcp] {
        if let Ok(req) = Request::from_bytes(data.to_vec(), src, proto) {
            w.rt.block_on(w.handler.handle_request::<_, TokioTime>(&req, Capture));
        }
    }
    if let Ok(msg) = hickory_proto::op::Message::from_vec(data) {
        let zone = hickory_proto::rr::Name::from_ascii("local.zone.").unwrap();
        let mut reg = Registry::new(&zone, Duration::from_secs(6));
        let now = Instant::now();
        let _ = reg.apply_update(&msg.answers, &msg.authorities, now);
        let _ = reg.apply_update(&[], &msg.additionals, now);
        let _ = reg.snapshot(now);
        let _ = reg.expire(now + Duration::from_secs(7));
    }
});

//! The UDP path: a receive loop per socket built on hickory-server's `Request`,
//! `RequestHandler`, `ResponseHandler` and `MessageResponse`, answering on the socket directly.
//!
//! hickory's own `Server` spawns a task per datagram and hands every response through a channel
//! to the socket task; for an authoritative answer that is most of the work. Here a query the zone
//! answers from memory is handled inline and answered with one `send_to`; only queries that must
//! be forwarded upstream get their own task. TCP stays on hickory's `Server`.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Header, Message, MessageType, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::net::UdpSocket;

use super::handler::DnsHandler;

/// Sends one response datagram, encoded within the requester's payload size.
#[derive(Clone)]
struct Responder {
    sock: Arc<UdpSocket>,
    dst: SocketAddr,
    max_size: u16,
}

#[async_trait::async_trait]
impl ResponseHandler for Responder {
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
        let meta = *response.metadata();
        let mut buf = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut buf);
        encoder.set_max_size(self.max_size);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "cannot encode the response");
                let m = Message::error_msg(meta.id, meta.op_code, ResponseCode::ServFail);
                buf = m.to_vec()?;
                let mut d = BinDecoder::new(&buf);
                ResponseInfo::from(Header::read(&mut d)?)
            }
        };
        self.sock.send_to(&buf, self.dst).await?;
        Ok(info)
    }
}

/// Serve one UDP socket until the task is aborted.
pub async fn serve(sock: Arc<UdpSocket>, handler: Arc<DnsHandler>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        if src.port() == 0 || src.ip().is_unspecified() {
            continue;
        }
        let raw = &buf[..n];
        let request = match Request::from_bytes(raw.to_vec(), src, Protocol::Udp) {
            Ok(r) => r,
            Err(_) => {
                // As hickory does: FORMERR when at least the header is readable, else silence.
                let mut d = BinDecoder::new(raw);
                if let Ok(h) = Header::read(&mut d) {
                    if h.metadata.message_type == MessageType::Query {
                        let m = Message::error_msg(
                            h.metadata.id,
                            h.metadata.op_code,
                            ResponseCode::FormErr,
                        );
                        if let Ok(bytes) = m.to_vec() {
                            let _ = sock.send_to(&bytes, src).await;
                        }
                    }
                }
                continue;
            }
        };
        if request.metadata.message_type == MessageType::Response {
            continue; // never answer responses (reflection)
        }
        let responder = Responder {
            sock: sock.clone(),
            dst: src,
            max_size: request
                .edns
                .as_ref()
                .map(|e| e.max_payload().max(512))
                .unwrap_or(512),
        };
        if handler.needs_upstream(&request) {
            let h = handler.clone();
            tokio::spawn(async move {
                h.handle_request::<_, TokioTime>(&request, responder).await;
            });
        } else {
            handler
                .handle_request::<_, TokioTime>(&request, responder)
                .await;
        }
    }
}

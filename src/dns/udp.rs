//! The UDP path: a receive loop per socket built on hickory-server's `Request`,
//! `RequestHandler`, `ResponseHandler` and `MessageResponse`, answering on the socket directly.
//!
//! hickory's own `Server` spawns a task per datagram and hands every response through a channel
//! to the socket task; for an authoritative answer that is most of the work. Here datagrams are
//! read in batches (`recvmmsg`), a query the zone answers from memory is handled inline, and the
//! batch of answers leaves with one `sendmmsg`; only queries that must be forwarded upstream get a
//! task of their own (answering with `send_to`). TCP stays on hickory's `Server`.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Header, Message, MessageType, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::handler::DnsHandler;

/// Answers waiting for the batch send: (destination, datagram).
type Outbox = Arc<Mutex<Vec<(SocketAddr, Vec<u8>)>>>;

/// Where a response goes: straight to the socket (tasks of their own), or into the batch the
/// receive loop sends with one `sendmmsg`.
#[derive(Clone)]
enum Sink {
    Direct(Arc<UdpSocket>),
    Batch(Outbox),
}

/// Sends one response datagram, encoded within the requester's payload size.
#[derive(Clone)]
struct Responder {
    sink: Sink,
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
        match &self.sink {
            Sink::Direct(sock) => {
                sock.send_to(&buf, self.dst).await?;
            }
            Sink::Batch(out) => {
                if let Ok(mut out) = out.lock() {
                    out.push((self.dst, buf));
                }
            }
        }
        Ok(info)
    }
}

/// Datagrams read (and answers sent) per system call.
const BATCH: usize = 32;
/// Largest request read; longer datagrams are cut and answered FORMERR.
const MAX_REQUEST: usize = 8192;

fn to_std(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(a) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*a)));
    }
    addr.as_sockaddr_in6()
        .map(|a| SocketAddr::V6(SocketAddrV6::from(*a)))
}

/// Read up to BATCH datagrams with one `recvmmsg`: (length, source) per datagram, in `bufs` order.
fn receive_batch(
    sock: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    bufs: &mut [Vec<u8>],
) -> std::io::Result<Vec<(usize, Option<SocketAddr>)>> {
    sock.try_io(Interest::READABLE, || {
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
            .iter_mut()
            .map(|b| [IoSliceMut::new(b.as_mut_slice())])
            .collect();
        let got = recvmmsg(
            sock.as_raw_fd(),
            headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(std::io::Error::from)?;
        Ok(got
            .map(|m| (m.bytes, m.address.as_ref().and_then(to_std)))
            .collect())
    })
}

/// Send the batched answers: `sendmmsg` while the socket takes them, `send_to` for the rest.
async fn send_batch(
    sock: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    batch: Vec<(SocketAddr, Vec<u8>)>,
) {
    let mut done = 0;
    while done < batch.len() {
        let chunk = &batch[done..batch.len().min(done + BATCH)];
        let sent = sock.try_io(Interest::WRITABLE, || {
            let slices: Vec<[IoSlice<'_>; 1]> =
                chunk.iter().map(|(_, b)| [IoSlice::new(b)]).collect();
            let addrs: Vec<Option<SockaddrStorage>> = chunk
                .iter()
                .map(|(a, _)| Some(SockaddrStorage::from(*a)))
                .collect();
            let res = sendmmsg(
                sock.as_raw_fd(),
                headers,
                slices.iter(),
                &addrs,
                [] as [ControlMessage<'_>; 0],
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(std::io::Error::from)?;
            Ok(res.count())
        });
        match sent {
            Ok(n) if n > 0 => done += n,
            _ => {
                // Not writable now (or an error for the first datagram): one at a time, waiting.
                let (dst, bytes) = &batch[done];
                if let Err(e) = sock.send_to(bytes, *dst).await {
                    tracing::debug!(error = %e, %dst, "udp send failed");
                }
                done += 1;
            }
        }
    }
}

/// Serve one UDP socket until the task is aborted.
pub async fn serve(sock: Arc<UdpSocket>, handler: Arc<DnsHandler>) {
    let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; MAX_REQUEST]).collect();
    let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let out: Outbox = Arc::new(Mutex::new(Vec::new()));
    loop {
        if let Err(e) = sock.readable().await {
            tracing::debug!(error = %e, "udp socket error");
            continue;
        }
        let received = match receive_batch(&sock, &mut rx_headers, &mut bufs) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        for (i, (n, src)) in received.into_iter().enumerate() {
            let Some(src) = src else { continue };
            handle_datagram(&sock, &handler, &out, &bufs[i][..n], src).await;
        }
        let batch = match out.lock() {
            Ok(mut o) => std::mem::take(&mut *o),
            Err(_) => Vec::new(),
        };
        if !batch.is_empty() {
            send_batch(&sock, &mut tx_headers, batch).await;
        }
    }
}

async fn handle_datagram(
    sock: &Arc<UdpSocket>,
    handler: &Arc<DnsHandler>,
    out: &Outbox,
    raw: &[u8],
    src: SocketAddr,
) {
    if src.port() == 0 || src.ip().is_unspecified() {
        return;
    }
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
                    if let (Ok(bytes), Ok(mut o)) = (m.to_vec(), out.lock()) {
                        o.push((src, bytes));
                    }
                }
            }
            return;
        }
    };
    if request.metadata.message_type == MessageType::Response {
        return; // never answer responses (reflection)
    }
    let max_size = request
        .edns
        .as_ref()
        .map(|e| e.max_payload().max(512))
        .unwrap_or(512);
    if handler.needs_upstream(&request) {
        let responder = Responder {
            sink: Sink::Direct(sock.clone()),
            dst: src,
            max_size,
        };
        let h = handler.clone();
        tokio::spawn(async move {
            h.handle_request::<_, TokioTime>(&request, responder).await;
        });
    } else {
        let responder = Responder {
            sink: Sink::Batch(out.clone()),
            dst: src,
            max_size,
        };
        handler
            .handle_request::<_, TokioTime>(&request, responder)
            .await;
    }
}

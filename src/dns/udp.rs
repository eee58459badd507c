//! The UDP path: a receive loop per socket, answering on the socket directly.
//!
//! Datagrams are read in batches (`recvmmsg`). Each is first looked up in the socket's response
//! cache (the request bytes without the id: a hit is a copy and an id patch, nothing parsed);
//! otherwise it is decoded (hickory's `Request`), answered from memory by the handler (which also
//! hands the cache every rotation of the answer), and the batch of answers leaves with one
//! `sendmmsg`. Only queries that must be forwarded upstream get a task of their own (answering
//! with `send_to`). TCP stays on hickory's `Server`.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Header, Message, MessageType, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::cache::ResponseCache;
use super::handler::{DnsHandler, Udp};
use super::wire;

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
    got: &mut Vec<(usize, Option<SocketAddr>)>,
) -> std::io::Result<()> {
    got.clear();
    sock.try_io(Interest::READABLE, || {
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
            .iter_mut()
            .map(|b| [IoSliceMut::new(b.as_mut_slice())])
            .collect();
        let res = recvmmsg(
            sock.as_raw_fd(),
            headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(std::io::Error::from)?;
        got.extend(res.map(|m| (m.bytes, m.address.as_ref().and_then(to_std))));
        Ok(())
    })
}

/// Send the batched answers: `sendmmsg` while the socket takes them, `send_to` for the rest.
async fn send_batch(
    sock: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    batch: &[(SocketAddr, Vec<u8>)],
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
    let mut cache = ResponseCache::new(handler.changes().clone());
    let mut received = Vec::with_capacity(BATCH);
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::with_capacity(BATCH);
    let mut spare: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
    loop {
        if let Err(e) = sock.readable().await {
            tracing::debug!(error = %e, "udp socket error");
            continue;
        }
        match receive_batch(&sock, &mut rx_headers, &mut bufs, &mut received) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        }
        let now = Instant::now();
        for (i, &(n, src)) in received.iter().enumerate() {
            let Some(src) = src else { continue };
            if src.port() == 0 || src.ip().is_unspecified() {
                continue;
            }
            let raw = &bufs[i][..n];
            let mut buf = spare.pop().unwrap_or_default();
            buf.clear();
            if cache.answer(raw, now, &mut buf) {
                out.push((src, buf));
                continue;
            }
            spare.push(buf);
            if let Some(bytes) = answer(&sock, &handler, &mut cache, raw, src) {
                out.push((src, bytes));
            }
        }
        if !out.is_empty() {
            send_batch(&sock, &mut tx_headers, &out).await;
            spare.extend(out.drain(..).map(|(_, b)| b).take(BATCH));
        }
    }
}

/// Answer a datagram the cache did not know: the bytes to send now (None: nothing, or a task of
/// its own answers).
fn answer(
    sock: &Arc<UdpSocket>,
    handler: &Arc<DnsHandler>,
    cache: &mut ResponseCache,
    raw: &[u8],
    src: SocketAddr,
) -> Option<Vec<u8>> {
    let request = match Request::from_bytes(raw.to_vec(), src, Protocol::Udp) {
        Ok(r) => r,
        Err(_) => {
            // As hickory does: FORMERR when at least the header is readable, else silence.
            let mut d = BinDecoder::new(raw);
            let h = Header::read(&mut d).ok()?;
            if h.metadata.message_type != MessageType::Query {
                return None;
            }
            return Message::error_msg(h.metadata.id, h.metadata.op_code, ResponseCode::FormErr)
                .to_vec()
                .ok();
        }
    };
    if request.metadata.message_type == MessageType::Response {
        return None; // never answer responses (reflection)
    }
    let max_size = request
        .edns
        .as_ref()
        .map(|e| e.max_payload().max(512))
        .unwrap_or(512);
    match handler.udp(&request, max_size) {
        Udp::Send(bytes, fill) => {
            if let Some(fill) = fill {
                cache.insert(raw, fill);
            }
            Some(bytes)
        }
        Udp::Upstream(pending) => {
            let (h, sock) = (handler.clone(), sock.clone());
            tokio::spawn(async move {
                let reply = h.finish(*pending).await;
                let bytes = wire::encode(&request, reply, max_size);
                if let Err(e) = sock.send_to(&bytes, src).await {
                    tracing::debug!(error = %e, %src, "udp send failed");
                }
            });
            None
        }
    }
}

//! The wire of dops-init's DNS client: one message (a signed UPDATE, or a query) exchanged with a
//! server over UDP, retried over TCP when the answer is truncated. Blocking std sockets, no
//! getaddrinfo: the server is an address.

use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::register_error::RegisterError;
use crate::tsig_key::TsigKey;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sign `msg` with `key`, send it over UDP (3 attempts, each signed afresh), check the signed answer.
pub fn send_update(
    server: SocketAddr,
    key: &TsigKey,
    msg: Message,
    timeout: Duration,
) -> Result<(), RegisterError> {
    let signer = key
        .signer()
        .map_err(|e| RegisterError::Message(e.to_string()))?;
    let mut last = RegisterError::Timeout { server, timeout };
    for _ in 0..3 {
        let mut m = msg.clone();
        m.metadata.id = rand::random();
        let mut verifier = m
            .finalize(&signer, now_secs())
            .map_err(|e| RegisterError::Message(e.to_string()))?
            .ok_or_else(|| RegisterError::Message("no tsig verifier".into()))?;
        let bytes = m
            .to_vec()
            .map_err(|e| RegisterError::Message(e.to_string()))?;
        let raw = match exchange_udp(server, &bytes, m.metadata.id, timeout) {
            Ok(raw) => raw,
            Err(e @ RegisterError::Timeout { .. }) => {
                last = e;
                continue;
            }
            Err(e) => return Err(e),
        };
        let answer = Message::from_vec(&raw).map_err(|e| RegisterError::BadAnswer {
            server,
            why: e.to_string(),
        })?;
        let rcode = answer.metadata.response_code;
        if rcode != ResponseCode::NoError {
            let text = match answer.signature() {
                Some(sig) => match sig.data.error {
                    Some(err) => format!("{rcode} ({err:?})"),
                    None => rcode.to_string(),
                },
                None => rcode.to_string(),
            };
            return Err(match rcode {
                ResponseCode::Refused | ResponseCode::NotAuth => RegisterError::Refused {
                    server,
                    rcode: text,
                },
                _ => RegisterError::Failed {
                    server,
                    rcode: text,
                },
            });
        }
        verifier
            .verify(&raw)
            .map_err(|e| RegisterError::BadAnswer {
                server,
                why: e.to_string(),
            })?;
        return Ok(());
    }
    Err(last)
}

/// The largest UDP answer read. Our messages carry no EDNS, so a server answers over UDP in at
/// most 512 bytes and sets TC (then `lookup_a` asks again over TCP). One page on the stack rather
/// than a 64 KB buffer on the heap: dops-init asks every few seconds for as long as it runs, and
/// glibc kept such a buffer's pages dirty between the asks (most of PID 1's heap, in every
/// container).
const UDP_ANSWER_MAX: usize = 4096;

/// One UDP exchange: send, wait for the answer with `id` from `server`.
fn exchange_udp(
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>, RegisterError> {
    let io = |source| RegisterError::Io { server, source };
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(bind).map_err(io)?;
    sock.connect(server).map_err(io)?;
    sock.send(bytes).map_err(io)?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; UDP_ANSWER_MAX];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RegisterError::Timeout { server, timeout });
        }
        sock.set_read_timeout(Some(left)).map_err(io)?;
        match sock.recv(&mut buf) {
            Ok(n) if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                return Ok(buf[..n].to_vec());
            }
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(RegisterError::Timeout { server, timeout });
            }
            // ECONNREFUSED from an ICMP port unreachable: nothing listens (yet).
            Err(e) => return Err(io(e)),
        }
    }
}

fn exchange_tcp(
    server: SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, RegisterError> {
    use std::io::{Read, Write};
    let io = |source| RegisterError::Io { server, source };
    let mut s = TcpStream::connect_timeout(&server, timeout).map_err(io)?;
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).map_err(io)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).map_err(io)?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).map_err(io)?;
    Ok(body)
}

/// Ask `server` for the `rtype` records of `name` (UDP, TCP when truncated). A name that does not
/// exist is an answer with no records.
fn query(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, RegisterError> {
    let mut qname = Name::from_ascii(name.trim_end_matches('.'))
        .map_err(|e| RegisterError::Message(format!("invalid name {name:?}: {e}")))?;
    qname.set_fqdn(true);
    let id: u16 = rand::random();
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(qname, rtype));
    let bytes = msg
        .to_vec()
        .map_err(|e| RegisterError::Message(e.to_string()))?;
    let mut raw = exchange_udp(server, &bytes, id, timeout)?;
    let mut answer = Message::from_vec(&raw).map_err(|e| RegisterError::BadAnswer {
        server,
        why: e.to_string(),
    })?;
    if answer.metadata.truncation {
        raw = exchange_tcp(server, &bytes, timeout)?;
        answer = Message::from_vec(&raw).map_err(|e| RegisterError::BadAnswer {
            server,
            why: e.to_string(),
        })?;
    }
    match answer.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => Ok(answer),
        rcode => Err(RegisterError::Failed {
            server,
            rcode: rcode.to_string(),
        }),
    }
}

/// The IPv4 addresses of `name` (e.g. `db.local.zone`) asked directly of `server`.
pub fn lookup_a(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<Ipv4Addr>, RegisterError> {
    Ok(query(server, name, RecordType::A, timeout)?
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect())
}

/// The first label of the PTR target of `ip` (an instance's name), asked of `server`; None when
/// there is none or the server does not answer.
pub fn lookup_ptr(server: SocketAddr, ip: Ipv4Addr, timeout: Duration) -> Option<String> {
    let o = ip.octets();
    let name = format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]);
    query(server, &name, RecordType::PTR, timeout)
        .ok()?
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::PTR(p) => {
                p.0.to_ascii()
                    .trim_end_matches('.')
                    .split('.')
                    .next()
                    .map(str::to_string)
                    .filter(|h| !h.is_empty())
            }
            _ => None,
        })
}

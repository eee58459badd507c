//! Forwarding of every name outside the zone to the upstream resolvers (from resolv.conf or
//! configured), so containers can use the dops DNS as their only resolver.
//!
//! Each forwarded query goes out on a fresh socket with a fresh random id; the answer must match
//! the id and the question. Upstreams are tried in order; a truncated UDP answer is retried over
//! TCP. No cache: the zone's point is freshness, and the upstream resolver caches anyway.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::DnsError;

/// Upstream resolvers and how long to wait for each.
#[derive(Debug, Clone)]
pub struct Forwarder {
    pub upstreams: Vec<SocketAddr>,
    pub timeout: Duration,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration) -> Forwarder {
        Forwarder { upstreams, timeout }
    }

    /// Ask the upstreams; the first valid answer wins.
    pub async fn forward(
        &self,
        query: &Query,
        recursion_desired: bool,
    ) -> Result<Message, DnsError> {
        if self.upstreams.is_empty() {
            return Err(DnsError::NoUpstream);
        }
        let mut last = DnsError::NoUpstream;
        for upstream in &self.upstreams {
            match self.ask(*upstream, query, recursion_desired).await {
                Ok(m) => return Ok(m),
                Err(e) => {
                    tracing::debug!(%upstream, error = %e, "upstream failed");
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn ask(
        &self,
        upstream: SocketAddr,
        query: &Query,
        recursion_desired: bool,
    ) -> Result<Message, DnsError> {
        let id: u16 = rand::random();
        let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = recursion_desired;
        msg.add_query(query.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        msg.set_edns(edns);
        let bytes = msg.to_vec().map_err(|e| DnsError::Upstream {
            upstream,
            why: e.to_string(),
        })?;
        let up = |why: String| DnsError::Upstream { upstream, why };

        let bind: SocketAddr = match upstream.ip() {
            IpAddr::V4(_) => "0.0.0.0:0".parse().unwrap_or(upstream),
            IpAddr::V6(_) => "[::]:0".parse().unwrap_or(upstream),
        };
        let sock = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|e| up(e.to_string()))?;
        sock.connect(upstream)
            .await
            .map_err(|e| up(e.to_string()))?;
        sock.send(&bytes).await.map_err(|e| up(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut buf = vec![0u8; 4096];
        let answer = loop {
            let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
                .await
                .map_err(|_| up("timed out".into()))?
                .map_err(|e| up(e.to_string()))?;
            let Ok(answer) = Message::from_vec(&buf[..n]) else {
                continue; // garbage: keep waiting for the real answer
            };
            if answer.metadata.id == id
                && answer.metadata.message_type == MessageType::Response
                && answer.queries.first().map(|q| (q.name(), q.query_type()))
                    == Some((query.name(), query.query_type()))
            {
                break answer;
            }
        };
        if !answer.metadata.truncation {
            return Ok(answer);
        }
        // Truncated: ask again over TCP.
        let tcp = tokio::time::timeout_at(deadline, async {
            let mut s = tokio::net::TcpStream::connect(upstream).await?;
            let mut framed = Vec::with_capacity(bytes.len() + 2);
            framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            framed.extend_from_slice(&bytes);
            s.write_all(&framed).await?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await?;
            let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(body)
        })
        .await;
        match tcp {
            Ok(Ok(body)) => match Message::from_vec(&body) {
                Ok(m) if m.metadata.id == id => Ok(m),
                _ => Ok(answer),
            },
            _ => Ok(answer),
        }
    }
}

/// The `nameserver` lines of a resolv.conf, port 53.
pub fn upstreams_from_resolv_conf(path: &Path) -> Vec<SocketAddr> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    parse_resolv_conf(&text)
}

pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            let ip: IpAddr = words.next()?.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// Would forwarding to `upstream` reach this very server (listening on `listen`, own address
/// `self_ip`)? Docker's embedded resolver (127.0.0.11) is not us: it is DNAT-ed elsewhere.
pub fn is_self(upstream: SocketAddr, listen: SocketAddr, self_ip: Option<IpAddr>) -> bool {
    if upstream.port() != listen.port() {
        return false;
    }
    let ip = upstream.ip();
    ip == listen.ip()
        || (listen.ip().is_unspecified()
            && (ip == IpAddr::from([127, 0, 0, 1])
                || ip == IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
                || Some(ip) == self_ip))
}

/// Parse a `DNS_UPSTREAM` list: `ip`, `ip:port`, `[v6]:port`, separated by commas or spaces.
pub fn parse_upstreams(text: &str) -> Result<Vec<SocketAddr>, DnsError> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| DnsError::BadConfig {
                    what: "upstream".into(),
                    why: format!("{s:?} is not an ip or ip:port"),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_and_upstream_lists() {
        let text =
            "# c\nsearch x\nnameserver 10.0.0.2\nnameserver 127.0.0.11\nnameserver fe80::1%eth0\n";
        let all = parse_resolv_conf(text);
        assert_eq!(all.len(), 3);
        let listen: SocketAddr = "0.0.0.0:53".parse().unwrap();
        let me: IpAddr = "10.0.0.2".parse().unwrap();
        let kept: Vec<_> = all
            .into_iter()
            .filter(|u| !is_self(*u, listen, Some(me)))
            .collect();
        assert_eq!(
            kept,
            vec![
                "127.0.0.11:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
        assert!(is_self("127.0.0.1:53".parse().unwrap(), listen, None));
        assert!(!is_self("127.0.0.1:5353".parse().unwrap(), listen, None));
        assert_eq!(
            parse_upstreams("1.1.1.1, 127.0.0.1:5353").unwrap(),
            vec![
                "1.1.1.1:53".parse().unwrap(),
                "127.0.0.1:5353".parse().unwrap()
            ]
        );
        assert!(parse_upstreams("nope").is_err());
    }
}

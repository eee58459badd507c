//! The dops DNS server as dops-init reaches it (`DNS_SERVICE_IP`, a watch's `"server"`): an
//! address (one engine: the server's reserved address), or a name (a swarm: the DNS instance's
//! name, which the engine's DNS resolves wherever its task runs). A name is resolved again every
//! time the server is needed, through the first `nameserver` of `/etc/resolv.conf`, so a server
//! that moved to another node (another address) is found again. The binary is static: no
//! getaddrinfo, one DNS query of our own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use super::dns_wire::lookup_a;
use super::register_error::RegisterError;

/// Where the DNS server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    Fixed(SocketAddr),
    Named { host: String, port: u16 },
}

impl ServerAddr {
    /// `1.2.3.4`, `1.2.3.4:5353`, `[::1]:53`, `dops-dns-master`, `dops-dns-master:5353`.
    pub fn parse(text: &str) -> Option<ServerAddr> {
        let t = text.trim();
        if let Ok(s) = t.parse::<SocketAddr>() {
            return Some(ServerAddr::Fixed(s));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Some(ServerAddr::Fixed(SocketAddr::new(ip, 53)));
        }
        let (host, port) = match t.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().ok().filter(|p| *p > 0)?),
            None => (t, 53),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !l.starts_with('-')
        };
        (host.len() <= 253 && host.split('.').all(label_ok)).then(|| ServerAddr::Named {
            host: host.to_string(),
            port,
        })
    }

    /// The address to send to now.
    pub fn resolve(&self, timeout: Duration) -> Result<SocketAddr, RegisterError> {
        match self {
            ServerAddr::Fixed(s) => Ok(*s),
            ServerAddr::Named { host, port } => {
                let resolver = system_resolver().ok_or_else(|| {
                    RegisterError::Message(format!(
                        "cannot resolve the dns server {host}: no nameserver in /etc/resolv.conf"
                    ))
                })?;
                let ips = lookup_a(resolver, host, timeout)?;
                let ip = ips.first().ok_or_else(|| {
                    RegisterError::Message(format!(
                        "the dns server {host} does not resolve (yet) through {resolver}"
                    ))
                })?;
                Ok(SocketAddr::new(IpAddr::V4(*ip), *port))
            }
        }
    }
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerAddr::Fixed(s) => write!(f, "{s}"),
            ServerAddr::Named { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// The first `nameserver` of `/etc/resolv.conf` (Docker's embedded DNS on a user network).
fn system_resolver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    first_nameserver(&text)
}

fn first_nameserver(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// This container's address as the DNS server sees it: the source address of a packet sent to
/// it (a connected UDP socket sends nothing). On a swarm a task has several interfaces (the
/// overlay, the gateway bridge): this is the one on the network it shares with the server.
pub fn source_toward(server: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(any).ok()?;
    s.connect(server).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names() {
        assert_eq!(
            ServerAddr::parse("172.18.0.2"),
            Some(ServerAddr::Fixed("172.18.0.2:53".parse().unwrap()))
        );
        assert_eq!(
            ServerAddr::parse("127.0.0.1:5353"),
            Some(ServerAddr::Fixed("127.0.0.1:5353".parse().unwrap()))
        );
        assert_eq!(
            ServerAddr::parse("dops-dns-master"),
            Some(ServerAddr::Named {
                host: "dops-dns-master".into(),
                port: 53
            })
        );
        assert_eq!(
            ServerAddr::parse("dns.local:5353"),
            Some(ServerAddr::Named {
                host: "dns.local".into(),
                port: 5353
            })
        );
        for bad in ["", "a b", "x:0", "x:99999", "-x", "a..b", "ümlaut"] {
            assert_eq!(ServerAddr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_first_nameserver() {
        assert_eq!(
            first_nameserver(
                "search x\nnameserver 127.0.0.11\nnameserver 8.8.8.8\noptions ndots:0\n"
            ),
            Some("127.0.0.11:53".parse().unwrap())
        );
        assert_eq!(first_nameserver("# none\n"), None);
    }

    #[test]
    fn the_source_address_toward_loopback_is_loopback() {
        assert_eq!(
            source_toward("127.0.0.1:53".parse().unwrap()),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
    }
}

//! The addresses of the machine (or container) dops runs on, read from its interfaces. A leaf:
//! the command edge uses it for `from_<iface>` values, dops-init and the DNS server for their own
//! address.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The first non-loopback IPv4 address of this host (container).
pub fn first_ipv4() -> Option<Ipv4Addr> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    let mut found: Vec<(String, Ipv4Addr)> = addrs
        .filter_map(|ifa| {
            let ip = ifa.address?.as_sockaddr_in()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified()).then_some((ifa.interface_name, ip))
        })
        .collect();
    // eth0 before eth1 ...: the first interface Docker attached.
    found.sort();
    found.first().map(|(_, ip)| *ip)
}

/// Each interface's first IPv4 address (for `from_<iface>` values in run.conf and host.conf).
pub fn interfaces() -> BTreeMap<String, Ipv4Addr> {
    let mut interfaces: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for ifa in addrs {
            if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
                interfaces
                    .entry(ifa.interface_name.clone())
                    .or_insert(sin.ip());
            }
        }
    }
    interfaces
}

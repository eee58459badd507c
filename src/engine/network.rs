//! The project network: a bridge with a subnet dops chooses, so that one address in it can be
//! reserved for the project's DNS server. Docker gives a container the same address across
//! restarts only when it was asked for it, and only on a network whose subnet was given: every
//! instance's resolver points at the DNS server, which therefore must keep its address when the
//! engine restarts or the server is replaced.
//!
//! The subnet is the first free `10.X.Y.0/24` (X from 200) that overlaps no Docker network and
//! no address of this machine. Docker hands out the lower half (`.0/25`) to containers; `.254`
//! is the DNS server's, recorded in the network's label `io.dops.dns_address`.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;

use super::connect::Engine;
use super::error::{is_not_found, EngineError};
use crate::labels;

/// An IPv4 network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: u32,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (a, p) = s.split_once('/')?;
        let addr: Ipv4Addr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 32)?;
        Some(Net {
            addr: u32::from(addr),
            prefix,
        })
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    fn overlaps(&self, other: &Net) -> bool {
        let m = self.mask() & other.mask();
        self.addr & m == other.addr & m
    }
}

/// The first free /24 among 10.200.0.0 – 10.250.255.0 given what is taken.
fn free_subnet(taken: &[Net]) -> Option<Net> {
    (200u32..=250)
        .flat_map(|x| (0u32..=255).map(move |y| (10 << 24) | (x << 16) | (y << 8)))
        .map(|addr| Net { addr, prefix: 24 })
        .find(|n| !taken.iter().any(|t| t.overlaps(n)))
}

/// What the engine's networks and this machine's interfaces already use.
async fn taken_subnets(engine: &Engine) -> Result<Vec<Net>, EngineError> {
    let networks = engine
        .api()
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| EngineError::docker("list networks", e))?;
    let mut taken: Vec<Net> = networks
        .iter()
        .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
        .flatten()
        .filter_map(|c| Net::parse(c.subnet.as_deref()?))
        .collect();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for ifa in addrs {
            let (Some(a), Some(m)) = (
                ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()),
                ifa.netmask.as_ref().and_then(|m| m.as_sockaddr_in()),
            ) else {
                continue;
            };
            taken.push(Net {
                addr: u32::from(a.ip()),
                prefix: u32::from(m.ip()).count_ones() as u8,
            });
        }
    }
    Ok(taken)
}

/// Create the network unless it exists; true when created.
pub async fn ensure_network(
    engine: &Engine,
    name: &str,
    labels: &crate::plan::Labels,
) -> Result<bool, EngineError> {
    match engine.api().inspect_network(name, None).await {
        Ok(_) => return Ok(false),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(EngineError::docker(format!("inspect network {name}"), e)),
    }
    // Another dops (or anything) may take the subnet we chose between our listing and our
    // create: Docker then refuses with "Pool overlaps"; the next free one is tried, a bounded
    // number of times.
    let mut also_taken: Vec<Net> = Vec::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut taken = taken_subnets(engine).await?;
        taken.extend(also_taken.iter().copied());
        let chosen = free_subnet(&taken);
        match engine
            .api()
            .create_network(request(name, labels, chosen))
            .await
        {
            Ok(_) => return Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => return Ok(false),
            Err(e) if attempt < CREATE_ATTEMPTS && chosen.is_some() && is_pool_overlap(&e) => {
                also_taken.extend(chosen);
            }
            Err(e) => return Err(EngineError::docker(format!("create network {name}"), e)),
        }
    }
}

/// How many subnets one creation tries when others take them first.
const CREATE_ATTEMPTS: usize = 16;

fn is_pool_overlap(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { message, .. }
        if message.contains("overlaps"))
}

/// The creation request: the chosen subnet with `.254` reserved for the DNS server, or Docker's
/// own choice (and no reserved address) when every subnet is taken.
fn request(name: &str, labels: &crate::plan::Labels, subnet: Option<Net>) -> NetworkCreateRequest {
    let mut all_labels: HashMap<String, String> =
        labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let ipam = subnet.map(|net| {
        let a = |host: u32| Ipv4Addr::from(net.addr | host).to_string();
        all_labels.insert(labels::DNS_ADDRESS.into(), a(254));
        Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(format!("{}/24", a(0))),
                ip_range: Some(format!("{}/25", a(0))),
                gateway: Some(a(1)),
                ..Default::default()
            }]),
            ..Default::default()
        }
    });
    NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("bridge".into()),
        labels: Some(all_labels),
        ipam,
        ..Default::default()
    }
}

/// The address a network reserves for the project's DNS server, if it reserves one.
pub async fn dns_address(engine: &Engine, network: &str) -> Result<Option<String>, EngineError> {
    match engine.api().inspect_network(network, None).await {
        Ok(n) => Ok(n.labels.and_then(|l| l.get(labels::DNS_ADDRESS).cloned())),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(EngineError::docker(format!("inspect network {network}"), e)),
    }
}

/// Remove the network when no container is attached; true when removed.
pub async fn remove_network_if_empty(engine: &Engine, name: &str) -> Result<bool, EngineError> {
    let net = match engine.api().inspect_network(name, None).await {
        Ok(n) => n,
        Err(e) if is_not_found(&e) => return Ok(false),
        Err(e) => return Err(EngineError::docker(format!("inspect network {name}"), e)),
    };
    if net.containers.is_some_and(|c| !c.is_empty()) {
        return Ok(false);
    }
    match engine.api().remove_network(name).await {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        // Someone attached a container meanwhile: leave it.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 403 | 409,
            ..
        }) => Ok(false),
        Err(e) => Err(EngineError::docker(format!("remove network {name}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_free_block() {
        let n = |s: &str| Net::parse(s).unwrap();
        let first = free_subnet(&[]).unwrap();
        assert_eq!(Ipv4Addr::from(first.addr).to_string(), "10.200.0.0");
        let taken = [n("10.200.0.0/24"), n("10.200.1.7/32"), n("172.17.0.0/16")];
        let f = free_subnet(&taken).unwrap();
        assert_eq!(Ipv4Addr::from(f.addr).to_string(), "10.200.2.0");
        // A wide network on the machine takes every block inside it.
        let f = free_subnet(&[n("10.0.0.0/8")]);
        assert!(f.is_none());
        assert!(n("10.200.0.0/16").overlaps(&n("10.200.3.0/24")));
        assert!(!n("10.200.0.0/24").overlaps(&n("10.200.1.0/24")));
        assert_eq!(Net::parse("bogus"), None);
    }
}

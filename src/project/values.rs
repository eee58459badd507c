//! The environment values dops itself acts on, checked wherever they are written (run.conf
//! `env_vars`, host.conf, `required_env_vars.json` defaults) and again once resolved (the host
//! environment may override them): a value dops cannot use is refused, never replaced by a wider
//! default.
//!
//! - `PUBLISH_ON_IP`, `SERVICE_IP`: the address published ports bind to (and the address an
//!   instance registers): an IP address, or `from_<interface>`; empty means unset.
//! - `DNS_ZONE`: a DNS name.
//! - `PUBLISH_PORT_<port>` (`PUBLISH_PORT_<port>_UDP` for UDP): the host port a published
//!   instance's container port is published on, instead of the one its Dockerfile says: a port
//!   number from 1 to 65535; empty means unset.

use std::net::IpAddr;

use crate::dockerfile::Protocol;

/// The variables whose value is an address ports are published on.
pub const ADDRESS_VARS: &[&str] = &["PUBLISH_ON_IP", "SERVICE_IP"];

/// Check `value` if `name` is one dops acts on; the message says what is wrong and what to write.
pub fn check_env_value(name: &str, value: &str) -> Result<(), String> {
    if ADDRESS_VARS.contains(&name) {
        check_address(value)
    } else if name == "DNS_ZONE" {
        check_dns_name(value).map_err(|why| format!("{value:?} is not a valid DNS zone: {why}"))
    } else if let Some(port) = publish_port_of(name) {
        port?;
        host_port(value).map(|_| ())
    } else {
        Ok(())
    }
}

const PUBLISH_PORT: &str = "PUBLISH_PORT_";

/// The variable that chooses the host port of a container port: `PUBLISH_PORT_80`,
/// `PUBLISH_PORT_53_UDP`.
pub fn publish_port_var(container_port: u16, protocol: Protocol) -> String {
    match protocol {
        Protocol::Tcp => format!("{PUBLISH_PORT}{container_port}"),
        Protocol::Udp => format!("{PUBLISH_PORT}{container_port}_UDP"),
    }
}

/// The container port a `PUBLISH_PORT_…` name is about (None: not such a name; an error: such a
/// name, about no port that can exist).
fn publish_port_of(name: &str) -> Option<Result<(u16, Protocol), String>> {
    let rest = name.strip_prefix(PUBLISH_PORT)?;
    let (digits, protocol) = match rest.rsplit_once('_') {
        Some((d, "UDP")) => (d, Protocol::Udp),
        Some((d, "TCP")) => (d, Protocol::Tcp),
        _ => (rest, Protocol::Tcp),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(match digits.parse::<u16>() {
        Ok(p) if p > 0 => Ok((p, protocol)),
        _ => Err(format!(
            "{name} names no container port (PUBLISH_PORT_<1-65535>, with _UDP for a UDP port)"
        )),
    })
}

/// A `PUBLISH_PORT_…` value: a host port, or None when empty (unset).
pub fn host_port(value: &str) -> Result<Option<u16>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<u16>() {
        Ok(p) if p > 0 => Ok(Some(p)),
        _ => Err(format!(
            "{value:?} is not a host port (a number from 1 to 65535)"
        )),
    }
}

/// An IP address, `from_<interface>`, or empty (unset).
fn check_address(value: &str) -> Result<(), String> {
    if value.is_empty() || value.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if let Some(iface) = value.strip_prefix("from_") {
        if !iface.is_empty()
            && iface.len() <= 15
            && iface
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':'))
        {
            return Ok(());
        }
        return Err(format!(
            "{value:?} does not name a network interface (from_<interface>, e.g. from_eth0)"
        ));
    }
    Err(format!(
        "{value:?} is not an IP address\nhint: an address of this host (127.0.0.1, or 0.0.0.0 for every interface), or from_<interface> (e.g. from_eth0)"
    ))
}

/// A DNS name: dot-separated labels of letters, digits and `-` (not first or last), 1 to 63
/// characters each, at most 253 in all; one trailing dot allowed.
pub fn check_dns_name(name: &str) -> Result<(), String> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err("it is empty".into());
    }
    if bare.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err("it has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!("the label {label:?} is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "{c:?} is not allowed (letters, digits, '-' and dots between labels)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "",
            "127.0.0.1",
            "0.0.0.0",
            "::",
            "::1",
            "fe80::1",
            "from_eth0",
            "from_br-1a2b",
        ] {
            assert_eq!(check_env_value("PUBLISH_ON_IP", ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_env_value("SERVICE_IP", "not-an-ip").unwrap_err(),
            "\"not-an-ip\" is not an IP address\nhint: an address of this host (127.0.0.1, or 0.0.0.0 for every interface), or from_<interface> (e.g. from_eth0)"
        );
        assert!(check_env_value("SERVICE_IP", "10.0.0.1:80").is_err());
        assert!(check_env_value("SERVICE_IP", "from_").is_err());
        assert!(check_env_value("SERVICE_IP", "from_a b").is_err());
        // other variables are not dops' business
        assert_eq!(check_env_value("DB_SERVICE_IP", "db.example.com"), Ok(()));
    }

    #[test]
    fn publish_ports() {
        assert_eq!(publish_port_var(80, Protocol::Tcp), "PUBLISH_PORT_80");
        assert_eq!(publish_port_var(53, Protocol::Udp), "PUBLISH_PORT_53_UDP");
        for (name, value) in [
            ("PUBLISH_PORT_80", "8080"),
            ("PUBLISH_PORT_80", ""),
            ("PUBLISH_PORT_53_UDP", "5353"),
            ("PUBLISH_PORT_443_TCP", "65535"),
            // not a publish variable: none of dops' business
            ("PUBLISH_PORT_WEB", "x"),
            ("PUBLISH_PORT_", "x"),
        ] {
            assert_eq!(check_env_value(name, value), Ok(()), "{name}={value}");
        }
        assert_eq!(
            check_env_value("PUBLISH_PORT_80", "http").unwrap_err(),
            "\"http\" is not a host port (a number from 1 to 65535)"
        );
        assert!(check_env_value("PUBLISH_PORT_80", "0").is_err());
        assert!(check_env_value("PUBLISH_PORT_80", "65536").is_err());
        assert!(check_env_value("PUBLISH_PORT_80", " 80").is_err());
        assert_eq!(
            check_env_value("PUBLISH_PORT_70000", "80").unwrap_err(),
            "PUBLISH_PORT_70000 names no container port (PUBLISH_PORT_<1-65535>, with _UDP for a UDP port)"
        );
        assert!(check_env_value("PUBLISH_PORT_0_UDP", "80").is_err());
    }

    #[test]
    fn dns_names() {
        for ok in ["local.zone", "local.zone.", "a", "x-1.corp", "1.example"] {
            assert_eq!(check_dns_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_env_value("DNS_ZONE", "bad zone!!").unwrap_err(),
            "\"bad zone!!\" is not a valid DNS zone: ' ' is not allowed (letters, digits, '-' and dots between labels)"
        );
        assert!(check_dns_name("").is_err());
        assert!(check_dns_name(".").is_err());
        assert!(check_dns_name("a..b").is_err());
        assert!(check_dns_name("-a.b").is_err());
        assert!(check_dns_name(&"a".repeat(64)).is_err());
        assert!(check_dns_name(&["abc"; 70].join(".")).is_err());
    }
}

//! What a key may change: the zone's fixed names and the check of an UPDATE's records against a
//! key's [`Scope`].
//!
//! An instance key (see [`Scope::Instance`]) may change only:
//! - its instance name `<service>-<instance>.<zone>`: add A/AAAA, delete any of its records;
//! - its service name `<service>.<zone>`: with APPEND add and delete single A/AAAA records, with
//!   REPLACE also delete the A/AAAA RRset (the hot swap);
//! - `_<port>._tcp.<service>.<zone>`: SRV records whose target is its instance name (add and
//!   delete single records; REPLACE may also delete the SRV RRset).
//!
//! With the HIDE policy an instance registers nothing, so its key may change nothing.
//!
//! Never: the zone apex, `ns.<zone>` and `dns.<zone>` (the server's own names, even for a
//! service called `ns` or `dns`), another service's or instance's names. Prerequisites only read,
//! so they are not limited. The project key ([`Scope::Zone`]) may change everything.

use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use super::error::DnsError;
use super::tsig::{Scope, ServicePolicy};

/// The zone's fixed names.
pub struct ZoneNames {
    pub apex: Name,
    pub ns: Name,
    pub dns_alias: Name,
    pub hostmaster: Name,
}

impl ZoneNames {
    pub fn new(zone: &Name) -> Result<ZoneNames, DnsError> {
        let bad = |e: hickory_proto::ProtoError| DnsError::BadConfig {
            what: "zone".into(),
            why: e.to_string(),
        };
        Ok(ZoneNames {
            apex: zone.clone(),
            ns: zone.prepend_label("ns").map_err(bad)?,
            dns_alias: zone.prepend_label("dns").map_err(bad)?,
            hostmaster: zone.prepend_label("hostmaster").map_err(bad)?,
        })
    }

    /// The apex, `ns` and `dns`: names only the project key may touch.
    fn is_server_name(&self, name: &LowerName) -> bool {
        [&self.apex, &self.ns, &self.dns_alias]
            .iter()
            .any(|n| LowerName::new(n) == *name)
    }
}

/// Why `updates` are not all within `scope` (None: they are).
pub fn refusal(scope: &Scope, zone: &ZoneNames, updates: &[Record]) -> Option<String> {
    let Scope::Instance {
        service,
        instance,
        policy,
    } = scope
    else {
        return None;
    };
    let host = format!("{service}-{instance}");
    if *policy == ServicePolicy::Hide {
        return updates.first().map(|rr| {
            format!(
                "may not {} {} {}: its policy is HIDE (it registers nothing)",
                class_word(rr.dns_class),
                rr.name,
                rr.record_type()
            )
        });
    }
    let (Ok(svc), Ok(inst)) = (
        zone.apex.prepend_label(service.as_str()),
        zone.apex.prepend_label(host.as_str()),
    ) else {
        return Some(format!("{host} has no names in {}", zone.apex));
    };
    let (svc, inst_name) = (LowerName::new(&svc), inst.clone());
    let inst = LowerName::new(&inst);
    for rr in updates {
        let name = LowerName::new(&rr.name);
        let rtype = rr.record_type();
        let what = format!("{} {} {}", class_word(rr.dns_class), rr.name, rtype);
        let address = matches!(rtype, RecordType::A | RecordType::AAAA);
        let verdict = if zone.is_server_name(&name) {
            Err("a name of the dns server itself".to_string())
        } else if name == inst {
            match rr.dns_class {
                DNSClass::IN if address => Ok(()),
                DNSClass::IN => Err(format!("only A/AAAA records at {host}")),
                _ => Ok(()),
            }
        } else if name == svc {
            match (policy, rr.dns_class) {
                (ServicePolicy::Hide, _) => Err("its policy is HIDE".to_string()),
                (_, DNSClass::IN | DNSClass::NONE) if address => Ok(()),
                (ServicePolicy::Replace, DNSClass::ANY) if address => Ok(()),
                (ServicePolicy::Append, DNSClass::ANY) => {
                    Err("deleting the service's records needs the REPLACE policy".to_string())
                }
                _ => Err(format!("only A/AAAA records at {service}")),
            }
        } else if is_srv_name(&name, &svc) {
            let own_target = matches!(&rr.data, RData::SRV(s) if LowerName::new(&s.target) == inst);
            match (policy, rr.dns_class) {
                (ServicePolicy::Hide, _) => Err("its policy is HIDE".to_string()),
                (_, DNSClass::IN | DNSClass::NONE) if rtype == RecordType::SRV && own_target => {
                    Ok(())
                }
                (ServicePolicy::Replace, DNSClass::ANY) if rtype == RecordType::SRV => Ok(()),
                _ => Err(format!("only SRV records pointing at {inst_name}")),
            }
        } else {
            Err(format!("not a name of {host}"))
        };
        if let Err(why) = verdict {
            return Some(format!("may not {what}: {why}"));
        }
    }
    None
}

fn class_word(class: DNSClass) -> &'static str {
    match class {
        DNSClass::IN => "add",
        DNSClass::NONE => "delete",
        _ => "delete all of",
    }
}

/// `_<port>._tcp.<service>.<zone>`.
fn is_srv_name(name: &LowerName, svc: &LowerName) -> bool {
    let n: Name = name.into();
    if n.num_labels() != svc.num_labels() + 2 || !svc.zone_of(name) {
        return false;
    }
    let mut labels = n.iter();
    let port = labels.next().unwrap_or_default();
    let proto = labels.next().unwrap_or_default();
    proto.eq_ignore_ascii_case(b"_tcp")
        && port.len() > 1
        && port[0] == b'_'
        && port[1..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, SRV};
    use std::net::Ipv4Addr;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }
    fn add(name: &str) -> Record {
        Record::from_rdata(n(name), 2, RData::A(A(Ipv4Addr::new(10, 0, 0, 1))))
    }
    fn class(mut r: Record, c: DNSClass) -> Record {
        r.dns_class = c;
        r.ttl = 0;
        r
    }
    fn del_set(name: &str, t: RecordType) -> Record {
        class(Record::update0(n(name), 0, t), DNSClass::ANY)
    }
    fn srv(name: &str, target: &str) -> Record {
        Record::from_rdata(n(name), 2, RData::SRV(SRV::new(0, 0, 80, n(target))))
    }
    fn scope(policy: ServicePolicy) -> Scope {
        Scope::Instance {
            service: "web".into(),
            instance: "one".into(),
            policy,
        }
    }

    #[test]
    fn an_instance_changes_only_its_own_names() {
        let zone = ZoneNames::new(&n("local.zone.")).unwrap();
        let append = scope(ServicePolicy::Append);
        let ok = |s: &Scope, rr: Vec<Record>| assert_eq!(refusal(s, &zone, &rr), None, "{rr:?}");
        let no = |s: &Scope, rr: Vec<Record>| {
            refusal(s, &zone, &rr).unwrap_or_else(|| panic!("accepted: {rr:?}"))
        };
        // what dops-init sends (APPEND): first registration, refresh, withdraw
        ok(
            &append,
            vec![
                del_set("web-one.local.zone.", RecordType::A),
                add("web.local.zone."),
                add("web-one.local.zone."),
                srv("_80._tcp.web.local.zone.", "web-one.local.zone."),
            ],
        );
        ok(
            &append,
            vec![
                class(add("web.local.zone."), DNSClass::NONE),
                class(add("web-one.local.zone."), DNSClass::NONE),
                class(
                    srv("_80._tcp.web.local.zone.", "web-one.local.zone."),
                    DNSClass::NONE,
                ),
            ],
        );
        // REPLACE deletes the service's RRsets first
        let replace = scope(ServicePolicy::Replace);
        let swap = vec![
            del_set("web.local.zone.", RecordType::A),
            del_set("_80._tcp.web.local.zone.", RecordType::SRV),
            add("web.local.zone."),
        ];
        ok(&replace, swap.clone());
        assert!(no(&append, swap).contains("REPLACE"));
        // HIDE: nothing on the service name
        let hide = scope(ServicePolicy::Hide);
        assert!(no(&hide, vec![add("web.local.zone.")]).contains("HIDE"));
        assert!(no(&hide, vec![add("web-one.local.zone.")]).contains("HIDE"));
        // other names, the server's names, SRV pointing elsewhere
        for name in [
            "db.local.zone.",
            "web-two.local.zone.",
            "ns.local.zone.",
            "dns.local.zone.",
            "local.zone.",
            "x.web.local.zone.",
        ] {
            no(&replace, vec![add(name)]);
        }
        assert!(no(&append, vec![add("ns.local.zone.")]).contains("dns server"));
        no(
            &append,
            vec![srv("_80._tcp.web.local.zone.", "db-1.local.zone.")],
        );
        no(
            &append,
            vec![srv("_80._tcp.db.local.zone.", "web-one.local.zone.")],
        );
        // one bad record refuses the whole message
        no(&append, vec![add("web.local.zone."), add("db.local.zone.")]);
        // a service called "dns" still cannot take the server's alias
        let dns = Scope::Instance {
            service: "dns".into(),
            instance: "x".into(),
            policy: ServicePolicy::Replace,
        };
        no(&dns, vec![add("dns.local.zone.")]);
        ok(&dns, vec![add("dns-x.local.zone.")]);
        // the project key: everything
        assert_eq!(refusal(&Scope::Zone, &zone, &[add("ns.local.zone.")]), None);
    }
}

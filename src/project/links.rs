//! Links: `"dops-dns-master:dns"` (short: `service-instance:NAME`, `*` wildcards) and
//! `{"name": "DB", "service": "postgres", "instance": null}` (long: null = any running instance).
//! A link gives the instance `<NAME>_SERVICE_IP` (the name uppercased).

use std::collections::HashMap;

use serde::Serialize;

use crate::wildcard::wildcard_match;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkSpec {
    /// The link name: the variable is `<NAME>_SERVICE_IP` (uppercased).
    pub name: String,
    pub target: LinkTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum LinkTarget {
    /// Short form: a pattern over the hostname `<service>-<instance>`.
    Hostname(String),
    /// Long form: a service (pattern) and an instance (pattern), None = any.
    Service {
        service: String,
        instance: Option<String>,
    },
}

impl LinkSpec {
    /// The variable this link sets.
    pub fn var_name(&self) -> String {
        format!("{}_SERVICE_IP", self.name.to_uppercase())
    }

    pub fn matches(&self, service: &str, instance: &str) -> bool {
        match &self.target {
            LinkTarget::Hostname(p) => wildcard_match(p, &format!("{service}-{instance}")),
            LinkTarget::Service {
                service: s,
                instance: i,
            } => {
                wildcard_match(s, service)
                    && i.as_deref().is_none_or(|i| wildcard_match(i, instance))
            }
        }
    }

    /// How the link reads in messages.
    pub fn describe(&self) -> String {
        match &self.target {
            LinkTarget::Hostname(p) => format!("{p}:{}", self.name),
            LinkTarget::Service {
                service,
                instance: None,
            } => format!("{} (any instance of {service})", self.name),
            LinkTarget::Service {
                service,
                instance: Some(i),
            } => format!("{} ({service}-{i})", self.name),
        }
    }
}

/// An instance a link may point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCandidate {
    pub service: String,
    pub instance: String,
    pub container: String,
}

/// What a link resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkResolution {
    NotFound,
    One(String),
    /// The first of several: the caller warns.
    FirstOf(String, usize),
}

/// The instances links may point at, in their order (the plan's instances first, then the
/// running ones), indexed by hostname and by service: a plan resolves every link of every
/// instance, and a link that names its target without a wildcard (most do) looks only at the
/// instances of that name instead of all of them.
#[derive(Debug, Default)]
pub struct LinkCandidates {
    list: Vec<LinkCandidate>,
    by_hostname: HashMap<String, Vec<usize>>,
    by_service: HashMap<String, Vec<usize>>,
}

impl LinkCandidates {
    pub fn new(list: Vec<LinkCandidate>) -> LinkCandidates {
        let mut by_hostname: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_service: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in list.iter().enumerate() {
            by_hostname
                .entry(format!("{}-{}", c.service, c.instance))
                .or_default()
                .push(i);
            by_service.entry(c.service.clone()).or_default().push(i);
        }
        LinkCandidates {
            list,
            by_hostname,
            by_service,
        }
    }

    /// The candidates `spec` may match, in order (a superset: `matches` decides).
    fn for_link<'a>(&'a self, spec: &LinkSpec) -> Box<dyn Iterator<Item = &'a LinkCandidate> + 'a> {
        let indexed = match &spec.target {
            LinkTarget::Hostname(p) if !p.contains('*') => self.by_hostname.get(p),
            LinkTarget::Service { service, .. } if !service.contains('*') => {
                self.by_service.get(service)
            }
            _ => return Box::new(self.list.iter()),
        };
        Box::new(
            indexed
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|&i| &self.list[i]),
        )
    }
}

/// Resolve a link against candidates, in their order. The instance itself is never its own
/// link target.
pub fn resolve(
    spec: &LinkSpec,
    self_container: &str,
    candidates: &LinkCandidates,
) -> LinkResolution {
    let mut found = candidates
        .for_link(spec)
        .filter(|c| c.container != self_container && spec.matches(&c.service, &c.instance))
        .map(|c| c.container.as_str());
    let Some(first) = found.next() else {
        return LinkResolution::NotFound;
    };
    let more = found.filter(|c| *c != first).count();
    if more == 0 {
        LinkResolution::One(first.to_string())
    } else {
        LinkResolution::FirstOf(first.to_string(), more + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(s: &str, i: &str) -> LinkCandidate {
        LinkCandidate {
            service: s.into(),
            instance: i.into(),
            container: format!("p-{s}-{i}"),
        }
    }

    fn short(p: &str, name: &str) -> LinkSpec {
        LinkSpec {
            name: name.into(),
            target: LinkTarget::Hostname(p.into()),
        }
    }

    #[test]
    fn short_form_matches_the_hostname() {
        let l = short("dops-dns-master", "dns");
        assert!(l.matches("dops-dns", "master"));
        assert!(!l.matches("dops-dns", "one"));
        assert_eq!(l.var_name(), "DNS_SERVICE_IP");
        let w = short("postgres-*", "db");
        assert!(w.matches("postgres", "one"));
        assert!(!w.matches("redis", "one"));
        let any = short("*-master", "m");
        assert!(any.matches("web", "master"));
        // The hostname is service-instance, however the dash falls.
        assert!(l.matches("dops", "dns-master"));
        assert!(!l.matches("dops-dn", "s-master"));
        assert!(!l.matches("dops-dns-master", ""));
        assert!(!l.matches("dops-dns", "maste"));
    }

    #[test]
    fn long_form_null_instance_is_any() {
        let l = LinkSpec {
            name: "DB".into(),
            target: LinkTarget::Service {
                service: "postgres".into(),
                instance: None,
            },
        };
        assert!(l.matches("postgres", "anything"));
        assert!(!l.matches("postgresql", "x"));
        let cands = LinkCandidates::new(vec![
            cand("postgres", "a"),
            cand("postgres", "b"),
            cand("web", "a"),
        ]);
        assert_eq!(
            resolve(&l, "p-web-a", &cands),
            LinkResolution::FirstOf("p-postgres-a".into(), 2)
        );
        let one = LinkSpec {
            name: "DB".into(),
            target: LinkTarget::Service {
                service: "postgres".into(),
                instance: Some("b".into()),
            },
        };
        assert_eq!(
            resolve(&one, "p-web-a", &cands),
            LinkResolution::One("p-postgres-b".into())
        );
        let none = short("redis-*", "cache");
        assert_eq!(resolve(&none, "p-web-a", &cands), LinkResolution::NotFound);
    }

    #[test]
    fn never_links_to_itself() {
        let l = short("web-*", "peer");
        let cands = LinkCandidates::new(vec![cand("web", "a"), cand("web", "b")]);
        assert_eq!(
            resolve(&l, "p-web-a", &cands),
            LinkResolution::One("p-web-b".into())
        );
    }

    #[test]
    fn the_index_finds_what_a_scan_of_every_candidate_finds() {
        let list = vec![
            cand("web", "b"),
            cand("dops", "dns-master"),
            cand("web", "a"),
            cand("dops-dns", "master"),
            cand("db", "one"),
        ];
        let cands = LinkCandidates::new(list.clone());
        let long = |service: &str, instance: Option<&str>| LinkSpec {
            name: "X".into(),
            target: LinkTarget::Service {
                service: service.into(),
                instance: instance.map(str::to_string),
            },
        };
        let specs = [
            short("dops-dns-master", "dns"),
            short("web-a", "w"),
            short("web-*", "w"),
            short("*-one", "o"),
            short("nothing-here", "n"),
            long("web", None),
            long("web", Some("a")),
            long("w*", None),
            long("db", Some("t*")),
        ];
        for spec in &specs {
            let scanned: Vec<&str> = list
                .iter()
                .filter(|c| spec.matches(&c.service, &c.instance))
                .map(|c| c.container.as_str())
                .collect();
            let indexed: Vec<&str> = cands
                .for_link(spec)
                .filter(|c| spec.matches(&c.service, &c.instance))
                .map(|c| c.container.as_str())
                .collect();
            assert_eq!(indexed, scanned, "{spec:?}");
        }
        // In the candidates' order: the first of several is the first listed.
        assert_eq!(
            resolve(&short("web-*", "w"), "p-x-y", &cands),
            LinkResolution::FirstOf("p-web-b".into(), 2)
        );
    }
}

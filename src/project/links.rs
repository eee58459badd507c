//! Links: `"dops-dns-master:dns"` (short: `service-instance:NAME`, `*` wildcards) and
//! `{"name": "DB", "service": "postgres", "instance": null}` (long: null = any running instance).
//! A link gives the instance `<NAME>_SERVICE_IP` (the name uppercased).

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

/// Resolve a link against candidates, in their order (instances of the plan first, then the
/// running ones). The instance itself is never its own link target.
pub fn resolve(
    spec: &LinkSpec,
    self_container: &str,
    candidates: &[LinkCandidate],
) -> LinkResolution {
    let mut found = candidates
        .iter()
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
        let cands = [
            cand("postgres", "a"),
            cand("postgres", "b"),
            cand("web", "a"),
        ];
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
        let cands = [cand("web", "a"), cand("web", "b")];
        assert_eq!(
            resolve(&l, "p-web-a", &cands),
            LinkResolution::One("p-web-b".into())
        );
    }
}

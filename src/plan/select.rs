//! Which run.conf entries a run target means, with their instance names (a random one where
//! run.conf gives none), and the DNS entry.

use super::context::{no_match, PlanContext, PlanError};
use crate::action::Target;
use crate::project::instance::{random_name, InstanceSettings};
use crate::project::{Project, RunConfEntry, DNS_INSTANCE, DNS_SERVICE};
use crate::wildcard::wildcard_match;

/// One instance chosen to run.
pub(super) struct Chosen {
    pub entry: RunConfEntry,
    pub settings: InstanceSettings,
    pub container: String,
    pub is_dns: bool,
}

/// The DNS entry: the project's own run.conf entry for dops-dns, or the built-in one (no published
/// ports and no persistence, whatever its `master` name implies).
pub(super) fn dns_entry(project: &Project) -> RunConfEntry {
    if let Some(e) = project.entries.iter().find(|e| e.service == DNS_SERVICE) {
        let mut e = e.clone();
        if e.instance.is_none() {
            e.instance = Some(DNS_INSTANCE.to_string());
        }
        return e;
    }
    let mut e = RunConfEntry::bare(DNS_SERVICE, Some(DNS_INSTANCE));
    e.props.publish_ports = Some(false);
    e.props.persistent_data = Some(false);
    e.props.persistent_log = Some(false);
    e
}

/// Pick the run conf entries (or a new bare entry) a run target means, with instance names.
pub(super) fn select(
    project: &Project,
    target: &Target,
    ctx: &PlanContext,
) -> Result<Vec<(RunConfEntry, String)>, PlanError> {
    let mut n = 0u64;
    let mut name_of = |e: &RunConfEntry| -> String {
        e.instance.clone().unwrap_or_else(|| {
            n += 1;
            random_name(ctx.seed, n)
        })
    };
    let mut out = Vec::new();
    match target {
        Target::All => {
            for e in project.entries.iter().filter(|e| e.autorun) {
                out.push((e.clone(), name_of(e)));
            }
        }
        Target::Group { name } => {
            for e in project
                .entries
                .iter()
                .filter(|e| e.group.as_deref() == Some(name.as_str()))
            {
                out.push((e.clone(), name_of(e)));
            }
        }
        Target::Select { service, instance } => {
            for e in &project.entries {
                let hit = match (&e.instance, instance) {
                    (Some(i), _) => target.matches(&e.service, i, e.group.as_deref()),
                    (None, None) => wildcard_match(service, &e.service),
                    (None, Some(_)) => false,
                };
                if hit {
                    out.push((e.clone(), name_of(e)));
                }
            }
            if out.is_empty() {
                let literal_instance = instance.as_deref().filter(|i| !i.contains('*'));
                match target.literal_service() {
                    Some(s) if project.services.contains_key(s) || s == DNS_SERVICE => {
                        if instance.is_some() && literal_instance.is_none() {
                            return Err(no_match(project, target));
                        }
                        let mut e = if s == DNS_SERVICE {
                            dns_entry(project)
                        } else {
                            RunConfEntry::bare(s, literal_instance)
                        };
                        if let Some(i) = literal_instance {
                            e.instance = Some(i.to_string());
                        }
                        let name = name_of(&e);
                        out.push((e, name));
                    }
                    _ => return Err(no_match(project, target)),
                }
            }
        }
    }
    Ok(out)
}

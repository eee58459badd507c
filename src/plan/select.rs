//! Which run.conf entries a run target means, with their instance names (a random one where
//! run.conf gives none, or the one an earlier run gave), and the DNS entry.

use std::collections::{BTreeMap, VecDeque};

use super::context::{no_match, PlanContext, PlanError};
use crate::action::{RunAction, Target};
use crate::labels;
use crate::observed::Observed;
use crate::project::instance::{random_name, settings, InstanceSettings};
use crate::project::{Project, RunConfEntry, DNS_INSTANCE, DNS_SERVICE};
use crate::wildcard::wildcard_match;

/// One instance chosen to run.
pub(super) struct Chosen {
    pub entry: RunConfEntry,
    pub settings: InstanceSettings,
    pub container: String,
    pub is_dns: bool,
    /// Made for an entry without an instance name.
    pub unnamed: bool,
    /// `--env KEY=VALUE` of the command line (none for the DNS instance a run adds by itself).
    pub cli_env: Vec<(String, String)>,
}

/// Where a roll-out puts the old container of an instance while the new one starts.
pub(super) fn aside_name(container: &str) -> String {
    format!("{container}.old")
}

/// The DNS instance's container.
pub(super) fn dns_container(project: &Project) -> String {
    let e = dns_entry(project);
    project.container_name(DNS_SERVICE, e.instance.as_deref().unwrap_or(DNS_INSTANCE))
}

/// The instances a run means, with their settings: the selected run.conf entries (the DNS
/// first; added when the target is `all` or it does not run).
pub(super) fn choose(
    project: &Project,
    observed: &Observed,
    ra: &RunAction,
    ctx: &PlanContext,
) -> Result<Vec<Chosen>, PlanError> {
    let dns_on = project.dns_enabled();
    let dns_e = dns_entry(project);
    let dns_container = dns_container(project);
    let mut chosen: Vec<Chosen> = Vec::new();
    for (entry, name, unnamed) in select(project, &ra.target, ctx, observed)? {
        let is_dns = entry.service == DNS_SERVICE;
        let s = settings(&entry, &name, &ra.overrides);
        if s.props.interactive && matches!(ra.target, Target::All | Target::Group { .. }) {
            return Err(PlanError::Interactive {
                instance: s.hostname(),
                instance_type: s.instance_type.to_string(),
                service: s.service.clone(),
                name: s.instance.clone(),
            });
        }
        chosen.push(Chosen {
            container: project.container_name(&entry.service, &name),
            entry,
            settings: s,
            is_dns,
            unnamed,
            cli_env: ra.overrides.env.clone(),
        });
    }
    if dns_on {
        if let Some(i) = chosen.iter().position(|c| c.container == dns_container) {
            let d = chosen.remove(i);
            chosen.insert(0, d);
        } else if matches!(ra.target, Target::All)
            || !observed
                .container(&dns_container)
                .is_some_and(|c| c.is_running())
        {
            let name = dns_e
                .instance
                .clone()
                .unwrap_or_else(|| DNS_INSTANCE.into());
            let s = settings(&dns_e, &name, &Default::default());
            chosen.insert(
                0,
                Chosen {
                    container: dns_container.clone(),
                    entry: dns_e.clone(),
                    settings: s,
                    is_dns: true,
                    unnamed: false,
                    cli_env: Vec::new(),
                },
            );
        }
    }
    Ok(chosen)
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

/// Pick the run conf entries (or a new bare entry) a run target means, with instance names:
/// an entry without one takes an unnamed instance of its service that already exists, else a
/// new random name. The bool: unnamed.
fn select(
    project: &Project,
    target: &Target,
    ctx: &PlanContext,
    observed: &Observed,
) -> Result<Vec<(RunConfEntry, String, bool)>, PlanError> {
    let mut existing: BTreeMap<&str, VecDeque<&str>> = BTreeMap::new();
    let mut unnamed: Vec<_> = observed
        .containers
        .iter()
        .filter(|o| {
            o.labels.get(labels::UNNAMED).is_some_and(|v| v == "true")
                && o.labels
                    .get(labels::CONF)
                    .is_none_or(|c| *c == project.conf_file)
        })
        .collect();
    unnamed.sort_by(|a, b| a.name.cmp(&b.name));
    for o in unnamed {
        existing
            .entry(o.service.as_str())
            .or_default()
            .push_back(o.instance.as_str());
    }
    let mut n = 0u64;
    let mut name_of = |e: &RunConfEntry| -> (String, bool) {
        match &e.instance {
            Some(i) => (i.clone(), false),
            None => {
                let reused = existing
                    .get_mut(e.service.as_str())
                    .and_then(VecDeque::pop_front);
                let name = reused.map(str::to_string).unwrap_or_else(|| {
                    n += 1;
                    random_name(ctx.seed, n)
                });
                (name, true)
            }
        }
    };
    let mut out = Vec::new();
    match target {
        Target::All => {
            for e in project.entries.iter().filter(|e| e.autorun) {
                let (name, unnamed) = name_of(e);
                out.push((e.clone(), name, unnamed));
            }
        }
        Target::Group { name } => {
            for e in project
                .entries
                .iter()
                .filter(|e| e.group.as_deref() == Some(name.as_str()))
            {
                let (name, unnamed) = name_of(e);
                out.push((e.clone(), name, unnamed));
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
                    let (name, unnamed) = name_of(e);
                    out.push((e.clone(), name, unnamed));
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
                        let (name, unnamed) = name_of(&e);
                        out.push((e, name, unnamed));
                    }
                    _ => return Err(no_match(project, target)),
                }
            }
        }
    }
    Ok(out)
}

//! `run` (and `rerun`, `plan:…`): the network, missing images, then each selected instance in
//! run.conf order (the DNS first), skipping what already runs unless it is replaced.

use std::collections::{BTreeMap, BTreeSet};

use super::build::build_step;
use super::context::{
    data_root, image_present, labels_for, PlanContext, PlanError, Planned, STOP_TIMEOUT_S,
};
use super::select::{dns_entry, select, Chosen};
use super::spec::SpecContext;
use super::step::{Plan, Step};
use crate::action::{RunAction, Target};
use crate::dockerfile::Protocol;
use crate::labels;
use crate::observed::Observed;
use crate::project::instance::settings;
use crate::project::links::LinkCandidate;
use crate::project::{Project, DNS_INSTANCE, DNS_SERVICE};

pub(super) fn plan_run(
    project: &Project,
    observed: &Observed,
    ra: &RunAction,
    ctx: &PlanContext,
) -> Result<Planned, PlanError> {
    let mut warnings = Vec::new();
    let picked = select(project, &ra.target, ctx)?;
    let dns_on = project.dns_enabled();
    let dns_e = dns_entry(project);
    let dns_container = project.container_name(
        DNS_SERVICE,
        dns_e.instance.as_deref().unwrap_or(DNS_INSTANCE),
    );

    let mut chosen: Vec<Chosen> = Vec::new();
    for (entry, name) in picked {
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
        });
    }
    // The DNS runs first: move it to the front, or add it when it is not running.
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
                },
            );
        }
    }

    let mut steps = Vec::new();
    let to_start: Vec<&Chosen> = chosen
        .iter()
        .filter(|c| {
            ra.replace
                || !observed
                    .container(&c.container)
                    .is_some_and(|o| o.is_running())
        })
        .collect();
    // network
    if to_start.iter().any(|c| !c.settings.props.nethost)
        && !observed.networks.contains(&project.name)
    {
        steps.push(Step::EnsureNetwork {
            name: project.name.clone(),
            labels: labels_for(&project.name, "", None)
                .into_iter()
                .filter(|(k, _)| k == labels::PROJECT)
                .collect(),
        });
    }
    // images missing for what will start
    let need: BTreeSet<String> = to_start.iter().map(|c| c.entry.service.clone()).collect();
    if !need.is_empty() {
        let chain = crate::build_order::with_ancestors(&project.build_order, &project.graph, &need);
        for s in chain {
            if !image_present(observed, &project.image(&s)) && project.services.contains_key(&s) {
                steps.push(build_step(project, &s, false));
            }
        }
    }

    // link candidates: this plan's instances first, then what runs
    let mut candidates: Vec<LinkCandidate> = chosen
        .iter()
        .map(|c| LinkCandidate {
            service: c.settings.service.clone(),
            instance: c.settings.instance.clone(),
            container: c.container.clone(),
        })
        .collect();
    let mut running: Vec<_> = observed
        .containers
        .iter()
        .filter(|c| c.is_running())
        .collect();
    running.sort_by(|a, b| a.name.cmp(&b.name));
    for o in running {
        if !candidates.iter().any(|c| c.container == o.name) {
            candidates.push(LinkCandidate {
                service: o.service.clone(),
                instance: o.instance.clone(),
                container: o.name.clone(),
            });
        }
    }

    let zone = project.dns_zone();
    let specs = SpecContext {
        project,
        ctx,
        candidates: &candidates,
        dns: dns_on.then_some((dns_container.as_str(), zone.as_str())),
        data_root: data_root(project, &ctx.host),
        replace: ra.replace,
    };
    if dns_on && ctx.dns_key.is_none() && !to_start.is_empty() {
        warnings.push(
            "the dns key is not loaded: the instances' key files (DNS_KEY_FILE) are left out of this plan"
                .to_string(),
        );
    }
    for c in &chosen {
        let existing = observed.container(&c.container);
        if existing.is_some_and(|o| o.is_running()) && !ra.replace {
            steps.push(Step::AlreadyRunning {
                container: c.container.clone(),
            });
            continue;
        }
        if existing.is_some() {
            steps.push(Step::Remove {
                container: c.container.clone(),
                stop_timeout_s: STOP_TIMEOUT_S,
            });
        }
        let spec = specs.container_spec(c, &mut warnings)?;
        steps.push(Step::Run(Box::new(spec)));
        if c.entry.sleep > 0.0 {
            steps.push(Step::Sleep {
                seconds: c.entry.sleep,
            });
        }
    }
    port_conflicts(&steps, &mut warnings);
    Ok(Planned {
        plan: Plan {
            project: project.name.clone(),
            steps,
        },
        warnings,
    })
}

/// Two instances of the plan publishing the same host address and port: the second would fail to
/// start, so say it before.
fn port_conflicts(steps: &[Step], warnings: &mut Vec<String>) {
    let mut seen: BTreeMap<(String, u16, Protocol), String> = BTreeMap::new();
    for step in steps {
        let Step::Run(spec) = step else { continue };
        for p in &spec.ports {
            let key = (p.host_ip.clone(), p.host_port, p.protocol);
            match seen.get(&key) {
                Some(first) => warnings.push(format!(
                    "{} and {first} both publish {}:{}/{}; the second will fail to start (set \"publish_ports\": false on one)",
                    spec.hostname,
                    p.host_ip,
                    p.host_port,
                    p.protocol.as_str()
                )),
                None => {
                    seen.insert(key, spec.hostname.clone());
                }
            }
        }
    }
}

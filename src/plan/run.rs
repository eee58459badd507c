//! `run` (and `rerun`, `up`, `plan:…`): make what runs match what is declared. Each selected
//! instance is created when missing, kept when it runs as declared, and replaced when it drifted
//! (with the reasons in words), one at a time per service (a roll-out, start-first or
//! stop-first, with a way back). Containers of the project that run.conf no longer declares are
//! orphans: named in a warning, removed with `--orphans`. A roll-out dops was interrupted in is
//! finished or rolled back first.

use std::collections::{BTreeMap, BTreeSet};

use super::build::build_step;
use super::context::{
    data_root, image_present, labels_for, PlanContext, PlanError, Planned, STOP_TIMEOUT_S,
};
use super::desired::{reason, short_id, Desired};
use super::order;
use super::placement;
use super::select::{aside_name, choose, Chosen};
use super::spec::SpecContext;
use super::step::{ContainerSpec, Plan, Reason, Replacement, Step};
use crate::action::{Recreate, RunAction};
use crate::dockerfile::Protocol;
use crate::labels;
use crate::observed::{Observed, ObservedContainer};
use crate::project::env::EnvValue;
use crate::project::links::{LinkCandidate, LinkCandidates};
use crate::project::policies::{Condition, UpdateOrder};
use crate::project::values::publish_port_var;
use crate::project::{EngineKind, Project, DNS_SERVICE};
use crate::state_file;

/// How long a replaced instance may take to reach UP, unless `--timeout` says otherwise.
pub const ROLLOUT_TIMEOUT_S: u64 = 120;

/// What happens to one chosen instance.
enum Fate {
    Create,
    Keep(Option<String>),
    /// The container exists but does not run: remove it, run the new one.
    Recreate,
    Replace(Vec<Reason>),
    /// A roll-out dops was interrupted in, with the new container running: finish it.
    Resume,
}

pub(super) fn plan_run(
    project: &Project,
    observed: &Observed,
    ra: &RunAction,
    ctx: &PlanContext,
) -> Result<Planned, PlanError> {
    let mut warnings = Vec::new();
    let chosen = choose(project, observed, ra, ctx)?;
    let candidates = link_candidates(&chosen, observed);
    let deps = order::dependencies(&chosen, &candidates);
    let start_order = order::start_order(&chosen, &deps, &project.conf_file)?;
    let dns_on = project.dns_enabled();
    let dns_container = chosen
        .iter()
        .find(|c| c.is_dns)
        .map(|c| c.container.clone())
        .unwrap_or_else(|| super::select::dns_container(project));
    let zone = project.dns_zone();
    let specs = SpecContext {
        project,
        ctx,
        candidates: &candidates,
        dns: dns_on.then_some((dns_container.as_str(), zone.as_str())),
        data_root: data_root(project, &ctx.host),
    };

    // Interrupted roll-outs first: put the old container back where the new one is not running.
    let mut steps = Vec::new();
    let mut restored: BTreeMap<String, ObservedContainer> = BTreeMap::new();
    let mut resumed: BTreeSet<String> = BTreeSet::new();
    for c in &chosen {
        let Some(aside) = observed.container(&aside_name(&c.container)) else {
            continue;
        };
        match observed.container(&c.container) {
            Some(current) if current.is_running() => {
                resumed.insert(c.container.clone());
            }
            current => {
                steps.push(Step::Restore {
                    container: c.container.clone(),
                    aside: aside.name.clone(),
                    remove_current: current.is_some(),
                    start: !aside.is_running(),
                });
                let mut back = aside.clone();
                back.name = c.container.clone();
                back.state = "running".into();
                restored.insert(c.container.clone(), back);
            }
        }
    }
    let existing = |c: &Chosen| -> Option<&ObservedContainer> {
        restored
            .get(&c.container)
            .or_else(|| observed.container(&c.container))
    };

    // What each instance becomes, in start order; a replaced or created link target changes the
    // address its dependents were given.
    let mut moving: BTreeSet<String> = BTreeSet::new();
    let mut decided: Vec<(usize, Fate, ContainerSpec)> = Vec::new();
    let mut pins = Vec::new();
    let mut pinned_here = BTreeMap::new();
    for &i in &start_order {
        let c = &chosen[i];
        let mut spec = specs.container_spec(c, &mut warnings)?;
        if ctx.engine == EngineKind::Swarm {
            let (placement, pin) = placement::place(
                &project.name,
                c,
                &observed.nodes,
                &mut pinned_here,
                &mut warnings,
            )?;
            spec.placement = Some(placement);
            pins.extend(pin);
        }
        spec.after = deps[i]
            .keys()
            .map(|d| chosen[*d].container.clone())
            .collect();
        let fate = if resumed.contains(&c.container) {
            Fate::Resume
        } else {
            match existing(c) {
                None => Fate::Create,
                Some(o) if !o.is_running() => Fate::Recreate,
                Some(o) => {
                    let mut reasons = drift(o, &spec, observed, &moving, ctx, &dns_container);
                    match ra.recreate {
                        Recreate::Always if reasons.is_empty() => {
                            reasons.push(Reason {
                                text: "replaced on request (rerun, --force-recreate)".into(),
                                ..reason("forced", None, None, None)
                            });
                            Fate::Replace(reasons)
                        }
                        Recreate::Never if !reasons.is_empty() => Fate::Keep(Some(format!(
                            "differs: {}; --no-recreate keeps it",
                            texts(&reasons)
                        ))),
                        _ if reasons.is_empty() => Fate::Keep(None),
                        _ => Fate::Replace(reasons),
                    }
                }
            }
        };
        // The DNS server keeps its reserved address when replaced: its dependents keep theirs.
        let reserved = spec
            .network
            .as_ref()
            .is_some_and(|n| observed.dns_addresses.contains_key(n));
        let keeps_address = matches!(fate, Fate::Keep(_)) || (c.is_dns && spec.pinned && reserved);
        if !keeps_address {
            moving.insert(c.container.clone());
        }
        if matches!(fate, Fate::Replace(_) | Fate::Recreate) {
            let old_dir = existing(c).and_then(|o| o.run_dir().map(|d| d.to_path_buf()));
            let dir = state_file::next_run_dir(&spec_run_dir(&spec), old_dir);
            set_run_dir(&mut spec, dir);
        }
        decided.push((i, fate, spec));
    }

    // The network and the images for what will start.
    let starting: Vec<&ContainerSpec> = decided
        .iter()
        .filter(|(_, f, _)| !matches!(f, Fate::Keep(_) | Fate::Resume))
        .map(|(_, _, s)| s)
        .collect();
    if starting.iter().any(|s| !s.nethost) && !observed.networks.contains(&project.name) {
        steps.push(Step::EnsureNetwork {
            name: project.name.clone(),
            labels: labels_for(&project.name, "", None)
                .into_iter()
                .filter(|(k, _)| k == labels::PROJECT)
                .collect(),
        });
    }
    let need: BTreeSet<String> = starting.iter().map(|s| s.service.clone()).collect();
    if !need.is_empty() {
        let chain = crate::build_order::with_ancestors(&project.build_order, &project.graph, &need);
        for s in chain {
            if !image_present(observed, &project.image(&s)) && project.services.contains_key(&s) {
                steps.push(build_step(project, &s, false));
            }
        }
    }
    steps.extend(pins);
    if dns_on && ctx.dns_key.is_none() && !starting.is_empty() {
        warnings.push(
            "the dns key is not loaded: the instances' key files (DNS_KEY_FILE) are left out of this plan"
                .to_string(),
        );
    }

    // The instances, in start order; waits where depends_on asks for more than "started".
    let timeout_s = ra.timeout_s.unwrap_or(ROLLOUT_TIMEOUT_S);
    let mut waves: BTreeMap<String, u32> = BTreeMap::new();
    for (i, fate, spec) in decided {
        let c = &chosen[i];
        let waits: Vec<(String, Condition)> = deps[i]
            .iter()
            .filter(|(_, cond)| **cond != Condition::Started)
            .map(|(d, cond)| (chosen[*d].container.clone(), *cond))
            .collect();
        for cond in [Condition::Up, Condition::Completed] {
            let containers: Vec<String> = waits
                .iter()
                .filter(|(_, w)| *w == cond)
                .map(|(n, _)| n.clone())
                .collect();
            if !containers.is_empty() && !matches!(fate, Fate::Keep(_)) {
                steps.push(Step::WaitFor {
                    containers,
                    condition: cond,
                    timeout_s,
                });
            }
        }
        let starts = !matches!(fate, Fate::Keep(_));
        match fate {
            Fate::Keep(note) => steps.push(Step::Keep {
                container: c.container.clone(),
                note,
            }),
            Fate::Create => steps.push(Step::Run(Box::new(spec))),
            Fate::Recreate => {
                steps.push(Step::Remove {
                    container: c.container.clone(),
                    stop_timeout_s: STOP_TIMEOUT_S,
                });
                steps.push(Step::Run(Box::new(spec)));
            }
            Fate::Replace(reasons) => {
                let order = update_order(c, &spec)?;
                let per_wave = c.entry.update_parallelism.unwrap_or(1).max(1);
                let k = waves.entry(c.settings.service.clone()).or_insert(0);
                let wave = *k / per_wave;
                *k += 1;
                steps.push(Step::Replace(Box::new(Replacement {
                    container: c.container.clone(),
                    aside: aside_name(&c.container),
                    order,
                    reasons,
                    spec,
                    timeout_s,
                    rollback: ra.rollback,
                    stop_timeout_s: STOP_TIMEOUT_S,
                    wave,
                    resume: false,
                })));
            }
            Fate::Resume => steps.push(Step::Replace(Box::new(Replacement {
                container: c.container.clone(),
                aside: aside_name(&c.container),
                order: UpdateOrder::StartFirst,
                reasons: vec![Reason {
                    text: "a roll-out was interrupted: finish it".into(),
                    ..reason("state", None, None, None)
                }],
                spec,
                timeout_s,
                rollback: ra.rollback,
                stop_timeout_s: STOP_TIMEOUT_S,
                wave: 0,
                resume: true,
            }))),
        }
        if starts && c.entry.sleep > 0.0 {
            steps.push(Step::Sleep {
                seconds: c.entry.sleep,
            });
        }
    }

    // Orphans: named always, removed only when asked.
    for o in orphans(project, observed, &chosen) {
        warnings.push(format!(
            "orphan: {} ({}) is not declared in {}{}",
            o.name,
            o.state,
            project.conf_file,
            if ra.orphans {
                ": removed (--orphans)"
            } else {
                "; --orphans removes it"
            }
        ));
        if ra.orphans {
            steps.push(Step::Remove {
                container: o.name.clone(),
                stop_timeout_s: STOP_TIMEOUT_S,
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

/// What a link may point at: this plan's instances first, then what runs.
fn link_candidates(chosen: &[Chosen], observed: &Observed) -> LinkCandidates {
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
    let planned: std::collections::HashSet<&str> =
        chosen.iter().map(|c| c.container.as_str()).collect();
    for o in running {
        if !planned.contains(o.name.as_str()) {
            candidates.push(LinkCandidate {
                service: o.service.clone(),
                instance: o.instance.clone(),
                container: o.name.clone(),
            });
        }
    }
    LinkCandidates::new(candidates)
}

/// Why a running container no longer matches its spec: a rebuilt image, then what its recorded
/// desired state says differs. `moving`: containers this plan creates or replaces (their
/// address will change).
fn drift(
    o: &ObservedContainer,
    spec: &ContainerSpec,
    observed: &Observed,
    moving: &BTreeSet<String>,
    ctx: &PlanContext,
    dns_container: &str,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    let current = observed
        .images
        .get(&spec.image)
        .or_else(|| observed.images.get(&format!("{}:latest", spec.image)));
    match current {
        Some(id) if !o.image_id.is_empty() && *id != o.image_id => reasons.push(reason(
            "image",
            None,
            Some(short_id(&o.image_id)),
            Some(short_id(id)),
        )),
        None => reasons.push(Reason {
            text: format!("image {} is missing: this plan builds it", spec.image),
            ..reason("image", None, None, None)
        }),
        _ => {}
    }
    if let Some(r) = reasons.first_mut() {
        if let (Some(f), Some(t)) = (&r.from, &r.to) {
            r.text = format!("image rebuilt ({f}… → {t}…)");
        }
    }
    let Some(old) = o
        .labels
        .get(labels::DESIRED)
        .and_then(|l| Desired::from_label(l))
    else {
        reasons.push(Reason {
            text: "no recorded desired state (created by an earlier dops)".into(),
            ..reason("dops", None, None, None)
        });
        return reasons;
    };
    // What the new container would be given, as far as the plan can know it.
    let network = spec.network.as_deref().unwrap_or_default();
    let expected = |v: &EnvValue| -> String {
        match v {
            EnvValue::Literal(s) => s.clone(),
            EnvValue::IpOf(c) => {
                let pinned = (c == dns_container)
                    .then(|| observed.dns_addresses.get(network))
                    .flatten();
                match (pinned, observed.container(c)) {
                    (Some(ip), _) => ip.clone(),
                    (None, Some(t)) if t.is_running() && !moving.contains(c) => {
                        t.ip.map(|ip| ip.to_string()).unwrap_or_default()
                    }
                    _ => v.to_string(),
                }
            }
        }
    };
    let mut new = Desired::of(spec, &expected);
    // A plan without the DNS key (dry runs before the first real run) can't tell the key.
    if ctx.dns_key.is_none() {
        if let Some(f) = old.env.get("DNS_KEY_FILE") {
            new.env.insert("DNS_KEY_FILE".into(), f.clone());
        }
        if new.dns_key.is_none() {
            new.dns_key = old.dns_key.clone();
        }
    }
    // A link whose target gets a new container (and address) in this plan, said so.
    reasons.extend(old.reasons_to(&new).into_iter().map(|mut r| {
        let target =
            r.to.as_deref()
                .and_then(|t| t.strip_prefix("\"<ip of "))
                .and_then(|t| t.strip_suffix(">\""))
                .map(str::to_string);
        if let (Some(target), Some(var)) = (target, r.subject.clone()) {
            r.kind = "link".into();
            r.text = format!("link {var}: {target} gets a new container (and address)");
        }
        r
    }));
    reasons
}

fn texts(reasons: &[Reason]) -> String {
    reasons
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn spec_run_dir(spec: &ContainerSpec) -> std::path::PathBuf {
    spec.mounts
        .iter()
        .find(|m| m.container == state_file::RUN_DIR_IN_CONTAINER)
        .map(|m| m.host.clone())
        .unwrap_or_default()
}

fn set_run_dir(spec: &mut ContainerSpec, dir: std::path::PathBuf) {
    if let Some(m) = spec
        .mounts
        .iter_mut()
        .find(|m| m.container == state_file::RUN_DIR_IN_CONTAINER)
    {
        m.host = dir.clone();
    }
    // The key file lives in the container's own run folder.
    if let Some(k) = spec.dns_key.as_mut().filter(|k| k.host.is_some()) {
        k.host = Some(dir.join(crate::tsig_key::KEY_FILE_NAME));
    }
}

/// start-first where two containers can live side by side; stop-first for persistent data,
/// fixed host ports, the DNS server's pinned address and interactive instances. run.conf
/// `update_order` chooses, but start-first is refused where it can't work.
fn update_order(c: &Chosen, spec: &ContainerSpec) -> Result<UpdateOrder, PlanError> {
    let p = &c.settings.props;
    let persistent = p.persistent_data || p.persistent_opt || p.persistent_log || p.persistent_home;
    let blocker = if let Some(port) = spec.ports.first() {
        Some(format!(
            "it publishes {}:{}/{} (two containers can't)",
            port.host_ip,
            port.host_port,
            port.protocol.as_str()
        ))
    } else if persistent {
        Some("it has persistent folders (two containers would share them)".to_string())
    } else if spec.pinned {
        Some("it holds the network's reserved DNS address".to_string())
    } else if spec.interactive {
        Some("it is interactive".to_string())
    } else {
        None
    };
    match (c.entry.update_order, blocker) {
        (Some(UpdateOrder::StartFirst), Some(why)) => Err(PlanError::StartFirst {
            instance: c.settings.hostname(),
            why,
        }),
        (Some(order), _) => Ok(order),
        (None, Some(_)) => Ok(UpdateOrder::StopFirst),
        (None, None) => Ok(UpdateOrder::StartFirst),
    }
}

/// Containers of this project (and run conf) that run.conf does not declare and this plan does
/// not run: instances started by hand, services removed from run.conf.
fn orphans<'a>(
    project: &Project,
    observed: &'a Observed,
    chosen: &[Chosen],
) -> Vec<&'a ObservedContainer> {
    let declared = |o: &ObservedContainer| {
        project.entries.iter().any(|e| {
            e.service == o.service
                && match &e.instance {
                    Some(i) => *i == o.instance,
                    // An entry without a name claims the unnamed instances of its service.
                    None => o.labels.get(labels::UNNAMED).is_some_and(|v| v == "true"),
                }
        })
    };
    observed
        .containers
        .iter()
        .filter(|o| {
            let conf = o.labels.get(labels::CONF);
            conf.is_none_or(|c| *c == project.conf_file)
                && o.name == project.container_name(&o.service, &o.instance)
                && !chosen.iter().any(|c| c.container == o.name)
                && !(o.service == DNS_SERVICE && project.dns_enabled())
                && !declared(o)
        })
        .collect()
}

/// Two instances of the plan publishing the same host address and port: the second would fail to
/// start, so say it before.
fn port_conflicts(steps: &[Step], warnings: &mut Vec<String>) {
    let mut seen: BTreeMap<(std::net::IpAddr, u16, Protocol), String> = BTreeMap::new();
    for step in steps {
        let spec = match step {
            Step::Run(spec) => spec.as_ref(),
            Step::Replace(r) => &r.spec,
            _ => continue,
        };
        for p in &spec.ports {
            let key = (p.host_ip, p.host_port, p.protocol);
            match seen.get(&key) {
                Some(first) => warnings.push(format!(
                    "{} and {first} both publish {}:{}/{}; the second will fail to start (set \"publish_ports\": false on one, or another host port with {})",
                    spec.hostname,
                    p.host_ip,
                    p.host_port,
                    p.protocol.as_str(),
                    publish_port_var(p.container_port, p.protocol)
                )),
                None => {
                    seen.insert(key, spec.hostname.clone());
                }
            }
        }
    }
}

//! The plan: the list of steps dops would take, computed by a pure function.
//!
//! `plan()` (project, observed state, action) → `Plan`. Its `Display` is the `dops plan:…` /
//! `--dry-run` output; its `Serialize` is the `--json` form. `engine::apply` executes one step
//! with one (or a few) Docker API calls and makes no decisions of its own.
//!
//! Values that only exist at apply time (the address of a container started earlier in the same
//! plan, for links and the DNS) are carried as `EnvValue::IpOf` and resolved by the engine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub project: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Create the project's bridge network unless it exists.
    EnsureNetwork { name: String, labels: Labels },
    /// Build one service image (parents come earlier in the plan).
    Build(BuildStep),
    /// Create, seed persistent folders, and start one container.
    Run(Box<ContainerSpec>),
    /// Nothing to do: the instance already runs (shown so the user knows why).
    AlreadyRunning { container: String },
    /// Graceful stop (the init's stop timeout), then remove. Persistent data is never touched here.
    Remove {
        container: String,
        stop_timeout_s: u64,
    },
    /// Delete an instance's persistent folders: only planned for `clean --purge`.
    PurgeData { container: String, path: PathBuf },
    /// Remove the project network when no container uses it any more.
    RemoveNetwork { name: String },
    /// run.conf `sleep`: wait before the next step.
    Sleep { seconds: f64 },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BuildStep {
    pub service: String,
    /// `<project>/<service>`
    pub image: String,
    /// The service folder (build context).
    pub context: PathBuf,
    /// Services this one is built FROM (already earlier in the plan).
    pub parents: Vec<String>,
    pub no_cache: bool,
    pub labels: Labels,
    /// A service embedded in dops (the dops DNS): its folder is not in the project; the engine
    /// supplies the build context.
    pub builtin: bool,
}

/// Everything needed to create one container, fully resolved except `EnvValue::IpOf`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContainerSpec {
    /// `<project>-<service>-<instance>`
    pub name: String,
    /// `<service>-<instance>`
    pub hostname: String,
    /// `<project>/<service>`
    pub image: String,
    pub service: String,
    pub instance: String,
    pub instance_type: String,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<Mount>,
    pub ports: Vec<PortPublish>,
    pub labels: Labels,
    /// The project network, or None with `nethost`.
    pub network: Option<String>,
    pub nethost: bool,
    pub interactive: bool,
    pub safemode: bool,
    /// Resolver settings when the project runs the dops DNS.
    pub dns: Option<DnsSettings>,
    /// run.conf `extra_args`, as given (the engine supports a documented subset).
    pub extra_args: Vec<String>,
    /// Replace a running container of the same name (`--replace`, `rerun`).
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mount {
    /// Host folder (created if missing).
    pub host: PathBuf,
    /// Path inside the container.
    pub container: String,
    /// Seed the host folder from the image's content at `container` on first use (then mark it).
    pub seed: bool,
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortPublish {
    pub container_port: u16,
    pub protocol: Protocol,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsSettings {
    /// The DNS instance whose address becomes the resolver (resolved at apply time).
    pub server: EnvValue,
    pub zone: String,
}

// =============================================================================================
// The planner (pure)
// =============================================================================================

use std::collections::BTreeSet;
use std::fmt;

use crate::action::{Action, PlanOf, RunAction, Target};
use crate::dockerfile::Protocol;
use crate::labels;
use crate::observed::Observed;
use crate::project::env::{self, EnvInputs, EnvValue, EnvVar, HostContext};
use crate::project::instance::{random_name, settings, InstanceSettings};
use crate::project::links::{self, LinkCandidate, LinkResolution};
use crate::project::{EnvError, Project, RunConfEntry, DNS_INSTANCE, DNS_SERVICE};
use crate::state_file;

/// How long the engine waits for an instance to stop before it kills it.
pub const STOP_TIMEOUT_S: u64 = 10;

/// Inputs of the planner that come from outside the project files (captured by the command layer).
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    pub host: HostContext,
    /// `DNS_KEY` (`hmac-sha256:<name>:<base64>`), loaded by the command layer; the planner never
    /// creates one. None: DNS_KEY is left out (with a warning).
    pub dns_key: Option<String>,
    /// Seed for random instance names.
    pub seed: u64,
}

/// A plan and what the user should be told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Env(#[from] EnvError),
    #[error("{instance}: link {link}: no instance matches, running or planned (run it first, or set \"linked\": false)")]
    LinkNotFound { instance: String, link: String },
    #[error("nothing in {conf} or services/ matches '{target}'{hint}")]
    NoMatch {
        target: String,
        conf: String,
        hint: String,
    },
    #[error("run:all does not start interactive instances: {instance} is interactive (type {instance_type}); run it alone with 'dops run:{service},instance={name}' or give it \"autorun\": false")]
    Interactive {
        instance: String,
        instance_type: String,
        service: String,
        name: String,
    },
    #[error("'{verb}' has no plan (plans exist for run, rerun, build and clean)")]
    NotPlannable { verb: String },
}

/// One instance chosen to run.
struct Chosen {
    entry: RunConfEntry,
    settings: InstanceSettings,
    container: String,
    is_dns: bool,
}

fn bool_str(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

fn image_present(observed: &Observed, image: &str) -> bool {
    observed.images.contains_key(image) || observed.images.contains_key(&format!("{image}:latest"))
}

fn labels_for(project: &str, service: &str, instance: Option<(&str, &str)>) -> Labels {
    let mut l = Labels::new();
    l.insert(labels::PROJECT.into(), project.into());
    l.insert(labels::SERVICE.into(), service.into());
    if let Some((i, t)) = instance {
        l.insert(labels::INSTANCE.into(), i.into());
        l.insert(labels::INSTANCE_TYPE.into(), t.into());
    }
    l
}

/// Where persistent folders live: `DATA_DIR` (host env, then host.conf; relative = to the project)
/// or `<project>/data`.
pub fn data_root(project: &Project, host: &HostContext) -> PathBuf {
    let configured = host
        .env
        .get("DATA_DIR")
        .map(String::as_str)
        .or_else(|| project.host_conf.get("DATA_DIR"));
    match configured {
        Some(d) if !d.is_empty() => project.dir.join(d),
        _ => project.dir.join("data"),
    }
}

fn no_match(project: &Project, target: &Target) -> PlanError {
    let known: Vec<&str> = project.services.keys().map(String::as_str).collect();
    let hint = match target.literal_service() {
        Some(s) => match crate::suggest::closest(s, known.iter().copied()) {
            Some(c) => format!(" (did you mean '{c}'?)"),
            None if known.is_empty() => " (services/ is empty)".to_string(),
            None => format!(" (services: {})", known.join(", ")),
        },
        None => String::new(),
    };
    PlanError::NoMatch {
        target: target.to_string(),
        conf: project.conf_file.clone(),
        hint,
    }
}

/// The DNS entry: the project's own run.conf entry for dops-dns, or the built-in one (no published
/// ports and no persistence, whatever its `master` name implies).
fn dns_entry(project: &Project) -> RunConfEntry {
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
fn select(
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
                    (None, None) => crate::action::wildcard_match(service, &e.service),
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

/// Compute the plan for an action against the observed state. Pure.
pub fn plan(
    project: &Project,
    observed: &Observed,
    action: &Action,
    ctx: &PlanContext,
) -> Result<Planned, PlanError> {
    match action {
        Action::Run(r) | Action::Rerun(r) => plan_run(project, observed, r, ctx),
        Action::Build(b) => plan_build(project, observed, &b.target, b.no_cache, true),
        Action::Clean(c) => Ok(plan_clean(
            project, observed, &c.target, c.orphans, c.purge, ctx,
        )),
        Action::Plan(p) => match p.of {
            PlanOf::Run => plan_run(project, observed, &p.run, ctx),
            PlanOf::Rerun => {
                let mut r = p.run.clone();
                r.replace = true;
                plan_run(project, observed, &r, ctx)
            }
            PlanOf::Build => plan_build(project, observed, &p.run.target, p.no_cache, true),
            PlanOf::Clean => Ok(plan_clean(
                project,
                observed,
                &p.run.target,
                p.orphans,
                p.purge,
                ctx,
            )),
        },
        other => Err(PlanError::NotPlannable {
            verb: other.verb().to_string(),
        }),
    }
}

fn build_step(project: &Project, service: &str, no_cache: bool) -> Step {
    let svc = &project.services[service];
    let mut labels = labels_for(&project.name, service, None);
    if svc.builtin {
        labels.insert(labels::BUILTIN.into(), "true".into());
    }
    Step::Build(BuildStep {
        service: service.to_string(),
        image: project.image(service),
        context: svc.dir.clone(),
        parents: svc.parents.clone(),
        no_cache,
        labels,
        builtin: svc.builtin,
    })
}

/// `build`: the selected services (and parents whose image is missing), parents first.
/// `explicit`: a build verb (always builds the selection) rather than images missing for a run.
fn plan_build(
    project: &Project,
    observed: &Observed,
    target: &Target,
    no_cache: bool,
    explicit: bool,
) -> Result<Planned, PlanError> {
    let selected: BTreeSet<String> = match target {
        Target::All => project.services.keys().cloned().collect(),
        Target::Group { name } => project
            .entries
            .iter()
            .filter(|e| e.group.as_deref() == Some(name.as_str()))
            .map(|e| e.service.clone())
            .collect(),
        Target::Select { service, .. } => project
            .services
            .keys()
            .filter(|s| crate::action::wildcard_match(service, s))
            .cloned()
            .collect(),
    };
    if selected.is_empty() && !matches!(target, Target::All) {
        return Err(no_match(project, target));
    }
    let chain = crate::build_order::with_ancestors(&project.build_order, &project.graph, &selected);
    let steps = chain
        .iter()
        .filter(|s| {
            (explicit && selected.contains(*s)) || !image_present(observed, &project.image(s))
        })
        .map(|s| build_step(project, s, no_cache))
        .collect();
    Ok(Planned {
        plan: Plan {
            project: project.name.clone(),
            steps,
        },
        warnings: Vec::new(),
    })
}

fn plan_run(
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
    let root = data_root(project, &ctx.host);
    if dns_on && ctx.dns_key.is_none() && !to_start.is_empty() {
        warnings.push("the dns key is not loaded: DNS_KEY is left out of this plan".to_string());
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
        let spec = container_spec(
            project,
            c,
            &candidates,
            dns_on,
            &dns_container,
            &zone,
            &root,
            ctx,
            ra.replace,
            &mut warnings,
        )?;
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

#[allow(clippy::too_many_arguments)]
fn container_spec(
    project: &Project,
    c: &Chosen,
    candidates: &[LinkCandidate],
    dns_on: bool,
    dns_container: &str,
    zone: &str,
    root: &std::path::Path,
    ctx: &PlanContext,
    replace: bool,
    warnings: &mut Vec<String>,
) -> Result<ContainerSpec, PlanError> {
    let s = &c.settings;
    let e = &c.entry;
    let hostname = s.hostname();
    let lit = |v: &str| EnvValue::Literal(v.to_string());

    let mut fixed = vec![
        ("SERVICE".to_string(), s.service.clone()),
        ("INSTANCE".to_string(), s.instance.clone()),
        ("INSTANCE_TYPE".to_string(), s.instance_type.to_string()),
        (
            "PERSISTENT_DATA".to_string(),
            bool_str(s.props.persistent_data),
        ),
        (
            "PERSISTENT_LOG".to_string(),
            bool_str(s.props.persistent_log),
        ),
        (
            "PERSISTENT_OPT".to_string(),
            bool_str(s.props.persistent_opt),
        ),
        (
            "PERSISTENT_HOME".to_string(),
            bool_str(s.props.persistent_home),
        ),
        ("SAFEMODE".to_string(), bool_str(s.props.safemode)),
        ("INTERACTIVE".to_string(), bool_str(s.props.interactive)),
        ("HOST_HOSTNAME".to_string(), ctx.host.hostname.clone()),
    ];
    if let Some(cfg) = &e.cfg {
        fixed.push(("CFG".to_string(), cfg.to_string()));
    }

    let mut link_vars = Vec::new();
    if s.props.linked {
        for l in &e.links {
            match links::resolve(l, &c.container, candidates) {
                LinkResolution::One(target) => {
                    link_vars.push((l.var_name(), EnvValue::IpOf(target)))
                }
                LinkResolution::FirstOf(target, n) => {
                    warnings.push(format!(
                        "{hostname}: link {} matches {n} instances; using {target}",
                        l.describe()
                    ));
                    link_vars.push((l.var_name(), EnvValue::IpOf(target)));
                }
                LinkResolution::NotFound => {
                    return Err(PlanError::LinkNotFound {
                        instance: hostname,
                        link: l.describe(),
                    })
                }
            }
        }
    }

    let mut run_conf = e.env_vars.clone();
    let mut dns_vars = Vec::new();
    if dns_on {
        if !c.is_dns {
            dns_vars.push((
                "DNS_SERVICE_IP".to_string(),
                EnvValue::IpOf(dns_container.to_string()),
            ));
        }
        dns_vars.push(("DNS_ZONE".to_string(), lit(zone)));
        if let Some(k) = &ctx.dns_key {
            dns_vars.push(("DNS_KEY".to_string(), lit(k)));
        }
        match (c.is_dns, e.dns_update_policy) {
            (_, Some(p)) => {
                run_conf.push(("DNS_UPDATE_POLICY".to_string(), p.as_str().to_string()))
            }
            (true, None) => dns_vars.push(("DNS_UPDATE_POLICY".to_string(), lit("HIDE"))),
            (false, None) => dns_vars.push(("DNS_UPDATE_POLICY".to_string(), lit("APPEND"))),
        }
    } else if let Some(p) = e.dns_update_policy {
        run_conf.push(("DNS_UPDATE_POLICY".to_string(), p.as_str().to_string()));
    }

    let svc = project.services.get(&s.service);
    let required: &[crate::project::RequiredVar] =
        svc.map(|s| s.required.as_slice()).unwrap_or(&[]);
    let env = env::resolve(&EnvInputs {
        instance: &hostname,
        required,
        required_file: format!("services/{}/required_env_vars.json", s.service),
        run_conf: &run_conf,
        fixed,
        links: link_vars,
        dns: dns_vars,
        host: &ctx.host,
        host_conf: &project.host_conf,
    })?;

    // mounts: the state folder, then persistent folders, then run.conf volumes
    let mut mounts = vec![Mount {
        host: state_file::host_run_dir(&project.dir, &s.service, &s.instance),
        container: state_file::RUN_DIR_IN_CONTAINER.to_string(),
        seed: false,
        read_only: false,
    }];
    let pdir = root.join(&hostname);
    for (on, sub, path) in [
        (s.props.persistent_data, "data", "/data"),
        (s.props.persistent_opt, "opt", "/opt"),
        (s.props.persistent_log, "log", "/var/log"),
        (s.props.persistent_home, "home", "/home"),
    ] {
        if on {
            mounts.push(Mount {
                host: pdir.join(sub),
                container: path.to_string(),
                seed: true,
                read_only: false,
            });
        }
    }
    for v in &e.volumes {
        mounts.push(Mount {
            host: project.dir.join(&v.host),
            container: v.container.clone(),
            seed: false,
            read_only: v.read_only,
        });
    }

    // ports
    let literal = |name: &str| {
        env.iter()
            .find(|v| v.name == name)
            .and_then(|v| match &v.value {
                EnvValue::Literal(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
    };
    let host_ip = literal("PUBLISH_ON_IP")
        .or_else(|| literal("SERVICE_IP"))
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let ports = match svc {
        Some(svc) if s.props.publish_ports && !s.props.nethost => svc
            .ports
            .iter()
            .map(|p| PortPublish {
                container_port: p.container,
                protocol: p.protocol,
                host_ip: host_ip.clone(),
                host_port: p.host,
            })
            .collect(),
        _ => Vec::new(),
    };

    Ok(ContainerSpec {
        name: c.container.clone(),
        hostname: hostname.clone(),
        image: project.image(&s.service),
        service: s.service.clone(),
        instance: s.instance.clone(),
        instance_type: s.instance_type.to_string(),
        env,
        mounts,
        ports,
        labels: labels_for(
            &project.name,
            &s.service,
            Some((&s.instance, s.instance_type.as_str())),
        ),
        network: (!s.props.nethost).then(|| project.name.clone()),
        nethost: s.props.nethost,
        interactive: s.props.interactive,
        safemode: s.props.safemode,
        dns: (dns_on && !c.is_dns && !s.props.nethost).then(|| DnsSettings {
            server: EnvValue::IpOf(dns_container.to_string()),
            zone: zone.to_string(),
        }),
        extra_args: e.extra_args.clone(),
        replace,
    })
}

/// `clean`: remove what the target selects from what exists (never data unless `purge`; orphans,
/// containers of services the project no longer has, only with `orphans`). The DNS goes last; the
/// network goes when nothing is left.
fn plan_clean(
    project: &Project,
    observed: &Observed,
    target: &Target,
    orphans: bool,
    purge: bool,
    ctx: &PlanContext,
) -> Planned {
    let known = |svc: &str| project.services.contains_key(svc) || svc == DNS_SERVICE;
    let group_of = |svc: &str, inst: &str| {
        project
            .entries
            .iter()
            .find(|e| e.service == svc && e.instance.as_deref() == Some(inst))
            .and_then(|e| e.group.as_deref())
    };
    let entry_index = |svc: &str, inst: &str| {
        project
            .entries
            .iter()
            .position(|e| e.service == svc && e.instance.as_deref() == Some(inst))
    };
    let mut selected: Vec<&crate::observed::ObservedContainer> = observed
        .containers
        .iter()
        .filter(|o| {
            let is_orphan = !known(&o.service);
            match target {
                Target::All => !is_orphan || orphans,
                _ => {
                    target.matches(&o.service, &o.instance, group_of(&o.service, &o.instance))
                        && (!is_orphan || orphans || matches!(target, Target::Select { .. }))
                }
            }
        })
        .collect();
    // reverse run order: later run.conf entries first, unknown ones before them, the DNS last
    selected.sort_by_key(|o| {
        (
            o.service == DNS_SERVICE,
            std::cmp::Reverse(
                entry_index(&o.service, &o.instance)
                    .map(|i| i as i64)
                    .unwrap_or(i64::MAX),
            ),
            o.name.clone(),
        )
    });
    let root = data_root(project, &ctx.host);
    let mut steps = Vec::new();
    for o in &selected {
        steps.push(Step::Remove {
            container: o.name.clone(),
            stop_timeout_s: STOP_TIMEOUT_S,
        });
        if purge {
            steps.push(Step::PurgeData {
                container: o.name.clone(),
                path: root.join(format!("{}-{}", o.service, o.instance)),
            });
        }
    }
    let left = observed
        .containers
        .iter()
        .filter(|o| !selected.iter().any(|s| s.name == o.name))
        .count();
    if left == 0 && observed.networks.contains(&project.name) {
        steps.push(Step::RemoveNetwork {
            name: project.name.clone(),
        });
    }
    Planned {
        plan: Plan {
            project: project.name.clone(),
            steps,
        },
        warnings: Vec::new(),
    }
}

// =============================================================================================
// Display: the `dops plan` / `--dry-run` text
// =============================================================================================

/// Mask the secret of a `DNS_KEY` value (`hmac-sha256:<name>:<secret>` → `hmac-sha256:<name>:****`).
pub fn mask_secret(name: &str, value: &str) -> String {
    if name != "DNS_KEY" {
        return value.to_string();
    }
    match value.rsplit_once(':') {
        Some((head, _)) => format!("{head}:****"),
        None => "****".to_string(),
    }
}

fn write_spec(f: &mut fmt::Formatter<'_>, s: &ContainerSpec) -> fmt::Result {
    let pad = "     ";
    writeln!(f, "{pad}hostname   {}", s.hostname)?;
    match &s.network {
        Some(n) => writeln!(f, "{pad}network    {n}")?,
        None => writeln!(f, "{pad}network    host")?,
    }
    let mut flags = Vec::new();
    if s.interactive {
        flags.push("interactive");
    }
    if s.safemode {
        flags.push("safemode");
    }
    if s.replace {
        flags.push("replace");
    }
    if !flags.is_empty() {
        writeln!(f, "{pad}flags      {}", flags.join(", "))?;
    }
    let width = s
        .env
        .iter()
        .map(|v| v.name.len() + 1 + value_len(v))
        .max()
        .unwrap_or(0);
    for (i, v) in s.env.iter().enumerate() {
        let label = if i == 0 { "env        " } else { "           " };
        let value = match &v.value {
            EnvValue::Literal(l) => mask_secret(&v.name, l),
            other => other.to_string(),
        };
        let text = format!("{}={}", v.name, value);
        writeln!(f, "{pad}{label}{text:<width$}  ({})", v.origin.as_str())?;
    }
    for (i, m) in s.mounts.iter().enumerate() {
        let label = if i == 0 { "mounts     " } else { "           " };
        let mut extra = Vec::new();
        if m.seed {
            extra.push("seed");
        }
        if m.read_only {
            extra.push("ro");
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        writeln!(
            f,
            "{pad}{label}{} -> {}{extra}",
            m.host.display(),
            m.container
        )?;
    }
    for (i, p) in s.ports.iter().enumerate() {
        let label = if i == 0 { "ports      " } else { "           " };
        let proto = p.protocol.as_str();
        writeln!(
            f,
            "{pad}{label}{}:{} -> {}/{proto}",
            p.host_ip, p.host_port, p.container_port
        )?;
    }
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(f, "{pad}labels     {}", labels.join(" "))?;
    if let Some(d) = &s.dns {
        writeln!(f, "{pad}dns        server {} zone {}", d.server, d.zone)?;
    }
    if !s.extra_args.is_empty() {
        writeln!(f, "{pad}extra args {}", s.extra_args.join(" "))?;
    }
    Ok(())
}

fn value_len(v: &EnvVar) -> usize {
    match &v.value {
        EnvValue::Literal(l) => mask_secret(&v.name, l).chars().count(),
        other => other.to_string().chars().count(),
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::EnsureNetwork { name, .. } => write!(f, "create network {name}"),
            Step::Build(b) => {
                write!(f, "build {}", b.image)?;
                if b.builtin {
                    write!(f, " (built-in)")?;
                } else {
                    write!(f, " from {}", b.context.display())?;
                }
                if !b.parents.is_empty() {
                    write!(f, " after {}", b.parents.join(", "))?;
                }
                if b.no_cache {
                    write!(f, " [no cache]")?;
                }
                Ok(())
            }
            Step::Run(s) => write!(f, "run {} ({}, type {})", s.name, s.image, s.instance_type),
            Step::AlreadyRunning { container } => write!(f, "keep {container} (already running)"),
            Step::Remove {
                container,
                stop_timeout_s,
            } => write!(f, "remove {container} (stop timeout {stop_timeout_s}s)"),
            Step::PurgeData { container, path } => {
                write!(f, "purge data of {container}: {}", path.display())
            }
            Step::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Step::Sleep { seconds } => write!(f, "sleep {seconds}s"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "plan for project {}: nothing to do", self.project);
        }
        let n = self.steps.len();
        writeln!(
            f,
            "plan for project {}: {n} step{}",
            self.project,
            if n == 1 { "" } else { "s" }
        )?;
        let w = n.to_string().len();
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "{:>w$}. {step}", i + 1)?;
            if let Step::Run(spec) = step {
                write_spec(f, spec)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::action::{CleanAction, Overrides};
    use crate::observed::ObservedContainer;
    use crate::project::{ProjectFiles, ServiceFiles};

    const RUN_CONF: &str = r#"
# a small platform
[
  {"service": "db", "instance": "master", "env_vars": {"DB_PASSWORD": "secret"}, "sleep": 2},
  {"service": "web", "instance": "one", "links": ["db-master:db"], "group": "front",
   "cfg": {"greeting": "hi"}, "volumes": ["shared:/shared:ro"]},
  {"service": "web", "instance": "published", "links": [{"name": "DB", "service": "db", "instance": null}],
   "env_vars": {"PUBLISH_ON_IP": "from_eth0"}, "dns_update_policy": "REPLACE", "group": "front"},
  {"service": "tool", "instance": "debug", "autorun": false}
]
"#;

    fn project_with(run_conf: &str, host_conf: Option<&str>) -> Project {
        let svc = |name: &str, dockerfile: &str, req: Option<&str>| ServiceFiles {
            name: name.into(),
            dockerfile: dockerfile.into(),
            required_env_vars: req.map(str::to_string),
        };
        Project::from_files(
            Path::new("/p/demo"),
            ProjectFiles {
                run_conf: Some(("run.conf".into(), run_conf.into())),
                host_conf: host_conf.map(str::to_string),
                services: vec![
                    svc("base", "FROM debian:12\n", None),
                    svc(
                        "db",
                        "FROM postgres:16\nEXPOSE 5432\n",
                        Some("[\"DB_PASSWORD\"]"),
                    ),
                    svc("tool", "FROM demo/base\n", None),
                    svc(
                        "web",
                        "FROM demo/base\nEXPOSE 80\n# dops: expose 443 as 8443\n",
                        None,
                    ),
                ],
            },
        )
        .unwrap()
    }

    fn project() -> Project {
        project_with(RUN_CONF, None)
    }

    fn ctx() -> PlanContext {
        let mut host = HostContext {
            hostname: "host1".into(),
            ..Default::default()
        };
        host.interfaces
            .insert("eth0".into(), std::net::Ipv4Addr::new(192, 168, 1, 10));
        PlanContext {
            host,
            dns_key: Some("hmac-sha256:demo:c2VjcmV0c2VjcmV0".into()),
            seed: 7,
        }
    }

    fn run(target: Target) -> Action {
        Action::Run(RunAction {
            target,
            overrides: Overrides::default(),
            replace: false,
            wait: false,
            timeout_s: None,
            dry_run: false,
        })
    }

    fn sel(service: &str, instance: Option<&str>) -> Target {
        Target::Select {
            service: service.into(),
            instance: instance.map(str::to_string),
        }
    }

    fn running(name: &str, service: &str, instance: &str) -> ObservedContainer {
        ObservedContainer {
            name: format!("demo-{name}"),
            service: service.into(),
            instance: instance.into(),
            state: "running".into(),
            ..Default::default()
        }
    }

    fn plan_text(p: &Project, o: &Observed, a: &Action) -> String {
        plan(p, o, a, &ctx()).unwrap().plan.to_string()
    }

    fn summary(p: &Project, o: &Observed, a: &Action) -> Vec<String> {
        plan(p, o, a, &ctx())
            .unwrap()
            .plan
            .steps
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn snapshot_run_all_from_nothing() {
        let text = plan_text(&project(), &Observed::default(), &run(Target::All));
        let expected = r#"plan for project demo: 10 steps
 1. create network demo
 2. build demo/base from /p/demo/services/base
 3. build demo/db from /p/demo/services/db
 4. build demo/dops-dns (built-in)
 5. build demo/web from /p/demo/services/web after base
 6. run demo-dops-dns-master (demo/dops-dns, type master)
     hostname   dops-dns-master
     network    demo
     env        DNS_KEY=hmac-sha256:demo:****  (dns)
                DNS_UPDATE_POLICY=HIDE         (dns)
                DNS_ZONE=local.zone            (dns)
                HOST_HOSTNAME=host1            (fixed)
                INSTANCE=master                (fixed)
                INSTANCE_TYPE=master           (fixed)
                INTERACTIVE=False              (fixed)
                PERSISTENT_DATA=False          (fixed)
                PERSISTENT_HOME=False          (fixed)
                PERSISTENT_LOG=False           (fixed)
                PERSISTENT_OPT=False           (fixed)
                SAFEMODE=False                 (fixed)
                SERVICE=dops-dns               (fixed)
     mounts     /p/demo/.dops/run/dops-dns-master -> /run/dops
     labels     io.dops.instance=master io.dops.instance_type=master io.dops.project=demo io.dops.service=dops-dns
 7. run demo-db-master (demo/db, type master)
     hostname   db-master
     network    demo
     env        DB_PASSWORD=secret                           (run.conf)
                DNS_KEY=hmac-sha256:demo:****                (dns)
                DNS_SERVICE_IP=<ip of demo-dops-dns-master>  (dns)
                DNS_UPDATE_POLICY=APPEND                     (dns)
                DNS_ZONE=local.zone                          (dns)
                HOST_HOSTNAME=host1                          (fixed)
                INSTANCE=master                              (fixed)
                INSTANCE_TYPE=master                         (fixed)
                INTERACTIVE=False                            (fixed)
                PERSISTENT_DATA=True                         (fixed)
                PERSISTENT_HOME=False                        (fixed)
                PERSISTENT_LOG=True                          (fixed)
                PERSISTENT_OPT=False                         (fixed)
                SAFEMODE=False                               (fixed)
                SERVICE=db                                   (fixed)
     mounts     /p/demo/.dops/run/db-master -> /run/dops
                /p/demo/data/db-master/data -> /data (seed)
                /p/demo/data/db-master/log -> /var/log (seed)
     ports      127.0.0.1:5432 -> 5432/tcp
     labels     io.dops.instance=master io.dops.instance_type=master io.dops.project=demo io.dops.service=db
     dns        server <ip of demo-dops-dns-master> zone local.zone
 8. sleep 2s
 9. run demo-web-one (demo/web, type standard)
     hostname   web-one
     network    demo
     env        CFG={"greeting":"hi"}                        (fixed)
                DB_SERVICE_IP=<ip of demo-db-master>         (link)
                DNS_KEY=hmac-sha256:demo:****                (dns)
                DNS_SERVICE_IP=<ip of demo-dops-dns-master>  (dns)
                DNS_UPDATE_POLICY=APPEND                     (dns)
                DNS_ZONE=local.zone                          (dns)
                HOST_HOSTNAME=host1                          (fixed)
                INSTANCE=one                                 (fixed)
                INSTANCE_TYPE=standard                       (fixed)
                INTERACTIVE=False                            (fixed)
                PERSISTENT_DATA=False                        (fixed)
                PERSISTENT_HOME=False                        (fixed)
                PERSISTENT_LOG=False                         (fixed)
                PERSISTENT_OPT=False                         (fixed)
                SAFEMODE=False                               (fixed)
                SERVICE=web                                  (fixed)
     mounts     /p/demo/.dops/run/web-one -> /run/dops
                /p/demo/shared -> /shared (ro)
     labels     io.dops.instance=one io.dops.instance_type=standard io.dops.project=demo io.dops.service=web
     dns        server <ip of demo-dops-dns-master> zone local.zone
10. run demo-web-published (demo/web, type published)
     hostname   web-published
     network    demo
     env        DB_SERVICE_IP=<ip of demo-db-master>         (link)
                DNS_KEY=hmac-sha256:demo:****                (dns)
                DNS_SERVICE_IP=<ip of demo-dops-dns-master>  (dns)
                DNS_UPDATE_POLICY=REPLACE                    (run.conf)
                DNS_ZONE=local.zone                          (dns)
                HOST_HOSTNAME=host1                          (fixed)
                INSTANCE=published                           (fixed)
                INSTANCE_TYPE=published                      (fixed)
                INTERACTIVE=False                            (fixed)
                PERSISTENT_DATA=False                        (fixed)
                PERSISTENT_HOME=False                        (fixed)
                PERSISTENT_LOG=False                         (fixed)
                PERSISTENT_OPT=False                         (fixed)
                PUBLISH_ON_IP=192.168.1.10                   (run.conf)
                SAFEMODE=False                               (fixed)
                SERVICE=web                                  (fixed)
     mounts     /p/demo/.dops/run/web-published -> /run/dops
     ports      192.168.1.10:80 -> 80/tcp
                192.168.1.10:8443 -> 443/tcp
     labels     io.dops.instance=published io.dops.instance_type=published io.dops.project=demo io.dops.service=web
     dns        server <ip of demo-dops-dns-master> zone local.zone
"#;
        assert_eq!(text, expected, "\n--- actual ---\n{text}");
    }

    #[test]
    fn against_a_running_platform_only_changes_show() {
        let p = project();
        let mut o = Observed::default();
        o.networks.push("demo".into());
        for img in ["demo/base", "demo/db", "demo/web", "demo/dops-dns:latest"] {
            o.images.insert(img.into(), "sha256:x".into());
        }
        o.containers
            .push(running("dops-dns-master", "dops-dns", "master"));
        o.containers.push(running("db-master", "db", "master"));
        let mut stopped = running("web-one", "web", "one");
        stopped.state = "exited".into();
        o.containers.push(stopped);
        assert_eq!(
            summary(&p, &o, &run(Target::All)),
            vec![
                "keep demo-dops-dns-master (already running)",
                "keep demo-db-master (already running)",
                "remove demo-web-one (stop timeout 10s)",
                "run demo-web-one (demo/web, type standard)",
                "run demo-web-published (demo/web, type published)",
            ]
        );
    }

    #[test]
    fn replace_and_rerun_remove_then_run() {
        let p = project();
        let mut o = Observed::default();
        o.networks.push("demo".into());
        for img in ["demo/base", "demo/db", "demo/web", "demo/dops-dns"] {
            o.images.insert(img.into(), "sha256:x".into());
        }
        o.containers
            .push(running("dops-dns-master", "dops-dns", "master"));
        o.containers.push(running("db-master", "db", "master"));
        o.containers.push(running("web-one", "web", "one"));
        let rerun = Action::Rerun(RunAction {
            target: sel("web", Some("one")),
            overrides: Overrides::default(),
            replace: true,
            wait: false,
            timeout_s: None,
            dry_run: false,
        });
        assert_eq!(
            summary(&p, &o, &rerun),
            vec![
                "remove demo-web-one (stop timeout 10s)",
                "run demo-web-one (demo/web, type standard)"
            ]
        );
        let Step::Run(spec) = &plan(&p, &o, &rerun, &ctx()).unwrap().plan.steps[1] else {
            panic!()
        };
        assert!(spec.replace);
        // without --replace: nothing to do but say so
        assert_eq!(
            summary(&p, &o, &run(sel("web", Some("one")))),
            vec!["keep demo-web-one (already running)"]
        );
    }

    #[test]
    fn build_all_in_order_with_the_builtin_dns() {
        let p = project();
        let b = Action::Build(crate::action::BuildAction {
            target: Target::All,
            no_cache: true,
            cause: None,
            dry_run: true,
        });
        let planned = plan(&p, &Observed::default(), &b, &ctx()).unwrap();
        assert_eq!(
            planned.plan.to_string(),
            "plan for project demo: 5 steps\n\
             1. build demo/base from /p/demo/services/base [no cache]\n\
             2. build demo/db from /p/demo/services/db [no cache]\n\
             3. build demo/dops-dns (built-in) [no cache]\n\
             4. build demo/tool from /p/demo/services/tool after base [no cache]\n\
             5. build demo/web from /p/demo/services/web after base [no cache]\n"
        );
        let Step::Build(dns) = &planned.plan.steps[2] else {
            panic!()
        };
        assert!(dns.builtin);
        // build:web builds web, and its parent only when that image is missing
        let bw = Action::Build(crate::action::BuildAction {
            target: sel("web", None),
            no_cache: false,
            cause: None,
            dry_run: true,
        });
        let mut o = Observed::default();
        assert_eq!(summary(&p, &o, &bw).len(), 2);
        o.images.insert("demo/base:latest".into(), "x".into());
        assert_eq!(
            summary(&p, &o, &bw),
            vec!["build demo/web from /p/demo/services/web after base"]
        );
    }

    #[test]
    fn run_all_refuses_interactive_instances() {
        let p = project_with(r#"[{"service": "web", "instance": "debug"}]"#, None);
        assert_eq!(
            plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap_err().to_string(),
            "run:all does not start interactive instances: web-debug is interactive (type debug); run it alone with 'dops run:web,instance=debug' or give it \"autorun\": false"
        );
        // named alone it is fine
        let planned = plan(
            &p,
            &Observed::default(),
            &run(sel("web", Some("debug"))),
            &ctx(),
        )
        .unwrap();
        let spec = planned.plan.steps.iter().find_map(|s| match s {
            Step::Run(spec) if spec.service == "web" => Some(spec),
            _ => None,
        });
        assert!(spec.unwrap().interactive && spec.unwrap().safemode);
    }

    #[test]
    fn autorun_false_runs_when_named() {
        let p = project();
        let steps = summary(&p, &Observed::default(), &run(sel("tool", Some("debug"))));
        assert!(
            steps.contains(&"run demo-tool-debug (demo/tool, type debug)".to_string()),
            "{steps:?}"
        );
    }

    #[test]
    fn dns_off_means_no_dns_anywhere() {
        let p = project_with(RUN_CONF, Some(r#"{"DNS": "off"}"#));
        let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
        for s in &planned.plan.steps {
            assert!(!s.to_string().contains("dops-dns"), "{s}");
            if let Step::Run(spec) = s {
                assert!(spec.dns.is_none());
                assert!(!spec
                    .env
                    .iter()
                    .any(|v| v.name.starts_with("DNS_") && v.name != "DNS_UPDATE_POLICY"));
            }
        }
    }

    #[test]
    fn a_projects_own_dops_dns_entry_keeps_working() {
        let p = project_with(
            r#"[{"service": "web", "instance": "one"},
                {"service": "dops-dns", "instance": "master", "env_vars": {"SERVICE_IP": "from_eth0"}, "sleep": 1}]"#,
            Some(r#"{"DNS_ZONE": "corp.zone"}"#),
        );
        let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
        let runs: Vec<&ContainerSpec> = planned
            .plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Run(spec) => Some(spec.as_ref()),
                _ => None,
            })
            .collect();
        assert_eq!(runs[0].name, "demo-dops-dns-master");
        // the entry's own settings: master type, so published and persistent
        assert!(runs[0].mounts.iter().any(|m| m.container == "/data"));
        assert_eq!(runs[1].name, "demo-web-one");
        assert_eq!(
            runs[1].dns,
            Some(DnsSettings {
                server: EnvValue::IpOf("demo-dops-dns-master".into()),
                zone: "corp.zone".into()
            })
        );
        assert!(planned
            .plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::Sleep { seconds } if *seconds == 1.0)));
    }

    #[test]
    fn random_instance_name_when_none() {
        let p = project_with(r#"[]"#, None);
        let planned = plan(&p, &Observed::default(), &run(sel("web", None)), &ctx()).unwrap();
        let spec = planned
            .plan
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Run(spec) if spec.service == "web" => Some(spec),
                _ => None,
            })
            .unwrap();
        assert_eq!(spec.instance, random_name(7, 1));
        assert_eq!(spec.instance_type, "standard");
    }

    #[test]
    fn wildcard_and_group_targets() {
        let p = project();
        let mut o = Observed::default();
        o.containers.push(running("db-master", "db", "master"));
        let names = |t: Target| -> Vec<String> {
            plan(&p, &o, &run(t), &ctx())
                .unwrap()
                .plan
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Run(spec) if spec.service != DNS_SERVICE => Some(spec.hostname.clone()),
                    Step::AlreadyRunning { container } => {
                        Some(container.trim_start_matches("demo-").to_string())
                    }
                    _ => None,
                })
                .collect()
        };
        assert_eq!(names(sel("w*", None)), vec!["web-one", "web-published"]);
        assert_eq!(names(sel("web", Some("p*"))), vec!["web-published"]);
        assert_eq!(names(sel("*", Some("master"))), vec!["db-master"]);
        assert_eq!(
            names(Target::Group {
                name: "front".into()
            }),
            vec!["web-one", "web-published"]
        );
        assert_eq!(
            plan(&p, &Observed::default(), &run(sel("wbe", None)), &ctx())
                .unwrap_err()
                .to_string(),
            "nothing in run.conf or services/ matches 'wbe' (did you mean 'web'?)"
        );
    }

    #[test]
    fn cli_overrides_win_in_the_plan() {
        let p = project();
        let a = Action::Run(RunAction {
            target: sel("db", Some("master")),
            overrides: Overrides {
                props: crate::project::props::Overrides {
                    persistent_data: Some(false),
                    publish_ports: Some(false),
                    persistent_opt: Some(true),
                    ..Default::default()
                },
                ..Default::default()
            },
            replace: false,
            wait: false,
            timeout_s: None,
            dry_run: true,
        });
        let planned = plan(&p, &Observed::default(), &a, &ctx()).unwrap();
        let spec = planned
            .plan
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Run(spec) if spec.service == "db" => Some(spec),
                _ => None,
            })
            .unwrap();
        let mounts: Vec<&str> = spec.mounts.iter().map(|m| m.container.as_str()).collect();
        assert_eq!(mounts, vec!["/run/dops", "/opt", "/var/log"]);
        assert!(spec.ports.is_empty());
    }

    #[test]
    fn link_to_several_warns_and_takes_the_first() {
        let p = project_with(
            r#"[{"service": "db", "instance": "a", "env_vars": {"DB_PASSWORD": "x"}},
                {"service": "db", "instance": "b", "env_vars": {"DB_PASSWORD": "x"}},
                {"service": "web", "instance": "one", "links": [{"name": "db", "service": "db", "instance": null}]}]"#,
            None,
        );
        let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
        assert_eq!(
            planned.warnings,
            vec!["web-one: link db (any instance of db) matches 2 instances; using demo-db-a"]
        );
        // a link to something neither planned nor running is an error
        let planned = plan(
            &p,
            &Observed::default(),
            &run(sel("web", Some("one"))),
            &ctx(),
        );
        assert_eq!(
            planned.unwrap_err().to_string(),
            "web-one: link db (any instance of db): no instance matches, running or planned (run it first, or set \"linked\": false)"
        );
        // ...unless it runs
        let mut o = Observed::default();
        o.containers.push(running("db-b", "db", "b"));
        let planned = plan(&p, &o, &run(sel("web", Some("one"))), &ctx()).unwrap();
        assert!(planned.warnings.is_empty());
        // linked=False skips links
        let a = Action::Run(RunAction {
            target: sel("web", Some("one")),
            overrides: Overrides {
                props: crate::project::props::Overrides {
                    linked: Some(false),
                    ..Default::default()
                },
                ..Default::default()
            },
            replace: false,
            wait: false,
            timeout_s: None,
            dry_run: false,
        });
        assert!(plan(&p, &Observed::default(), &a, &ctx()).is_ok());
    }

    #[test]
    fn the_same_host_port_twice_is_a_warning() {
        let p = project_with(
            r#"[{"service": "web", "instance": "a", "publish_ports": true},
                {"service": "web", "instance": "b", "publish_ports": true}]"#,
            None,
        );
        let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
        assert_eq!(
            planned.warnings,
            vec![
                "web-b and web-a both publish 127.0.0.1:80/tcp; the second will fail to start (set \"publish_ports\": false on one)",
                "web-b and web-a both publish 127.0.0.1:8443/tcp; the second will fail to start (set \"publish_ports\": false on one)",
            ]
        );
    }

    #[test]
    fn nethost_has_no_network_and_no_dns() {
        let p = project_with(
            r#"[{"service": "web", "instance": "one", "nethost": true}]"#,
            Some(r#"{"DNS": "off"}"#),
        );
        let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
        assert!(!planned
            .plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::EnsureNetwork { .. })));
        let Some(Step::Run(spec)) = planned.plan.steps.last() else {
            panic!()
        };
        assert_eq!(spec.network, None);
        assert!(spec.nethost);
    }

    #[test]
    fn missing_required_env_is_a_plan_error() {
        let p = project_with(r#"[{"service": "db", "instance": "one"}]"#, None);
        assert_eq!(
            plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap_err().to_string(),
            "db-one: required variable DB_PASSWORD is not set (required by services/db/required_env_vars.json; set it in run.conf env_vars, host.conf or the host environment)"
        );
        let mut c = ctx();
        c.host.env.insert("DB_PASSWORD".into(), "from-host".into());
        assert!(plan(&p, &Observed::default(), &run(Target::All), &c).is_ok());
    }

    #[test]
    fn data_dir_and_service_ip_for_ports() {
        let p = project_with(
            r#"[{"service": "web", "instance": "master", "env_vars": {"SERVICE_IP": "10.0.0.5"}}]"#,
            Some(r#"{"DATA_DIR": "/srv/data"}"#),
        );
        let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
        let Some(Step::Run(spec)) = planned.plan.steps.last() else {
            panic!()
        };
        assert_eq!(
            spec.mounts[1].host,
            PathBuf::from("/srv/data/web-master/data")
        );
        assert!(spec.mounts[1].seed);
        assert_eq!(spec.ports[0].host_ip, "10.0.0.5");
    }

    fn clean(target: Target, orphans: bool, purge: bool) -> Action {
        Action::Clean(CleanAction {
            target,
            orphans,
            purge,
            yes: true,
            dry_run: true,
        })
    }

    fn platform() -> Observed {
        let mut o = Observed::default();
        o.networks.push("demo".into());
        o.containers
            .push(running("dops-dns-master", "dops-dns", "master"));
        o.containers.push(running("db-master", "db", "master"));
        o.containers.push(running("web-one", "web", "one"));
        o.containers.push(running("gone-x", "gone", "x"));
        o
    }

    #[test]
    fn clean_all_keeps_orphans_and_data_by_default() {
        let p = project();
        assert_eq!(
            plan_text(&p, &platform(), &clean(Target::All, false, false)),
            "plan for project demo: 3 steps\n\
             1. remove demo-web-one (stop timeout 10s)\n\
             2. remove demo-db-master (stop timeout 10s)\n\
             3. remove demo-dops-dns-master (stop timeout 10s)\n"
        );
    }

    #[test]
    fn clean_all_with_orphans_and_purge() {
        let p = project();
        assert_eq!(
            plan_text(&p, &platform(), &clean(Target::All, true, true)),
            "plan for project demo: 9 steps\n\
             1. remove demo-gone-x (stop timeout 10s)\n\
             2. purge data of demo-gone-x: /p/demo/data/gone-x\n\
             3. remove demo-web-one (stop timeout 10s)\n\
             4. purge data of demo-web-one: /p/demo/data/web-one\n\
             5. remove demo-db-master (stop timeout 10s)\n\
             6. purge data of demo-db-master: /p/demo/data/db-master\n\
             7. remove demo-dops-dns-master (stop timeout 10s)\n\
             8. purge data of demo-dops-dns-master: /p/demo/data/dops-dns-master\n\
             9. remove network demo\n"
        );
    }

    #[test]
    fn clean_one_and_nothing() {
        let p = project();
        assert_eq!(
            summary(&p, &platform(), &clean(sel("web", None), false, false)),
            vec!["remove demo-web-one (stop timeout 10s)"]
        );
        assert_eq!(
            plan_text(&p, &Observed::default(), &clean(Target::All, false, false)),
            "plan for project demo: nothing to do\n"
        );
    }

    #[test]
    fn other_verbs_have_no_plan() {
        let a = Action::Ps(crate::action::PsAction {
            target: None,
            all: false,
        });
        assert_eq!(
            plan(&project(), &Observed::default(), &a, &ctx())
                .unwrap_err()
                .to_string(),
            "'ps' has no plan (plans exist for run, rerun, build and clean)"
        );
    }

    #[test]
    fn json_form_masks_the_key() {
        let planned = plan(&project(), &Observed::default(), &run(Target::All), &ctx()).unwrap();
        let j = crate::output::plan_json(&planned).to_string();
        assert!(!j.contains("c2VjcmV0c2VjcmV0"));
        assert!(j.contains("hmac-sha256:demo:****"));
        assert!(j.contains("\"step\":\"run\""));
        assert!(!planned.plan.to_string().contains("c2VjcmV0c2VjcmV0"));
        // the plan itself keeps the key for the engine
        assert!(format!("{:?}", planned.plan).contains("c2VjcmV0c2VjcmV0"));
    }
}

//! One instance's container, fully resolved: environment (with origins), mounts, ports, labels,
//! network and resolver. Pure; values known only at apply time stay `EnvValue::IpOf`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::context::{labels_for, PlanContext, PlanError};
use super::select::Chosen;
use super::step::{ContainerSpec, DnsKeyFile, DnsSettings, Mount, PortPublish};
use crate::dockerfile::Protocol;
use crate::labels;
use crate::project::env::{self, EnvInputs, EnvValue, EnvVar};
use crate::project::links::{self, LinkCandidates, LinkResolution};
use crate::project::policies::{default_log_opts, RestartPolicy};
use crate::project::values::{check_env_value, host_port, publish_port_var, ADDRESS_VARS};
use crate::project::{EngineKind, Project, RequiredVar};
use crate::state_file;
use crate::tsig_key::{self, InstanceIdentity, TsigKey, UpdatePolicy};

/// What every instance of one run plan shares.
pub(super) struct SpecContext<'a> {
    pub project: &'a Project,
    pub ctx: &'a PlanContext,
    /// What a link may name: this plan's instances first, then what runs.
    pub candidates: &'a LinkCandidates,
    /// The DNS instance's container and the zone, when the project runs the dops DNS.
    pub dns: Option<(&'a str, &'a str)>,
    /// Where persistent folders live.
    pub data_root: PathBuf,
}

/// What a swarm can't do the way run.conf asks: refused, never ignored.
fn swarm_refusals(c: &Chosen, env: &[EnvVar]) -> Result<(), PlanError> {
    let s = &c.settings;
    let refuse = |what: String, hint: &str| PlanError::Swarm {
        instance: s.hostname(),
        what,
        hint: hint.to_string(),
    };
    if s.props.nethost {
        return Err(refuse(
            "\"nethost\": true (a Swarm service can't share a node's network)".into(),
            "drop \"nethost\", or run this project with ENGINE local",
        ));
    }
    if s.props.interactive {
        return Err(refuse(
            "an interactive instance (dops attaches a terminal to a container it starts on this machine)".into(),
            "run it with --engine local, or use `dops shell` in a running instance",
        ));
    }
    if !c.entry.extra_args.is_empty() {
        return Err(refuse(
            format!(
                "\"extra_args\" {:?} (docker run options have no Swarm service equivalent dops could check)",
                c.entry.extra_args.args
            ),
            "drop \"extra_args\", or run this project with ENGINE local",
        ));
    }
    if let Some(v) = c.entry.volumes.first() {
        return Err(refuse(
            format!(
                "\"volumes\" binds {} of this machine, which no node has",
                v.host
            ),
            "use a persistent instance type (a volume on its node), or ENGINE local",
        ));
    }
    for name in ADDRESS_VARS {
        if let Some(v) = env.iter().find(|v| v.name == *name) {
            if matches!(&v.value, EnvValue::Literal(x) if !x.is_empty()) {
                return Err(refuse(
                    format!(
                        "{} (from {}): a Swarm publishes host-mode ports on every address of the instance's node",
                        v.name,
                        v.origin.as_str()
                    ),
                    "unset it for this project (firewall the nodes instead), or ENGINE local",
                ));
            }
        }
    }
    Ok(())
}

fn bool_str(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

impl SpecContext<'_> {
    fn swarm(&self) -> bool {
        self.ctx.engine == EngineKind::Swarm
    }

    /// How an instance is given another's address: resolved at apply time on one engine (it is
    /// known once that container runs); its name on a swarm (the engine's DNS follows it from
    /// node to node; the health check keeps it out until UP).
    fn address_of(&self, container: String) -> EnvValue {
        if self.swarm() {
            let host = container
                .strip_prefix(&format!("{}-", self.project.name))
                .unwrap_or(&container)
                .to_string();
            EnvValue::Literal(host)
        } else {
            EnvValue::IpOf(container)
        }
    }

    /// The machine an instance runs on: this one, or on a swarm its node (a Swarm template the
    /// engine fills per task).
    fn host_hostname(&self) -> String {
        if self.swarm() {
            "{{.Node.Hostname}}".to_string()
        } else {
            self.ctx.host.hostname.clone()
        }
    }

    /// The container of one chosen instance; warnings (a link matching several) are added.
    pub fn container_spec(
        &self,
        c: &Chosen,
        warnings: &mut Vec<String>,
    ) -> Result<ContainerSpec, PlanError> {
        let s = &c.settings;
        let project = self.project;
        let env = self.env(c, warnings)?;
        check_values(&s.hostname(), &env)?;
        if self.swarm() {
            swarm_refusals(c, &env)?;
        }
        let dns_key = self.dns_key(c, &env)?;
        let mounts = self.mounts(c);
        let ports = self.ports(c, &env)?;
        let mut labels = labels_for(
            &project.name,
            &s.service,
            Some((&s.instance, s.instance_type.as_str())),
        );
        labels.insert(labels::CONF.into(), project.conf_file.clone());
        if c.unnamed {
            labels.insert(labels::UNNAMED.into(), "true".into());
        }
        Ok(ContainerSpec {
            name: c.container.clone(),
            hostname: s.hostname(),
            image: project.image(&s.service),
            service: s.service.clone(),
            instance: s.instance.clone(),
            instance_type: s.instance_type.to_string(),
            env,
            mounts,
            ports,
            labels,
            network: (!s.props.nethost).then(|| project.name.clone()),
            nethost: s.props.nethost,
            interactive: s.props.interactive,
            safemode: s.props.safemode,
            dns: match self.dns {
                // On a swarm the instances keep the engine's resolver (service names, UP-gated
                // by the health check); the dops DNS is reached by name.
                _ if self.swarm() => None,
                Some((server, zone)) if !c.is_dns && !s.props.nethost => Some(DnsSettings {
                    server: EnvValue::IpOf(server.to_string()),
                    zone: zone.to_string(),
                }),
                _ => None,
            },
            dns_key,
            extra_args: c.entry.extra_args.clone(),
            // Instances come back by themselves (after a crash, after the engine restarts), but
            // for the interactive ones, whose terminal is gone.
            restart: c.entry.restart.unwrap_or(if s.props.interactive {
                RestartPolicy::No
            } else {
                RestartPolicy::UnlessStopped
            }),
            log_opts: c.entry.log_opts.clone().unwrap_or_else(default_log_opts),
            pinned: c.is_dns && !s.props.nethost && !self.swarm(),
            placement: None,
            after: Vec::new(),
        })
    }

    /// The environment, resolved in the documented order (see `project::env`).
    fn env(&self, c: &Chosen, warnings: &mut Vec<String>) -> Result<Vec<EnvVar>, PlanError> {
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
            ("HOST_HOSTNAME".to_string(), self.host_hostname()),
        ];
        if let Some(cfg) = &e.cfg {
            fixed.push(("CFG".to_string(), cfg.to_string()));
        }

        let mut link_vars = Vec::new();
        if s.props.linked {
            for l in &e.links {
                match links::resolve(l, &c.container, self.candidates) {
                    LinkResolution::One(target) => {
                        link_vars.push((l.var_name(), self.address_of(target)))
                    }
                    LinkResolution::FirstOf(target, n) => {
                        warnings.push(format!(
                            "{hostname}: link {} matches {n} instances; using {target}",
                            l.describe()
                        ));
                        link_vars.push((l.var_name(), self.address_of(target)));
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
        if let Some((server, zone)) = self.dns {
            if !c.is_dns {
                dns_vars.push((
                    "DNS_SERVICE_IP".to_string(),
                    self.address_of(server.to_string()),
                ));
            }
            dns_vars.push(("DNS_ZONE".to_string(), lit(zone)));
            if self.project_key().is_some() {
                // The key is a file in the run folder, never in the environment.
                dns_vars.push((
                    "DNS_KEY_FILE".to_string(),
                    lit(&format!(
                        "{}/{}",
                        state_file::RUN_DIR_IN_CONTAINER,
                        tsig_key::KEY_FILE_NAME
                    )),
                ));
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

        let required: &[RequiredVar] = self
            .project
            .services
            .get(&s.service)
            .map(|s| s.required.as_slice())
            .unwrap_or(&[]);
        Ok(env::resolve(&EnvInputs {
            instance: &hostname,
            required,
            required_file: format!("services/{}/required_env_vars.json", s.service),
            run_conf: &run_conf,
            fixed,
            links: link_vars,
            dns: dns_vars,
            host: &self.ctx.host,
            host_conf: &self.project.host_conf,
            command_line: &c.cli_env,
        })?)
    }

    fn project_key(&self) -> Option<TsigKey> {
        self.dns?;
        TsigKey::parse(self.ctx.dns_key.as_deref()?).ok()
    }

    /// The instance's DNS key file: its own key, derived from the project key for its service,
    /// instance and resolved `DNS_UPDATE_POLICY` (the DNS server: the project key).
    fn dns_key(&self, c: &Chosen, env: &[EnvVar]) -> Result<Option<DnsKeyFile>, PlanError> {
        let Some(project) = self.project_key() else {
            return Ok(None);
        };
        let s = &c.settings;
        // The run folder of the container; a replacement's own folder is set with its mount.
        let host = (!self.swarm()).then(|| {
            state_file::host_run_dir(&self.project.dir, &s.service, &s.instance)
                .join(tsig_key::KEY_FILE_NAME)
        });
        let container = format!(
            "{}/{}",
            state_file::RUN_DIR_IN_CONTAINER,
            tsig_key::KEY_FILE_NAME
        );
        if c.is_dns {
            return Ok(Some(DnsKeyFile {
                host,
                container,
                key_name: project.name.clone(),
                scope: "project".into(),
                key: project,
            }));
        }
        let policy = match env.iter().find(|v| v.name == "DNS_UPDATE_POLICY") {
            None => UpdatePolicy::Append,
            Some(v) => match &v.value {
                EnvValue::Literal(text) if text.trim().is_empty() => UpdatePolicy::Append,
                EnvValue::Literal(text) => {
                    UpdatePolicy::parse(text).ok_or_else(|| PlanError::DnsPolicy {
                        instance: s.hostname(),
                        value: text.clone(),
                        origin: v.origin.as_str().to_string(),
                    })?
                }
                other => {
                    return Err(PlanError::DnsPolicy {
                        instance: s.hostname(),
                        value: other.to_string(),
                        origin: v.origin.as_str().to_string(),
                    })
                }
            },
        };
        let id = InstanceIdentity::new(&s.service, &s.instance, policy);
        let key = tsig_key::instance_key(&project, &id).map_err(|e| PlanError::DnsKey {
            instance: s.hostname(),
            why: e.to_string(),
        })?;
        Ok(Some(DnsKeyFile {
            host,
            container,
            key_name: key.name.clone(),
            scope: "instance".into(),
            key,
        }))
    }

    /// The state folder, then persistent folders, then run.conf volumes.
    ///
    /// On a swarm: no state folder (nothing of this machine reaches a node), and persistent
    /// folders are named volumes on the instance's node (Docker fills an empty one from the
    /// image, as dops seeds a host folder).
    fn mounts(&self, c: &Chosen) -> Vec<Mount> {
        let s = &c.settings;
        let project = self.project;
        let mut mounts = Vec::new();
        if !self.swarm() {
            mounts.push(Mount {
                host: state_file::host_run_dir(&project.dir, &s.service, &s.instance),
                container: state_file::RUN_DIR_IN_CONTAINER.to_string(),
                seed: false,
                read_only: false,
                volume: None,
            });
        }
        let pdir = self.data_root.join(s.hostname());
        for (on, sub, path) in [
            (s.props.persistent_data, "data", "/data"),
            (s.props.persistent_opt, "opt", "/opt"),
            (s.props.persistent_log, "log", "/var/log"),
            (s.props.persistent_home, "home", "/home"),
        ] {
            if on && self.swarm() {
                mounts.push(Mount {
                    host: PathBuf::new(),
                    container: path.to_string(),
                    seed: true,
                    read_only: false,
                    volume: Some(format!("{}-{sub}", c.container)),
                });
            } else if on {
                mounts.push(Mount {
                    host: pdir.join(sub),
                    container: path.to_string(),
                    seed: true,
                    read_only: false,
                    volume: None,
                });
            }
        }
        for v in &c.entry.volumes {
            mounts.push(Mount {
                host: project.dir.join(&v.host),
                container: v.container.clone(),
                seed: false,
                read_only: v.read_only,
                volume: None,
            });
        }
        mounts
    }

    /// The image's ports on `PUBLISH_ON_IP`, else `SERVICE_IP`, else loopback; each on the host
    /// port its `PUBLISH_PORT_<port>` variable names, else the Dockerfile's. A value that is not
    /// an address or a port is an error (never a wider bind than asked).
    fn ports(&self, c: &Chosen, env: &[EnvVar]) -> Result<Vec<PortPublish>, PlanError> {
        let s = &c.settings;
        let instance = s.hostname();
        // A swarm publishes in host mode on every address of the instance's node.
        let host_ip = if self.swarm() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            publish_address(&instance, env)?
        };
        let Some(svc) = self.project.services.get(&s.service) else {
            return Ok(Vec::new());
        };
        if !s.props.publish_ports || s.props.nethost {
            return Ok(Vec::new());
        }
        svc.ports
            .iter()
            .map(|p| {
                Ok(PortPublish {
                    container_port: p.container,
                    protocol: p.protocol,
                    host_ip,
                    host_port: chosen_host_port(&instance, env, p.container, p.protocol)?
                        .unwrap_or(p.host),
                })
            })
            .collect()
    }
}

/// The values dops acts on, once resolved (the host environment may have overridden what the
/// files say; the files' own values were checked at load time, with their line).
fn check_values(instance: &str, env: &[EnvVar]) -> Result<(), PlanError> {
    for v in env {
        if let EnvValue::Literal(value) = &v.value {
            check_env_value(&v.name, value).map_err(|why| PlanError::BadValue {
                instance: instance.to_string(),
                name: v.name.clone(),
                origin: v.origin.as_str().to_string(),
                why,
            })?;
        }
    }
    Ok(())
}

/// The host port `PUBLISH_PORT_<port>` (`_UDP`) chooses for a container port, if set.
fn chosen_host_port(
    instance: &str,
    env: &[EnvVar],
    container_port: u16,
    protocol: Protocol,
) -> Result<Option<u16>, PlanError> {
    let name = publish_port_var(container_port, protocol);
    let Some(v) = env.iter().find(|v| v.name == name) else {
        return Ok(None);
    };
    let EnvValue::Literal(value) = &v.value else {
        return Ok(None);
    };
    host_port(value).map_err(|why| PlanError::BadValue {
        instance: instance.to_string(),
        name: v.name.clone(),
        origin: v.origin.as_str().to_string(),
        why,
    })
}

/// Where published ports bind: `PUBLISH_ON_IP`, else `SERVICE_IP` (non-empty literals), else
/// 127.0.0.1.
fn publish_address(instance: &str, env: &[EnvVar]) -> Result<IpAddr, PlanError> {
    for name in ADDRESS_VARS {
        let Some(v) = env.iter().find(|v| v.name == *name) else {
            continue;
        };
        let EnvValue::Literal(value) = &v.value else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        return value.parse().map_err(|_| PlanError::BadValue {
            instance: instance.to_string(),
            name: v.name.clone(),
            origin: v.origin.as_str().to_string(),
            why: format!("{value:?} is not an IP address"),
        });
    }
    Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

//! One instance's container, fully resolved: environment (with origins), mounts, ports, labels,
//! network and resolver. Pure; values known only at apply time stay `EnvValue::IpOf`.

use std::path::PathBuf;

use super::context::{labels_for, PlanContext, PlanError};
use super::select::Chosen;
use super::step::{ContainerSpec, DnsKeyFile, DnsSettings, Mount, PortPublish};
use crate::project::env::{self, EnvInputs, EnvValue, EnvVar};
use crate::project::links::{self, LinkCandidate, LinkResolution};
use crate::project::{Project, RequiredVar};
use crate::state_file;
use crate::tsig_key::{self, InstanceIdentity, TsigKey, UpdatePolicy};

/// What every instance of one run plan shares.
pub(super) struct SpecContext<'a> {
    pub project: &'a Project,
    pub ctx: &'a PlanContext,
    /// What a link may name: this plan's instances first, then what runs.
    pub candidates: &'a [LinkCandidate],
    /// The DNS instance's container and the zone, when the project runs the dops DNS.
    pub dns: Option<(&'a str, &'a str)>,
    /// Where persistent folders live.
    pub data_root: PathBuf,
    /// `--replace` / `rerun`.
    pub replace: bool,
}

fn bool_str(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

impl SpecContext<'_> {
    /// The container of one chosen instance; warnings (a link matching several) are added.
    pub fn container_spec(
        &self,
        c: &Chosen,
        warnings: &mut Vec<String>,
    ) -> Result<ContainerSpec, PlanError> {
        let s = &c.settings;
        let project = self.project;
        let env = self.env(c, warnings)?;
        let dns_key = self.dns_key(c, &env)?;
        let mounts = self.mounts(c);
        let ports = self.ports(c, &env);
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
            labels: labels_for(
                &project.name,
                &s.service,
                Some((&s.instance, s.instance_type.as_str())),
            ),
            network: (!s.props.nethost).then(|| project.name.clone()),
            nethost: s.props.nethost,
            interactive: s.props.interactive,
            safemode: s.props.safemode,
            dns: match self.dns {
                Some((server, zone)) if !c.is_dns && !s.props.nethost => Some(DnsSettings {
                    server: EnvValue::IpOf(server.to_string()),
                    zone: zone.to_string(),
                }),
                _ => None,
            },
            dns_key,
            extra_args: c.entry.extra_args.clone(),
            replace: self.replace,
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
            ("HOST_HOSTNAME".to_string(), self.ctx.host.hostname.clone()),
        ];
        if let Some(cfg) = &e.cfg {
            fixed.push(("CFG".to_string(), cfg.to_string()));
        }

        let mut link_vars = Vec::new();
        if s.props.linked {
            for l in &e.links {
                match links::resolve(l, &c.container, self.candidates) {
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
        if let Some((server, zone)) = self.dns {
            if !c.is_dns {
                dns_vars.push((
                    "DNS_SERVICE_IP".to_string(),
                    EnvValue::IpOf(server.to_string()),
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
        let host = state_file::host_run_dir(&self.project.dir, &s.service, &s.instance)
            .join(tsig_key::KEY_FILE_NAME);
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
    fn mounts(&self, c: &Chosen) -> Vec<Mount> {
        let s = &c.settings;
        let project = self.project;
        let mut mounts = vec![Mount {
            host: state_file::host_run_dir(&project.dir, &s.service, &s.instance),
            container: state_file::RUN_DIR_IN_CONTAINER.to_string(),
            seed: false,
            read_only: false,
        }];
        let pdir = self.data_root.join(s.hostname());
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
        for v in &c.entry.volumes {
            mounts.push(Mount {
                host: project.dir.join(&v.host),
                container: v.container.clone(),
                seed: false,
                read_only: v.read_only,
            });
        }
        mounts
    }

    /// The image's ports on `PUBLISH_ON_IP`, else `SERVICE_IP`, else loopback.
    fn ports(&self, c: &Chosen, env: &[EnvVar]) -> Vec<PortPublish> {
        let s = &c.settings;
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
        match self.project.services.get(&s.service) {
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
        }
    }
}

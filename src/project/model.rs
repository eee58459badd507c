//! The project model: services, run.conf entries, host.conf, the build order, and its
//! validation (`Project::from_files`, pure).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::hostconf::{self, HostConf, RequiredVar};
use super::policies::Dependency;
use super::runconf::{self, ConfigError, RunConfEntry};
use crate::build_order::{self, BuildOrderError, ParentRef};
use crate::dockerfile;
use crate::dockerfile::{DockerfileInfo, ExposedPort};

/// The built-in DNS service.
pub const DNS_SERVICE: &str = "dops-dns";
/// Its instance.
pub const DNS_INSTANCE: &str = "master";
/// The default DNS zone.
pub const DEFAULT_ZONE: &str = "local.zone";

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    BuildOrder(#[from] BuildOrderError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{dir} is not a dops project: it has no services/ folder and no run.conf (use --project DIR, or 'dops install_demo' for an example)")]
    NotAProject { dir: String },
    #[error("no run conf '{file}' in {dir}{}", if .available.is_empty() { String::new() } else { format!(" (available: {})", .available.join(", ")) })]
    NoConf {
        file: String,
        dir: String,
        available: Vec<String>,
    },
    #[error("{path} is {size} bytes ({}): over the {} MiB limit of a dops configuration file", mib(*.size), .limit / (1024 * 1024))]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: line {line}, col {col}: invalid UTF-8 at byte {offset} ({bytes})\nhint: dops files are UTF-8 text; convert it (e.g. iconv -f latin1 -t utf-8)")]
    NotUtf8 {
        path: String,
        line: usize,
        col: usize,
        offset: usize,
        bytes: String,
    },
    #[error("{path} is not a regular file")]
    NotAFile { path: String },
    #[error("cannot derive a project name from {dir:?}: set \"PROJECT\" in host.conf")]
    NoName { dir: String },
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// One service: `services/<name>/` with a Dockerfile, or a built-in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    /// The build context (empty for built-in services: the engine has them embedded).
    pub dir: PathBuf,
    pub builtin: bool,
    /// Project services this one is built FROM.
    pub parents: Vec<String>,
    /// Ports to publish, inherited ones included.
    pub ports: Vec<ExposedPort>,
    pub required: Vec<RequiredVar>,
}

/// A loaded, validated project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    /// The run conf file name (`run.conf`, `prod.conf`, ...).
    pub conf_file: String,
    pub entries: Vec<RunConfEntry>,
    pub services: BTreeMap<String, Service>,
    /// Every service, parents first.
    pub build_order: Vec<String>,
    #[serde(skip)]
    pub graph: BTreeMap<String, Vec<ParentRef>>,
    pub host_conf: HostConf,
    /// What the files say that dops cannot use but that does not stop it (a port it will not
    /// publish), for the plans that involve the service.
    pub warnings: Vec<LoadWarning>,
}

/// A load-time warning, about one service's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadWarning {
    pub service: String,
    /// `services/web/Dockerfile:3: EXPOSE 99999: …`
    pub text: String,
}

/// The raw files of a project (what `load` reads).
#[derive(Debug, Clone, Default)]
pub struct ProjectFiles {
    /// The run conf file name and its text (None: no run conf, an empty platform).
    pub run_conf: Option<(String, String)>,
    pub host_conf: Option<String>,
    pub services: Vec<ServiceFiles>,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceFiles {
    pub name: String,
    pub dockerfile: String,
    pub required_env_vars: Option<String>,
}

/// The project name from a folder name: lowercased, other characters than `[a-z0-9_.-]` → `-`.
pub fn name_from_dir(dir: &Path) -> Option<String> {
    let raw = dir.file_name()?.to_string_lossy().to_lowercase();
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches(['-', '_', '.']).to_string();
    (!name.is_empty()).then_some(name)
}

impl Project {
    /// Build and validate the model from the files (pure).
    pub fn from_files(dir: &Path, files: ProjectFiles) -> Result<Project, ProjectError> {
        let host_conf = match &files.host_conf {
            Some(text) => hostconf::parse("host.conf", text)?,
            None => HostConf::default(),
        };
        let name = match &host_conf.project {
            Some(n) => n.clone(),
            None => name_from_dir(dir).ok_or_else(|| ProjectError::NoName {
                dir: dir.display().to_string(),
            })?,
        };
        let (conf_file, entries) = match &files.run_conf {
            Some((file, text)) => (file.clone(), runconf::parse(file, text)?),
            None => ("run.conf".to_string(), Vec::new()),
        };

        let mut services = BTreeMap::new();
        let mut infos: BTreeMap<String, DockerfileInfo> = BTreeMap::new();
        let mut graph: BTreeMap<String, Vec<ParentRef>> = BTreeMap::new();
        let prefix = format!("{name}/");
        let mut warnings = Vec::new();
        for sf in &files.services {
            let info = dockerfile::parse(&sf.dockerfile);
            warnings.extend(info.warnings.iter().map(|w| LoadWarning {
                service: sf.name.clone(),
                text: format!("services/{}/Dockerfile:{}: {}", sf.name, w.line, w.msg),
            }));
            let mut parents: Vec<ParentRef> = Vec::new();
            for f in info.external_bases() {
                if let Some(rest) = f.image.strip_prefix(&prefix) {
                    let parent = rest.split([':', '@']).next().unwrap_or(rest).to_string();
                    if !parents.iter().any(|p| p.parent == parent) {
                        parents.push(ParentRef {
                            parent,
                            image: f.image.clone(),
                            line: f.line,
                        });
                    }
                }
            }
            let required = match &sf.required_env_vars {
                Some(text) => hostconf::parse_required(
                    &format!("services/{}/required_env_vars.json", sf.name),
                    text,
                )?,
                None => Vec::new(),
            };
            graph.insert(sf.name.clone(), parents.clone());
            services.insert(
                sf.name.clone(),
                Service {
                    name: sf.name.clone(),
                    dir: dir.join("services").join(&sf.name),
                    builtin: false,
                    parents: parents.into_iter().map(|p| p.parent).collect(),
                    ports: Vec::new(),
                    required,
                },
            );
            infos.insert(sf.name.clone(), info);
        }
        let dns_on = host_conf.dns
            && !entries
                .iter()
                .any(|e| e.service == DNS_SERVICE && !e.autorun);
        if dns_on && !services.contains_key(DNS_SERVICE) {
            graph.insert(DNS_SERVICE.to_string(), Vec::new());
            services.insert(
                DNS_SERVICE.to_string(),
                Service {
                    name: DNS_SERVICE.to_string(),
                    dir: PathBuf::new(),
                    builtin: true,
                    parents: Vec::new(),
                    ports: Vec::new(),
                    required: Vec::new(),
                },
            );
        }
        let order = build_order::order(&graph)?;
        // ports: parents' ports first (inherited through the final stage), then the service's own
        let mut ports: BTreeMap<String, Vec<ExposedPort>> = BTreeMap::new();
        for s in &order {
            let own = infos.get(s).map(|i| i.ports.clone()).unwrap_or_default();
            let inherited = infos
                .get(s)
                .and_then(|i| i.final_base())
                .and_then(|b| b.strip_prefix(&prefix))
                .map(|b| b.split([':', '@']).next().unwrap_or(b))
                .and_then(|parent| ports.get(parent).cloned())
                .unwrap_or_default();
            ports.insert(s.clone(), dockerfile::merge_ports(inherited, own));
        }
        for (s, p) in ports {
            if let Some(svc) = services.get_mut(&s) {
                svc.ports = p;
            }
        }

        // every entry names a known service
        let cx = runconf::Ctx { file: &conf_file };
        let known: BTreeSet<&str> = services
            .keys()
            .map(String::as_str)
            .chain([DNS_SERVICE])
            .collect();
        let mut entries = entries;
        for e in &mut entries {
            // `depends_on: "db-master"` names an instance of `db` when there is no service
            // `db-master`; a dependency on a service dops does not know is an error.
            for (j, d) in e.depends_on.iter_mut().enumerate() {
                if d.instance.is_none() && !known.contains(d.service.as_str()) {
                    let resolved = Dependency::from_name(&d.service, &|s| known.contains(s));
                    if known.contains(resolved.service.as_str()) {
                        d.service = resolved.service;
                        d.instance = resolved.instance;
                    }
                }
                if !known.contains(d.service.as_str()) {
                    let hint = crate::suggest::closest(&d.service, known.iter().copied())
                        .map(|c| format!(" (did you mean {c:?}?)"))
                        .unwrap_or_default();
                    return Err(cx
                        .err(
                            e.pos,
                            &format!("[{}].depends_on[{j}]", e.index),
                            format!("unknown service {:?}{hint}", d.service),
                        )
                        .into());
                }
            }
        }
        for e in &entries {
            if !known.contains(e.service.as_str()) {
                let hint = match crate::suggest::closest(&e.service, known.iter().copied()) {
                    Some(c) => format!(" (did you mean {c:?}?)"),
                    None => format!(
                        " (services/ has: {})",
                        services.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                return Err(cx
                    .err(
                        e.service_pos,
                        &format!("[{}].service", e.index),
                        format!("unknown service {:?}{hint}", e.service),
                    )
                    .into());
            }
        }

        Ok(Project {
            name,
            dir: dir.to_path_buf(),
            conf_file,
            entries,
            services,
            build_order: order,
            graph,
            host_conf,
            warnings,
        })
    }

    /// Is the built-in DNS on? Off with host.conf `"DNS": "off"` or a run.conf entry for
    /// `dops-dns` with `"autorun": false`.
    pub fn dns_enabled(&self) -> bool {
        self.host_conf.dns
            && !self
                .entries
                .iter()
                .any(|e| e.service == DNS_SERVICE && !e.autorun)
    }

    /// The DNS zone: host.conf `DNS_ZONE`, else `local.zone`.
    pub fn dns_zone(&self) -> String {
        self.host_conf
            .get("DNS_ZONE")
            .unwrap_or(DEFAULT_ZONE)
            .to_string()
    }

    /// `<project>-<service>-<instance>`
    pub fn container_name(&self, service: &str, instance: &str) -> String {
        format!("{}-{service}-{instance}", self.name)
    }

    /// `<project>/<service>`
    pub fn image(&self, service: &str) -> String {
        format!("{}/{service}", self.name)
    }
}

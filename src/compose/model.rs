//! The Compose model: what of a Compose file dops can use, each piece with its position, read
//! from the YAML tree. Keys that do not carry over become findings here; `x-*` keys are ignored
//! silently, as Compose does.

use crate::dockerfile::Protocol;

use super::reader::{Reader, Res};
use super::yaml::{Entry, Node, Pos, Value};

#[derive(Debug, Clone, Default)]
pub struct Compose {
    pub name: Option<String>,
    pub services: Vec<Service>,
    /// Top-level named volumes.
    pub volumes: Vec<String>,
    pub secrets: Vec<FileObject>,
    pub configs: Vec<FileObject>,
    /// Top-level networks (name, position).
    pub networks: Vec<(String, Pos)>,
    /// Where `networks:` is, for the finding about several networks.
    pub networks_pos: Option<Pos>,
}

/// A top-level secret or config.
#[derive(Debug, Clone)]
pub struct FileObject {
    pub name: String,
    pub source: FileSource,
    pub pos: Pos,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileSource {
    /// `file:` (as written, relative to the Compose file).
    File(String),
    /// `content:` (configs only), already interpolated.
    Content(String),
    /// `environment:` VAR.
    Environment(String),
    External,
}

#[derive(Debug, Clone, Default)]
pub struct Service {
    /// As Compose names it.
    pub name: String,
    pub pos: Pos,
    pub image: Option<(String, Pos)>,
    pub build: Option<Build>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env_files: Vec<EnvFileRef>,
    /// `KEY=VALUE`; None = taken from the environment when the service starts.
    pub environment: Vec<(String, Option<String>, Pos)>,
    pub ports: Vec<Port>,
    pub expose: Vec<(u16, Protocol, Pos)>,
    pub mounts: Vec<Mount>,
    pub depends_on: Vec<Dep>,
    pub replicas: Option<(u64, Pos)>,
    pub restart: Option<(String, Pos)>,
    pub healthcheck: Option<Health>,
    pub profiles: Vec<(String, Pos)>,
    pub secrets: Vec<FileUse>,
    pub configs: Vec<FileUse>,
    pub networks: Vec<(String, Pos)>,
    pub nethost: bool,
    pub labels: Vec<(String, String)>,
    pub working_dir: Option<String>,
    /// `docker run` flags dops' run.conf `extra_args` understands.
    pub extra_args: Vec<String>,
    pub log_opts: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Build {
    /// As written (default `.`), relative to the Compose file.
    pub context: String,
    pub dockerfile: Option<String>,
    pub inline: Option<String>,
    pub target: Option<(String, Pos)>,
    pub args: Vec<(String, Option<String>, Pos)>,
    pub labels: Vec<(String, String)>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct EnvFileRef {
    pub path: String,
    pub required: bool,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub container: u16,
    /// None: Compose picks a free host port.
    pub host: Option<u16>,
    pub ip: Option<String>,
    pub protocol: Protocol,
    pub pos: Pos,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MountSource {
    /// A top-level named volume.
    Named(String),
    /// A host path as written (`./x`, `/x`, `~/x`).
    Bind(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
    pub pos: Pos,
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    Completed,
}

#[derive(Debug, Clone)]
pub struct Dep {
    pub service: String,
    pub condition: Condition,
    pub pos: Pos,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HealthTest {
    /// `["CMD", …]`: run directly.
    Cmd(Vec<String>),
    /// `["CMD-SHELL", "…"]` or a string: run with `/bin/sh -c`.
    Shell(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub test: HealthTest,
    pub interval: f64,
    pub timeout: f64,
    pub retries: u64,
    pub start_period: f64,
    pub start_interval: f64,
    pub pos: Pos,
}

/// A service's use of a secret or a config.
#[derive(Debug, Clone)]
pub struct FileUse {
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    pub pos: Pos,
    pub key: String,
}

/// Keys Compose knows that dops has nothing for, and why.
fn no_equivalent(key: &str) -> Option<&'static str> {
    const LIMITS: &str = "dops sets no resource limits";
    Some(match key {
        "container_name" => "dops names containers <project>-<service>-<instance>",
        "hostname" | "domainname" => "dops sets the hostname to <service>-<instance>",
        "user" => "the container runs as the image's user (dops-init is PID 1); a program in /dops/init.d can name a user",
        "links" | "external_links" => "service names resolve through the dops DNS (no link aliases)",
        "tmpfs" => "dops has no tmpfs mounts",
        "stop_signal" => "dops-init receives the stop signal and stops the program with SIGTERM",
        "stop_grace_period" => "dops stops a container with a 10 s grace",
        "tty" | "stdin_open" => "dops runs instances detached, without a terminal",
        "cpus" | "cpu_shares" | "cpu_count" | "cpu_percent" | "cpu_period" | "cpu_quota"
        | "cpu_rt_runtime" | "cpu_rt_period" | "cpuset" | "mem_limit" | "mem_reservation"
        | "memswap_limit" | "mem_swappiness" | "oom_kill_disable" | "oom_score_adj"
        | "pids_limit" | "ulimits" | "blkio_config" => LIMITS,
        "dns" | "dns_search" | "dns_opt" => "every instance uses the project DNS",
        "volumes_from" => "dops mounts volumes per instance",
        "extends" => "not followed: copy the extended service's keys here before importing",
        "pull_policy" => "dops builds every image (FROM images are pulled when missing)",
        "platform" => "dops builds for the engine's platform",
        "develop" => "no file watching in dops",
        "pid" | "ipc" | "uts" | "userns_mode" | "cgroup" | "cgroup_parent" | "isolation"
        | "runtime" | "security_opt" | "sysctls" | "group_add" | "storage_opt"
        | "device_cgroup_rules" | "mac_address" | "annotations" | "attach"
        | "credential_spec" | "gpus" | "post_start" | "pre_stop" | "use_api_socket"
        | "label_file" | "models" | "provider" | "external_links_opts" => {
            "dops has no equivalent"
        }
        _ => return None,
    })
}

/// Every service key this importer reads or reports.
pub const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "depends_on",
    "deploy",
    "scale",
    "restart",
    "healthcheck",
    "profiles",
    "secrets",
    "configs",
    "networks",
    "network_mode",
    "labels",
    "working_dir",
    "privileged",
    "read_only",
    "cap_add",
    "cap_drop",
    "extra_hosts",
    "devices",
    "shm_size",
    "logging",
    "init",
];

/// Read the whole file.
pub fn read(r: &mut Reader, root: &Node) -> Res<Compose> {
    let mut c = Compose::default();
    let mut services_node = None;
    for e in r.map(root, "")? {
        let key = e.key.as_str();
        match key {
            k if k.starts_with("x-") => {}
            "version" => {}
            "name" => c.name = r.opt_text(&e.value, "name")?,
            "services" => services_node = Some(&e.value),
            "volumes" => {
                for v in r.opt_map(&e.value, "volumes")? {
                    let vk = format!("volumes.{}", v.key);
                    for o in r.opt_map(&v.value, &vk)? {
                        let ok = format!("{vk}.{}", o.key);
                        match o.key.as_str() {
                            k if k.starts_with("x-") => {}
                            "external" => {
                                if r.boolean(&o.value, &ok)? {
                                    r.dropped(o, &ok, "an external Docker volume: dops mounts a folder of the project instead (data/volumes/<name>); copy its content there")
                                }
                            }
                            _ => r.dropped(o, &ok, "dops mounts a folder of the project (data/volumes/<name>), not a Docker volume"),
                        }
                    }
                    c.volumes.push(v.key.clone());
                }
            }
            "networks" => {
                c.networks_pos = Some(e.key_pos);
                for n in r.opt_map(&e.value, "networks")? {
                    let nk = format!("networks.{}", n.key);
                    for o in r.opt_map(&n.value, &nk)? {
                        let ok = format!("{nk}.{}", o.key);
                        let no_op = matches!(o.key.as_str(), "external" | "internal" | "attachable")
                            && !r.boolean(&o.value, &ok)?;
                        if !o.key.starts_with("x-") && !no_op {
                            r.dropped(o, &ok, "every instance is on the project network dops makes");
                        }
                    }
                    c.networks.push((n.key.clone(), n.key_pos));
                }
            }
            "secrets" | "configs" => {
                for s in r.opt_map(&e.value, key)? {
                    let sk = format!("{key}.{}", s.key);
                    let obj = file_object(r, s, &sk, key == "configs")?;
                    if key == "secrets" {
                        c.secrets.push(obj);
                    } else {
                        c.configs.push(obj);
                    }
                }
            }
            "include" => r.dropped(e, "include", "not followed: import each included file on its own, or merge them first (docker compose config)"),
            _ => r.dropped(e, key, "not a Compose top-level key"),
        }
    }
    let Some(services) = services_node else {
        return Err(r.err(
            root.pos,
            "",
            "no services: a Compose file needs a 'services' mapping",
        ));
    };
    for s in r.map(services, "services")? {
        c.services.push(service(r, s)?);
    }
    if c.services.is_empty() {
        return Err(r.err(services.pos, "services", "no services"));
    }
    Ok(c)
}

fn file_object(r: &mut Reader, s: &Entry, key: &str, config: bool) -> Res<FileObject> {
    let mut source = None;
    for o in r.map(&s.value, key)? {
        let ok = format!("{key}.{}", o.key);
        match o.key.as_str() {
            "file" => source = Some(FileSource::File(r.text(&o.value, &ok)?)),
            "content" if config => source = Some(FileSource::Content(r.text(&o.value, &ok)?)),
            "environment" => source = Some(FileSource::Environment(r.text(&o.value, &ok)?)),
            "external" => {
                if r.boolean(&o.value, &ok)? {
                    source = Some(FileSource::External);
                }
            }
            "name" => {}
            k if k.starts_with("x-") => {}
            _ => r.dropped(o, &ok, "dops mounts the file read-only"),
        }
    }
    let source = source.ok_or_else(|| {
        r.err(
            s.key_pos,
            key,
            "expected one of file, environment, external".to_string()
                + if config { ", content" } else { "" },
        )
    })?;
    Ok(FileObject {
        name: s.key.clone(),
        source,
        pos: s.key_pos,
        key: key.to_string(),
    })
}

fn service(r: &mut Reader, s: &Entry) -> Res<Service> {
    let base = format!("services.{}", s.key);
    let mut svc = Service {
        name: s.key.clone(),
        pos: s.key_pos,
        ..Default::default()
    };
    for e in r.opt_map(&s.value, &base)? {
        let key = e.key.as_str();
        let k = format!("{base}.{key}");
        let v = &e.value;
        match key {
            x if x.starts_with("x-") => {}
            "image" => {
                if let Some(i) = r.opt_text(v, &k)? {
                    svc.image = Some((i, v.pos));
                }
            }
            "build" => svc.build = Some(build(r, v, &k)?),
            "command" => svc.command = Some(r.command(v, &k)?),
            "entrypoint" => svc.entrypoint = Some(r.command(v, &k)?),
            "environment" => svc.environment = r.pairs(v, &k)?,
            "env_file" => svc.env_files = env_files(r, v, &k)?,
            "ports" => {
                for (i, p) in r.list(v, &k)?.iter().enumerate() {
                    svc.ports.extend(port(r, p, &format!("{k}[{i}]"))?);
                    if svc.ports.len() > usize::from(MAX_RANGE) {
                        return Err(r.err(p.pos, &k, format!("more than {MAX_RANGE} ports")));
                    }
                }
            }
            "expose" => {
                for (text, pos) in r.strings(v, &k)? {
                    let (range, proto) = split_proto(&text);
                    let proto = protocol(r, proto, pos, &k)?;
                    let (a, b) = port_range(range)
                        .filter(|(a, b)| b - a < MAX_RANGE)
                        .ok_or_else(|| {
                            r.err(pos, &k, format!("expected a port or a range of at most {MAX_RANGE}, found {text:?}"))
                        })?;
                    for p in a..=b {
                        svc.expose.push((p, proto, pos));
                    }
                }
            }
            "volumes" => {
                for (i, m) in r.list(v, &k)?.iter().enumerate() {
                    if let Some(m) = mount(r, m, &format!("{k}[{i}]"))? {
                        svc.mounts.push(m);
                    }
                }
            }
            "depends_on" => svc.depends_on = depends_on(r, v, &k)?,
            "deploy" => deploy(r, v, &k, &mut svc)?,
            "scale" => svc.replicas = Some((r.number(v, &k)?, v.pos)),
            "restart" => svc.restart = Some((r.text(v, &k)?, v.pos)),
            "healthcheck" => svc.healthcheck = healthcheck(r, v, &k)?,
            "profiles" => svc.profiles = r.strings(v, &k)?,
            "secrets" => svc.secrets = file_uses(r, v, &k, true)?,
            "configs" => svc.configs = file_uses(r, v, &k, false)?,
            "networks" => match &v.value {
                Value::Map(entries) => {
                    for n in entries {
                        let nk = format!("{k}.{}", n.key);
                        for o in r.opt_map(&n.value, &nk)? {
                            let ok = format!("{nk}.{}", o.key);
                            r.dropped(o, &ok, "instances are reached by their DNS names <service> and <service>-<instance>");
                        }
                        svc.networks.push((n.key.clone(), n.key_pos));
                    }
                }
                _ => svc.networks = r.strings(v, &k)?,
            },
            "network_mode" => {
                let mode = r.text(v, &k)?;
                match mode.as_str() {
                    "host" => svc.nethost = true,
                    "bridge" | "default" => {}
                    _ => r.dropped(e, &k, &format!("network_mode {mode:?}: dops offers the project network or the host's (nethost)")),
                }
            }
            "labels" => {
                for (name, value, _) in r.pairs(v, &k)? {
                    svc.labels.push((name, value.unwrap_or_default()));
                }
            }
            "working_dir" => svc.working_dir = r.opt_text(v, &k)?,
            "privileged" => {
                if r.boolean(v, &k)? {
                    svc.extra_args.push("--privileged".into());
                }
            }
            "read_only" => {
                if r.boolean(v, &k)? {
                    svc.extra_args.push("--read-only".into());
                }
            }
            "cap_add" | "cap_drop" => {
                for (cap, _) in r.strings(v, &k)? {
                    svc.extra_args
                        .push(format!("--{}={cap}", key.replace('_', "-")));
                }
            }
            "extra_hosts" => {
                for (name, ip, pos) in r.pairs(v, &k)? {
                    // `host:ip` in a list, `host=ip` or `host: ip` in a mapping.
                    let (name, ip) = match ip {
                        Some(ip) => (name, ip),
                        None => match name.split_once(':') {
                            Some((n, i)) => (n.to_string(), i.to_string()),
                            None => {
                                return Err(r.err(
                                    pos,
                                    &k,
                                    format!("expected HOST:IP, found {name:?}"),
                                ))
                            }
                        },
                    };
                    svc.extra_args.push(format!("--add-host={name}:{ip}"));
                }
            }
            "devices" => {
                for (d, _) in r.strings(v, &k)? {
                    svc.extra_args.push(format!("--device={d}"));
                }
            }
            "shm_size" => {
                let size = r.text(v, &k)?;
                svc.extra_args.push(format!("--shm-size={size}"));
            }
            "logging" => logging(r, v, &k, &mut svc)?,
            // dops-init is the init of every dops container.
            "init" => {}
            _ => match no_equivalent(key) {
                Some(why) => r.dropped(e, &k, why),
                None => r.dropped(e, &k, "not a Compose service key"),
            },
        }
    }
    Ok(svc)
}

fn build(r: &mut Reader, v: &Node, k: &str) -> Res<Build> {
    let mut b = Build {
        context: ".".into(),
        pos: v.pos,
        ..Default::default()
    };
    if let Value::Str(_) = v.value {
        b.context = r.text(v, k)?;
        return Ok(b);
    }
    for e in r.map(v, k)? {
        let bk = format!("{k}.{}", e.key);
        match e.key.as_str() {
            "context" => b.context = r.text(&e.value, &bk)?,
            "dockerfile" => b.dockerfile = r.opt_text(&e.value, &bk)?,
            "dockerfile_inline" => b.inline = Some(r.text(&e.value, &bk)?),
            "target" => b.target = Some((r.text(&e.value, &bk)?, e.value.pos)),
            "args" => b.args = r.pairs(&e.value, &bk)?,
            "labels" => {
                for (name, value, _) in r.pairs(&e.value, &bk)? {
                    b.labels.push((name, value.unwrap_or_default()));
                }
            }
            x if x.starts_with("x-") => {}
            "cache_from" | "cache_to" | "no_cache" | "pull" => r.dropped(
                e,
                &bk,
                "dops builds with the engine's cache (dops build --no-cache)",
            ),
            "tags" | "platforms" => r.dropped(
                e,
                &bk,
                "dops tags and builds one image, <project>/<service>",
            ),
            _ => r.dropped(
                e,
                &bk,
                "dops builds with the engine's classic builder, without this option",
            ),
        }
    }
    Ok(b)
}

fn env_files(r: &mut Reader, v: &Node, k: &str) -> Res<Vec<EnvFileRef>> {
    let items: Vec<&Node> = match &v.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![v],
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let ik = format!("{k}[{i}]");
        match &item.value {
            Value::Map(entries) => {
                let mut path = None;
                let mut required = true;
                for e in entries {
                    let ek = format!("{ik}.{}", e.key);
                    match e.key.as_str() {
                        "path" => path = Some(r.text(&e.value, &ek)?),
                        "required" => required = r.boolean(&e.value, &ek)?,
                        "format" => {
                            let f = r.text(&e.value, &ek)?;
                            if f != "raw" {
                                r.dropped(e, &ek, "only the default format is read");
                            }
                        }
                        _ => r.dropped(e, &ek, "not an env_file key"),
                    }
                }
                let path = path.ok_or_else(|| r.err(item.pos, &ik, "missing key \"path\""))?;
                out.push(EnvFileRef {
                    path,
                    required,
                    pos: item.pos,
                });
            }
            Value::Null => {}
            _ => out.push(EnvFileRef {
                path: r.text(item, &ik)?,
                required: true,
                pos: item.pos,
            }),
        }
    }
    Ok(out)
}

fn split_proto(s: &str) -> (&str, &str) {
    match s.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (s, "tcp"),
    }
}

fn protocol(r: &Reader, p: &str, pos: Pos, k: &str) -> Res<Protocol> {
    match p.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(r.err(
            pos,
            k,
            format!("protocol {other:?}: dops publishes tcp and udp"),
        )),
    }
}

/// The most ports one `ports` or `expose` item may name.
const MAX_RANGE: u16 = 1000;

/// `80` or `8000-8010`.
fn port_range(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let p = s.parse().ok()?;
            (p, p)
        }
    };
    (a > 0 && a <= b).then_some((a, b))
}

/// One `ports` item: short `[[IP:]HOST:]CONTAINER[/PROTO]` (ranges allowed) or long syntax.
fn port(r: &mut Reader, n: &Node, k: &str) -> Res<Vec<Port>> {
    let (ip, host, container, proto, pos) = match &n.value {
        Value::Map(entries) => {
            let mut target = None;
            let mut published = None;
            let mut ip = None;
            let mut proto = "tcp".to_string();
            for e in entries {
                let ek = format!("{k}.{}", e.key);
                match e.key.as_str() {
                    "target" => target = Some(r.text(&e.value, &ek)?),
                    "published" => published = r.opt_text(&e.value, &ek)?,
                    "host_ip" => ip = r.opt_text(&e.value, &ek)?,
                    "protocol" => proto = r.text(&e.value, &ek)?,
                    "mode" => {
                        let m = r.text(&e.value, &ek)?;
                        if m != "ingress" && m != "host" {
                            r.dropped(e, &ek, "a Swarm publishing mode");
                        }
                    }
                    "name" | "app_protocol" => r.dropped(e, &ek, "dops keeps no port metadata"),
                    _ => r.dropped(e, &ek, "not a port key"),
                }
            }
            let target = target.ok_or_else(|| r.err(n.pos, k, "missing key \"target\""))?;
            (ip, published, target, proto, n.pos)
        }
        _ => {
            let text = r.text(n, k)?;
            let (spec, proto) = split_proto(&text);
            let (rest, container) = match spec.rsplit_once(':') {
                Some((rest, c)) => (Some(rest), c.to_string()),
                None => (None, spec.to_string()),
            };
            let (ip, host) = match rest {
                None => (None, None),
                Some(rest) => match rest.rsplit_once(':') {
                    Some((ip, h)) => (
                        Some(ip.trim_start_matches('[').trim_end_matches(']').to_string()),
                        Some(h.to_string()),
                    ),
                    None => (None, Some(rest.to_string())),
                },
            };
            let host = host.filter(|h| !h.is_empty());
            (
                ip.filter(|i| !i.is_empty()),
                host,
                container,
                proto.to_string(),
                n.pos,
            )
        }
    };
    let protocol = protocol(r, &proto, pos, k)?;
    let bad = |what: &str, s: &str| {
        r.err(
            pos,
            k,
            format!("expected a {what} port or range, found {s:?}"),
        )
    };
    let (c1, c2) = port_range(&container).ok_or_else(|| bad("container", &container))?;
    let hosts = match &host {
        Some(h) => Some(port_range(h).ok_or_else(|| bad("host", h))?),
        None => None,
    };
    if c2 - c1 >= MAX_RANGE {
        return Err(r.err(
            pos,
            k,
            format!("a range of {} ports: at most {MAX_RANGE}", c2 - c1 + 1),
        ));
    }
    let mut out = Vec::new();
    match hosts {
        Some((h1, h2)) if h2 - h1 == c2 - c1 => {
            for i in 0..=(c2 - c1) {
                out.push((c1 + i, Some(h1 + i)));
            }
        }
        Some((h1, h2)) if c1 == c2 => {
            r.finding(
                pos,
                k,
                format!("host port range {h1}-{h2} for one container port: dops publishes on {h1}"),
            );
            out.push((c1, Some(h1)));
        }
        Some(_) => {
            return Err(r.err(
                pos,
                k,
                "the host and container port ranges differ in length",
            ))
        }
        None => {
            for p in c1..=c2 {
                out.push((p, None));
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(container, host)| Port {
            container,
            host,
            ip: ip.clone(),
            protocol,
            pos,
            key: k.to_string(),
        })
        .collect())
}

/// One `volumes` item. None when it does not carry over (reported).
fn mount(r: &mut Reader, n: &Node, k: &str) -> Res<Option<Mount>> {
    let named_or_bind = |s: &str| {
        if s.starts_with('/') || s.starts_with('.') || s.starts_with('~') {
            MountSource::Bind(s.to_string())
        } else {
            MountSource::Named(s.to_string())
        }
    };
    match &n.value {
        Value::Map(entries) => {
            let mut kind = "volume".to_string();
            let mut source = None;
            let mut target = None;
            let mut read_only = false;
            for e in entries {
                let ek = format!("{k}.{}", e.key);
                match e.key.as_str() {
                    "type" => kind = r.text(&e.value, &ek)?,
                    "source" => source = r.opt_text(&e.value, &ek)?,
                    "target" => target = Some(r.text(&e.value, &ek)?),
                    "read_only" => read_only = r.boolean(&e.value, &ek)?,
                    "bind" => {
                        for o in r.opt_map(&e.value, &ek)? {
                            if o.key != "create_host_path" {
                                let ok = format!("{ek}.{}", o.key);
                                r.dropped(o, &ok, "dops bind-mounts with Docker's defaults");
                            }
                        }
                    }
                    "volume" => {
                        for o in r.opt_map(&e.value, &ek)? {
                            let ok = format!("{ek}.{}", o.key);
                            r.dropped(
                                o,
                                &ok,
                                "dops mounts a folder of the project, not a Docker volume",
                            );
                        }
                    }
                    "consistency" => {}
                    _ => r.dropped(e, &ek, "not a volume key"),
                }
            }
            let target = target.ok_or_else(|| r.err(n.pos, k, "missing key \"target\""))?;
            let source = match (kind.as_str(), source) {
                ("bind", Some(s)) => MountSource::Bind(s),
                ("volume", Some(s)) => MountSource::Named(s),
                ("volume", None) => {
                    r.finding(
                        n.pos,
                        k,
                        "not carried over: an anonymous volume (the path stays in the container)",
                    );
                    return Ok(None);
                }
                (kind, _) => {
                    r.finding(n.pos, k, format!("not carried over: a {kind} mount"));
                    return Ok(None);
                }
            };
            Ok(Some(Mount {
                source,
                target,
                read_only,
                pos: n.pos,
                key: k.to_string(),
            }))
        }
        _ => {
            let text = r.text(n, k)?;
            let parts: Vec<&str> = text.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [t] => {
                    r.finding(
                        n.pos,
                        k,
                        "not carried over: an anonymous volume (the path stays in the container)",
                    );
                    let _ = t;
                    return Ok(None);
                }
                [s, t] => (*s, *t, ""),
                [s, t, m] => (*s, *t, *m),
                _ => {
                    return Err(r.err(
                        n.pos,
                        k,
                        format!("expected SOURCE:TARGET[:MODE], found {text:?}"),
                    ))
                }
            };
            let mut read_only = false;
            for m in mode.split(',').filter(|m| !m.is_empty()) {
                match m {
                    "ro" => read_only = true,
                    "rw" => {}
                    other => r.finding(
                        n.pos,
                        k,
                        format!("not carried over: mount option {other:?}"),
                    ),
                }
            }
            Ok(Some(Mount {
                source: named_or_bind(source),
                target: target.to_string(),
                read_only,
                pos: n.pos,
                key: k.to_string(),
            }))
        }
    }
}

fn depends_on(r: &mut Reader, v: &Node, k: &str) -> Res<Vec<Dep>> {
    let mut out = Vec::new();
    match &v.value {
        Value::Map(entries) => {
            for e in entries {
                let ek = format!("{k}.{}", e.key);
                let mut condition = Condition::Started;
                for o in r.opt_map(&e.value, &ek)? {
                    let ok = format!("{ek}.{}", o.key);
                    match o.key.as_str() {
                        "condition" => {
                            let c = r.text(&o.value, &ok)?;
                            condition = match c.as_str() {
                                "service_started" => Condition::Started,
                                "service_healthy" => Condition::Healthy,
                                "service_completed_successfully" => Condition::Completed,
                                _ => return Err(r.err(o.value.pos, &ok, format!("expected service_started, service_healthy or service_completed_successfully, found {c:?}"))),
                            }
                        }
                        "restart" => {
                            if r.boolean(&o.value, &ok)? {
                                r.dropped(
                                    o,
                                    &ok,
                                    "dops does not restart dependents when a dependency restarts",
                                );
                            }
                        }
                        "required" => {
                            if !r.boolean(&o.value, &ok)? {
                                r.dropped(o, &ok, "the dependency is waited for all the same");
                            }
                        }
                        _ => r.dropped(o, &ok, "not a depends_on key"),
                    }
                }
                out.push(Dep {
                    service: e.key.clone(),
                    condition,
                    pos: e.key_pos,
                    key: ek,
                });
            }
        }
        _ => {
            for (i, (name, pos)) in r.strings(v, k)?.into_iter().enumerate() {
                out.push(Dep {
                    service: name,
                    condition: Condition::Started,
                    pos,
                    key: format!("{k}[{i}]"),
                });
            }
        }
    }
    Ok(out)
}

fn deploy(r: &mut Reader, v: &Node, k: &str, svc: &mut Service) -> Res<()> {
    for e in r.opt_map(v, k)? {
        let ek = format!("{k}.{}", e.key);
        match e.key.as_str() {
            "replicas" => svc.replicas = Some((r.number(&e.value, &ek)?, e.value.pos)),
            "mode" => {
                let m = r.text(&e.value, &ek)?;
                if m != "replicated" {
                    r.dropped(
                        e,
                        &ek,
                        &format!("mode {m:?}: dops runs the replicas listed in run.conf"),
                    );
                }
            }
            "restart_policy" => {
                let mut condition = "any".to_string();
                let mut max = None;
                for o in r.opt_map(&e.value, &ek)? {
                    let ok = format!("{ek}.{}", o.key);
                    match o.key.as_str() {
                        "condition" => condition = r.text(&o.value, &ok)?,
                        "max_attempts" => max = Some(r.number(&o.value, &ok)?),
                        _ => r.dropped(o, &ok, "Docker's restart policy has no delay or window"),
                    }
                }
                let policy = match (condition.as_str(), max) {
                    ("none", _) => "no".to_string(),
                    ("on-failure", Some(n)) => format!("on-failure:{n}"),
                    ("on-failure", None) => "on-failure".to_string(),
                    ("any", _) => "always".to_string(),
                    (c, _) => {
                        return Err(r.err(
                            e.value.pos,
                            &ek,
                            format!("expected condition none, on-failure or any, found {c:?}"),
                        ))
                    }
                };
                if svc.restart.is_none() {
                    svc.restart = Some((policy, e.value.pos));
                }
            }
            "resources" => r.dropped(e, &ek, "dops sets no resource limits"),
            _ => r.dropped(e, &ek, "a Swarm deployment setting"),
        }
    }
    Ok(())
}

fn healthcheck(r: &mut Reader, v: &Node, k: &str) -> Res<Option<Health>> {
    let mut h = Health {
        test: HealthTest::Cmd(Vec::new()),
        interval: 30.0,
        timeout: 30.0,
        retries: 3,
        start_period: 0.0,
        start_interval: 5.0,
        pos: v.pos,
    };
    let mut has_test = false;
    for e in r.opt_map(v, k)? {
        let ek = format!("{k}.{}", e.key);
        match e.key.as_str() {
            "test" => {
                has_test = true;
                h.test = match &e.value.value {
                    Value::Seq(_) => {
                        let words: Vec<String> = r
                            .strings(&e.value, &ek)?
                            .into_iter()
                            .map(|(s, _)| s)
                            .collect();
                        match words.split_first() {
                            Some((first, rest)) if first == "CMD" => HealthTest::Cmd(rest.to_vec()),
                            Some((first, rest)) if first == "CMD-SHELL" => {
                                HealthTest::Shell(rest.join(" "))
                            }
                            Some((first, _)) if first == "NONE" => return Ok(None),
                            _ => {
                                return Err(r.err(
                                    e.value.pos,
                                    &ek,
                                    "expected [\"CMD\", …], [\"CMD-SHELL\", \"…\"] or [\"NONE\"]",
                                ))
                            }
                        }
                    }
                    _ => HealthTest::Shell(r.text(&e.value, &ek)?),
                };
            }
            "interval" => h.interval = r.duration(&e.value, &ek)?,
            "timeout" => h.timeout = r.duration(&e.value, &ek)?,
            "retries" => h.retries = r.number(&e.value, &ek)?,
            "start_period" => h.start_period = r.duration(&e.value, &ek)?,
            "start_interval" => h.start_interval = r.duration(&e.value, &ek)?,
            "disable" => {
                if r.boolean(&e.value, &ek)? {
                    return Ok(None);
                }
            }
            _ => r.dropped(e, &ek, "not a healthcheck key"),
        }
    }
    if !has_test {
        r.finding(v.pos, k, "not carried over: a healthcheck without a test (the image's own HEALTHCHECK is replaced by dops-init's)");
        return Ok(None);
    }
    Ok(Some(h))
}

fn file_uses(r: &mut Reader, v: &Node, k: &str, secrets: bool) -> Res<Vec<FileUse>> {
    let mut out = Vec::new();
    for (i, item) in r.list(v, k)?.iter().enumerate() {
        let ik = format!("{k}[{i}]");
        let (source, target) = match &item.value {
            Value::Map(entries) => {
                let mut source = None;
                let mut target = None;
                for e in entries {
                    let ek = format!("{ik}.{}", e.key);
                    match e.key.as_str() {
                        "source" => source = Some(r.text(&e.value, &ek)?),
                        "target" => target = r.opt_text(&e.value, &ek)?,
                        "uid" | "gid" | "mode" => r.dropped(
                            e,
                            &ek,
                            "the file is mounted read-only with its owner and mode on the host",
                        ),
                        _ => r.dropped(e, &ek, "not a key of a secret or config use"),
                    }
                }
                (
                    source.ok_or_else(|| r.err(item.pos, &ik, "missing key \"source\""))?,
                    target,
                )
            }
            _ => (r.text(item, &ik)?, None),
        };
        let target = match target {
            Some(t) if t.starts_with('/') => t,
            Some(t) if secrets => format!("/run/secrets/{t}"),
            Some(t) => format!("/{t}"),
            None if secrets => format!("/run/secrets/{source}"),
            None => format!("/{source}"),
        };
        out.push(FileUse {
            source,
            target,
            pos: item.pos,
            key: ik,
        });
    }
    Ok(out)
}

fn logging(r: &mut Reader, v: &Node, k: &str, svc: &mut Service) -> Res<()> {
    for e in r.opt_map(v, k)? {
        let ek = format!("{k}.{}", e.key);
        match e.key.as_str() {
            "driver" => {
                let d = r.text(&e.value, &ek)?;
                if d != "json-file" && d != "local" {
                    r.dropped(
                        e,
                        &ek,
                        &format!("log driver {d:?}: dops uses the engine's default driver"),
                    );
                }
            }
            "options" => {
                for (name, value, _) in r.pairs(&e.value, &ek)? {
                    svc.log_opts.push((name, value.unwrap_or_default()));
                }
            }
            _ => r.dropped(e, &ek, "not a logging key"),
        }
    }
    Ok(())
}

//! `dops demo [DIR] [--force] [--port PORT]`: install the demo (default folder `./dops-demo`),
//! build every service, run every instance and wait until they are UP, then print where to point
//! a browser: the load balancer's site and its HAProxy stats page, with the host ports the engine
//! actually published (read back from the engine, never assumed).
//!
//! The balancer publishes 80 and 8404 unless they are taken on this host (by another demo, a web
//! server, …): then dops picks free ports (the kernel's choice), or the site's port is `--port`.
//! The choice reaches the plan as `PUBLISH_PORT_80` / `PUBLISH_PORT_8404` in the demo folder's
//! `host.conf` (the per-host settings), so a later `dops run:all` there keeps the same ports; the
//! ports the running demo already publishes count as free for it. A host.conf the user wrote is
//! never rewritten: the ports then go on this run's command line (`--env`) and a note says what
//! to add to keep them.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::session::Session;
use crate::action::{Action, BuildAction, DemoAction, GlobalOpts, Overrides, RunAction, Target};
use crate::observed::ObservedContainer;
use crate::output;

/// The default folder of `dops demo`.
pub const DEFAULT_DIR: &str = "dops-demo";
/// The load balancer's service and its container ports: the site and the stats page.
const LB_SERVICE: &str = "lb";
const SITE_PORT: u16 = 80;
const STATS_PORT: u16 = 8404;
/// How long `run --wait` may take for the whole demo (the database's first boot included).
const WAIT_S: u64 = 300;

/// One published port as `ObservedContainer::ports` spells it: `host_ip:host_port->port/proto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

pub fn parse_published(s: &str) -> Option<Published> {
    let (host, inner) = s.split_once("->")?;
    let (host_ip, host_port) = host.rsplit_once(':')?;
    let (port, proto) = inner.split_once('/').unwrap_or((inner, "tcp"));
    Some(Published {
        host_ip: host_ip.to_string(),
        host_port: host_port.parse().ok()?,
        container_port: port.parse().ok()?,
        protocol: proto.to_string(),
    })
}

/// The URL a browser on this host reaches a container's TCP port at, if it is published.
pub fn url_of(c: &ObservedContainer, container_port: u16) -> Option<String> {
    let p = c
        .ports
        .iter()
        .filter_map(|p| parse_published(p))
        .find(|p| p.container_port == container_port && p.protocol == "tcp")?;
    let host = match p.host_ip.as_str() {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        ip if ip.contains(':') => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    Some(if p.host_port == 80 {
        format!("http://{host}/")
    } else {
        format!("http://{host}:{}/", p.host_port)
    })
}

/// The host ports of the balancer: the site and the stats page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoPorts {
    pub site: u16,
    pub stats: u16,
}

impl DemoPorts {
    pub const DEFAULT: DemoPorts = DemoPorts {
        site: SITE_PORT,
        stats: STATS_PORT,
    };
}

/// What a host port is to the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortUse {
    Free,
    /// Published by this demo's own balancer (it keeps it).
    Ours,
    Taken,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DemoError {
    #[error("port {port} is taken on {ip}\nhint: choose another with --port, or leave --port out for a free one")]
    PortTaken { ip: IpAddr, port: u16 },
    #[error("no free port on {ip} for the demo's {what}")]
    NoFreePort { ip: IpAddr, what: &'static str },
}

/// The ports the demo publishes: `explicit` (`--port`) for the site, else the preferred ones
/// (80 and 8404, or what host.conf already says) when they are free or already the demo's, else
/// ports `pick` finds free (never one already chosen). Pure: the probe and the picker are given.
pub fn choose_ports(
    ip: IpAddr,
    explicit: Option<u16>,
    preferred: DemoPorts,
    probe: impl Fn(u16) -> PortUse,
    mut pick: impl FnMut() -> Option<u16>,
) -> Result<DemoPorts, DemoError> {
    let usable = |p: u16| probe(p) != PortUse::Taken;
    let site = match explicit {
        Some(port) if usable(port) => port,
        Some(port) => return Err(DemoError::PortTaken { ip, port }),
        None if usable(preferred.site) => preferred.site,
        None => (0..16)
            .filter_map(|_| pick())
            .find(|p| *p != preferred.stats)
            .ok_or(DemoError::NoFreePort { ip, what: "site" })?,
    };
    let stats = if usable(preferred.stats) && preferred.stats != site {
        preferred.stats
    } else {
        (0..16)
            .filter_map(|_| pick())
            .find(|p| *p != site)
            .ok_or(DemoError::NoFreePort {
                ip,
                what: "stats page",
            })?
    };
    Ok(DemoPorts { site, stats })
}

/// Is `ip:port` free on this host (TCP)? A bind says it, unless binding a low port needs a
/// privilege we do not have: then a port that accepts a connection is taken.
pub fn probe_port(ip: IpAddr, port: u16) -> PortUse {
    match TcpListener::bind(SocketAddr::new(ip, port)) {
        Ok(_) => PortUse::Free,
        Err(e) if e.kind() == ErrorKind::AddrInUse => PortUse::Taken,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            match TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_millis(300))
            {
                Ok(_) => PortUse::Taken,
                Err(_) => PortUse::Free,
            }
        }
        Err(_) => PortUse::Taken,
    }
}

/// A port the kernel gives as free on `ip` right now.
pub fn free_port(ip: IpAddr) -> Option<u16> {
    TcpListener::bind(SocketAddr::new(ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}

/// The first line of a host.conf `dops demo` writes: it may rewrite such a file, never another.
pub const HOST_CONF_HEADER: &str =
    "# Written by `dops demo`: the host ports of this machine's demo (PUBLISH_PORT_<port>).";

/// The host.conf that keeps `ports` (None: the defaults, nothing to keep).
pub fn host_conf_text(ports: DemoPorts) -> Option<String> {
    if ports == DemoPorts::DEFAULT {
        return None;
    }
    Some(format!(
        "{HOST_CONF_HEADER}\n# Delete it to go back to 80 and 8404.\n{{\n  \"PUBLISH_PORT_{SITE_PORT}\": \"{}\",\n  \"PUBLISH_PORT_{STATS_PORT}\": \"{}\"\n}}\n",
        ports.site, ports.stats
    ))
}

/// Where the chosen ports go: the demo's own host.conf (written, rewritten or removed), or,
/// beside a host.conf the user wrote, this run's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PortsVia {
    HostConf,
    CommandLine(Vec<(String, String)>),
}

fn keep_ports(dir: &Path, ports: DemoPorts) -> anyhow::Result<PortsVia> {
    let path = dir.join("host.conf");
    let ours = match std::fs::read_to_string(&path) {
        Ok(text) => text.starts_with(HOST_CONF_HEADER),
        Err(e) if e.kind() == ErrorKind::NotFound => true,
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    if !ours {
        return Ok(PortsVia::CommandLine(if ports == DemoPorts::DEFAULT {
            Vec::new()
        } else {
            vec![
                (format!("PUBLISH_PORT_{SITE_PORT}"), ports.site.to_string()),
                (
                    format!("PUBLISH_PORT_{STATS_PORT}"),
                    ports.stats.to_string(),
                ),
            ]
        }));
    }
    let result = match host_conf_text(ports) {
        Some(text) => std::fs::write(&path, text),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            r => r,
        },
    };
    result.map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(PortsVia::HostConf)
}

/// The ports of the demo in `s`'s folder, chosen against this host and what the demo already
/// publishes.
fn demo_ports(s: &Session, explicit: Option<u16>) -> anyhow::Result<(IpAddr, DemoPorts)> {
    let project = s.project()?;
    let ip = project
        .host_conf
        .get("PUBLISH_ON_IP")
        .and_then(|v| v.parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let configured = |port: u16, default: u16| {
        project
            .host_conf
            .get(&format!("PUBLISH_PORT_{port}"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let preferred = DemoPorts {
        site: configured(SITE_PORT, SITE_PORT),
        stats: configured(STATS_PORT, STATS_PORT),
    };
    let observed = s.block_on(s.observe())?;
    let ours: Vec<u16> = observed
        .running_instances(LB_SERVICE)
        .iter()
        .flat_map(|c| c.ports.iter().filter_map(|p| parse_published(p)))
        .map(|p| p.host_port)
        .collect();
    let probe = |port: u16| {
        if ours.contains(&port) {
            PortUse::Ours
        } else {
            probe_port(ip, port)
        }
    };
    let ports = choose_ports(ip, explicit, preferred, probe, || free_port(ip))?;
    Ok((ip, ports))
}

#[derive(Debug, Serialize)]
struct DemoReport {
    dir: PathBuf,
    project: String,
    site: Option<String>,
    stats: Option<String>,
}

pub fn execute(global: &GlobalOpts, action: &DemoAction) -> anyhow::Result<i32> {
    let dir = action
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
    let installed = super::install_demo::install(&dir, action.force)
        .map_err(super::install_demo::usage_if_refused)?;
    output::note(&format!(
        "dops demo: project {} in {} ({} file(s) written)",
        installed.project,
        installed.dir.display(),
        installed.written.len()
    ));
    // The sub-commands print their progress; only the final report is JSON with --json.
    let opts = GlobalOpts {
        project_dir: Some(installed.dir.clone()),
        json: false,
        ..global.clone()
    };
    let (ip, ports) = demo_ports(&Session::new(&opts)?, action.port)?;
    let via = keep_ports(&installed.dir, ports)?;
    if ports != DemoPorts::DEFAULT {
        let kept = match &via {
            PortsVia::HostConf => format!(
                "kept in {} (delete it to go back to 80 and 8404)",
                installed.dir.join("host.conf").display()
            ),
            PortsVia::CommandLine(_) => format!(
                "for this run only: add \"PUBLISH_PORT_{SITE_PORT}\": \"{}\", \"PUBLISH_PORT_{STATS_PORT}\": \"{}\" to {} to keep them",
                ports.site,
                ports.stats,
                installed.dir.join("host.conf").display()
            ),
        };
        let why = match action.port {
            Some(p) => format!("--port {p}"),
            None => format!("{ip}:{SITE_PORT} or :{STATS_PORT} is taken"),
        };
        output::note(&format!(
            "dops demo: {why}: the site is published on port {}, the stats page on {} ({kept})",
            ports.site, ports.stats
        ));
    }
    // After host.conf is written: the session loads the project with it.
    let s = Session::new(&opts)?;
    output::note(&"dops demo: build:all");
    let build = BuildAction {
        target: Target::All,
        no_cache: false,
        cause: None,
        dry_run: false,
    };
    let code = super::build::execute(&s, &Action::Build(build.clone()), &build)?;
    if code != 0 {
        return Ok(code);
    }
    output::note(&"dops demo: run:all --wait");
    let run = RunAction {
        target: Target::All,
        overrides: Overrides {
            env: match via {
                PortsVia::CommandLine(env) => env,
                PortsVia::HostConf => Vec::new(),
            },
            ..Overrides::default()
        },
        recreate: crate::action::Recreate::Changed,
        orphans: false,
        rollback: true,
        wait: true,
        timeout_s: Some(WAIT_S),
        dry_run: false,
    };
    let code = super::run::execute(&s, &Action::Run(run.clone()), &run)?;
    if code != 0 {
        return Ok(code);
    }
    let observed = s.block_on(s.observe())?;
    let lb = observed
        .running_instances(LB_SERVICE)
        .into_iter()
        .next()
        .cloned();
    let report = DemoReport {
        dir: installed.dir.clone(),
        project: installed.project.clone(),
        site: lb.as_ref().and_then(|c| url_of(c, SITE_PORT)),
        stats: lb.as_ref().and_then(|c| url_of(c, STATS_PORT)),
    };
    if global.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
        return Ok(0);
    }
    let rows: Vec<_> = observed.containers.iter().map(super::ps::row).collect();
    let mut text = format!("\n{}\n\n", super::ps::table(&rows, false));
    match (&report.site, &report.stats) {
        (Some(site), stats) => {
            let w = site.len().max(stats.as_ref().map_or(0, |s| s.len()));
            text.push_str(&format!(
                "the demo is up: point a browser at\n  {site:<w$}   the site (HAProxy → web one, two: reload to see both)\n"
            ));
            if let Some(stats) = stats {
                text.push_str(&format!("  {stats:<w$}   the HAProxy stats page\n"));
            }
        }
        (None, _) => text
            .push_str("the demo is up, but the load balancer publishes no port 80 (see dops ps)\n"),
    }
    let d = installed.dir.display();
    text.push_str(&format!(
        "\nthen, in {d}:\n  dops run:web,instance=three      the balancer adds it within seconds\n  dops clean:web,instance=one      withdrawn from the balancer before it stops\n  dops status                      lifecycles, DNS names, last stats\n  dops clean:all                   stop and remove everything (data stays in {d}/data)\n"
    ));
    output::out(&text);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn picker(ports: &[u16]) -> impl FnMut() -> Option<u16> + '_ {
        let mut it = ports.iter().copied();
        move || it.next()
    }

    #[test]
    fn the_default_ports_when_free_or_already_the_demos() {
        let free = |_| PortUse::Free;
        assert_eq!(
            choose_ports(LO, None, DemoPorts::DEFAULT, free, picker(&[])),
            Ok(DemoPorts::DEFAULT)
        );
        let ours = |p| {
            if p == 80 {
                PortUse::Ours
            } else {
                PortUse::Free
            }
        };
        assert_eq!(
            choose_ports(LO, None, DemoPorts::DEFAULT, ours, picker(&[])),
            Ok(DemoPorts::DEFAULT)
        );
    }

    #[test]
    fn taken_ports_are_replaced_by_free_ones() {
        let taken = |p| {
            if p == 80 || p == 8404 {
                PortUse::Taken
            } else {
                PortUse::Free
            }
        };
        assert_eq!(
            choose_ports(LO, None, DemoPorts::DEFAULT, taken, picker(&[40001, 40002])),
            Ok(DemoPorts {
                site: 40001,
                stats: 40002
            })
        );
        // only the site's taken; a pick equal to the other port is skipped
        let site_taken = |p| {
            if p == 80 {
                PortUse::Taken
            } else {
                PortUse::Free
            }
        };
        assert_eq!(
            choose_ports(
                LO,
                None,
                DemoPorts::DEFAULT,
                site_taken,
                picker(&[8404, 40003])
            ),
            Ok(DemoPorts {
                site: 40003,
                stats: 8404
            })
        );
        // what host.conf says is preferred over 80 and 8404
        let preferred = DemoPorts {
            site: 40001,
            stats: 40002,
        };
        assert_eq!(
            choose_ports(LO, None, preferred, |_| PortUse::Free, picker(&[])),
            Ok(preferred)
        );
        assert_eq!(
            choose_ports(
                LO,
                None,
                DemoPorts::DEFAULT,
                |_| PortUse::Taken,
                picker(&[])
            ),
            Err(DemoError::NoFreePort {
                ip: LO,
                what: "site"
            })
        );
    }

    #[test]
    fn an_explicit_port_is_used_or_refused() {
        assert_eq!(
            choose_ports(
                LO,
                Some(8080),
                DemoPorts::DEFAULT,
                |_| PortUse::Free,
                picker(&[])
            ),
            Ok(DemoPorts {
                site: 8080,
                stats: 8404
            })
        );
        let taken = |p| {
            if p == 8080 {
                PortUse::Taken
            } else {
                PortUse::Free
            }
        };
        let err = choose_ports(LO, Some(8080), DemoPorts::DEFAULT, taken, picker(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "port 8080 is taken on 127.0.0.1\nhint: choose another with --port, or leave --port out for a free one"
        );
        // the stats page's own port: the stats page moves
        assert_eq!(
            choose_ports(
                LO,
                Some(8404),
                DemoPorts::DEFAULT,
                |_| PortUse::Free,
                picker(&[40005])
            ),
            Ok(DemoPorts {
                site: 8404,
                stats: 40005
            })
        );
    }

    #[test]
    fn the_probe_sees_a_listener_and_the_kernel_gives_free_ports() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(probe_port(LO, port), PortUse::Taken);
        drop(l);
        assert_eq!(probe_port(LO, port), PortUse::Free);
        let p = free_port(LO).unwrap();
        assert_ne!(p, 0);
    }

    #[test]
    fn the_ports_go_to_the_demos_own_host_conf_never_into_the_users() {
        let tmp = tempfile::tempdir().unwrap();
        let hc = tmp.path().join("host.conf");
        let other = DemoPorts {
            site: 40001,
            stats: 40002,
        };
        assert_eq!(
            keep_ports(tmp.path(), DemoPorts::DEFAULT).unwrap(),
            PortsVia::HostConf
        );
        assert!(!hc.exists(), "nothing to keep, nothing written");
        assert_eq!(keep_ports(tmp.path(), other).unwrap(), PortsVia::HostConf);
        assert_eq!(std::fs::read_to_string(&hc).ok(), host_conf_text(other));
        assert_eq!(
            keep_ports(tmp.path(), DemoPorts::DEFAULT).unwrap(),
            PortsVia::HostConf
        );
        assert!(
            !hc.exists(),
            "back to the defaults: the demo's host.conf goes"
        );
        std::fs::write(&hc, "{\"DNS_ZONE\": \"my.zone\"}\n").unwrap();
        assert_eq!(
            keep_ports(tmp.path(), other).unwrap(),
            PortsVia::CommandLine(vec![
                ("PUBLISH_PORT_80".into(), "40001".into()),
                ("PUBLISH_PORT_8404".into(), "40002".into())
            ])
        );
        assert_eq!(
            std::fs::read_to_string(&hc).unwrap(),
            "{\"DNS_ZONE\": \"my.zone\"}\n"
        );
    }

    #[test]
    fn host_conf_keeps_ports_other_than_the_defaults() {
        assert_eq!(host_conf_text(DemoPorts::DEFAULT), None);
        let text = host_conf_text(DemoPorts {
            site: 40001,
            stats: 8404,
        })
        .unwrap();
        assert!(text.starts_with(HOST_CONF_HEADER));
        let hc = crate::project::hostconf::parse("host.conf", &text).unwrap();
        assert_eq!(hc.get("PUBLISH_PORT_80"), Some("40001"));
        assert_eq!(hc.get("PUBLISH_PORT_8404"), Some("8404"));
    }

    #[test]
    fn published_ports_parse() {
        assert_eq!(
            parse_published("127.0.0.1:8404->8404/tcp"),
            Some(Published {
                host_ip: "127.0.0.1".into(),
                host_port: 8404,
                container_port: 8404,
                protocol: "tcp".into()
            })
        );
        assert_eq!(parse_published("nonsense"), None);
        let c = ObservedContainer {
            ports: vec![
                "127.0.0.1:80->80/tcp".into(),
                "0.0.0.0:49153->8404/tcp".into(),
                "127.0.0.1:53->53/udp".into(),
            ],
            ..Default::default()
        };
        assert_eq!(url_of(&c, 80).as_deref(), Some("http://127.0.0.1/"));
        assert_eq!(url_of(&c, 8404).as_deref(), Some("http://127.0.0.1:49153/"));
        assert_eq!(url_of(&c, 53), None);
        assert_eq!(url_of(&c, 3000), None);
    }
}

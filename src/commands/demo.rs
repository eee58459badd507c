//! `dops demo [DIR] [--force]`: install the demo (default folder `./dops-demo`), build every
//! service, run every instance and wait until they are UP, then print where to point a browser:
//! the load balancer's site and its HAProxy stats page, with the host ports the engine actually
//! published (read back from the engine, never assumed).

use std::path::PathBuf;

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
    let s = Session::new(&GlobalOpts {
        project_dir: Some(installed.dir.clone()),
        json: false,
        ..global.clone()
    })?;
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
        overrides: Overrides::default(),
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

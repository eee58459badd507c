//! What the targets share: a fixed project, an engine state and a host, so a parsed action can be
//! planned without an engine.
#![allow(dead_code)]

use std::path::Path;
use std::sync::LazyLock;

use dops::observed::{Observed, ObservedContainer};
use dops::plan::PlanContext;
use dops::project::{HostContext, Project, ProjectFiles, ServiceFiles};

pub static PROJECT: LazyLock<Project> = LazyLock::new(|| {
    let files = ProjectFiles {
        run_conf: Some((
            "run.conf".into(),
            r#"[
  {"service": "db", "instance": "master", "env_vars": {"DB_PASSWORD": "pw"}},
  {"service": "web", "instance": "one", "links": ["db-master:db"], "group": "front",
   "publish_ports": true, "extra_args": ["--init"]},
  {"service": "web", "instance": "two", "group": "front", "persistent_data": true}
]"#
            .into(),
        )),
        host_conf: Some("{\"DNS_ZONE\": \"fz.zone\"}".into()),
        services: vec![
            service("base", "FROM debian:12\nEXPOSE 22\n"),
            service("db", "FROM fz/base\nEXPOSE 5432\n"),
            service(
                "web",
                "FROM fz/base\nEXPOSE 80 8000-8002/udp\n# dops: expose 80 as 8080\n",
            ),
        ],
    };
    Project::from_files(Path::new("/fz"), files).expect("the fixed project loads")
});

fn service(name: &str, dockerfile: &str) -> ServiceFiles {
    ServiceFiles {
        name: name.into(),
        dockerfile: dockerfile.into(),
        required_env_vars: None,
    }
}

/// What the engine would hold: a few running instances (one an orphan) and the network.
pub fn observed(project: &str) -> Observed {
    let mut o = Observed::default();
    o.networks.push(project.into());
    for (s, i) in [("db", "master"), ("web", "one"), ("gone", "x")] {
        o.containers.push(ObservedContainer {
            name: format!("{project}-{s}-{i}"),
            service: s.into(),
            instance: i.into(),
            state: "running".into(),
            ..Default::default()
        });
    }
    o
}

/// A host with a variable that is not UTF-8 and one interface.
pub fn ctx() -> PlanContext {
    let mut host = HostContext {
        hostname: "fuzzhost".into(),
        ..Default::default()
    };
    host.env.insert("DB_PASSWORD".into(), "from-host".into());
    host.env_not_utf8.insert("WEIRD".into());
    host.interfaces
        .insert("eth0".into(), std::net::Ipv4Addr::new(10, 0, 0, 2));
    PlanContext {
        host,
        dns_key: Some("hmac-sha256:fz:c2VjcmV0c2VjcmV0".into()),
        seed: 1,
    }
}
